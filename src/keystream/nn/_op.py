"""``keystream::dropout``: the keyed dropout as a torch.library operator with autograd.

Its backward is the operator itself on the gradient (``grad=True``), computed from the
three saved counters: no mask is stored between the passes.  The site counters come from
``keystream::dropout_counters(site)`` where torch has opaque objects (so compiled code
reads them at run time instead of baking a Python int into the graph and recompiling at
each step), else from Python.
"""
from __future__ import annotations

from typing import Any

import torch

from .._ops import OPAQUE, register_opaque
from ._mask import apply_dropout
from ._schedule import Site

__all__ = ["dropout_op", "site_counters"]

Tensor = torch.Tensor


@torch.library.custom_op("keystream::dropout", mutates_args=())
def dropout_op(x: Tensor, counters: Tensor, p: float, alpha: bool, grad: bool, feature: bool,
               features: list[int], starts: list[int]) -> Tensor:
    """Keyed dropout of batched ``x``; ``counters`` = int64 ``[k0, k1, start]`` (any device)."""
    if x.is_cuda and torch.cuda.is_current_stream_capturing():
        raise RuntimeError("keystream.nn dropout cannot be captured in a CUDA graph: its counters are read on the "
                           "host, so every replay would repeat the captured mask")
    k0, k1, start = (int(v) for v in counters.tolist())
    return apply_dropout(x, (k0, k1), start, p, alpha, grad, feature, features, starts)


@dropout_op.register_fake
def _(x: Tensor, counters: Tensor, p: float, alpha: bool, grad: bool, feature: bool, features: list[int],
      starts: list[int]) -> Tensor:
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    _, counters, p, alpha, _, feature, features, starts = inputs
    ctx.save_for_backward(counters)
    ctx.args = (p, alpha, feature, features, starts)


def _backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
    (counters,) = ctx.saved_tensors
    p, alpha, feature, features, starts = ctx.args
    return dropout_op(grad.contiguous(), counters, p, alpha, True, feature, features, starts), *([None] * 7)


dropout_op.register_autograd(_backward, setup_context=_setup)


def _counters_now(site: Site, device: torch.device) -> Tensor:
    mask = site.next_mask()
    return torch.tensor([mask.key[0], mask.key[1], mask.start], dtype=torch.int64, device=device)


if OPAQUE:
    register_opaque(Site)

    @torch.library.custom_op("keystream::dropout_counters", mutates_args=())
    def _counters_op(site: Site, like: Tensor) -> Tensor:
        return _counters_now(site, torch.device("cpu"))

    @_counters_op.register_fake
    def _(site: Site, like: Tensor) -> Tensor:
        return torch.empty(3, dtype=torch.int64)


def site_counters(site: Site, x: Tensor) -> Tensor:
    """The counters of this call of ``site`` (NOTE [ Keyed masks ]) as an int64 CPU tensor."""
    if OPAQUE and torch.compiler.is_compiling():
        return torch.ops.keystream.dropout_counters(site, x)
    return _counters_now(site, torch.device("cpu"))

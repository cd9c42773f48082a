"""The keyed dropout's autograd: ``keystream::dropout``, a torch.library operator, under
torch.compile, and an autograd function (the same computation) in eager code.

Either way the backward pass is the same computation on the gradient (``grad=True``) from
the three counters: no mask is stored between the passes.  Under torch.compile the site's
counters come from ``keystream::dropout_counters(site)`` where torch has opaque objects (so
compiled code reads them at run time instead of baking a Python int into the graph and
recompiling at each step).
"""
from __future__ import annotations

import sys
from typing import Any

import torch

from .._torch._opaque import OPAQUE, register_opaque
from ._mask import apply_dropout
from ._schedule import Site

__all__ = ["count_call", "dropout_op", "keyed_dropout"]

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


class _EagerDropout(torch.autograd.Function):
    """The same computation outside torch.compile, without the operator's dispatch (a few
    microseconds a call, where the operator's Python machinery costs tens): the counters
    are Python ints kept on the context, the backward pass the same function on the gradient."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, key: tuple[int, int], start: int, p: float, alpha: bool, grad: bool,
                feature: bool, features: list[int], starts: list[int]) -> Tensor:
        ctx.args = (key, start, p, alpha, feature, features, starts)
        return apply_dropout(x, key, start, p, alpha, grad, feature, features, starts)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        key, start, p, alpha, feature, features, starts = ctx.args
        return _EagerDropout.apply(g.contiguous(), key, start, p, alpha, True, feature, features, starts), \
            *([None] * 8)


def _compiling() -> bool:
    return "torch._dynamo" in sys.modules and torch.compiler.is_compiling()


def count_call(site: Site, x: Tensor) -> None:
    """A call of ``site`` that draws nothing (p = 1): its call count moves all the same."""
    if _compiling() and OPAQUE:
        torch.ops.keystream.dropout_counters(site, x)
    elif not _compiling():
        site.next_mask()


def keyed_dropout(site: Site, x: Tensor, p: float, alpha: bool, feature: bool, features: list[int],
                  starts: list[int]) -> Tensor:
    """Keyed dropout of batched contiguous ``x`` at this call of ``site`` (NOTE [ Keyed masks ]):
    the operators under torch.compile, the autograd function otherwise (the same bits)."""
    if _compiling():
        counters = (torch.ops.keystream.dropout_counters(site, x) if OPAQUE
                    else _counters_now(site, torch.device("cpu")))
        return dropout_op(x, counters, p, alpha, False, feature, features, starts)  # type: ignore[no-any-return]
    mask = site.next_mask()
    return _EagerDropout.apply(x, mask.key, mask.start, p, alpha, False, feature, features, starts)  # type: ignore[no-any-return]

"""The keyed dropout operator: torch's formulas with a keyed mask and no saved mask.

``keystream::dropout(x, counters, p, alpha, grad, feature, features, starts)`` is a
``torch.library`` custom operator (so torch.compile traces it, NOTE [ torch.compile ] in
``_ops.py``), its backward is the same operator on the gradient (dropout is linear in
``x``; only the 3 counters are saved, never a mask), and its fake kernel gives the shape.

The mask (NOTE [ Keyed masks ] in ``_schedule.py``): ``x`` is ``full[start : start + B,
region]`` of a virtual tensor whose first dimension is the global batch and whose other
dimensions are ``features`` (the feature forms: ``(batch, channels)``, one mask element
per channel); mask element ``e`` (its C-order flat index) is kept iff the 32-bit word
``e % 4`` of block ``e // 4`` at offset 0 of the mask key is ``< ceil((1 - p) 2^32)``.
Then torch's arithmetic: ``noise = keep / (1 - p)`` and ``x * noise`` (alpha forms:
``x * noise + shift``, ``_math.torch_forms``), in ``x``'s dtype.
"""
from __future__ import annotations

import math

import torch

from .._core._math.torch_forms import alpha_dropout_noise, dropout_noise
from .._core._spec import DrawSpec
from .._engines import engine_for
from .._torch._draws import _round

__all__ = ["apply_dropout", "keep_threshold"]

Tensor = torch.Tensor


def keep_threshold(p: float) -> int:
    """A mask word below this keeps its element: ``ceil((1 - p) 2^32)``."""
    return math.ceil((1.0 - p) * 2.0**32)


def _scale(p: float, dtype: torch.dtype) -> float:
    """``1 / (1 - p)`` as torch's ``keep.div_(1 - p)`` makes it in ``dtype`` (float32: the
    float32 quotient of 1 and the float32 ``1 - p``, which the double quotient rounded once
    is: a double has more than twice float32's digits)."""
    if dtype == torch.float64:
        return 1.0 / (1.0 - p)
    return _round(1.0 / _round(1.0 - p, torch.float32), torch.float32)


def _mask_region(x: Tensor, start: int, feature: bool, features: list[int],
                 starts: list[int]) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    """The virtual mask tensor's shape and the region of it that ``x`` covers."""
    b = x.shape[0]
    local: tuple[int, ...]
    if feature:
        local = (x.shape[1],)
        features, starts = features[:1], starts[:1]
    else:
        local = tuple(x.shape[1:])
    shape = (start + b, *features)
    region = ((start, start + b), *((s, s + n) for s, n in zip(starts, local)))
    return shape, region


def _keep(x: Tensor, key: tuple[int, int], start: int, p: float, feature: bool, features: list[int],
          starts: list[int]) -> Tensor:
    """The definition: 0/1 in ``x``'s dtype, ``x``'s shape (feature forms: ``(B, C, 1, ...)``)."""
    shape, region = _mask_region(x, start, feature, features, starts)
    out_shape = tuple(b - a for a, b in region)
    words = torch.empty(out_shape, dtype=torch.int32, device=x.device)
    spec = DrawSpec("bits", (), key, 0, shape, region, torch.int32)
    engine_for(x.device, "bits", torch.int32).fill(words, spec)
    keep = (words.to(torch.int64) & 0xFFFFFFFF) < keep_threshold(p)
    if feature:
        keep = keep.reshape(out_shape + (1,) * (x.dim() - 2))
    return keep.to(x.dtype)


def apply_dropout(x: Tensor, key: tuple[int, int], start: int, p: float, alpha: bool, grad: bool, feature: bool,
                  features: list[int], starts: list[int]) -> Tensor:
    """Keyed dropout of batched ``x`` (``grad``: the backward pass, ``grad_out * noise``).

    ``0 < p < 1``; ``features`` is the global feature shape and ``starts`` where ``x``'s
    features begin in it.  A fused kernel where the device's engine has one (contiguous
    float32 / float64 input, whole features, not alpha), else the definition.
    """
    whole = all(s == 0 for s in starts) and list(x.shape[1:2] if feature else x.shape[1:]) == (
        features[:1] if feature else features)
    if not alpha and whole and x.is_contiguous() and x.dtype in (torch.float32, torch.float64):
        target = torch.empty_like(x)
        per = features[0] if feature else math.prod(features)
        inner = math.prod(x.shape[2:]) if feature else 1
        engine = engine_for(x.device, "bits", torch.int32)
        if engine.dropout(target, x, key, start * per, inner, keep_threshold(p), _scale(p, x.dtype)):
            return target
    keep = _keep(x, key, start, p, feature, features, starts)
    if alpha:
        noise, shift = alpha_dropout_noise(keep, p)
        y = x * noise if grad else x * noise + shift
    else:
        y = x * dropout_noise(keep, p)
    return y

"""Dropout with a mask drawn from a generator (not keyed): torch's formulas, keystream's mask.

What ``torch.nn.functional.dropout`` computes under ``torch_random`` / ``patch_torch``, and
``keystream.nn.functional``'s dropout without a ``site``.
"""
from __future__ import annotations

import torch

from .._core._math.torch_forms import alpha_dropout_noise, dropout_noise
from .._torch import _draws, _memo
from .._torch._generator import Generator

__all__ = ["dropout"]

Tensor = torch.Tensor


def dropout(x: Tensor, p: float, train: bool, inplace: bool, g: Generator, feature: bool, alpha: bool) -> Tensor:
    """torch's dropout formulas with a keystream mask: ``bernoulli(1 - p)`` of the input's
    shape, or of ``(N, C, 1, ...)`` for the feature forms, in the input's dtype; the rest in
    torch ops, so autograd gives torch's gradient (mask times scale)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not train or p == 0.0:
        return x
    if feature and x.dim() < 2:
        raise ValueError(f"feature dropout needs an input with at least 2 dimensions, got {x.dim()}")
    if p == 1.0:
        noise = torch.zeros((), dtype=x.dtype, device=x.device)
        return x.mul_(noise) if inplace else x * noise
    shape = tuple(x.shape[:2]) + (1,) * (x.dim() - 2) if feature else tuple(x.shape)
    keep, dtype, device = 1.0 - p, x.dtype, x.device
    # (straight to the remembered small draws: this runs at every dropout of a training step)
    noise = _memo.serve("bernoulli", (keep,), shape, None, dtype, g,
                        lambda: _draws.bernoulli(keep, shape, generator=g, dtype=dtype, device=device), device)
    if alpha:
        noise, shift = alpha_dropout_noise(noise, p)
        return x.mul_(noise).add_(shift) if inplace else x * noise + shift
    noise = dropout_noise(noise, p)
    return x.mul_(noise) if inplace else x * noise

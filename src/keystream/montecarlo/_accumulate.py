"""Exact accumulation: sums of float64 values as exact integers, so order never matters.

A finite double is ``m * 2^(p - 1074)`` with integer ``m < 2^53`` and ``0 <= p <= 2045``;
the sum of any number of them is an integer multiple of 2^-1074, kept here as a Python
int.  Chunks, processes and devices add their exact partial sums in any order and get
the same total; the mean is then rounded once.  The device's engine does the per-element
work (C: ``ks_exact_sums``; CUDA: Triton's ``exact_sums_kernel``); a torch implementation
of the same limb arithmetic is the fallback.
"""
from __future__ import annotations

from fractions import Fraction

import torch

from .._core._math.exact import LIMBS
from .._engines import engine_for

__all__ = ["exact_sum", "exact_sums", "to_fraction"]

SCALE_BITS = 1074
_MASK = 0xFFFFFFFF


def _limbs_torch(x: torch.Tensor) -> list[int]:
    """The same 66 limbs as ks_exact_sum, with torch integer ops (any device)."""
    b = x.to(torch.float64).reshape(-1).view(torch.int64)
    sign = torch.where(b < 0, -1, 1)
    e = (b >> 52) & 0x7FF
    m = b & ((1 << 52) - 1)
    nonzero = (e != 0) | (m != 0)
    m = torch.where(e == 0, m, m | (1 << 52))
    e = torch.where(e == 0, 1, e)
    p = e - 1
    limb, r = p >> 5, p & 31
    v0 = (m & _MASK) << r
    v1 = (m >> 32) << r
    limbs = torch.zeros(LIMBS + 1, dtype=torch.int64, device=x.device)
    for offset, part in ((0, v0 & _MASK), (1, (v0 >> 32) + (v1 & _MASK)), (2, v1 >> 32)):
        limbs.scatter_add_(0, (limb + offset)[nonzero], (sign * part)[nonzero])
    return limbs[: LIMBS].tolist()


def _join(limbs: list[int]) -> int:
    return sum(v << (32 * k) for k, v in enumerate(limbs) if v)


def exact_sums(x: torch.Tensor) -> tuple[int, int]:
    """Exact ``sum(x)`` and ``sum(x * x)`` (each square one IEEE multiplication), both times
    2^1074, as ints.

    Integer and bool tensors are summed as integers (exactly, and much faster).

    Raises:
        ValueError: ``x`` holds NaN or infinities.
    """
    flat = x.reshape(-1)
    if flat.dtype == torch.bool:  # indicators: x * x == x
        count = int(torch.count_nonzero(flat)) << SCALE_BITS
        return count, count
    if not flat.dtype.is_floating_point:
        v = flat.to(torch.int64)
        return int(v.sum()) << SCALE_BITS, int((v * v).sum()) << SCALE_BITS
    total = total_sq = 0
    step = 1 << 26
    for i in range(0, max(flat.numel(), 1), step):
        part = flat[i : i + step].to(torch.float64)
        res = engine_for(part.device).exact_sum_limbs(part)
        if res is None:
            if not bool(torch.isfinite(part).all()):
                raise ValueError("fn returned NaN or infinite values")
            s_limbs, q_limbs = _limbs_torch(part), _limbs_torch(part * part)
        else:
            s_limbs, q_limbs, bad = res
            if bad:
                raise ValueError("fn returned NaN or infinite values")
        total += _join(s_limbs)
        total_sq += _join(q_limbs)
    return total, total_sq


def exact_sum(x: torch.Tensor) -> int:
    """The exact sum of the finite float64 values ``x``, times 2^1074, as an int."""
    return exact_sums(x)[0]


def to_fraction(total: int) -> Fraction:
    """The exact value of a sum from :func:`exact_sum`."""
    return Fraction(total, 1 << SCALE_BITS)

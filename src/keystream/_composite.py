"""Public draws made of other draws: their numbers come from ``_draws`` and exact steps.

A composite draw takes its words from one public draw (so from every engine, bit for
bit) and turns them into its result with steps whose result does not depend on the
order of operations: comparisons, integer sums, one IEEE operation per element, a
stable sort.  So it is the same on every device without kernels of its own.

Like ``_draws``, every function of ``__all__`` is also a :class:`Generator` method.
"""
from __future__ import annotations

import numbers
from typing import Any

import torch

from . import _draws
from ._draws import generator_method
from ._engines import engine_for
from ._generator import Generator, resolve_generator
from ._kinds import FLOAT_DTYPES
from ._math.torch_forms import mulhi64
from ._spec import blocks_for

__all__ = ["multinomial"]

Tensor = torch.Tensor
_M32 = 0xFFFFFFFF
#: torch's limit on categories.
_MAX_CATEGORIES = 1 << 24


def _check_args(input: Any, num_samples: Any, replacement: bool) -> int:
    """``num_samples``, after the checks torch makes of the arguments (not of the values)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if input.dtype not in FLOAT_DTYPES:
        raise TypeError(f"input must be a float tensor of weights, got dtype {input.dtype}")
    if input.dim() not in (1, 2):
        raise ValueError(f"input must be 1-D or 2-D, got {input.dim()} dimensions")
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
        raise TypeError(f"num_samples must be an int, got {type(num_samples).__name__}")
    n = int(num_samples)
    categories = input.shape[-1]
    if n <= 0:
        raise ValueError(f"num_samples must be > 0, got {n}")
    if categories == 0 or categories > _MAX_CATEGORIES:
        raise ValueError(f"input must have between 1 and 2**24 categories, got {categories}")
    if not replacement and n > categories:
        raise ValueError(f"num_samples = {n} is more than the {categories} categories (without replacement)")
    if input.device.type == "meta":
        raise ValueError("input is on the meta device: its values are needed")
    return n


def _value_error(status: int, n: int, replacement: bool) -> None:
    """Raise for a failed check of the weights (1: a bad weight, 2: a short row)."""
    if status == 1:
        raise ValueError("input must hold finite weights >= 0 (it has a negative, inf or NaN entry)")
    if status == 2:
        if replacement:
            raise ValueError("input has a row of weights that are all 0")
        raise ValueError(f"input has a row with fewer than num_samples = {n} weights > 0 (without replacement)")


def _check_values(w: Tensor, n: int, replacement: bool) -> None:
    """The checks of the weights (float64 [rows, cats]) with torch ops."""
    if not w.numel():
        return
    if not bool((torch.isfinite(w) & (w >= 0)).all()):
        _value_error(1, n, replacement)
    if int((w > 0).sum(1).min()) < (1 if replacement else n):
        _value_error(2, n, replacement)


@_draws._eager
def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator: Generator | None = None,
                out: Tensor | None = None) -> Tensor:
    """Category indices drawn with probabilities proportional to the rows of ``input``, like
    :func:`torch.multinomial`: ``[num_samples]`` for a 1-D ``input``, ``[rows, num_samples]``
    for a 2-D one (int64).

    Without replacement (an exponential race): each category ``c`` of a row gets the key
    ``E_c / w_c`` with ``E`` a float64 :func:`exponential` draw of ``input``'s shape; the
    samples are the categories of the ``num_samples`` smallest keys, smallest first (equal
    keys: the smaller index first).  That is exactly drawing one at a time, each with
    probability proportional to the weights left.

    With replacement (exact integers): the weights become integers ``q_c = floor(w_c *
    2^(K - e))`` (exactly: ``2^e`` bounds the row's largest weight, ``K = min(52, 62 -
    ceil(log2 C))``; a weight below ``2^(1-K)`` of the row's largest is never drawn), and
    sample ``s`` is the first ``c`` whose prefix sum of ``q`` exceeds ``floor(x_s * Q /
    2^64)``, ``x_s`` a 64-bit :func:`bits` word, ``Q`` the row's sum.

    Raises:
        TypeError: ``input`` not a float tensor, ``num_samples`` not an int.
        ValueError: as torch: ``input`` not 1-D or 2-D, ``num_samples <= 0`` (or above the
            categories without replacement), negative, inf or NaN weights, a row of zeros
            (without replacement: fewer weights > 0 than ``num_samples``).

    Reproducibility:
        Without replacement: the blocks of ``exponential(input.shape, dtype=torch.float64)``
        (``ceil(numel / 2)``); with replacement: those of ``bits(rows, num_samples,
        dtype=torch.uint64)`` (``ceil(rows * num_samples / 2)``).  The rest is exact, so
        every device gives the same indices.
    """
    g = resolve_generator(generator)
    n = _check_args(input, num_samples, replacement)
    rows, categories = (1, input.shape[0]) if input.dim() == 1 else tuple(input.shape)
    shape = (n,) if input.dim() == 1 else (rows, n)
    if out is not None:
        _draws._check_out(out, shape, torch.int64)
    device = input.device
    target = out if out is not None else _draws._empty(shape, torch.int64, device)
    k = min(52, 62 - max(0, categories - 1).bit_length())
    kind, dtype, count = ("bits", torch.uint64, rows * n) if replacement else ("exponential", torch.float64,
                                                                               rows * categories)
    engine = engine_for(device, kind, dtype)
    if engine.has_multinomial(n, replacement):
        # The kernel checks the weights as it reads them, so it runs before the blocks are
        # reserved, at the state they will have; a draw by another thread in between makes
        # it run again at the blocks reserved.
        src = input.detach().reshape(rows, categories)
        src = (src if src.dtype in (torch.float32, torch.float64) else src.to(torch.float32)).contiguous()
        dest = target if out is None and target.is_contiguous() else _draws._empty(shape, torch.int64, device)
        key, start, _ = g._snapshot()
        _value_error(engine.multinomial(dest.view(rows, n), key, start, src, n, replacement, k), n, replacement)
        blocks = blocks_for(kind, dtype, count)
        reserved = g._reserve(blocks)
        if reserved != (key, start):
            try:
                engine.multinomial(dest.view(rows, n), *reserved, src, n, replacement, k)
            except BaseException:
                g._release(*reserved, blocks)
                raise
        return dest if dest is target else target.copy_(dest)
    w = input.detach().reshape(rows, categories).to(torch.float64)
    _check_values(w, n, replacement)
    if replacement:
        _, e = torch.frexp(w.amax(1, keepdim=True))  # the row's largest weight is m 2^e, m in [0.5, 1)
        shift = k - e.to(torch.int64)
        a = shift.clamp(max=1000)  # 2^(K - e) in two exact factors (it can pass 2^1023)
        q = torch.floor((w * _power_of_two(a)) * _power_of_two(shift - a)).to(torch.int64)
        prefix = torch.cumsum(q, 1)  # exact: integers below 2^62
        x = _draws.bits((rows, n), generator=g, dtype=torch.int64, device=device)
        hi, lo = mulhi64((x >> 32) & _M32, x & _M32, prefix[:, -1:])
        picks = torch.searchsorted(prefix, (hi << 32) | lo, right=True)
    else:
        keys = _draws.exponential((rows, categories), generator=g, dtype=torch.float64, device=device) / w
        picks = _smallest(keys, n)
    return target.copy_(picks.reshape(shape))


def _power_of_two(exponent: Tensor) -> Tensor:
    """``2.0 ** exponent`` (int64, in [-1022, 1023]) as float64, from the bits."""
    return ((exponent + 1023) << 52).view(torch.float64)


def _smallest(keys: Tensor, n: int) -> Tensor:
    """Per row, the indices of the ``n`` smallest keys, smallest first; equal keys in index
    order.  topk where the first ``n + 1`` keys have no equal neighbours (then its answer is
    the only one), a stable sort of the other rows."""
    categories = keys.shape[1]
    if n >= categories:
        return torch.sort(keys, dim=1, stable=True).indices[:, :n]
    values, picks = torch.topk(keys, n + 1, 1, largest=False, sorted=True)
    tied = (values[:, 1:] == values[:, :-1]).any(1)
    picks = picks[:, :n]
    if bool(tied.any()):
        rows = tied.nonzero().squeeze(1)
        picks[rows] = torch.sort(keys[rows], dim=1, stable=True).indices[:, :n]
    return picks


# Every composite draw is also a Generator method.
for _name in __all__:
    setattr(Generator, _name, generator_method(globals()[_name]))
del _name


"""Counts: ``poisson`` and ``binomial``, with a fixed number of candidates per element.

NOTE [ Counts with a fixed number of candidates ]
Element ``e`` of a draw of ``n`` elements owns the 32 blocks ``32e .. 32e + 31`` after the
generator's offset: the float64 uniforms ``rand((n, 64), dtype=float64)``, candidate ``c``
being the pair ``(u, v)`` of block ``32e + c`` (words 0-1 and 2-3).  So every element reads
its own blocks whatever happens to the others, and the generator advances by ``32 n``
(only the blocks of the candidates looked at are computed).

* Small means (Poisson ``lam < 10``, binomial ``n p < 10`` with ``p <= 1/2``): inversion
  of the first ``u`` by sequential search: ``k = 0, P = F = P(0)``; while ``not u < F``:
  ``k += 1``, ``P = P * ratio(k)``, ``F' = F + P``, stop when ``F' == F`` (the tail is
  below rounding), else ``F = F'``.  The binomial also stops at ``k = n``.
* Otherwise Hoermann's transformed rejection (PTRS for Poisson, BTRS for the binomial,
  1993) over the 32 candidates in order; the value is the first accepted candidate's
  ``k``, or the mode (``floor(lam)``, ``floor((n + 1) p)``) if all 32 are rejected.  A
  candidate is accepted with probability 0.71 at worst (binomial, ``n p = 10``; 0.75 for
  Poisson at ``lam = 10``, 0.89 for large means: measured over 200,000 candidates), so all
  32 fail with probability below 2e-17.
* The binomial draws ``n - Binomial(n, 1 - p)`` where ``p > 1/2``.

Every step is one IEEE float64 operation in the order written here (``_poisson`` and
``_binomial`` are the definition; the C kernel computes the same steps), with the stream's
exp, log, ``ln k!`` and a correctly rounded square root: the same on every device.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .._core._constants import u32
from .._core._kinds import FLOAT_DTYPES
from .._core._math.torch_forms import (
    c64,
    exp_f64,
    log1p_f64,
    log_f64,
    log_factorial_diff_f64,
    log_factorial_f64,
    neg_log1m_f64,
    stirling_series_f64,
)
from .._core._spec import blocks_for
from .._engines import engine_for
from . import _draws
from ._composite import KERNEL_DTYPES, Elements, _at, _sqrt, kernel_param, region_of
from ._draws import generator_method
from ._generator import Generator, resolve_generator

__all__ = ["poisson", "binomial"]

Tensor = torch.Tensor
#: Candidates (blocks) per element.
CANDIDATES = u32("COUNT_CANDIDATES")
_CHUNK = 1 << 15  # elements a chunk at a time in torch ops: bounded memory


def _sequential_inversion(u: Tensor, first: Tensor, step: Callable[[Tensor, Tensor], Tensor],
                          limit: Tensor | None) -> Tensor:
    """NOTE [ Counts with a fixed number of candidates ]: the smallest ``k`` with ``u < F(k)``
    (or where ``F`` stops growing, or ``k = limit``), ``P(k) = step(P(k - 1), k)``."""
    k = torch.zeros_like(u)
    p, f = first, first
    active = ~(u < f) if limit is None else ~(u < f) & (k < limit)
    while bool(active.any()):
        k = torch.where(active, k + 1.0, k)
        p_next = step(p, k)
        f_next = f + p_next
        stop = f_next == f
        p = torch.where(active, p_next, p)
        f = torch.where(active & ~stop, f_next, f)
        active = active & ~stop & ~(u < f_next)
        if limit is not None:
            active = active & (k < limit)
    return k


def _first_accepted(accept: Tensor, k: Tensor, fallback: Tensor) -> Tensor:
    """Per row, ``k`` of the first accepted candidate, else ``fallback``."""
    first = torch.where(accept, torch.arange(CANDIDATES, device=k.device), CANDIDATES).amin(1)
    chosen = k.gather(1, first.clamp(max=CANDIDATES - 1).unsqueeze(1)).squeeze(1)
    return torch.where(first < CANDIDATES, chosen, fallback)


def _log_or_zero(t: Tensor) -> Tensor:
    """``ln t`` where ``t > 0`` (the caller accepts ``t == 0`` outright)."""
    return log_f64(torch.where(t > 0.0, t, 1.0))


def _ptrs_rhs_v2(k: Tensor, lam: Tensor, loglam: Tensor) -> Tensor:
    """Stream version 2's PTRS bound ``(k ln lam - lam) - ln k!`` without the cancellation of
    two terms near ``lam ln lam``: for ``k > 18``, with ``x = k + 1`` and ``d = x - lam``,
    ``((d - (x - 1/2) ln(1 + d / lam)) - ln(lam) / 2) - (ln sqrt(2 pi) + S(x))``."""
    small = k <= 18.0
    x = torch.where(small, 20.0, k + 1.0)
    d = x - lam
    big = ((d - (x - c64("HALF_F64", k)) * log1p_f64(d / lam)) - c64("HALF_F64", k) * loglam) - (
        c64("HALF_LN_2PI_F64", k) + stirling_series_f64(x))
    return torch.where(small, (k * loglam - lam) - log_factorial_f64(k), big)


def _ptrs(lam: Tensor, u: Tensor, v: Tensor, version: int = 1) -> Tensor:
    """Poisson(lam >= 10) by PTRS over the candidates ``(u, v)`` [m, 32]."""
    def c(name: str) -> Tensor:
        return c64(name, lam)
    lam1 = lam.unsqueeze(1)
    slam, loglam = _sqrt(lam).unsqueeze(1), log_f64(lam).unsqueeze(1)
    b = c("PTRS_B0_F64") + c("PTRS_B1_F64") * slam
    a = c("PTRS_A1_F64") * b - c("PTRS_A0_F64")
    inv_alpha = c("PTRS_IA0_F64") + c("PTRS_IA1_F64") / (b - c("PTRS_IA2_F64"))
    vr = c("PTRS_VR0_F64") - c("PTRS_VR1_F64") / (b - c("TWO_F64"))
    us, k = _transformed(u, a, b, lam1 + c("PTRS_SHIFT_F64"))
    quick = (us >= c("TRS_US_ACCEPT_F64")) & (v <= vr)
    reject = (k < 0.0) | ((us < c("PTRS_US_REJECT_F64")) & (v > us))
    t = (v * inv_alpha) / (a / (us * us) + b)
    kk = torch.where(reject, 0.0, k)
    if version >= 2:
        rhs = _ptrs_rhs_v2(kk, lam1.expand_as(kk), loglam.expand_as(kk))
    else:
        rhs = (kk * loglam - lam1) - log_factorial_f64(kk)
    accept = quick | (~reject & ((t == 0.0) | (_log_or_zero(t) <= rhs)))
    return _first_accepted(accept, k, torch.floor(lam))


def _transformed(u: Tensor, a: Tensor, b: Tensor, shift: Tensor) -> tuple[Tensor, Tensor]:
    """The transformed rejection's ``us = 1/2 - |u - 1/2|`` and ``k = floor((2a / us + b)
    (u - 1/2) + shift)``."""
    half = c64("HALF_F64", u)
    centred = u - half
    us = half - centred.abs()
    return us, torch.floor(((c64("TWO_F64", u) * a) / us + b) * centred + shift)


def _poisson(lam: Tensor, u: Tensor, v: Tensor, version: int = 1) -> Tensor:
    """The definition: Poisson(lam) (float64 [m], finite, >= 0) from the candidates [m, 32]."""
    small = lam < c64("TEN_F64", lam)
    value = torch.empty_like(lam)
    if bool(small.any()):
        ls = lam[small]
        value[small] = _sequential_inversion(u[small, 0], exp_f64(-ls), lambda p, k: (p * ls) / k, None)
    big = ~small
    if bool(big.any()):
        value[big] = _ptrs(lam[big], u[big], v[big], version)
    return value


def _btrs(n: Tensor, p: Tensor, u: Tensor, v: Tensor, version: int = 1) -> Tensor:
    """Binomial(n, p) for ``n p >= 10``, ``p <= 1/2``, by BTRS over the candidates [m, 32]."""
    def c(name: str) -> Tensor:
        return c64(name, n)
    q = c("ONE_F64") - p
    mean = n * p
    spq = _sqrt(mean * q)
    b = c("BTRS_B0_F64") + c("PTRS_B1_F64") * spq
    a = (c("BTRS_A1_F64") * b - c("BTRS_A0_F64")) + c("BTRS_A2_F64") * p
    alpha = (c("BTRS_AL0_F64") + c("BTRS_AL1_F64") / b) * spq
    vr = c("BTRS_VR0_F64") - c("BTRS_VR1_F64") / b
    m = torch.floor((n + c("ONE_F64")) * p)
    h = log_factorial_f64(m) + log_factorial_f64(n - m)
    lpq = log_f64(p / q)
    n1, m1 = n.unsqueeze(1), m.unsqueeze(1)
    us, k = _transformed(u, a.unsqueeze(1), b.unsqueeze(1), (mean + c("HALF_F64")).unsqueeze(1))
    reject = (k < 0.0) | (k > n1)
    quick = (us >= c("TRS_US_ACCEPT_F64")) & (v <= vr.unsqueeze(1))
    t = (v * alpha.unsqueeze(1)) / (a.unsqueeze(1) / (us * us) + b.unsqueeze(1))
    kk = torch.where(reject, 0.0, k)
    if version >= 2:  # (lf(m) - lf(k)) + (lf(n - m) - lf(n - k)), each difference without cancellation
        mm = m1.expand_as(kk)
        rhs = (log_factorial_diff_f64(mm, kk) + log_factorial_diff_f64(n1 - mm, n1 - kk)) + (kk - m1) * lpq.unsqueeze(1)
    else:
        rhs = (h.unsqueeze(1) - (log_factorial_f64(kk) + log_factorial_f64(n1 - kk))) + (kk - m1) * lpq.unsqueeze(1)
    accept = ~reject & (quick | (t == 0.0) | (_log_or_zero(t) <= rhs))
    return _first_accepted(accept, k, m)


def _binomial(n: Tensor, prob: Tensor, u: Tensor, v: Tensor, version: int = 1) -> Tensor:
    """The definition: Binomial(n, prob) (float64 [m]: whole n >= 0, prob in [0, 1])."""
    flip = prob > c64("HALF_F64", prob)
    p = torch.where(flip, c64("ONE_F64", prob) - prob, prob)  # exact
    small = n * p < c64("TEN_F64", n)
    k = torch.empty_like(n)
    if bool(small.any()):
        ns, ps = n[small], p[small]
        s = ps / (c64("ONE_F64", ps) - ps)
        first = exp_f64(-(ns * neg_log1m_f64(ps)))  # (1 - p)^n
        k[small] = _sequential_inversion(u[small, 0], first, lambda pk, kk: (pk * (s * ((ns - kk) + 1.0))) / kk,
                                         ns)
    big = ~small
    if bool(big.any()):
        k[big] = _btrs(n[big], p[big], u[big], v[big], version)
    return torch.where(flip, n - k, k)


def _counts(params: list[Tensor | float], shape: tuple[int, ...], dtype: torch.dtype, dev: torch.device,
            elements: Elements, g: Generator, out: Tensor | None) -> Tensor:
    """Poisson (one parameter: the rates) or binomial (count, prob), checked, broadcast to
    ``shape`` (the computed elements'): the values from the generator's next ``32 n``
    blocks (``n`` elements in the draw), in ``dtype``."""
    n = elements.total
    version = g._version
    blocks = blocks_for("uniform", torch.float64, n * 2 * CANDIDATES)
    if dev.type == "meta":  # NOTE [ meta ] in _draws: the blocks, no values
        g._reserve(blocks, version)
        return _draws._finish(torch.empty(shape, dtype=dtype, device=dev), out)
    engine = engine_for(dev, "uniform", torch.float64)
    direct = engine.has_counts() and dtype in KERNEL_DTYPES and version in engine.composite_versions
    target = out if out is not None and (not direct or out.is_contiguous()) else _draws._empty(shape, dtype, dev)
    if direct:
        values = [kernel_param(v, shape, dev) for v in params]
    else:
        values = [_draws._regional(_draws._as_tensor(v), shape, tuple((0, m) for m in shape), torch.float64,
                                   dev).reshape(-1) for v in params]
    key, start = g._reserve(blocks, version)
    try:
        if direct:  # a region run by run (element e's blocks are 32e ..; its parameters are numbers)
            flat = target.view(-1)
            for pos, lo, hi in [(0, 0, n)] if elements.index is None else elements.pieces(elements.count):
                piece, first = flat[pos:pos + hi - lo], start + CANDIDATES * lo
                if len(values) == 1:
                    engine.poisson(piece, key, first, values[0], version)
                else:
                    engine.binomial(piece, key, first, values[0], values[1], version)
        else:
            value = torch.empty(elements.count, dtype=torch.float64, device=dev)
            for pos, lo, hi in elements.pieces(_CHUNK):
                r = _draws.rand((n, 2 * CANDIDATES), generator=_at(g, key, start), dtype=torch.float64,
                                device=dev, region=(slice(lo, hi),))
                u, v = r[:, 0::2], r[:, 1::2]
                part = slice(pos, pos + hi - lo)
                if len(values) == 1:
                    value[part] = _poisson(values[0][part], u, v, version)
                else:
                    value[part] = _binomial(values[0][part], values[1][part], u, v, version)
            target.copy_(value.view(shape))
    except BaseException:
        g._release(key, start, blocks)
        raise
    return _draws._written(target) if target is out else _draws._finish(target, out)


def _checked(value: Any, name: str, ok: Callable[[Any], Any], rule: str) -> Tensor | float:
    """A number or real tensor parameter, every value of which passes ``ok``."""
    v = _draws._param(value, name)
    if isinstance(v, Tensor):
        good = bool(ok(v.detach())) if v.numel() else True
    else:
        good = bool(ok(v))
    if not good:
        raise ValueError(f"{name} must be {rule}, got {_draws.shown(value)}")
    return v


def _bounds(x: Tensor) -> tuple[float, float]:
    """The least and the greatest value of a non-empty tensor, in one pass (NaN: both NaN)."""
    lo, hi = torch.aminmax(x)
    return lo.item(), hi.item()


def _prepare(params: dict[str, Tensor | float], size: Any, g: Generator, dtype: Any, device: Any,
             out: Tensor | None, draw: str, region: _draws.Region
             ) -> tuple[tuple[int, ...], torch.dtype, torch.device, Elements]:
    """The computed elements' shape, the dtype, device and elements."""
    _, elements, shape = region_of(params, size, region)
    dtype = _draws._dtype(dtype, out, _draws._float_dtype_of(*params.values()) or torch.get_default_dtype(),
                          FLOAT_DTYPES, draw)
    _draws._check_out(out, shape, dtype)
    return shape, dtype, _draws._device(device, out, g), elements


def _finite_nonnegative(x: Any) -> bool:
    if isinstance(x, Tensor):
        lo, hi = _bounds(x)
        x = lo if hi < math.inf else math.inf  # (NaN fails below)
    return 0 <= x < math.inf


def _whole(x: Any) -> bool:
    if not isinstance(x, Tensor):  # (math.floor refuses nan and inf)
        return _finite_nonnegative(x) and x == math.floor(x)
    return _finite_nonnegative(x) and torch.equal(x, torch.floor(x))


def _probability(x: Any) -> bool:
    if isinstance(x, Tensor):
        lo, hi = _bounds(x)
        return 0 <= lo and hi <= 1
    return 0 <= x <= 1


@_draws._eager
def poisson(rate: Tensor | float, size: Any = None, *, generator: Generator | None = None,
            out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
            region: _draws.Region = None) -> Tensor:
    """Poisson(``rate``) counts as floats, like :func:`torch.poisson` (``rate`` a tensor or a
    number with ``size``); ``rate``'s float dtype, or torch's default.

    Inversion below a rate of 10, Hoermann's PTRS above, with 32 candidates per element
    (NOTE [ Counts with a fixed number of candidates ]): all 32 are rejected with
    probability below 2e-17, and then the count is ``floor(rate)``.  Computed in float64,
    rounded once to the dtype (exact up to 2^24 in float32, 2048 in float16, 256 in
    bfloat16, as torch's).

    Raises:
        ValueError: a rate negative, inf or NaN.

    Reproducibility:
        Element ``e`` (C order) reads the blocks ``32e .. 32e + 31`` of the generator's next
        ``32 n``: the same on every device, engine and thread count.  With ``region`` (number
        parameters), exactly ``full[region]``; the generator advances as for the full draw.
    """
    g = resolve_generator(generator)
    rate = _checked(rate, "rate", _finite_nonnegative, "finite and >= 0")
    return _counts([rate], *_prepare({"rate": rate}, size, g, dtype, device, out, "poisson", region), g, out)


@_draws._eager
def binomial(count: Tensor | float, prob: Tensor | float, size: Any = None, *, generator: Generator | None = None,
             out: Tensor | None = None, dtype: torch.dtype | None = None, device: Any = None,
             region: _draws.Region = None) -> Tensor:
    """Binomial(``count``, ``prob``) successes as floats, like :func:`torch.binomial`
    (broadcast); the parameters' float dtype, or torch's default.

    Inversion where ``count * min(prob, 1 - prob) < 10``, Hoermann's BTRS above, with 32
    candidates per element (NOTE [ Counts with a fixed number of candidates ]): all 32
    are rejected with probability below 2e-17, and then the count is the mode
    ``floor((count + 1) p)`` (``p = min(prob, 1 - prob)``, mirrored).  Computed in float64,
    rounded once to the dtype.

    Raises:
        ValueError: ``count`` not whole numbers >= 0 (finite), ``prob`` outside [0, 1] or NaN.

    Reproducibility:
        Element ``e`` (C order) reads the blocks ``32e .. 32e + 31`` of the generator's next
        ``32 n``: the same on every device, engine and thread count.
    """
    g = resolve_generator(generator)
    count = _checked(count, "count", _whole, "whole numbers >= 0")
    prob = _checked(prob, "prob", _probability, "in [0, 1]")
    return _counts([count, prob], *_prepare({"count": count, "prob": prob}, size, g, dtype, device, out, "binomial",
                                            region), g, out)


# Every count draw is also a Generator method.
for _name in __all__:
    setattr(Generator, _name, generator_method(globals()[_name]))
del _name

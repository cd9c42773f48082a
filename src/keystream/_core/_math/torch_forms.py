"""The stream's own arithmetic in torch ops (docs/spec.md sections 5 and 6): the portable forms.

The same bits as the numpy forms (``numpy_forms``) on any torch device: words are held
in int64 tensors (values in [0, 2^32)), every IEEE operation is one torch op (rounded
on its own, no fused multiply-add), constants come from the one table.  The portable
engine computes its draws with these; ``keystream.init`` (a correctly rounded square
root) and the Monte Carlo math (``_detmath``) use them too.
"""
from __future__ import annotations

import math
import sys

import torch

from .._constants import f32, f64, u32, u64

__all__ = ["bit_length", "c32", "c64", "alpha_dropout_noise", "dropout_noise", "exp_f64", "log1p_f64", "log_f64",
           "log_factorial_diff_f64", "log_factorial_f64", "log_parts_f64", "mulhi64", "mulhilo32", "neg_log1m_f64",
           "neg_log_f32", "neg_log_f64", "sincos_f32", "sincos_f64", "sqrt_f32", "sqrt_f64", "stirling_series_f64"]

_M32 = 0xFFFFFFFF
Tensor = torch.Tensor


# -------------------------------------------------------- integer products
def mulhilo32(a: Tensor, m: Tensor | int) -> tuple[Tensor, Tensor]:
    """``(a * m) >> 32`` and ``(a * m) & 0xFFFFFFFF`` for ``a``, ``m`` in [0, 2^32) (a number
    or a tensor), from 16-bit halves of ``m`` so that no int64 intermediate overflows."""
    big = a * (m >> 16)  # < 2^48
    small = a * (m & 0xFFFF)  # < 2^48
    mid = big + (small >> 16)  # a*m = mid*2^16 + (small & 0xFFFF)
    return mid >> 16, ((mid & 0xFFFF) << 16) | (small & 0xFFFF)


def mulhi64(xh: Tensor, xl: Tensor, span: Tensor | int) -> tuple[Tensor, Tensor]:
    """``floor(x * span / 2^64)`` as (hi, lo) 32-bit words, ``x = xh * 2^32 + xl``, for
    ``span`` in [1, 2^64) (a number or an int64 tensor; randint's product, spec section 5)."""
    rh, rl = span >> 32, span & _M32
    ll_hi, _ = mulhilo32(xl, rl)
    lh_hi, lh_lo = mulhilo32(xl, rh)
    hl_hi, hl_lo = mulhilo32(xh, rl)
    hh_hi, hh_lo = mulhilo32(xh, rh)
    mid = ll_hi + lh_lo + hl_lo
    lo = hh_lo + lh_hi + hl_hi + (mid >> 32)
    return hh_hi + (lo >> 32), lo & _M32


# ----------------------------------------------------------------- bit casting
def _to_f32(bits: Tensor) -> Tensor:
    """int64 holding a 32-bit pattern -> float32 with that pattern."""
    signed = torch.where(bits >= 1 << 31, bits - (1 << 32), bits).to(torch.int32)
    return signed.view(torch.float32)


def _bits_f32(x: Tensor) -> Tensor:
    return x.view(torch.int32).to(torch.int64) & _M32


def _flip_f32(x: Tensor, flip: Tensor | None = None) -> Tensor:
    """Negate by flipping the sign bit (where ``flip``)."""
    sign = (1 << 31) if flip is None else flip.to(torch.int64) << 31
    return _to_f32(_bits_f32(x) ^ sign)


def _flip_f64(x: Tensor, flip: Tensor | None = None) -> Tensor:
    sign = -(1 << 63) if flip is None else flip.to(torch.int64) << 63
    return (x.view(torch.int64) ^ sign).view(torch.float64)


def bit_length(z: Tensor, width: int) -> Tensor:
    """Significant bits of each ``z`` (int64, 0 <= z < 2^width, width <= 53).

    Read from the exponent of z's float64 conversion, which is exact below 2^53 (so no
    rounding can carry into the next power of two): 3 torch ops instead of a binary
    search's 25.  Devices without float64 (MPS) take the binary search.
    """
    if width > 53:
        raise ValueError(f"bit_length: width must be at most 53, got {width}")
    if z.device.type == "mps":
        return _bit_length_search(z, width)
    return ((z.to(torch.float64).view(torch.int64) >> 52) - 1022).clamp_(min=0)


def _bit_length_search(z: Tensor, width: int) -> Tensor:
    """bit_length by binary search on the integers (no floating point)."""
    n = torch.zeros_like(z)
    x = z
    s = 1 << (width - 1).bit_length() >> 1  # the largest power of two below width
    while s:
        high = (x >> s) != 0
        n = n + high.to(torch.int64) * s
        x = torch.where(high, x >> s, x)
        s //= 2
    return n + (x != 0).to(torch.int64)


def _top_bits(z: Tensor, n: Tensor, keep: int) -> Tensor:
    """The top ``keep`` bits of ``z`` (``n`` significant bits), leading one at bit ``keep - 1``."""
    return torch.where(n > keep, z >> (n - keep).clamp(min=0), z << (keep - n).clamp(min=0))


# ------------------------------------------------- correctly rounded square roots
# NOTE [ torch.sqrt is not correctly rounded on CPU ]
# Measured with torch 2.13 on x86-64: the vectorised CPU torch.sqrt differs from
# the IEEE square root in 15% of float32 and 1.2% of float64 inputs (it is a
# SLEEF-style 0.5001-ulp routine).  IEEE sqrt is what every other engine uses, so:
# float32 takes the float64 root and rounds it once (an error of 1 float64 ulp
# cannot cross a float32 rounding midpoint, which lies at least 4 float64 ulps
# from any root of a float32); float64 corrects torch's root by deciding
# exactly, with Dekker's error-free square (no FMA), on which side of the
# neighbouring midpoints the argument lies.
def sqrt_f32(x: Tensor) -> Tensor:
    return torch.sqrt(x.to(torch.float64)).to(torch.float32)


def _exact_square(y: Tensor) -> tuple[Tensor, Tensor]:
    """``p + e == y * y`` exactly (Veltkamp split, Dekker product)."""
    p = y * y
    c = c64("SPLIT_F64", y) * y
    hi = c - (c - y)
    lo = y - hi
    return p, ((hi * hi - p) + (hi * lo + hi * lo)) + lo * lo


def _above_midpoint(x: Tensor, y: Tensor, nxt: Tensor) -> Tensor:
    """Exactly: is ``x > ((y + nxt) / 2)^2`` for neighbouring doubles ``y < nxt``?"""
    h = (nxt - y) * c64("HALF_F64", y)  # a power of two: every product below is exact
    p, e = _exact_square(y)
    a = x - p  # exact (Sterbenz)
    b = (y * h) * c64("TWO_F64", y)
    s = a - b  # (s, t): Knuth's TwoSum, s + t == a - b exactly
    bb = s - a
    t = (a - (s - bb)) - (b + bb)
    # x - mid^2 = s + (t - e) - h^2 and the h^2 term is finer than all others, so the
    # sign of the rounded s + (t - e) decides (a zero means x < mid^2).
    return (s + (t - e)) > 0


def sqrt_f64(x: Tensor) -> Tensor:
    """The correctly rounded float64 square root (0, inf and NaN as IEEE's).

    Arguments below 2^-900 are scaled by 2^108 first (and the root by 2^-54 after: both
    exact), so the error-free products of the correction never underflow."""
    tiny = x < math.ldexp(1.0, -900)
    xs = torch.where(tiny, x * math.ldexp(1.0, 108), x)
    y0 = torch.sqrt(xs)  # within one ulp
    inf = torch.tensor(float("inf"), dtype=torch.float64, device=x.device)
    up = torch.nextafter(y0, inf)
    y = torch.where(_above_midpoint(xs, y0, up), up, y0)
    down = torch.nextafter(y, -inf)
    y = torch.where(_above_midpoint(xs, down, y), y, down)
    y = torch.where(tiny, y * math.ldexp(1.0, -54), y)
    return torch.where((x == 0.0) | ~torch.isfinite(x), torch.sqrt(x), y)  # exact there


# ------------------------------------------------------------- deterministic log
def c32(name: str, like: Tensor) -> Tensor:
    """The table's float32 constant ``name`` as a 0-d tensor on ``like``'s device."""
    return torch.tensor(f32(name), dtype=torch.float32, device=like.device)


def c64(name: str, like: Tensor) -> Tensor:
    """The table's float64 constant ``name`` as a 0-d tensor on ``like``'s device."""
    return torch.tensor(f64(name), dtype=torch.float64, device=like.device)


def neg_log_f32(w: Tensor) -> Tensor:
    """``-ln((2w+1) * 2^-33)`` in float32: see the reference engine for the derivation."""
    small = w < (1 << 23)
    z = torch.where(small, 2 * w + 1, w)
    n = bit_length(z, 32)
    mant = _top_bits(z, n, 24) & 0x7FFFFF
    k = n - 1 + torch.where(small, -33, -32)
    big = mant >= u32("SQRT2_MANT_F32")
    x = _to_f32(torch.where(big, 0x3F000000, 0x3F800000) | mant)
    k = k + big.to(torch.int64)
    f = x - c32("ONE_F32", x)
    s = f / (c32("TWO_F32", x) + f)
    z2 = s * s
    p = c32("LOG_L4_F32", x)
    for name in ("LOG_L3_F32", "LOG_L2_F32", "LOG_L1_F32"):
        p = c32(name, x) + z2 * p
    r = z2 * p
    hfsq = (c32("HALF_F32", x) * f) * f
    dk = k.to(torch.float32)
    ln = dk * c32("LN2_HI_F32", x) - ((hfsq - (s * (hfsq + r) + dk * c32("LN2_LO_F32", x))) - f)
    return _flip_f32(ln)


def neg_log_f64(xh: Tensor, xl: Tensor) -> Tensor:
    """``-ln((2x+1) * 2^-65)`` in float64, ``x = xh * 2^32 + xl``."""
    small = xh < (1 << 20)  # x < 2^52: 2x+1 fits 53 bits exactly
    zs = ((xh << 32) | xl) * 2 + 1  # only used where small (no overflow there)
    ns = bit_length(torch.where(small, zs, 0), 53)
    top_s = zs << (53 - ns).clamp(min=0)
    nb = 32 + bit_length(xh, 32)  # x >= 2^52: its own top 53 bits, n in [53, 64]
    d = (nb - 53).clamp(min=0, max=11)
    top_b = (xh << (32 - d)) | (xl >> d)
    mant = torch.where(small, top_s, top_b) & ((1 << 52) - 1)
    return _flip_f64(log_parts_f64(torch.where(small, ns - 66, nb - 65), mant))


def log_parts_f64(k: Tensor, mant: Tensor) -> Tensor:
    """``ln(2^k * 1.mant)`` (mant: the 52 fraction bits as int64), the stream's float64 log;
    also ``keystream._core._detmath.log``."""
    big = mant >= u64("SQRT2_MANT_F64")
    x = torch.where(big, 0x3FE0000000000000, 0x3FF0000000000000).bitwise_or_(mant).view(torch.float64)
    dk = (k + big.to(torch.int64)).to(torch.float64)
    # The same operations and roundings as the reference, mostly in place: a fresh
    # large tensor costs more in page faults than the arithmetic (measured on CPU).
    # Each in-place step computes exactly the out-of-place expression named beside it.
    f = x.sub_(c64("ONE_F64", x))  # f = x - 1
    s = f + c64("TWO_F64", x)
    s = torch.div(f, s, out=s)  # s = f / (2 + f)
    z2 = s * s
    p = c64("LOG_L7_F64", x).expand_as(z2).clone()
    for name in ("LOG_L6_F64", "LOG_L5_F64", "LOG_L4_F64", "LOG_L3_F64", "LOG_L2_F64", "LOG_L1_F64"):
        p.mul_(z2).add_(c64(name, x))  # c + z2 * p
    r = p.mul_(z2)  # r = z2 * p
    hfsq = (f * c64("HALF_F64", x)).mul_(f)  # hfsq = (0.5 * f) * f
    t = r.add_(hfsq).mul_(s)  # s * (hfsq + r)
    t.add_(dk * c64("LN2_LO_F64", x))  # s * (hfsq + r) + dk * ln2_lo
    t = torch.sub(hfsq, t, out=t).sub_(f)  # (hfsq - (...)) - f
    return torch.sub(dk.mul_(c64("LN2_HI_F64", x)), t, out=t)  # dk * ln2_hi - (...)


def log_f64(x: Tensor) -> Tensor:
    """``ln(x)`` in float64, within 1 ulp, identical on every device (one op per torch call).

    The stream's float64 log (the portable engine's, bit for bit): ``x = 2^k * m`` from
    the bits (subnormals normalised), ``m`` folded into [sqrt(2)/2, sqrt(2)),
    ``s = f / (2 + f)`` with ``f = m - 1``, a degree-7 polynomial in ``s^2``.
    ``log(0) = -inf``, ``log(inf) = inf``, negative or NaN arguments give NaN.
    """
    x = x.to(torch.float64)
    b = x.view(torch.int64)
    e = (b >> 52) & 0x7FF
    frac = b & ((1 << 52) - 1)
    n = bit_length(frac, 52)  # subnormals: move the fraction's leading bit to bit 52
    sub = e == 0
    frac_sub = (frac << torch.clamp(53 - n, 0, 63)) & ((1 << 52) - 1)
    y = log_parts_f64(torch.where(sub, n - 1075, e - 1023), torch.where(sub, frac_sub, frac))
    # special values in place (y is a fresh tensor; a fresh large tensor costs page faults)
    y.masked_fill_(x == 0.0, float("-inf"))
    y.masked_fill_(x == float("inf"), float("inf"))
    return y.masked_fill_((x < 0.0) | torch.isnan(x), float("nan"))


_EXP_C = [f64(f"EXP_C{i}_F64") for i in range(13)]


def exp_f64(x: Tensor, subnormal: bool = False) -> Tensor:
    """``e^x`` in float64, within 2 ulp, identical on every device (no FMA: one op per torch call).

    ``k = round(x / ln 2)`` (ties to even), ``r = (x - k*LN2_HI) - k*LN2_LO``, ``e^r`` by a
    degree-12 polynomial (Horner, each step ``p*r`` then ``+ c``), scaled by ``2^k`` built
    from bits as two factors.  Arguments above 709 give ``inf``, below -708 ``0``; with
    ``subnormal`` (stream version 2) only below -746: between, both factors of ``2^k`` are
    normal and the last product rounds once into the subnormal range (gradual underflow).
    """
    x = x.to(torch.float64)
    low = f64("EXP_MIN_V2_F64") if subnormal else -708.0
    big, small = x > 709.0, x < low
    xc = x.clamp(low, 709.0)
    k = torch.round(xc * f64("INV_LN2_F64"))
    r = (xc - k * f64("LN2_HI_F64")).sub_(k * f64("LN2_LO_F64"))
    p = torch.full_like(r, _EXP_C[12])
    for c in reversed(_EXP_C[:12]):
        p.mul_(r).add_(c)  # in place: the same two roundings as p * r + c, half the time
    ki = k.to(torch.int64)
    # 2^k as two factors so that k = 1024 (x near 709.78) stays finite where it should
    half = ki // 2
    s1 = ((half + 1023) << 52).view(torch.float64)
    s2 = ((ki - half + 1023) << 52).view(torch.float64)
    y = p.mul_(s1).mul_(s2)
    y = torch.where(big, torch.full_like(y, float("inf")), y)
    return torch.where(small, torch.zeros_like(y), y)


def neg_log1m_f64(p: Tensor) -> Tensor:
    """``-ln(1 - p)`` in float64 for 0 <= p < 1, accurate for small ``p`` (Goldberg's form,
    with the stream's log): ``u = 1 - p``, then ``(ln(u) * p) / (u - 1)``, ``p`` itself where
    ``u`` rounds to 1."""
    p = p.to(torch.float64)
    u = 1.0 - p
    exact = u == 1.0
    return torch.where(exact, p, (log_f64(torch.where(exact, 0.5, u)) * p) / torch.where(exact, -0.5, u - 1.0))


def log1p_f64(t: Tensor) -> Tensor:
    """``ln(1 + t)`` in float64 for ``t > -1``, accurate for small ``t`` (Goldberg's form, as
    :func:`neg_log1m_f64`): ``u = 1 + t``, then ``(ln(u) * t) / (u - 1)``, ``t`` where ``u``
    rounds to 1."""
    u = 1.0 + t
    exact = u == 1.0
    return torch.where(exact, t, (log_f64(torch.where(exact, 2.0, u)) * t) / torch.where(exact, 1.0, u - 1.0))


def stirling_series_f64(x: Tensor) -> Tensor:
    """Stirling's correction ``r (1/12 - r^2 (1/360 - r^2 / 1260))``, ``r = 1 / x``."""
    r = 1.0 / x
    r2 = r * r
    return r * (c64("INV_12_F64", x) - r2 * (c64("INV_360_F64", x) - r2 * c64("INV_1260_F64", x)))


def log_factorial_diff_f64(i: Tensor, j: Tensor) -> Tensor:
    """``ln i! - ln j!`` for whole ``i, j >= 0`` without the cancellation of two large logs
    (stream version 2): ``lf(i) - lf(j)`` where either is at most 18, else with ``x = i + 1``,
    ``y = j + 1``, ``d = x - y`` (exact), ``((x - 1/2) ln(1 + d/y) + d (ln y - 1)) +
    (S(x) - S(y))``, ``S`` Stirling's correction: exact to rounding for counts near 2^53."""
    small = (i <= EXACT_FACTORIALS) | (j <= EXACT_FACTORIALS)
    x, y = torch.where(small, 20.0, i + 1.0), torch.where(small, 20.0, j + 1.0)
    d = x - y
    big = ((x - c64("HALF_F64", x)) * log1p_f64(d / y) + d * (log_f64(y) - c64("ONE_F64", x))) + (
        stirling_series_f64(x) - stirling_series_f64(y))
    return torch.where(small, log_factorial_f64(i) - log_factorial_f64(j), big)


#: Below this, ``ln k!`` is the log of the exact product ``k!`` (18! < 2^53).
EXACT_FACTORIALS = 18


def log_factorial_f64(k: Tensor) -> Tensor:
    """``ln k!`` in float64 for whole numbers ``k >= 0`` (a float64 tensor), the same on every
    device: ``ln`` of the exact product ``k!`` for ``k <= 18``; above, Stirling's series at
    ``x = k + 1``: ``(((x - 1/2) ln x - x) + ln sqrt(2 pi)) + r (1/12 - r^2 (1/360 - r^2 / 1260))``
    with ``r = 1 / x`` (error below 1e-12), each step one IEEE operation in that order."""
    k = k.to(torch.float64)
    small = k <= EXACT_FACTORIALS
    fact = torch.ones_like(k)
    for i in range(2, EXACT_FACTORIALS + 1):
        fact = torch.where(k >= i, fact * i, fact)  # exact: every partial product is below 2^53
    x = torch.where(small, 20.0, k + 1.0)
    r = 1.0 / x
    r2 = r * r
    series = r * (c64("INV_12_F64", k) - r2 * (c64("INV_360_F64", k) - r2 * c64("INV_1260_F64", k)))
    stirling = (((x - c64("HALF_F64", k)) * log_f64(x) - x) + c64("HALF_LN_2PI_F64", k)) + series
    return torch.where(small, log_f64(fact), stirling)


# --------------------------------------------------------- deterministic sin / cos
def _rotate(sa: Tensor, ca: Tensor, q: Tensor, flip) -> tuple[Tensor, Tensor]:  # type: ignore[no-untyped-def]
    even = (q & 1) == 0
    cos_t = flip(torch.where(even, ca, sa), (q == 1) | (q == 2))
    sin_t = flip(torch.where(even, sa, ca), q >= 2)
    return cos_t, sin_t


def sincos_f32(w: Tensor) -> tuple[Tensor, Tensor]:
    t = (w + (1 << 29)) & _M32
    q = t >> 30
    rr = 2 * (((t & 0x3FFFFFFF) >> 6) - (1 << 23)) + 1
    a = rr.to(torch.float32) * c32("ANGLE_UNIT_F32", rr)
    z = a * a
    p = c32("SIN_S3_F32", a)
    for name in ("SIN_S2_F32", "SIN_S1_F32"):
        p = c32(name, a) + z * p
    sa = a + (a * z) * p
    c = c32("COS_C4_F32", a)
    for name in ("COS_C3_F32", "COS_C2_F32", "COS_C1_F32"):
        c = c32(name, a) + z * c
    ca = c32("ONE_F32", a) + z * c
    return _rotate(sa, ca, q, _flip_f32)


def sincos_f64(xh: Tensor, xl: Tensor) -> tuple[Tensor, Tensor]:
    th = (xh + (1 << 29)) & _M32  # t = x + 2^61 (mod 2^64), high word
    q = th >> 30
    rr = 2 * (((((th & 0x3FFFFFFF) << 32) | xl) >> 9) - (1 << 52)) + 1
    a = rr.to(torch.float64) * c64("ANGLE_UNIT_F64", rr)
    z = a * a
    p = c64("SIN_S6_F64", a)
    for name in ("SIN_S5_F64", "SIN_S4_F64", "SIN_S3_F64", "SIN_S2_F64", "SIN_S1_F64"):
        p = c64(name, a) + z * p
    sa = a + (a * z) * p
    c = c64("COS_C7_F64", a)
    for name in ("COS_C6_F64", "COS_C5_F64", "COS_C4_F64", "COS_C3_F64", "COS_C2_F64", "COS_C1_F64"):
        c = c64(name, a) + z * c
    ca = c64("ONE_F64", a) + z * c
    return _rotate(sa, ca, q, _flip_f64)


def dropout_noise(keep: Tensor, p: float) -> Tensor:
    """torch's dropout noise from a 0/1 ``keep`` tensor in the input's dtype: ``keep / (1 - p)``,
    the one division torch makes (in the dtype's op math), in place (but under torch.compile,
    whose functionalisation refuses to trace an in-place change of a draw operator's result:
    the same division into a new tensor)."""
    return keep.div(1.0 - p) if _compiling() else keep.div_(1.0 - p)


def _compiling() -> bool:
    return "torch._dynamo" in sys.modules and torch.compiler.is_compiling()


def alpha_dropout_noise(keep: Tensor, p: float) -> tuple[Tensor, Tensor]:
    """torch's alpha-dropout ``(noise, shift)`` from a 0/1 ``keep`` tensor (output = x * noise +
    shift): a dropped unit takes SELU's negative saturation, ``a`` and ``b`` keep the mean and
    variance, with torch's operations in torch's order (``keep`` is scaled in place)."""
    neg = f64("SELU_NEG_F64")
    a = 1.0 / math.sqrt((neg * neg * p + 1.0) * (1.0 - p))
    if _compiling():  # (out of place: NOTE in dropout_noise)
        return keep.mul(a), keep.add(-1.0).mul(neg * a).add(neg * a * p)
    shift = keep.add(-1.0).mul_(neg * a).add_(neg * a * p)
    return keep.mul_(a), shift


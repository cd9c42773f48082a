"""The stream's own arithmetic in numpy (docs/spec.md sections 5 and 6): the reference forms.

The reference engine computes every draw with these, and ``keystream.data`` computes its
host-side augmentation parameters with them: the stream's log, sin/cos and bit length,
exp, each IEEE operation rounded on its own, constants from the one table.  The torch forms
(``torch_forms``) compute the same bits on any device.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._constants import f32, f64, u32, u64
from .xp import namespace

__all__ = ["bit_length", "c32", "c64", "exp_f64", "log_f64", "log_normalisation_f32", "neg_log_f32", "neg_log_f64",
           "sincos_f32", "sincos_f64"]

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
_u = np.uint64


# ------------------------------------------------------------------ float helpers
def _flip_f32(x: npt.NDArray[np.float32], flip: npt.NDArray[np.bool_]) -> npt.NDArray[np.float32]:
    """Negate where ``flip`` by flipping the sign bit (never ``0 - x``)."""
    xp = namespace(x)
    bits = x.view(np.uint32) ^ xp.where(flip, np.uint32(0x80000000), np.uint32(0))
    return bits.astype(np.uint32).view(np.float32)


def _flip_f64(x: npt.NDArray[np.float64], flip: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    xp = namespace(x)
    bits = x.view(np.uint64) ^ xp.where(flip, _u(0x8000000000000000), _u(0))
    return bits.astype(np.uint64).view(np.float64)


def bit_length(z: U64, width: int) -> npt.NDArray[np.int64]:
    """Number of significant bits of each ``z`` (0 for 0), by integer binary search."""
    xp = namespace(z)
    n = xp.zeros(z.shape, np.int64)
    x = z.copy()
    s = width // 2
    while s:
        high = (x >> _u(s)) != 0
        n += xp.where(high, s, 0)
        x = xp.where(high, x >> _u(s), x)
        s //= 2
    return n + (x != 0)


def c32(name: str) -> np.float32:
    """The table's float32 constant ``name``."""
    return np.float32(f32(name))


def c64(name: str) -> np.float64:
    """The table's float64 constant ``name``."""
    return np.float64(f64(name))


# ------------------------------------------------------------- deterministic log
def log_normalisation_f32(w: U32) -> tuple[U64, npt.NDArray[np.int64]]:
    """``u = (2w + 1) * 2^-33`` as ``1.mant * 2^k``: the 23 bits after the leading one of
    ``2w + 1`` (truncated), and k.  Exact integer work."""
    xp = namespace(w)
    w64 = w.astype(np.uint64)
    small = w64 < _u(1 << 23)
    # 2w+1 has at most 24 bits when w < 2^23 (exact); otherwise its top 24 bits are w's.
    z = xp.where(small, _u(2) * w64 + _u(1), w64)
    scale = xp.where(small, -33, -32)
    n = bit_length(z, 32)
    norm = (z << (_u(32) - n.astype(np.uint64))) & _u(0xFFFFFFFF)  # leading 1 at bit 31
    return (norm >> _u(8)) & _u(0x7FFFFF), n.astype(np.int64) - 1 + scale


def neg_log_f32(w: U32) -> npt.NDArray[np.float32]:
    """``-ln(u)`` in float32 with ``u = (2w + 1) * 2^-33`` (significand truncated to 24 bits).

    The reduction is exact integer work: ``u = x * 2^k`` with ``x`` built from the
    bits of ``2w + 1``; only ``log1p`` of ``f = x - 1`` is a polynomial.
    ``u`` lies in [2^-33, 1 - 2^-24], so the result lies in (0, 22.87].
    """
    xp = namespace(w)
    mant, k = log_normalisation_f32(w)
    big = mant >= _u(u32("SQRT2_MANT_F32"))  # x >= sqrt(2): use x/2, k+1 (x in [sqrt(1/2), sqrt(2)))
    x = (xp.where(big, _u(0x3F000000), _u(0x3F800000)) | mant).astype(np.uint32).view(np.float32)
    k = k + big
    f = x - c32("ONE_F32")  # exact (Sterbenz)
    s = f / (c32("TWO_F32") + f)
    z2 = s * s
    p: Any = c32("LOG_L4_F32")
    p = c32("LOG_L3_F32") + z2 * p
    p = c32("LOG_L2_F32") + z2 * p
    p = c32("LOG_L1_F32") + z2 * p
    r = z2 * p
    hfsq = (c32("HALF_F32") * f) * f
    dk = k.astype(np.float32)
    ln = dk * c32("LN2_HI_F32") - ((hfsq - (s * (hfsq + r) + dk * c32("LN2_LO_F32"))) - f)
    return _flip_f32(ln.astype(np.float32), xp.ones(ln.shape, bool))


def neg_log_f64(x: U64) -> npt.NDArray[np.float64]:
    """``-ln(u)`` in float64 with ``u = (2x + 1) * 2^-65`` (significand truncated to 53 bits)."""
    xp = namespace(x)
    small = x < _u(1 << 52)
    with np.errstate(over="ignore"):  # 2x+1 wraps where x is not small; those lanes are unused
        z = xp.where(small, _u(2) * x + _u(1), x)
    scale = xp.where(small, -65, -64)
    n = bit_length(z, 64)
    norm = z << (_u(64) - n.astype(np.uint64))
    mant = (norm >> _u(11)) & _u((1 << 52) - 1)
    ln = _log_parts_f64(n - 1 + scale, mant)
    return _flip_f64(ln, xp.ones(ln.shape, bool))


def _log_parts_f64(k: npt.NDArray[np.int64], mant: U64) -> npt.NDArray[np.float64]:
    """``ln(2^k * 1.mant)`` (mant: the 52 fraction bits), the stream's float64 log."""
    xp = namespace(mant)
    big = mant >= _u(u64("SQRT2_MANT_F64"))
    xf = (xp.where(big, _u(0x3FE0000000000000), _u(0x3FF0000000000000)) | mant).view(np.float64)
    k = k + big
    f = xf - c64("ONE_F64")
    s = f / (c64("TWO_F64") + f)
    z2 = s * s
    p: Any = c64("LOG_L7_F64")
    for name in ("LOG_L6_F64", "LOG_L5_F64", "LOG_L4_F64", "LOG_L3_F64", "LOG_L2_F64", "LOG_L1_F64"):
        p = c64(name) + z2 * p
    r = z2 * p
    hfsq = (c64("HALF_F64") * f) * f
    dk = k.astype(np.float64)
    return dk * c64("LN2_HI_F64") - ((hfsq - (s * (hfsq + r) + dk * c64("LN2_LO_F64"))) - f)


def log_f64(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``ln(y)`` for finite ``y > 0`` (subnormals included) with the stream's float64 log:
    the same polynomial and operation order as :func:`neg_log_f64`, IEEE operations only."""
    xp = namespace(y)
    bits = xp.asarray(y, dtype=np.float64).view(np.uint64)
    e = ((bits >> _u(52)) & _u(0x7FF)).astype(np.int64)
    frac = bits & _u((1 << 52) - 1)
    sub = e == 0  # subnormal: normalise the fraction's leading bit to bit 52
    n = bit_length(frac, 64)
    frac_sub = (frac << (_u(53) - n.astype(np.uint64))) & _u((1 << 52) - 1)
    k = xp.where(sub, n - 1075, e - 1023)
    return _log_parts_f64(k, xp.where(sub, frac_sub, frac))


_EXP_C = [f64(f"EXP_C{i}_F64") for i in range(13)]


def exp_f64(x: npt.NDArray[np.float64], subnormal: bool = False) -> npt.NDArray[np.float64]:
    """``e^x`` for finite float64 ``x``: the torch form's steps (``torch_forms.exp_f64``) in
    numpy. ``k = round(x / ln 2)`` (ties to even), ``r = (x - k*LN2_HI) - k*LN2_LO``, a
    degree-12 Horner polynomial, times ``2^(k//2)`` and ``2^(k - k//2)`` built from bits;
    above 709 the result is ``inf``, below -708 ``0`` (``subnormal``: below -746, the
    subnormal results of stream version 2 rounded once by the last product)."""
    xp = namespace(x)
    x = xp.asarray(x, dtype=np.float64)
    low = c64("EXP_MIN_V2_F64") if subnormal else np.float64(-708.0)
    xc = xp.clip(x, low, 709.0)
    k = xp.round(xc * np.float64(f64("INV_LN2_F64")))
    r = (xc - k * np.float64(f64("LN2_HI_F64"))) - k * np.float64(f64("LN2_LO_F64"))
    p = xp.full_like(r, _EXP_C[12])
    for c in reversed(_EXP_C[:12]):
        p = p * r + np.float64(c)
    ki = k.astype(np.int64)
    half = ki // 2
    s1 = ((half + 1023) << 52).view(np.float64)
    s2 = ((ki - half + 1023) << 52).view(np.float64)
    y = (p * s1) * s2
    return xp.where(x > 709.0, np.inf, xp.where(x < low, 0.0, y))


# --------------------------------------------------------- deterministic sin / cos
def _quadrant_rotate(sa, ca, q, flip):  # type: ignore[no-untyped-def]
    """cos and sin of ``q*pi/2 + a`` from ``sin a``, ``cos a``: pure selects and sign flips."""
    xp = namespace(sa)
    cos_t = xp.where(q % 2 == 0, ca, sa)
    sin_t = xp.where(q % 2 == 0, sa, ca)
    cos_t = flip(cos_t, (q == 1) | (q == 2))
    sin_t = flip(sin_t, (q == 2) | (q == 3))
    return cos_t, sin_t


def sincos_f32(w: U32) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """``cos`` and ``sin`` of the angle ``2*pi*w/2^32`` in float32.

    Quadrant and remainder come from the integer: ``t = w + 2^29 (mod 2^32)``,
    ``q = t >> 30``; the odd integer ``m = 2 * (((t mod 2^30) >> 6) - 2^23) + 1`` times
    ``pi * 2^-26`` is an angle ``a`` in (-pi/4, pi/4) that is never 0, so neither is
    ``sin a``: a normal is never a (signed) zero.
    """
    t = (w.astype(np.uint64) + _u(1 << 29)) & _u(0xFFFFFFFF)
    q = (t >> _u(30)).astype(np.int64)
    rr = 2 * (((t & _u(0x3FFFFFFF)) >> _u(6)).astype(np.int64) - (1 << 23)) + 1
    a = rr.astype(np.float32) * c32("ANGLE_UNIT_F32")
    z = a * a
    p: Any = c32("SIN_S3_F32")
    p = c32("SIN_S2_F32") + z * p
    p = c32("SIN_S1_F32") + z * p
    sa = a + (a * z) * p
    c: Any = c32("COS_C4_F32")
    c = c32("COS_C3_F32") + z * c
    c = c32("COS_C2_F32") + z * c
    c = c32("COS_C1_F32") + z * c
    ca = c32("ONE_F32") + z * c
    return _quadrant_rotate(sa, ca, q, _flip_f32)  # type: ignore[no-any-return]


def sincos_f64(x: U64) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``cos`` and ``sin`` of ``2*pi*x/2^64``: ``t = x + 2^61``, ``q = t >> 62``,
    ``m = 2 * (((t mod 2^62) >> 9) - 2^52) + 1``, ``a = m * pi * 2^-55``."""
    with np.errstate(over="ignore"):
        t = x + _u(1 << 61)  # wraps modulo 2^64, as intended
    q = (t >> _u(62)).astype(np.int64)
    rr = 2 * (((t & _u((1 << 62) - 1)) >> _u(9)).astype(np.int64) - (1 << 52)) + 1
    a = rr.astype(np.float64) * c64("ANGLE_UNIT_F64")
    z = a * a
    p: Any = c64("SIN_S6_F64")
    for name in ("SIN_S5_F64", "SIN_S4_F64", "SIN_S3_F64", "SIN_S2_F64", "SIN_S1_F64"):
        p = c64(name) + z * p
    sa = a + (a * z) * p
    c: Any = c64("COS_C7_F64")
    for name in ("COS_C6_F64", "COS_C5_F64", "COS_C4_F64", "COS_C3_F64", "COS_C2_F64", "COS_C1_F64"):
        c = c64(name) + z * c
    ca = c64("ONE_F64") + z * c
    return _quadrant_rotate(sa, ca, q, _flip_f64)  # type: ignore[no-any-return]

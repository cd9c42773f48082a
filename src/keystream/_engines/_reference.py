"""The reference engine: numpy, written for reading, the oracle of every test.

Every other engine must equal this one bit for bit.  It computes each output
element on its own from its flat index ``e`` (recomputing a block for each of
its elements), which is slow but leaves no room for indexing tricks.  The
steps follow docs/spec.md sections 4 to 7 in order.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from .._constants import f32, f64, u32, u64
from .._philox import philox4x32
from .._spec import PERM_KEY_BLOCKS, DrawSpec, elements_per_block, flat_strides
from ._base import Engine

__all__ = ["ReferenceEngine", "log_f64", "neg_log_f32", "neg_log_f64", "sincos_f32", "sincos_f64", "feistel_keys",
           "permute"]

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
_u = np.uint64


# --------------------------------------------------------------------------- raw words
def block_words(key: tuple[int, int], blocks: U64) -> tuple[U32, U32, U32, U32]:
    """The four words of draw blocks ``blocks``: counter ``(b lo, b hi, 0, 0)``."""
    return philox4x32(blocks & _u(0xFFFFFFFF), blocks >> _u(32), 0, 0, key[0], key[1])


def word32(spec: DrawSpec, e: U64) -> U32:
    """Element ``e`` of a 32-bit draw: word ``e % 4`` of block ``offset + e // 4``."""
    w = block_words(spec.key, _u(spec.offset) + e // _u(4))
    i = (e % _u(4)).astype(np.intp)
    return np.choose(i, w).astype(np.uint32)


def word64(spec: DrawSpec, e: U64) -> U64:
    """Element ``e`` of a 64-bit draw: ``w[2i] + 2^32 w[2i+1]``, ``i = e % 2``, block ``e // 2``."""
    w = block_words(spec.key, _u(spec.offset) + e // _u(2))
    lo = np.where(e % _u(2) == 0, w[0], w[2]).astype(np.uint64)
    hi = np.where(e % _u(2) == 0, w[1], w[3]).astype(np.uint64)
    return lo | (hi << _u(32))


# ------------------------------------------------------------------ float helpers
def _flip_f32(x: npt.NDArray[np.float32], flip: npt.NDArray[np.bool_]) -> npt.NDArray[np.float32]:
    """Negate where ``flip`` by flipping the sign bit (never ``0 - x``)."""
    bits = x.view(np.uint32) ^ np.where(flip, np.uint32(0x80000000), np.uint32(0))
    return bits.astype(np.uint32).view(np.float32)


def _flip_f64(x: npt.NDArray[np.float64], flip: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    bits = x.view(np.uint64) ^ np.where(flip, _u(0x8000000000000000), _u(0))
    return bits.astype(np.uint64).view(np.float64)


def bit_length(z: U64, width: int) -> npt.NDArray[np.int64]:
    """Number of significant bits of each ``z`` (0 for 0), by integer binary search."""
    n = np.zeros(z.shape, np.int64)
    x = z.copy()
    s = width // 2
    while s:
        high = (x >> _u(s)) != 0
        n += np.where(high, s, 0)
        x = np.where(high, x >> _u(s), x)
        s //= 2
    return n + (x != 0)


def _c32(name: str) -> np.float32:
    return np.float32(f32(name))


def _c64(name: str) -> np.float64:
    return np.float64(f64(name))


# ------------------------------------------------------------- deterministic log
def log_normalisation_f32(w: U32) -> tuple[U64, npt.NDArray[np.int64]]:
    """``u = (2w + 1) * 2^-33`` as ``1.mant * 2^k``: the 23 bits after the leading one of
    ``2w + 1`` (truncated), and k.  Exact integer work."""
    w64 = w.astype(np.uint64)
    small = w64 < _u(1 << 23)
    # 2w+1 has at most 24 bits when w < 2^23 (exact); otherwise its top 24 bits are w's.
    z = np.where(small, _u(2) * w64 + _u(1), w64)
    scale = np.where(small, -33, -32)
    n = bit_length(z, 32)
    norm = (z << (_u(32) - n.astype(np.uint64))) & _u(0xFFFFFFFF)  # leading 1 at bit 31
    return (norm >> _u(8)) & _u(0x7FFFFF), n.astype(np.int64) - 1 + scale


def neg_log_f32(w: U32) -> npt.NDArray[np.float32]:
    """``-ln(u)`` in float32 with ``u = (2w + 1) * 2^-33`` (significand truncated to 24 bits).

    The reduction is exact integer work: ``u = x * 2^k`` with ``x`` built from the
    bits of ``2w + 1``; only ``log1p`` of ``f = x - 1`` is a polynomial.
    ``u`` lies in [2^-33, 1 - 2^-24], so the result lies in (0, 22.87].
    """
    mant, k = log_normalisation_f32(w)
    big = mant >= _u(u32("SQRT2_MANT_F32"))  # x >= sqrt(2): use x/2, k+1 (x in [sqrt(1/2), sqrt(2)))
    x = (np.where(big, _u(0x3F000000), _u(0x3F800000)) | mant).astype(np.uint32).view(np.float32)
    k = k + big
    f = x - _c32("ONE_F32")  # exact (Sterbenz)
    s = f / (_c32("TWO_F32") + f)
    z2 = s * s
    p: Any = _c32("LOG_L4_F32")
    p = _c32("LOG_L3_F32") + z2 * p
    p = _c32("LOG_L2_F32") + z2 * p
    p = _c32("LOG_L1_F32") + z2 * p
    r = z2 * p
    hfsq = (_c32("HALF_F32") * f) * f
    dk = k.astype(np.float32)
    ln = dk * _c32("LN2_HI_F32") - ((hfsq - (s * (hfsq + r) + dk * _c32("LN2_LO_F32"))) - f)
    return _flip_f32(ln.astype(np.float32), np.ones(ln.shape, bool))


def neg_log_f64(x: U64) -> npt.NDArray[np.float64]:
    """``-ln(u)`` in float64 with ``u = (2x + 1) * 2^-65`` (significand truncated to 53 bits)."""
    small = x < _u(1 << 52)
    with np.errstate(over="ignore"):  # 2x+1 wraps where x is not small; those lanes are unused
        z = np.where(small, _u(2) * x + _u(1), x)
    scale = np.where(small, -65, -64)
    n = bit_length(z, 64)
    norm = z << (_u(64) - n.astype(np.uint64))
    mant = (norm >> _u(11)) & _u((1 << 52) - 1)
    ln = _log_parts_f64(n - 1 + scale, mant)
    return _flip_f64(ln, np.ones(ln.shape, bool))


def _log_parts_f64(k: npt.NDArray[np.int64], mant: U64) -> npt.NDArray[np.float64]:
    """``ln(2^k * 1.mant)`` (mant: the 52 fraction bits), the stream's float64 log."""
    big = mant >= _u(u64("SQRT2_MANT_F64"))
    xf = (np.where(big, _u(0x3FE0000000000000), _u(0x3FF0000000000000)) | mant).view(np.float64)
    k = k + big
    f = xf - _c64("ONE_F64")
    s = f / (_c64("TWO_F64") + f)
    z2 = s * s
    p: Any = _c64("LOG_L7_F64")
    for name in ("LOG_L6_F64", "LOG_L5_F64", "LOG_L4_F64", "LOG_L3_F64", "LOG_L2_F64", "LOG_L1_F64"):
        p = _c64(name) + z2 * p
    r = z2 * p
    hfsq = (_c64("HALF_F64") * f) * f
    dk = k.astype(np.float64)
    return dk * _c64("LN2_HI_F64") - ((hfsq - (s * (hfsq + r) + dk * _c64("LN2_LO_F64"))) - f)


def log_f64(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``ln(y)`` for finite ``y > 0`` (subnormals included) with the stream's float64 log:
    the same polynomial and operation order as :func:`neg_log_f64`, IEEE operations only."""
    bits = np.asarray(y, dtype=np.float64).view(np.uint64)
    e = ((bits >> _u(52)) & _u(0x7FF)).astype(np.int64)
    frac = bits & _u((1 << 52) - 1)
    sub = e == 0  # subnormal: normalise the fraction's leading bit to bit 52
    n = bit_length(frac, 64)
    frac_sub = (frac << (_u(53) - n.astype(np.uint64))) & _u((1 << 52) - 1)
    k = np.where(sub, n - 1075, e - 1023)
    return _log_parts_f64(k, np.where(sub, frac_sub, frac))


# --------------------------------------------------------- deterministic sin / cos
def _quadrant_rotate(sa, ca, q, flip):  # type: ignore[no-untyped-def]
    """cos and sin of ``q*pi/2 + a`` from ``sin a``, ``cos a``: pure selects and sign flips."""
    cos_t = np.where(q % 2 == 0, ca, sa)
    sin_t = np.where(q % 2 == 0, sa, ca)
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
    a = rr.astype(np.float32) * _c32("ANGLE_UNIT_F32")
    z = a * a
    p: Any = _c32("SIN_S3_F32")
    p = _c32("SIN_S2_F32") + z * p
    p = _c32("SIN_S1_F32") + z * p
    sa = a + (a * z) * p
    c: Any = _c32("COS_C4_F32")
    c = _c32("COS_C3_F32") + z * c
    c = _c32("COS_C2_F32") + z * c
    c = _c32("COS_C1_F32") + z * c
    ca = _c32("ONE_F32") + z * c
    return _quadrant_rotate(sa, ca, q, _flip_f32)  # type: ignore[no-any-return]


def sincos_f64(x: U64) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``cos`` and ``sin`` of ``2*pi*x/2^64``: ``t = x + 2^61``, ``q = t >> 62``,
    ``m = 2 * (((t mod 2^62) >> 9) - 2^52) + 1``, ``a = m * pi * 2^-55``."""
    with np.errstate(over="ignore"):
        t = x + _u(1 << 61)  # wraps modulo 2^64, as intended
    q = (t >> _u(62)).astype(np.int64)
    rr = 2 * (((t & _u((1 << 62) - 1)) >> _u(9)).astype(np.int64) - (1 << 52)) + 1
    a = rr.astype(np.float64) * _c64("ANGLE_UNIT_F64")
    z = a * a
    p: Any = _c64("SIN_S6_F64")
    for name in ("SIN_S5_F64", "SIN_S4_F64", "SIN_S3_F64", "SIN_S2_F64", "SIN_S1_F64"):
        p = _c64(name) + z * p
    sa = a + (a * z) * p
    c: Any = _c64("COS_C7_F64")
    for name in ("COS_C6_F64", "COS_C5_F64", "COS_C4_F64", "COS_C3_F64", "COS_C2_F64", "COS_C1_F64"):
        c = _c64(name) + z * c
    ca = _c64("ONE_F64") + z * c
    return _quadrant_rotate(sa, ca, q, _flip_f64)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- distributions
def _round_bf16(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Round float32 to the nearest bfloat16 (ties to even), kept in float32 storage."""
    b = x.view(np.uint32).astype(np.uint64)
    rounded = (b + _u(0x7FFF) + ((b >> _u(16)) & _u(1))) & _u(0xFFFF0000)
    rounded = np.where(np.isnan(x), b | _u(0x00400000), rounded)  # keep NaN a (quiet) NaN
    return rounded.astype(np.uint32).view(np.float32)


def _round_to(x: npt.NDArray[np.float32], dtype: torch.dtype) -> npt.NDArray[np.float32]:
    """Round float32 values to ``dtype`` (ties to even); identity for float32."""
    if dtype == torch.float16:
        return x.astype(np.float16).astype(np.float32)
    if dtype == torch.bfloat16:
        return _round_bf16(x)
    return x


def uniform01(spec: DrawSpec, e: U64) -> npt.NDArray[np.floating]:
    """The exact [0, 1) value of element ``e`` (float64 storage for float64, else float32)."""
    if spec.dtype == torch.float64:
        return (word64(spec, e) >> _u(11)).astype(np.float64) * _c64("TWO_M53_F64")
    w = word32(spec, e)
    drop, unit = {torch.float32: (8, "TWO_M24_F32"), torch.float16: (21, "TWO_M11_F32"),
                  torch.bfloat16: (24, "TWO_M8_F32")}[spec.dtype]
    return (w >> np.uint32(drop)).astype(np.float32) * _c32(unit)


def uniform(spec: DrawSpec, e: U64) -> np.ndarray:
    """``x = low + span*u`` with each operation rounded to the output dtype; ``x >= high`` becomes
    ``below`` (the largest value of the dtype below ``high``), so ``high`` is never returned."""
    low, span, high, below = spec.params
    u = uniform01(spec, e)
    if spec.dtype == torch.float64:
        y = np.float64(low) + np.float64(span) * u
        return np.where(y >= np.float64(high), np.float64(below), y)
    t = _round_to(np.float32(span) * u, spec.dtype)
    x = _round_to(np.float32(low) + t, spec.dtype)
    return np.where(x >= np.float32(high), np.float32(below), x)


def standard_normal(spec: DrawSpec, e: U64) -> np.ndarray:
    """Box-Muller: radius from the first word (pair), angle from the second; cos then sin."""
    if spec.dtype == torch.float64:
        j, i = e // _u(2), e % _u(2)
        w = block_words(spec.key, _u(spec.offset) + j)
        xa = w[0].astype(np.uint64) | (w[1].astype(np.uint64) << _u(32))
        xb = w[2].astype(np.uint64) | (w[3].astype(np.uint64) << _u(32))
        r64 = np.sqrt(_c64("TWO_F64") * neg_log_f64(xa))
        c64, s64 = sincos_f64(xb)
        return r64 * np.where(i == 0, c64, s64)
    j, p = e // _u(4), e % _u(4)
    w = block_words(spec.key, _u(spec.offset) + j)
    wr = np.where(p < 2, w[0], w[2]).astype(np.uint32)  # pair (w0, w1) -> elements 4j, 4j+1
    wa = np.where(p < 2, w[1], w[3]).astype(np.uint32)
    r = np.sqrt(_c32("TWO_F32") * neg_log_f32(wr))
    c, s = sincos_f32(wa)
    return r * np.where(p % _u(2) == 0, c, s)


def normal(spec: DrawSpec, e: U64) -> np.ndarray:
    """``x = mean + std*z`` in the compute dtype (float64 for float64, else float32), then rounded
    once to the output dtype."""
    mean, std = spec.params
    z = standard_normal(spec, e)
    if spec.dtype == torch.float64:
        return np.float64(mean) + np.float64(std) * z
    return _round_to(np.float32(mean) + np.float32(std) * z, spec.dtype)


def exponential(spec: DrawSpec, e: U64) -> np.ndarray:
    """``x = (-ln u) / lambd`` in the compute dtype, then rounded once to the output dtype."""
    (lambd,) = spec.params
    if spec.dtype == torch.float64:
        return neg_log_f64(word64(spec, e)) / np.float64(lambd)
    return _round_to(neg_log_f32(word32(spec, e)) / np.float32(lambd), spec.dtype)


def _mulhi64(x: U64, span: int) -> U64:
    """``floor(x * span / 2^64)`` for ``span`` in [1, 2^64], from 32-bit limb products."""
    if span == 1 << 64:
        return x
    m = _u(0xFFFFFFFF)
    xl, xh = x & m, x >> _u(32)
    rl, rh = _u(span & 0xFFFFFFFF), _u(span >> 32)
    ll, lh, hl, hh = xl * rl, xl * rh, xh * rl, xh * rh
    mid = (ll >> _u(32)) + (lh & m) + (hl & m)  # < 3 * 2^32, no overflow
    return hh + (lh >> _u(32)) + (hl >> _u(32)) + (mid >> _u(32))


def randint(spec: DrawSpec, e: U64) -> np.ndarray:
    """``low + floor(x * span / 2^64)`` with ``x`` the element's 64-bit word (computed mod 2^64)."""
    low, span = spec.params
    with np.errstate(over="ignore"):  # addition modulo 2^64 is the definition
        v = _mulhi64(word64(spec, e), span) + _u(low % (1 << 64))
    return v.view(np.int64)


def bernoulli(spec: DrawSpec, e: U64) -> np.ndarray:
    """1 where the element's word is below ``threshold = ceil(p * 2^32)``, else 0."""
    (threshold,) = spec.params
    return word32(spec, e).astype(np.uint64) < _u(threshold)


def _fmix32(v: U64) -> U64:
    m = _u(0xFFFFFFFF)
    v = v ^ (v >> _u(16))
    v = (v * _u(u32("FMIX_M0"))) & m
    v = v ^ (v >> _u(13))
    v = (v * _u(u32("FMIX_M1"))) & m
    return v ^ (v >> _u(16))


def feistel_keys(key: tuple[int, int], offset: int) -> list[int]:
    """The 8 round keys: the words of blocks ``offset`` and ``offset + 1``, in order."""
    ws = block_words(key, _u(offset) + np.arange(PERM_KEY_BLOCKS, dtype=np.uint64))
    return [int(ws[i][b]) for b in range(PERM_KEY_BLOCKS) for i in range(4)]


def half_bits(n: int) -> int:
    """Half width ``h`` of the Feistel domain ``[0, 4^h)``: the smallest ``h >= 1`` with ``4^h >= n``."""
    return max(1, ((n - 1).bit_length() + 1) // 2)


def _feistel(x: U64, keys: list[int], h: int) -> U64:
    mask = _u((1 << h) - 1)
    left, right = x >> _u(h), x & mask
    for k in keys:
        left, right = right, left ^ (_fmix32(right ^ _u(k)) & mask)
    return (left << _u(h)) | right


def permute(i: U64, n: int, keys: list[int]) -> U64:
    """``pi(i)`` for a permutation of [0, n): Feistel on [0, 4^h), cycle-walking into [0, n)."""
    h = half_bits(n)
    y = _feistel(i, keys, h)
    out = y >= _u(n)
    while out.any():
        y[out] = _feistel(y[out], keys, h)
        out = y >= _u(n)
    return y


_DRAWS = {
    "uniform": uniform,
    "normal": normal,
    "exponential": exponential,
    "randint": randint,
    "bernoulli": bernoulli,
}


def region_indices(spec: DrawSpec) -> U64:
    """Flat indices ``e`` of the region's elements, in C order."""
    e = np.zeros((), np.uint64)
    for (start, stop), stride in zip(spec.region, flat_strides(spec.shape)):
        e = e[..., None] + (np.arange(stop - start, dtype=np.uint64) + _u(start)) * _u(stride)
    return e


def compute(spec: DrawSpec) -> np.ndarray:
    """The region of the draw as a numpy array (float32 storage for 16-bit floats)."""
    e = region_indices(spec)
    if spec.kind == "bits":
        k = elements_per_block(spec.kind, spec.dtype)
        return word32(spec, e) if k == 4 else word64(spec, e)
    if spec.kind == "randperm":
        (n,) = spec.params
        return permute(e, n, feistel_keys(spec.key, spec.offset)).view(np.int64)
    return _DRAWS[spec.kind](spec, e)


class ReferenceEngine(Engine):
    """The numpy oracle.  CPU tensors only; slow on purpose (one block per element)."""

    name = "reference"

    def supports(self, device: torch.device) -> bool:
        return device.type == "cpu"

    def fill(self, out: torch.Tensor, spec: DrawSpec) -> None:
        values = np.ascontiguousarray(compute(spec)).reshape(spec.out_shape)
        if spec.kind == "bits":
            src = torch.from_numpy(values.view(np.int32 if values.dtype == np.uint32 else np.int64).copy())
            out.view(src.dtype).copy_(src)
        else:
            out.copy_(torch.from_numpy(values.copy()))  # exact: values are representable in out.dtype

"""The portable engine: the reference algorithm in plain torch tensor ops.

Runs on any torch device (CPU, CUDA, MPS, ...) and is the fallback wherever no
faster engine exists.  Words are held in int64 tensors (values in [0, 2^32)),
so nothing relies on unsigned tensor support, and every 32x32-bit product is
split into 16-bit halves so that no intermediate overflows int64.

Work is done per *block*: the blocks the region touches are computed once each
(``torch.unique`` of ``e // k`` for a scattered region), then elements are
gathered.  Float arithmetic is one torch op per IEEE operation, so every
operation is rounded on its own (no fused multiply-add).
"""
from __future__ import annotations

import torch

from .._constants import f32, f64, u32, u64
from .._spec import PERM_KEY_BLOCKS, DrawSpec, elements_per_block, flat_strides
from ._base import Engine

__all__ = ["PortableEngine"]

_M32 = 0xFFFFFFFF
Tensor = torch.Tensor


def _mulhilo(a: Tensor, m: int) -> tuple[Tensor, Tensor]:
    """``(a * m) >> 32`` and ``(a * m) & 0xFFFFFFFF`` for ``a`` in [0, 2^32) and a constant ``m``."""
    big = a * (m >> 16)  # < 2^48
    small = a * (m & 0xFFFF)  # < 2^48
    mid = big + (small >> 16)  # a*m = mid*2^16 + (small & 0xFFFF)
    return mid >> 16, ((mid & 0xFFFF) << 16) | (small & 0xFFFF)


def _mullo(a: Tensor, m: int) -> Tensor:
    return _mulhilo(a, m)[1]


def philox(c0: Tensor, c1: Tensor, key: tuple[int, int], c2: Tensor | None = None,
           c3: Tensor | None = None, rounds: int = u32("PHILOX_ROUNDS")) -> list[Tensor]:
    """Philox4x32-R on counters ``(c0, c1, c2, c3)`` (c2, c3 default 0); words as int64 tensors."""
    m0, m1, w0, w1 = u32("PHILOX_M0"), u32("PHILOX_M1"), u32("PHILOX_W0"), u32("PHILOX_W1")
    zero = torch.zeros_like(c0)
    x0, x1 = c0, c1
    x2 = zero if c2 is None else c2
    x3 = zero if c3 is None else c3
    for r in range(rounds):
        k0, k1 = (key[0] + r * w0) & _M32, (key[1] + r * w1) & _M32
        hi0, lo0 = _mulhilo(x0, m0)
        hi1, lo1 = _mulhilo(x2, m1)
        x0, x1, x2, x3 = hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0
    return [x0, x1, x2, x3]


def block_words(spec: DrawSpec, rel: Tensor) -> list[Tensor]:
    """Words of blocks ``offset + rel`` (``rel`` int64 >= 0), with a 64-bit carry."""
    off_lo, off_hi = spec.offset & _M32, spec.offset >> 32
    lo = (rel & _M32) + off_lo
    hi = ((rel >> 32) + off_hi + (lo >> 32)) & _M32
    return philox(lo & _M32, hi, spec.key)


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


def _bit_length(z: Tensor, width: int) -> Tensor:
    """Significant bits of each ``z`` (int64, 0 <= z < 2^width, width <= 53).

    Read from the exponent of z's float64 conversion, which is exact below 2^53 (so no
    rounding can carry into the next power of two): 3 torch ops instead of a binary
    search's 25.  Devices without float64 (MPS) take the binary search.
    """
    if width > 53:
        raise ValueError(f"_bit_length: width must be at most 53, got {width}")
    if z.device.type == "mps":
        return _bit_length_search(z, width)
    return ((z.to(torch.float64).view(torch.int64) >> 52) - 1022).clamp_(min=0)


def _bit_length_search(z: Tensor, width: int) -> Tensor:
    """_bit_length by binary search on the integers (no floating point)."""
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
    c = _c64("SPLIT_F64", y) * y
    hi = c - (c - y)
    lo = y - hi
    return p, ((hi * hi - p) + (hi * lo + hi * lo)) + lo * lo


def _above_midpoint(x: Tensor, y: Tensor, nxt: Tensor) -> Tensor:
    """Exactly: is ``x > ((y + nxt) / 2)^2`` for neighbouring doubles ``y < nxt``?"""
    h = (nxt - y) * _c64("HALF_F64", y)  # a power of two: every product below is exact
    p, e = _exact_square(y)
    a = x - p  # exact (Sterbenz)
    b = (y * h) * _c64("TWO_F64", y)
    s = a - b  # (s, t): Knuth's TwoSum, s + t == a - b exactly
    bb = s - a
    t = (a - (s - bb)) - (b + bb)
    # x - mid^2 = s + (t - e) - h^2 and the h^2 term is finer than all others, so the
    # sign of the rounded s + (t - e) decides (a zero means x < mid^2).
    return (s + (t - e)) > 0


def sqrt_f64(x: Tensor) -> Tensor:
    y = torch.sqrt(x)  # within one ulp
    inf = torch.tensor(float("inf"), dtype=torch.float64, device=x.device)
    up = torch.nextafter(y, inf)
    y = torch.where(_above_midpoint(x, y, up), up, y)
    down = torch.nextafter(y, -inf)
    return torch.where(_above_midpoint(x, down, y), y, down)


# ------------------------------------------------------------- deterministic log
def _c32(name: str, like: Tensor) -> Tensor:
    return torch.tensor(f32(name), dtype=torch.float32, device=like.device)


def _c64(name: str, like: Tensor) -> Tensor:
    return torch.tensor(f64(name), dtype=torch.float64, device=like.device)


def neg_log_f32(w: Tensor) -> Tensor:
    """``-ln((2w+1) * 2^-33)`` in float32: see the reference engine for the derivation."""
    small = w < (1 << 23)
    z = torch.where(small, 2 * w + 1, w)
    n = _bit_length(z, 32)
    mant = _top_bits(z, n, 24) & 0x7FFFFF
    k = n - 1 + torch.where(small, -33, -32)
    big = mant >= u32("SQRT2_MANT_F32")
    x = _to_f32(torch.where(big, 0x3F000000, 0x3F800000) | mant)
    k = k + big.to(torch.int64)
    f = x - _c32("ONE_F32", x)
    s = f / (_c32("TWO_F32", x) + f)
    z2 = s * s
    p = _c32("LOG_L4_F32", x)
    for name in ("LOG_L3_F32", "LOG_L2_F32", "LOG_L1_F32"):
        p = _c32(name, x) + z2 * p
    r = z2 * p
    hfsq = (_c32("HALF_F32", x) * f) * f
    dk = k.to(torch.float32)
    ln = dk * _c32("LN2_HI_F32", x) - ((hfsq - (s * (hfsq + r) + dk * _c32("LN2_LO_F32", x))) - f)
    return _flip_f32(ln)


def neg_log_f64(xh: Tensor, xl: Tensor) -> Tensor:
    """``-ln((2x+1) * 2^-65)`` in float64, ``x = xh * 2^32 + xl``."""
    small = xh < (1 << 20)  # x < 2^52: 2x+1 fits 53 bits exactly
    zs = ((xh << 32) | xl) * 2 + 1  # only used where small (no overflow there)
    ns = _bit_length(torch.where(small, zs, 0), 53)
    top_s = zs << (53 - ns).clamp(min=0)
    nb = 32 + _bit_length(xh, 32)  # x >= 2^52: its own top 53 bits, n in [53, 64]
    d = (nb - 53).clamp(min=0, max=11)
    top_b = (xh << (32 - d)) | (xl >> d)
    mant = torch.where(small, top_s, top_b) & ((1 << 52) - 1)
    return _flip_f64(log_parts_f64(torch.where(small, ns - 66, nb - 65), mant))


def log_parts_f64(k: Tensor, mant: Tensor) -> Tensor:
    """``ln(2^k * 1.mant)`` (mant: the 52 fraction bits as int64), the stream's float64 log;
    also ``keystream._detmath.log``."""
    big = mant >= u64("SQRT2_MANT_F64")
    x = torch.where(big, 0x3FE0000000000000, 0x3FF0000000000000).bitwise_or_(mant).view(torch.float64)
    dk = (k + big.to(torch.int64)).to(torch.float64)
    # The same operations and roundings as the reference, mostly in place: a fresh
    # large tensor costs more in page faults than the arithmetic (measured on CPU).
    # Each in-place step computes exactly the out-of-place expression named beside it.
    f = x.sub_(_c64("ONE_F64", x))  # f = x - 1
    s = f + _c64("TWO_F64", x)
    s = torch.div(f, s, out=s)  # s = f / (2 + f)
    z2 = s * s
    p = _c64("LOG_L7_F64", x).expand_as(z2).clone()
    for name in ("LOG_L6_F64", "LOG_L5_F64", "LOG_L4_F64", "LOG_L3_F64", "LOG_L2_F64", "LOG_L1_F64"):
        p.mul_(z2).add_(_c64(name, x))  # c + z2 * p
    r = p.mul_(z2)  # r = z2 * p
    hfsq = (f * _c64("HALF_F64", x)).mul_(f)  # hfsq = (0.5 * f) * f
    t = r.add_(hfsq).mul_(s)  # s * (hfsq + r)
    t.add_(dk * _c64("LN2_LO_F64", x))  # s * (hfsq + r) + dk * ln2_lo
    t = torch.sub(hfsq, t, out=t).sub_(f)  # (hfsq - (...)) - f
    return torch.sub(dk.mul_(_c64("LN2_HI_F64", x)), t, out=t)  # dk * ln2_hi - (...)


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
    a = rr.to(torch.float32) * _c32("ANGLE_UNIT_F32", rr)
    z = a * a
    p = _c32("SIN_S3_F32", a)
    for name in ("SIN_S2_F32", "SIN_S1_F32"):
        p = _c32(name, a) + z * p
    sa = a + (a * z) * p
    c = _c32("COS_C4_F32", a)
    for name in ("COS_C3_F32", "COS_C2_F32", "COS_C1_F32"):
        c = _c32(name, a) + z * c
    ca = _c32("ONE_F32", a) + z * c
    return _rotate(sa, ca, q, _flip_f32)


def sincos_f64(xh: Tensor, xl: Tensor) -> tuple[Tensor, Tensor]:
    th = (xh + (1 << 29)) & _M32  # t = x + 2^61 (mod 2^64), high word
    q = th >> 30
    rr = 2 * (((((th & 0x3FFFFFFF) << 32) | xl) >> 9) - (1 << 52)) + 1
    a = rr.to(torch.float64) * _c64("ANGLE_UNIT_F64", rr)
    z = a * a
    p = _c64("SIN_S6_F64", a)
    for name in ("SIN_S5_F64", "SIN_S4_F64", "SIN_S3_F64", "SIN_S2_F64", "SIN_S1_F64"):
        p = _c64(name, a) + z * p
    sa = a + (a * z) * p
    c = _c64("COS_C7_F64", a)
    for name in ("COS_C6_F64", "COS_C5_F64", "COS_C4_F64", "COS_C3_F64", "COS_C2_F64", "COS_C1_F64"):
        c = _c64(name, a) + z * c
    ca = _c64("ONE_F64", a) + z * c
    return _rotate(sa, ca, q, _flip_f64)


# ------------------------------------------------------------------ distributions
_HALF_DROP = {torch.float32: (8, f32("TWO_M24_F32")), torch.float16: (21, f32("TWO_M11_F32")),
              torch.bfloat16: (24, f32("TWO_M8_F32"))}


def _round_to(x: Tensor, dtype: torch.dtype) -> Tensor:
    """Round float32 values to ``dtype`` (nearest even) and back; identity for float32."""
    return x if dtype == torch.float32 else x.to(dtype).to(torch.float32)


def _pairs64(w: list[Tensor]) -> tuple[Tensor, Tensor]:
    """The two 64-bit elements of a block as (hi, lo) word columns of shape [nb, 2]."""
    return torch.stack([w[1], w[3]], 1), torch.stack([w[0], w[2]], 1)


def _words32(w: list[Tensor]) -> Tensor:
    return torch.stack(w, 1)


def _block_values(spec: DrawSpec, rel: Tensor) -> Tensor:
    """Values of every element of blocks ``rel``: shape [nb, k] (float32 for 16-bit floats)."""
    w = block_words(spec, rel)
    kind, dtype = spec.kind, spec.dtype
    f64_out = dtype == torch.float64
    if kind == "bits":
        if elements_per_block(kind, dtype) == 4:
            return _words32(w)
        hi, lo = _pairs64(w)
        return (hi << 32) | lo  # int64 bit pattern of the uint64 word
    if kind == "uniform":
        low, span, high, below = spec.params
        if f64_out:
            hi, lo = _pairs64(w)
            u = ((hi << 21) | (lo >> 11)).to(torch.float64) * f64("TWO_M53_F64")
            x = torch.tensor(low, dtype=torch.float64, device=u.device) + span * u
            return torch.where(x >= high, below, x)
        drop, scale = _HALF_DROP[dtype]
        u = (_words32(w) >> drop).to(torch.float32) * scale
        t = _round_to(torch.tensor(span, dtype=torch.float32, device=u.device) * u, dtype)
        x = _round_to(torch.tensor(low, dtype=torch.float32, device=u.device) + t, dtype)
        return torch.where(x >= high, torch.tensor(below, dtype=torch.float32, device=u.device), x)
    if kind == "normal":
        mean, std = spec.params
        if f64_out:
            r = sqrt_f64(_c64("TWO_F64", w[0]) * neg_log_f64(w[1], w[0]))
            c, s = sincos_f64(w[3], w[2])
            z = torch.stack([r * c, r * s], 1)
            ft = torch.float64
        else:
            r0 = sqrt_f32(_c32("TWO_F32", w[0]) * neg_log_f32(w[0]))
            r1 = sqrt_f32(_c32("TWO_F32", w[0]) * neg_log_f32(w[2]))
            c0, s0 = sincos_f32(w[1])
            c1, s1 = sincos_f32(w[3])
            z = torch.stack([r0 * c0, r0 * s0, r1 * c1, r1 * s1], 1)
            ft = torch.float32
        x = torch.tensor(mean, dtype=ft, device=z.device) + torch.tensor(std, dtype=ft, device=z.device) * z
        return x if f64_out else _round_to(x, dtype)
    if kind == "exponential":
        (lambd,) = spec.params
        if f64_out:
            hi, lo = _pairs64(w)
            return neg_log_f64(hi, lo) / torch.tensor(lambd, dtype=torch.float64, device=hi.device)
        e = neg_log_f32(_words32(w)) / torch.tensor(lambd, dtype=torch.float32, device=w[0].device)
        return _round_to(e, dtype)
    if kind == "randint":
        low, span = spec.params
        hi, lo = _pairs64(w)
        if span < 1 << 64:
            hi, lo = _mulhi64(hi, lo, span)
        low %= 1 << 64
        lo = lo + (low & _M32)
        hi = (hi + (low >> 32) + (lo >> 32)) & _M32
        lo = lo & _M32
        return (torch.where(hi >= 1 << 31, hi - (1 << 32), hi) << 32) | lo
    if kind == "bernoulli":
        (threshold,) = spec.params
        return _words32(w) < threshold
    raise ValueError(f"unknown draw kind {kind!r}")


def _mulhi64(xh: Tensor, xl: Tensor, span: int) -> tuple[Tensor, Tensor]:
    """``floor(x * span / 2^64)`` as (hi, lo) words, ``span < 2^64``."""
    rh, rl = span >> 32, span & _M32
    ll_hi, _ = _mulhilo(xl, rl)
    lh_hi, lh_lo = _mulhilo(xl, rh)
    hl_hi, hl_lo = _mulhilo(xh, rl)
    hh_hi, hh_lo = _mulhilo(xh, rh)
    mid = ll_hi + lh_lo + hl_lo
    lo = hh_lo + lh_hi + hl_hi + (mid >> 32)
    return hh_hi + (lo >> 32), lo & _M32


# ------------------------------------------------------------------- permutation
def _fmix32(v: Tensor) -> Tensor:
    v = v ^ (v >> 16)
    v = _mullo(v, u32("FMIX_M0"))
    v = v ^ (v >> 13)
    v = _mullo(v, u32("FMIX_M1"))
    return v ^ (v >> 16)


def feistel_keys(spec: DrawSpec, device: torch.device) -> list[int]:
    w = block_words(spec, torch.arange(PERM_KEY_BLOCKS, device=device))
    return [int(w[i][b]) for b in range(PERM_KEY_BLOCKS) for i in range(4)]


def _rounds(left: Tensor, right: Tensor, keys: list[int], mask: int) -> tuple[Tensor, Tensor]:
    for k in keys:
        left, right = right, left ^ (_fmix32(right ^ k) & mask)
    return left, right


def permute(i: Tensor, n: int, keys: list[int]) -> Tensor:
    """``pi(i)`` for int64 indices ``i`` in [0, n), n <= 2^63: Feistel on [0, 4^h) held as
    two h-bit halves (so h = 32 needs no uint64), cycle-walking until the value is < n."""
    h = max(1, ((n - 1).bit_length() + 1) // 2)
    mask = (1 << h) - 1
    last_hi, last_lo = (n - 1) >> h, (n - 1) & mask

    def outside(left: Tensor, right: Tensor) -> Tensor:
        return (left > last_hi) | ((left == last_hi) & (right > last_lo))

    left, right = _rounds(i >> h, i & mask, keys, mask)
    todo = outside(left, right).nonzero().squeeze(1)
    while todo.numel():
        lw, rw = _rounds(left[todo], right[todo], keys, mask)
        left[todo], right[todo] = lw, rw
        todo = todo[outside(lw, rw)]
    return (left << h) | right


class PortableEngine(Engine):
    """Torch tensor ops on any device: the fallback engine."""

    name = "portable"

    def supports(self, device: torch.device) -> bool:
        return device.type != "meta"

    def fill(self, out: Tensor, spec: DrawSpec) -> None:
        if spec.out_numel == 0:
            return
        dev = out.device
        if spec.kind == "randperm":
            (n,) = spec.params
            i = _region_indices(spec, dev)
            out.copy_(permute(i, n, feistel_keys(spec, dev)).reshape(spec.out_shape))
            return
        k = elements_per_block(spec.kind, spec.dtype)
        run = spec.contiguous_range()
        if run is not None:
            e0, e1 = run
            b0 = e0 // k
            rel = torch.arange(b0, (e1 - 1) // k + 1, device=dev)
            vals = _block_values(spec, rel).reshape(-1)[e0 - b0 * k : e1 - b0 * k]
        else:
            e = _region_indices(spec, dev).reshape(-1)
            blocks, pos = torch.unique(e // k, sorted=True, return_inverse=True)
            vals = _block_values(spec, blocks).reshape(-1)[pos * k + e % k]
        vals = vals.reshape(spec.out_shape)
        if spec.kind == "bits":
            out.view(torch.int32 if k == 4 else torch.int64).copy_(vals)
        else:
            out.copy_(vals)


def _region_indices(spec: DrawSpec, device: torch.device) -> Tensor:
    e = torch.zeros((), dtype=torch.int64, device=device)
    for (start, stop), stride in zip(spec.region, flat_strides(spec.shape)):
        e = e.unsqueeze(-1) + (torch.arange(stop - start, device=device) + start) * stride
    return e

"""Triton kernels of the GPU engine (see _triton.py).

This module is imported twice by ``_triton.kernels()``: once compiled for the GPU
and once for Triton's CPU interpreter (``TRITON_INTERPRET=1`` at import time),
under two module names.  Every constant is a module-level ``tl.constexpr`` made
from the one table (``_constants.TABLE``): no float literal is retyped here; the kinds
and dtype codes (``K_*``, ``D_*``) come from ``_kinds.py``.
"""
# ruff: noqa: F821  - the table's names are injected into globals() below
import triton
import triton.language as tl

from keystream._core._constants import TABLE
from keystream._core._kinds import DTYPE_CODES, DTYPE_NAMES, KERNEL_KINDS

for _name, (_kind, _bits) in TABLE.items():
    globals()[_name] = tl.constexpr(_bits)
# the kernel kinds (K_UNIFORM, ...) and float dtype codes (D_F32, ...) of the one table
for _row in KERNEL_KINDS:
    globals()[_row.constant] = tl.constexpr(_row.code)
for _dtype, _code in DTYPE_CODES.items():
    globals()[DTYPE_NAMES[_dtype]] = tl.constexpr(_code)


def launched(fn):  # type: ignore[no-untyped-def]
    """``triton.jit`` for a kernel the host launches, with none of its scalar arguments
    specialised.  On a GPU, Triton compiles an int argument equal to 1 as a constant (a
    Python int inside the kernel, on which ``.to`` fails: ``rand(1)``, an offset of 1 block
    or ``randint(0, 1)`` would not compile) and one divisible by 16 as a separate kernel.
    Keys, offsets, parameters and sizes take any value, so each such value would cost a
    compilation.  The interpreter never specialises: tests check every launched kernel's
    flags and compile the engine's launches as the launcher specialises them
    (tests/test_triton_engine.py).  Triton 3.4 and 3.5 cannot compile unspecialised
    scalars; hence ``_triton.MIN_TRITON``."""
    import inspect

    scalars = [p.name for p in inspect.signature(fn).parameters.values()
               if not p.name.endswith("_ptr") and "constexpr" not in str(p.annotation)]
    return triton.jit(do_not_specialize=scalars)(fn)


@triton.jit
def f32c(bits: tl.constexpr):
    return tl.full([], bits, tl.uint32).to(tl.float32, bitcast=True)


@triton.jit
def f64c(bits: tl.constexpr):
    return tl.full([], bits, tl.uint64).to(tl.float64, bitcast=True)


@triton.jit
def philox(c0, c1, k0, k1):
    """Philox4x32-10 on counters (c0, c1, 0, 0), uint32 tensors."""
    m0 = tl.full([], PHILOX_M0, tl.uint32)
    m1 = tl.full([], PHILOX_M1, tl.uint32)
    c2 = c0 * 0
    c3 = c0 * 0
    key0 = k0 + c2
    key1 = k1 + c2
    for _ in tl.static_range(PHILOX_ROUNDS):
        # one 32x32 -> 64-bit product for both halves (mul.wide.u32: ptxas then emits one
        # IMAD.WIDE where umulhi and * took an IMAD.HI and an IMAD)
        p0 = c0.to(tl.uint64) * m0.to(tl.uint64)
        p1 = c2.to(tl.uint64) * m1.to(tl.uint64)
        hi0 = (p0 >> 32).to(tl.uint32)
        lo0 = p0.to(tl.uint32)
        hi1 = (p1 >> 32).to(tl.uint32)
        lo1 = p1.to(tl.uint32)
        c0, c1, c2, c3 = hi1 ^ c1 ^ key0, lo1, hi0 ^ c3 ^ key1, lo0
        key0 = key0 + tl.full([], PHILOX_W0, tl.uint32)
        key1 = key1 + tl.full([], PHILOX_W1, tl.uint32)
    return c0, c1, c2, c3


@triton.jit
def float_exponent(y):
    """floor(log2(y)) of a uint64 integer 1 <= y < 2^53, read from the exponent field of
    its float64 conversion, which is exact in that range (so no rounding can carry into
    the next power of two).  Integer-only semantics: the same on every backend; on sm_90
    a few instructions where a binary search of the bit length took about 40."""
    return (y.to(tl.float64).to(tl.uint64, bitcast=True) >> 52).to(tl.int32) - 1023


@triton.jit
def flip32(x):
    return (x.to(tl.uint32, bitcast=True) ^ tl.full([], 0x80000000, tl.uint32)).to(tl.float32, bitcast=True)


@triton.jit
def flip64(x):
    return (x.to(tl.uint64, bitcast=True) ^ tl.full([], 0x8000000000000000, tl.uint64)).to(tl.float64, bitcast=True)


@triton.jit
def neg_log_f32(w):
    # The reference normalises z = 2w + 1 (w < 2^23) or z = w: `mant` is the 23 bits after
    # z's leading one, truncated, and k = (bit length of z) - 33 or - 32.  Both are read
    # from w + 0.5 as a float64 (exact: 33 bits), with no test of w: its fraction starts
    # with the bits after w's leading one, then the 1 of the half, so its top 23 bits are
    # those of 2w + 1 (the same digits) when w < 2^23 and those of w otherwise, and its
    # exponent is floor(log2 w) (or -1 at w = 0), one below 2w + 1's.  Checked against the
    # reference normalisation for every 32-bit word (tests/test_triton_engine.py).
    zb = (w.to(tl.float64) + f64c(HALF_F64)).to(tl.uint64, bitcast=True)
    mant = ((zb >> 29) & 0x7FFFFF).to(tl.uint32)
    k = (zb >> 52).to(tl.int32) - (1023 + 32)
    big = mant >= SQRT2_MANT_F32
    x = (tl.where(big, 0x3F000000, 0x3F800000).to(tl.uint32) | mant).to(tl.float32, bitcast=True)
    k = k + big.to(tl.int32)
    f = x - f32c(ONE_F32)
    s = tl.div_rn(f, f32c(TWO_F32) + f)
    z2 = s * s
    p = f32c(LOG_L4_F32)
    p = f32c(LOG_L3_F32) + z2 * p
    p = f32c(LOG_L2_F32) + z2 * p
    p = f32c(LOG_L1_F32) + z2 * p
    r = z2 * p
    hfsq = (f32c(HALF_F32) * f) * f
    dk = k.to(tl.float32)
    ln = dk * f32c(LN2_HI_F32) - ((hfsq - (s * (hfsq + r) + dk * f32c(LN2_LO_F32))) - f)
    return flip32(ln)


@triton.jit
def log_parts_f64(k, mant):
    """ln(2^k * 1.mant), mant the 52 fraction bits: the stream's float64 log (spec section 5)."""
    big = mant >= SQRT2_MANT_F64
    xf = (tl.where(big, 0x3FE0000000000000, 0x3FF0000000000000).to(tl.uint64) | mant).to(tl.float64, bitcast=True)
    k = k + big.to(tl.int32)
    f = xf - f64c(ONE_F64)
    s = f / (f64c(TWO_F64) + f)  # float64 '/' is IEEE div.rn.f64 (div_rn is float32-only)
    z2 = s * s
    p = f64c(LOG_L7_F64)
    p = f64c(LOG_L6_F64) + z2 * p
    p = f64c(LOG_L5_F64) + z2 * p
    p = f64c(LOG_L4_F64) + z2 * p
    p = f64c(LOG_L3_F64) + z2 * p
    p = f64c(LOG_L2_F64) + z2 * p
    p = f64c(LOG_L1_F64) + z2 * p
    r = z2 * p
    hfsq = (f64c(HALF_F64) * f) * f
    dk = k.to(tl.float64)
    return dk * f64c(LN2_HI_F64) - ((hfsq - (s * (hfsq + r) + dk * f64c(LN2_LO_F64))) - f)


@triton.jit
def neg_log_f64(x):
    small = x < (1 << 52)
    z = tl.where(small, x * 2 + 1, x)
    # n = bit length of z: z < 2^53 when small, else z >> 11 < 2^53 has n - 11 bits
    n = float_exponent(tl.where(small, z, z >> 11)) + tl.where(small, 1, 12)
    norm = z << (64 - n).to(tl.uint64)
    mant = (norm >> 11) & 0xFFFFFFFFFFFFF
    k = n - 1 + tl.where(small, -65, -64)
    return flip64(log_parts_f64(k, mant))


@triton.jit
def log_f64(y):
    """ln y for a finite float64 y > 0 (_math.torch_forms.log_f64): a subnormal is first
    scaled by 2^64 (exact), which gives the fraction bits the reference's normalisation
    gives."""
    sub = y < f64c(TWO_M1022_F64)
    b = tl.where(sub, y * f64c(TWO_64_F64), y).to(tl.uint64, bitcast=True)
    k = ((b >> 52) & 0x7FF).to(tl.int32) - tl.where(sub, 1023 + 64, 1023)
    return log_parts_f64(k, b & 0xFFFFFFFFFFFFF)


@triton.jit
def exp_f64(x_in):
    """e^x, the stream's float64 exp (_math.torch_forms.exp_f64): k = round(x / ln 2) ties
    to even, r = (x - k LN2_HI) - k LN2_LO, a degree-12 Horner polynomial, 2^k as two factors."""
    x = tl.where(x_in > 709.0, 709.0, tl.where(x_in < -708.0, -708.0, x_in))
    k = (x * f64c(INV_LN2_F64) + f64c(ROUND_F64)) - f64c(ROUND_F64)  # rint: |x / ln 2| < 1100
    r = (x - k * f64c(LN2_HI_F64)) - k * f64c(LN2_LO_F64)
    p = f64c(EXP_C12_F64)
    p = p * r + f64c(EXP_C11_F64)
    p = p * r + f64c(EXP_C10_F64)
    p = p * r + f64c(EXP_C9_F64)
    p = p * r + f64c(EXP_C8_F64)
    p = p * r + f64c(EXP_C7_F64)
    p = p * r + f64c(EXP_C6_F64)
    p = p * r + f64c(EXP_C5_F64)
    p = p * r + f64c(EXP_C4_F64)
    p = p * r + f64c(EXP_C3_F64)
    p = p * r + f64c(EXP_C2_F64)
    p = p * r + f64c(EXP_C1_F64)
    p = p * r + f64c(EXP_C0_F64)
    ki = k.to(tl.int64)
    half = ki >> 1  # floor(k / 2)
    s1 = ((half + 1023) << 52).to(tl.float64, bitcast=True)
    s2 = ((ki - half + 1023) << 52).to(tl.float64, bitcast=True)
    y = (p * s1) * s2
    return tl.where(x_in > 709.0, f64c(INF_F64), tl.where(x_in < -708.0, 0.0, y))


@triton.jit
def sincos_f32(w):
    t = w + (1 << 29)
    q = t >> 30
    m = (((t & 0x3FFFFFFF) >> 6).to(tl.int32) - (1 << 23)) * 2 + 1
    a = m.to(tl.float32) * f32c(ANGLE_UNIT_F32)
    z = a * a
    p = f32c(SIN_S3_F32)
    p = f32c(SIN_S2_F32) + z * p
    p = f32c(SIN_S1_F32) + z * p
    sa = a + (a * z) * p
    c = f32c(COS_C4_F32)
    c = f32c(COS_C3_F32) + z * c
    c = f32c(COS_C2_F32) + z * c
    c = f32c(COS_C1_F32) + z * c
    ca = f32c(ONE_F32) + z * c
    swap = (q & 1) != 0
    co = tl.where(swap, sa, ca)
    si = tl.where(swap, ca, sa)
    co = tl.where(((q ^ (q >> 1)) & 1) != 0, flip32(co), co)
    si = tl.where(q >= 2, flip32(si), si)
    return co, si


@triton.jit
def sincos_f64(x):
    t = x + (1 << 61)
    q = t >> 62
    m = (((t & 0x3FFFFFFFFFFFFFFF) >> 9).to(tl.int64) - (1 << 52)) * 2 + 1
    a = m.to(tl.float64) * f64c(ANGLE_UNIT_F64)
    z = a * a
    p = f64c(SIN_S6_F64)
    p = f64c(SIN_S5_F64) + z * p
    p = f64c(SIN_S4_F64) + z * p
    p = f64c(SIN_S3_F64) + z * p
    p = f64c(SIN_S2_F64) + z * p
    p = f64c(SIN_S1_F64) + z * p
    sa = a + (a * z) * p
    c = f64c(COS_C7_F64)
    c = f64c(COS_C6_F64) + z * c
    c = f64c(COS_C5_F64) + z * c
    c = f64c(COS_C4_F64) + z * c
    c = f64c(COS_C3_F64) + z * c
    c = f64c(COS_C2_F64) + z * c
    c = f64c(COS_C1_F64) + z * c
    ca = f64c(ONE_F64) + z * c
    swap = (q & 1) != 0
    co = tl.where(swap, sa, ca)
    si = tl.where(swap, ca, sa)
    co = tl.where(((q ^ (q >> 1)) & 1) != 0, flip64(co), co)
    si = tl.where(q >= 2, flip64(si), si)
    return co, si


@triton.jit
def round_to(x, DTYPE: tl.constexpr):
    """float32 x rounded (nearest even) to the 16-bit output dtype and back."""
    if DTYPE == D_F16:
        return x.to(tl.float16).to(tl.float32)
    elif DTYPE == D_BF16:
        return (bf16_bits(x).to(tl.uint32) << 16).to(tl.float32, bitcast=True)
    else:
        return x


@triton.jit
def as_f64(p):
    """A float64 parameter passed as its bits (an int argument of 32 or 64 bits)."""
    return p.to(tl.int64).to(tl.float64, bitcast=True)


@triton.jit
def bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even, done on the bits (the same on
    every backend; Triton's interpreter truncates in its own conversion)."""
    b = x.to(tl.uint32, bitcast=True)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).to(tl.uint16)


@triton.jit
def word64(lo, hi):
    return lo.to(tl.uint64) | (hi.to(tl.uint64) << 32)


@triton.jit
def mulhi64(x, span_lo, span_hi):
    """floor(x * span / 2^64) for uint64 x and span < 2^64, from 32-bit products."""
    xl = (x & 0xFFFFFFFF).to(tl.uint32)
    xh = (x >> 32).to(tl.uint32)
    rl = tl.full([], 0, tl.uint32) + span_lo.to(tl.uint32)
    rh = tl.full([], 0, tl.uint32) + span_hi.to(tl.uint32)
    mid = tl.umulhi(xl, rl).to(tl.uint64) + (xl * rh).to(tl.uint64) + (xh * rl).to(tl.uint64)
    low = (xh * rh).to(tl.uint64) + tl.umulhi(xl, rh).to(tl.uint64) + tl.umulhi(xh, rl).to(tl.uint64) + (mid >> 32)
    return (tl.umulhi(xh, rh).to(tl.uint64) << 32) + low


@triton.jit
def normal_values(w0, w1, w2, w3, p0, p1, DTYPE: tl.constexpr, UNIT: tl.constexpr):
    """Box-Muller normals of a block (mean p0, std p1 as bits of the compute dtype): 4, or 2
    (float64, then repeated)."""
    if DTYPE == D_F64:
        mean = as_f64(p0)
        std = as_f64(p1)
        r = tl.sqrt(f64c(TWO_F64) * neg_log_f64(word64(w0, w1)))  # float64 sqrt is sqrt.rn.f64
        c, s = sincos_f64(word64(w2, w3))
        if UNIT:
            return r * c, r * s, r * c, r * s
        za = mean + std * (r * c)
        zb = mean + std * (r * s)
        return za, zb, za, zb
    else:
        mean = p0.to(tl.uint32).to(tl.float32, bitcast=True)
        std = p1.to(tl.uint32).to(tl.float32, bitcast=True)
        ra = tl.sqrt_rn(f32c(TWO_F32) * neg_log_f32(w0))
        ca, sa = sincos_f32(w1)
        rb = tl.sqrt_rn(f32c(TWO_F32) * neg_log_f32(w2))
        cb, sb = sincos_f32(w3)
        if UNIT:
            return ra * ca, ra * sa, rb * cb, rb * sb
        return mean + std * (ra * ca), mean + std * (ra * sa), mean + std * (rb * cb), mean + std * (rb * sb)


@triton.jit
def values(w0, w1, w2, w3, p0, p1, p2, p3, KIND: tl.constexpr, DTYPE: tl.constexpr, UNIT: tl.constexpr):
    """The 4 (or 2, then repeated) element values of a block from its words.

    UNIT: the standard parameters, whose arithmetic is then skipped, bit for bit:
    uniform on [0, 1) (low = +0.0, span = high = 1.0): low + span * u is u itself (u is
    exact in the dtype, +0.0 + u = u, u < 1 = high); normal(0, 1): mean + std * y is y
    (y = r * c is never zero: r >= 2^-12 and |c| >= 2^-25 in float32, 2^-26 and 2^-54
    in float64, checked over every word in tests/test_triton_engine.py); exponential(1):
    e / 1 is e (an IEEE division by one is exact).  That is 2 to 4 instructions of about
    20 (uniform) or 60 (normal) per float32 element, and the division of about 75
    (exponential).
    """
    if KIND == K_BITS32:  # bits32
        return w0, w1, w2, w3
    elif KIND == K_BITS64:  # bits64
        a = word64(w0, w1)
        b = word64(w2, w3)
        return a, b, a, b
    elif KIND == K_UNIFORM:  # uniform: p0..p3 = bits of low, span, high, below
        if DTYPE == D_F64:
            lo = as_f64(p0)
            sp = as_f64(p1)
            hi = as_f64(p2)
            be = as_f64(p3)
            ua = (word64(w0, w1) >> 11).to(tl.float64) * f64c(TWO_M53_F64)
            ub = (word64(w2, w3) >> 11).to(tl.float64) * f64c(TWO_M53_F64)
            if UNIT:
                return ua, ub, ua, ub
            xa = lo + sp * ua
            xb = lo + sp * ub
            xa = tl.where(xa >= hi, be, xa)
            xb = tl.where(xb >= hi, be, xb)
            return xa, xb, xa, xb
        else:
            lo = p0.to(tl.uint32).to(tl.float32, bitcast=True)
            sp = p1.to(tl.uint32).to(tl.float32, bitcast=True)
            hi = p2.to(tl.uint32).to(tl.float32, bitcast=True)
            be = p3.to(tl.uint32).to(tl.float32, bitcast=True)
            if DTYPE == D_F32:
                u0 = (w0 >> 8).to(tl.float32) * f32c(TWO_M24_F32)
                u1 = (w1 >> 8).to(tl.float32) * f32c(TWO_M24_F32)
                u2 = (w2 >> 8).to(tl.float32) * f32c(TWO_M24_F32)
                u3 = (w3 >> 8).to(tl.float32) * f32c(TWO_M24_F32)
            elif DTYPE == D_F16:
                u0 = (w0 >> 21).to(tl.float32) * f32c(TWO_M11_F32)
                u1 = (w1 >> 21).to(tl.float32) * f32c(TWO_M11_F32)
                u2 = (w2 >> 21).to(tl.float32) * f32c(TWO_M11_F32)
                u3 = (w3 >> 21).to(tl.float32) * f32c(TWO_M11_F32)
            else:
                u0 = (w0 >> 24).to(tl.float32) * f32c(TWO_M8_F32)
                u1 = (w1 >> 24).to(tl.float32) * f32c(TWO_M8_F32)
                u2 = (w2 >> 24).to(tl.float32) * f32c(TWO_M8_F32)
                u3 = (w3 >> 24).to(tl.float32) * f32c(TWO_M8_F32)
            if UNIT:
                return u0, u1, u2, u3
            x0 = round_to(lo + round_to(sp * u0, DTYPE), DTYPE)
            x1 = round_to(lo + round_to(sp * u1, DTYPE), DTYPE)
            x2 = round_to(lo + round_to(sp * u2, DTYPE), DTYPE)
            x3 = round_to(lo + round_to(sp * u3, DTYPE), DTYPE)
            return (tl.where(x0 >= hi, be, x0), tl.where(x1 >= hi, be, x1),
                    tl.where(x2 >= hi, be, x2), tl.where(x3 >= hi, be, x3))
    elif KIND == K_UNIFORM_V2:  # stream version 2's 16-bit uniform: float32 on the 24-bit u, rounded once
        lo = p0.to(tl.uint32).to(tl.float32, bitcast=True)
        sp = p1.to(tl.uint32).to(tl.float32, bitcast=True)
        hi = p2.to(tl.uint32).to(tl.float32, bitcast=True)
        be = p3.to(tl.uint32).to(tl.float32, bitcast=True)
        x0 = round_to(lo + sp * ((w0 >> 8).to(tl.float32) * f32c(TWO_M24_F32)), DTYPE)
        x1 = round_to(lo + sp * ((w1 >> 8).to(tl.float32) * f32c(TWO_M24_F32)), DTYPE)
        x2 = round_to(lo + sp * ((w2 >> 8).to(tl.float32) * f32c(TWO_M24_F32)), DTYPE)
        x3 = round_to(lo + sp * ((w3 >> 8).to(tl.float32) * f32c(TWO_M24_F32)), DTYPE)
        return (tl.where(x0 >= hi, be, x0), tl.where(x1 >= hi, be, x1),
                tl.where(x2 >= hi, be, x2), tl.where(x3 >= hi, be, x3))
    elif KIND == K_NORMAL:  # normal: p0, p1 = bits of mean, std (compute dtype)
        return normal_values(w0, w1, w2, w3, p0, p1, DTYPE, UNIT)
    elif KIND == K_EXPONENTIAL:  # exponential: p0 = bits of lambd
        if DTYPE == D_F64:
            lam = as_f64(p0)
            ea = neg_log_f64(word64(w0, w1))
            eb = neg_log_f64(word64(w2, w3))
            if UNIT:
                return ea, eb, ea, eb
            ea = ea / lam
            eb = eb / lam
            return ea, eb, ea, eb
        else:
            lam = p0.to(tl.uint32).to(tl.float32, bitcast=True)
            e0, e1, e2, e3 = neg_log_f32(w0), neg_log_f32(w1), neg_log_f32(w2), neg_log_f32(w3)
            if UNIT:
                return e0, e1, e2, e3
            return tl.div_rn(e0, lam), tl.div_rn(e1, lam), tl.div_rn(e2, lam), tl.div_rn(e3, lam)
    elif KIND == K_CAUCHY:  # p0, p1 = bits of median, sigma (compute dtype)
        if DTYPE == D_F64:
            median = as_f64(p0)
            sigma = as_f64(p1)
            ca, sa = sincos_f64(word64(w0, w1))
            cb, sb = sincos_f64(word64(w2, w3))
            xa = median + sigma * (sa / ca)
            xb = median + sigma * (sb / cb)
            return xa, xb, xa, xb
        else:
            median = p0.to(tl.uint32).to(tl.float32, bitcast=True)
            sigma = p1.to(tl.uint32).to(tl.float32, bitcast=True)
            c0, s0 = sincos_f32(w0)
            c1, s1 = sincos_f32(w1)
            c2, s2 = sincos_f32(w2)
            c3, s3 = sincos_f32(w3)
            return (median + sigma * tl.div_rn(s0, c0), median + sigma * tl.div_rn(s1, c1),
                    median + sigma * tl.div_rn(s2, c2), median + sigma * tl.div_rn(s3, c3))
    elif KIND == K_LAPLACE:  # p0, p1 = bits of loc, scale (compute dtype); two words an element
        if DTYPE == D_F64:
            loc = as_f64(p0)
            scale = as_f64(p1)
            x = loc + scale * (neg_log_f64(word64(w0, w1)) - neg_log_f64(word64(w2, w3)))
            return x, x, x, x
        else:
            loc = p0.to(tl.uint32).to(tl.float32, bitcast=True)
            scale = p1.to(tl.uint32).to(tl.float32, bitcast=True)
            xa = loc + scale * (neg_log_f32(w0) - neg_log_f32(w1))
            xb = loc + scale * (neg_log_f32(w2) - neg_log_f32(w3))
            return xa, xb, xa, xb
    elif KIND == K_GUMBEL:  # p0, p1 = float64 bits of loc, scale for every dtype; float64 math
        loc = as_f64(p0)
        scale = as_f64(p1)
        ya = loc - scale * log_f64(neg_log_f64(word64(w0, w1)))
        yb = loc - scale * log_f64(neg_log_f64(word64(w2, w3)))
        if DTYPE != D_F64:
            ya = ya.to(tl.float32)
            yb = yb.to(tl.float32)
        return ya, yb, ya, yb
    elif KIND == K_LOG_NORMAL:  # p0, p1 = bits of mean, std (compute dtype): the normal, then exp in float64
        z0, z1, z2, z3 = normal_values(w0, w1, w2, w3, p0, p1, DTYPE, False)
        if DTYPE == D_F64:
            za = exp_f64(z0)
            zb = exp_f64(z1)
            return za, zb, za, zb
        else:
            return (exp_f64(z0.to(tl.float64)).to(tl.float32), exp_f64(z1.to(tl.float64)).to(tl.float32),
                    exp_f64(z2.to(tl.float64)).to(tl.float32), exp_f64(z3.to(tl.float64)).to(tl.float32))
    elif KIND == K_GEOMETRIC:  # p0 = bits of lam = -ln(1 - p) (compute dtype)
        if DTYPE == D_F64:
            lam = as_f64(p0)
            xa = tl.floor(neg_log_f64(word64(w0, w1)) / lam) + f64c(ONE_F64)
            xb = tl.floor(neg_log_f64(word64(w2, w3)) / lam) + f64c(ONE_F64)
            return xa, xb, xa, xb
        else:
            lam = p0.to(tl.uint32).to(tl.float32, bitcast=True)
            one = f32c(ONE_F32)
            return (tl.floor(tl.div_rn(neg_log_f32(w0), lam)) + one, tl.floor(tl.div_rn(neg_log_f32(w1), lam)) + one,
                    tl.floor(tl.div_rn(neg_log_f32(w2), lam)) + one, tl.floor(tl.div_rn(neg_log_f32(w3), lam)) + one)
    elif KIND == K_RANDINT:  # randint: p0 = low (mod 2^64), p1/p2 = span lo/hi words, p3 = 1 if span == 2^64
        xa = word64(w0, w1)
        xb = word64(w2, w3)
        if p3 == 0:
            xa = mulhi64(xa, p1, p2)
            xb = mulhi64(xb, p1, p2)
        low = tl.full([], 0, tl.uint64) + p0.to(tl.uint64)
        return xa + low, xb + low, xa + low, xb + low
    else:  # bernoulli: p0 = threshold in [0, 2^32]
        thr = tl.full([], 0, tl.uint64) + p0.to(tl.uint64)
        return w0.to(tl.uint64) < thr, w1.to(tl.uint64) < thr, w2.to(tl.uint64) < thr, w3.to(tl.uint64) < thr


@triton.jit
def store(ptr, v, mask, KIND: tl.constexpr, DTYPE: tl.constexpr):
    ety = ptr.dtype.element_ty
    if KIND == K_BITS32:
        tl.store(ptr, v.to(tl.int32, bitcast=True), mask=mask)
    elif KIND == K_BITS64:
        tl.store(ptr, v.to(tl.int64, bitcast=True), mask=mask)
    elif KIND == K_RANDINT:
        tl.store(ptr, v.to(tl.int64, bitcast=True).to(ety), mask=mask)
    elif KIND == K_BERNOULLI:
        if DTYPE == D_BF16:
            tl.store(ptr, tl.where(v, 0x3F80, 0).to(tl.int16), mask=mask)
        else:
            tl.store(ptr, tl.where(v, 1, 0).to(ety), mask=mask)
    elif DTYPE == D_BF16:
        tl.store(ptr, bf16_bits(v).to(tl.int16, bitcast=True), mask=mask)
    else:
        tl.store(ptr, v.to(ety), mask=mask)


@triton.jit
def block_counter(rel, off_lo, off_hi):
    """Counter words of block offset + rel (uint64 arithmetic, 64-bit carry)."""
    b = ((off_hi.to(tl.uint64) << 32) | off_lo.to(tl.uint64)) + rel.to(tl.uint64)
    return (b & 0xFFFFFFFF).to(tl.uint32), (b >> 32).to(tl.uint32)


@triton.jit
def base_counter(local, base_lo, base_hi):
    """Counter words of block base + local, base = (base_hi, base_lo) and 0 <= local < 2^31:
    a 32-bit add and its carry (the 64-bit sum of block_counter, in fewer instructions)."""
    c0 = (tl.full([], 0, tl.uint32) + base_lo.to(tl.uint32)) + local.to(tl.uint32)
    c1 = (tl.full([], 0, tl.uint32) + base_hi.to(tl.uint32)) + (c0 < base_lo.to(tl.uint32)).to(tl.uint32)
    return c0, c1


@triton.jit
def block_rows(v0, v1, v2, v3, K: tl.constexpr, BLOCK: tl.constexpr):
    """The (BLOCK, K) tile whose row i holds block i's element values in order."""
    if K == 4:  # join stacks on a new last axis: [i, a, b] = v[a + 2b], so row i is v0..v3
        return tl.reshape(tl.join(tl.join(v0, v2), tl.join(v1, v3)), (BLOCK, 4))
    else:
        return tl.join(v0, v1)


@triton.jit
def store_each(ptr, first, limit, live, v0, v1, v2, v3, KIND: tl.constexpr, DTYPE: tl.constexpr, K: tl.constexpr):
    """Store a block's K values at ptr + first + k, those with 0 <= first + k < limit (and
    live): one 1-D store per element, for blocks that do not start on an aligned row."""
    store(ptr + first, v0, live & (first >= 0) & (first < limit), KIND, DTYPE)
    if K >= 2:
        store(ptr + first + 1, v1, live & (first + 1 >= 0) & (first + 1 < limit), KIND, DTYPE)
    if K == 4:
        store(ptr + first + 2, v2, live & (first + 2 >= 0) & (first + 2 < limit), KIND, DTYPE)
        store(ptr + first + 3, v3, live & (first + 3 >= 0) & (first + 3 < limit), KIND, DTYPE)


@triton.jit
def local_end(pid, BLOCK: tl.constexpr, WIDE: tl.constexpr):
    """(pid + 1) * BLOCK, in 64 bits when WIDE (it passes 2^31 beyond 2^33 float32 elements)."""
    if WIDE:
        return (pid.to(tl.int64) + 1) * BLOCK
    else:
        return (pid + 1) * BLOCK


@triton.jit
def plus_device_base(base_ptr, lo, hi):
    """(lo, hi) + the int64 block offset at base_ptr, mod 2^64: a graph-safe draw's counter base
    (keystream.graph_safe keeps the generator's offset in a device tensor)."""
    b = tl.load(base_ptr).to(tl.uint64) + ((hi.to(tl.uint64) << 32) | lo.to(tl.uint64))
    return (b & 0xFFFFFFFF).to(tl.uint32), (b >> 32).to(tl.uint32)


@launched
def draw_contiguous(out_ptr, base_ptr, k0, k1, base_lo, base_hi, p0, p1, p2, p3, total, full_end,
                    KIND: tl.constexpr, DTYPE: tl.constexpr, UNIT: tl.constexpr, K: tl.constexpr,
                    HEAD: tl.constexpr, WIDE: tl.constexpr, DEVICE_BASE: tl.constexpr, BLOCK: tl.constexpr):
    """Elements [e0, e0 + total) of the virtual draw, e0 = K * first + HEAD: one lane per
    Philox block, whose K elements are stored as one vector (see NOTE [ vector stores ]).

    (base_hi, base_lo) is block offset + first (mod 2^64); with HEAD == 0, blocks
    [0, full_end), counted from first, lie wholly inside the range.  WIDE: 64-bit
    positions (more than 2^31 elements); otherwise 32-bit, fewer instructions per block.
    DEVICE_BASE: the int64 block offset at base_ptr is added when the kernel runs.
    """
    pid = tl.program_id(0)
    if DEVICE_BASE:
        base_lo, base_hi = plus_device_base(base_ptr, base_lo, base_hi)
    if WIDE:
        local = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
        c0, c1 = block_counter(local, base_lo, base_hi)
    else:
        local = pid * BLOCK + tl.arange(0, BLOCK)
        c0, c1 = base_counter(local, base_lo, base_hi)
    w0, w1, w2, w3 = philox(c0, c1, tl.full([], 0, tl.uint32) + k0.to(tl.uint32),
                            tl.full([], 0, tl.uint32) + k1.to(tl.uint32))
    v0, v1, v2, v3 = values(w0, w1, w2, w3, p0, p1, p2, p3, KIND, DTYPE, UNIT)
    # NOTE [ vector stores ]: when the draw starts on a block (HEAD == 0, a constexpr:
    # nearly every draw), the K values of a block are joined into one row of a (BLOCK, K)
    # tile that a thread holds in registers, at positions K * local + j.  With a 16-byte
    # aligned output (Triton specializes pointers on it) and a mask that is constant along
    # a row, Triton proves the row contiguous and aligned and emits one 8- or 16-byte store
    # per block; a partial last block is stored element by element, only by the program
    # that holds it.  The sm_90 machine code has been read (tools/gpu_sass.py): a flat
    # (4 * BLOCK,) layout compiled to a 4-byte store per element behind a shared-memory
    # shuffle (docs/benchmarks.md has the counts).
    if K == 1:  # one element a block (float64 laplace): a plain store
        store(out_ptr + local, v0, local < total, KIND, DTYPE)
    elif HEAD == 0:
        v = block_rows(v0, v1, v2, v3, K, BLOCK)
        pos = local[:, None] * K + tl.arange(0, K).to(local.dtype)[None, :]
        inner = local < full_end
        store(out_ptr + pos, v, inner[:, None], KIND, DTYPE)
        if local_end(pid, BLOCK, WIDE) > full_end:
            store(out_ptr + pos, v, (pos < total) & ~inner[:, None], KIND, DTYPE)
    else:
        # a start inside a block: no store can be a vector, and a (BLOCK, K) tile would
        # go through shared memory; one 1-D store per element of the block instead
        store_each(out_ptr, local * K - HEAD, total, local >= 0, v0, v1, v2, v3, KIND, DTYPE, K)


@launched
def draw_scattered(out_ptr, base_ptr, k0, k1, off_lo, off_hi, p0, p1, p2, p3, runs, run_len, lanes_per_run, run_off,
                   s0, n0, t0, s1, n1, t1, s2, n2, t2,
                   KIND: tl.constexpr, DTYPE: tl.constexpr, UNIT: tl.constexpr, K: tl.constexpr,
                   OUTER: tl.constexpr, WIDE: tl.constexpr, DEVICE_BASE: tl.constexpr, BLOCK: tl.constexpr):
    """A region as ``runs`` runs of ``run_len`` consecutive elements: one lane per Philox
    block of a run (so each block's values are computed once, not once per element).
    WIDE: 64-bit lane and run numbers (2^31 lanes or more); otherwise the divisions that
    find a lane's run are 32-bit, about a third of the instructions.

    Run r (= (i_0, i_1, i_2) over (n0, n1, n2), of which the last OUTER are real) starts
    at flat index e_r = run_off + sum_d (s_d + i_d) * t_d and fills output positions
    r * run_len ...; its lane b computes block e_r // K + b and stores the elements of it
    that lie in the run.
    ``lanes_per_run`` = (run_len + 2K - 2) // K covers a run at any offset in a block.
    """
    pid = tl.program_id(0)
    if DEVICE_BASE:
        off_lo, off_hi = plus_device_base(base_ptr, off_lo, off_hi)
    if WIDE:
        q = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    else:
        q = pid * BLOCK + tl.arange(0, BLOCK)
    r = q // lanes_per_run
    blk_in_run = q % lanes_per_run
    live = r < runs
    r = tl.where(live, r, 0)
    if OUTER == 1:  # the dimensions the runs step over: skip the divisions of absent ones
        i2 = r
        i1 = r * 0
        i0 = r * 0
    elif OUTER == 2:
        i2 = r % n2
        i1 = r // n2
        i0 = r * 0
    else:
        i2 = r % n2
        rr = r // n2
        i1 = rr % n1
        i0 = rr // n1
    e_start = run_off + (s0 + i0.to(tl.int64)) * t0 + (s1 + i1.to(tl.int64)) * t1 + (s2 + i2.to(tl.int64)) * t2
    blk = e_start // K + blk_in_run.to(tl.int64)
    c0, c1 = block_counter(blk, off_lo, off_hi)
    w0, w1, w2, w3 = philox(c0, c1, tl.full([], 0, tl.uint32) + k0.to(tl.uint32),
                            tl.full([], 0, tl.uint32) + k1.to(tl.uint32))
    v0, v1, v2, v3 = values(w0, w1, w2, w3, p0, p1, p2, p3, KIND, DTYPE, UNIT)
    # One store per element of the block, each a 1-D tensor in the Philox lanes' own
    # layout: the stores cannot be vectors (a run starts anywhere in a block), and a
    # (BLOCK, K) tile made Triton shuffle the values through shared memory first.
    j = blk * K - e_start  # place of the block's first element in the run
    store_each(out_ptr + r.to(tl.int64) * run_len, j, run_len, live, v0, v1, v2, v3, KIND, DTYPE, K)


@triton.jit
def fmix32(v):
    v = v ^ (v >> 16)
    v = v * tl.full([], FMIX_M0, tl.uint32)
    v = v ^ (v >> 13)
    v = v * tl.full([], FMIX_M1, tl.uint32)
    return v ^ (v >> 16)


@triton.jit
def feistel(left, right, k0, k1, k2, k3, k4, k5, k6, k7, mask):
    nl = right
    right = left ^ (fmix32(right.to(tl.uint32) ^ k0).to(tl.uint64) & mask)
    left = nl
    nl = right
    right = left ^ (fmix32(right.to(tl.uint32) ^ k1).to(tl.uint64) & mask)
    left = nl
    nl = right
    right = left ^ (fmix32(right.to(tl.uint32) ^ k2).to(tl.uint64) & mask)
    left = nl
    nl = right
    right = left ^ (fmix32(right.to(tl.uint32) ^ k3).to(tl.uint64) & mask)
    left = nl
    nl = right
    right = left ^ (fmix32(right.to(tl.uint32) ^ k4).to(tl.uint64) & mask)
    left = nl
    nl = right
    right = left ^ (fmix32(right.to(tl.uint32) ^ k5).to(tl.uint64) & mask)
    left = nl
    nl = right
    right = left ^ (fmix32(right.to(tl.uint32) ^ k6).to(tl.uint64) & mask)
    left = nl
    nl = right
    right = left ^ (fmix32(right.to(tl.uint32) ^ k7).to(tl.uint64) & mask)
    left = nl
    return left, right


@triton.jit
def add_i32(a, b):
    # tl.reduce with our own combiner: tl.sum is a library @jit function that Triton's
    # interpreter cannot call when triton was imported without TRITON_INTERPRET=1.
    # (Any dtype: the exact sums reduce float64 with it.)
    return a + b


@launched
def randperm_kernel(out_ptr, start, total, n_minus_1, h, k0, k1, k2, k3, k4, k5, k6, k7, BLOCK: tl.constexpr):
    """pi(i) for i in [start, start + total): 8-round Feistel, cycle-walked into [0, n)."""
    pid = tl.program_id(0)
    pos = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = pos < total
    i = tl.where(mask, start + pos, 0).to(tl.uint64)
    hh = h.to(tl.uint64)
    mask_h = (tl.full([], 1, tl.uint64) << hh) - 1
    last = n_minus_1.to(tl.uint64)
    kk0 = k0.to(tl.uint32)
    kk1 = k1.to(tl.uint32)
    kk2 = k2.to(tl.uint32)
    kk3 = k3.to(tl.uint32)
    kk4 = k4.to(tl.uint32)
    kk5 = k5.to(tl.uint32)
    kk6 = k6.to(tl.uint32)
    kk7 = k7.to(tl.uint32)
    left, right = feistel(i >> hh, i & mask_h, kk0, kk1, kk2, kk3, kk4, kk5, kk6, kk7, mask_h)
    out = ((left << hh) | right) > last
    todo = tl.reduce(out.to(tl.int32), 0, add_i32)
    while todo > 0:
        nl, nr = feistel(left, right, kk0, kk1, kk2, kk3, kk4, kk5, kk6, kk7, mask_h)
        left = tl.where(out, nl, left)
        right = tl.where(out, nr, right)
        out = ((left << hh) | right) > last
        todo = tl.reduce(out.to(tl.int32), 0, add_i32)
    y = (left << hh) | right
    tl.store(out_ptr + pos, y.to(tl.int64, bitcast=True).to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def uniform_f32_of(w):
    """rand's float32 value of a word: (w >> 8) * 2^-24 (exact)."""
    return (w >> 8).to(tl.float32) * f32c(TWO_M24_F32)


@triton.jit
def add_square_if(acc, w, e, e0, dims):
    """acc + u*u for the uniform u of word w when element e is one of the sample's
    [e0, e0 + dims), else acc (one IEEE multiply and add: the torch definition's steps)."""
    u = uniform_f32_of(w)
    return tl.where((e >= e0) & (e < e0 + dims), acc + u * u, acc)


@launched
def in_ball_kernel(partial_ptr, k0, k1, off_lo, off_hi, s0, count, DIMS: tl.constexpr, BLOCK: tl.constexpr):
    """montecarlo.InBall: per program, how many samples s of [s0, s0 + count) have their
    float32 uniforms (elements s*dims .. s*dims + dims - 1 of rand((n, dims))) inside the
    unit ball, ((u0*u0 + u1*u1) + u2*u2) + ... < 1 left to right; one lane per sample,
    which computes each Philox block its elements lie in once.  The sum starts from 0.0:
    0.0 + u0*u0 is u0*u0 exactly, so the roundings are the definition's.

    DIMS is a compile-time constant (one compilation per dimension), so the bound of the
    loop over the blocks a sample touches is a Python int, which Triton 3.6's interpreter
    needs (it cannot take a runtime bound as an index).  The loop stays a loop on the GPU
    (``range``, not ``static_range``): dims may be up to 4096."""
    pid = tl.program_id(0)
    rel = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = rel < count
    s = tl.where(mask, s0 + rel, 0)
    kk0 = tl.full([], 0, tl.uint32) + k0.to(tl.uint32)
    kk1 = tl.full([], 0, tl.uint32) + k1.to(tl.uint32)
    e0 = s * DIMS
    first = e0 // 4
    acc = tl.full([BLOCK], 0.0, tl.float32)  # (tl.zeros is a library function the interpreter lacks)
    for b in range((DIMS + 6) // 4):  # the most blocks DIMS elements can touch
        blk = first + b
        c0, c1 = block_counter(blk, off_lo, off_hi)
        w0, w1, w2, w3 = philox(c0, c1, kk0, kk1)
        acc = add_square_if(acc, w0, blk * 4, e0, DIMS)
        acc = add_square_if(acc, w1, blk * 4 + 1, e0, DIMS)
        acc = add_square_if(acc, w2, blk * 4 + 2, e0, DIMS)
        acc = add_square_if(acc, w3, blk * 4 + 3, e0, DIMS)
    hit = (acc < 1.0) & mask
    tl.store(partial_ptr + pid, tl.reduce(hit.to(tl.int32), 0, add_i32))


@launched
def in_ball_blocks_kernel(partial_ptr, k0, k1, off_lo, off_hi, s0, count, DIMS: tl.constexpr, BLOCK: tl.constexpr):
    """in_ball_kernel for DIMS in (1, 2, 4): one lane per Philox block, whose 4 words are
    the uniforms of 4 / DIMS whole samples (no block is computed twice)."""
    pid = tl.program_id(0)
    first = (s0 * DIMS) // 4
    rel = first + pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    c0, c1 = block_counter(rel, off_lo, off_hi)
    w0, w1, w2, w3 = philox(c0, c1, tl.full([], 0, tl.uint32) + k0.to(tl.uint32),
                            tl.full([], 0, tl.uint32) + k1.to(tl.uint32))
    u0 = uniform_f32_of(w0)
    u1 = uniform_f32_of(w1)
    u2 = uniform_f32_of(w2)
    u3 = uniform_f32_of(w3)
    q0 = u0 * u0
    q1 = u1 * u1
    q2 = u2 * u2
    q3 = u3 * u3
    s = rel * (4 // DIMS)  # the block's first sample
    if DIMS == 1:
        hits = ((q0 < 1.0) & (s >= s0) & (s < s0 + count)).to(tl.int32)
        hits += ((q1 < 1.0) & (s + 1 >= s0) & (s + 1 < s0 + count)).to(tl.int32)
        hits += ((q2 < 1.0) & (s + 2 >= s0) & (s + 2 < s0 + count)).to(tl.int32)
        hits += ((q3 < 1.0) & (s + 3 >= s0) & (s + 3 < s0 + count)).to(tl.int32)
    elif DIMS == 2:
        a = q0 + q1
        b = q2 + q3
        hits = ((a < 1.0) & (s >= s0) & (s < s0 + count)).to(tl.int32)
        hits += ((b < 1.0) & (s + 1 >= s0) & (s + 1 < s0 + count)).to(tl.int32)
    else:
        a = q0 + q1
        a = a + q2
        a = a + q3
        hits = ((a < 1.0) & (s >= s0) & (s < s0 + count)).to(tl.int32)
    tl.store(partial_ptr + pid, tl.reduce(hits, 0, add_i32))


@launched
def math_kernel(in_ptr, out_ptr, out2_ptr, n, FN: tl.constexpr, BLOCK: tl.constexpr):
    """The stream's math functions on given words, for tests (hard cases chosen by hand):
    FN 0: neg_log_f32 of uint32 words; 1: neg_log_f64 of uint64 words; 2: sincos_f32 of
    uint32 words; 3: sincos_f64 of uint64 words (cos to out_ptr, sin to out2_ptr); 5: exp_f64
    and log_f64 of the float64 values whose bits are the words (to out_ptr, out2_ptr)."""
    pos = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = pos < n
    word = tl.load(in_ptr + pos, mask=mask, other=0)
    word = word.to(tl.uint32, bitcast=True) if FN % 2 == 0 else word.to(tl.uint64, bitcast=True)
    if FN == 0:
        tl.store(out_ptr + pos, neg_log_f32(word), mask=mask)
    elif FN == 1:
        tl.store(out_ptr + pos, neg_log_f64(word), mask=mask)
    elif FN == 5:
        x = word.to(tl.float64, bitcast=True)
        tl.store(out_ptr + pos, exp_f64(x), mask=mask)
        tl.store(out2_ptr + pos, log_f64(tl.where(x > 0.0, x, 1.0)), mask=mask)
    else:
        c, s = sincos_f32(word) if FN == 2 else sincos_f64(word)
        tl.store(out_ptr + pos, c, mask=mask)
        tl.store(out2_ptr + pos, s, mask=mask)


# ------------------------------------------------------------- truncated normal
@triton.jit
def first_inside(value, found, v, lo, hi):
    """The running choice of the first candidate inside [lo, hi]."""
    inside = (v >= lo) & (v <= hi)
    return tl.where(inside & ~found, v, value), found | inside


@launched
def trunc_normal_kernel(out_ptr, k0, k1, off_lo, off_hi, p0, p1, p2, p3, e0, total, DTYPE: tl.constexpr,
                        BLOCK: tl.constexpr):
    """Elements [e0, e0 + total) of a truncated normal draw (kind trunc_normal): element e's
    16 candidates are the normals (mean p0, std p1) of its blocks offset + B e .. + B - 1
    (B = 4, or 8 in float64), randn's layout; the first inside [p2, p3], else the last one
    clamped.  One element a lane."""
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    live = i < total
    key0 = tl.full([], 0, tl.uint32) + k0.to(tl.uint32)
    key1 = tl.full([], 0, tl.uint32) + k1.to(tl.uint32)
    if DTYPE == D_F64:
        lo = as_f64(p2)
        hi = as_f64(p3)
        blocks: tl.constexpr = 8
    else:
        lo = p2.to(tl.uint32).to(tl.float32, bitcast=True)
        hi = p3.to(tl.uint32).to(tl.float32, bitcast=True)
        blocks: tl.constexpr = 4
    first = counter64(off_lo, off_hi) + (e0 + i).to(tl.uint64) * blocks
    value = lo * 0.0
    found = i < 0
    last = value
    for b in tl.static_range(blocks):
        w0, w1, w2, w3 = block_words(first + b, key0, key1)
        v0, v1, v2, v3 = values(w0, w1, w2, w3, p0, p1, p2, p3, K_NORMAL, DTYPE, False)
        value, found = first_inside(value, found, v0, lo, hi)
        value, found = first_inside(value, found, v1, lo, hi)
        last = v1
        if DTYPE != D_F64:
            value, found = first_inside(value, found, v2, lo, hi)
            value, found = first_inside(value, found, v3, lo, hi)
            last = v3
    clamped = tl.where(last < lo, lo, tl.where(last > hi, hi, last))
    store(out_ptr + i, tl.where(found, value, clamped), live, K_TRUNC_NORMAL, DTYPE)


# --------------------------------------------------- gamma, poisson, binomial
# The composite draws' definitions (_composite.py, _counts.py) one element a lane, each step
# the same IEEE operation in the same order; a lane's later candidates are computed while
# any lane of the program still needs one.
@triton.jit
def block_words(b, k0, k1):
    """The four words of block b (a uint64 counter)."""
    return philox((b & 0xFFFFFFFF).to(tl.uint32), (b >> 32).to(tl.uint32), k0, k1)


@triton.jit
def u53(x):
    """(x >> 11) 2^-53: the float64 uniform of a 64-bit word."""
    return (x >> 11).to(tl.float64) * f64c(TWO_M53_F64)


@triton.jit
def counter64(lo, hi):
    return lo.to(tl.uint64) | (hi.to(tl.uint64) << 32)


@launched
def gamma_kernel(out_ptr, alpha_ptr, n, k0, k1, z_lo, z_hi, e_lo, e_hi, BLOCK: tl.constexpr):
    """keystream.standard_gamma (NOTE [ Gamma with a fixed number of candidates ]): element e
    takes normal 12e + i of the float64 normal draw at z and exponential 13e + i of the
    float64 exponential draw at e, as the C kernel."""
    e = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    live = e < n
    a = tl.load(alpha_ptr + e, mask=live, other=1.0)
    key0 = tl.full([], 0, tl.uint32) + k0.to(tl.uint32)
    key1 = tl.full([], 0, tl.uint32) + k1.to(tl.uint32)
    zoff = counter64(z_lo, z_hi)
    eoff = counter64(e_lo, e_hi)
    boost = a < f64c(ONE_F64)
    d = tl.where(boost, a + f64c(ONE_F64), a) - f64c(THIRD_F64)
    c = f64c(ONE_F64) / tl.sqrt(f64c(NINE_F64) * d)
    value = d
    active = live
    eu = e.to(tl.uint64)
    for i in tl.range(0, 12):
        if tl.reduce(active.to(tl.int32), 0, add_i32) > 0:
            zi = eu * 12 + i
            w0, w1, w2, w3 = block_words(zoff + zi // 2, key0, key1)
            r = tl.sqrt(f64c(TWO_F64) * neg_log_f64(word64(w0, w1)))
            co, si = sincos_f64(word64(w2, w3))
            z = r * tl.where(zi % 2 == 0, co, si)
            ei = eu * 13 + i
            x0, x1, x2, x3 = block_words(eoff + ei // 2, key0, key1)
            big_e = neg_log_f64(tl.where(ei % 2 == 0, word64(x0, x1), word64(x2, x3)))
            t = f64c(ONE_F64) + c * z
            v = (t * t) * t
            positive = v > 0.0
            log_v = log_f64(tl.where(positive, v, f64c(ONE_F64)))
            rhs = (((f64c(HALF_F64) * z) * z + d) - d * v) + d * log_v
            accept = active & positive & (flip64(big_e) < rhs)
            value = tl.where(accept, d * v, value)
            active = active & ~accept
    if tl.reduce((live & boost).to(tl.int32), 0, add_i32) > 0:
        ei = eu * 13 + 12
        x0, x1, x2, x3 = block_words(eoff + ei // 2, key0, key1)
        big_e = neg_log_f64(tl.where(ei % 2 == 0, word64(x0, x1), word64(x2, x3)))
        value = tl.where(boost, value * exp_f64(flip64(big_e) / a), value)
    tl.store(out_ptr + e, value, mask=live)


@triton.jit
def log_factorial_f64(k):
    """ln k! for whole k >= 0 (_math.torch_forms.log_factorial_f64)."""
    small = k <= 18.0
    fact = k * 0.0 + f64c(ONE_F64)
    for i in tl.static_range(2, 19):
        fact = tl.where(k >= i, fact * i, fact)  # exact: below 2^53
    x = tl.where(small, 20.0, k + f64c(ONE_F64))
    r = f64c(ONE_F64) / x
    r2 = r * r
    series = r * (f64c(INV_12_F64) - r2 * (f64c(INV_360_F64) - r2 * f64c(INV_1260_F64)))
    stirling = (((x - f64c(HALF_F64)) * log_f64(x) - x) + f64c(HALF_LN_2PI_F64)) + series
    return tl.where(small, log_f64(fact), stirling)


@triton.jit
def transformed(u, a, b, shift):
    """us = 1/2 - |u - 1/2| and k = floor((2a / us + b)(u - 1/2) + shift)."""
    centred = u - f64c(HALF_F64)
    us = f64c(HALF_F64) - tl.abs(centred)
    return us, tl.floor(((f64c(TWO_F64) * a) / us + b) * centred + shift)


@launched
def counts_kernel(out_ptr, a_ptr, b_ptr, n, a_step, b_step, k0, k1, off_lo, off_hi, BINOMIAL: tl.constexpr,
                  BLOCK: tl.constexpr):
    """keystream.poisson (a = the rates) or keystream.binomial (a = the counts, b = the
    probabilities) (NOTE [ Counts with a fixed number of candidates ]): element e's
    candidate c is the pair of float64 uniforms of block offset + 32e + c."""
    e = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    live = e < n
    key0 = tl.full([], 0, tl.uint32) + k0.to(tl.uint32)
    key1 = tl.full([], 0, tl.uint32) + k1.to(tl.uint32)
    first = counter64(off_lo, off_hi) + e.to(tl.uint64) * COUNT_CANDIDATES
    w0, w1, w2, w3 = block_words(first, key0, key1)
    u = u53(word64(w0, w1))
    one = f64c(ONE_F64)
    pa = tl.load(a_ptr + e * a_step, mask=live, other=0.0).to(tl.float64)
    if BINOMIAL:
        n_ = pa
        prob = tl.load(b_ptr + e * b_step, mask=live, other=0.0).to(tl.float64)
        flip = prob > f64c(HALF_F64)
        p = tl.where(flip, one - prob, prob)
        mean = n_ * p
        small = mean < f64c(TEN_F64)
        ratio = p / (one - p)
        um = one - p  # -ln(1 - p) (_math.torch_forms.neg_log1m_f64)
        exact = um == one
        neg_log1m = tl.where(exact, p, (log_f64(tl.where(exact, f64c(HALF_F64), um)) * p)
                             / tl.where(exact, -f64c(HALF_F64), um - one))
        prob_k = exp_f64(flip64(n_ * neg_log1m))
    else:
        small = pa < f64c(TEN_F64)
        prob_k = exp_f64(flip64(pa))
    # inversion of the first u
    k = pa * 0.0
    f = prob_k
    if BINOMIAL:
        active = live & small & ~(u < f) & (k < n_)
    else:
        active = live & small & ~(u < f)
    remaining = tl.reduce(active.to(tl.int32), 0, add_i32)
    while remaining > 0:
        k = tl.where(active, k + one, k)
        if BINOMIAL:
            p_next = (prob_k * (ratio * ((n_ - k) + one))) / k
        else:
            p_next = (prob_k * pa) / k
        f_next = f + p_next
        stop = f_next == f
        prob_k = tl.where(active, p_next, prob_k)
        f = tl.where(active & ~stop, f_next, f)
        active = active & ~stop & ~(u < f_next)
        if BINOMIAL:
            active = active & (k < n_)
        remaining = tl.reduce(active.to(tl.int32), 0, add_i32)
    # transformed rejection (PTRS / BTRS) where the mean is 10 or more
    big = live & ~small
    if BINOMIAL:
        pb = tl.where(big, p, f64c(HALF_F64))
        nb = tl.where(big, n_, 20.0)
        q = one - pb
        spq = tl.sqrt((nb * pb) * q)
        b = f64c(BTRS_B0_F64) + f64c(PTRS_B1_F64) * spq
        a = (f64c(BTRS_A1_F64) * b - f64c(BTRS_A0_F64)) + f64c(BTRS_A2_F64) * pb
        alpha = (f64c(BTRS_AL0_F64) + f64c(BTRS_AL1_F64) / b) * spq
        vr = f64c(BTRS_VR0_F64) - f64c(BTRS_VR1_F64) / b
        m = tl.floor((nb + one) * pb)
        h = log_factorial_f64(m) + log_factorial_f64(nb - m)
        lpq = log_f64(pb / q)
        shift = nb * pb + f64c(HALF_F64)
        fallback = m
    else:
        lam = tl.where(big, pa, f64c(TEN_F64))
        loglam = log_f64(lam)
        b = f64c(PTRS_B0_F64) + f64c(PTRS_B1_F64) * tl.sqrt(lam)
        a = f64c(PTRS_A1_F64) * b - f64c(PTRS_A0_F64)
        alpha = f64c(PTRS_IA0_F64) + f64c(PTRS_IA1_F64) / (b - f64c(PTRS_IA2_F64))
        vr = f64c(PTRS_VR0_F64) - f64c(PTRS_VR1_F64) / (b - f64c(TWO_F64))
        shift = lam + f64c(PTRS_SHIFT_F64)
        fallback = tl.floor(lam)
    value = fallback
    active = big
    for c in tl.range(0, COUNT_CANDIDATES):
        if tl.reduce(active.to(tl.int32), 0, add_i32) > 0:
            if c > 0:
                w0, w1, w2, w3 = block_words(first + c, key0, key1)
            uc = u53(word64(w0, w1))
            vc = u53(word64(w2, w3))
            us, kc = transformed(uc, a, b, shift)
            quick = (us >= f64c(TRS_US_ACCEPT_F64)) & (vc <= vr)
            t = (vc * alpha) / (a / (us * us) + b)
            if BINOMIAL:
                reject = (kc < 0.0) | (kc > nb)
                kk = tl.where(reject, 0.0, kc)
                rhs = (h - (log_factorial_f64(kk) + log_factorial_f64(nb - kk))) + (kk - m) * lpq
                accept = ~reject & (quick | (t == 0.0) | (log_f64(tl.where(t > 0.0, t, one)) <= rhs))
            else:
                reject = (kc < 0.0) | ((us < f64c(PTRS_US_REJECT_F64)) & (vc > us))
                kk = tl.where(reject, 0.0, kc)
                rhs = (kk * loglam - lam) - log_factorial_f64(kk)
                accept = quick | (~reject & ((t == 0.0) | (log_f64(tl.where(t > 0.0, t, one)) <= rhs)))
            value = tl.where(active & accept, kc, value)
            active = active & ~accept
    result = tl.where(small, k, value)
    if BINOMIAL:
        result = tl.where(flip, n_ - result, result)
    tl.store(out_ptr + e, result.to(out_ptr.dtype.element_ty), mask=live)


# ------------------------------------------------------------ keyed sampling
# keystream.sampling.sample (NOTE [ Keyed sampling ] in sampling/_sample.py): one program
# a row, the vocabulary a block at a time.  The top-k and top-p sets are prefixes of the
# order of the unique 64-bit keys (as the C kernel's); their smallest kept key is found bit
# by bit from the top (64 passes of exact counts or sums), so nothing is sorted.
@triton.jit
def min_any(a, b):
    return tl.minimum(a, b)


@triton.jit
def row_values(row_ptr, offs, vocab, t, m, scale):
    """A block's scaled logits, weights w, integer weights q and order keys."""
    live = offs < vocab
    x = tl.load(row_ptr + offs, mask=live, other=float("-inf"))
    s = tl.div_rn(x, t)
    w = exp_f64(s.to(tl.float64) - m)
    q = tl.where(live, (w * scale).to(tl.int64), 0)
    b = s.to(tl.uint32, bitcast=True)
    b = tl.where((b & 0x80000000) != 0, ~b, b | 0x80000000)
    key = (b.to(tl.uint64) << 32) | (0xFFFFFFFF - offs).to(tl.uint32).to(tl.uint64)
    return live, w, q, key


@launched
def sample_kernel(out_ptr, logits_ptr, vocab, keys_ptr, temp_ptr, top_k_ptr, top_p_ptr, min_p_ptr, scale,
                  HAS_K: tl.constexpr, HAS_P: tl.constexpr, HAS_MIN: tl.constexpr, BLOCK: tl.constexpr):
    r = tl.program_id(0).to(tl.int64)
    row = logits_ptr + r * vocab
    t = tl.load(temp_ptr + r).to(tl.float32)
    greedy = t == 0.0
    t = tl.where(greedy, 1.0, t)
    m = tl.full([], float("-inf"), tl.float32)
    best_x = tl.full([], float("-inf"), tl.float32)
    best_i = tl.full([], 0, tl.int64)
    for start in tl.range(0, vocab, BLOCK):
        offs = start + tl.arange(0, BLOCK).to(tl.int64)
        x = tl.load(row + offs, mask=offs < vocab, other=float("-inf"))
        m = tl.maximum(m, tl.reduce(tl.div_rn(x, t), 0, max_i32))
        bx = tl.reduce(x, 0, max_i32)
        bi = tl.reduce(tl.where((x == bx) & (offs < vocab), offs, vocab), 0, min_any)
        better = bx > best_x
        best_i = tl.where(better, bi, best_i)
        best_x = tl.where(better, bx, best_x)
    md = m.to(tl.float64)
    one = tl.full([], 1, tl.uint64)
    kappa = tl.full([], 0, tl.uint64)  # the kept keys are those >= kappa
    if HAS_K:
        k = tl.load(top_k_ptr + r)
        if (k > 0) & (k < vocab):
            for bit in tl.range(63, -1, -1):
                cand = kappa | (one << (bit + tl.full([], 0, tl.uint64)))
                count = tl.full([], 0, tl.int64)
                for start in tl.range(0, vocab, BLOCK):
                    offs = start + tl.arange(0, BLOCK).to(tl.int64)
                    live, w, q, key = row_values(row, offs, vocab, t, md, scale)
                    count += tl.reduce((live & (key >= cand)).to(tl.int64), 0, add_i32)
                kappa = tl.where(count >= k, cand, kappa)
    if HAS_P:
        p = tl.load(top_p_ptr + r)
        total = tl.full([], 0, tl.int64)
        for start in tl.range(0, vocab, BLOCK):
            offs = start + tl.arange(0, BLOCK).to(tl.int64)
            live, w, q, key = row_values(row, offs, vocab, t, md, scale)
            total += tl.reduce(tl.where(key >= kappa, q, 0), 0, add_i32)
        need = p * total.to(tl.float64)
        b = tl.full([], 0, tl.uint64)  # the largest key whose sum of q at or above it reaches need
        for bit in tl.range(63, -1, -1):
            cand = b | (one << (bit + tl.full([], 0, tl.uint64)))
            acc = tl.full([], 0, tl.int64)
            for start in tl.range(0, vocab, BLOCK):
                offs = start + tl.arange(0, BLOCK).to(tl.int64)
                live, w, q, key = row_values(row, offs, vocab, t, md, scale)
                acc += tl.reduce(tl.where((key >= cand) & (key >= kappa), q, 0), 0, add_i32)
            b = tl.where(acc.to(tl.float64) >= need, cand, b)
        kappa = tl.maximum(kappa, b)
    if HAS_MIN:
        min_p = tl.load(min_p_ptr + r)
    else:
        min_p = tl.full([], 0.0, tl.float64)
    kept_total = tl.full([], 0, tl.int64)
    for start in tl.range(0, vocab, BLOCK):
        offs = start + tl.arange(0, BLOCK).to(tl.int64)
        live, w, q, key = row_values(row, offs, vocab, t, md, scale)
        kept_total += tl.reduce(tl.where((key >= kappa) & (w >= min_p), q, 0), 0, add_i32)
    k0 = tl.load(keys_ptr + 2 * r).to(tl.uint32)
    k1 = tl.load(keys_ptr + 2 * r + 1).to(tl.uint32)
    zero = tl.full([], 0, tl.uint32)
    w0, w1, w2, w3 = philox(zero, zero, k0, k1)
    span = kept_total.to(tl.uint64)
    target = mulhi64(word64(w0, w1), (span & 0xFFFFFFFF).to(tl.uint32), (span >> 32).to(tl.uint32)).to(tl.int64)
    acc = tl.full([], 0, tl.int64)
    token = tl.full([], 0, tl.int64) + vocab - 1
    found = acc < 0
    for start in tl.range(0, vocab, BLOCK):
        offs = start + tl.arange(0, BLOCK).to(tl.int64)
        live, w, q, key = row_values(row, offs, vocab, t, md, scale)
        kept = tl.where((key >= kappa) & (w >= min_p), q, 0)
        inclusive = tl.associative_scan(kept, 0, add_i32) + acc
        here = tl.reduce(tl.where(inclusive > target, offs, vocab), 0, min_any)
        token = tl.where(~found & (here < vocab), here, token)
        found = found | (here < vocab)
        acc += tl.reduce(kept, 0, add_i32)
    tl.store(out_ptr + r, tl.where(greedy, best_i, token))


# ------------------------------------------------------------------ exact sums
# NOTE [ exact sums on the GPU ]
# montecarlo's exact accumulation (``exact_sums``): the sums of float64 values and of
# their squares as integers (units of 2^-1074), held in 32-bit limbs.  Per program, the
# values are split at three boundaries fixed by the program's largest exponent F, 40
# bits apart: t = (r + 1.5 * 2^(B+52)) - 1.5 * 2^(B+52) is r rounded to a multiple of
# 2^B, and r - t is exact.  Each piece has at most 41 significant bits, so a sum of 1024
# of them is exact in float64 whatever the order; each bin's sum is then an integer
# times 2^B, added to the limbs with integer atomics (exact, any order).  A value with
# bits below the 120-bit window, a non-finite value or square, or F outside [68, 2033]
# sets the flag, and the host computes that chunk with the torch limb arithmetic instead
# (the same integers; it also raises on non-finite values).  The C engine's fast path is
# the same idea (ks_exact_sums).
EXACT_LIMBS = tl.constexpr(72)


@triton.jit
def max_i32(a, b):
    return tl.maximum(a, b)


@triton.jit
def spill_and_sums(spill_a, a2, a1, a0, spill_b, b2, b1, b0):
    return tl.maximum(spill_a, spill_b), a2 + b2, a1 + b1, a0 + b0


@triton.jit
def pow2_f64(e):
    """2^e as a float64, for a scalar int32 e in [-1022, 1023] (exact, from the bits)."""
    return ((e + 1023).to(tl.int64) << 52).to(tl.float64, bitcast=True)


@triton.jit
def bin_integer(s, b):
    """s (a float64 integer multiple of 2^b, |s| < 2^(b+53)) / 2^b as an exact int64."""
    h = -b
    return ((s * pow2_f64(h // 2)) * pow2_f64(h - h // 2)).to(tl.int64)


@triton.jit
def bin_limbs(offs, base_limb, i, b):
    """The limb deltas of i * 2^b (i an int64, |i| < 2^53) at limbs base_limb + offs: the
    magnitude shifted into place, split into three 32-bit parts, with i's sign."""
    pos = b + 1074
    d = (pos >> 5) - base_limb
    sh = (pos & 31).to(tl.int64)
    sign = tl.where(i < 0, -1, 1).to(tl.int64)
    mag = i * sign
    lo = (mag & 0xFFFFFFFF) << sh
    hi = (mag >> 32) << sh
    delta = tl.where(offs == d, sign * (lo & 0xFFFFFFFF), 0)
    delta += tl.where(offs == d + 1, sign * ((lo >> 32) + (hi & 0xFFFFFFFF)), 0)
    delta += tl.where(offs == d + 2, sign * (hi >> 32), 0)
    return delta


@triton.jit
def add_bins(limbs_ptr, s2, s1, s0, b2, b1, b0):
    """Add the three bin sums to the limbs with one vector of atomics (their limbs lie
    within 6 of the lowest; scalar atomics would each cost a barrier in Triton's code)."""
    offs = tl.arange(0, 8)
    base_limb = (b0 + 1074) >> 5
    delta = bin_limbs(offs, base_limb, bin_integer(s2, b2), b2)
    delta += bin_limbs(offs, base_limb, bin_integer(s1, b1), b1)
    delta += bin_limbs(offs, base_limb, bin_integer(s0, b0), b0)
    tl.atomic_add(limbs_ptr + base_limb + offs, delta, mask=delta != 0, sem="relaxed")


@triton.jit
def window_sums(v, limbs_ptr, flag_ptr):
    """v (float64, 0.0 where masked) into the limbs; sets the flag where it cannot."""
    field = ((v.to(tl.int64, bitcast=True) >> 52) & 0x7FF).to(tl.int32)
    big_f = tl.reduce(field, 0, max_i32)
    if big_f != 0:  # else every value is zero
        bad = (big_f == 0x7FF) | (big_f < 68) | (big_f > 2033)
        f = tl.minimum(tl.maximum(big_f, 68), 2033)
        b2 = f - 1062
        b1 = b2 - 40
        b0 = b1 - 40
        c2 = pow2_f64(b2 + 52) * 1.5
        c1 = pow2_f64(b1 + 52) * 1.5
        c0 = pow2_f64(b0 + 52) * 1.5
        t2 = (v + c2) - c2
        r = v - t2
        t1 = (r + c1) - c1
        r = r - t1
        t0 = (r + c0) - c0
        r = r - t0
        # one reduction for the spill flag and the three sums (each a barrier round)
        spill, s2, s1, s0 = tl.reduce(((r != 0.0).to(tl.int32), t2, t1, t0), 0, spill_and_sums)
        if bad | (spill != 0):
            tl.atomic_max(flag_ptr, 1, sem="relaxed")
        else:
            add_bins(limbs_ptr, s2, s1, s0, b2, b1, b0)


@launched
def exact_sums_kernel(x_ptr, n, limbs_ptr, flag_ptr, BLOCK: tl.constexpr):
    """Exact sums of float64 x[0:n] and of x * x into limbs_ptr[0:72] and [72:144]
    (NOTE [ exact sums on the GPU ]); flag_ptr[0] = 1 where the host must recompute."""
    pos = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    x = tl.load(x_ptr + pos, mask=pos < n, other=0.0)
    window_sums(x, limbs_ptr, flag_ptr)
    window_sums(x * x, limbs_ptr + EXACT_LIMBS, flag_ptr)


@launched
def dropout_kernel(out_ptr, x_ptr, n, k0, k1, e0_lo, e0_hi, thr, scale_bits, F64: tl.constexpr, BLOCK: tl.constexpr):
    """keystream.nn's keyed dropout of an element-wise mask (the C kernel ks_dropout with inner
    = 1): out[i] = x[i] * (keep ? scale : 0), keep = the 32-bit word of mask element e0 + i (word
    e % 4 of block e // 4 at offset 0) below thr; one multiply in x's dtype.  One lane per
    Philox block: its four words serve the four elements of the block that lie in the range."""
    lane = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    e0 = word64(e0_lo, e0_hi)
    head = (e0 & 3).to(tl.int64)
    blk = (e0 >> 2) + lane.to(tl.uint64)
    w0, w1, w2, w3 = philox((blk & 0xFFFFFFFF).to(tl.uint32), (blk >> 32).to(tl.uint32),
                            tl.full([], 0, tl.uint32) + k0.to(tl.uint32), tl.full([], 0, tl.uint32) + k1.to(tl.uint32))
    if F64:
        scale = as_f64(scale_bits)
    else:
        scale = (tl.full([], 0, tl.uint32) + scale_bits.to(tl.uint32)).to(tl.float32, bitcast=True)
    zero = scale * 0.0
    for q in tl.static_range(4):
        if q == 0:
            w = w0
        elif q == 1:
            w = w1
        elif q == 2:
            w = w2
        else:
            w = w3
        i = lane * 4 + q - head  # the output position of the block's word q
        live = (i >= 0) & (i < n)
        x = tl.load(x_ptr + i, mask=live, other=0.0)
        tl.store(out_ptr + i, x * tl.where(w.to(tl.int64) < thr, scale, zero).to(x.dtype), mask=live)

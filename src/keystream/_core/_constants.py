"""The one table of stream constants, as exact bit patterns.

Every engine (numpy reference, portable torch ops, C kernels, Triton kernels)
reads its constants from :data:`TABLE` and nowhere else.  A decimal literal
retyped in a kernel is a bug: decimal strings round differently in different
toolchains, and three of eleven such literals disagreed in float32 in the
experiment that motivated this rule (docs/spec.md, section 6).

Each entry is ``NAME: (type, bits)`` with type one of ``u32``, ``u64``,
``f32``, ``f64``.  The float values are the IEEE-754 numbers whose bit
patterns are given; the comment beside each shows the value approximately,
for readers only.  ``tools/fit_polynomials.py`` shows where the polynomial
coefficients came from.

Changing any entry changes a released stream: don't.  A new stream version adds
entries (the block "stream version 2" below) and leaves every older one as it is.
"""
from __future__ import annotations

import struct
from typing import Final

__all__ = ["TABLE", "u32", "u64", "f32", "f64", "f32_bits", "f64_bits"]

TABLE: Final[dict[str, tuple[str, int]]] = {
    # --- Philox4x32-10 (Random123) --------------------------------------------------
    "PHILOX_M0": ("u32", 0xD2511F53),  # multiplier applied to counter word 0
    "PHILOX_M1": ("u32", 0xCD9E8D57),  # multiplier applied to counter word 2
    "PHILOX_W0": ("u32", 0x9E3779B9),  # Weyl key increment, golden ratio
    "PHILOX_W1": ("u32", 0xBB67AE85),  # Weyl key increment, sqrt(3) - 1
    "PHILOX_ROUNDS": ("u32", 10),
    # --- key derivation domain tags: counter words (c2, c3) of a derivation block ----
    # Draws always use c2 = c3 = 0, so no derivation block equals a draw block.
    "TAG_FOLD_INT": ("u32", 0x4B534649),  # "IFSK": fold_in(int)
    "TAG_FOLD_BYTES": ("u32", 0x4B534642),  # "BFSK": fold_in(str / bytes), after BLAKE2b-64
    "TAG_SPAWN": ("u32", 0x4B535350),  # "PSSK": spawn
    "TAG_VERSION": ("u32", 0x00000001),  # c3 of every derivation block: stream version 1
    # --- deterministic log: ln(x) = k*ln2 + log1p(f), fdlibm-style -------------------
    "SQRT2_MANT_F32": ("u32", 0x3504F3),  # mantissa bits of float32 sqrt(2)
    "SQRT2_MANT_F64": ("u64", 0x6A09E667F3BCD),  # mantissa bits of float64 sqrt(2)
    "LN2_HI_F32": ("f32", 0x3F317200),  # 0.693145752; low 7 bits zero: k*LN2_HI exact
    "LN2_LO_F32": ("f32", 0x35BFBE8E),  # 1.42860677e-06 = ln2 - LN2_HI
    "LN2_HI_F64": ("f64", 0x3FE62E42FEE00000),  # 0.693147180369; low 21 bits zero
    "LN2_LO_F64": ("f64", 0x3DEA39EF35793C76),  # 1.90821492927e-10 = ln2 - LN2_HI
    "LOG_L1_F32": ("f32", 0x3F2AAAAB),  # 0.666666666
    "LOG_L2_F32": ("f32", 0x3ECCCCF6),  # 0.400001218
    "LOG_L3_F32": ("f32", 0x3E922E22),  # 0.285508208
    "LOG_L4_F32": ("f32", 0x3E6EE76C),  # 0.233304672
    "LOG_L1_F64": ("f64", 0x3FE5555555555558),  # 0.666666666666666969
    "LOG_L2_F64": ("f64", 0x3FD99999999952E2),  # 0.399999999998995045
    "LOG_L3_F64": ("f64", 0x3FD2492492DF148D),  # 0.285714286259754849
    "LOG_L4_F64": ("f64", 0x3FCC71C62E5800A1),  # 0.222222111347950799
    "LOG_L5_F64": ("f64", 0x3FC7462B4AB2EF6B),  # 0.181828891252617221
    "LOG_L6_F64": ("f64", 0x3FC39FE606542DDE),  # 0.153317216005560413
    "LOG_L7_F64": ("f64", 0x3FC2B584AAE78A57),  # 0.146164496850434059
    # --- deterministic sin / cos on [-pi/4, pi/4] -------------------------------------
    "SIN_S1_F32": ("f32", 0xBE2AAAA9),  # -0.166666647
    "SIN_S2_F32": ("f32", 0x3C088614),  # 0.00833274827
    "SIN_S3_F32": ("f32", 0xB94D64D8),  # -0.000195878909
    "SIN_S1_F64": ("f64", 0xBFC5555555555555),  # -0.166666666666666646
    "SIN_S2_F64": ("f64", 0x3F81111111110BB2),  # 0.00833333333333094849
    "SIN_S3_F64": ("f64", 0xBF2A01A019E83AAE),  # -0.000198412698367585743
    "SIN_S4_F64": ("f64", 0x3EC71DE37968A100),  # 2.75573161025524401e-06
    "SIN_S5_F64": ("f64", 0xBE5AE600B02B6262),  # -2.50511318450036244e-08
    "SIN_S6_F64": ("f64", 0x3DE5E0B19F8B1451),  # 1.59181292948666087e-10
    "COS_C1_F32": ("f32", 0xBF000000),  # -0.5
    "COS_C2_F32": ("f32", 0x3D2AAAA6),  # 0.0416666506
    "COS_C3_F32": ("f32", 0xBAB60704),  # -0.00138875892
    "COS_C4_F32": ("f32", 0x37CD3796),  # 2.44637883e-05
    "COS_C1_F64": ("f64", 0xBFE0000000000000),  # -0.5
    "COS_C2_F64": ("f64", 0x3FA5555555555551),  # 0.0416666666666666354
    "COS_C3_F64": ("f64", 0xBF56C16C16C15D79),  # -0.00138888888888807751
    "COS_C4_F64": ("f64", 0x3EFA01A019DE131F),  # 2.48015872936934577e-05
    "COS_C5_F64": ("f64", 0xBE927E4F8E4A2E74),  # -2.75573155663418970e-07
    "COS_C6_F64": ("f64", 0x3E21EEA7F259B344),  # 2.08758867380470517e-09
    "COS_C7_F64": ("f64", 0xBDA8FF9D439A204A),  # -1.13679986540224936e-11
    # angle of one unit of the (odd) reduced angle integer: pi * 2^-26 (f32), pi * 2^-55 (f64)
    "ANGLE_UNIT_F32": ("f32", 0x33490FDB),  # 4.68134e-08
    "ANGLE_UNIT_F64": ("f64", 0x3C9921FB54442D18),  # 8.7194767740650685e-17
    # --- small exact numbers used by several engines ---------------------------------
    "ONE_F32": ("f32", 0x3F800000),
    "TWO_F32": ("f32", 0x40000000),
    "HALF_F32": ("f32", 0x3F000000),
    "ONE_F64": ("f64", 0x3FF0000000000000),
    "TWO_F64": ("f64", 0x4000000000000000),
    "HALF_F64": ("f64", 0x3FE0000000000000),
    "THIRD_F64": ("f64", 0x3FD5555555555555),  # 1/3 (gamma: d = s - 1/3)
    "NINE_F64": ("f64", 0x4022000000000000),  # 9 (gamma: c = 1 / sqrt(9 d))
    # --- Poisson (Hoermann's PTRS) and binomial (BTRS), docs/spec.md section 8 --------
    # The papers' decimal constants, as the nearest float64.
    "COUNT_CANDIDATES": ("u32", 32),  # candidates (blocks) per Poisson or binomial element
    "TEN_F64": ("f64", 0x4024000000000000),  # 10: below it (lam, n p) the counts are inverted
    "PTRS_B0_F64": ("f64", 0x3FEDCAC083126E98),  # 0.931 (b = 0.931 + 2.53 sqrt(lam))
    "PTRS_B1_F64": ("f64", 0x40043D70A3D70A3D),  # 2.53 (also BTRS: b = 1.15 + 2.53 spq)
    "PTRS_A0_F64": ("f64", 0x3FAE353F7CED9168),  # 0.059 (a = 0.02483 b - 0.059)
    "PTRS_A1_F64": ("f64", 0x3F996D0917D6B65B),  # 0.02483
    "PTRS_IA0_F64": ("f64", 0x3FF1FB7E90FF9724),  # 1.1239 (1/alpha = 1.1239 + 1.1328 / (b - 3.4))
    "PTRS_IA1_F64": ("f64", 0x3FF21FF2E48E8A72),  # 1.1328
    "PTRS_IA2_F64": ("f64", 0x400B333333333333),  # 3.4
    "PTRS_VR0_F64": ("f64", 0x3FEDAFB7E90FF972),  # 0.9277 (v_r = 0.9277 - 3.6224 / (b - 2))
    "PTRS_VR1_F64": ("f64", 0x400CFAACD9E83E42),  # 3.6224
    "PTRS_SHIFT_F64": ("f64", 0x3FDB851EB851EB85),  # 0.43 (k = floor((2a/us + b) U + lam + 0.43))
    "TRS_US_ACCEPT_F64": ("f64", 0x3FB1EB851EB851EC),  # 0.07 (quick acceptance: us >= 0.07)
    "PTRS_US_REJECT_F64": ("f64", 0x3F8A9FBE76C8B439),  # 0.013 (quick rejection: us < 0.013)
    "BTRS_B0_F64": ("f64", 0x3FF2666666666666),  # 1.15
    "BTRS_A0_F64": ("f64", 0x3FB6594AF4F0D845),  # 0.0873 (a = (0.0248 b - 0.0873) + 0.01 p)
    "BTRS_A1_F64": ("f64", 0x3F99652BD3C36113),  # 0.0248
    "BTRS_A2_F64": ("f64", 0x3F847AE147AE147B),  # 0.01
    "BTRS_AL0_F64": ("f64", 0x4006A3D70A3D70A4),  # 2.83 (alpha = (2.83 + 5.1 / b) spq)
    "BTRS_AL1_F64": ("f64", 0x4014666666666666),  # 5.1
    "BTRS_VR0_F64": ("f64", 0x3FED70A3D70A3D71),  # 0.92 (v_r = 0.92 - 4.2 / b)
    "BTRS_VR1_F64": ("f64", 0x4010CCCCCCCCCCCD),  # 4.2
    # ln k! for k > 18: Stirling's series at x = k + 1,
    # (x - 1/2) ln x - x + ln sqrt(2 pi) + 1/(12x) - 1/(360x^3) + 1/(1260x^5)
    "HALF_LN_2PI_F64": ("f64", 0x3FED67F1C864BEB4),  # 0.9189385332046727
    "INV_12_F64": ("f64", 0x3FB5555555555555),  # 1/12
    "INV_360_F64": ("f64", 0x3F66C16C16C16C17),  # 1/360
    "INV_1260_F64": ("f64", 0x3F4A01A01A01A01A),  # 1/1260
    # exact powers of two of the uniform conversions (spec section 5)
    "TWO_M24_F32": ("f32", 0x33800000),  # 2^-24: float32 uniform unit
    "TWO_M11_F32": ("f32", 0x3A000000),  # 2^-11: float16 uniform unit
    "TWO_M8_F32": ("f32", 0x3B800000),  # 2^-8: bfloat16 uniform unit
    "TWO_M53_F64": ("f64", 0x3CA0000000000000),  # 2^-53: float64 uniform unit
    # Veltkamp's splitter 2^27 + 1: exact products without FMA (portable correctly rounded sqrt)
    "SPLIT_F64": ("f64", 0x41A0000002000000),
    # --- deterministic exp (Monte Carlo helpers): exp(x) = 2^k * P(r), |r| <= ln2/2 -----
    "INV_LN2_F64": ("f64", 0x3FF71547652B82FE),  # 1.4426950408889634
    # (t + ROUND) - ROUND is t rounded to an integer, ties to even, for |t| < 2^51: rint
    # where a kernel language has none (the Triton kernels' exp)
    "ROUND_F64": ("f64", 0x4338000000000000),  # 1.5 * 2^52
    "INF_F64": ("f64", 0x7FF0000000000000),  # +inf (exp above its range)
    "TWO_M1022_F64": ("f64", 0x0010000000000000),  # 2^-1022: the smallest normal float64
    "TWO_64_F64": ("f64", 0x43F0000000000000),  # 2^64: a subnormal times it is normal, exactly
    "EXP_C0_F64": ("f64", 0x3FF0000000000000),  # 1.0
    "EXP_C1_F64": ("f64", 0x3FF0000000000000),  # 1.0
    "EXP_C2_F64": ("f64", 0x3FE0000000000000),  # 0.5
    "EXP_C3_F64": ("f64", 0x3FC5555555555562),  # 0.16666666666666702
    "EXP_C4_F64": ("f64", 0x3FA5555555555559),  # 0.041666666666666692
    "EXP_C5_F64": ("f64", 0x3F8111111110DB76),  # 0.0083333333333095271
    "EXP_C6_F64": ("f64", 0x3F56C16C16C14D77),  # 0.0013888888888871888
    "EXP_C7_F64": ("f64", 0x3F2A01A01B80226C),  # 0.00019841269909217101
    "EXP_C8_F64": ("f64", 0x3EFA01A01ADC27E2),  # 2.4801587350110796e-5
    "EXP_C9_F64": ("f64", 0x3EC71DDE76AB2F81),  # 2.7557224958392623e-6
    "EXP_C10_F64": ("f64", 0x3E927E4CC1847A65),  # 2.7557251904174913e-7
    "EXP_C11_F64": ("f64", 0x3E5AF785D433F066),  # 2.5114869528657765e-8
    "EXP_C12_F64": ("f64", 0x3E21F8B43F2637AD),  # 2.09215799649503e-9
    # --- alpha dropout (torch's): a dropped unit takes SELU's negative saturation -------
    "SELU_NEG_F64": ("f64", 0x3FFC212CC640F030),  # 1.7580993408473766 = SELU scale * alpha
    # --- random-access permutation (keyed Feistel, docs/spec.md section 7) ----------
    "FEISTEL_ROUNDS": ("u32", 8),
    "FMIX_M0": ("u32", 0x85EBCA6B),  # murmur3 fmix32 multipliers
    "FMIX_M1": ("u32", 0xC2B2AE35),
    # --- stream version 2 (docs/spec.md section 10) ------------------------------------
    # randperm / Permutation: a sort of 64-bit keys up to this n, a Feistel network above
    "PERM_V2_SORT_MAX": ("u32", 65536),
    "PERM_V2_ROUNDS": ("u32", 10),  # Feistel rounds, each a Philox block of the permutation key
    "TAG_PERM_ROUND": ("u32", 0x4B535052),  # "RPSK": c2 of a round-function block (c3 = 2)
    "PERM_ROUND_C3": ("u32", 2),  # c3 of a round-function block: never a draw's (0) or a derivation's (1)
    # truncated normal: rejection from one of three proposals, a candidate per block
    "TN_CANDIDATES": ("u32", 32),
    "SQRT_2PI_F64": ("f64", 0x40040D931FF62705),  # 2.5066282746310002: wider intervals use normal proposals
    "TN_UNIFORM_WIDTH_F64": ("f64", 0x3FF4000000000000),  # 1.25: a tail interval narrower than 1.25 / lam
    "FOUR_F64": ("f64", 0x4010000000000000),  # 4 (lam = (alpha + sqrt(alpha^2 + 4)) / 2)
    # exp with gradual underflow: below this the result is 0 (exp(-745.14) is the least subnormal)
    "EXP_MIN_V2_F64": ("f64", 0xC087500000000000),  # -746
    # --- complex draws (docs/spec.md, "Complex dtypes") ---------------------------------
    "SQRT_HALF_F64": ("f64", 0x3FE6A09E667F3BCD),  # sqrt(1/2): complex randn's parts are N(0, 1/2)
    # --- bernoulli with tensor probabilities: word < p * 2^32, compared in float64 ------
    "TWO_32_F64": ("f64", 0x41F0000000000000),  # 2^32
}


def u32(name: str) -> int:
    """Return the unsigned 32-bit integer constant ``name``."""
    kind, bits = TABLE[name]
    assert kind == "u32", name
    return bits


def u64(name: str) -> int:
    """Return the unsigned 64-bit integer constant ``name``."""
    kind, bits = TABLE[name]
    assert kind == "u64", name
    return bits


def f32_bits(name: str) -> int:
    """Return the bit pattern of the float32 constant ``name``."""
    kind, bits = TABLE[name]
    assert kind == "f32", name
    return bits


def f64_bits(name: str) -> int:
    """Return the bit pattern of the float64 constant ``name``."""
    kind, bits = TABLE[name]
    assert kind == "f64", name
    return bits


def f32(name: str) -> float:
    """Return the float32 constant ``name`` as a Python float (exactly)."""
    return float(struct.unpack("<f", struct.pack("<I", f32_bits(name)))[0])


def f64(name: str) -> float:
    """Return the float64 constant ``name`` as a Python float (exactly)."""
    return float(struct.unpack("<d", struct.pack("<Q", f64_bits(name)))[0])

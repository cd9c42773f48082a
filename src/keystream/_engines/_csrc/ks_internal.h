/* keystream's C engine, inside: what its files share (docs/spec.md is the stream; keystream.h
 * the API the bindings use).
 *
 * A plain shared library (no Python or numpy C API): Python passes data pointers and sizes
 * through ctypes, which releases the GIL, and the number of parts; the element range is split
 * over a persistent thread pool (pool.c).  Outputs never depend on how the range was split.
 *
 * Built with -O3 -ffp-contract=off (never -ffast-math): every float operation is one IEEE
 * operation rounded on its own, in the same order as the reference engine.  Constants come from
 * ks_constants.h, generated from the one table in _constants.py.  Philox batches are written as
 * structure-of-arrays loops that gcc vectorises; target_clones picks AVX-512 / AVX2 / baseline
 * at run time.
 *
 * The files, one family each: philox.c (the block function), fill.c (the draws with a kernel
 * kind: ks_fill, ks_fill_small), truncnorm.c, permutation.c, exact.c (exact sums),
 * multinomial.c, gamma.c, counts.c (poisson, binomial), sampling.c, montecarlo.c, dropout.c,
 * augment.c.  Below: the stream's deterministic math (inline, so that every file computes it
 * the same way), a draw's parameters (Draw, Param), and the few functions one file gives
 * another (hidden: not part of the library's API). */
#ifndef KS_INTERNAL_H
#define KS_INTERNAL_H

#define _DEFAULT_SOURCE /* madvise */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keystream.h"
#include "ks_constants.h"
#include "pool.h"

#define BATCH 64

#if defined(__GNUC__) && defined(__x86_64__) && !defined(KS_NO_CLONES)
#define KS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KS_CLONES
#endif

#if defined(__GNUC__)
#define KS_HIDDEN __attribute__((visibility("hidden")))
#else
#define KS_HIDDEN
#endif

static inline float f32_of(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static inline double f64_of(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static inline uint32_t bits_f32(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
static inline uint64_t bits_f64(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }
#define CF(name) f32_of(KS_##name##_BITS)
#define CD(name) f64_of(KS_##name##_BITS)

/* ------------------------------------------------------------ block function */
/* The ten rounds of Philox4x32-10 on the BATCH lanes x0..x3 (counter words), then the words
 * into w: written once, expanded in each function that fills lanes (so each vectorises).
 * Lanes outside, rounds inside (unrolled): a vector of lanes stays in registers for all ten
 * rounds instead of being stored and reloaded between them (about 2x fewer instructions,
 * counted with callgrind; the same operations on each lane). */
#define PHILOX_LANES(k0, k1, x0, x1, x2, x3, w)                                    \
    do {                                                                           \
        for (int i_ = 0; i_ < BATCH; i_++) {                                       \
            uint32_t a0_ = (x0)[i_], a1_ = (x1)[i_], a2_ = (x2)[i_], a3_ = (x3)[i_]; \
            uint32_t key0_ = (k0), key1_ = (k1);                                   \
            _Pragma("GCC unroll 16")                                               \
            for (int r_ = 0; r_ < (int)KS_PHILOX_ROUNDS; r_++) {                   \
                uint64_t p0_ = (uint64_t)KS_PHILOX_M0 * a0_;                       \
                uint64_t p1_ = (uint64_t)KS_PHILOX_M1 * a2_;                       \
                a0_ = (uint32_t)(p1_ >> 32) ^ a1_ ^ key0_;                         \
                a2_ = (uint32_t)(p0_ >> 32) ^ a3_ ^ key1_;                         \
                a1_ = (uint32_t)p1_;                                               \
                a3_ = (uint32_t)p0_;                                               \
                key0_ += KS_PHILOX_W0;                                             \
                key1_ += KS_PHILOX_W1;                                             \
            }                                                                      \
            (w)[0][i_] = a0_;                                                      \
            (w)[1][i_] = a1_;                                                      \
            (w)[2][i_] = a2_;                                                      \
            (w)[3][i_] = a3_;                                                      \
        }                                                                          \
    } while (0)

/* Words of blocks first .. first+BATCH-1 (counter (lo, hi, 0, 0)) into w[4][BATCH]: always a
 * whole batch (a fixed trip count vectorises); callers use the blocks they need. */
KS_HIDDEN void philox_batch(uint32_t k0, uint32_t k1, uint64_t first, uint32_t w[4][BATCH]);
/* Philox4x32-10 of BATCH arbitrary counters (c, 0, 0, 0). */
KS_HIDDEN void philox_at(uint32_t k0, uint32_t k1, const uint64_t *ctr, uint32_t w[4][BATCH]);

/* ---------------------------------------------------------- deterministic math */
static inline float flip32(float x) { return f32_of(bits_f32(x) ^ UINT32_C(0x80000000)); }
static inline double flip64(double x) { return f64_of(bits_f64(x) ^ UINT64_C(0x8000000000000000)); }

/* The functions below are branch-free (selects by masks, no || or if) so that the
 * batch loops that inline them vectorise.  They compute exactly the reference's
 * steps, in the same order. */

/* -ln((2w+1) 2^-33), significand truncated to 24 bits (spec section 5). */
static inline float neg_log_f32(uint32_t w) {
    uint32_t small = (uint32_t)0 - (uint32_t)(w < (UINT32_C(1) << 23)); /* all ones when w < 2^23 */
    uint32_t z = (w & ~small) | ((2 * w + 1) & small);
    /* (double)z is exact: its exponent is bitlength(z) - 1 and its mantissa field holds
     * z's bits below the leading one, so the top 23 of them are the truncated mantissa. */
    uint64_t zb = bits_f64((double)z);
    uint32_t mant = (uint32_t)(zb >> 29) & 0x7FFFFF;
    int32_t k = (int32_t)(zb >> 52) - 1023 - 32 - (int32_t)(small & 1);
    uint32_t big = (uint32_t)(mant >= KS_SQRT2_MANT_F32); /* x >= sqrt 2: use x/2, k + 1 */
    float x = f32_of((UINT32_C(0x3F800000) - (big << 23)) | mant);
    k += (int32_t)big;
    float f = x - CF(ONE_F32);
    float s = f / (CF(TWO_F32) + f);
    float z2 = s * s;
    float p = CF(LOG_L4_F32);
    p = CF(LOG_L3_F32) + z2 * p;
    p = CF(LOG_L2_F32) + z2 * p;
    p = CF(LOG_L1_F32) + z2 * p;
    float r = z2 * p;
    float hfsq = (CF(HALF_F32) * f) * f;
    float dk = (float)k;
    float ln = dk * CF(LN2_HI_F32) - ((hfsq - (s * (hfsq + r) + dk * CF(LN2_LO_F32))) - f);
    return flip32(ln);
}

static inline __attribute__((always_inline)) double log_parts_f64(int64_t k, uint64_t mant);

static inline double neg_log_f64(uint64_t x) {
    uint64_t small = (uint64_t)0 - (uint64_t)(x < (UINT64_C(1) << 52));
    uint64_t z = (x & ~small) | ((2 * x + 1) & small);
    /* bit length n of z: (double)z may round up across a power of two, so its exponent
     * e0 is n - 1 or n; z >> e0 tells which (e0 = 64 only when n = 64). */
    int64_t e0 = (int64_t)(bits_f64((double)z) >> 52) - 1023;
    int64_t n = e0 + (int64_t)((z >> (e0 & 63)) != 0) - (e0 >> 6);
    uint64_t norm = z << ((64 - n) & 63);
    uint64_t mant = (norm >> 11) & ((UINT64_C(1) << 52) - 1);
    int64_t k = n - 1 - 64 - (int64_t)(small & 1);
    return flip64(log_parts_f64(k, mant));
}

/* ln(2^k * 1.mant), mant the 52 fraction bits: the stream's float64 log (spec section 5). */
static inline __attribute__((always_inline)) double log_parts_f64(int64_t k, uint64_t mant) {
    uint64_t big = (uint64_t)(mant >= KS_SQRT2_MANT_F64);
    double xf = f64_of((UINT64_C(0x3FF0000000000000) - (big << 52)) | mant);
    k += (int64_t)big;
    double f = xf - CD(ONE_F64);
    double s = f / (CD(TWO_F64) + f);
    double z2 = s * s;
    double p = CD(LOG_L7_F64);
    p = CD(LOG_L6_F64) + z2 * p;
    p = CD(LOG_L5_F64) + z2 * p;
    p = CD(LOG_L4_F64) + z2 * p;
    p = CD(LOG_L3_F64) + z2 * p;
    p = CD(LOG_L2_F64) + z2 * p;
    p = CD(LOG_L1_F64) + z2 * p;
    double r = z2 * p;
    double hfsq = (CD(HALF_F64) * f) * f;
    double dk = (double)k;
    return dk * CD(LN2_HI_F64) - ((hfsq - (s * (hfsq + r) + dk * CD(LN2_LO_F64))) - f);
}

/* ln y for a finite float64 y > 0, subnormals included (_math.torch_forms.log_f64). */
static inline __attribute__((always_inline)) double log_f64(double y) {
    uint64_t b = bits_f64(y), mask = (UINT64_C(1) << 52) - 1, frac = b & mask;
    int64_t e = (int64_t)((b >> 52) & 0x7FF);
    /* subnormal: move the fraction's leading one to bit 52 (selects, no branch: it vectorises) */
    int64_t n = 64 - __builtin_clzll(frac | 1);
    int64_t k = e == 0 ? n - 1075 : e - 1023;
    uint64_t mant = e == 0 ? (frac << ((53 - n) & 63)) & mask : frac;
    return log_parts_f64(k, mant);
}

/* e^x, the stream's float64 exp (_math.torch_forms.exp_f64): k = round(x / ln 2), ties to
 * even; r = (x - k LN2_HI) - k LN2_LO; a degree-12 Horner polynomial; 2^k as two factors.
 * 0 below `low`: -708 (stream version 1), or -746 (version 2: the subnormal results, which
 * the last product rounds once). */
static inline double exp_f64_below(double x_in, double low) {
    double x = x_in > 709.0 ? 709.0 : x_in < low ? low : x_in; /* selects: it vectorises */
    double k = rint(x * CD(INV_LN2_F64)); /* ties to even (the default rounding mode), as torch.round */
    double r = (x - k * CD(LN2_HI_F64)) - k * CD(LN2_LO_F64);
    double p = CD(EXP_C12_F64); /* Horner, written out (a loop here stops the callers' vectorisation) */
    p = p * r + CD(EXP_C11_F64);
    p = p * r + CD(EXP_C10_F64);
    p = p * r + CD(EXP_C9_F64);
    p = p * r + CD(EXP_C8_F64);
    p = p * r + CD(EXP_C7_F64);
    p = p * r + CD(EXP_C6_F64);
    p = p * r + CD(EXP_C5_F64);
    p = p * r + CD(EXP_C4_F64);
    p = p * r + CD(EXP_C3_F64);
    p = p * r + CD(EXP_C2_F64);
    p = p * r + CD(EXP_C1_F64);
    p = p * r + CD(EXP_C0_F64);
    int64_t ki = (int64_t)k, half = ki >> 1; /* floor(k / 2), as torch's // */
    double y = (p * f64_of((uint64_t)(half + 1023) << 52)) * f64_of((uint64_t)(ki - half + 1023) << 52);
    return x_in > 709.0 ? INFINITY : x_in < low ? 0.0 : y;
}

static inline double exp_f64(double x) { return exp_f64_below(x, -708.0); }
/* Stream version 2's exp, with gradual underflow. */
static inline double exp_f64_v2(double x) { return exp_f64_below(x, CD(EXP_MIN_V2_F64)); }

/* cos and sin of the angle word: quadrant q, then cos = (ca, -sa, -ca, sa)[q] and
 * sin = (sa, ca, -sa, -ca)[q], selected and negated with bit masks. */
static inline void sincos_f32(uint32_t w, float *c_out, float *s_out) {
    uint32_t t = w + (UINT32_C(1) << 29);
    uint32_t q = t >> 30;
    int32_t m = 2 * ((int32_t)((t & 0x3FFFFFFF) >> 6) - (1 << 23)) + 1;
    float a = (float)m * CF(ANGLE_UNIT_F32);
    float z = a * a;
    float p = CF(SIN_S3_F32);
    p = CF(SIN_S2_F32) + z * p;
    p = CF(SIN_S1_F32) + z * p;
    float sa = a + (a * z) * p;
    float c = CF(COS_C4_F32);
    c = CF(COS_C3_F32) + z * c;
    c = CF(COS_C2_F32) + z * c;
    c = CF(COS_C1_F32) + z * c;
    float ca = CF(ONE_F32) + z * c;
    uint32_t swap = (uint32_t)0 - (q & 1), sb = bits_f32(sa), cb = bits_f32(ca);
    uint32_t co = (sb & swap) | (cb & ~swap), si = (cb & swap) | (sb & ~swap);
    *c_out = f32_of(co ^ (((q ^ (q >> 1)) & 1) << 31));
    *s_out = f32_of(si ^ ((q >> 1) << 31));
}

static inline void sincos_f64(uint64_t x, double *c_out, double *s_out) {
    uint64_t t = x + (UINT64_C(1) << 61);
    uint64_t q = t >> 62;
    int64_t m = 2 * ((int64_t)((t & ((UINT64_C(1) << 62) - 1)) >> 9) - ((int64_t)1 << 52)) + 1;
    double a = (double)m * CD(ANGLE_UNIT_F64);
    double z = a * a;
    double p = CD(SIN_S6_F64);
    p = CD(SIN_S5_F64) + z * p;
    p = CD(SIN_S4_F64) + z * p;
    p = CD(SIN_S3_F64) + z * p;
    p = CD(SIN_S2_F64) + z * p;
    p = CD(SIN_S1_F64) + z * p;
    double sa = a + (a * z) * p;
    double c = CD(COS_C7_F64);
    c = CD(COS_C6_F64) + z * c;
    c = CD(COS_C5_F64) + z * c;
    c = CD(COS_C4_F64) + z * c;
    c = CD(COS_C3_F64) + z * c;
    c = CD(COS_C2_F64) + z * c;
    c = CD(COS_C1_F64) + z * c;
    double ca = CD(ONE_F64) + z * c;
    uint64_t swap = (uint64_t)0 - (q & 1), sb = bits_f64(sa), cb = bits_f64(ca);
    uint64_t co = (sb & swap) | (cb & ~swap), si = (cb & swap) | (sb & ~swap);
    *c_out = f64_of(co ^ (((q ^ (q >> 1)) & 1) << 63));
    *s_out = f64_of(si ^ ((q >> 1) << 63));
}

/* ------------------------------------------------------------ 16-bit rounding */
static inline uint16_t f32_to_f16(float f) {
    uint32_t x = bits_f32(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7FFFFFFF;
    if (x >= 0x7F800000) return sign | (x > 0x7F800000 ? 0x7E00 : 0x7C00);
    if (x >= 0x477FF000) return sign | 0x7C00; /* rounds to infinity */
    if (x < 0x38800000) {                      /* float16 subnormal or zero */
        if (x <= 0x33000000) return sign;      /* <= 2^-25: ties to even zero */
        uint32_t e = x >> 23, m = (x & 0x7FFFFF) | 0x800000;
        uint32_t shift = 126 - e, r = m >> shift, rem = m & ((UINT32_C(1) << shift) - 1);
        uint32_t half = UINT32_C(1) << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = x - 0x38000000, m = r >> 13, rem = r & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (m & 1))) m++;
    return sign | (uint16_t)m;
}

static inline uint16_t f32_to_bf16(float f) {
    uint32_t x = bits_f32(f);
    if ((x & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

/* float32 value rounded to dtype d and widened back (the per-operation rounding of
 * 16-bit uniform draws). */
static inline float round_to(float x, int d) {
    if (d == D_F16) { /* float16 -> float32 exactly, via bits */
        uint16_t h = f32_to_f16(x);
        uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1F, m = h & 0x3FF;
        if (e == 0x1F) return f32_of(sign | 0x7F800000 | (m << 13));
        if (e == 0) { float v = (float)m * CF(TWO_M24_F32); /* m * 2^-24, exact */ return sign ? flip32(v) : v; }
        return f32_of(sign | ((e + 112) << 23) | (m << 13));
    }
    if (d == D_BF16) return f32_of((uint32_t)f32_to_bf16(x) << 16);
    return x;
}

/* (x >> 11) * 2^-53 without an int64 -> double conversion (which AVX2 lacks):
 * 1.m - 1 with m = the top 52 bits is exact, and adding bit 11 of x times 2^-53 is
 * exact too (every multiple of 2^-53 below 1 is a double). */
static inline double u53(uint64_t x) {
    double hi = f64_of(UINT64_C(0x3FF0000000000000) | (x >> 12)) - CD(ONE_F64);
    return hi + f64_of(((x >> 11) & 1) * UINT64_C(0x3CA0000000000000));
}

/* ------------------------------------------------------------------ draws */
/* K_* (kernel kinds) and D_* (float dtypes): generated into ks_constants.h from _kinds.py */

typedef struct {
    int kind, dtype, elem_size;
    uint32_t k0, k1;
    uint64_t offset;
    double fp[4];
    uint64_t ip[12];
} Draw;

/* Elements per block of d's kind at its dtype: the layout table generated from
 * _kinds.KERNEL_KINDS (ks_constants.h); 1 for the kinds whose elements take several blocks
 * (blocks_per_element) and for the permutations (their own fill). */
static inline int per_block(const Draw *d) {
    int k = KS_PER_BLOCK[d->kind];
    if (k <= 1) return 1;
    return KS_WIDE_F64[d->kind] && d->dtype == D_F64 ? k / 2 : k;
}

static inline void store_float(void *out, int64_t i, float v, int d) {
    if (d == D_F32) ((float *)out)[i] = v;
    else if (d == D_F16) ((uint16_t *)out)[i] = f32_to_f16(v);
    else ((uint16_t *)out)[i] = f32_to_bf16(v);
}

static inline void store_int(void *out, int64_t i, uint64_t v, int size) {
    switch (size) {
    case 1: ((uint8_t *)out)[i] = (uint8_t)v; break;
    case 2: ((uint16_t *)out)[i] = (uint16_t)v; break;
    case 4: ((uint32_t *)out)[i] = (uint32_t)v; break;
    default: ((uint64_t *)out)[i] = v; break;
    }
}

/* Kinds whose element e uses blocks offset + B e .. offset + B e + B - 1 (docs/spec.md
 * section 4; the generated layout table); 1 for the others. */
static inline int blocks_per_element(const Draw *d) {
    int b = KS_BLOCKS[d->kind];
    return KS_WIDE_F64[d->kind] && d->dtype == D_F64 && b > 1 ? 2 * b : b;
}

/* Parts per job: one per thread.  (Four per thread balanced late wake-ups, but made
 * draws into fresh pages 2.5x slower for the first dozen 64 MiB outputs: measured.) */
static inline int parts_for(int nthreads) { return nthreads > 1 ? nthreads : 1; }

/* A parameter (of the gamma family, the counts): float32 or float64 values, one per element (step 1) or one for all (step 0). */
typedef struct {
    const void *p;
    int f32;
    uint64_t step;
} Param;

static inline double param_at(const Param *p, uint64_t e) {
    uint64_t i = e * p->step;
    return p->f32 ? (double)((const float *)p->p)[i] : ((const double *)p->p)[i];
}

/* The values of elements e0 .. e0 + m - 1 into x[0 .. m - 1], and the first into the rest
 * of the batch's lanes (one loop per case: each vectorises). */
static inline void params_at(const Param *p, uint64_t e0, int m, double x[BATCH]) {
    if (p->step == 0) {
        double v = param_at(p, 0);
        for (int i = 0; i < BATCH; i++) x[i] = v;
        return;
    }
    if (p->f32) {
        const float *f = (const float *)p->p + e0;
        for (int i = 0; i < m; i++) x[i] = (double)f[i];
    } else {
        const double *f = (const double *)p->p + e0;
        for (int i = 0; i < m; i++) x[i] = f[i];
    }
    for (int i = m; i < BATCH; i++) x[i] = x[0];
}

/* The elements [e0, e0 + len) of a draw with a kernel kind to out[0 .. len) (fill.c), of stream
 * version 2's truncated normal (truncnorm.c) and of version 1's permutation (permutation.c). */
KS_HIDDEN void fill_run(const Draw *d, uint64_t e0, int64_t len, void *out);
KS_HIDDEN void fill_run_trunc_normal_v2(const Draw *d, uint64_t e0, int64_t len, void *out);
KS_HIDDEN void fill_perm(const Draw *d, uint64_t e0, int64_t len, void *out);

#endif

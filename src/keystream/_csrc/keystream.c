/* keystream CPU engine: stream version 1 in C11 (docs/spec.md).
 *
 * A plain shared library (no Python or numpy C API): Python passes data pointers
 * and sizes through ctypes, which releases the GIL, and the number of parts; the
 * element range is split over a persistent thread pool (pool.c).  Each call fills
 * the elements of `nruns` runs of `run_len` consecutive flat indices; outputs never
 * depend on how the range was split.
 *
 * Built with -O3 -ffp-contract=off (never -ffast-math): every float operation
 * below is one IEEE operation rounded on its own, in the same order as the
 * reference engine.  Constants come from ks_constants.h, generated from the one
 * table in _constants.py.  Philox batches are written as structure-of-arrays
 * loops that gcc vectorises; target_clones picks AVX-512 / AVX2 / baseline at
 * run time.
 */
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
KS_CLONES
static void philox_batch(uint32_t k0, uint32_t k1, uint64_t first, uint32_t w[4][BATCH]) {
    uint32_t x0[BATCH], x1[BATCH], x2[BATCH], x3[BATCH];
    for (int i = 0; i < BATCH; i++) {
        uint64_t b = first + (uint64_t)i;
        x0[i] = (uint32_t)b;
        x1[i] = (uint32_t)(b >> 32);
        x2[i] = 0;
        x3[i] = 0;
    }
    PHILOX_LANES(k0, k1, x0, x1, x2, x3, w);
}

/* Philox4x32-R on one arbitrary counter (for the known-answer tests). */
void ks_philox(const uint32_t ctr[4], const uint32_t key[2], int rounds, uint32_t out[4]) {
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < rounds; r++) {
        uint64_t p0 = (uint64_t)KS_PHILOX_M0 * x0, p1 = (uint64_t)KS_PHILOX_M1 * x2;
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0, y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
        x1 = (uint32_t)p1; x3 = (uint32_t)p0; x0 = y0; x2 = y2;
        k0 += KS_PHILOX_W0; k1 += KS_PHILOX_W1;
    }
    out[0] = x0; out[1] = x1; out[2] = x2; out[3] = x3;
}

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

/* ------------------------------------------------------------------ kernels */
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

/* Value(s) of batch element j (block j / k, position j % k) written to out[o]. */
static void emit(const Draw *d, uint32_t w[4][BATCH], int j, void *out, int64_t o) {
    int k = per_block(d), b = j / k, p = j % k;
    uint32_t w32 = w[p][b];
    uint64_t w64 = (uint64_t)w[2 * (p & 1)][b] | ((uint64_t)w[2 * (p & 1) + 1][b] << 32);
    switch (d->kind) {
    case K_BITS32: ((uint32_t *)out)[o] = w32; return;
    case K_BITS64: ((uint64_t *)out)[o] = w64; return;
    case K_UNIFORM:
        if (d->dtype == D_F64) {
            double u = (double)(w64 >> 11) * CD(TWO_M53_F64);
            double x = d->fp[0] + d->fp[1] * u;
            ((double *)out)[o] = x >= d->fp[2] ? d->fp[3] : x;
        } else {
            float u;
            if (d->dtype == D_F32) u = (float)(w32 >> 8) * CF(TWO_M24_F32); 
            else if (d->dtype == D_F16) u = (float)(w32 >> 21) * CF(TWO_M11_F32);
            else u = (float)(w32 >> 24) * CF(TWO_M8_F32);
            float t = round_to((float)d->fp[1] * u, d->dtype);
            float x = round_to((float)d->fp[0] + t, d->dtype);
            store_float(out, o, x >= (float)d->fp[2] ? (float)d->fp[3] : x, d->dtype);
        }
        return;
    case K_UNIFORM_V2: { /* stream version 2's 16-bit uniform: float32 arithmetic on u24, rounded once */
        float u = (float)(w32 >> 8) * CF(TWO_M24_F32);
        float x = round_to((float)d->fp[0] + (float)d->fp[1] * u, d->dtype);
        store_float(out, o, x >= (float)d->fp[2] ? (float)d->fp[3] : x, d->dtype);
        return;
    }
    case K_NORMAL:
        if (d->dtype == D_F64) {
            uint64_t xa = (uint64_t)w[0][b] | ((uint64_t)w[1][b] << 32);
            uint64_t xb = (uint64_t)w[2][b] | ((uint64_t)w[3][b] << 32);
            double r = sqrt(CD(TWO_F64) * neg_log_f64(xa)), c, s;
            sincos_f64(xb, &c, &s);
            double z = r * (p == 0 ? c : s);
            ((double *)out)[o] = d->fp[0] + d->fp[1] * z;
        } else {
            int pair = p >> 1;
            float r = sqrtf(CF(TWO_F32) * neg_log_f32(w[2 * pair][b])), c, s;
            sincos_f32(w[2 * pair + 1][b], &c, &s);
            float z = r * ((p & 1) == 0 ? c : s);
            store_float(out, o, (float)d->fp[0] + (float)d->fp[1] * z, d->dtype);
        }
        return;
    case K_EXPONENTIAL:
        if (d->dtype == D_F64) ((double *)out)[o] = neg_log_f64(w64) / d->fp[0];
        else store_float(out, o, neg_log_f32(w32) / (float)d->fp[0], d->dtype);
        return;
    case K_CAUCHY: /* fp: median, sigma */
        if (d->dtype == D_F64) {
            double c, s;
            sincos_f64(w64, &c, &s);
            ((double *)out)[o] = d->fp[0] + d->fp[1] * (s / c);
        } else {
            float c, s;
            sincos_f32(w32, &c, &s);
            store_float(out, o, (float)d->fp[0] + (float)d->fp[1] * (s / c), d->dtype);
        }
        return;
    case K_LAPLACE: /* fp: loc, scale; two words (two 64-bit words for float64) per element */
        if (d->dtype == D_F64) {
            uint64_t xa = (uint64_t)w[0][b] | ((uint64_t)w[1][b] << 32);
            uint64_t xb = (uint64_t)w[2][b] | ((uint64_t)w[3][b] << 32);
            ((double *)out)[o] = d->fp[0] + d->fp[1] * (neg_log_f64(xa) - neg_log_f64(xb));
        } else {
            float diff = neg_log_f32(w[2 * p][b]) - neg_log_f32(w[2 * p + 1][b]);
            store_float(out, o, (float)d->fp[0] + (float)d->fp[1] * diff, d->dtype);
        }
        return;
    case K_GUMBEL: { /* fp: loc, scale (float64 for every dtype) */
        double y = d->fp[0] - d->fp[1] * log_f64(neg_log_f64(w64));
        if (d->dtype == D_F64) ((double *)out)[o] = y;
        else store_float(out, o, (float)y, d->dtype);
        return;
    }
    case K_LOG_NORMAL: /* fp: mean, std; the normal of this position, then exp in float64 */
        if (d->dtype == D_F64) {
            uint64_t xa = (uint64_t)w[0][b] | ((uint64_t)w[1][b] << 32);
            uint64_t xb = (uint64_t)w[2][b] | ((uint64_t)w[3][b] << 32);
            double r = sqrt(CD(TWO_F64) * neg_log_f64(xa)), c, s;
            sincos_f64(xb, &c, &s);
            ((double *)out)[o] = exp_f64(d->fp[0] + d->fp[1] * (r * (p == 0 ? c : s)));
        } else {
            int pair = p >> 1;
            float r = sqrtf(CF(TWO_F32) * neg_log_f32(w[2 * pair][b])), c, s;
            sincos_f32(w[2 * pair + 1][b], &c, &s);
            float v = (float)d->fp[0] + (float)d->fp[1] * (r * ((p & 1) == 0 ? c : s));
            store_float(out, o, (float)exp_f64((double)v), d->dtype);
        }
        return;
    case K_GEOMETRIC: /* fp[0] = lam = -ln(1 - p) in the compute dtype */
        if (d->dtype == D_F64) ((double *)out)[o] = floor(neg_log_f64(w64) / d->fp[0]) + 1.0;
        else store_float(out, o, floorf(neg_log_f32(w32) / (float)d->fp[0]) + 1.0f, d->dtype);
        return;
    case K_RANDINT: {
        /* ip[0] = low (mod 2^64), ip[1] = span - 1 (span in [1, 2^64]) */
        uint64_t span_m1 = d->ip[1], v;
        if (span_m1 == UINT64_MAX) v = w64;
        else v = (uint64_t)(((unsigned __int128)w64 * (span_m1 + 1)) >> 64);
        store_int(out, o, d->ip[0] + v, d->elem_size);
        return;
    }
    case K_BERNOULLI: /* ip[0] = threshold, ip[1] = bit pattern of 1 in the output dtype */
        store_int(out, o, (uint64_t)w32 < d->ip[0] ? d->ip[1] : 0, d->elem_size);
        return;
    }
}

/* ------------------------------------------------------- vectorised batches */
/* Each batch function writes the values of all BATCH blocks, in element order, to
 * `o`; the loops are branch-free so that gcc vectorises them.  They compute exactly
 * what emit() computes (tests compare both with the reference engine). */
KS_CLONES
static void batch_uniform_f32(const Draw *d, uint32_t w[4][BATCH], float *o) {
    for (int i = 0; i < BATCH; i++)
        for (int p = 0; p < 4; p++) o[4 * i + p] = (float)(w[p][i] >> 8) * CF(TWO_M24_F32);
    if (d->fp[0] == 0.0 && d->fp[1] == 1.0) return; /* 0 + 1*u == u, and u < 1: nothing to do */
    float lo = (float)d->fp[0], span = (float)d->fp[1], hi = (float)d->fp[2], below = (float)d->fp[3];
    for (int j = 0; j < 4 * BATCH; j++) {
        float x = lo + span * o[j];
        o[j] = x >= hi ? below : x;
    }
}

/* (x >> 11) * 2^-53 without an int64 -> double conversion (which AVX2 lacks):
 * 1.m - 1 with m = the top 52 bits is exact, and adding bit 11 of x times 2^-53 is
 * exact too (every multiple of 2^-53 below 1 is a double). */
static inline double u53(uint64_t x) {
    double hi = f64_of(UINT64_C(0x3FF0000000000000) | (x >> 12)) - CD(ONE_F64);
    return hi + f64_of(((x >> 11) & 1) * UINT64_C(0x3CA0000000000000));
}

KS_CLONES
static void batch_uniform_f64(const Draw *d, uint32_t w[4][BATCH], double *o) {
    for (int i = 0; i < BATCH; i++) {
        uint64_t a = (uint64_t)w[0][i] | ((uint64_t)w[1][i] << 32);
        uint64_t b = (uint64_t)w[2][i] | ((uint64_t)w[3][i] << 32);
        o[2 * i] = u53(a);
        o[2 * i + 1] = u53(b);
    }
    if (d->fp[0] == 0.0 && d->fp[1] == 1.0) return;
    double lo = d->fp[0], span = d->fp[1], hi = d->fp[2], below = d->fp[3];
    for (int j = 0; j < 2 * BATCH; j++) {
        double x = lo + span * o[j];
        o[j] = x >= hi ? below : x;
    }
}

KS_CLONES
static void batch_normal_f32(const Draw *d, uint32_t w[4][BATCH], float *o) {
    float mean = (float)d->fp[0], std = (float)d->fp[1];
    float zc[2][BATCH], zs[2][BATCH];
    for (int pair = 0; pair < 2; pair++) {
        for (int i = 0; i < BATCH; i++) {
            float r = sqrtf(CF(TWO_F32) * neg_log_f32(w[2 * pair][i])), c, s;
            sincos_f32(w[2 * pair + 1][i], &c, &s);
            zc[pair][i] = mean + std * (r * c);
            zs[pair][i] = mean + std * (r * s);
        }
    }
    for (int i = 0; i < BATCH; i++) {
        o[4 * i] = zc[0][i];
        o[4 * i + 1] = zs[0][i];
        o[4 * i + 2] = zc[1][i];
        o[4 * i + 3] = zs[1][i];
    }
}

KS_CLONES
static void batch_normal_f64(const Draw *d, uint32_t w[4][BATCH], double *restrict o) {
    double mean = d->fp[0], std = d->fp[1], zc[BATCH], zs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        uint64_t xa = (uint64_t)w[0][i] | ((uint64_t)w[1][i] << 32);
        uint64_t xb = (uint64_t)w[2][i] | ((uint64_t)w[3][i] << 32);
        double r = sqrt(CD(TWO_F64) * neg_log_f64(xa)), c, s;
        sincos_f64(xb, &c, &s);
        zc[i] = mean + std * (r * c);
        zs[i] = mean + std * (r * s);
    }
    for (int i = 0; i < BATCH; i++) {
        o[2 * i] = zc[i];
        o[2 * i + 1] = zs[i];
    }
}

/* log_normal: the normals of the batch (batch_normal_*: the same operations as emit's), then
 * the stream's float64 exp over the whole batch in one loop, which vectorises (exp_f64 is
 * branch-free), instead of one scalar exp per element. */
KS_CLONES
static void batch_log_normal_f32(const Draw *d, uint32_t w[4][BATCH], float *o) {
    float v[4 * BATCH];
    double x[4 * BATCH];
    batch_normal_f32(d, w, v);
    for (int i = 0; i < 4 * BATCH; i++) x[i] = (double)v[i]; /* (three plain loops vectorise) */
    for (int i = 0; i < 4 * BATCH; i++) x[i] = exp_f64(x[i]);
    for (int i = 0; i < 4 * BATCH; i++) o[i] = (float)x[i];
}

KS_CLONES
static void batch_log_normal_f64(const Draw *d, uint32_t w[4][BATCH], double *o) {
    double v[2 * BATCH];
    batch_normal_f64(d, w, v);
    for (int i = 0; i < 2 * BATCH; i++) o[i] = exp_f64(v[i]);
}

/* geometric: 1 + floor((-ln u) / lam), a batch at a time (vectorises). */
KS_CLONES
static void batch_geometric_f32(const Draw *d, uint32_t w[4][BATCH], float *o) {
    float lam = (float)d->fp[0], v[4][BATCH];
    for (int p = 0; p < 4; p++)
        for (int i = 0; i < BATCH; i++) v[p][i] = floorf(neg_log_f32(w[p][i]) / lam) + 1.0f;
    for (int i = 0; i < BATCH; i++)
        for (int p = 0; p < 4; p++) o[4 * i + p] = v[p][i];
}

KS_CLONES
static void batch_geometric_f64(const Draw *d, uint32_t w[4][BATCH], double *o) {
    double lam = d->fp[0], v[2][BATCH];
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < BATCH; i++) {
            uint64_t x = (uint64_t)w[2 * h][i] | ((uint64_t)w[2 * h + 1][i] << 32);
            v[h][i] = floor(neg_log_f64(x) / lam) + 1.0;
        }
    for (int i = 0; i < BATCH; i++) {
        o[2 * i] = v[0][i];
        o[2 * i + 1] = v[1][i];
    }
}

KS_CLONES
static void batch_exponential_f32(const Draw *d, uint32_t w[4][BATCH], float *o) {
    float lambd = (float)d->fp[0], v[4][BATCH];
    for (int p = 0; p < 4; p++)
        for (int i = 0; i < BATCH; i++) v[p][i] = neg_log_f32(w[p][i]) / lambd;
    for (int i = 0; i < BATCH; i++)
        for (int p = 0; p < 4; p++) o[4 * i + p] = v[p][i];
}

KS_CLONES
static void batch_exponential_f64(const Draw *d, uint32_t w[4][BATCH], double *o) {
    double lambd = d->fp[0], v[2][BATCH];
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < BATCH; i++)
            v[h][i] = neg_log_f64((uint64_t)w[2 * h][i] | ((uint64_t)w[2 * h + 1][i] << 32)) / lambd;
    for (int i = 0; i < BATCH; i++) {
        o[2 * i] = v[0][i];
        o[2 * i + 1] = v[1][i];
    }
}

KS_CLONES
static void batch_laplace_f32(const Draw *d, uint32_t w[4][BATCH], float *o) {
    float loc = (float)d->fp[0], scale = (float)d->fp[1], v[4][BATCH];
    for (int p = 0; p < 4; p++)
        for (int i = 0; i < BATCH; i++) v[p][i] = neg_log_f32(w[p][i]);
    for (int i = 0; i < BATCH; i++) {
        o[2 * i] = loc + scale * (v[0][i] - v[1][i]);
        o[2 * i + 1] = loc + scale * (v[2][i] - v[3][i]);
    }
}

/* gumbel in float64 for every dtype: into `o` as float64 (the caller rounds). */
KS_CLONES
static void batch_gumbel(const Draw *d, uint32_t w[4][BATCH], double *o) {
    double loc = d->fp[0], scale = d->fp[1], v[2][BATCH];
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < BATCH; i++) {
            uint64_t x = (uint64_t)w[2 * h][i] | ((uint64_t)w[2 * h + 1][i] << 32);
            v[h][i] = loc - scale * log_f64(neg_log_f64(x));
        }
    for (int i = 0; i < BATCH; i++) {
        o[2 * i] = v[0][i];
        o[2 * i + 1] = v[1][i];
    }
}

static void batch_randint_i64(const Draw *d, uint32_t w[4][BATCH], uint64_t *o) {
    uint64_t low = d->ip[0], span = d->ip[1] + 1; /* span == 0 encodes 2^64 */
    for (int i = 0; i < BATCH; i++) {
        for (int h = 0; h < 2; h++) {
            uint64_t x = (uint64_t)w[2 * h][i] | ((uint64_t)w[2 * h + 1][i] << 32);
            uint64_t v = span ? (uint64_t)(((unsigned __int128)x * span) >> 64) : x;
            o[2 * i + h] = low + v;
        }
    }
}

KS_CLONES
static void batch_bernoulli(const Draw *d, uint32_t w[4][BATCH], void *out) {
    uint64_t thr = d->ip[0], one = d->ip[1];
    uint32_t v[4][BATCH];
    for (int p = 0; p < 4; p++)
        for (int i = 0; i < BATCH; i++) v[p][i] = (uint64_t)w[p][i] < thr;
    for (int i = 0; i < BATCH; i++)
        for (int p = 0; p < 4; p++) store_int(out, 4 * i + p, v[p][i] ? one : 0, d->elem_size);
}

KS_CLONES
static void batch_bits32(uint32_t w[4][BATCH], uint32_t *o) {
    for (int i = 0; i < BATCH; i++)
        for (int p = 0; p < 4; p++) o[4 * i + p] = w[p][i];
}

/* Values of the whole batch into tmp (elements of the output dtype). */
static void compute_batch(const Draw *d, uint32_t w[4][BATCH], int nb, void *tmp) {
    int k = per_block(d);
    switch (d->kind) {
    case K_BITS32: batch_bits32(w, tmp); return;
    case K_UNIFORM:
        if (d->dtype == D_F32) { batch_uniform_f32(d, w, tmp); return; }
        if (d->dtype == D_F64) { batch_uniform_f64(d, w, tmp); return; }
        break;
    case K_NORMAL:
        if (d->dtype == D_F32) { batch_normal_f32(d, w, tmp); return; }
        if (d->dtype == D_F64) { batch_normal_f64(d, w, tmp); return; }
        break;
    case K_EXPONENTIAL:
        if (d->dtype == D_F32) { batch_exponential_f32(d, w, tmp); return; }
        if (d->dtype == D_F64) { batch_exponential_f64(d, w, tmp); return; }
        break;
    case K_RANDINT:
        if (d->elem_size == 8) { batch_randint_i64(d, w, tmp); return; }
        break;
    case K_BERNOULLI: batch_bernoulli(d, w, tmp); return;
    case K_LAPLACE:
        if (d->dtype == D_F32) { batch_laplace_f32(d, w, tmp); return; }
        break;
    case K_LOG_NORMAL:
        if (d->dtype == D_F32) { batch_log_normal_f32(d, w, tmp); return; }
        if (d->dtype == D_F64) { batch_log_normal_f64(d, w, tmp); return; }
        break;
    case K_GEOMETRIC:
        if (d->dtype == D_F32) { batch_geometric_f32(d, w, tmp); return; }
        if (d->dtype == D_F64) { batch_geometric_f64(d, w, tmp); return; }
        break;
    case K_GUMBEL:
        if (d->dtype == D_F64) { batch_gumbel(d, w, tmp); return; }
        if (d->dtype == D_F32) {
            double y[2 * BATCH];
            batch_gumbel(d, w, y);
            for (int i = 0; i < 2 * BATCH; i++) ((float *)tmp)[i] = (float)y[i];
            return;
        }
        break;
    }
    for (int j = 0; j < nb * k; j++) emit(d, w, j, tmp, j);
}

/* Kinds whose element e uses blocks offset + B e .. offset + B e + B - 1 (docs/spec.md
 * section 4; the generated layout table); 1 for the others. */
static inline int blocks_per_element(const Draw *d) {
    int b = KS_BLOCKS[d->kind];
    return KS_WIDE_F64[d->kind] && d->dtype == D_F64 && b > 1 ? 2 * b : b;
}

/* v = the first of the `count` candidates c[0 ..] inside [lo, hi], else the last one clamped. */
#define FIRST_INSIDE(v, c, count, lo, hi)                                  \
    do {                                                                   \
        (v) = (c)[(count) - 1];                                            \
        (v) = (v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v);                 \
        for (int q_ = 0; q_ < (count); q_++)                               \
            if ((c)[q_] >= (lo) && (c)[q_] <= (hi)) { (v) = (c)[q_]; break; } \
    } while (0)

/* Truncated normal: the first of the element's candidates (its blocks in the randn
 * layout, fp[0], fp[1] = mean, std) inside [fp[2], fp[3]], else the last one clamped. */
static void fill_run_trunc_normal(const Draw *d, uint64_t e0, int64_t len, void *out) {
    uint32_t w[4][BATCH];
    int nblk = blocks_per_element(d), per = BATCH / nblk, count = 16;
    double z64[2 * BATCH], lo64 = d->fp[2], hi64 = d->fp[3];
    float z32[4 * BATCH], lo32 = (float)d->fp[2], hi32 = (float)d->fp[3];
    for (int64_t i = 0; i < len; i += per) {
        int n = len - i < per ? (int)(len - i) : per;
        philox_batch(d->k0, d->k1, d->offset + (e0 + (uint64_t)i) * (uint64_t)nblk, w);
        if (d->dtype == D_F64) {
            batch_normal_f64(d, w, z64);
            for (int j = 0; j < n; j++) {
                double v;
                FIRST_INSIDE(v, z64 + j * count, count, lo64, hi64);
                ((double *)out)[i + j] = v;
            }
        } else {
            batch_normal_f32(d, w, z32);
            for (int j = 0; j < n; j++) {
                float v;
                FIRST_INSIDE(v, z32 + j * count, count, lo32, hi32);
                store_float(out, i + j, v, d->dtype);
            }
        }
    }
}

static void fill_run_trunc_normal_v2(const Draw *d, uint64_t e0, int64_t len, void *out);

/* One run of consecutive elements [e0, e0 + len) to out[0 .. len). */
static void fill_run(const Draw *d, uint64_t e0, int64_t len, void *out) {
    if (d->kind == K_TRUNC_NORMAL) { fill_run_trunc_normal(d, e0, len, out); return; }
    if (d->kind == K_TRUNC_NORMAL_V2) { fill_run_trunc_normal_v2(d, e0, len, out); return; }
    uint32_t w[4][BATCH];
    uint64_t tmp[4 * BATCH]; /* room for 4*BATCH elements of up to 8 bytes */
    int k = per_block(d), size = d->elem_size;
    uint64_t e = e0, end = e0 + (uint64_t)len;
    while (e < end) {
        uint64_t blk = e / (uint64_t)k;
        uint64_t last = (end - 1) / (uint64_t)k;
        int nb = (last - blk + 1) < BATCH ? (int)(last - blk + 1) : BATCH;
        philox_batch(d->k0, d->k1, d->offset + blk, w);
        compute_batch(d, w, nb, tmp);
        int j0 = (int)(e - blk * (uint64_t)k);
        int j1 = nb * k;
        if ((uint64_t)(j1 - j0) > end - e) j1 = j0 + (int)(end - e);
        memcpy((char *)out + (e - e0) * (uint64_t)size, (char *)tmp + (int64_t)j0 * size, (size_t)(j1 - j0) * size);
        e += (uint64_t)(j1 - j0);
    }
}

/* keys[begin, end) and their indices out[begin, end) in key order; equal keys keep their order. */
static void insertion_sort(uint64_t *keys, int64_t *out, int64_t begin, int64_t end) {
    for (int64_t i = begin + 1; i < end; i++) {
        uint64_t k = keys[i];
        int64_t v = out[i], j = i;
        while (j > begin && keys[j - 1] > k) { keys[j] = keys[j - 1]; out[j] = out[j - 1]; j--; }
        keys[j] = k;
        out[j] = v;
    }
}

/* Stream version 2's permutation of n <= PERM_V2_SORT_MAX (docs/spec.md section 10): the
 * permutation key is words 0 and 1 of block `offset` under (k0, k1); the sort keys are the n
 * 64-bit keys a uint64 bits draw gives at offset 0 under the permutation key, sorted as
 * unsigned numbers, ties kept in index order (a stable sort): out[i] is the index of the i-th
 * smallest.  A counting pass on the keys' top bits (about one key a bucket; it keeps index
 * order) and an insertion sort of each bucket give that one order in O(n) for random keys.
 * Up to KS_PERM_SORT_STACK keys need no heap (the small draws' path, which cannot fail); 0, or
 * -1 without memory. */
int ks_perm_sort(uint32_t k0, uint32_t k1, uint64_t offset, int64_t n, int64_t *out) {
    if (n <= 0) return 0;
    if ((uint64_t)n > (uint64_t)KS_PERM_V2_SORT_MAX) return -1;
    uint32_t key[2] = {k0, k1}, w[4];
    uint32_t ctr0[4] = {(uint32_t)offset, (uint32_t)(offset >> 32), 0, 0};
    ks_philox(ctr0, key, (int)KS_PHILOX_ROUNDS, w);
    int bits = 1;
    while (bits < 17 && ((int64_t)1 << bits) < n) bits++;
    int64_t buckets = (int64_t)1 << bits;  /* (< 2n) */
    uint64_t stack_keys[2 * KS_PERM_SORT_STACK];
    int64_t stack_count[2 * KS_PERM_SORT_STACK + 1];
    int heap = n > KS_PERM_SORT_STACK;
    uint64_t *keys = heap ? malloc((size_t)n * 2 * sizeof(uint64_t)) : stack_keys;
    int64_t *count = heap ? malloc((size_t)(buckets + 1) * sizeof(int64_t)) : stack_count;
    if (keys == NULL || count == NULL) {
        if (heap) { free(keys); free(count); }
        return -1;
    }
    Draw d;  /* (the uint64 bits draw's own kernel) */
    memset(&d, 0, sizeof d);
    d.kind = K_BITS64;
    d.elem_size = 8;
    d.k0 = w[0];
    d.k1 = w[1];
    fill_run(&d, 0, n, keys);
    uint64_t *sorted = keys + n;
    int shift = 64 - bits;
    memset(count, 0, (size_t)(buckets + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) count[(keys[i] >> shift) + 1]++;
    for (int64_t b = 0; b < buckets; b++) count[b + 1] += count[b];
    for (int64_t i = 0; i < n; i++) {
        int64_t at = count[keys[i] >> shift]++;
        sorted[at] = keys[i];
        out[at] = i;
    }
    int64_t begin = 0;  /* (count[b] is now the end of bucket b) */
    for (int64_t b = 0; b < buckets; b++) {
        if (count[b] - begin > 1) insertion_sort(sorted, out, begin, count[b]);
        begin = count[b];
    }
    if (heap) { free(keys); free(count); }
    return 0;
}

/* Parts per job: one per thread.  (Four per thread balanced late wake-ups, but made
 * draws into fresh pages 2.5x slower for the first dozen 64 MiB outputs: measured.) */
static inline int parts_for(int nthreads) { return nthreads > 1 ? nthreads : 1; }

/* ------------------------------------------------------------- permutation */
static inline uint32_t fmix32(uint32_t v) {
    v ^= v >> 16; v *= KS_FMIX_M0; v ^= v >> 13; v *= KS_FMIX_M1; v ^= v >> 16;
    return v;
}

static inline uint64_t feistel(uint64_t x, const uint64_t *keys, int h) {
    uint64_t mask = (h == 32) ? 0xFFFFFFFFu : ((UINT64_C(1) << h) - 1);
    uint64_t left = x >> h, right = x & mask;
    for (int i = 0; i < (int)KS_FEISTEL_ROUNDS; i++) {
        uint64_t nl = right;
        right = left ^ ((uint64_t)fmix32((uint32_t)right ^ (uint32_t)keys[i]) & mask);
        left = nl;
    }
    return (left << h) | right;
}

/* feistel() on BATCH inputs at once in 32-bit lanes (a half has h <= 32 bits), which the
 * compiler vectorises; the same values as feistel(). */
KS_CLONES
static void feistel_lanes(const uint64_t x[BATCH], const uint64_t *keys, int h, uint64_t y[BATCH]) {
    uint32_t mask = (h == 32) ? 0xFFFFFFFFu : (uint32_t)((UINT64_C(1) << h) - 1);
    uint32_t left[BATCH], right[BATCH];
    for (int j = 0; j < BATCH; j++) {
        left[j] = (uint32_t)(x[j] >> h);
        right[j] = (uint32_t)x[j] & mask;
    }
    for (int i = 0; i < (int)KS_FEISTEL_ROUNDS; i++) {
        uint32_t k = (uint32_t)keys[i];
        for (int j = 0; j < BATCH; j++) {
            uint32_t nl = right[j];
            right[j] = left[j] ^ (fmix32(right[j] ^ k) & mask);
            left[j] = nl;
        }
    }
    for (int j = 0; j < BATCH; j++) y[j] = ((uint64_t)left[j] << h) | right[j];
}

/* pi(x[j]) for j < m: a batch of Feistel rounds, then the cycle walk of those that fell
 * outside [0, n) one by one (rare: n > 4^h / 4). */
static void permute_batch(uint64_t x[BATCH], int m, uint64_t n, const uint64_t *keys, int h, uint64_t y[BATCH]) {
    for (int j = m; j < BATCH; j++) x[j] = 0;
    feistel_lanes(x, keys, h, y);
    for (int j = 0; j < m; j++)
        while (y[j] >= n) y[j] = feistel(y[j], keys, h);
}

/* Stream version 2's Feistel network (docs/spec.md section 10) on [0, 2^k), in BATCH lanes:
 * x = L 2^b + R, L of a = ceil(k/2) bits, R of b = floor(k/2) bits; round r's function of a
 * half v is word v & 3 of the Philox block with counter (v >> 2, r, TAG_PERM_ROUND, 2) under
 * the permutation key (k0, k1); even rounds add F_r(R) to L modulo 2^a, odd rounds F_r(L)
 * to R modulo 2^b.  Halves have at most 32 bits (k <= 63 for n <= 2^63). */
KS_CLONES
static void feistel_v2_lanes(uint32_t left[BATCH], uint32_t right[BATCH], uint32_t k0, uint32_t k1, int k) {
    int a = (k + 1) / 2, b = k / 2;
    uint32_t ma = a == 32 ? 0xFFFFFFFFu : (uint32_t)((UINT64_C(1) << a) - 1);
    uint32_t mb = (uint32_t)((UINT64_C(1) << b) - 1);
    uint32_t c0[BATCH], c1[BATCH], c2[BATCH], c3[BATCH], w[4][BATCH];
    for (int r = 0; r < (int)KS_PERM_V2_ROUNDS; r++) {
        uint32_t *src = (r & 1) ? left : right, *dst = (r & 1) ? right : left;
        uint32_t m = (r & 1) ? mb : ma;
        for (int j = 0; j < BATCH; j++) {
            c0[j] = src[j] >> 2;
            c1[j] = (uint32_t)r;
            c2[j] = KS_TAG_PERM_ROUND;
            c3[j] = KS_PERM_ROUND_C3;
        }
        PHILOX_LANES(k0, k1, c0, c1, c2, c3, w);
        for (int j = 0; j < BATCH; j++) {
            uint32_t q = src[j] & 3u;
            uint32_t f = q == 0 ? w[0][j] : q == 1 ? w[1][j] : q == 2 ? w[2][j] : w[3][j];
            dst[j] = (dst[j] + (f & m)) & m;
        }
    }
}

/* The round functions as tables (the same values, computed once): tab[r 2^a + v] = F_r(v)
 * under round r's mask, for v < 2^b (even r) or v < 2^a (odd r); 10 2^a words.  Worth it
 * when a lookup needs many more blocks than the tables: a whole randperm, an epoch's
 * indices. */
KS_CLONES
void ks_perm_v2_tables(uint32_t k0, uint32_t k1, int k, uint32_t *tab) {
    int a = (k + 1) / 2, b = k / 2;
    uint64_t stride = UINT64_C(1) << a;
    uint32_t ma = a == 32 ? 0xFFFFFFFFu : (uint32_t)(stride - 1), mb = (uint32_t)((UINT64_C(1) << b) - 1);
    uint32_t c0[BATCH], c1[BATCH], c2[BATCH], c3[BATCH], w[4][BATCH];
    for (int r = 0; r < (int)KS_PERM_V2_ROUNDS; r++) {
        uint64_t size = (r & 1) ? stride : (UINT64_C(1) << b);
        uint32_t m = (r & 1) ? mb : ma;
        uint32_t *t = tab + (uint64_t)r * stride;
        for (uint64_t v0 = 0; v0 < size; v0 += 4 * BATCH) {
            for (int j = 0; j < BATCH; j++) {
                c0[j] = (uint32_t)((v0 >> 2) + (uint64_t)j);
                c1[j] = (uint32_t)r;
                c2[j] = KS_TAG_PERM_ROUND;
                c3[j] = KS_PERM_ROUND_C3;
            }
            PHILOX_LANES(k0, k1, c0, c1, c2, c3, w);
            for (int j = 0; j < BATCH; j++)
                for (int q = 0; q < 4; q++) {
                    uint64_t v = v0 + 4 * (uint64_t)j + (uint64_t)q;
                    if (v < size) t[v] = w[q][j] & m;
                }
        }
    }
}

/* feistel_v2_lanes with the round functions read from the tables. */
static void feistel_v2_lanes_tab(uint32_t left[BATCH], uint32_t right[BATCH], const uint32_t *tab, int k) {
    int a = (k + 1) / 2, b = k / 2;
    uint64_t stride = UINT64_C(1) << a;
    uint32_t ma = a == 32 ? 0xFFFFFFFFu : (uint32_t)(stride - 1), mb = (uint32_t)((UINT64_C(1) << b) - 1);
    for (int r = 0; r < (int)KS_PERM_V2_ROUNDS; r++) {
        const uint32_t *t = tab + (uint64_t)r * stride;
        if (r & 1)
            for (int j = 0; j < BATCH; j++) right[j] = (right[j] + t[left[j]]) & mb;
        else
            for (int j = 0; j < BATCH; j++) left[j] = (left[j] + t[right[j]]) & ma;
    }
}

/* Version 2's pi(x) for count indices (idx[i], or first + i when idx is NULL) into out
 * (int64, or elem_size-byte integers through store_int): BATCH lanes, each holding one
 * index's walk; a lane whose value falls in [0, n) delivers it and takes the next index,
 * so the cycle walk (under 2 steps on average) keeps every lane busy.  tab: the round
 * tables (ks_perm_v2_tables), or NULL (a Philox block per lane and round). */
static void permute_v2_stream(uint64_t n, uint32_t k0, uint32_t k1, const uint32_t *tab, const int64_t *idx,
                              uint64_t first, int64_t count, void *out, int elem_size) {
    int k = 64 - __builtin_clzll(n - 1), b = k / 2;
    uint64_t mb = (UINT64_C(1) << b) - 1;
    uint32_t left[BATCH], right[BATCH];
    int64_t slot[BATCH];
    int64_t next = 0, pending = 0;
    for (int j = 0; j < BATCH; j++) {
        slot[j] = -1;
        left[j] = right[j] = 0;
    }
    for (;;) {
        for (int j = 0; j < BATCH; j++) {
            if (slot[j] < 0 && next < count) {
                uint64_t x = idx ? (uint64_t)idx[next] : first + (uint64_t)next;
                left[j] = (uint32_t)(x >> b);
                right[j] = (uint32_t)(x & mb);
                slot[j] = next++;
                pending++;
            }
        }
        if (pending == 0) return;
        if (tab) feistel_v2_lanes_tab(left, right, tab, k);
        else feistel_v2_lanes(left, right, k0, k1, k);
        for (int j = 0; j < BATCH; j++) {
            if (slot[j] < 0) continue;
            uint64_t y = ((uint64_t)left[j] << b) | right[j];
            if (y < n) {
                store_int(out, slot[j], y, elem_size);
                slot[j] = -1;
                pending--;
            }
        }
    }
}

static void fill_perm(const Draw *d, uint64_t e0, int64_t len, void *out) {
    uint64_t n = d->ip[0], x[BATCH], y[BATCH];
    int h = (int)d->ip[1];
    for (int64_t i0 = 0; i0 < len; i0 += BATCH) {
        int m = len - i0 < BATCH ? (int)(len - i0) : BATCH;
        for (int j = 0; j < m; j++) x[j] = e0 + (uint64_t)(i0 + j);
        permute_batch(x, m, n, d->ip + 2, h, y);
        for (int j = 0; j < m; j++) store_int(out, i0 + j, y[j], d->elem_size);
    }
}

/* Exact summation (Monte Carlo accumulators): the finite doubles x[0..n) and their
 * squares (x*x, one IEEE multiplication each) are added exactly into two fixed-point
 * accumulators of KS_LIMBS 32-bit limbs (held in int64), limb i worth 2^(32 i - 1074).
 * Integer adds are associative, so the sums are the same for any order, chunking or
 * thread count.
 *
 * Two ways, the same integers:
 * - window_sum (the fast path, below): binned floating-point sums that are exact by
 *   construction, vectorised; taken when every value and square is finite and the
 *   range's largest magnitude is neither huge nor tiny.
 * - bucket_sum_range (any input): a finite double is m * 2^(p - 1074) with m < 2^53
 *   and p = max(e - 1, 0) from its biased exponent e; the loop adds the signed low
 *   and high 32-bit halves of m into buckets indexed by p (no branches), folded into
 *   the limbs once per call.  Four interleaved bucket sets keep consecutive values of
 *   the same magnitude from waiting on each other's stores.  Non-finite values are
 *   counted and add nothing.
 * Every limb gets less than 2^33 per value, so a call may take up to 2^28 values. */
#define KS_LIMBS 68
#define KS_SETS 4
#define KS_EXP 2048

/* [p][set][lo, hi]: the buckets of one exponent share a cache line, and the halves
 * and sets of a value never sit a multiple of 4 KiB apart (which stalls the loads
 * behind the stores on x86). */
typedef struct {
    int64_t b[KS_EXP][KS_SETS][2];
    int64_t pad[16]; /* the two Buckets of a call are not 4 KiB-aligned to each other */
} Buckets;

/* limbs += v * 2^q (units of 2^-1074), v any int64 below 2^62 in magnitude. */
static void add_shifted(int64_t *limbs, uint64_t q, int64_t v) {
    uint64_t L = q >> 5, r = q & 31;
    uint64_t a0 = (uint64_t)v & 0xFFFFFFFFu;
    int64_t a1 = v >> 32; /* arithmetic shift: v = a0 + a1 * 2^32 */
    uint64_t t0 = a0 << r;
    int64_t t1 = a1 * ((int64_t)1 << r);
    limbs[L] += (int64_t)(t0 & 0xFFFFFFFFu);
    limbs[L + 1] += (int64_t)(t0 >> 32) + (int64_t)((uint64_t)t1 & 0xFFFFFFFFu);
    limbs[L + 2] += t1 >> 32;
}

/* Add the buckets to the limbs (and clear them). */
static void fold(Buckets *b, int64_t *limbs) {
    for (int p = 0; p < KS_EXP; p++) {
        int64_t lo = 0, hi = 0;
        for (int k = 0; k < KS_SETS; k++) {
            lo += b->b[p][k][0];
            hi += b->b[p][k][1];
            b->b[p][k][0] = b->b[p][k][1] = 0;
        }
        if (lo) add_shifted(limbs, (uint64_t)p, lo);
        if (hi) add_shifted(limbs, (uint64_t)p + 32, hi);
    }
}

/* Add m * 2^(p - 1074) of the double with bits u (masked to nothing when keep == 0). */
static inline void bucket_add(Buckets *b, int k, uint64_t u, uint64_t keep) {
    uint64_t e = (u >> 52) & 0x7FF;
    uint64_t m = ((u & ((UINT64_C(1) << 52) - 1)) | ((uint64_t)(e != 0) << 52)) & keep;
    uint64_t p = e - (e != 0);
    int64_t s = -(int64_t)(u >> 63); /* 0 or -1: (x ^ s) - s negates when s = -1 */
    b->b[p][k][0] += ((int64_t)(m & 0xFFFFFFFFu) ^ s) - s;
    b->b[p][k][1] += ((int64_t)(m >> 32) ^ s) - s;
}

static inline int64_t add_value(Buckets *bs, int k, double v) {
    uint64_t u = bits_f64(v);
    uint64_t finite = ((u >> 52) & 0x7FF) != 0x7FF;
    uint64_t keep = (uint64_t)0 - finite;
    bucket_add(&bs[0], k, u, keep);
    bucket_add(&bs[1], k, bits_f64(v * v), keep);
    return (int64_t)(1 - finite);
}

/* The general path (any input): buckets allocated per call (the fast path below
 * takes the common cases, so a calloc here costs little). */
static int64_t bucket_sum_range(const double *x, int64_t n, int64_t *sum_limbs, int64_t *sq_limbs) {
    Buckets *bs = calloc(2, sizeof(Buckets));
    if (bs == NULL) return -1;
    int64_t bad = 0, i = 0;
    for (; i + KS_SETS <= n; i += KS_SETS)
        for (int k = 0; k < KS_SETS; k++) bad += add_value(bs, k, x[i + k]);
    for (; i < n; i++) bad += add_value(bs, 0, x[i]);
    fold(&bs[0], sum_limbs);
    fold(&bs[1], sq_limbs);
    free(bs);
    return bad;
}

/* The fast path: binned sums in floating point, exact by construction.
 *
 * With every |v| < 2^T in the range, boundaries b_k = T - XW (k + 1), k < XK, split
 * each v into pieces t_k, multiples of 2^b_k with |t_k| <= 2^(b_k + XW):
 *     t_k = (r + C_k) - C_k,  r -= t_k,  with C_k = 1.5 * 2^(b_k + 52)
 * (r + C_k lies in [2^(b_k+52), 2^(b_k+53)), whose spacing is 2^b_k, so t_k is r
 * rounded to a multiple of 2^b_k and r - t_k is exact).  Bin k's accumulator adds at
 * most XFLUSH pieces per lane, so every partial sum is a multiple of 2^b_k below
 * 2^(b_k + 53): exact.  Accumulators go into the limbs every XFLUSH values per lane;
 * a value with bits below the window (a nonzero final r, rare) adds r there directly.
 * All of this is plain IEEE addition in lanes that gcc vectorises. */
#define XW 40
#define XK 3
#define XL 8
#define XFLUSH 4096 /* <= 2^(53 - XW) */

/* limbs += v exactly (any finite double). */
static void add_double(int64_t *limbs, double v) {
    uint64_t u = bits_f64(v);
    uint64_t e = (u >> 52) & 0x7FF;
    uint64_t m = (u & ((UINT64_C(1) << 52) - 1)) | ((uint64_t)(e != 0) << 52);
    if (m == 0) return;
    add_shifted(limbs, e - (e != 0), (u >> 63) ? -(int64_t)m : (int64_t)m);
}

/* The largest biased exponents of x[i] and of x[i] * x[i]. */
KS_CLONES
static void max_exponents(const double *x, int64_t n, uint64_t *ev, uint64_t *eq) {
    const uint64_t mask = UINT64_C(0x7FF0000000000000);
    uint64_t a = 0, b = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t u = bits_f64(x[i]) & mask, w = bits_f64(x[i] * x[i]) & mask;
        a = a > u ? a : u;
        b = b > w ? b : w;
    }
    *ev = a >> 52;
    *eq = b >> 52;
}

/* T with |v| < 2^T for biased exponent e, if the window fits doubles; else 0x7FFF. */
static int window_top(uint64_t e) {
    int t = (e == 0 ? 1 : (int)e) - 1022;
    return (t - XW * XK >= -1074 && t - XW + 52 <= 1023) ? t : 0x7FFF;
}

static void flush(double acc[XK][XL], int64_t *limbs) {
    for (int k = 0; k < XK; k++)
        for (int j = 0; j < XL; j++) {
            add_double(limbs, acc[k][j]);
            acc[k][j] = 0.0;
        }
}

KS_CLONES
static void window_sum(const double *x, int64_t n, int t, int tq, int64_t *sum_limbs, int64_t *sq_limbs) {
    double c[XK], cq[XK];
    for (int k = 0; k < XK; k++) {
        c[k] = f64_of(((uint64_t)(t - XW * (k + 1) + 52 + 1023) << 52) | (UINT64_C(1) << 51));
        cq[k] = f64_of(((uint64_t)(tq - XW * (k + 1) + 52 + 1023) << 52) | (UINT64_C(1) << 51));
    }
    double acc[XK][XL] = {{0}}, accq[XK][XL] = {{0}}, rem[XL], remq[XL];
    int64_t i = 0;
    int count = 0;
    for (; i + XL <= n; i += XL) {
        uint64_t spill = 0;
        for (int j = 0; j < XL; j++) {
            double r = x[i + j], q = r * r;
            for (int k = 0; k < XK; k++) {
                double p = (r + c[k]) - c[k];
                r = r - p;
                acc[k][j] = acc[k][j] + p;
                double pq = (q + cq[k]) - cq[k];
                q = q - pq;
                accq[k][j] = accq[k][j] + pq;
            }
            rem[j] = r;
            remq[j] = q;
            spill |= (bits_f64(r) | bits_f64(q)) << 1; /* nonzero unless both are +-0 */
        }
        if (spill)
            for (int j = 0; j < XL; j++) {
                add_double(sum_limbs, rem[j]);
                add_double(sq_limbs, remq[j]);
            }
        if (++count == XFLUSH) {
            flush(acc, sum_limbs);
            flush(accq, sq_limbs);
            count = 0;
        }
    }
    for (; i < n; i++) {
        add_double(sum_limbs, x[i]);
        add_double(sq_limbs, x[i] * x[i]);
    }
    flush(acc, sum_limbs);
    flush(accq, sq_limbs);
}

static int64_t exact_sum_range(const double *x, int64_t n, int64_t *sum_limbs, int64_t *sq_limbs) {
    uint64_t ev, eq;
    max_exponents(x, n, &ev, &eq);
    int t = window_top(ev), tq = window_top(eq);
    if (ev == 0x7FF || eq == 0x7FF || t == 0x7FFF || tq == 0x7FFF)
        return bucket_sum_range(x, n, sum_limbs, sq_limbs); /* non-finite, huge or tiny values */
    window_sum(x, n, t, tq, sum_limbs, sq_limbs);
    return 0;
}

typedef struct {
    const double *x;
    int64_t n;
    int64_t (*limbs)[2][KS_LIMBS]; /* one pair per part */
    int64_t *bad;                  /* one count per part */
} SumJob;

static void sum_part(void *ctx, int part, int nparts) {
    SumJob *j = ctx;
    int64_t lo = j->n * part / nparts, hi = j->n * (part + 1) / nparts;
    j->bad[part] = exact_sum_range(j->x + lo, hi - lo, j->limbs[part][0], j->limbs[part][1]);
}

/* Exact sums of x[0..n) and of the squares on `nthreads` threads, added to
 * sum_limbs / sq_limbs (KS_LIMBS each).  Returns the number of non-finite values,
 * or -1 when out of memory (nothing added then). */
int64_t ks_exact_sums(const double *x, int64_t n, int nthreads, int64_t *sum_limbs, int64_t *sq_limbs) {
    if (nthreads < 1) nthreads = 1;
    int nparts = nthreads;
    SumJob j = {x, n, calloc((size_t)nparts, sizeof *j.limbs), calloc((size_t)nparts, sizeof(int64_t))};
    int64_t bad = 0;
    if (j.limbs == NULL || j.bad == NULL) {
        bad = -1;
    } else {
        ks_parallel(sum_part, &j, nparts, nthreads);
        for (int p = 0; p < nparts && bad >= 0; p++) bad = j.bad[p] < 0 ? -1 : bad + j.bad[p];
        if (bad >= 0)
            for (int p = 0; p < nparts; p++)
                for (int i = 0; i < KS_LIMBS; i++) {
                    sum_limbs[i] += j.limbs[p][0][i];
                    sq_limbs[i] += j.limbs[p][1][i];
                }
    }
    free(j.limbs);
    free(j.bad);
    return bad;
}

int ks_limbs(void) { return KS_LIMBS; }

/* pi(idx[i]) for arbitrary indices (Permutation.__getitem__ on a tensor), on
 * `nthreads` threads.  keys: the 8 round keys; idx must lie in [0, n). */
typedef struct {
    uint64_t n;
    int h;
    const uint64_t *keys;
    const int64_t *idx;
    int64_t count;
    void *out;
    const uint32_t *tab;  /* version 2: the round tables, or NULL */
    uint64_t first;       /* version 2: the first index when idx is NULL */
    int elem_size;        /* version 2: bytes per output integer */
} PermJob;

static void perm_part(void *ctx, int part, int nparts) {
    const PermJob *j = ctx;
    int64_t lo = j->count * part / nparts, hi = j->count * (part + 1) / nparts;
    uint64_t x[BATCH], y[BATCH];
    for (int64_t i0 = lo; i0 < hi; i0 += BATCH) {
        int m = hi - i0 < BATCH ? (int)(hi - i0) : BATCH;
        for (int k = 0; k < m; k++) x[k] = (uint64_t)j->idx[i0 + k];
        permute_batch(x, m, j->n, j->keys, j->h, y);
        for (int k = 0; k < m; k++) ((int64_t *)j->out)[i0 + k] = (int64_t)y[k];
    }
}

void ks_permute_indices(uint64_t n, int h, const uint64_t *keys, const int64_t *idx, int64_t count, int64_t *out,
                        int nthreads) {
    PermJob j = {n, h, keys, idx, count, out};
    ks_parallel(perm_part, &j, parts_for(nthreads), nthreads);
}

/* Stream version 2: pi(idx[i]) of the Feistel network (n > 2^16) under the permutation key
 * keys[0], keys[1]; idx must lie in [0, n). */
static void perm_v2_part(void *ctx, int part, int nparts) {
    const PermJob *j = ctx;
    int64_t lo = j->count * part / nparts, hi = j->count * (part + 1) / nparts;
    if (hi > lo)
        permute_v2_stream(j->n, (uint32_t)j->keys[0], (uint32_t)j->keys[1], j->tab, j->idx ? j->idx + lo : NULL,
                          j->first + (uint64_t)lo, hi - lo, (char *)j->out + lo * j->elem_size, j->elem_size);
}

/* idx NULL: the indices first .. first + count - 1; out: elem_size-byte integers; tab: the
 * round tables or NULL. */
void ks_permute_v2_indices(uint64_t n, const uint64_t *keys, const uint32_t *tab, const int64_t *idx, uint64_t first,
                           int64_t count, void *out, int elem_size, int nthreads) {
    PermJob j = {n, 0, keys, idx, count, out};
    j.tab = tab;
    j.first = first;
    j.elem_size = elem_size;
    ks_parallel(perm_v2_part, &j, parts_for(nthreads), nthreads);
}

/* ------------------------------------------------------------ multinomial */
/* keystream.multinomial's definitions (docs/spec.md section 8), per row on `nthreads`
 * threads: without replacement, the n smallest keys E / w (E: the float64 exponential
 * draw of the (rows, cats) virtual tensor; equal keys in column order); with
 * replacement, the prefix sums of q = floor(w * 2^(K - e)), max w = m 2^e, searched for
 * floor(x * Q / 2^64), x the 64-bit words of the (rows, n) bits draw.  Each row's
 * weights are checked as it is read: the call returns 1 (a negative, NaN or inf weight),
 * 2 (a row with fewer weights > 0 than it needs) or 0, with `out` complete only for 0. */
#define KS_MULT_MAX_N 64
#define KS_MAX_PARTS 256

typedef struct {
    Draw d; /* the draw whose elements the samples read */
    const void *w;
    int w_f32, replacement;
    int64_t rows, cats, n;
    int k; /* K */
    int version; /* the stream version: 2 never ranks a weight of 0 with the infinite keys of tiny weights */
    int64_t *out;
    int failed;
    int status[KS_MAX_PARTS]; /* per part: 0, or 1 (a bad weight), 2 (a row short of weights > 0) */
    int64_t need;             /* weights > 0 a row needs */
} MultJob;

/* Check one row of weights (converted to double): 1 for a negative, NaN or inf weight, 2 for
 * fewer than `need` weights > 0, else 0; and the largest weight (the patterns of weights
 * >= 0, sign bit cleared for -0.0, order as the weights do: an integer maximum, which
 * vectorises). */
static inline int row_status(const double *row, int64_t cats, int64_t need, double *top_out) {
    int64_t positive = 0, ok = 1;
    uint64_t top = 0;
    const uint64_t *bits = (const uint64_t *)(const void *)row;
    for (int64_t c = 0; c < cats; c++) { /* one pass, no branch: it vectorises */
        ok &= (int64_t)(row[c] >= 0.0) & (int64_t)(row[c] <= DBL_MAX);
        positive += (int64_t)(row[c] > 0.0);
        uint64_t b = bits[c] & UINT64_C(0x7FFFFFFFFFFFFFFF);
        top = b > top ? b : top;
    }
    int64_t bad = !ok;
    *top_out = f64_of(top);
    return bad ? 1 : positive < need ? 2 : 0;
}

static inline void load_row(const MultJob *j, int64_t r, double *row) {
    if (j->w_f32) {
        const float *src = (const float *)j->w + r * j->cats;
        for (int64_t c = 0; c < j->cats; c++) row[c] = (double)src[c];
    } else {
        memcpy(row, (const double *)j->w + r * j->cats, (size_t)j->cats * sizeof *row);
    }
}


KS_CLONES
static void mult_part(void *ctx, int part, int nparts) {
    MultJob *j = ctx;
    int64_t r0 = j->rows * part / nparts, r1 = j->rows * (part + 1) / nparts, cats = j->cats, n = j->n;
    if (r0 >= r1) return;
    if (j->replacement) {
        int64_t *prefix = malloc((size_t)cats * sizeof *prefix);
        double *row = malloc((size_t)cats * sizeof *row);
        uint64_t *x = malloc((size_t)n * sizeof *x);
        if (!prefix || !row || !x) { j->failed = 1; free(prefix); free(row); free(x); return; }
        for (int64_t r = r0; r < r1; r++) {
            load_row(j, r, row);
            double top;
            int bad = row_status(row, cats, j->need, &top);
            if (bad) { /* keep looking for a bad weight: it wins over a short row, whatever the split */
                if (bad == 1) { j->status[part] = 1; break; }
                j->status[part] = 2;
                continue;
            }
            int e, shift, a;
            (void)frexp(top, &e); /* top = m 2^e, m in [0.5, 1) */
            shift = j->k - e;
            a = shift < 1000 ? shift : 1000;
            double sa = ldexp(1.0, a), sb = ldexp(1.0, shift - a); /* 2^(K - e), exactly, in two steps */
            /* q = floor((w 2^a) 2^(K - e - a)): a conversion's truncation is the floor of these
             * nonnegative values below 2^52 (a loop of its own: it vectorises), then the sums */
            for (int64_t c = 0; c < cats; c++) prefix[c] = (int64_t)((row[c] * sa) * sb);
            int64_t acc = 0;
            for (int64_t c = 0; c < cats; c++) {
                acc += prefix[c];
                prefix[c] = acc;
            }
            uint64_t total = (uint64_t)prefix[cats - 1];
            fill_run(&j->d, (uint64_t)(r * n), n, x);
            for (int64_t s = 0; s < n; s++) {
                int64_t t = (int64_t)(((unsigned __int128)x[s] * total) >> 64);
                /* the first c with prefix[c] > t (one exists: t < Q), without branches */
                int64_t lo = 0, len = cats;
                while (len > 1) {
                    int64_t half = len / 2;
                    lo = prefix[lo + half - 1] <= t ? lo + half : lo;
                    len -= half;
                }
                j->out[r * n + s] = lo + (prefix[lo] <= t);
            }
        }
        free(prefix); free(row); free(x);
        return;
    }
    double *e = malloc((size_t)cats * sizeof *e), *row = malloc((size_t)cats * sizeof *row), best[KS_MULT_MAX_N];
    int64_t at[KS_MULT_MAX_N];
    if (!e || !row) { j->failed = 1; free(e); free(row); return; }
    for (int64_t r = r0; r < r1; r++) {
        load_row(j, r, row);
        double top;
        int bad = row_status(row, cats, j->need, &top);
        if (bad) {
            if (bad == 1) { j->status[part] = 1; break; }
            j->status[part] = 2;
            continue;
        }
        fill_run(&j->d, (uint64_t)(r * cats), cats, e);
        int64_t m = 0;
        for (int64_t c = 0; c < cats; c++) {
            if (j->version >= 2 && row[c] == 0.0) continue; /* never drawn (the row has n weights > 0) */
            double key = e[c] / row[c];
            if (m == n && !(key < best[n - 1])) continue; /* an equal key: the earlier column stays */
            int64_t p = m < n ? m++ : n - 1;
            while (p > 0 && best[p - 1] > key) { best[p] = best[p - 1]; at[p] = at[p - 1]; p--; }
            best[p] = key; at[p] = c;
        }
        for (int64_t s = 0; s < n; s++) j->out[r * n + s] = at[s];
    }
    free(e); free(row);
}

int ks_multinomial(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, const void *w, int w_f32,
                   int64_t rows, int64_t cats, int64_t n, int replacement, int k, int64_t *out, int version) {
    MultJob j;
    memset(&j, 0, sizeof j);
    j.d.k0 = k0; j.d.k1 = k1; j.d.offset = offset;
    if (replacement) { j.d.kind = K_BITS64; j.d.dtype = D_F32; j.d.elem_size = 8; }
    else { j.d.kind = K_EXPONENTIAL; j.d.dtype = D_F64; j.d.elem_size = 8; j.d.fp[0] = 1.0; }
    if (!replacement && n > KS_MULT_MAX_N) return -2;
    j.w = w; j.w_f32 = w_f32; j.replacement = replacement;
    j.rows = rows; j.cats = cats; j.n = n; j.out = out;
    j.k = k;
    j.version = version;
    j.need = replacement ? 1 : n;
    int nparts = parts_for(nthreads) < KS_MAX_PARTS ? parts_for(nthreads) : KS_MAX_PARTS;
    ks_parallel(mult_part, &j, nparts, nthreads < nparts ? nthreads : nparts);
    if (j.failed) return -1;
    int status = 0; /* a bad weight anywhere wins over a short row */
    for (int p = 0; p < nparts; p++)
        if (j.status[p] == 1 || (j.status[p] == 2 && status == 0)) status = j.status[p];
    return status;
}

/* ------------------------------------------------------------- parameters */
/* A parameter: float32 or float64 values, one per element (step 1) or one for all (step 0). */
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

/* ---------------------------------------------------------------- gamma */
/* keystream.standard_gamma (NOTE [ Gamma with a fixed number of candidates ] in
 * _composite.py): element e reads normal 12e + i of the float64 normal draw at z_offset
 * and exponential 13e + i of the float64 exponential draw at e_offset; the candidates
 * after the first accepted one are never computed (the value does not depend on them). */
typedef struct {
    uint32_t k0, k1;
    uint64_t z_offset, e_offset;
    Param alpha;        /* the alphas are alpha * alpha_scale (exact: chi2's df * 0.5) */
    double alpha_scale;
    double mult;        /* then value * mult (chi2: 2) ... */
    Param rate;         /* ... / rate (gamma), where rate.p is not NULL ... */
    Param numer;        /* ... and numer / sqrt(that) where numer.p is not NULL (student_t); rounded once */
    void *out;
    int out_f32;
    int64_t n;
    int version; /* the stream version: 2 takes exp with gradual underflow for the boost */
} GammaJob;

static inline void block_at(const GammaJob *j, uint64_t b, uint32_t w[4]) {
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), 0, 0}, key[2] = {j->k0, j->k1};
    ks_philox(ctr, key, (int)KS_PHILOX_ROUNDS, w);
}

static double gamma_element(const GammaJob *j, uint64_t e, double a) {
    int boost = a < 1.0;
    double s = boost ? a + CD(ONE_F64) : a, d = s - CD(THIRD_F64);
    double c = CD(ONE_F64) / sqrt(CD(NINE_F64) * d), value = d;
    uint32_t zw[4], ew[4];
    uint64_t zb = UINT64_MAX, eb = UINT64_MAX;
    double zc = 0.0, zs = 0.0;
    for (uint64_t i = 0; i < 12; i++) {
        uint64_t zi = 12 * e + i, ei = 13 * e + i;
        if (j->z_offset + zi / 2 != zb) { /* a float64 normal block: the pair (cos, sin) */
            zb = j->z_offset + zi / 2;
            block_at(j, zb, zw);
            double r = sqrt(CD(TWO_F64) * neg_log_f64((uint64_t)zw[0] | ((uint64_t)zw[1] << 32)));
            sincos_f64((uint64_t)zw[2] | ((uint64_t)zw[3] << 32), &zc, &zs);
            zc = r * zc;
            zs = r * zs;
        }
        double z = zi % 2 == 0 ? zc : zs;
        if (j->e_offset + ei / 2 != eb) { eb = j->e_offset + ei / 2; block_at(j, eb, ew); }
        int h = (int)(ei % 2);
        double E = neg_log_f64((uint64_t)ew[2 * h] | ((uint64_t)ew[2 * h + 1] << 32));
        double t = CD(ONE_F64) + c * z, v = (t * t) * t;
        if (v > 0.0) {
            double rhs = (((CD(HALF_F64) * z) * z + d) - d * v) + d * log_f64(v);
            if (flip64(E) < rhs) { value = d * v; break; }
        }
    }
    if (boost) {
        uint64_t ei = 13 * e + 12;
        block_at(j, j->e_offset + ei / 2, ew);
        int h = (int)(ei % 2);
        double E = neg_log_f64((uint64_t)ew[2 * h] | ((uint64_t)ew[2 * h + 1] << 32));
        value = value * (j->version >= 2 ? exp_f64_v2(flip64(E) / a) : exp_f64(flip64(E) / a));
    }
    return value;
}

/* Philox4x32-10 of BATCH arbitrary counters (c, 0, 0, 0): the lanes of a batch of gamma
 * elements' first candidates, which are not consecutive blocks. */
KS_CLONES
static void philox_at(uint32_t k0, uint32_t k1, const uint64_t *ctr, uint32_t w[4][BATCH]) {
    uint32_t x0[BATCH], x1[BATCH], x2[BATCH], x3[BATCH];
    for (int i = 0; i < BATCH; i++) {
        x0[i] = (uint32_t)ctr[i];
        x1[i] = (uint32_t)(ctr[i] >> 32);
        x2[i] = 0;
        x3[i] = 0;
    }
    PHILOX_LANES(k0, k1, x0, x1, x2, x3, w);
}

/* Stream version 2's truncated normal (docs/spec.md section 10.2, _math/truncnorm.py): the
 * plan's nine float64 parameters travel as bit patterns in ip[0..8]; element e's candidate c
 * is block 32e + c.  The first candidates of BATCH elements in lanes, later ones (rare: each
 * is accepted with probability above 0.49) one block at a time. */
typedef struct { double mean, std, a, b, alpha, beta, sign, method, m; } TnPlan;

static inline double tn_try(const TnPlan *t, uint64_t xa, uint64_t xb, int *ok) {
    double x;
    if (t->method == 1.0) { /* NORMAL */
        double c, s;
        sincos_f64(xb, &c, &s);
        x = sqrt(CD(TWO_F64) * neg_log_f64(xa)) * c;
        *ok = x >= t->alpha && x <= t->beta;
    } else if (t->method == 2.0) { /* UNIFORM */
        x = t->alpha + (t->beta - t->alpha) * u53(xa);
        *ok = neg_log_f64(xb) >= (CD(HALF_F64) * (x - t->m)) * (x + t->m);
    } else { /* EXPONENTIAL */
        x = t->alpha + neg_log_f64(xa) / t->m;
        *ok = x <= t->beta && neg_log_f64(xb) >= (CD(HALF_F64) * (x - t->m)) * (x - t->m);
    }
    return x;
}

static double tn_element(const Draw *d, const TnPlan *t, uint64_t e, uint64_t xa, uint64_t xb) {
    double x;
    if (t->method == 0.0) {
        x = t->mean < t->a ? t->a : t->mean > t->b ? t->b : t->mean;
        return x;
    }
    int ok;
    x = tn_try(t, xa, xb, &ok);
    for (int c = 1; !ok && c < (int)KS_TN_CANDIDATES; c++) {
        uint64_t blk = d->offset + (uint64_t)KS_TN_CANDIDATES * e + (uint64_t)c;
        const uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), 0, 0}, key[2] = {d->k0, d->k1};
        uint32_t w[4];
        ks_philox(ctr, key, (int)KS_PHILOX_ROUNDS, w);
        x = tn_try(t, (uint64_t)w[0] | ((uint64_t)w[1] << 32), (uint64_t)w[2] | ((uint64_t)w[3] << 32), &ok);
    }
    if (!ok) x = x < t->alpha ? t->alpha : x > t->beta ? t->beta : x; /* the last proposal, clamped */
    if (t->sign < 0.0) x = flip64(x);
    double v = t->mean + t->std * x;
    return v < t->a ? t->a : v > t->b ? t->b : v;
}

/* The first candidates of a batch in lanes, one method for the whole draw (vectorises). */
KS_CLONES
KS_CLONES
static void tn_first_lanes(const TnPlan *t, uint32_t w[4][BATCH], double x[BATCH], int ok[BATCH]) {
    if (t->method == 1.0) {
        for (int j = 0; j < BATCH; j++) {
            uint64_t xa = (uint64_t)w[0][j] | ((uint64_t)w[1][j] << 32);
            uint64_t xb = (uint64_t)w[2][j] | ((uint64_t)w[3][j] << 32);
            double c, s;
            sincos_f64(xb, &c, &s);
            x[j] = sqrt(CD(TWO_F64) * neg_log_f64(xa)) * c;
            ok[j] = (x[j] >= t->alpha) & (x[j] <= t->beta);
        }
    } else if (t->method == 2.0) {
        for (int j = 0; j < BATCH; j++) {
            uint64_t xa = (uint64_t)w[0][j] | ((uint64_t)w[1][j] << 32);
            uint64_t xb = (uint64_t)w[2][j] | ((uint64_t)w[3][j] << 32);
            x[j] = t->alpha + (t->beta - t->alpha) * u53(xa);
            ok[j] = neg_log_f64(xb) >= (CD(HALF_F64) * (x[j] - t->m)) * (x[j] + t->m);
        }
    } else {
        for (int j = 0; j < BATCH; j++) {
            uint64_t xa = (uint64_t)w[0][j] | ((uint64_t)w[1][j] << 32);
            uint64_t xb = (uint64_t)w[2][j] | ((uint64_t)w[3][j] << 32);
            x[j] = t->alpha + neg_log_f64(xa) / t->m;
            ok[j] = (x[j] <= t->beta) & (neg_log_f64(xb) >= (CD(HALF_F64) * (x[j] - t->m)) * (x[j] - t->m));
        }
    }
}

/* tn_element's ending for the accepted first candidates: the sign, mean + std y, clamped to
 * [a, b] (selects by masks: it vectorises). */
KS_CLONES
static void tn_finish_lanes(const TnPlan *t, const double x[BATCH], const int ok[BATCH], double v[BATCH]) {
    uint64_t sign = t->sign < 0.0 ? UINT64_C(0x8000000000000000) : 0;
    for (int j = 0; j < BATCH; j++) {
        double y = f64_of(bits_f64(x[j]) ^ sign);
        double r = t->mean + t->std * y;
        uint64_t lo = (uint64_t)0 - (uint64_t)(r < t->a), hi = (uint64_t)0 - (uint64_t)(r > t->b);
        uint64_t c = (bits_f64(t->a) & lo) | (bits_f64(t->b) & hi & ~lo) | (bits_f64(r) & ~lo & ~hi);
        v[j] = ok[j] ? f64_of(c) : 0.0;
    }
}

KS_CLONES
static void tn_store_f32(float *o, const double *v, int n) {
    for (int j = 0; j < n; j++) o[j] = (float)v[j]; /* rounded once */
}

static void fill_run_trunc_normal_v2(const Draw *d, uint64_t e0, int64_t len, void *out) {
    TnPlan t;
    double p[9];
    for (int i = 0; i < 9; i++) p[i] = f64_of(d->ip[i]);
    t.mean = p[0]; t.std = p[1]; t.a = p[2]; t.b = p[3]; t.alpha = p[4]; t.beta = p[5];
    t.sign = p[6]; t.method = p[7]; t.m = p[8];
    uint64_t ctr[BATCH];
    uint32_t w[4][BATCH];
    double x[BATCH], v[BATCH];
    int ok[BATCH];
    for (int64_t i0 = 0; i0 < len; i0 += BATCH) {
        int n = len - i0 < BATCH ? (int)(len - i0) : BATCH;
        for (int j = 0; j < BATCH; j++)
            ctr[j] = d->offset + (uint64_t)KS_TN_CANDIDATES * (e0 + (uint64_t)(i0 + (j < n ? j : 0)));
        philox_at(d->k0, d->k1, ctr, w);
        if (t.method != 0.0) tn_first_lanes(&t, w, x, ok);
        else memset(ok, 0, sizeof ok);
        tn_finish_lanes(&t, x, ok, v);
        for (int j = 0; j < n; j++)
            if (!ok[j])
                v[j] = tn_element(d, &t, e0 + (uint64_t)(i0 + j), (uint64_t)w[0][j] | ((uint64_t)w[1][j] << 32),
                                  (uint64_t)w[2][j] | ((uint64_t)w[3][j] << 32));
        if (d->dtype == D_F64) memcpy((double *)out + i0, v, (size_t)n * sizeof(double));
        else if (d->dtype == D_F32) tn_store_f32((float *)out + i0, v, n);
        else for (int j = 0; j < n; j++) store_float(out, i0 + j, (float)v[j], d->dtype); /* 16-bit from float32 */
    }
}

/* A batch of elements: every element's first candidate in vector lanes (its normal is the
 * cos of block z_offset + 6e, its exponential the first word pair of block e_offset +
 * 13e / 2 for even e, the second for odd e); the rare element whose first candidate is
 * rejected, and the boost, one element at a time. */
KS_CLONES
/* A part's elements a batch at a time: the first candidates (and the boosts) in vector
 * lanes, each step a plain loop over the batch so that it vectorises (no control flow in
 * a loop body: selects only), the rare rejected elements in scalar code (gamma_element). */
KS_CLONES
static void gamma_part(void *ctx, int part, int nparts) {
    const GammaJob *j = ctx;
    int64_t lo = j->n * part / nparts, hi = j->n * (part + 1) / nparts;
    const double low = j->version >= 2 ? CD(EXP_MIN_V2_F64) : -708.0; /* the boost's exp */
    uint64_t zc[BATCH], ec[BATCH], bc[BATCH], odd[BATCH];
    uint32_t zw[4][BATCH], ew[4][BATCH], bw[4][BATCH];
    double a[BATCH], d[BATCH], c[BATCH], z[BATCH], E[BATCH], v[BATCH], value[BATCH];
    int accepted[BATCH];
    for (int64_t e0 = lo; e0 < hi; e0 += BATCH) {
        int m = hi - e0 < BATCH ? (int)(hi - e0) : BATCH;
        int boosted = 0;
        for (int i = 0; i < BATCH; i++) {
            uint64_t e = (uint64_t)(e0 + (i < m ? i : 0));
            zc[i] = j->z_offset + 6 * e;
            ec[i] = j->e_offset + (13 * e) / 2;
            bc[i] = j->e_offset + (13 * e + 12) / 2;
            odd[i] = (uint64_t)0 - (e & 1); /* 13e (and 13e + 12) is odd for odd e: the second word pair */
        }
        params_at(&j->alpha, (uint64_t)e0, m, a);
        for (int i = 0; i < BATCH; i++) a[i] = a[i] * j->alpha_scale;
        for (int i = 0; i < BATCH; i++) boosted |= a[i] < 1.0;
        philox_at(j->k0, j->k1, zc, zw);
        philox_at(j->k0, j->k1, ec, ew);
        for (int i = 0; i < BATCH; i++) {
            double s = a[i] < 1.0 ? a[i] + CD(ONE_F64) : a[i];
            d[i] = s - CD(THIRD_F64);
            c[i] = CD(ONE_F64) / sqrt(CD(NINE_F64) * d[i]);
        }
        for (int i = 0; i < BATCH; i++) { /* candidate 0's normal: the cos of its block */
            uint64_t xa = (uint64_t)zw[0][i] | ((uint64_t)zw[1][i] << 32);
            uint64_t xb = (uint64_t)zw[2][i] | ((uint64_t)zw[3][i] << 32);
            double r = sqrt(CD(TWO_F64) * neg_log_f64(xa)), co, si;
            sincos_f64(xb, &co, &si);
            z[i] = r * co;
        }
        for (int i = 0; i < BATCH; i++) {
            uint64_t e_lo = ((uint64_t)ew[0][i] | ((uint64_t)ew[1][i] << 32));
            uint64_t e_hi = ((uint64_t)ew[2][i] | ((uint64_t)ew[3][i] << 32));
            E[i] = neg_log_f64((e_lo & ~odd[i]) | (e_hi & odd[i]));
        }
        for (int i = 0; i < BATCH; i++) {
            double t = CD(ONE_F64) + c[i] * z[i];
            v[i] = (t * t) * t;
        }
        for (int i = 0; i < BATCH; i++) {
            uint64_t pos = (uint64_t)0 - (uint64_t)(v[i] > 0.0); /* log of v where v > 0, else of 1 */
            double log_v = log_f64(f64_of((bits_f64(v[i]) & pos) | (bits_f64(CD(ONE_F64)) & ~pos)));
            double rhs = (((CD(HALF_F64) * z[i]) * z[i] + d[i]) - d[i] * v[i]) + d[i] * log_v;
            accepted[i] = (v[i] > 0.0) & (flip64(E[i]) < rhs);
            value[i] = d[i] * v[i];
        }
        if (boosted) { /* the boost's exponential, where alpha < 1 */
            philox_at(j->k0, j->k1, bc, bw);
            for (int i = 0; i < BATCH; i++) {
                uint64_t b_lo = ((uint64_t)bw[0][i] | ((uint64_t)bw[1][i] << 32));
                uint64_t b_hi = ((uint64_t)bw[2][i] | ((uint64_t)bw[3][i] << 32));
                E[i] = flip64(neg_log_f64((b_lo & ~odd[i]) | (b_hi & odd[i]))) / a[i];
            }
            for (int i = 0; i < BATCH; i++) {
                double power = exp_f64_below(E[i], low);
                value[i] = a[i] < 1.0 ? value[i] * power : value[i];
            }
        }
        for (int i = 0; i < m; i++) {
            uint64_t e = (uint64_t)(e0 + i);
            if (!accepted[i]) value[i] = gamma_element(j, e, a[i]);
        }
        for (int i = 0; i < m; i++) value[i] = value[i] * j->mult;
        if (j->rate.p != NULL) {
            params_at(&j->rate, (uint64_t)e0, m, d); /* (d is free now) */
            for (int i = 0; i < m; i++) value[i] = value[i] / d[i];
        }
        if (j->numer.p != NULL) {
            params_at(&j->numer, (uint64_t)e0, m, d);
            for (int i = 0; i < m; i++) value[i] = d[i] / sqrt(value[i]);
        }
        if (j->out_f32)
            for (int i = 0; i < m; i++) ((float *)j->out)[e0 + i] = (float)value[i]; /* rounded once */
        else
            for (int i = 0; i < m; i++) ((double *)j->out)[e0 + i] = value[i];
    }
}

/* The parameters: pointers, float32 flags and steps (0 or 1; rate and numer NULL for none);
 * out float32 or float64. */
void ks_gamma(int nthreads, uint32_t k0, uint32_t k1, uint64_t z_offset, uint64_t e_offset, const void *alpha,
              int alpha_f32, uint64_t alpha_step, double alpha_scale, double mult, const void *rate, int rate_f32,
              uint64_t rate_step, const void *numer, int numer_f32, uint64_t numer_step, int64_t n, void *out,
              int out_f32, int version) {
    GammaJob j = {k0, k1, z_offset, e_offset, {alpha, alpha_f32, alpha_step}, alpha_scale, mult,
                  {rate, rate_f32, rate_step}, {numer, numer_f32, numer_step}, out, out_f32, n, version};
    ks_parallel(gamma_part, &j, parts_for(nthreads), nthreads);
}

/* --------------------------------------------------------- poisson, binomial */
/* keystream.poisson and keystream.binomial (NOTE [ Counts with a fixed number of
 * candidates ] in _counts.py, the definition): element e owns the blocks offset + 32e + c,
 * c < 32, candidate c being (u, v), the two float64 uniforms of its block.  Every step is
 * one of _counts.py's, in its order; the per-element constants are computed again only
 * when the parameters change (a broadcast parameter: once per part). */
#define CANDS ((int)KS_COUNT_CANDIDATES)

typedef struct {
    uint32_t k0, k1;
    uint64_t offset;
    Param a, b; /* the rates; or the counts and the probabilities */
    void *out;
    int out_f32;
    int64_t n;
    int version; /* the stream version: 2 computes the acceptance tests without cancellation */
} CountJob;

static inline void candidate(const CountJob *j, uint64_t e, int c, double *u, double *v) {
    uint64_t b = j->offset + (uint64_t)CANDS * e + (uint64_t)c;
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), 0, 0}, key[2] = {j->k0, j->k1};
    uint32_t w[4];
    ks_philox(ctr, key, (int)KS_PHILOX_ROUNDS, w);
    *u = u53((uint64_t)w[0] | ((uint64_t)w[1] << 32));
    *v = u53((uint64_t)w[2] | ((uint64_t)w[3] << 32));
}

/* ln k! for whole k >= 0 (_math.torch_forms.log_factorial_f64): the exact product up to
 * 18!, Stirling's series above. */
static inline double log_factorial_f64(double k) {
    if (k <= 18.0) {
        double f = 1.0;
        for (double i = 2.0; i <= k; i += 1.0) f = f * i; /* exact: below 2^53 */
        return log_f64(f);
    }
    double x = k + 1.0, r = 1.0 / x, r2 = r * r;
    double series = r * (CD(INV_12_F64) - r2 * (CD(INV_360_F64) - r2 * CD(INV_1260_F64)));
    return (((x - CD(HALF_F64)) * log_f64(x) - x) + CD(HALF_LN_2PI_F64)) + series;
}

/* ln(1 + t) for t > -1, accurate for small t (_math.torch_forms.log1p_f64). */
static inline double log1p_f64(double t) {
    double u = 1.0 + t;
    return u == 1.0 ? t : (log_f64(u) * t) / (u - 1.0);
}

/* Stirling's correction r (1/12 - r^2 (1/360 - r^2 / 1260)), r = 1 / x. */
static inline __attribute__((always_inline)) double stirling_series(double x) {
    double r = 1.0 / x, r2 = r * r;
    return r * (CD(INV_12_F64) - r2 * (CD(INV_360_F64) - r2 * CD(INV_1260_F64)));
}

/* ln i! - ln j! without cancellation (_math.torch_forms.log_factorial_diff_f64). */
static inline double log_factorial_diff_f64(double i, double j) {
    if (i <= 18.0 || j <= 18.0) return log_factorial_f64(i) - log_factorial_f64(j);
    double xi = i + 1.0, xj = j + 1.0, d = xi - xj;
    return ((xi - CD(HALF_F64)) * log1p_f64(d / xj) + d * (log_f64(xj) - CD(ONE_F64)))
           + (stirling_series(xi) - stirling_series(xj));
}

/* Version 2's PTRS acceptance bound (k ln lam - lam) - ln k! (_counts._ptrs_rhs_v2). */
static inline double ptrs_rhs_v2(double k, double lam, double loglam) {
    if (k <= 18.0) return (k * loglam - lam) - log_factorial_f64(k);
    double x = k + 1.0, d = x - lam;
    return ((d - (x - CD(HALF_F64)) * log1p_f64(d / lam)) - CD(HALF_F64) * loglam)
           - (CD(HALF_LN_2PI_F64) + stirling_series(x));
}

/* -ln(1 - p) (_math.torch_forms.neg_log1m_f64). */
static inline double neg_log1m_f64(double p) {
    double u = 1.0 - p;
    return u == 1.0 ? p : (log_f64(u) * p) / (u - 1.0);
}

/* The transformed rejection's us = 1/2 - |u - 1/2| and k = floor((2a / us + b)(u - 1/2) + shift). */
static inline double transformed(double u, double a, double b, double shift, double *us) {
    double centred = u - CD(HALF_F64);
    *us = CD(HALF_F64) - fabs(centred);
    return floor(((CD(TWO_F64) * a) / *us + b) * centred + shift);
}

typedef struct { double lam, first, loglam, b, a, inv_alpha, vr, shift; } PoissonParams;

static void poisson_params(double lam, PoissonParams *P) {
    P->lam = lam;
    if (lam < CD(TEN_F64)) { P->first = exp_f64(flip64(lam)); return; }
    P->loglam = log_f64(lam);
    P->b = CD(PTRS_B0_F64) + CD(PTRS_B1_F64) * sqrt(lam);
    P->a = CD(PTRS_A1_F64) * P->b - CD(PTRS_A0_F64);
    P->inv_alpha = CD(PTRS_IA0_F64) + CD(PTRS_IA1_F64) / (P->b - CD(PTRS_IA2_F64));
    P->vr = CD(PTRS_VR0_F64) - CD(PTRS_VR1_F64) / (P->b - CD(TWO_F64));
    P->shift = lam + CD(PTRS_SHIFT_F64);
}

/* From candidate `first` (1 where the lanes rejected candidate 0; u and v are candidate 0's). */
static double poisson_element(const CountJob *j, uint64_t e, double u, double v, const PoissonParams *P, int first) {
    if (P->lam < CD(TEN_F64)) { /* inversion of the first u */
        double k = 0.0, p = P->first, f = p;
        while (!(u < f)) {
            k = k + 1.0;
            p = (p * P->lam) / k;
            double fn = f + p;
            if (fn == f) break;
            f = fn;
        }
        return k;
    }
    for (int c = first; c < CANDS; c++) { /* PTRS */
        if (c > 0) candidate(j, e, c, &u, &v);
        double us, k = transformed(u, P->a, P->b, P->shift, &us);
        if (us >= CD(TRS_US_ACCEPT_F64) && v <= P->vr) return k;
        if (k < 0.0 || (us < CD(PTRS_US_REJECT_F64) && v > us)) continue;
        double t = (v * P->inv_alpha) / (P->a / (us * us) + P->b);
        double rhs = j->version >= 2 ? ptrs_rhs_v2(k, P->lam, P->loglam)
                                     : (k * P->loglam - P->lam) - log_factorial_f64(k);
        if (t == 0.0 || log_f64(t) <= rhs) return k;
    }
    return floor(P->lam);
}

typedef struct { double n, prob, p, first, s, b, a, alpha, vr, m, h, lpq, shift; int flip, small; } BinomialParams;

static void binomial_params(double n, double prob, BinomialParams *B) {
    B->n = n;
    B->prob = prob;
    B->flip = prob > CD(HALF_F64);
    double p = B->flip ? CD(ONE_F64) - prob : prob, mean = n * p;
    B->p = p;
    B->small = mean < CD(TEN_F64);
    if (B->small) {
        B->s = p / (CD(ONE_F64) - p);
        B->first = exp_f64(flip64(n * neg_log1m_f64(p))); /* (1 - p)^n */
        return;
    }
    double q = CD(ONE_F64) - p, spq = sqrt(mean * q);
    B->b = CD(BTRS_B0_F64) + CD(PTRS_B1_F64) * spq;
    B->a = (CD(BTRS_A1_F64) * B->b - CD(BTRS_A0_F64)) + CD(BTRS_A2_F64) * p;
    B->alpha = (CD(BTRS_AL0_F64) + CD(BTRS_AL1_F64) / B->b) * spq;
    B->vr = CD(BTRS_VR0_F64) - CD(BTRS_VR1_F64) / B->b;
    B->m = floor((n + CD(ONE_F64)) * p);
    B->h = log_factorial_f64(B->m) + log_factorial_f64(n - B->m);
    B->lpq = log_f64(p / q);
    B->shift = mean + CD(HALF_F64);
}

static double binomial_count(const CountJob *j, uint64_t e, double u, double v, const BinomialParams *B, int first) {
    double n = B->n;
    if (B->small) { /* inversion of the first u */
        double k = 0.0, pk = B->first, f = pk;
        while (!(u < f) && k < n) {
            k = k + 1.0;
            pk = (pk * (B->s * ((n - k) + 1.0))) / k;
            double fn = f + pk;
            if (fn == f) break;
            f = fn;
        }
        return k;
    }
    for (int c = first; c < CANDS; c++) { /* BTRS */
        if (c > 0) candidate(j, e, c, &u, &v);
        double us, k = transformed(u, B->a, B->b, B->shift, &us);
        if (k < 0.0 || k > n) continue;
        if (us >= CD(TRS_US_ACCEPT_F64) && v <= B->vr) return k;
        double t = (v * B->alpha) / (B->a / (us * us) + B->b);
        double rhs = j->version >= 2
            ? (log_factorial_diff_f64(B->m, k) + log_factorial_diff_f64(n - B->m, n - k)) + (k - B->m) * B->lpq
            : (B->h - (log_factorial_f64(k) + log_factorial_f64(n - k))) + (k - B->m) * B->lpq;
        if (t == 0.0 || log_f64(t) <= rhs) return k;
    }
    return B->m;
}

/* ln k! for whole k in [0, 18] (the exact product's log: log_factorial_f64's first case), so
 * that the lanes can look it up instead of looping. */
typedef struct { double lf[19]; } SmallFactorials;

static void small_factorials(SmallFactorials *t) {
    for (int k = 0; k <= 18; k++) t->lf[k] = log_factorial_f64((double)k);
}

/* c ? x : y by bit masks: GCC if-converts a select of doubles that feed the stream's log
 * only in this form (a ?: there leaves control flow, and the loop scalar). */
static inline __attribute__((always_inline)) double sel(int c, double x, double y) {
    uint64_t m = (uint64_t)0 - (uint64_t)(c != 0);
    return f64_of((bits_f64(x) & m) | (bits_f64(y) & ~m));
}

/* floor(x), exactly, from rint (round to nearest even, which vectorises where floor does not
 * under IEEE exception semantics): one less where the nearest integer is above x. */
static inline __attribute__((always_inline)) double floor_lane(double x) {
    double r = rint(x);
    return sel(r > x, r - 1.0, r);
}

/* log_factorial_f64 without branches (both cases computed, one selected): it vectorises. */
static inline __attribute__((always_inline)) double log_factorial_lane(const SmallFactorials *t, double k) {
    double x = k + 1.0, r = 1.0 / x, r2 = r * r;
    double series = r * (CD(INV_12_F64) - r2 * (CD(INV_360_F64) - r2 * CD(INV_1260_F64)));
    double big = (((x - CD(HALF_F64)) * log_f64(sel(k <= 18.0, 1.0, x)) - x) + CD(HALF_LN_2PI_F64)) + series;
    double index = sel(k <= 18.0, sel(k >= 0.0, k, 0.0), 0.0);
    return sel(k <= 18.0, t->lf[(int64_t)index], big);
}

static inline __attribute__((always_inline)) double log1p_lane(double t) {
    double u = 1.0 + t;
    int one = u == 1.0;
    double q = (log_f64(sel(one, 2.0, u)) * t) / sel(one, 1.0, u - 1.0);
    return sel(one, t, q);
}

static inline __attribute__((always_inline)) double log_factorial_diff_lane(const SmallFactorials *f, double i, double j) {
    double plain = log_factorial_lane(f, i) - log_factorial_lane(f, j);
    double xi = i + 1.0, xj = j + 1.0, d = xi - xj;
    double fine = ((xi - CD(HALF_F64)) * log1p_lane(d / xj) + d * (log_f64(xj) - CD(ONE_F64)))
                  + (stirling_series(xi) - stirling_series(xj));
    return sel((i <= 18.0) | (j <= 18.0), plain, fine);
}

/* A batch's first candidates, one element a lane (first_tests, full_tests): every step of
 * poisson_element's PTRS and binomial_count's BTRS for candidate 0, in their order, with
 * selects for their branches.  acc[i] is 1 where candidate 0 is accepted (k[i] its count),
 * 0 where the element needs the scalar code (inversion, or candidate 0 rejected). */
typedef struct {
    double a[BATCH], b[BATCH], shift[BATCH], vr[BATCH], ia[BATCH], lam[BATCH], loglam[BATCH];
    double n[BATCH], m[BATCH], h[BATCH], lpq[BATCH];
    double first[BATCH], s[BATCH], mean[BATCH]; /* inversion: P(0), the ratio's factor, lam or n */
    int rejection[BATCH];
} CountLanes;

/* Phase 1 of a batch's first candidates (every lane): the count k, and acc[i] where the
 * candidate is accepted without the full test; the lanes that need the full test (the
 * logs: about a third) listed in need[0 .. return value - 1] with their t. */
static inline __attribute__((always_inline)) int first_tests(const CountLanes *L, int binomial, const double *u,
                                                             const double *v, double *k_out, double *t_out, int *acc,
                                                             int *need) {
    int full[BATCH];
    for (int i = 0; i < BATCH; i++) {
        double centred = u[i] - CD(HALF_F64), us = CD(HALF_F64) - fabs(centred);
        double k = floor_lane(((CD(TWO_F64) * L->a[i]) / us + L->b[i]) * centred + L->shift[i]);
        int fast = (us >= CD(TRS_US_ACCEPT_F64)) & (v[i] <= L->vr[i]);
        double t = (v[i] * L->ia[i]) / (L->a[i] / (us * us) + L->b[i]);
        if (binomial) { /* rejected out of range, then accepted fast or at t == 0 */
            int in_range = (k >= 0.0) & (k <= L->n[i]);
            acc[i] = L->rejection[i] & in_range & (fast | (t == 0.0));
            full[i] = L->rejection[i] & in_range & !(fast | (t == 0.0));
        } else { /* accepted fast, then rejected, then accepted at t == 0 */
            int rejected = (k < 0.0) | ((us < CD(PTRS_US_REJECT_F64)) & (v[i] > us));
            acc[i] = L->rejection[i] & (fast | (!rejected & (t == 0.0)));
            full[i] = L->rejection[i] & !fast & !rejected & (t != 0.0);
        }
        k_out[i] = k;
        t_out[i] = t;
    }
    int count = 0;
    for (int i = 0; i < BATCH; i++) {
        need[count] = i;
        count += full[i];
    }
    return count;
}

/* Phase 2: the full test ln t <= rhs of the listed lanes, packed so that the logs vectorise. */
static inline __attribute__((always_inline)) void full_tests(int version, int binomial, const SmallFactorials *f,
                                                            const CountLanes *L, const double *k_in,
                                                            const double *t_in, const int *need, int count, int *acc) {
    double k[BATCH], t[BATCH], p0[BATCH], p1[BATCH], p2[BATCH], p3[BATCH];
    int ok[BATCH];
    for (int j = 0; j < count; j++) {
        int i = need[j];
        k[j] = k_in[i], t[j] = t_in[i];
        p0[j] = binomial ? L->n[i] : L->lam[i];
        p1[j] = binomial ? L->m[i] : L->loglam[i];
        p2[j] = binomial ? L->h[i] : 0.0;
        p3[j] = binomial ? L->lpq[i] : 0.0;
    }
    for (int j = 0; j < count; j++) {
        double log_t = log_f64(sel(t[j] > 0.0, t[j], 1.0)), rhs;
        if (binomial) {
            double n = p0[j], m = p1[j], kk = k[j];
            rhs = version >= 2
                ? (log_factorial_diff_lane(f, m, kk) + log_factorial_diff_lane(f, n - m, n - kk)) + (kk - m) * p3[j]
                : (p2[j] - (log_factorial_lane(f, kk) + log_factorial_lane(f, n - kk))) + (kk - m) * p3[j];
        } else {
            double lam = p0[j], loglam = p1[j], kk = k[j];
            double x = kk + 1.0, d = x - lam;
            double fine = ((d - (x - CD(HALF_F64)) * log1p_lane(d / lam)) - CD(HALF_F64) * loglam)
                          - (CD(HALF_LN_2PI_F64) + stirling_series(x));
            double plain = (kk * loglam - lam) - log_factorial_lane(f, kk);
            rhs = version >= 2 ? sel(kk > 18.0, fine, plain) : plain;
        }
        ok[j] = log_t <= rhs;
    }
    for (int j = 0; j < count; j++) acc[need[j]] = ok[j];
}

/* The inversions of the first u (poisson_element's and binomial_count's first cases), one
 * element a lane: every lane steps while it is not done, so each lane's k, P and F take the
 * scalar loop's values, operation for operation; the lanes of the rejection method are left
 * as they are. */
static inline __attribute__((always_inline)) void inversion_lanes(const CountLanes *L, int binomial, const double *u,
                                                                 double *k_out, int *acc) {
    double k[BATCH], p[BATCH], f[BATCH];
    int active[BATCH], any = 0;
    for (int i = 0; i < BATCH; i++) {
        k[i] = 0.0, p[i] = L->first[i], f[i] = L->first[i];
        active[i] = !L->rejection[i] & !(u[i] < f[i]) & (!binomial | (0.0 < L->mean[i]));
        any |= active[i];
    }
    while (any) {
        any = 0;
        for (int i = 0; i < BATCH; i++) {
            double kn = k[i] + 1.0;
            double pn = binomial ? (p[i] * (L->s[i] * ((L->mean[i] - kn) + 1.0))) / kn : (p[i] * L->mean[i]) / kn;
            double fn = f[i] + pn;
            int stop = fn == f[i];
            k[i] = sel(active[i], kn, k[i]);
            p[i] = sel(active[i], pn, p[i]);
            int go = active[i] & !stop;
            f[i] = sel(go, fn, f[i]);
            active[i] = go & !(u[i] < f[i]) & (!binomial | (k[i] < L->mean[i]));
            any |= active[i];
        }
    }
    for (int i = 0; i < BATCH; i++) {
        k_out[i] = sel(L->rejection[i], k_out[i], k[i]);
        acc[i] = acc[i] | !L->rejection[i];
    }
}

/* The acceptance tests of one candidate a lane (constant arguments: each case's loops
 * vectorise). */
static inline __attribute__((always_inline)) void lane_tests(const CountJob *j, const SmallFactorials *f,
                                                            const CountLanes *L, int binomial, const double *u,
                                                            const double *v, double *k, int *acc) {
    double t[BATCH];
    int need[BATCH];
    int count = binomial ? first_tests(L, 1, u, v, k, t, acc, need) : first_tests(L, 0, u, v, k, t, acc, need);
    if (binomial && j->version >= 2) full_tests(2, 1, f, L, k, t, need, count, acc);
    else if (binomial) full_tests(1, 1, f, L, k, t, need, count, acc);
    else if (j->version >= 2) full_tests(2, 0, f, L, k, t, need, count, acc);
    else full_tests(1, 0, f, L, k, t, need, count, acc);
}

/* A part's elements a batch at a time: the first candidates' blocks and their acceptance
 * tests in vector lanes (first_candidates), the rest of each element in scalar code. */
KS_CLONES
static void count_part(void *ctx, int part, int nparts, int binomial) {
    const CountJob *j = ctx;
    int64_t lo = j->n * part / nparts, hi = j->n * (part + 1) / nparts;
    if (lo >= hi) return;
    uint64_t ctr[BATCH];
    uint32_t w[4][BATCH];
    double u[BATCH], v[BATCH], k[BATCH];
    int acc[BATCH];
    CountLanes L;
    SmallFactorials f;
    small_factorials(&f);
    PoissonParams P;
    BinomialParams B;
    if (binomial) binomial_params(param_at(&j->a, (uint64_t)lo), param_at(&j->b, (uint64_t)lo), &B);
    else poisson_params(param_at(&j->a, (uint64_t)lo), &P);
    for (int64_t e0 = lo; e0 < hi; e0 += BATCH) {
        int m = hi - e0 < BATCH ? (int)(hi - e0) : BATCH;
        for (int i = 0; i < BATCH; i++) ctr[i] = j->offset + (uint64_t)CANDS * (uint64_t)(e0 + (i < m ? i : 0));
        philox_at(j->k0, j->k1, ctr, w);
        for (int i = 0; i < BATCH; i++) {
            u[i] = u53((uint64_t)w[0][i] | ((uint64_t)w[1][i] << 32));
            v[i] = u53((uint64_t)w[2][i] | ((uint64_t)w[3][i] << 32));
        }
        /* the lanes' parameters (computed again only where they change) */
        for (int i = 0; i < BATCH; i++) {
            uint64_t e = (uint64_t)(e0 + (i < m ? i : 0));
            if (binomial) {
                double n = param_at(&j->a, e), prob = param_at(&j->b, e);
                if (bits_f64(n) != bits_f64(B.n) || bits_f64(prob) != bits_f64(B.prob)) binomial_params(n, prob, &B);
                L.rejection[i] = !B.small;
                L.a[i] = B.a, L.b[i] = B.b, L.shift[i] = B.shift, L.vr[i] = B.vr, L.ia[i] = B.alpha;
                L.n[i] = B.n, L.m[i] = B.m, L.h[i] = B.h, L.lpq[i] = B.lpq;
                if (B.small) L.a[i] = 1.0, L.b[i] = 1.0, L.shift[i] = 0.0, L.vr[i] = 0.0, L.ia[i] = 1.0, L.m[i] = 0.0,
                    L.h[i] = 0.0, L.lpq[i] = 0.0; /* (unused: finite values for the lanes) */
                L.first[i] = B.small ? B.first : 1.0, L.s[i] = B.small ? B.s : 0.0, L.mean[i] = B.n;
            } else {
                double lam = param_at(&j->a, e);
                if (bits_f64(lam) != bits_f64(P.lam)) poisson_params(lam, &P);
                L.rejection[i] = !(P.lam < CD(TEN_F64));
                L.lam[i] = P.lam;
                if (L.rejection[i]) {
                    L.a[i] = P.a, L.b[i] = P.b, L.shift[i] = P.shift, L.vr[i] = P.vr, L.ia[i] = P.inv_alpha;
                    L.loglam[i] = P.loglam;
                } else {
                    L.a[i] = 1.0, L.b[i] = 1.0, L.shift[i] = 0.0, L.vr[i] = 0.0, L.ia[i] = 1.0, L.loglam[i] = 0.0;
                    L.lam[i] = 1.0;
                }
                L.first[i] = L.rejection[i] ? 1.0 : P.first, L.mean[i] = P.lam, L.s[i] = 0.0;
            }
        }
        int any = 0, all = 1;
        for (int i = 0; i < BATCH; i++) any |= L.rejection[i], all &= L.rejection[i];
        if (!any) memset(acc, 0, sizeof acc);
        else lane_tests(j, &f, &L, binomial, u, v, k, acc);
        if (!all) inversion_lanes(&L, binomial, u, k, acc); /* the inversion elements, done in lanes */
        for (int i = 0; i < m; i++) {
            uint64_t e = (uint64_t)(e0 + i);
            double value;
            if (binomial) {
                double n = param_at(&j->a, e), prob = param_at(&j->b, e);
                if (bits_f64(n) != bits_f64(B.n) || bits_f64(prob) != bits_f64(B.prob)) binomial_params(n, prob, &B);
                double c = acc[i] ? k[i] : binomial_count(j, e, u[i], v[i], &B, L.rejection[i]);
                value = B.flip ? n - c : c;
            } else {
                double lam = param_at(&j->a, e);
                if (bits_f64(lam) != bits_f64(P.lam)) poisson_params(lam, &P);
                value = acc[i] ? k[i] : poisson_element(j, e, u[i], v[i], &P, L.rejection[i]);
            }
            if (j->out_f32) ((float *)j->out)[e] = (float)value; /* rounded once */
            else ((double *)j->out)[e] = value;
        }
    }
}

static void poisson_part(void *ctx, int part, int nparts) { count_part(ctx, part, nparts, 0); }
static void binomial_part(void *ctx, int part, int nparts) { count_part(ctx, part, nparts, 1); }

/* The parameters: pointers, float32 flags and steps (0 or 1); out float32 or float64. */
void ks_poisson(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, const void *rate, int rate_f32,
                uint64_t rate_step, int64_t n, void *out, int out_f32, int version) {
    CountJob j = {k0, k1, offset, {rate, rate_f32, rate_step}, {NULL, 0, 0}, out, out_f32, n, version};
    ks_parallel(poisson_part, &j, parts_for(nthreads), nthreads);
}

void ks_binomial(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, const void *count, int count_f32,
                 uint64_t count_step, const void *prob, int prob_f32, uint64_t prob_step, int64_t n, void *out,
                 int out_f32, int version) {
    CountJob j = {k0, k1, offset, {count, count_f32, count_step}, {prob, prob_f32, prob_step}, out, out_f32, n,
                  version};
    ks_parallel(binomial_part, &j, parts_for(nthreads), nthreads);
}

/* ------------------------------------------------------------ keyed sampling */
/* keystream.sampling.sample (NOTE [ Keyed sampling ] in sampling/_sample.py, the
 * definition): one row at a time, each from its own key.  The order "s descending, equal
 * values by increasing token id" is the order of the unique 64-bit keys
 * (monotone bits of s) << 32 | (2^32 - 1 - id), largest first; the top-k and top-p sets are
 * prefixes of it, found by radix selection on those keys (8 bits a pass, exact integer
 * counts and sums), so nothing is sorted. */
typedef struct {
    const float *logits;
    int64_t rows, vocab;
    const int64_t *keys;
    const double *temp, *top_p, *min_p; /* top_p, min_p: NULL when off */
    const int64_t *top_k;                /* NULL when off; 0 in a row: off */
    int64_t *out;
    int status;                          /* -1: no memory */
} SampleJob;

static inline uint64_t order_key(float s, int64_t i) {
    uint32_t b = bits_f32(s);
    b = (b & 0x80000000u) ? ~b : (b | 0x80000000u); /* larger s, larger b */
    return ((uint64_t)b << 32) | (uint64_t)(0xFFFFFFFFu - (uint32_t)i);
}

/* The smallest key kappa among `n` candidates (cand[]: keys, wt[]: weights) such that the
 * weights of the candidates with key >= kappa reach `need` (by counts when wt is NULL: the
 * need-th largest key).  cand and wt are reordered; the result is exact. */
static uint64_t radix_threshold(uint64_t *cand, int64_t *wt, int64_t n, double need, int by_sum) {
    int64_t above = 0; /* weight of the keys known to lie above the current range */
    uint64_t prefix = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
        int64_t hist[256] = {0};
        for (int64_t i = 0; i < n; i++) hist[(cand[i] >> shift) & 0xFF] += by_sum ? wt[i] : 1;
        int d = 255;
        for (; d > 0; d--) {
            if ((double)(above + hist[d]) >= need) break;
            above += hist[d];
        }
        prefix |= (uint64_t)d << shift;
        int64_t m = 0; /* keep the candidates of digit d */
        for (int64_t i = 0; i < n; i++)
            if ((int)((cand[i] >> shift) & 0xFF) == d) { cand[m] = cand[i]; if (by_sum) wt[m] = wt[i]; m++; }
        n = m;
    }
    return prefix;
}

KS_CLONES
static void sample_row(const SampleJob *j, int64_t r, double *w, int64_t *q, uint64_t *key, uint64_t *cand,
                       int64_t *wt) {
    const float *x = j->logits + r * j->vocab;
    int64_t V = j->vocab;
    float t = (float)j->temp[r];
    if (t == 0.0f) { /* greedy: the first index of the maximum */
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++) if (x[i] > x[best]) best = i;
        j->out[r] = best;
        return;
    }
    float m = -INFINITY, *s = (float *)wt; /* the scaled logits, in the buffer top-p uses later */
    for (int64_t i = 0; i < V; i++) s[i] = x[i] / t;
    for (int64_t i = 0; i < V; i++) m = s[i] > m ? s[i] : m;
    double md = (double)m, scale = f64_of((uint64_t)(1023 + 62 - (64 - __builtin_clzll((uint64_t)V))) << 52);
    for (int64_t i = 0; i < V; i++) w[i] = exp_f64((double)s[i] - md);
    for (int64_t i = 0; i < V; i++) q[i] = (int64_t)(w[i] * scale); /* floor: w >= 0 */
    uint64_t kappa = 0; /* the kept keys are those >= kappa */
    int64_t k = j->top_k ? j->top_k[r] : 0;
    int need_keys = (k > 0 && k < V) || j->top_p;
    if (need_keys)
        for (int64_t i = 0; i < V; i++) key[i] = order_key(s[i], i);
    if (k > 0 && k < V) {
        memcpy(cand, key, (size_t)V * sizeof *cand);
        kappa = radix_threshold(cand, NULL, V, (double)k, 0);
    }
    if (j->top_p) {
        int64_t n = 0, total = 0;
        for (int64_t i = 0; i < V; i++)
            if (key[i] >= kappa && q[i] > 0) { cand[n] = key[i]; wt[n] = q[i]; total += q[i]; n++; }
        double need = j->top_p[r] * (double)total;
        uint64_t b = radix_threshold(cand, wt, n, need, 1); /* the first key whose inclusive sum reaches it */
        kappa = b > kappa ? b : kappa;
    }
    double min_p = j->min_p ? j->min_p[r] : 0.0;
    int64_t kept_total = 0;
    for (int64_t i = 0; i < V; i++) {
        int keep = (!need_keys || key[i] >= kappa) && w[i] >= min_p;
        q[i] = keep ? q[i] : 0;
        kept_total += q[i];
    }
    uint32_t w4[4];
    const uint32_t ctr[4] = {0, 0, 0, 0}, kk[2] = {(uint32_t)j->keys[2 * r], (uint32_t)j->keys[2 * r + 1]};
    ks_philox(ctr, kk, (int)KS_PHILOX_ROUNDS, w4);
    uint64_t x64 = (uint64_t)w4[0] | ((uint64_t)w4[1] << 32);
    int64_t target = (int64_t)(((unsigned __int128)x64 * (uint64_t)kept_total) >> 64), acc = 0;
    int64_t token = V - 1;
    for (int64_t i = 0; i < V; i++) {
        acc += q[i];
        if (acc > target) { token = i; break; }
    }
    j->out[r] = token;
}

static void sample_part(void *ctx, int part, int nparts) {
    SampleJob *j = ctx;
    int64_t lo = j->rows * part / nparts, hi = j->rows * (part + 1) / nparts;
    if (lo >= hi) return;
    size_t V = (size_t)j->vocab;
    char *buf = malloc(V * (sizeof(double) + sizeof(int64_t) * 2 + sizeof(uint64_t) * 2));
    if (!buf) { j->status = -1; return; }
    double *w = (double *)buf;
    int64_t *q = (int64_t *)(w + V), *wt = q + V;
    uint64_t *key = (uint64_t *)(wt + V), *cand = key + V;
    for (int64_t r = lo; r < hi; r++) sample_row(j, r, w, q, key, cand, wt);
    free(buf);
}

/* Returns 0, or -1 (no memory for the row buffers: out is incomplete). */
int ks_sample(int nthreads, const float *logits, int64_t rows, int64_t vocab, const int64_t *keys,
              const double *temp, const int64_t *top_k, const double *top_p, const double *min_p, int64_t *out) {
    SampleJob j = {logits, rows, vocab, keys, temp, top_p, min_p, top_k, out, 0};
    int nparts = parts_for(nthreads) < rows ? parts_for(nthreads) : (int)(rows > 0 ? rows : 1);
    ks_parallel(sample_part, &j, nparts, nthreads < nparts ? nthreads : nparts);
    return j.status;
}

/* Entry point.  The output is a sequence of runs of `run_len` consecutive flat indices
 * of the virtual tensor; run r starts at
 *     run_offset + sum_d (ostart[d] + i_d) * ostride[d]
 * where (i_0 .. i_{nouter-1}) is r as a C-order multi-index over ocount[].  Output
 * position = r * run_len + j; the call writes positions [0, total) to out[0 .. total)
 * in slices on `nthreads` threads of the pool.  Any position can start a slice, so the bits
 * never depend on the split.  fp / ip carry the kind's parameters (see _cpu.py). */
#include <sys/mman.h>

typedef struct {
    Draw d;
    int nouter;
    const uint64_t *ostart, *ocount, *ostride;
    uint64_t run_offset, run_len, total;
    char *out;
} FillJob;

static void fill_positions(const FillJob *f, uint64_t p0, uint64_t p1) {
    uint64_t pos = p0;
    while (pos < p1) {
        uint64_t r = pos / f->run_len, j = pos % f->run_len;
        uint64_t len = f->run_len - j;
        if (len > p1 - pos) len = p1 - pos;
        uint64_t base = f->run_offset, rem = r;
        for (int dd = f->nouter - 1; dd >= 0; dd--) {
            base += (f->ostart[dd] + rem % f->ocount[dd]) * f->ostride[dd];
            rem /= f->ocount[dd];
        }
        void *dst = f->out + pos * (uint64_t)f->d.elem_size;
        if (f->d.kind == K_RANDPERM) fill_perm(&f->d, base + j, (int64_t)len, dst);
        else fill_run(&f->d, base + j, (int64_t)len, dst);
        pos += len;
    }
}

static void fill_part(void *ctx, int part, int nparts) {
    const FillJob *f = ctx;
    /* slices start on multiples of 64 positions: whole cache lines per thread */
    uint64_t step = ((f->total + (uint64_t)nparts - 1) / (uint64_t)nparts + 63) & ~(uint64_t)63;
    uint64_t p0 = step * (uint64_t)part, p1 = p0 + step;
    if (p1 > f->total) p1 = f->total;
    if (p0 < p1) fill_positions(f, p0, p1);
}

int ks_fill(int nthreads, int kind, int dtype, int elem_size, uint32_t k0, uint32_t k1, uint64_t offset,
            const double *fp, const uint64_t *ip, int nouter, const uint64_t *ostart,
            const uint64_t *ocount, const uint64_t *ostride, uint64_t run_offset, uint64_t run_len,
            uint64_t total, void *out) {
    FillJob f;
    f.d.kind = kind; f.d.dtype = dtype; f.d.elem_size = elem_size;
    f.d.k0 = k0; f.d.k1 = k1; f.d.offset = offset;
    memcpy(f.d.fp, fp, sizeof f.d.fp);
    memcpy(f.d.ip, ip, sizeof f.d.ip);
    f.nouter = nouter;
    f.ostart = ostart; f.ocount = ocount; f.ostride = ostride;
    f.run_offset = run_offset; f.run_len = run_len; f.total = total;
    f.out = (char *)out;
    ks_parallel(fill_part, &f, parts_for(nthreads), nthreads);
    return 0;
}

/* ------------------------------------------------------ fused Monte Carlo */
/* montecarlo.InBall: how many samples s in [s0, s1) have their `dims` float32
 * uniforms u (elements s*dims .. s*dims + dims - 1 of a rand((n, dims)) draw) inside
 * the unit ball: ((u0*u0 + u1*u1) + u2*u2) + ... < 1, each operation one IEEE float32
 * operation, left to right, exactly as the torch definition in _integrands.py.  The
 * uniforms are made a tile at a time and never leave the cache. */
#define KS_TILE 4096

typedef struct {
    Draw d;
    int dims;
    uint64_t s0, s1;
    int64_t *counts; /* one per part */
} BallJob;

KS_CLONES
static int64_t count_in_ball(const float *u, int64_t m, int dims) {
    int64_t count = 0;
    if (dims == 2) {
        for (int64_t i = 0; i < m; i++) {
            float x = u[2 * i], y = u[2 * i + 1];
            float x2 = x * x, y2 = y * y;
            float r = x2 + y2;
            count += r < 1.0f;
        }
        return count;
    }
    for (int64_t i = 0; i < m; i++) {
        const float *v = u + i * dims;
        float acc = v[0] * v[0];
        for (int k = 1; k < dims; k++) {
            float sq = v[k] * v[k];
            acc = acc + sq;
        }
        count += acc < 1.0f;
    }
    return count;
}

static void ball_part(void *ctx, int part, int nparts) {
    BallJob *j = ctx;
    uint64_t n = j->s1 - j->s0, step = n / (uint64_t)nparts + 1;
    uint64_t a = j->s0 + step * (uint64_t)part, b = a + step;
    if (a > j->s1) a = j->s1;
    if (b > j->s1) b = j->s1;
    float buf[KS_TILE];
    uint64_t per = (uint64_t)(KS_TILE / j->dims);
    int64_t count = 0;
    for (uint64_t s = a; s < b; s += per) {
        uint64_t m = b - s < per ? b - s : per;
        fill_run(&j->d, s * (uint64_t)j->dims, (int64_t)(m * (uint64_t)j->dims), buf);
        count += count_in_ball(buf, (int64_t)m, j->dims);
    }
    j->counts[part] = count;
}

/* The count for samples [s0, s1) of a draw with key (k0, k1) starting at block
 * `offset`; -1 when dims is out of range or memory is short. */
int64_t ks_count_in_ball(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, int dims, uint64_t s0,
                         uint64_t s1) {
    if (dims < 1 || dims > KS_TILE || s1 < s0) return -1;
    int nparts = parts_for(nthreads);
    BallJob j;
    memset(&j, 0, sizeof j);
    j.d.kind = K_UNIFORM; j.d.dtype = D_F32; j.d.elem_size = 4;
    j.d.k0 = k0; j.d.k1 = k1; j.d.offset = offset;
    j.d.fp[0] = 0.0; j.d.fp[1] = 1.0; j.d.fp[2] = 1.0; j.d.fp[3] = (double)f32_of(0x3F7FFFFFu);
    j.dims = dims; j.s0 = s0; j.s1 = s1;
    j.counts = calloc((size_t)nparts, sizeof(int64_t));
    if (j.counts == NULL) return -1;
    ks_parallel(ball_part, &j, nparts, nthreads);
    int64_t total = 0;
    for (int p = 0; p < nparts; p++) total += j.counts[p];
    free(j.counts);
    return total;
}

/* Ask for transparent huge pages on the 2 MiB-aligned interior of a fresh output
 * buffer before it is first written: far fewer page faults (numpy does the same). */
void ks_advise_hugepages(void *ptr, uint64_t nbytes) {
#ifdef MADV_HUGEPAGE
    uintptr_t lo = ((uintptr_t)ptr + 0x1FFFFF) & ~(uintptr_t)0x1FFFFF;
    uintptr_t hi = ((uintptr_t)ptr + nbytes) & ~(uintptr_t)0x1FFFFF;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)ptr; (void)nbytes;
#endif
}

/* ----------------------------------------------------------- keyed dropout */
/* keystream.nn's dropout applied to x: out[i] = x[i] * (keep ? scale : 0), one multiply in
 * x's dtype, where keep = w < thr for the 32-bit word w of mask element m = e0 + i / inner
 * (word m % 4 of block offset + m / 4, as a bits draw of the virtual mask lays them out).
 * The dropped elements are x * 0 (so -0, and NaN for inf or NaN input, as torch's x * mask).
 * Linear in x: the backward pass is the same call on the gradient, with no saved mask.
 * Parts split whole mask elements, so a part never shares an output element. */
typedef struct {
    uint32_t k0, k1;
    uint64_t offset, e0, masks, inner, thr;
    double scale;
    int f64;
    const void *x;
    void *out;
} DropJob;

KS_CLONES
static void drop_range(const DropJob *j, uint64_t m0, uint64_t m1) {
    uint32_t w[4][BATCH];
    float s32 = (float)j->scale;
    while (m0 < m1) {
        uint64_t e = j->e0 + m0, blk = e / 4;
        philox_batch(j->k0, j->k1, j->offset + blk, w);
        uint64_t first = blk * 4, end = first + 4 * (uint64_t)BATCH;
        uint64_t stop = j->e0 + m1 < end ? j->e0 + m1 : end;
        if (j->inner == 1) {  /* element-wise: the words in element order, then one flat loop */
            uint32_t u[4 * BATCH];
            for (int i = 0; i < BATCH; i++)
                for (int p = 0; p < 4; p++) u[4 * i + p] = w[p][i];
            uint64_t r0 = e - first, n = stop - e, i0 = e - j->e0;
            if (j->f64) {
                const double *x = (const double *)j->x + i0; double *o = (double *)j->out + i0;
                for (uint64_t i = 0; i < n; i++) o[i] = x[i] * ((uint64_t)u[r0 + i] < j->thr ? j->scale : 0.0);
            } else {
                const float *x = (const float *)j->x + i0; float *o = (float *)j->out + i0;
                for (uint64_t i = 0; i < n; i++) o[i] = x[i] * ((uint64_t)u[r0 + i] < j->thr ? s32 : 0.0f);
            }
            m0 += n;
            continue;
        }
        for (uint64_t q = e; q < stop; q++) {
            uint64_t r = q - first, m = q - j->e0;
            int keep = (uint64_t)w[r & 3][r >> 2] < j->thr;
            uint64_t i0 = m * j->inner, i1 = i0 + j->inner;
            if (j->f64) {
                const double *x = j->x; double *o = j->out;
                double s = keep ? j->scale : 0.0;
                for (uint64_t i = i0; i < i1; i++) o[i] = x[i] * s;
            } else {
                const float *x = j->x; float *o = j->out;
                float s = keep ? s32 : 0.0f;
                for (uint64_t i = i0; i < i1; i++) o[i] = x[i] * s;
            }
        }
        m0 += stop - e;
    }
}

static void drop_part(void *ctx, int part, int nparts) {
    const DropJob *j = ctx;
    /* parts start on multiples of 64 mask elements (whole blocks, whole cache lines) */
    uint64_t step = ((j->masks + (uint64_t)nparts - 1) / (uint64_t)nparts + 63) & ~(uint64_t)63;
    uint64_t a = step * (uint64_t)part, b = a + step;
    if (b > j->masks) b = j->masks;
    if (a < b) drop_range(j, a, b);
}

void ks_dropout(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, uint64_t e0, uint64_t masks,
                uint64_t inner, uint64_t thr, double scale, int f64, const void *x, void *out) {
    DropJob j;
    j.k0 = k0; j.k1 = k1; j.offset = offset; j.e0 = e0; j.masks = masks; j.inner = inner; j.thr = thr;
    j.scale = scale; j.f64 = f64; j.x = x; j.out = out;
    ks_parallel(drop_part, &j, parts_for(nthreads), nthreads);
}

/* ------------------------------------------------------------- small draws */
/* Elements [e0, e0 + n) of a draw on the calling thread, without the pool: the small draws'
 * path (the Python module's fill).  `packed` is the draw's parameters as _cpu.pack_params
 * lays them out: int32 kind, dtype, element size, padding; double fp[4]; uint64 ip[12]. */
typedef ks_packed_t Packed; /* (keystream.h: its layout is checked at load by _cpu.py) */

void ks_fill_small(const void *packed, uint32_t k0, uint32_t k1, uint64_t offset, uint64_t e0, int64_t n,
                   void *out) {
    Packed p;
    memcpy(&p, packed, sizeof p);
    Draw d;
    d.kind = p.kind; d.dtype = p.dtype; d.elem_size = p.elem_size;
    d.k0 = k0; d.k1 = k1; d.offset = offset;
    memcpy(d.fp, p.fp, sizeof d.fp);
    memcpy(d.ip, p.ip, sizeof d.ip);
    if (d.kind == K_RANDPERM_V2) {  /* a whole small permutation, int64 (ip[0] = n <= KS_PERM_SORT_STACK) */
        if (e0 == 0 && n == (int64_t)d.ip[0] && n <= KS_PERM_SORT_STACK && d.elem_size == 8)
            (void)ks_perm_sort(k0, k1, offset, n, (int64_t *)out);
        return;
    }
    int k = per_block(&d);
    uint64_t first = e0 / (uint64_t)k, nb = n > 0 ? (e0 + (uint64_t)n - 1) / (uint64_t)k - first + 1 : 0;
    if (d.kind != K_TRUNC_NORMAL && d.kind != K_TRUNC_NORMAL_V2 && d.kind != K_RANDPERM && nb <= 2) {
        /* one or two blocks: each on its own (a batch computes BATCH of them; from 3 blocks on
         * the batch was faster, measured) and each element by
         * emit, the per-element form of the batch kernels (tests compare the two) */
        uint32_t w[4][BATCH], key[2] = {k0, k1}, words[4];
        for (uint64_t b = 0; b < nb; b++) {
            uint64_t c = offset + first + b;
            uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), 0, 0};
            ks_philox(ctr, key, (int)KS_PHILOX_ROUNDS, words);
            for (int q = 0; q < 4; q++) w[q][b] = words[q];
        }
        for (int64_t i = 0; i < n; i++) emit(&d, w, (int)(e0 + (uint64_t)i - first * (uint64_t)k), out, i);
        return;
    }
    fill_run(&d, e0, n, out);
}

int ks_packed_size(void) { return (int)sizeof(Packed); }

/* ------------------------------------------------------ per-sample word tables */
/* keystream.data's augmentation words: for each sample index i, the key
 * fold_in(fold_in(parent, i), "augment") (d = the bytes tag's 64-bit hash, computed by the
 * caller) and words 0 .. nwords-1 of its stream (blocks 0, 1, ... at offset 0), into
 * out[i * nwords ..]: _augment.augment_words. */
typedef struct {
    uint32_t k0, k1;
    uint64_t d;
    const uint64_t *idx;
    int64_t count, nwords;
    uint32_t *out;
} WordsJob;

static void words_part(void *ctx, int part, int nparts) {
    const WordsJob *j = ctx;
    int64_t lo = j->count * part / nparts, hi = j->count * (part + 1) / nparts;
    uint32_t parent[2] = {j->k0, j->k1}, w[4];
    for (int64_t s = lo; s < hi; s++) {
        uint64_t i = j->idx[s];
        uint32_t c1[4] = {(uint32_t)i, (uint32_t)(i >> 32), (uint32_t)KS_TAG_FOLD_INT, (uint32_t)KS_TAG_VERSION};
        ks_philox(c1, parent, (int)KS_PHILOX_ROUNDS, w);
        uint32_t sample[2] = {w[0], w[1]};
        uint32_t c2[4] = {(uint32_t)j->d, (uint32_t)(j->d >> 32), (uint32_t)KS_TAG_FOLD_BYTES, (uint32_t)KS_TAG_VERSION};
        ks_philox(c2, sample, (int)KS_PHILOX_ROUNDS, w);
        uint32_t key[2] = {w[0], w[1]};
        uint32_t *o = j->out + s * j->nwords;
        for (int64_t b = 0; 4 * b < j->nwords; b++) {
            uint32_t c[4] = {(uint32_t)b, 0, 0, 0};
            ks_philox(c, key, (int)KS_PHILOX_ROUNDS, w);
            for (int q = 0; q < 4 && 4 * b + q < j->nwords; q++) o[4 * b + q] = w[q];
        }
    }
}

void ks_augment_words(int nthreads, uint32_t k0, uint32_t k1, uint64_t d, const uint64_t *idx, int64_t count,
                      int64_t nwords, uint32_t *out) {
    WordsJob j = {k0, k1, d, idx, count, nwords, out};
    ks_parallel(words_part, &j, parts_for(nthreads), nthreads);
}

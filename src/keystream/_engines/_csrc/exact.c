/* keystream C engine: exact sums of doubles (the Monte Carlo accumulators). */
#include "ks_internal.h"

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

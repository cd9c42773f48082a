/* keystream C engine: stream version 2's truncated normal. */
#include "ks_internal.h"

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

void fill_run_trunc_normal_v2(const Draw *d, uint64_t e0, int64_t len, void *out) {
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

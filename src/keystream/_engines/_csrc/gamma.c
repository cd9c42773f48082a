/* keystream C engine: the gamma family (standard_gamma, gamma, chi2, student_t; beta and dirichlet
 * are made of it). */
#include "ks_internal.h"

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
    double *log_out; /* NULL, or the values' logs (mult 1, no rate or numer; out float64) */
} GammaJob;

static inline void block_at(const GammaJob *j, uint64_t b, uint32_t w[4]) {
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), 0, 0}, key[2] = {j->k0, j->k1};
    ks_philox(ctr, key, (int)KS_PHILOX_ROUNDS, w);
}

/* Element e's value before the boost (the first accepted candidate's d v, else d), and in
 * *expo the boost's exponent -E / alpha where alpha < 1. */
static double gamma_pre(const GammaJob *j, uint64_t e, double a, double *expo) {
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
    *expo = 0.0;
    if (boost) {
        uint64_t ei = 13 * e + 12;
        block_at(j, j->e_offset + ei / 2, ew);
        int h = (int)(ei % 2);
        double E = neg_log_f64((uint64_t)ew[2 * h] | ((uint64_t)ew[2 * h + 1] << 32));
        *expo = flip64(E) / a;
    }
    return value;
}

static double gamma_element(const GammaJob *j, uint64_t e, double a) {
    double expo, value = gamma_pre(j, e, a, &expo);
    if (a < 1.0) value = value * (j->version >= 2 ? exp_f64_v2(expo) : exp_f64(expo));
    return value;
}

/* The log of an element's value without its exp (NOTE [ Gamma in log space ] in
 * _composite.py): ln(pre) - E / alpha where alpha < 1, else ln(pre). */
static inline double gamma_log(double pre, double expo, double a) {
    return a < 1.0 ? log_f64(pre) + expo : log_f64(pre);
}

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
    double a[BATCH], d[BATCH], c[BATCH], z[BATCH], E[BATCH], v[BATCH], value[BATCH], pre[BATCH];
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
        if (j->log_out != NULL)
            for (int i = 0; i < BATCH; i++) pre[i] = value[i];
        if (boosted) { /* the boost's exponential, where alpha < 1 (E: its exponent -E / alpha) */
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
        if (j->log_out != NULL) {
            for (int i = 0; i < m; i++) {
                double expo = E[i];
                if (!accepted[i]) {
                    pre[i] = gamma_pre(j, (uint64_t)(e0 + i), a[i], &expo);
                    value[i] = a[i] < 1.0 ? pre[i] * exp_f64_below(expo, low) : pre[i];
                }
                j->log_out[e0 + i] = gamma_log(pre[i], expo, a[i]);
            }
        } else {
            for (int i = 0; i < m; i++) {
                uint64_t e = (uint64_t)(e0 + i);
                if (!accepted[i]) value[i] = gamma_element(j, e, a[i]);
            }
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
              int out_f32, int version, double *log_out) {
    GammaJob j = {k0, k1, z_offset, e_offset, {alpha, alpha_f32, alpha_step}, alpha_scale, mult,
                  {rate, rate_f32, rate_step}, {numer, numer_f32, numer_step}, out, out_f32, n, version, log_out};
    ks_parallel(gamma_part, &j, parts_for(nthreads), nthreads);
}

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

/* The log of an element's value without its exp (NOTE [ Gamma in log space ] in
 * _composite.py): ln(pre) - E / alpha where alpha < 1, else ln(pre). */
static inline double gamma_log(double pre, double expo, double a) {
    return a < 1.0 ? log_f64(pre) + expo : log_f64(pre);
}

/* Element e's final value (times mult, over rate, numer over its sqrt), stored: the
 * operations of gamma_part's last loops, for one element. */
static inline void store_element(const GammaJob *j, uint64_t e, double value) {
    value = value * j->mult;
    if (j->rate.p != NULL) value = value / param_at(&j->rate, e);
    if (j->numer.p != NULL) value = param_at(&j->numer, e) / sqrt(value);
    if (j->out_f32)
        ((float *)j->out)[e] = (float)value;
    else
        ((double *)j->out)[e] = value;
}

/* The elements whose first candidate was rejected, gathered across batches so that their
 * later candidates run in vector lanes too (a batch at a time, lanes past m repeat lane 0). */
typedef struct {
    int m;
    uint64_t e[2 * BATCH];
    double a[2 * BATCH], d[2 * BATCH], c[2 * BATCH], expo[2 * BATCH];
} Pending;

/* Candidates 1 .. 11 of the first BATCH pending elements (or all: the first accepted
 * candidate's d v, else d), then their boosts, logs and stored values. */
KS_CLONES
static void flush_pending(const GammaJob *j, Pending *q, double low) {
    const int m = q->m < BATCH ? q->m : BATCH;
    if (m == 0) return;
    for (int i = m; i < BATCH; i++) {
        q->e[i] = q->e[0]; q->a[i] = q->a[0]; q->d[i] = q->d[0]; q->c[i] = q->c[0]; q->expo[i] = q->expo[0];
    }
    uint64_t zc[BATCH], ec[BATCH], odd[BATCH];
    uint32_t zw[4][BATCH], ew[4][BATCH];
    double value[BATCH];
    int done[BATCH];
    for (int i = 0; i < BATCH; i++) { value[i] = q->d[i]; done[i] = i >= m; }
    for (uint64_t cand = 1; cand < 12; cand++) {
        for (int i = 0; i < BATCH; i++) {
            uint64_t e = q->e[i], ei = 13 * e + cand;
            zc[i] = j->z_offset + 6 * e + cand / 2; /* normal 12e + cand: the cos (even) or sin (odd) of its block */
            ec[i] = j->e_offset + ei / 2;
            odd[i] = (uint64_t)0 - (ei & 1);
        }
        philox_at(j->k0, j->k1, zc, zw);
        philox_at(j->k0, j->k1, ec, ew);
        int all = 1;
        for (int i = 0; i < BATCH; i++) {
            uint64_t xa = (uint64_t)zw[0][i] | ((uint64_t)zw[1][i] << 32);
            uint64_t xb = (uint64_t)zw[2][i] | ((uint64_t)zw[3][i] << 32);
            double r = sqrt(CD(TWO_F64) * neg_log_f64(xa)), co, si;
            sincos_f64(xb, &co, &si);
            double z = cand % 2 == 0 ? r * co : r * si;
            uint64_t e_lo = ((uint64_t)ew[0][i] | ((uint64_t)ew[1][i] << 32));
            uint64_t e_hi = ((uint64_t)ew[2][i] | ((uint64_t)ew[3][i] << 32));
            double E = neg_log_f64((e_lo & ~odd[i]) | (e_hi & odd[i]));
            double t = CD(ONE_F64) + q->c[i] * z, v = (t * t) * t;
            uint64_t pos = (uint64_t)0 - (uint64_t)(v > 0.0);
            double log_v = log_f64(f64_of((bits_f64(v) & pos) | (bits_f64(CD(ONE_F64)) & ~pos)));
            double rhs = (((CD(HALF_F64) * z) * z + q->d[i]) - q->d[i] * v) + q->d[i] * log_v;
            int now = !done[i] & (v > 0.0) & (flip64(E) < rhs);
            value[i] = now ? q->d[i] * v : value[i];
            done[i] |= now;
            all &= done[i];
        }
        if (all) break;
    }
    for (int i = 0; i < m; i++) {
        double a = q->a[i], pre = value[i];
        uint64_t e = q->e[i];
        if (j->log_out != NULL) j->log_out[e] = gamma_log(pre, q->expo[i], a);
        store_element(j, e, a < 1.0 ? pre * exp_f64_below(q->expo[i], low) : pre);
    }
    for (int i = m; i < q->m; i++) {
        q->e[i - m] = q->e[i]; q->a[i - m] = q->a[i]; q->d[i - m] = q->d[i]; q->c[i - m] = q->c[i];
        q->expo[i - m] = q->expo[i];
    }
    q->m -= m;
}

/* A part's elements a batch at a time: the first candidates (and the boosts) in vector
 * lanes, each step a plain loop over the batch so that it vectorises (no control flow in
 * a loop body: selects only), the rare rejected elements gathered and their later candidates
 * in vector lanes too (flush_pending). */
KS_CLONES
static void gamma_part(void *ctx, int part, int nparts) {
    const GammaJob *j = ctx;
    int64_t lo = j->n * part / nparts, hi = j->n * (part + 1) / nparts;
    const double low = j->version >= 2 ? CD(EXP_MIN_V2_F64) : -708.0; /* the boost's exp */
    uint64_t zc[BATCH], ec[BATCH], bc[BATCH], odd[BATCH];
    uint32_t zw[4][BATCH], ew[4][BATCH], bw[4][BATCH];
    double a[BATCH], d[BATCH], c[BATCH], z[BATCH], E[BATCH], v[BATCH], value[BATCH], pre[BATCH];
    int accepted[BATCH];
    Pending q;
    q.m = 0;
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
        if (j->log_out != NULL)
            for (int i = 0; i < m; i++) j->log_out[e0 + i] = gamma_log(pre[i], E[i], a[i]);
        for (int i = 0; i < m; i++) { /* the rejected: later, with their later candidates (their slots rewritten then) */
            if (accepted[i]) continue;
            int k = q.m++;
            q.e[k] = (uint64_t)(e0 + i); q.a[k] = a[i]; q.d[k] = d[i]; q.c[k] = c[i];
            q.expo[k] = a[i] < 1.0 ? E[i] : 0.0;
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
        if (q.m >= BATCH) flush_pending(j, &q, low); /* (after the batch's stores: it rewrites their slots) */
    }
    while (q.m > 0) flush_pending(j, &q, low);
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

/* Beta and Dirichlet from their Gammas (_composite.py's `rows` of beta and dirichlet; NOTE
 * [ Gamma in log space ]): row r of k Gammas x (and their logs lx, or NULL where no
 * parameter is below 1) becomes, for Dirichlet, w_i / (w_0 + ... + w_{k-1}) with
 * w_i = exp(lx_i - max lx) where the row has a parameter below 1, else x_i / (x_0 + ... +
 * x_{k-1}), or 1 / k where that sum is not > 0 (the sums left to right); for Beta (k = 2),
 * its one value from t = lx_1 - lx_0, r = exp(t <= 0 ? t : -t): 1 / (1 + r) or r / (1 + r),
 * else x_0 / (x_0 + x_1), or 1/2.  The operations of the torch forms, in their order. */
typedef struct {
    const double *x, *lx;
    Param alpha; /* the row's parameters (one per Gamma) */
    int64_t rows, k;
    double *out; /* k values per row (Dirichlet: it may be lx, or x where lx is NULL) or one (Beta) */
    int beta;
} RowsJob;

enum { ROWS_CHUNK = 512 };

static inline int row_in_log(const RowsJob *j, int64_t r) {
    int in_log = 0;
    for (int64_t c = 0; c < j->k; c++) in_log |= param_at(&j->alpha, (uint64_t)(r * j->k + c)) < 1.0;
    return in_log;
}

/* Row r's Dirichlet values, with out[r k ..] holding the w_i where lx is given. */
static void dirichlet_row(const RowsJob *j, int64_t r) {
    const int64_t k = j->k;
    const double *x = j->x + r * k;
    double *o = j->out + r * k;
    if (j->lx != NULL && row_in_log(j, r)) {
        double wsum = o[0];
        for (int64_t c = 1; c < k; c++) wsum = wsum + o[c];
        for (int64_t c = 0; c < k; c++) o[c] = o[c] / wsum;
        return;
    }
    double total = x[0];
    for (int64_t c = 1; c < k; c++) total = total + x[c];
    if (total > 0.0) {
        for (int64_t c = 0; c < k; c++) o[c] = x[c] / total;
    } else {
        double uniform = CD(ONE_F64) / (double)k;
        for (int64_t c = 0; c < k; c++) o[c] = uniform;
    }
}

/* The row's largest log, NaN where one is NaN (as torch's amax). */
static inline double row_top(const double *lx, int64_t k) {
    double top = lx[0];
    for (int64_t c = 1; c < k; c++) top = (lx[c] > top || lx[c] != lx[c]) && top == top ? lx[c] : top;
    return top;
}

KS_CLONES
static void rows_part(void *ctx, int part, int nparts) {
    const RowsJob *j = ctx;
    const int64_t k = j->k, lo = j->rows * part / nparts, hi = j->rows * (part + 1) / nparts;
    if (j->beta) {
        for (int64_t r = lo; r < hi; r++) {
            double x0 = j->x[2 * r], total = x0 + j->x[2 * r + 1];
            double value = total > 0.0 ? x0 / total : CD(HALF_F64);
            if (j->lx != NULL && row_in_log(j, r)) {
                double t = j->lx[2 * r + 1] - j->lx[2 * r];
                int low = t <= 0.0;
                double e = exp_f64_v2(low ? t : -t);
                value = low ? CD(ONE_F64) / (CD(ONE_F64) + e) : e / (CD(ONE_F64) + e);
            }
            j->out[r] = value;
        }
        return;
    }
    if (j->lx == NULL) {
        for (int64_t r = lo; r < hi; r++) dirichlet_row(j, r);
        return;
    }
    double diff[ROWS_CHUNK];
    const int64_t per = k <= ROWS_CHUNK ? ROWS_CHUNK / k : 1;
    for (int64_t r0 = lo; r0 < hi; r0 += per) {
        int64_t m = hi - r0 < per ? hi - r0 : per;
        if (k > ROWS_CHUNK) { /* a long row: its own loop */
            const double *l = j->lx + r0 * k;
            double top = row_top(l, k), *o = j->out + r0 * k;
            for (int64_t c = 0; c < k; c++) o[c] = exp_f64_v2(l[c] - top);
        } else { /* the differences to each row's top, then one loop of exps (it vectorises) */
            for (int64_t r = 0; r < m; r++) {
                const double *l = j->lx + (r0 + r) * k;
                double top = row_top(l, k);
                for (int64_t c = 0; c < k; c++) diff[r * k + c] = l[c] - top;
            }
            double *o = j->out + r0 * k;
            for (int64_t i = 0; i < m * k; i++) o[i] = exp_f64_v2(diff[i]);
        }
        for (int64_t r = r0; r < r0 + m; r++) dirichlet_row(j, r);
    }
}

void ks_gamma_rows(int nthreads, const double *x, const double *lx, const void *alpha, int alpha_f32, int64_t rows,
                   int64_t k, double *out, int beta) {
    RowsJob j = {x, lx, {alpha, alpha_f32, 1}, rows, k, out, beta};
    ks_parallel(rows_part, &j, parts_for(nthreads), nthreads);
}

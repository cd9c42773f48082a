/* keystream C engine: the counts: poisson and binomial. */
#include "ks_internal.h"

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

/* keystream C engine: keyed sampling of tokens. */
#include "ks_internal.h"

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

/* keystream C engine: keystream.multinomial. */
#include "ks_internal.h"

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

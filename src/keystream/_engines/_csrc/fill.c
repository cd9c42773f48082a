/* keystream C engine: the draws with a kernel kind (_kinds.KERNEL_KINDS): the elements of a block
 * batch (emit, and the vectorised batch_* functions), runs of elements (fill_run), a region on
 * the pool (ks_fill) and a small draw on the calling thread (ks_fill_small). */
#include "ks_internal.h"

#include <sys/mman.h>

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

/* One run of consecutive elements [e0, e0 + len) to out[0 .. len). */
void fill_run(const Draw *d, uint64_t e0, int64_t len, void *out) {
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

/* Entry point.  The output is a sequence of runs of `run_len` consecutive flat indices
 * of the virtual tensor; run r starts at
 *     run_offset + sum_d (ostart[d] + i_d) * ostride[d]
 * where (i_0 .. i_{nouter-1}) is r as a C-order multi-index over ocount[].  Output
 * position = r * run_len + j; the call writes positions [0, total) to out[0 .. total)
 * in slices on `nthreads` threads of the pool.  Any position can start a slice, so the bits
 * never depend on the split.  fp / ip carry the kind's parameters (see _cpu.py). */
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

/* ------------------------------------------- bernoulli of tensor probabilities */
/* keystream.bernoulli(p) for a tensor p (docs/spec.md): element e is 1 iff its 32-bit word
 * (word e % 4 of block offset + e / 4, the uint32 bits draw's) is below p_e * 2^32, compared
 * in float64 (exact: a word and p * 2^32 are float64 numbers).  out: uint8 (0 or 1; bool
 * and uint8 tensors), float32 or float64 (out_kind 0, 1, 2).  Parts split whole blocks. */
typedef struct {
    uint32_t k0, k1;
    uint64_t offset;
    Param p;
    int64_t n;
    void *out;
    int out_kind;
} BernJob;


KS_CLONES
static void bern_part(void *ctx, int part, int nparts) {
    const BernJob *j = ctx;
    int64_t nb = (j->n + 3) / 4, b_lo = nb * part / nparts, b_hi = nb * (part + 1) / nparts;
    uint32_t w[4][BATCH];
    double word[4 * BATCH], thr[4 * BATCH];
    for (int64_t b0 = b_lo; b0 < b_hi; b0 += BATCH) {
        philox_batch(j->k0, j->k1, j->offset + (uint64_t)b0, w);
        int64_t e0 = 4 * b0, e1 = 4 * (b0 + BATCH < b_hi ? b0 + BATCH : b_hi);
        if (e1 > j->n) e1 = j->n;
        int m = (int)(e1 - e0);
        for (int b = 0; b < BATCH; b++)
            for (int q = 0; q < 4; q++) word[4 * b + q] = (double)w[q][b];
        if (j->p.step == 0) {
            double t = param_at(&j->p, 0) * CD(TWO_32_F64);
            for (int i = 0; i < m; i++) thr[i] = t;
        } else if (j->p.f32) {
            const float *p = (const float *)j->p.p + e0;
            for (int i = 0; i < m; i++) thr[i] = (double)p[i] * CD(TWO_32_F64);
        } else {
            const double *p = (const double *)j->p.p + e0;
            for (int i = 0; i < m; i++) thr[i] = p[i] * CD(TWO_32_F64);
        }
        if (j->out_kind == 0)
            for (int i = 0; i < m; i++) ((uint8_t *)j->out)[e0 + i] = (uint8_t)(word[i] < thr[i]);
        else if (j->out_kind == 1)
            for (int i = 0; i < m; i++) ((float *)j->out)[e0 + i] = word[i] < thr[i] ? 1.0f : 0.0f;
        else
            for (int i = 0; i < m; i++) ((double *)j->out)[e0 + i] = word[i] < thr[i] ? 1.0 : 0.0;
    }
}

void ks_bernoulli_p(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, const void *p, int p_f32,
                    uint64_t p_step, int64_t n, void *out, int out_kind) {
    BernJob j = {k0, k1, offset, {p, p_f32, p_step}, n, out, out_kind};
    ks_parallel(bern_part, &j, parts_for(nthreads), nthreads);
}

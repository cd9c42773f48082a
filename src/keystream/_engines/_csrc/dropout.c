/* keystream C engine: keyed dropout. */
#include "ks_internal.h"

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

/* keystream C engine: fused Monte Carlo work. */
#include "ks_internal.h"

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

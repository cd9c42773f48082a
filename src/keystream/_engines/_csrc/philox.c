/* keystream C engine: the block function, Philox4x32-10 (docs/spec.md section 1): a batch of consecutive
 * blocks, a batch of arbitrary counters, one counter. */
#include "ks_internal.h"

KS_CLONES
void philox_batch(uint32_t k0, uint32_t k1, uint64_t first, uint32_t w[4][BATCH]) {
    uint32_t x0[BATCH], x1[BATCH], x2[BATCH], x3[BATCH];
    for (int i = 0; i < BATCH; i++) {
        uint64_t b = first + (uint64_t)i;
        x0[i] = (uint32_t)b;
        x1[i] = (uint32_t)(b >> 32);
        x2[i] = 0;
        x3[i] = 0;
    }
    PHILOX_LANES(k0, k1, x0, x1, x2, x3, w);
}

/* Philox4x32-R on one arbitrary counter (for the known-answer tests). */
void ks_philox(const uint32_t ctr[4], const uint32_t key[2], int rounds, uint32_t out[4]) {
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < rounds; r++) {
        uint64_t p0 = (uint64_t)KS_PHILOX_M0 * x0, p1 = (uint64_t)KS_PHILOX_M1 * x2;
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0, y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
        x1 = (uint32_t)p1; x3 = (uint32_t)p0; x0 = y0; x2 = y2;
        k0 += KS_PHILOX_W0; k1 += KS_PHILOX_W1;
    }
    out[0] = x0; out[1] = x1; out[2] = x2; out[3] = x3;
}

/* Philox4x32-10 of BATCH arbitrary counters (c, 0, 0, 0): the lanes of a batch of gamma
 * elements' first candidates, which are not consecutive blocks. */
KS_CLONES
void philox_at(uint32_t k0, uint32_t k1, const uint64_t *ctr, uint32_t w[4][BATCH]) {
    uint32_t x0[BATCH], x1[BATCH], x2[BATCH], x3[BATCH];
    for (int i = 0; i < BATCH; i++) {
        x0[i] = (uint32_t)ctr[i];
        x1[i] = (uint32_t)(ctr[i] >> 32);
        x2[i] = 0;
        x3[i] = 0;
    }
    PHILOX_LANES(k0, k1, x0, x1, x2, x3, w);
}

/* keystream C engine: per-sample word tables of keystream.data. */
#include "ks_internal.h"

/* keystream.data's augmentation words: for each sample index i, the key
 * fold_in(fold_in(parent, i), "augment") (d = the bytes tag's 64-bit hash, computed by the
 * caller) and words 0 .. nwords-1 of its stream (blocks 0, 1, ... at offset 0), into
 * out[i * nwords ..]: _augment.augment_words. */
typedef struct {
    uint32_t k0, k1;
    uint64_t d;
    const uint64_t *idx;
    int64_t count, nwords;
    uint32_t *out;
} WordsJob;

static void words_part(void *ctx, int part, int nparts) {
    const WordsJob *j = ctx;
    int64_t lo = j->count * part / nparts, hi = j->count * (part + 1) / nparts;
    uint32_t parent[2] = {j->k0, j->k1}, w[4];
    for (int64_t s = lo; s < hi; s++) {
        uint64_t i = j->idx[s];
        uint32_t c1[4] = {(uint32_t)i, (uint32_t)(i >> 32), (uint32_t)KS_TAG_FOLD_INT, (uint32_t)KS_TAG_VERSION};
        ks_philox(c1, parent, (int)KS_PHILOX_ROUNDS, w);
        uint32_t sample[2] = {w[0], w[1]};
        uint32_t c2[4] = {(uint32_t)j->d, (uint32_t)(j->d >> 32), (uint32_t)KS_TAG_FOLD_BYTES, (uint32_t)KS_TAG_VERSION};
        ks_philox(c2, sample, (int)KS_PHILOX_ROUNDS, w);
        uint32_t key[2] = {w[0], w[1]};
        uint32_t *o = j->out + s * j->nwords;
        for (int64_t b = 0; 4 * b < j->nwords; b++) {
            uint32_t c[4] = {(uint32_t)b, 0, 0, 0};
            ks_philox(c, key, (int)KS_PHILOX_ROUNDS, w);
            for (int q = 0; q < 4 && 4 * b + q < j->nwords; q++) o[4 * b + q] = w[q];
        }
    }
}

void ks_augment_words(int nthreads, uint32_t k0, uint32_t k1, uint64_t d, const uint64_t *idx, int64_t count,
                      int64_t nwords, uint32_t *out) {
    WordsJob j = {k0, k1, d, idx, count, nwords, out};
    ks_parallel(words_part, &j, parts_for(nthreads), nthreads);
}

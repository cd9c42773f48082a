/* keystream C engine: permutations: version 1's Feistel network with cycle walking, version 2's
 * sort of small permutations (ks_perm_sort) and Feistel network, and lookups of pi(i). */
#include "ks_internal.h"

/* keys[begin, end) and their indices out[begin, end) in key order; equal keys keep their order. */
static void insertion_sort(uint64_t *keys, int64_t *out, int64_t begin, int64_t end) {
    for (int64_t i = begin + 1; i < end; i++) {
        uint64_t k = keys[i];
        int64_t v = out[i], j = i;
        while (j > begin && keys[j - 1] > k) { keys[j] = keys[j - 1]; out[j] = out[j - 1]; j--; }
        keys[j] = k;
        out[j] = v;
    }
}

/* Stream version 2's permutation of n <= PERM_V2_SORT_MAX (docs/spec.md section 10): the
 * permutation key is words 0 and 1 of block `offset` under (k0, k1); the sort keys are the n
 * 64-bit keys a uint64 bits draw gives at offset 0 under the permutation key, sorted as
 * unsigned numbers, ties kept in index order (a stable sort): out[i] is the index of the i-th
 * smallest.  A counting pass on the keys' top bits (about one key a bucket; it keeps index
 * order) and an insertion sort of each bucket give that one order in O(n) for random keys.
 * Up to KS_PERM_SORT_STACK keys need no heap (the small draws' path, which cannot fail); 0, or
 * -1 without memory. */
int ks_perm_sort(uint32_t k0, uint32_t k1, uint64_t offset, int64_t n, int64_t *out) {
    if (n <= 0) return 0;
    if ((uint64_t)n > (uint64_t)KS_PERM_V2_SORT_MAX) return -1;
    uint32_t key[2] = {k0, k1}, w[4];
    uint32_t ctr0[4] = {(uint32_t)offset, (uint32_t)(offset >> 32), 0, 0};
    ks_philox(ctr0, key, (int)KS_PHILOX_ROUNDS, w);
    int bits = 1;
    while (bits < 17 && ((int64_t)1 << bits) < n) bits++;
    int64_t buckets = (int64_t)1 << bits;  /* (< 2n) */
    uint64_t stack_keys[2 * KS_PERM_SORT_STACK];
    int64_t stack_count[2 * KS_PERM_SORT_STACK + 1];
    int heap = n > KS_PERM_SORT_STACK;
    uint64_t *keys = heap ? malloc((size_t)n * 2 * sizeof(uint64_t)) : stack_keys;
    int64_t *count = heap ? malloc((size_t)(buckets + 1) * sizeof(int64_t)) : stack_count;
    if (keys == NULL || count == NULL) {
        if (heap) { free(keys); free(count); }
        return -1;
    }
    Draw d;  /* (the uint64 bits draw's own kernel) */
    memset(&d, 0, sizeof d);
    d.kind = K_BITS64;
    d.elem_size = 8;
    d.k0 = w[0];
    d.k1 = w[1];
    fill_run(&d, 0, n, keys);
    uint64_t *sorted = keys + n;
    int shift = 64 - bits;
    memset(count, 0, (size_t)(buckets + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) count[(keys[i] >> shift) + 1]++;
    for (int64_t b = 0; b < buckets; b++) count[b + 1] += count[b];
    for (int64_t i = 0; i < n; i++) {
        int64_t at = count[keys[i] >> shift]++;
        sorted[at] = keys[i];
        out[at] = i;
    }
    int64_t begin = 0;  /* (count[b] is now the end of bucket b) */
    for (int64_t b = 0; b < buckets; b++) {
        if (count[b] - begin > 1) insertion_sort(sorted, out, begin, count[b]);
        begin = count[b];
    }
    if (heap) { free(keys); free(count); }
    return 0;
}

static inline uint32_t fmix32(uint32_t v) {
    v ^= v >> 16; v *= KS_FMIX_M0; v ^= v >> 13; v *= KS_FMIX_M1; v ^= v >> 16;
    return v;
}

static inline uint64_t feistel(uint64_t x, const uint64_t *keys, int h) {
    uint64_t mask = (h == 32) ? 0xFFFFFFFFu : ((UINT64_C(1) << h) - 1);
    uint64_t left = x >> h, right = x & mask;
    for (int i = 0; i < (int)KS_FEISTEL_ROUNDS; i++) {
        uint64_t nl = right;
        right = left ^ ((uint64_t)fmix32((uint32_t)right ^ (uint32_t)keys[i]) & mask);
        left = nl;
    }
    return (left << h) | right;
}

/* feistel() on BATCH inputs at once in 32-bit lanes (a half has h <= 32 bits), which the
 * compiler vectorises; the same values as feistel(). */
KS_CLONES
static void feistel_lanes(const uint64_t x[BATCH], const uint64_t *keys, int h, uint64_t y[BATCH]) {
    uint32_t mask = (h == 32) ? 0xFFFFFFFFu : (uint32_t)((UINT64_C(1) << h) - 1);
    uint32_t left[BATCH], right[BATCH];
    for (int j = 0; j < BATCH; j++) {
        left[j] = (uint32_t)(x[j] >> h);
        right[j] = (uint32_t)x[j] & mask;
    }
    for (int i = 0; i < (int)KS_FEISTEL_ROUNDS; i++) {
        uint32_t k = (uint32_t)keys[i];
        for (int j = 0; j < BATCH; j++) {
            uint32_t nl = right[j];
            right[j] = left[j] ^ (fmix32(right[j] ^ k) & mask);
            left[j] = nl;
        }
    }
    for (int j = 0; j < BATCH; j++) y[j] = ((uint64_t)left[j] << h) | right[j];
}

/* pi(x[j]) for j < m: a batch of Feistel rounds, then the cycle walk of those that fell
 * outside [0, n) one by one (rare: n > 4^h / 4). */
static void permute_batch(uint64_t x[BATCH], int m, uint64_t n, const uint64_t *keys, int h, uint64_t y[BATCH]) {
    for (int j = m; j < BATCH; j++) x[j] = 0;
    feistel_lanes(x, keys, h, y);
    for (int j = 0; j < m; j++)
        while (y[j] >= n) y[j] = feistel(y[j], keys, h);
}

/* Stream version 2's Feistel network (docs/spec.md section 10) on [0, 2^k), in BATCH lanes:
 * x = L 2^b + R, L of a = ceil(k/2) bits, R of b = floor(k/2) bits; round r's function of a
 * half v is word v & 3 of the Philox block with counter (v >> 2, r, TAG_PERM_ROUND, 2) under
 * the permutation key (k0, k1); even rounds add F_r(R) to L modulo 2^a, odd rounds F_r(L)
 * to R modulo 2^b.  Halves have at most 32 bits (k <= 63 for n <= 2^63). */
KS_CLONES
static void feistel_v2_lanes(uint32_t left[BATCH], uint32_t right[BATCH], uint32_t k0, uint32_t k1, int k) {
    int a = (k + 1) / 2, b = k / 2;
    uint32_t ma = a == 32 ? 0xFFFFFFFFu : (uint32_t)((UINT64_C(1) << a) - 1);
    uint32_t mb = (uint32_t)((UINT64_C(1) << b) - 1);
    uint32_t c0[BATCH], c1[BATCH], c2[BATCH], c3[BATCH], w[4][BATCH];
    for (int r = 0; r < (int)KS_PERM_V2_ROUNDS; r++) {
        uint32_t *src = (r & 1) ? left : right, *dst = (r & 1) ? right : left;
        uint32_t m = (r & 1) ? mb : ma;
        for (int j = 0; j < BATCH; j++) {
            c0[j] = src[j] >> 2;
            c1[j] = (uint32_t)r;
            c2[j] = KS_TAG_PERM_ROUND;
            c3[j] = KS_PERM_ROUND_C3;
        }
        PHILOX_LANES(k0, k1, c0, c1, c2, c3, w);
        for (int j = 0; j < BATCH; j++) {
            uint32_t q = src[j] & 3u;
            uint32_t f = q == 0 ? w[0][j] : q == 1 ? w[1][j] : q == 2 ? w[2][j] : w[3][j];
            dst[j] = (dst[j] + (f & m)) & m;
        }
    }
}

/* The round functions as tables (the same values, computed once): tab[r 2^a + v] = F_r(v)
 * under round r's mask, for v < 2^b (even r) or v < 2^a (odd r); 10 2^a words.  Worth it
 * when a lookup needs many more blocks than the tables: a whole randperm, an epoch's
 * indices. */
KS_CLONES
void ks_perm_v2_tables(uint32_t k0, uint32_t k1, int k, uint32_t *tab) {
    int a = (k + 1) / 2, b = k / 2;
    uint64_t stride = UINT64_C(1) << a;
    uint32_t ma = a == 32 ? 0xFFFFFFFFu : (uint32_t)(stride - 1), mb = (uint32_t)((UINT64_C(1) << b) - 1);
    uint32_t c0[BATCH], c1[BATCH], c2[BATCH], c3[BATCH], w[4][BATCH];
    for (int r = 0; r < (int)KS_PERM_V2_ROUNDS; r++) {
        uint64_t size = (r & 1) ? stride : (UINT64_C(1) << b);
        uint32_t m = (r & 1) ? mb : ma;
        uint32_t *t = tab + (uint64_t)r * stride;
        for (uint64_t v0 = 0; v0 < size; v0 += 4 * BATCH) {
            for (int j = 0; j < BATCH; j++) {
                c0[j] = (uint32_t)((v0 >> 2) + (uint64_t)j);
                c1[j] = (uint32_t)r;
                c2[j] = KS_TAG_PERM_ROUND;
                c3[j] = KS_PERM_ROUND_C3;
            }
            PHILOX_LANES(k0, k1, c0, c1, c2, c3, w);
            for (int j = 0; j < BATCH; j++)
                for (int q = 0; q < 4; q++) {
                    uint64_t v = v0 + 4 * (uint64_t)j + (uint64_t)q;
                    if (v < size) t[v] = w[q][j] & m;
                }
        }
    }
}

/* feistel_v2_lanes with the round functions read from the tables. */
static void feistel_v2_lanes_tab(uint32_t left[BATCH], uint32_t right[BATCH], const uint32_t *tab, int k) {
    int a = (k + 1) / 2, b = k / 2;
    uint64_t stride = UINT64_C(1) << a;
    uint32_t ma = a == 32 ? 0xFFFFFFFFu : (uint32_t)(stride - 1), mb = (uint32_t)((UINT64_C(1) << b) - 1);
    for (int r = 0; r < (int)KS_PERM_V2_ROUNDS; r++) {
        const uint32_t *t = tab + (uint64_t)r * stride;
        if (r & 1)
            for (int j = 0; j < BATCH; j++) right[j] = (right[j] + t[left[j]]) & mb;
        else
            for (int j = 0; j < BATCH; j++) left[j] = (left[j] + t[right[j]]) & ma;
    }
}

/* Version 2's pi(x) for count indices (idx[i], or first + i when idx is NULL) into out
 * (int64, or elem_size-byte integers through store_int): BATCH lanes, each holding one
 * index's walk; a lane whose value falls in [0, n) delivers it and takes the next index,
 * so the cycle walk (under 2 steps on average) keeps every lane busy.  tab: the round
 * tables (ks_perm_v2_tables), or NULL (a Philox block per lane and round). */
static void permute_v2_stream(uint64_t n, uint32_t k0, uint32_t k1, const uint32_t *tab, const int64_t *idx,
                              uint64_t first, int64_t count, void *out, int elem_size) {
    int k = 64 - __builtin_clzll(n - 1), b = k / 2;
    uint64_t mb = (UINT64_C(1) << b) - 1;
    uint32_t left[BATCH], right[BATCH];
    int64_t slot[BATCH];
    int64_t next = 0, pending = 0;
    for (int j = 0; j < BATCH; j++) {
        slot[j] = -1;
        left[j] = right[j] = 0;
    }
    for (;;) {
        for (int j = 0; j < BATCH; j++) {
            if (slot[j] < 0 && next < count) {
                uint64_t x = idx ? (uint64_t)idx[next] : first + (uint64_t)next;
                left[j] = (uint32_t)(x >> b);
                right[j] = (uint32_t)(x & mb);
                slot[j] = next++;
                pending++;
            }
        }
        if (pending == 0) return;
        if (tab) feistel_v2_lanes_tab(left, right, tab, k);
        else feistel_v2_lanes(left, right, k0, k1, k);
        for (int j = 0; j < BATCH; j++) {
            if (slot[j] < 0) continue;
            uint64_t y = ((uint64_t)left[j] << b) | right[j];
            if (y < n) {
                store_int(out, slot[j], y, elem_size);
                slot[j] = -1;
                pending--;
            }
        }
    }
}

void fill_perm(const Draw *d, uint64_t e0, int64_t len, void *out) {
    uint64_t n = d->ip[0], x[BATCH], y[BATCH];
    int h = (int)d->ip[1];
    for (int64_t i0 = 0; i0 < len; i0 += BATCH) {
        int m = len - i0 < BATCH ? (int)(len - i0) : BATCH;
        for (int j = 0; j < m; j++) x[j] = e0 + (uint64_t)(i0 + j);
        permute_batch(x, m, n, d->ip + 2, h, y);
        for (int j = 0; j < m; j++) store_int(out, i0 + j, y[j], d->elem_size);
    }
}

/* pi(idx[i]) for arbitrary indices (Permutation.__getitem__ on a tensor), on
 * `nthreads` threads.  keys: the 8 round keys; idx must lie in [0, n). */
typedef struct {
    uint64_t n;
    int h;
    const uint64_t *keys;
    const int64_t *idx;
    int64_t count;
    void *out;
    const uint32_t *tab;  /* version 2: the round tables, or NULL */
    uint64_t first;       /* version 2: the first index when idx is NULL */
    int elem_size;        /* version 2: bytes per output integer */
} PermJob;

static void perm_part(void *ctx, int part, int nparts) {
    const PermJob *j = ctx;
    int64_t lo = j->count * part / nparts, hi = j->count * (part + 1) / nparts;
    uint64_t x[BATCH], y[BATCH];
    for (int64_t i0 = lo; i0 < hi; i0 += BATCH) {
        int m = hi - i0 < BATCH ? (int)(hi - i0) : BATCH;
        for (int k = 0; k < m; k++) x[k] = (uint64_t)j->idx[i0 + k];
        permute_batch(x, m, j->n, j->keys, j->h, y);
        for (int k = 0; k < m; k++) ((int64_t *)j->out)[i0 + k] = (int64_t)y[k];
    }
}

void ks_permute_indices(uint64_t n, int h, const uint64_t *keys, const int64_t *idx, int64_t count, int64_t *out,
                        int nthreads) {
    PermJob j = {n, h, keys, idx, count, out};
    ks_parallel(perm_part, &j, parts_for(nthreads), nthreads);
}

/* Stream version 2: pi(idx[i]) of the Feistel network (n > 2^16) under the permutation key
 * keys[0], keys[1]; idx must lie in [0, n). */
static void perm_v2_part(void *ctx, int part, int nparts) {
    const PermJob *j = ctx;
    int64_t lo = j->count * part / nparts, hi = j->count * (part + 1) / nparts;
    if (hi > lo)
        permute_v2_stream(j->n, (uint32_t)j->keys[0], (uint32_t)j->keys[1], j->tab, j->idx ? j->idx + lo : NULL,
                          j->first + (uint64_t)lo, hi - lo, (char *)j->out + lo * j->elem_size, j->elem_size);
}

/* idx NULL: the indices first .. first + count - 1; out: elem_size-byte integers; tab: the
 * round tables or NULL. */
void ks_permute_v2_indices(uint64_t n, const uint64_t *keys, const uint32_t *tab, const int64_t *idx, uint64_t first,
                           int64_t count, void *out, int elem_size, int nthreads) {
    PermJob j = {n, 0, keys, idx, count, out};
    j.tab = tab;
    j.first = first;
    j.elem_size = elem_size;
    ks_parallel(perm_v2_part, &j, parts_for(nthreads), nthreads);
}

/* keystream's C engine: the functions the engine's files export, the only API its bindings use
 * (_engines/_cpu.py through ctypes, pymod.c as the _native module).  Every function computes
 * exactly the reference engine's values (docs/spec.md); nthreads is how many parts the work
 * is split into on the library's pool (pool.c), which never changes a bit.
 *
 * The packed parameters of one draw (ks_fill_small, the numpy bit generator) are
 * ks_packed_t; _cpu.py packs them with the struct format PACKED_FORMAT and checks at load
 * that ks_packed_size() is that format's size. */
#ifndef KEYSTREAM_H
#define KEYSTREAM_H

#include <stdint.h>

typedef struct {
    int32_t kind, dtype, elem_size, pad; /* a K_* and D_* code of ks_constants.h, bytes per element */
    double fp[4];                        /* float parameters */
    uint64_t ip[12];                     /* integer parameters (and float64 bit patterns) */
} ks_packed_t;

/* the block function, key derivation */
void ks_philox(const uint32_t ctr[4], const uint32_t key[2], int rounds, uint32_t out[4]);

/* draws with a kernel kind: a region's runs (ks_fill), or elements [e0, e0 + n) on the
 * calling thread (ks_fill_small) */
int ks_fill(int nthreads, int kind, int dtype, int elem_size, uint32_t k0, uint32_t k1, uint64_t offset,
            const double *fp, const uint64_t *ip, int nouter, const uint64_t *ostart,
            const uint64_t *ocount, const uint64_t *ostride, uint64_t run_offset, uint64_t run_len,
            uint64_t total, void *out);
void ks_fill_small(const void *packed, uint32_t k0, uint32_t k1, uint64_t offset, uint64_t e0, int64_t n,
                   void *out);
int ks_packed_size(void);
void ks_advise_hugepages(void *ptr, uint64_t nbytes);

/* bernoulli of tensor probabilities (contiguous float32 or float64 p, n values or one) into
 * uint8, float32 or float64 out (out_kind 0, 1, 2) */
void ks_bernoulli_p(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, const void *p, int p_f32,
                    uint64_t p_step, int64_t n, void *out, int out_kind);

/* permutations */
void ks_permute_indices(uint64_t n, int h, const uint64_t *keys, const int64_t *idx, int64_t count, int64_t *out,
                        int nthreads);
void ks_perm_v2_tables(uint32_t k0, uint32_t k1, int k, uint32_t *tab);
/* permutations of at most this many elements sort on the stack (ks_perm_sort) */
#define KS_PERM_SORT_STACK 2048
int ks_perm_sort(uint32_t k0, uint32_t k1, uint64_t offset, int64_t n, int64_t *out);
void ks_permute_v2_indices(uint64_t n, const uint64_t *keys, const uint32_t *tab, const int64_t *idx, uint64_t first,
                           int64_t count, void *out, int elem_size, int nthreads);

/* draws made of draws: multinomial, the gamma family, the counts */
int ks_multinomial(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, const void *w, int w_f32,
                   int64_t rows, int64_t cats, int64_t n, int replacement, int k, int64_t *out, int version);
void ks_gamma(int nthreads, uint32_t k0, uint32_t k1, uint64_t z_offset, uint64_t e_offset, const void *alpha,
              int alpha_f32, uint64_t alpha_step, double alpha_scale, double mult, const void *rate, int rate_f32,
              uint64_t rate_step, const void *numer, int numer_f32, uint64_t numer_step, int64_t n, void *out,
              int out_f32, int version, double *log_out);
/* Beta (beta = 1: one value per row) or Dirichlet (k values per row) from `rows` rows of k
 * Gammas x and their logs lx (NULL: no parameter below 1), alpha the rows' parameters. */
void ks_gamma_rows(int nthreads, const double *x, const double *lx, const void *alpha, int alpha_f32, int64_t rows,
                   int64_t k, double *out, int beta);
void ks_poisson(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, const void *rate, int rate_f32,
                uint64_t rate_step, int64_t n, void *out, int out_f32, int version);
void ks_binomial(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, const void *count, int count_f32,
                 uint64_t count_step, const void *prob, int prob_f32, uint64_t prob_step, int64_t n, void *out,
                 int out_f32, int version);

/* built on draws: keyed sampling, exact sums, Monte Carlo, dropout, augmentation words */
int ks_sample(int nthreads, const float *logits, int64_t rows, int64_t vocab, const int64_t *keys,
              const double *temp, const int64_t *top_k, const double *top_p, const double *min_p, int64_t *out);
int64_t ks_exact_sums(const double *x, int64_t n, int nthreads, int64_t *sum_limbs, int64_t *sq_limbs);
int ks_limbs(void);
int64_t ks_count_in_ball(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, int dims, uint64_t s0,
                         uint64_t s1);
void ks_dropout(int nthreads, uint32_t k0, uint32_t k1, uint64_t offset, uint64_t e0, uint64_t masks,
                uint64_t inner, uint64_t thr, double scale, int f64, const void *x, void *out);
void ks_augment_words(int nthreads, uint32_t k0, uint32_t k1, uint64_t d, const uint64_t *idx, int64_t count,
                      int64_t nwords, uint32_t *out);

#endif

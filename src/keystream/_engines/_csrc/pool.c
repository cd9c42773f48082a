/* A persistent thread pool: splitting one draw over threads costs a few
 * microseconds instead of the ~60 us of a Python ThreadPoolExecutor round trip,
 * so draws of 10^5 elements gain from threads too.
 *
 * A job is `nparts` calls task(ctx, i, nparts).  The caller publishes it by bumping
 * the generation in `claim` (generation << 32 | next part); every thread, the caller
 * included, claims parts with a compare-and-swap that also checks the generation,
 * so a late worker can never run a part of a job that has been replaced.  Workers
 * spin briefly after a job (back-to-back draws find them awake), then sleep on a
 * condition variable; the caller spins until the parts it did not take are done.
 *
 * NOTE [ fork ]
 * DataLoader workers are forked.  A forked child has only the forking thread, so a
 * pool inherited from the parent would wait forever for workers that do not exist
 * (a Python ThreadPoolExecutor hangs the same way).  pthread_atfork resets the pool
 * in the child; the child starts its own workers on its first parallel job.
 *
 * NOTE [ concurrent callers ]
 * ctypes releases the GIL, so two Python threads may draw at once.  One job runs on
 * the pool at a time; a caller that finds the pool busy runs all its parts itself.
 * Either way every part runs exactly once, so results are the same.
 */
#define _DEFAULT_SOURCE
#include "pool.h"

#if defined(_WIN32) || defined(KS_NO_THREADS) || defined(__STDC_NO_ATOMICS__)

void ks_parallel(ks_task task, void *ctx, int nparts, int nthreads) {
    (void)nthreads;
    for (int i = 0; i < nparts; i++) task(ctx, i, nparts);
}

#else

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#define KS_MAX_WORKERS 255
#ifndef KS_SPINS
#define KS_SPINS 2048 /* pauses before a worker sleeps: some tens of microseconds */
#endif

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER; /* one job on the pool at a time */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;   /* guards sleepers, workers, wake */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int sleepers, workers, atfork_registered;

static _Atomic uint64_t claim; /* generation << 32 | next part */
static _Atomic int left;       /* parts of the current job not finished */
static _Atomic(ks_task) job_task;
static _Atomic(void *) job_ctx;
static _Atomic int job_parts;

/* Claim and run parts of job `gen` until none is left (or the job is gone). */
static void run_parts(uint64_t gen) {
    for (;;) {
        uint64_t c = atomic_load_explicit(&claim, memory_order_acquire);
        if ((c >> 32) != gen) return;
        ks_task task = atomic_load_explicit(&job_task, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&job_ctx, memory_order_relaxed);
        int n = atomic_load_explicit(&job_parts, memory_order_relaxed);
        uint32_t i = (uint32_t)c;
        if (i >= (uint32_t)n) return;
        if (!atomic_compare_exchange_weak_explicit(&claim, &c, c + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        task(ctx, (int)i, n); /* the job cannot be replaced before this part is counted */
        atomic_fetch_sub_explicit(&left, 1, memory_order_release);
    }
}

static void *worker(void *arg) {
    uint64_t seen = (uint64_t)(uintptr_t)arg;
    for (;;) {
        uint64_t gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&claim, memory_order_acquire) >> 32) == seen) {
            if (++spins < KS_SPINS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&mu);
            sleepers++;
            while ((atomic_load_explicit(&claim, memory_order_acquire) >> 32) == seen) pthread_cond_wait(&wake, &mu);
            sleepers--;
            pthread_mutex_unlock(&mu);
            spins = 0;
        }
        seen = gen;
        run_parts(gen);
    }
    return NULL;
}

static void reset_in_child(void) {
    /* Only this thread exists in the child: forget the parent's workers and locks. */
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    busy = m;
    mu = m;
    wake = c;
    workers = sleepers = 0;
    atomic_store(&left, 0);
}

/* Start workers until there are `want`; called with mu held. */
static void grow(int want, uint64_t gen) {
    if (!atfork_registered) {
        atfork_registered = 1;
        pthread_atfork(NULL, NULL, reset_in_child);
    }
    if (want > KS_MAX_WORKERS) want = KS_MAX_WORKERS;
    while (workers < want) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&t, &attr, worker, (void *)(uintptr_t)gen);
        pthread_attr_destroy(&attr);
        if (err != 0) break; /* fewer threads: the others take the remaining parts */
        workers++;
    }
}

void ks_parallel(ks_task task, void *ctx, int nparts, int nthreads) {
    if (nparts <= 1 || nthreads <= 1 || pthread_mutex_trylock(&busy) != 0) {
        for (int i = 0; i < nparts; i++) task(ctx, i, nparts);
        return;
    }
    uint64_t gen = (atomic_load(&claim) >> 32) + 1;
    pthread_mutex_lock(&mu);
    grow(nthreads - 1, gen - 1);
    atomic_store_explicit(&job_task, task, memory_order_relaxed);
    atomic_store_explicit(&job_ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&job_parts, nparts, memory_order_relaxed);
    atomic_store_explicit(&left, nparts, memory_order_relaxed);
    atomic_store_explicit(&claim, gen << 32, memory_order_release); /* publish */
    if (sleepers) pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    run_parts(gen);
    for (unsigned spins = 0; atomic_load_explicit(&left, memory_order_acquire) > 0; spins++) {
        if (spins < (1u << 16)) cpu_relax();
        else sched_yield(); /* a worker lost its core mid-part */
    }
    pthread_mutex_unlock(&busy);
}

#endif

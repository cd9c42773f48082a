/* A small persistent thread pool for the CPU engine (see pool.c). */
#ifndef KS_POOL_H
#define KS_POOL_H

/* One part of a split job: part i of nparts. */
typedef void (*ks_task)(void *ctx, int part, int nparts);

/* Run task(ctx, i, nparts) for every i in [0, nparts) on up to `nthreads` threads
 * (the caller's included) and return when all are done.  Parts are claimed in any
 * order by any thread: results must not depend on which thread runs which part
 * (every caller here writes disjoint outputs or per-part accumulators). */
void ks_parallel(ks_task task, void *ctx, int nparts, int nthreads);

#endif

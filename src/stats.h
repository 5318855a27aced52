/*
 * stats.h - what the leaves report for weft_loop_metrics (debug/metrics.c):
 * one small call each, so that the metrics need none of their internals.
 * All are called on the loop's thread.
 */
#ifndef WEFT_STATS_H
#define WEFT_STATS_H

#include "core.h"

typedef struct weft__pool_stats {
    unsigned threads, busy, queued;
    uint64_t loop_wakes; /* workers the loop woke or started for its jobs */
} weft__pool_stats;

/* L's thread pool (all zero if it has none).  pool.c. */
void weft__pool_stats_get(weft__loop *L, weft__pool_stats *out);
/* Open bars that L redraws.  progress/count.c. */
unsigned weft__bars_open_on(const weft__loop *L);
/* Descriptors in L's registry.  net/fd.c. */
unsigned weft__fds_open(weft__loop *L);

#endif

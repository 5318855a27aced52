/*
 * metrics.c - weft_loop_metrics_read: the core's counters (core.h, kept
 * per turn or per event, never per switch) and what the leaves report
 * (stats.h).
 */
#include "../core.h"
#include "../stats.h"

int weft_loop_metrics_read(weft_loop_metrics *m)
{
    if (!m)
        return -EINVAL;
    weft__loop *L = weft__tls_loop;
    if (!L)
        return -EPERM;
    weft__pool_stats pool;
    weft__pool_stats_get(L, &pool);
    *m = (weft_loop_metrics){
        .tasks_live = L->n_alive,
        .tasks_spawned = L->m_created,
        .tasks_finished = L->m_created - L->n_alive,
        .task_runs = weft__task_runs(L),
        .polls = L->m_polls,
        .sleep_seconds = (double)L->m_slept_ns / 1e9,
        .timers = L->n_user_timers,
        .ready_peak = L->m_ready_peak,
        .pool_threads = pool.threads,
        .pool_busy = pool.busy,
        .pool_queued = pool.queued,
        .bars_open = weft__bars_open_on(L),
        .fds_open = weft__fds_open(L),
    };
    return 0;
}

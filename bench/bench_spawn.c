/*
 * bench_spawn.c - creating and collecting a million short tasks.
 *
 * The main task spawns 1,000,000 trivial tasks, each returning its index,
 * keeping every handle in an array (1M handles in memory at once), then
 * awaits them in order and checks every result (and their sum).  Between
 * the two phases, off the clock, it checks that every task has finished
 * (eager) or that none has (FIFO).  Reported:
 * the wall time per task (spawn + run + await) and the peak RSS of the
 * whole process (ru_maxrss), which includes the 8 MB handle array.  Each
 * run is a fresh child process, so the peak is that run's own.  The handle
 * array is pre-faulted before the clock starts: it is the caller's memory,
 * and on this VM a fresh page fault costs ~12 us (24 ns per task here).
 *
 * Two modes:
 *   fifo   weft_spawn: tasks start on a later turn of the loop, in order.
 *          Target <= 300 ns/task, <= 96 MiB.  Peers (same workload):
 *          Tokio 611 ns / 147 MiB, Go 1473 ns / 101 MiB,
 *          asyncio 19900 ns / 941 MiB.
 *   eager  WEFT_SPAWN_EAGER: each task runs to completion inside
 *          weft_spawn_ex.  Target <= 100 ns/task, <= 32 MiB.  Peer: neco
 *          (which runs a new coroutine at once) 97 ns / 9 MiB.
 *
 * Usage: bench_spawn [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TASKS 1000000L
#define REPS 9

static long n_tasks;

typedef struct mode {
    const char *name;
    unsigned flags;
} mode;

typedef struct run_ctx {
    const mode *m;
    uint64_t ns; /* out: spawn + await of all tasks */
} run_ctx;

static void *trivial(void *arg)
{
    return arg;
}

static void *spawn_main(void *arg)
{
    run_ctx *ctx = arg;
    weft_task **h = malloc((size_t)n_tasks * sizeof *h);
    if (!h)
        return weft_fail(-ENOMEM, "handle array");
    bench_touch(h, (size_t)n_tasks * sizeof *h);
    weft_spawn_opts opts = {.flags = ctx->m->flags};

    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_tasks; i++) {
        int rc = weft_spawn_ex(trivial, (void *)(intptr_t)i, &opts, &h[i]);
        if (rc)
            return weft_fail(rc, "weft_spawn_ex #%ld", i);
    }
    uint64_t spawn_ns = bench_now_ns() - t0;

    /* Outside the clock: an eager task has finished by the time
     * weft_spawn_ex returns; a FIFO one has not even started. */
    int want_done = (ctx->m->flags & WEFT_SPAWN_EAGER) != 0;
    for (long i = 0; i < n_tasks; i++) {
        int done = weft_task_done(h[i]);
        if (done != want_done)
            return weft_fail(done < 0 ? done : -EPROTO,
                             "task #%ld: weft_task_done %d after the spawns, "
                             "want %d",
                             i, done, want_done);
    }

    int sum_ok = 1;
    uint64_t sum = 0;
    t0 = bench_now_ns();
    for (long i = 0; i < n_tasks; i++) {
        void *r = NULL;
        int rc = weft_await(h[i], &r);
        if (rc)
            return weft_fail(rc, "weft_await #%ld", i);
        sum_ok &= (intptr_t)r == i;
        sum += (uint64_t)(intptr_t)r;
    }
    ctx->ns = spawn_ns + (bench_now_ns() - t0);

    free(h);
    uint64_t want = (uint64_t)n_tasks * (uint64_t)(n_tasks - 1) / 2;
    if (!sum_ok || sum != want)
        return weft_fail(-EPROTO, "wrong results: sum %llu, want %llu%s",
                         (unsigned long long)sum, (unsigned long long)want,
                         sum_ok ? "" : " (a task returned another's index)");
    return NULL;
}

static int run_spawn(void *arg, double *out)
{
    run_ctx ctx = {arg, 0};
    int rc = weft_run(spawn_main, &ctx, NULL);
    if (rc) {
        const char *msg = weft_errmsg();
        return bench_fail("weft_run: %s%s%s", weft_strerror(rc),
                          msg ? ": " : "", msg ? msg : "");
    }
    out[0] = (double)ctx.ns / (double)n_tasks;
    out[1] = (double)bench_peak_rss() / (1024.0 * 1024.0);
    return 0;
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    n_tasks = bench_scaled(scale, TASKS, 10);
    bench_header();

    static const mode modes[] = {
        {"fifo", 0},
        {"eager", WEFT_SPAWN_EAGER},
    };
    static const struct {
        double ns, mib;
        const char *t_ns, *t_mib, *peers_ns, *peers_mib;
    } targets[] = {
        {300, 96, "<= 300", "<= 96", "Tokio 611, Go 1473, asyncio 19900",
         "Tokio 147, Go 101, asyncio 941"},
        {100, 32, "<= 100", "<= 32", "neco 97", "neco 9"},
    };
    /* The targets are for a million tasks; a scaled run reports without
     * judging. */
    int judge = n_tasks == TASKS;
    for (int i = 0; i < 2; i++) {
        bench_stat st[2];
        if (bench_runs(REPS, 2, run_spawn, (void *)&modes[i], st))
            return 1;
        char w[64];
        snprintf(w, sizeof w, "spawn+await %s: time", modes[i].name);
        bench_row(w, st[0].med, 0, "ns/task", targets[i].t_ns,
                  judge ? st[0].med <= targets[i].ns : -1,
                  "%ld tasks; median of %d (%.0f..%.0f); %s", n_tasks, REPS,
                  st[0].min, st[0].max, targets[i].peers_ns);
        snprintf(w, sizeof w, "spawn+await %s: peak RSS", modes[i].name);
        bench_row(w, st[1].med, 1, "MiB", targets[i].t_mib,
                  judge ? st[1].med <= targets[i].mib : -1,
                  "whole process, incl. the %.1f MiB handle array; fresh "
                  "process per run (%.1f..%.1f); %s",
                  (double)n_tasks * sizeof(weft_task *) / (1024.0 * 1024.0),
                  st[1].min, st[1].max, targets[i].peers_mib);
    }
    return 0;
}

/*
 * bench_gather.c - weft_gather against spawn + await of the same tasks.
 *
 * 1,000,000 trivial tasks returning their index: spawned then awaited one
 * by one, and spawned then gathered with one weft_gather; ns per task of
 * each, measured in the same process one after the other.  Target: gather
 * costs at most 10% more per task.  Peers (gather of 1M): Tokio 610 ns,
 * Go 1,470 ns.
 *
 * Usage: bench_gather [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <stdint.h>
#include <stdlib.h>

#define TASKS 1000000L
#define REPS 5

static long n_tasks;

static void *index_of(void *arg)
{
    return arg;
}

static void *both(void *arg)
{
    double *out = arg;
    weft_task **h = malloc((size_t)n_tasks * sizeof *h);
    void **res = malloc((size_t)n_tasks * sizeof *res);
    if (!h || !res) {
        free(h);
        free(res);
        return weft_fail(-ENOMEM, "no memory");
    }
    long bad = 0;
    /* A warm-up pass commits the arenas, so that neither measurement pays
     * the first touch of fresh pages. */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < n_tasks; i++)
            weft_spawn(index_of, (void *)(intptr_t)i, &h[i]);
        for (long i = 0; i < n_tasks; i++) {
            void *r;
            weft_await(h[i], &r);
            bad += r != (void *)(intptr_t)i;
        }
        uint64_t t1 = bench_now_ns();
        for (long i = 0; i < n_tasks; i++)
            weft_spawn(index_of, (void *)(intptr_t)i, &h[i]);
        int rc = weft_gather(h, (size_t)n_tasks, res, NULL, 0);
        uint64_t t2 = bench_now_ns();
        for (long i = 0; i < n_tasks; i++)
            bad += res[i] != (void *)(intptr_t)i;
        if (rc)
            bad++;
        out[0] = (double)(t1 - t0) / (double)n_tasks;
        out[1] = (double)(t2 - t1) / (double)n_tasks;
    }
    free(h);
    free(res);
    return bad ? weft_fail(-EPROTO, "%ld wrong results", bad) : NULL;
}

static int run(void *arg, double *out)
{
    (void)arg;
    if (bench_weft_run(both, out))
        return -1;
    out[2] = out[1] / out[0];
    return 0;
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    n_tasks = bench_scaled(scale, TASKS, 10);
    bench_header();
    bench_stat st[3];
    if (bench_runs(REPS, 3, run, NULL, st))
        return 1;
    int judge = n_tasks == TASKS;
    bench_row("gather 1M: spawn + await", st[0].med, 1, "ns/task", "-", -1,
              "%ld tasks; median of %d (%.1f..%.1f)", n_tasks, REPS,
              st[0].min, st[0].max);
    bench_row("gather 1M: spawn + weft_gather", st[1].med, 1, "ns/task", "-",
              -1, "median of %d (%.1f..%.1f); Tokio 610, Go 1470", REPS,
              st[1].min, st[1].max);
    bench_row("gather 1M: gather / (spawn + await)", st[2].med, 2, "ratio",
              "<= 1.10", judge ? st[2].med <= 1.10 : -1,
              "per-run ratio, median of %d (%.2f..%.2f)", REPS, st[2].min,
              st[2].max);
    return 0;
}

/*
 * bench_thread.c - the thread pool: one blocking call's round trip, and
 * bulk jobs.
 *
 * to_thread: 20,000 sequential weft_to_thread calls of a trivial function;
 * the median round trip (submit, run on a pool thread, completion back to
 * the loop, task resumed).  Target <= 10 us.  Peers: a bare cross-CPU
 * hand-off and wake-up back costs ~25 us here when both sides sleep, 14.6 us
 * when only the worker spins, 0.5 us when both spin; libuv uv_queue_work
 * 23.5 us; asyncio.to_thread 88 us.
 *
 * jobs: 100,000 weft_spawn_blocking handles of a trivial function, then one
 * weft_gather; wall time per job.  Target <= 1 us.  Peers: bare hand-off
 * 0.15 us; libuv 1.6-4.4 us; asyncio 120 us.
 *
 * Usage: bench_thread [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <stdint.h>
#include <stdlib.h>

#define CALLS 20000L
#define JOBS 100000L
#define REPS 5

static long n_calls, n_jobs;

static void *trivial(void *arg)
{
    return arg;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *round_trips(void *arg)
{
    double *out = arg;
    double *lat = malloc((size_t)n_calls * sizeof *lat);
    if (!lat)
        return weft_fail(-ENOMEM, "no memory");
    for (long i = 0; i < n_calls; i++) {
        void *r = NULL;
        uint64_t t0 = bench_now_ns();
        int rc = weft_to_thread(trivial, (void *)(intptr_t)i, &r);
        lat[i] = (double)(bench_now_ns() - t0) / 1000.0;
        if (rc || r != (void *)(intptr_t)i) {
            free(lat);
            return weft_fail(rc ? rc : -EPROTO, "weft_to_thread: %s",
                             weft_strerror(rc));
        }
    }
    qsort(lat, (size_t)n_calls, sizeof *lat, cmp_double);
    out[0] = lat[n_calls / 2];
    out[1] = lat[n_calls * 99 / 100];
    free(lat);
    return NULL;
}

static void *bulk(void *arg)
{
    double *out = arg;
    weft_task **h = malloc((size_t)n_jobs * sizeof *h);
    void **res = malloc((size_t)n_jobs * sizeof *res);
    if (!h || !res) {
        free(h);
        free(res);
        return weft_fail(-ENOMEM, "no memory");
    }
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_jobs; i++) {
        int rc = weft_spawn_blocking(trivial, (void *)(intptr_t)i, &h[i]);
        if (rc)
            return weft_fail(rc, "weft_spawn_blocking: %s", weft_strerror(rc));
    }
    int rc = weft_gather(h, (size_t)n_jobs, res, NULL, 0);
    out[0] = (double)(bench_now_ns() - t0) / 1000.0 / (double)n_jobs;
    long bad = 0;
    for (long i = 0; i < n_jobs; i++)
        bad += res[i] != (void *)(intptr_t)i;
    free(h);
    free(res);
    if (rc || bad)
        return weft_fail(rc ? rc : -EPROTO, "gather: %s, %ld wrong results",
                         weft_strerror(rc), bad);
    return NULL;
}

static int run_trips(void *arg, double *out)
{
    (void)arg;
    return bench_weft_run(round_trips, out);
}

static int run_bulk(void *arg, double *out)
{
    (void)arg;
    return bench_weft_run(bulk, out);
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    n_calls = bench_scaled(scale, CALLS, 10);
    n_jobs = bench_scaled(scale, JOBS, 10);
    bench_header();

    bench_stat st[2];
    if (bench_runs(REPS, 2, run_trips, NULL, st))
        return 1;
    int judge = n_calls == CALLS;
    bench_row("to_thread: round trip p50", st[0].med, 2, "us", "<= 10",
              judge ? st[0].med <= 10.0 : -1,
              "%ld sequential calls; median of %d runs (%.2f..%.2f); "
              "libuv 23.5, asyncio 88, bare sleeping hand-off 25",
              n_calls, REPS, st[0].min, st[0].max);
    bench_row("to_thread: round trip p99", st[1].med, 2, "us", "-", -1,
              "median of run p99s (%.2f..%.2f)", st[1].min, st[1].max);

    if (bench_runs(REPS, 1, run_bulk, NULL, st))
        return 1;
    judge = n_jobs == JOBS;
    bench_row("to_thread: 100k jobs gathered", st[0].med, 2, "us/job",
              "<= 1", judge ? st[0].med <= 1.0 : -1,
              "%ld weft_spawn_blocking + one weft_gather; median of %d "
              "(%.2f..%.2f); libuv 1.6-4.4, asyncio 120, bare hand-off 0.15",
              n_jobs, REPS, st[0].min, st[0].max);
    return 0;
}

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
 * many callers: 100,000 tasks (default options) spawned at once, each
 * calling weft_to_thread of a trivial function once, all gathered; wall
 * time per call.  Each task needs a stack, whose first page is fresh
 * memory, so the floor is weft_spawn_blocking's per-job cost plus one fresh
 * page written per task, both measured in the same run.  Target: within
 * 1.3x of that floor.  Beside them, the same tasks calling weft_yield
 * once instead: what the tasks and their stacks cost without the pool;
 * and the same callers spawned WEFT_SPAWN_COMPACT (no stack page each):
 * target within 1.5x of weft_spawn_blocking's per-job cost.  The memory
 * per call (peak RSS growth) of each, and the compact callers' floor:
 * spawn_blocking plus the bytes a compact caller keeps beyond its job, as
 * fresh pages at the cost measured beside it.
 * On these virtual machines the first process to
 * touch memory unused since boot pays several times more per page, so
 * every one of these runs is a fresh process started after another fresh
 * process touched and freed more memory than the workload uses; the five
 * alternate, five times, and the medians are reported.
 *
 * Usage: bench_thread [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define CALLS 20000L
#define JOBS 100000L
#define REPS 5

#define CALLERS 100000L
/* More than a task's stack page, record and slot: what the warm-up
 * touches per task of the many-callers workload. */
#define WARM_PER_TASK (12L << 10)

static long n_calls, n_jobs, n_callers;

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

/* n tasks or jobs started by spawn_one (each returning its argument),
 * then one weft_gather: out[0] is the wall time per item, in µs; out[1]
 * the peak resident set's growth per item, in bytes (every item is alive
 * at the peak: all start before the first completion is taken in). */
static void *spawn_gather(long n,
                          int (*spawn_one)(weft_fn, void *, weft_task **),
                          weft_fn fn, double *out)
{
    weft_task **h = malloc((size_t)n * sizeof *h);
    void **res = malloc((size_t)n * sizeof *res);
    if (!h || !res) {
        free(h);
        free(res);
        return weft_fail(-ENOMEM, "no memory");
    }
    bench_touch(h, (size_t)n * sizeof *h);
    bench_touch(res, (size_t)n * sizeof *res);
    long rss0 = bench_rss();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        int rc = spawn_one(fn, (void *)(intptr_t)i, &h[i]);
        if (rc)
            return weft_fail(rc, "spawn: %s", weft_strerror(rc));
    }
    int rc = weft_gather(h, (size_t)n, res, NULL, 0);
    out[0] = (double)(bench_now_ns() - t0) / 1000.0 / (double)n;
    out[1] = (double)(bench_peak_rss() - rss0) / (double)n;
    long bad = 0;
    for (long i = 0; i < n; i++)
        bad += res[i] != (void *)(intptr_t)i;
    free(h);
    free(res);
    if (rc || bad)
        return weft_fail(rc ? rc : -EPROTO, "gather: %s, %ld wrong results",
                         weft_strerror(rc), bad);
    return NULL;
}

static void *bulk(void *arg)
{
    return spawn_gather(n_jobs, weft_spawn_blocking, trivial, arg);
}

static void *caller(void *arg)
{
    void *r = NULL;
    int rc = weft_to_thread(trivial, arg, &r);
    if (rc)
        return weft_fail(rc, "weft_to_thread: %s", weft_strerror(rc));
    return r;
}

static void *yielder(void *arg)
{
    weft_yield();
    return arg;
}

static weft_fn many_fn = caller;

static int spawn_compact(weft_fn fn, void *arg, weft_task **t)
{
    static const weft_spawn_opts compact = {.flags = WEFT_SPAWN_COMPACT};
    return weft_spawn_ex(fn, arg, &compact, t);
}

static int (*many_spawn)(weft_fn, void *, weft_task **) = weft_spawn;

static void *many_callers(void *arg)
{
    return spawn_gather(n_callers, many_spawn, many_fn, arg);
}

/* Writes one byte to each of n fresh pages: what a task's first stack
 * page costs, without weft. */
static int run_pages(void *arg, double *out)
{
    (void)arg;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = (size_t)n_callers * pg;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return bench_fail("mmap of %zu bytes failed", len);
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < len; i += pg)
        ((volatile char *)p)[i] = 1;
    out[0] = (double)(bench_now_ns() - t0) / 1000.0 / (double)n_callers;
    munmap(p, len);
    return 0;
}

/* Touches and frees more memory than the next run will use, in a process
 * of its own, so that the next run does not pay the first use of memory
 * since boot. */
static int run_warm(void *arg, double *out)
{
    (void)arg;
    size_t len = (size_t)n_callers * WARM_PER_TASK + (64u << 20);
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return bench_fail("mmap of %zu bytes failed", len);
    bench_touch(p, len);
    munmap(p, len);
    out[0] = 0;
    return 0;
}

static int run_many(void *arg, double *out)
{
    (void)arg;
    many_fn = caller;
    return bench_weft_run(many_callers, out);
}

static int run_many_compact(void *arg, double *out)
{
    (void)arg;
    many_fn = caller;
    many_spawn = spawn_compact;
    return bench_weft_run(many_callers, out);
}

static int run_many_yield(void *arg, double *out)
{
    (void)arg;
    many_fn = yielder;
    return bench_weft_run(many_callers, out);
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
    n_callers = bench_scaled(scale, CALLERS, 10);
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

    /* Many callers, spawn_blocking, fresh pages and many yielders: each in
     * a fresh process after a warm-up process, the four interleaved. */
    bench_run_fn fns[5] = {run_many, run_bulk, run_pages, run_many_yield,
                           run_many_compact};
    double v[5][REPS], mem[5][REPS], ratio[REPS];
    for (int r = 0; r < REPS; r++) {
        for (int k = 0; k < 5; k++) {
            bench_stat one[2];
            if (bench_runs(1, 1, run_warm, NULL, one) ||
                bench_runs(1, 2, fns[k], NULL, one))
                return 1;
            v[k][r] = one[0].med;
            mem[k][r] = one[1].med; /* NaN for the pages */
        }
        ratio[r] = v[0][r] / (v[1][r] + v[2][r]);
    }
    double med[5], mmed[5];
    for (int k = 0; k < 5; k++) {
        med[k] = bench_median(v[k], REPS);
        mmed[k] = bench_median(mem[k], REPS);
    }
    double floor_us = med[1] + med[2], q = med[0] / floor_us;
    judge = n_callers == CALLERS;
    bench_row("to_thread: 100k tasks call at once", med[0], 2, "us/call", "-",
              -1,
              "%ld tasks spawned, each one weft_to_thread, one weft_gather; "
              "median of %d (%.2f..%.2f), each after a warm-up process",
              n_callers, REPS, v[0][0], v[0][REPS - 1]);
    bench_row("to_thread: the same, spawn_blocking", med[1], 2, "us/job", "-",
              -1, "%ld weft_spawn_blocking + one weft_gather, interleaved "
              "with the row above; median of %d (%.2f..%.2f)",
              n_jobs, REPS, v[1][0], v[1][REPS - 1]);
    bench_row("to_thread: the same, a fresh page", med[2], 2, "us/page", "-",
              -1, "one byte written to each of %ld fresh pages, interleaved; "
              "median of %d (%.2f..%.2f)",
              n_callers, REPS, v[2][0], v[2][REPS - 1]);
    bench_row("to_thread: the same tasks, weft_yield instead", med[3], 2,
              "us/task", "-", -1,
              "%ld tasks each weft_yield once, one weft_gather: the tasks' "
              "and stacks' own cost; interleaved; median of %d (%.2f..%.2f)",
              n_callers, REPS, v[3][0], v[3][REPS - 1]);
    double rlo = bench_percentile(ratio, REPS, 0),
           rhi = bench_percentile(ratio, REPS, 100);
    bench_row("to_thread: 100k callers / (spawn_blocking + page)", q, 2, "x",
              "<= 1.3", judge ? q <= 1.3 : -1,
              "floor %.2f us; per-run ratios %.2f..%.2f", floor_us, rlo, rhi);
    double qc = med[4] / med[1];
    bench_row("to_thread: 100k compact tasks call at once", med[4], 2,
              "us/call", "-", -1,
              "the same callers spawned WEFT_SPAWN_COMPACT; interleaved; "
              "median of %d (%.2f..%.2f)",
              REPS, v[4][0], v[4][REPS - 1]);
    bench_row("to_thread: 100k compact callers / spawn_blocking", qc, 2, "x",
              "<= 1.5", judge ? qc <= 1.5 : -1, "ratio of the medians");
    /* What memory alone makes a compact call cost: the bytes a waiting
     * compact caller keeps beyond its job (its record and saved frame),
     * in fresh pages at the measured cost of one. */
    double extra = mmed[4] - mmed[1];
    double qfloor = (med[1] + extra / 4096.0 * med[2]) / med[1];
    bench_row("to_thread: memory per call, compact callers", mmed[4], 0,
              "B", "-", -1,
              "peak RSS growth / n, median of %d; spawn_blocking's jobs %.0f "
              "B, default callers %.0f B",
              REPS, mmed[1], mmed[0]);
    bench_row("to_thread: compact callers' memory floor / spawn_blocking",
              qfloor, 2, "x", "-", -1,
              "spawn_blocking + the %.0f B a compact caller keeps beyond its "
              "job, as fresh pages at %.2f us each: what its memory alone "
              "costs",
              extra, med[2]);
    return 0;
}

/*
 * bench_sleep.c - many tasks asleep at once.
 *
 * The main task spawns N tasks (100,000, then 1,000,000) that each sleep
 * one second, concurrently, then awaits them all and checks every result
 * (each returns its index; none may wake early).  Reported, per N:
 *   overhead    the wall time from the first spawn to the last await, minus
 *               the 1 s every task sleeps: what it costs to start, park,
 *               wake and finish N tasks.  The note splits it: "start" is
 *               the time until the last task is asleep, "exit" is
 *               weft_run's teardown after the main task returned (not
 *               counted in the overhead).
 *   per task    resident memory while they all sleep (/proc/self/statm),
 *               minus the resident memory just before the first spawn,
 *               divided by N: each sleeping task's record, stack pages,
 *               slot, timer entry and ready-ring entry.  The handle array
 *               is the caller's and is faulted in before the first reading.
 *               Target <= 4.5 KiB.
 *   mappings    lines of /proc/self/maps while they all sleep: 1,000,000
 *               sleeping tasks must fit under the stock vm.max_map_count
 *               (65530), i.e. stacks must not cost a mapping each.
 * Every run is a fresh child process.
 *
 * Peers, 1,000,000 tasks sleeping 1 s (total time / memory per task):
 * Tokio 5.6 s and 1.4 KiB, Go 17 s and 2.8 KiB, asyncio 43 s and 1.7 KiB.
 *
 * Usage: bench_sleep [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLEEP_S 1.0
#define TARGET_PER_TASK (4.5 * 1024)

enum { V_OVERHEAD, V_PER_TASK, V_MAPS, V_START, V_EXIT, NV };

typedef struct run_ctx {
    long n;
    long started;
    long early;
    uint64_t t_spawn, t_asleep, t_done, t_main_end;
    long rss0, rss1, maps;
} run_ctx;

static run_ctx *cur;

static void *sleeper(void *arg)
{
    cur->started++;
    uint64_t t0 = bench_now_ns();
    int rc = weft_sleep(SLEEP_S);
    uint64_t slept = bench_now_ns() - t0;
    if (rc)
        return weft_fail(rc, "weft_sleep: %s", weft_strerror(rc));
    if (slept < (uint64_t)(SLEEP_S * 1e9))
        cur->early++;
    return arg;
}

static void *sleep_main(void *arg)
{
    run_ctx *c = arg;
    long n = c->n;
    weft_task **h = malloc((size_t)n * sizeof *h);
    if (!h)
        return weft_fail(-ENOMEM, "handle array");
    bench_touch(h, (size_t)n * sizeof *h);
    c->rss0 = bench_rss();

    c->t_spawn = bench_now_ns();
    for (long i = 0; i < n; i++) {
        int rc = weft_spawn(sleeper, (void *)(intptr_t)i, &h[i]);
        if (rc)
            return weft_fail(rc, "weft_spawn #%ld", i);
    }
    /* The spawned tasks run before the main task comes round again (FIFO);
     * allow a few more turns rather than rely on the order.  A task that
     * never got to sleep (no memory for its stack) has finished instead. */
    for (int turns = 0; c->started < n && turns < 8; turns++) {
        int rc = weft_yield();
        if (rc)
            return weft_fail(rc, "weft_yield");
    }
    if (c->started < n) {
        for (long i = 0; i < n; i++) {
            int rc = weft_task_result(h[i], NULL);
            if (rc != 0 && rc != -EAGAIN)
                return weft_fail(rc, "task #%ld failed: %s", i,
                                 weft_strerror(rc));
        }
        return weft_fail(-EPROTO, "only %ld of %ld tasks got to sleep",
                         c->started, n);
    }
    c->t_asleep = bench_now_ns();
    c->rss1 = bench_rss();
    c->maps = bench_maps();

    uint64_t sum = 0;
    int sum_ok = 1;
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        int rc = weft_await(h[i], &r);
        if (rc)
            return weft_fail(rc, "weft_await #%ld", i);
        sum_ok &= (intptr_t)r == i;
        sum += (uint64_t)(intptr_t)r;
    }
    c->t_done = bench_now_ns();
    free(h);
    uint64_t want = (uint64_t)n * (uint64_t)(n - 1) / 2;
    if (!sum_ok || sum != want)
        return weft_fail(-EPROTO, "wrong results: sum %llu, want %llu",
                         (unsigned long long)sum, (unsigned long long)want);
    if (c->early)
        return weft_fail(-EPROTO, "%ld tasks woke before %.1f s", c->early,
                         SLEEP_S);
    if (c->rss0 < 0 || c->rss1 < 0 || c->maps < 0)
        return weft_fail(-EIO, "could not read /proc/self");
    c->t_main_end = bench_now_ns();
    return NULL;
}

static int run_sleep(void *arg, double *out)
{
    run_ctx c = {.n = *(const long *)arg};
    cur = &c;
    int rc = weft_run(sleep_main, &c, NULL);
    uint64_t t_exit = bench_now_ns();
    if (rc) {
        const char *msg = weft_errmsg();
        return bench_fail("weft_run: %s%s%s", weft_strerror(rc),
                          msg ? ": " : "", msg ? msg : "");
    }
    out[V_OVERHEAD] = (double)(c.t_done - c.t_spawn) * 1e-9 - SLEEP_S;
    out[V_PER_TASK] = (double)(c.rss1 - c.rss0) / (double)c.n;
    out[V_MAPS] = (double)c.maps;
    out[V_START] = (double)(c.t_asleep - c.t_spawn) * 1e-9;
    out[V_EXIT] = (double)(t_exit - c.t_main_end) * 1e-9;
    return 0;
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    bench_header();
    long max_maps = bench_max_map_count();
    static const struct {
        long n;
        int reps;
    } sizes[] = {{100000, 5}, {1000000, 5}};

    for (int i = 0; i < 2; i++) {
        long n = bench_scaled(scale, sizes[i].n, 10);
        int reps = sizes[i].reps;
        int judge = n == sizes[i].n;
        bench_stat st[NV];
        if (bench_runs(reps, NV, run_sleep, &n, st))
            return 1;
        char w[64], t[32];
        snprintf(w, sizeof w, "sleep 1 s x %ld: overhead", n);
        bench_row(w, st[V_OVERHEAD].med, 2, "s", "-", -1,
                  "median of %d (%.2f..%.2f); start %.2f s, exit %.2f s; "
                  "total = overhead + 1 s; 1M totals: Tokio 5.6, Go 17, "
                  "asyncio 43 s",
                  reps, st[V_OVERHEAD].min, st[V_OVERHEAD].max, st[V_START].med,
                  st[V_EXIT].med);
        snprintf(w, sizeof w, "sleep 1 s x %ld: memory", n);
        bench_row(w, st[V_PER_TASK].med / 1024.0, 2, "KiB/task", "<= 4.5",
                  judge ? st[V_PER_TASK].med <= TARGET_PER_TASK : -1,
                  "RSS while asleep minus before spawning, / N "
                  "(%.2f..%.2f); Tokio 1.4, Go 2.8, asyncio 1.7",
                  st[V_PER_TASK].min / 1024.0, st[V_PER_TASK].max / 1024.0);
        snprintf(w, sizeof w, "sleep 1 s x %ld: mappings", n);
        snprintf(t, sizeof t, "< %ld", max_maps);
        bench_row(w, st[V_MAPS].max, 0, "maps", max_maps > 0 ? t : "-",
                  max_maps > 0 ? st[V_MAPS].max < (double)max_maps : -1,
                  "/proc/self/maps lines while all sleep (max of %d runs); "
                  "limit is vm.max_map_count",
                  reps);
        if (max_maps > 0 && st[V_MAPS].max >= (double)max_maps)
            return bench_fail("%.0f mappings, over vm.max_map_count %ld",
                              st[V_MAPS].max, max_maps);
    }
    return 0;
}

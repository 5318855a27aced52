/*
 * bench_timer.c - how late a short sleep wakes up.
 *
 * One task calls weft_sleep(0.001) 2000 times; each sample is the time the
 * call took minus 1 ms.  Reported: the median and the 99th percentile of
 * the lateness (median over runs of each run's figure), and the number of
 * early wake-ups, which must be 0 (weft_sleep never returns before its
 * deadline; the program fails otherwise).
 *
 * For scale, the same measurement with no loop at all: a thread blocking
 * in epoll_pwait2 for 1 ms on an empty epoll set, with its timer slack set
 * to 1 ns as weft_run does - the floor the kernel and this VM allow.
 *
 * Target (the project's spec): median < 100 us.  Peers, median lateness of
 * a 1 ms sleep: libuv 117 us, Go 119 us, asyncio 133 us.
 *
 * Usage: bench_timer [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

#define SAMPLES 2000L
#define REPS 3
#define PERIOD_NS 1000000L

enum { V_MED, V_P99, V_EARLY, NV };

static long n_samples;

typedef struct run_ctx {
    double *late_us;
    long early;
} run_ctx;

static void *timer_main(void *arg)
{
    run_ctx *c = arg;
    for (long i = 0; i < n_samples; i++) {
        uint64_t t0 = bench_now_ns();
        int rc = weft_sleep(PERIOD_NS * 1e-9);
        uint64_t d = bench_now_ns() - t0;
        if (rc)
            return weft_fail(rc, "weft_sleep: %s", weft_strerror(rc));
        if (d < (uint64_t)PERIOD_NS)
            c->early++;
        c->late_us[i] = ((double)d - PERIOD_NS) / 1e3;
    }
    return NULL;
}

static int summarise(run_ctx *c, double *out)
{
    out[V_MED] = bench_percentile(c->late_us, (int)n_samples, 50);
    out[V_P99] = bench_percentile(c->late_us, (int)n_samples, 99);
    out[V_EARLY] = (double)c->early;
    free(c->late_us);
    return 0;
}

static int run_weft(void *arg, double *out)
{
    (void)arg;
    run_ctx c = {malloc((size_t)n_samples * sizeof(double)), 0};
    if (!c.late_us)
        return bench_fail("out of memory");
    int rc = weft_run(timer_main, &c, NULL);
    if (rc) {
        const char *msg = weft_errmsg();
        return bench_fail("weft_run: %s%s%s", weft_strerror(rc),
                          msg ? ": " : "", msg ? msg : "");
    }
    return summarise(&c, out);
}

static int run_bare(void *arg, double *out)
{
    (void)arg;
    run_ctx c = {malloc((size_t)n_samples * sizeof(double)), 0};
    if (!c.late_us)
        return bench_fail("out of memory");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return bench_fail("epoll_create1: %s", strerror(errno));
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    struct epoll_event ev;
    for (long i = 0; i < n_samples; i++) {
        struct timespec ts = {0, PERIOD_NS};
        uint64_t t0 = bench_now_ns();
        long r = syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, (size_t)0);
        uint64_t d = bench_now_ns() - t0;
        if (r < 0 && errno == ENOSYS) {
            int ms = epoll_wait(ep, &ev, 1, 1);
            d = bench_now_ns() - t0;
            r = ms;
        }
        if (r < 0 && errno != EINTR)
            return bench_fail("epoll_pwait2: %s", strerror(errno));
        if (d < (uint64_t)PERIOD_NS)
            c.early++; /* the kernel's business; reported, not judged */
        c.late_us[i] = ((double)d - PERIOD_NS) / 1e3;
    }
    close(ep);
    return summarise(&c, out);
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    n_samples = bench_scaled(scale, SAMPLES, 10);
    bench_header();

    bench_stat st[NV];
    if (bench_runs(REPS, NV, run_weft, NULL, st))
        return 1;
    /* The target is for the full workload; a scaled run reports the
     * lateness without judging it (early wake-ups fail at any scale). */
    int judge = n_samples == SAMPLES;
    bench_row("timer: weft_sleep(1 ms) lateness p50", st[V_MED].med, 1, "us",
              "< 100", judge ? st[V_MED].med < 100 : -1,
              "%ld samples x %d runs, median of run medians (%.1f..%.1f); "
              "libuv 117, Go 119, asyncio 133",
              n_samples, REPS, st[V_MED].min, st[V_MED].max);
    bench_row("timer: weft_sleep(1 ms) lateness p99", st[V_P99].med, 1, "us",
              "-", -1, "median of run p99s (%.1f..%.1f)", st[V_P99].min,
              st[V_P99].max);
    bench_row("timer: weft_sleep(1 ms) early wake-ups", st[V_EARLY].sum, 0,
              "count", "0", st[V_EARLY].sum == 0, "of %ld samples",
              n_samples * REPS);
    double early = st[V_EARLY].sum;

    if (bench_runs(REPS, NV, run_bare, NULL, st))
        return 1;
    bench_row("timer: bare epoll_pwait2(1 ms) lateness p50", st[V_MED].med, 1,
              "us", "-", -1,
              "floor: no loop, timer slack 1 ns (%.1f..%.1f); p99 %.1f us",
              st[V_MED].min, st[V_MED].max, st[V_P99].med);

    if (early)
        return bench_fail("weft_sleep returned before its deadline %.0f "
                          "times",
                          early);
    return 0;
}

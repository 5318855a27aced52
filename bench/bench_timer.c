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
 * Then the timer structure alone, at a million timers (N = 1,000,000 task
 * records, as many live tasks would hold; the loop's own timer store, driven
 * through weft__timer_add/del from the main task, which never suspends while
 * they are armed):
 *   cancel      arm N timers (one per record, in record order, deadlines
 *               random over 1 s, as a server's timeouts), then cancel them
 *               all in a random order: ns per arm + cancel.  Target < 100.
 *   fire        arm N timers with increasing deadlines (N sleeps of one
 *               length started one after another), then take them all out
 *               earliest first, as the loop fires them: ns per arm + fire.
 *   floor       the memory traffic any timer store pays here: one write to
 *               each record in arming order and one in cancelling order.
 *
 * Usage: bench_timer [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"
#include "core.h"

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

/* ---- a million timers ---- */

#define N_TIMERS 1000000L
enum { T_CANCEL, T_FIRE, T_FLOOR, NT };

static long n_timers;

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void) /* xorshift64*: a fixed, repeatable sequence */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

typedef struct many_ctx {
    weft__record *recs; /* n records, one after another */
    uint32_t *perm; /* a random order of the records */
    double *out;
} many_ctx;

static void *many_main(void *arg)
{
    many_ctx *c = arg;
    weft__loop *L = weft__tls_loop;
    long n = n_timers;
    /* Records from the loop's own store, as tasks get theirs: a fresh
     * loop hands them out in order, so record i is recs + i (a pointer
     * array would add a cache miss of its own to each random access). */
    for (long i = 0; i < n; i++) {
        weft__record *r = weft__record_alloc(L);
        if (i == 0)
            c->recs = r;
        if (!r || r != c->recs + i)
            return weft_fail(-ENOMEM, "record #%ld", i);
    }
    uint64_t t0 = weft__clock_ns() + 1000000000u;

    /* Random deadlines over 1 s, cancelled in a random order. */
    uint64_t a = bench_now_ns();
    for (long i = 0; i < n; i++)
        weft__timer_add(L, (c->recs + i), t0 + rng() % 1000000000u);
    for (long i = 0; i < n; i++)
        weft__timer_del(L, (c->recs + c->perm[i]));
    uint64_t b = bench_now_ns();
    c->out[T_CANCEL] = (double)(b - a) / (double)n;

    /* Increasing deadlines, taken out earliest first as the clock reaches
     * each, as the loop fires them; checks the order. */
    a = bench_now_ns();
    for (long i = 0; i < n; i++)
        weft__timer_add(L, (c->recs + i), t0 + (uint64_t)i * 100);
    long wrong = 0;
    for (long i = 0; i < n; i++) {
        weft__record *r = weft__timers_due(L, t0 + (uint64_t)i * 100);
        wrong += r != (c->recs + i);
        if (r)
            weft__timer_del(L, r);
    }
    b = bench_now_ns();
    c->out[T_FIRE] = (double)(b - a) / (double)n;
    if (wrong || weft__timers_next(L) != WEFT__NO_DEADLINE)
        return weft_fail(-EPROTO, "%ld timers out of order", wrong);

    /* The floor: a write to each record in each order. */
    a = bench_now_ns();
    for (long i = 0; i < n; i++)
        (c->recs + i)->deadline = t0 + (uint64_t)i;
    for (long i = 0; i < n; i++)
        (c->recs + c->perm[i])->deadline = WEFT__NO_DEADLINE;
    b = bench_now_ns();
    c->out[T_FLOOR] = (double)(b - a) / (double)n;
    for (long i = 0; i < n; i++)
        weft__record_release(L, (c->recs + i));
    return NULL;
}

static int run_many(void *arg, double *out)
{
    (void)arg;
    long n = n_timers;
    many_ctx c = {NULL, malloc((size_t)n * sizeof(uint32_t)), out};
    if (!c.perm)
        return bench_fail("out of memory");
    for (long i = 0; i < n; i++)
        c.perm[i] = (uint32_t)i;
    for (long i = n - 1; i > 0; i--) { /* Fisher-Yates */
        long j = (long)(rng() % (uint64_t)(i + 1));
        uint32_t t = c.perm[i];
        c.perm[i] = c.perm[j];
        c.perm[j] = t;
    }
    /* The main task holds its loop throughout, on purpose. */
    setenv("WEFT_BLOCKED_WARN", "off", 1);
    int rc = weft_run(many_main, &c, NULL);
    free(c.perm);
    if (rc) {
        const char *msg = weft_errmsg();
        return bench_fail("weft_run: %s%s%s", weft_strerror(rc),
                          msg ? ": " : "", msg ? msg : "");
    }
    return 0;
}

static int bench_many(double scale)
{
    n_timers = bench_scaled(scale, N_TIMERS, 10);
    bench_stat st[NT];
    if (bench_runs(REPS, NT, run_many, NULL, st))
        return 1;
    int judge = n_timers == N_TIMERS;
    char w[96];
    snprintf(w, sizeof w, "timer: %ld armed, cancelled in random order",
             n_timers);
    bench_row(w, st[T_CANCEL].med, 1, "ns/timer", "< 100",
              judge ? st[T_CANCEL].med < 100 : -1,
              "arm + cancel, deadlines random over 1 s, median of %d "
              "(%.1f..%.1f); floor %.1f (a write to each record, each order)",
              REPS, st[T_CANCEL].min, st[T_CANCEL].max, st[T_FLOOR].med);
    snprintf(w, sizeof w, "timer: %ld armed, fired in order", n_timers);
    bench_row(w, st[T_FIRE].med, 1, "ns/timer", "-", -1,
              "arm + take out the earliest, increasing deadlines, median of "
              "%d (%.1f..%.1f)",
              REPS, st[T_FIRE].min, st[T_FIRE].max);
    return 0;
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
    return bench_many(scale);
}

/*
 * bench_compact.c - compact tasks (WEFT_SPAWN_COMPACT) beside default ones.
 *
 * switch: two tasks yield to each other N times, each holding a live frame
 *         of `frame` bytes (a local array it writes before and reads after
 *         every yield); ns per switch.  Default tasks, then compact tasks
 *         sharing the stack (every switch copies one frame out and the
 *         other in), with frames of 256 B, 1 KiB and 4 KiB: the cost per
 *         extra KiB is the slope.  Target: compact with 256 B at most 2x
 *         default.
 *         Beside them, the floor of any copy-stack: default tasks that
 *         copy their frame out and back in at every yield (256 B, and the
 *         464 B a compact switch copies each way on x86-64).
 * spawn + gather: 1M tasks returning their argument, spawned at once and
 *         gathered; ns per task, default and compact.  Target: compact no
 *         slower than default.
 * sleepers: n tasks each sleeping 0.2 s, all gathered: resident memory per
 *         task while they sleep (RSS delta / n) and the time beyond the
 *         sleep, default and compact.  Target: compact at most 512 B per
 *         task.  (The 1M-sleeper comparison with the page floor
 *         and the peers is bench_sleep's.)
 * Each value is the median of 5 runs, each in a fresh process.
 *
 * Usage: bench_compact [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPS 5
#define SLEEP_S 0.2

typedef struct sw_arg {
    long n;
    size_t frame;
    unsigned flags;
    bool copy; /* copy the frame out and back in at every yield */
} sw_arg;

static volatile unsigned long sink;

/* Where the copy floor's frames go: two buffers per task, written and
 * read in turns, so that what is copied in was copied out a yield before
 * (as a compact task's bytes were, a switch before), not just now.  Each
 * at 2 KiB from the frame's offset in its page: the copies' loads and
 * stores never alias by their low 12 bits, which would make the floor
 * depend on where the stack happens to lie. */
static unsigned char away[2][2][8192] __attribute__((aligned(4096)));
static int away_next; /* which task's pair the next yielder takes */

static void *yielder(void *arg)
{
    const sw_arg *a = arg;
    unsigned char *buf = __builtin_alloca(a->frame);
    memset(buf, 1, a->frame);
    size_t at = ((uintptr_t)buf + 2048) & 4095;
    unsigned char(*mine)[8192] = away[away_next++ & 1];
    for (long i = 0; i < a->n; i++) {
        buf[i % a->frame]++;
        if (a->copy) {
            memcpy(mine[i & 1] + at, buf, a->frame);
            __asm__ volatile("" : : : "memory");
            memcpy(buf, mine[~i & 1] + at, a->frame);
            __asm__ volatile("" : : : "memory");
        }
        if (weft_yield())
            return weft_fail(-EPROTO, "yield");
    }
    unsigned long s = 0;
    for (size_t i = 0; i < a->frame; i += 64)
        s += buf[i];
    sink += s;
    return NULL;
}

static const sw_arg *sw_cur; /* the run's (each run is a fresh process) */

static void *switch_main(void *arg)
{
    double *out = arg;
    const sw_arg *a = sw_cur;
    weft_spawn_opts o = {.flags = a->flags};
    weft_task *t[2];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < 2; i++)
        if (weft_spawn_ex(yielder, (void *)a, &o, &t[i]))
            return weft_fail(-ENOMEM, "spawn");
    if (weft_gather(t, 2, NULL, NULL, 0))
        return weft_fail(-EPROTO, "gather");
    out[0] = (double)(bench_now_ns() - t0) / (2.0 * (double)a->n);
    return NULL;
}

static int run_switch(void *arg, double *out)
{
    sw_cur = arg;
    return bench_weft_run(switch_main, out);
}

typedef struct sl_arg {
    long n;
    unsigned flags;
} sl_arg;

static void *sleeper(void *arg)
{
    if (weft_sleep(SLEEP_S))
        return weft_fail(-EPROTO, "sleep");
    return arg;
}

static const sl_arg *sl_cur; /* the run's */

static void *sleep_main(void *arg)
{
    double *out = arg;
    const sl_arg *a = sl_cur;
    weft_task **h = malloc((size_t)a->n * sizeof *h);
    if (!h)
        return weft_fail(-ENOMEM, "handles");
    bench_touch(h, (size_t)a->n * sizeof *h);
    weft_spawn_opts o = {.flags = a->flags};
    long rss0 = bench_rss();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < a->n; i++)
        if (weft_spawn_ex(sleeper, (void *)(intptr_t)i, &o, &h[i]))
            return weft_fail(-ENOMEM, "spawn #%ld", i);
    if (weft_sleep(SLEEP_S / 2)) /* all asleep by now */
        return weft_fail(-EPROTO, "sleep");
    long rss1 = bench_rss();
    for (long i = 0; i < a->n; i++) {
        void *r = NULL;
        if (weft_await(h[i], &r) || (intptr_t)r != i)
            return weft_fail(-EPROTO, "task #%ld", i);
    }
    out[0] = (double)(rss1 - rss0) / (double)a->n;
    out[1] = (double)(bench_now_ns() - t0) * 1e-9 - SLEEP_S;
    free(h);
    return NULL;
}

static int run_sleep(void *arg, double *out)
{
    sl_cur = arg;
    return bench_weft_run(sleep_main, out);
}

/* spawn + gather: n tasks that return their argument, spawned at once and
 * gathered; ns per task. */
static const sl_arg *sg_cur;

static void *echo(void *arg)
{
    return arg;
}

static void *spawn_gather_main(void *arg)
{
    double *out = arg;
    const sl_arg *a = sg_cur;
    weft_task **h = malloc((size_t)a->n * sizeof *h);
    void **res = malloc((size_t)a->n * sizeof *res);
    if (!h || !res) {
        free(h);
        free(res);
        return weft_fail(-ENOMEM, "arrays");
    }
    bench_touch(h, (size_t)a->n * sizeof *h);
    bench_touch(res, (size_t)a->n * sizeof *res);
    weft_spawn_opts o = {.flags = a->flags};
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < a->n; i++)
        if (weft_spawn_ex(echo, (void *)(intptr_t)i, &o, &h[i]))
            return weft_fail(-ENOMEM, "spawn #%ld", i);
    int rc = weft_gather(h, (size_t)a->n, res, NULL, 0);
    out[0] = (double)(bench_now_ns() - t0) / (double)a->n;
    long bad = 0;
    for (long i = 0; i < a->n; i++)
        bad += res[i] != (void *)(intptr_t)i;
    free(h);
    free(res);
    if (rc || bad)
        return weft_fail(-EPROTO, "gather: %d, %ld wrong", rc, bad);
    return NULL;
}

static int run_spawn_gather(void *arg, double *out)
{
    sg_cur = arg;
    return bench_weft_run(spawn_gather_main, out);
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    bench_header();
    long n = bench_scaled(scale, 1000000, 1000);
    bench_stat st[2];
    double dflt = 0;
    static const size_t frames[] = {256, 1024, 4096};
    double at[3] = {0};
    for (int k = -1; k < 3; k++) {
        sw_arg a = {.n = n,
                    .frame = k < 0 ? 256 : frames[k],
                    .flags = k < 0 ? 0 : WEFT_SPAWN_COMPACT};
        if (bench_runs(REPS, 1, run_switch, &a, st))
            return 1;
        char name[96];
        snprintf(name, sizeof name, "switch, %s tasks, %zu B live frame",
                 k < 0 ? "default" : "compact", a.frame);
        if (k >= 0)
            at[k] = st[0].med;
        if (k < 0) {
            dflt = st[0].med;
            bench_row(name, st[0].med, 1, "ns", "-", -1, "%.1f..%.1f",
                      st[0].min, st[0].max);
        } else if (k == 0) {
            bench_row(name, st[0].med, 1, "ns", "<= 2x default",
                      st[0].med <= 2 * dflt, "%.2fx default", st[0].med / dflt);
        } else {
            bench_row(name, st[0].med, 1, "ns", "-", -1, "%.2fx default",
                      st[0].med / dflt);
        }
    }
    bench_row("switch, compact tasks: per extra KiB of frame",
              (at[2] - at[1]) / 3.0, 1, "ns", "-", -1,
              "the slope from 1 KiB to 4 KiB");
    /* The least any copy-stack pays: a default switch plus the live frame
     * copied out and back in - 256 B, and 464 B: what the compact switch
     * above copies each way on x86-64 (the task's 256 B and 48 of its own
     * frame, weft's entry frame, weft_yield, the scheduler and the saved
     * registers: 160). */
    static const size_t floors[] = {256, 464};
    for (int k = 0; k < 2; k++) {
        sw_arg fl = {.n = n, .frame = floors[k], .copy = true};
        if (bench_runs(REPS, 1, run_switch, &fl, st))
            return 1;
        char name[96];
        snprintf(name, sizeof name,
                 "switch, default tasks + %zu B copied out and in", fl.frame);
        bench_row(name, st[0].med, 1, "ns", "-", -1,
                  "%.2fx default: a copy-stack's floor", st[0].med / dflt);
    }
    for (int c = 0; c < 2; c++) {
        sl_arg a = {.n = n, .flags = c ? WEFT_SPAWN_COMPACT : 0};
        if (bench_runs(REPS, 1, run_spawn_gather, &a, st))
            return 1;
        char name[96];
        snprintf(name, sizeof name, "spawn + gather %ld, %s tasks", n,
                 c ? "compact" : "default");
        if (!c) {
            dflt = st[0].med;
            bench_row(name, st[0].med, 1, "ns/task", "-", -1, "%.1f..%.1f",
                      st[0].min, st[0].max);
        } else {
            bench_row(name, st[0].med, 1, "ns/task", "<= default",
                      st[0].med <= dflt, "%.2fx default (%.1f..%.1f)",
                      st[0].med / dflt, st[0].min, st[0].max);
        }
    }
    long ns = bench_scaled(scale, 100000, 1000);
    for (int c = 0; c < 2; c++) {
        sl_arg a = {.n = ns, .flags = c ? WEFT_SPAWN_COMPACT : 0};
        if (bench_runs(REPS, 2, run_sleep, &a, st))
            return 1;
        char name[96];
        snprintf(name, sizeof name, "%ld %s sleepers: memory per task", ns,
                 c ? "compact" : "default");
        bench_row(name, st[0].med, 0, "B", c ? "<= 512" : "-",
                  c ? st[0].med <= 512 : -1, "RSS delta / n");
        snprintf(name, sizeof name, "%ld %s sleepers: overhead", ns,
                 c ? "compact" : "default");
        bench_row(name, st[1].med, 3, "s", "-", -1, "beyond the %.1f s sleep",
                  SLEEP_S);
    }
    return 0;
}

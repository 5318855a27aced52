/*
 * bench_bar.c - what a progress bar costs.
 *
 * update: weft_bar_update(bar, 1) on a bar whose redraw is not due, in a
 * task (the loop redraws it) and outside any loop (it checks the clock
 * every `miniters` updates); ns per call, 100,000,000 calls.  Target <= 5 ns.
 * Peer: tqdm's update(1), about 150 ns.  Output goes to /dev/null in log
 * mode so that drawing costs nothing here.
 *
 * gather: weft_gather of 100,000 trivial tasks with a bar (desc set) and
 * without; ratio of the times.  Target <= 1.05.  Peer: tqdm.gather costs
 * about 90% more than asyncio.gather.
 *
 * Usage: bench_bar [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define UPDATES 100000000L
#define TASKS 100000L
#define REPS 5

static long n_updates, n_tasks;
static int devnull;

static int loop_updates(double *out)
{
    weft_bar *bar;
    weft_bar_opts o = {.fd = devnull};
    if (weft_bar_new(&o, &bar))
        return -1;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_updates; i++)
        weft_bar_update(bar, 1);
    out[0] = (double)(bench_now_ns() - t0) / (double)n_updates;
    int bad = weft_bar_count(bar) != (unsigned long long)n_updates;
    weft_bar_close(bar);
    return bad ? -1 : 0;
}

static void *in_task(void *arg)
{
    return loop_updates(arg) ? weft_fail(-EPROTO, "wrong count") : NULL;
}

static int run_in_task(void *arg, double *out)
{
    (void)arg;
    int rc = weft_run(in_task, out, NULL);
    return rc ? bench_fail("%s", weft_strerror(rc)) : 0;
}

static int run_inline(void *arg, double *out)
{
    (void)arg;
    return loop_updates(out) ? bench_fail("wrong count") : 0;
}

static void *trivial(void *arg)
{
    return arg;
}

static void *gathers(void *arg)
{
    double *out = arg;
    weft_task **h = malloc((size_t)n_tasks * sizeof *h);
    if (!h)
        return weft_fail(-ENOMEM, "no memory");
    /* Pairs alternate with and without, after a warm-up pair, so that
     * drift on a shared machine hits both; the medians are compared. */
    enum { PAIRS = 7 };
    double t[2][PAIRS];
    for (int pass = 0; pass < 2 * (PAIRS + 1); pass++) {
        int with_bar = pass & 1;
        weft_gather_opts o = {.desc = with_bar ? "gather" : NULL};
        for (long i = 0; i < n_tasks; i++)
            weft_spawn(trivial, (void *)(intptr_t)i, &h[i]);
        uint64_t t0 = bench_now_ns();
        int rc = weft_gather_ex(h, (size_t)n_tasks, NULL, NULL, &o);
        if (pass >= 2)
            t[with_bar][pass / 2 - 1] = (double)(bench_now_ns() - t0);
        if (rc) {
            free(h);
            return weft_fail(rc, "gather");
        }
    }
    free(h);
    double without = bench_median(t[0], PAIRS), with = bench_median(t[1], PAIRS);
    out[0] = without / (double)n_tasks;
    out[1] = with / (double)n_tasks;
    out[2] = with / without;
    return NULL;
}

static int run_gathers(void *arg, double *out)
{
    (void)arg;
    int rc = weft_run(gathers, out, NULL);
    return rc ? bench_fail("%s", weft_strerror(rc)) : 0;
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    n_updates = bench_scaled(scale, UPDATES, 1000);
    n_tasks = bench_scaled(scale, TASKS, 100);
    /* Bars draw to a non-terminal in log mode: the cost measured is the
     * counting, not the drawing. */
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 2) < 0)
        return bench_fail("/dev/null");
    setenv("WEFT_PROGRESS", "log", 1);
    bench_header();

    bench_stat st[3];
    int judge = n_updates == UPDATES;
    if (bench_runs(REPS, 1, run_in_task, NULL, st))
        return 1;
    bench_row("bar: update(1), in a task", st[0].med, 2, "ns/update", "<= 5",
              judge ? st[0].med <= 5 : -1,
              "%ld updates; median of %d (%.2f..%.2f); tqdm 150", n_updates,
              REPS, st[0].min, st[0].max);
    if (bench_runs(REPS, 1, run_inline, NULL, st))
        return 1;
    bench_row("bar: update(1), outside a loop", st[0].med, 2, "ns/update",
              "<= 5", judge ? st[0].med <= 5 : -1,
              "%ld updates; median of %d (%.2f..%.2f)", n_updates, REPS,
              st[0].min, st[0].max);
    if (bench_runs(REPS, 3, run_gathers, NULL, st))
        return 1;
    bench_row("bar: gather 100k with / without a bar", st[2].med, 3, "ratio",
              "<= 1.05", n_tasks == TASKS ? st[2].med <= 1.05 : -1,
              "%.1f vs %.1f ns/task; median of %d (%.3f..%.3f); tqdm.gather "
              "1.9",
              st[1].med, st[0].med, REPS, st[2].min, st[2].max);
    return 0;
}

/*
 * bench_group.c - task groups against weft_gather, and taking tasks in
 * completion order.
 *
 * group / gather: 1,000,000 trivial tasks spawned into a task group and
 * waited for, against the same tasks spawned and gathered, in the same
 * process one after the other (ns per task each, and their ratio).
 * Target: the group costs at most 10% more per task.
 *
 * taskset take: 1,000,000 trivial tasks added to a task set and left to
 * finish; then the time to take every one back in completion order
 * (weft_taskset_next) and collect it (weft_await, which returns at once),
 * per task.  Target: under 30 ns.
 *
 * Usage: bench_group [scale]   (or WEFT_BENCH_SCALE; default 1)
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

/* out[0]: gather ns/task, out[1]: group ns/task, out[2]: take ns/task. */
static void *all(void *arg)
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
    /* A warm-up pass commits the arenas. */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < n_tasks; i++)
            weft_spawn(index_of, (void *)(intptr_t)i, &h[i]);
        bad += weft_gather(h, (size_t)n_tasks, res, NULL, 0) != 0;
        uint64_t t1 = bench_now_ns();
        weft_group *g;
        bad += weft_group_new(&g) != 0;
        for (long i = 0; i < n_tasks; i++)
            weft_group_spawn(g, index_of, (void *)(intptr_t)i, NULL);
        bad += weft_group_wait(g) != 0;
        uint64_t t2 = bench_now_ns();
        bad += weft_group_free(g) != 0;

        weft_taskset *set;
        bad += weft_taskset_new(&set) != 0;
        for (long i = 0; i < n_tasks; i++) {
            weft_task *t;
            weft_spawn(index_of, (void *)(intptr_t)i, &t);
            weft_taskset_add(set, t);
        }
        weft_yield(); /* every task runs and finishes */
        weft_yield();
        long sum = 0, taken = 0;
        uint64_t t3 = bench_now_ns();
        weft_task *t;
        while (weft_taskset_next(set, &t) == 1) {
            void *r;
            weft_await(t, &r);
            sum += (intptr_t)r;
            taken++;
        }
        uint64_t t4 = bench_now_ns();
        bad += taken != n_tasks || sum != n_tasks * (n_tasks - 1) / 2;
        bad += weft_taskset_free(set) != 0;
        out[0] = (double)(t1 - t0) / (double)n_tasks;
        out[1] = (double)(t2 - t1) / (double)n_tasks;
        out[2] = (double)(t4 - t3) / (double)n_tasks;
    }
    free(h);
    free(res);
    return bad ? weft_fail(-EPROTO, "%ld wrong results", bad) : NULL;
}

static int run(void *arg, double *out)
{
    (void)arg;
    if (bench_weft_run(all, out))
        return -1;
    out[3] = out[1] / out[0];
    return 0;
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    n_tasks = bench_scaled(scale, TASKS, 10);
    bench_header();
    bench_stat st[4];
    if (bench_runs(REPS, 4, run, NULL, st))
        return 1;
    int judge = n_tasks == TASKS;
    bench_row("group 1M: spawn + weft_gather", st[0].med, 1, "ns/task", "-", -1,
              "%ld tasks; median of %d (%.1f..%.1f)", n_tasks, REPS, st[0].min,
              st[0].max);
    bench_row("group 1M: weft_group_spawn + wait", st[1].med, 1, "ns/task", "-",
              -1, "median of %d (%.1f..%.1f)", REPS, st[1].min, st[1].max);
    bench_row("group 1M: group / gather", st[3].med, 2, "ratio", "<= 1.10",
              judge ? st[3].med <= 1.10 : -1,
              "per-run ratio, median of %d (%.2f..%.2f)", REPS, st[3].min,
              st[3].max);
    bench_row("taskset: take 1M finished tasks in completion order", st[2].med,
              1, "ns/task", "< 30", judge ? st[2].med < 30 : -1,
              "weft_taskset_next + weft_await; median of %d (%.1f..%.1f)", REPS,
              st[2].min, st[2].max);
    return 0;
}

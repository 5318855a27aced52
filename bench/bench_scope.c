/*
 * bench_scope.c - what cancel scopes cost.
 *
 * open+close: weft_scope_open and weft_scope_close around a call that does
 * not suspend (weft_cancelled), per pair, minus the same loop without the
 * scope: with no deadline (INFINITY), with an absolute deadline
 * (weft_scope_open_at), and with a relative timeout, which must read the
 * clock (one clock_gettime, the floor of a deadline that is never early;
 * the note gives its cost here).  Target: at most 20 ns.
 *
 * yield in a scope: two tasks switch with weft_yield, 1,000,000 times each,
 * outside any scope, then each inside a scope with a deadline an hour away
 * (every suspending call then checks its scopes); ns per yield, and the
 * difference.  Target: at most +5 ns.
 *
 * Usage: bench_scope [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <math.h>
#include <stdint.h>

#define PAIRS 2000000L
#define YIELDS 1000000L
#define REPS 7

static long n_pairs, n_yields;

/* out[0]: floor, out[1]: open(INFINITY)+close, out[2]: open(t)+close,
 * each ns per iteration. */
static void *open_close(void *arg)
{
    double *out = arg;
    long bad = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_pairs; i++)
        bad += weft_cancelled() != 0;
    uint64_t t1 = bench_now_ns();
    for (long i = 0; i < n_pairs; i++) {
        weft_scope *s;
        bad += weft_scope_open(INFINITY, &s) != 0;
        bad += weft_cancelled() != 0;
        bad += weft_scope_close(s) != 0;
    }
    uint64_t t2 = bench_now_ns();
    for (long i = 0; i < n_pairs; i++) {
        weft_scope *s;
        bad += weft_scope_open(3600.0, &s) != 0;
        bad += weft_cancelled() != 0;
        bad += weft_scope_close(s) != 0;
    }
    uint64_t t3 = bench_now_ns();
    double at = weft_now() + 3600.0;
    for (long i = 0; i < n_pairs; i++) {
        weft_scope *s;
        bad += weft_scope_open_at(at, &s) != 0;
        bad += weft_cancelled() != 0;
        bad += weft_scope_close(s) != 0;
    }
    uint64_t t4 = bench_now_ns();
    for (long i = 0; i < n_pairs; i++)
        bad += weft_now() <= 0;
    uint64_t t5 = bench_now_ns();
    out[0] = (double)(t1 - t0) / (double)n_pairs;
    out[1] = (double)(t2 - t1) / (double)n_pairs - out[0];
    out[2] = (double)(t3 - t2) / (double)n_pairs - out[0];
    out[6] = (double)(t4 - t3) / (double)n_pairs - out[0];
    out[7] = (double)(t5 - t4) / (double)n_pairs;
    return bad ? weft_fail(-EPROTO, "%ld wrong results", bad) : NULL;
}

static void *yielder(void *arg)
{
    int scoped = (int)(intptr_t)arg;
    weft_scope *s = NULL;
    if (scoped && weft_scope_open(3600.0, &s))
        return weft_fail(-EPROTO, "open");
    long bad = 0;
    for (long i = 0; i < n_yields; i++)
        bad += weft_yield() != 0;
    if (s && weft_scope_close(s) != 0)
        bad++;
    return bad ? weft_fail(-EPROTO, "%ld failed yields", bad) : NULL;
}

/* out[3]: ns per yield outside scopes, out[4]: inside. */
static void *yields(void *arg)
{
    double *out = arg;
    for (int scoped = 0; scoped < 2; scoped++) {
        weft_task *a, *b;
        uint64_t t0 = bench_now_ns();
        weft_spawn(yielder, (void *)(intptr_t)scoped, &a);
        weft_spawn(yielder, (void *)(intptr_t)scoped, &b);
        int ra = weft_await(a, NULL), rb = weft_await(b, NULL);
        uint64_t t1 = bench_now_ns();
        if (ra || rb)
            return weft_fail(-EPROTO, "yielders failed");
        out[3 + scoped] = (double)(t1 - t0) / (double)(2 * n_yields);
    }
    return NULL;
}

static int run(void *arg, double *out)
{
    (void)arg;
    if (bench_weft_run(open_close, out) || bench_weft_run(yields, out))
        return -1;
    out[5] = out[4] - out[3];
    return 0;
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    n_pairs = bench_scaled(scale, PAIRS, 10);
    n_yields = bench_scaled(scale, YIELDS, 10);
    bench_header();
    bench_stat st[8];
    if (bench_runs(REPS, 8, run, NULL, st))
        return 1;
    int judge = n_pairs == PAIRS;
    bench_row("scope: open(INFINITY) + close around a call", st[1].med, 1,
              "ns/pair", "<= 20", judge ? st[1].med <= 20 : -1,
              "%ld pairs, beyond the call alone (%.1f ns); median of %d "
              "(%.1f..%.1f)",
              n_pairs, st[0].med, REPS, st[1].min, st[1].max);
    bench_row("scope: open_at(deadline) + close around a call", st[6].med, 1,
              "ns/pair", "<= 20", judge ? st[6].med <= 20 : -1,
              "median of %d (%.1f..%.1f)", REPS, st[6].min, st[6].max);
    bench_row("scope: open(timeout) + close around a call", st[2].med, 1,
              "ns/pair", "<= 20", judge ? st[2].med <= 20 : -1,
              "includes one clock read (weft_now: %.1f ns here); median of "
              "%d (%.1f..%.1f)",
              st[7].med, REPS, st[2].min, st[2].max);
    bench_row("scope: yield outside any scope", st[3].med, 1, "ns/yield", "-",
              -1, "2 tasks x %ld; median of %d (%.1f..%.1f)", n_yields, REPS,
              st[3].min, st[3].max);
    bench_row("scope: yield inside a scope with a deadline", st[4].med, 1,
              "ns/yield", "-", -1, "median of %d (%.1f..%.1f)", REPS, st[4].min,
              st[4].max);
    bench_row("scope: suspension inside a scope, extra", st[5].med, 1,
              "ns/yield", "<= 5", judge ? st[5].med <= 5 : -1,
              "per-run difference, median of %d (%.1f..%.1f)", REPS, st[5].min,
              st[5].max);
    return 0;
}

/*
 * bench_sync.c - a contended lock and an async generator.
 *
 * lock: 100 tasks each loop 10,000 times over {acquire, yield, release} on
 * one weft_lock; wall time per acquire.  Every acquisition but the first
 * finds the lock taken (its holder yielded), so each costs a queued wait, a
 * hand-off and a switch.  Target <= 30 ns.  Peers: Go sync.Mutex with
 * Gosched 253 ns, Tokio Mutex 1,470 ns, asyncio.Lock 12,300 ns.
 *
 * generator: 10,000,000 items from a producer to a summing consumer
 * (weft_gen_yield / weft_gen_next); time per item.  Target <= 30 ns.
 * Peers: asyncio async generator 106 ns, Go unbuffered channel 121-173 ns,
 * Tokio 285 ns.
 *
 * queue: 10,000,000 weft_queue_put + weft_queue_get pairs in one task on a
 * bounded FIFO queue that never fills or empties (no wait, no switch):
 * what the calls themselves cost, per pair.  No target, no peer measured.
 *
 * Usage: bench_sync [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <stdint.h>

#define TASKS 100
#define ROUNDS 10000L
#define ITEMS 10000000L
#define REPS 5

static long n_rounds, n_items;
static weft_lock lock = WEFT_LOCK_INIT;
static long inside;

static void *locker(void *arg)
{
    (void)arg;
    for (long i = 0; i < n_rounds; i++) {
        int rc = weft_lock_acquire(&lock);
        if (rc)
            return weft_fail(rc, "acquire: %s", weft_strerror(rc));
        if (++inside != 1)
            return weft_fail(-EPROTO, "two tasks hold the lock");
        weft_yield();
        inside--;
        weft_lock_release(&lock);
    }
    return NULL;
}

static void *lock_main(void *arg)
{
    double *out = arg;
    weft_task *t[TASKS];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < TASKS; i++)
        weft_spawn(locker, NULL, &t[i]);
    int rc = weft_gather(t, TASKS, NULL, NULL, 0);
    out[0] = (double)(bench_now_ns() - t0) / (double)(TASKS * n_rounds);
    return rc ? weft_fail(rc, "%s", weft_errmsg()) : NULL;
}

static void *producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < n_items; i++)
        if (weft_gen_yield((void *)(intptr_t)i))
            break;
    return NULL;
}

static void *gen_main(void *arg)
{
    double *out = arg;
    weft_gen *g;
    int rc = weft_gen_new(producer, NULL, &g);
    if (rc)
        return weft_fail(rc, "weft_gen_new");
    long sum = 0, n = 0;
    void *v;
    uint64_t t0 = bench_now_ns();
    while ((rc = weft_gen_next(g, &v)) > 0) {
        sum += (intptr_t)v;
        n++;
    }
    out[0] = (double)(bench_now_ns() - t0) / (double)n_items;
    weft_gen_close(g);
    if (rc || n != n_items || sum != n_items * (n_items - 1) / 2)
        return weft_fail(rc ? rc : -EPROTO, "generator: %ld items, sum %ld",
                         n, sum);
    return NULL;
}

static void *queue_main(void *arg)
{
    double *out = arg;
    weft_queue *q;
    int rc = weft_queue_new(WEFT_QUEUE_FIFO, 64, NULL, &q);
    if (rc)
        return weft_fail(rc, "weft_queue_new");
    weft_queue_put(q, (void *)(intptr_t)-1); /* never empty: no wait */
    long sum = 0;
    void *v;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_items && !rc; i++) {
        rc = weft_queue_put(q, (void *)(intptr_t)i);
        if (!rc)
            rc = weft_queue_get(q, &v);
        sum += (intptr_t)v;
    }
    out[0] = (double)(bench_now_ns() - t0) / (double)n_items;
    weft_queue_get(q, &v);
    weft_queue_free(q);
    if (rc || sum != n_items * (n_items - 1) / 2 - 1 - (n_items - 1))
        return weft_fail(rc ? rc : -EPROTO, "queue: sum %ld", sum);
    return NULL;
}

static int run_lock(void *arg, double *out)
{
    (void)arg;
    return bench_weft_run(lock_main, out);
}

static int run_gen(void *arg, double *out)
{
    (void)arg;
    return bench_weft_run(gen_main, out);
}

static int run_queue(void *arg, double *out)
{
    (void)arg;
    return bench_weft_run(queue_main, out);
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    n_rounds = bench_scaled(scale, ROUNDS, 10);
    n_items = bench_scaled(scale, ITEMS, 10);
    bench_header();

    bench_stat st;
    if (bench_runs(REPS, 1, run_lock, NULL, &st))
        return 1;
    bench_row("lock: 100 tasks x {acquire, yield, release}", st.med, 1,
              "ns/acquire", "<= 30", n_rounds == ROUNDS ? st.med <= 30 : -1,
              "%d x %ld; median of %d (%.1f..%.1f); Go 253, Tokio 1470, "
              "asyncio 12300",
              TASKS, n_rounds, REPS, st.min, st.max);
    if (bench_runs(REPS, 1, run_gen, NULL, &st))
        return 1;
    bench_row("generator: items to a summing consumer", st.med, 1,
              "ns/item", "<= 30", n_items == ITEMS ? st.med <= 30 : -1,
              "%ld items; median of %d (%.1f..%.1f); asyncio 106, Go "
              "channel 121-173, Tokio 285",
              n_items, REPS, st.min, st.max);
    if (bench_runs(REPS, 1, run_queue, NULL, &st))
        return 1;
    bench_row("queue: put + get, no wait", st.med, 1, "ns/pair", "-", -1,
              "%ld pairs; median of %d (%.1f..%.1f)",
              n_items, REPS, st.min, st.max);
    return 0;
}

/*
 * demo.c - a walk through what weft gives a C program, following asyncio:
 * run and sleep, tasks that return values, to_thread, gather, Lock, async
 * iteration, errors and cancellation.  `make demo` builds and runs it
 * (about two seconds).
 */
#define _GNU_SOURCE
#include "weft.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((intptr_t)(p))

/* async def M1(delay): await asyncio.sleep(delay); return delay
 * (delays in tenths of a second here, to keep the demo short) */
static void *m1(void *arg)
{
    weft_sleep((double)P2I(arg) / 10);
    return arg;
}

/* def blocking(x): time.sleep(x); return x   - a plain blocking call */
static void *blocking(void *arg)
{
    struct timespec ts = {0, P2I(arg) * 100000000L};
    nanosleep(&ts, NULL);
    return arg;
}

static weft_lock lock = WEFT_LOCK_INIT;
static int in_section, max_in_section;

/* async with lock: await asyncio.sleep(0.05); return 10 */
static void *locked(void *arg)
{
    int rc;
    WEFT_WITH_LOCK(&lock, rc) {
        if (++in_section > max_in_section)
            max_in_section = in_section;
        weft_sleep(0.05);
        in_section--;
    }
    return rc ? NULL : arg;
}

/* async def M2(): for i in 1..5: yield await M1(i) */
static void *m2(void *arg)
{
    (void)arg;
    for (intptr_t i = 1; i <= 5; i++) {
        weft_task *t;
        void *r;
        weft_spawn(m1, I2P(i), &t);
        weft_await(t, &r);
        if (weft_gen_yield(r))
            break; /* the consumer closed the generator */
    }
    return NULL;
}

static void *fetch(void *arg)
{
    weft_sleep(0.05);
    return weft_fail(-ENOENT, "no such page: %s", (const char *)arg);
}

static void *forever(void *arg)
{
    (void)arg;
    int rc = weft_sleep(1.0 / 0.0);
    printf("   worker's sleep returned: %s\n", weft_strerror(rc));
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    double t0 = weft_now();
    void *r;

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("1. a task that returns a value (Task<int>):\n");
    weft_task *t;
    weft_spawn(m1, I2P(1), &t);
    weft_await(t, &r);
    printf("   M1(1) returned %ld\n", (long)P2I(r));

    printf("2. to_thread: a blocking call on the thread pool while a timer "
           "ticks\n");
    weft_task *ticker;
    weft_spawn(m1, I2P(1), &ticker);
    weft_to_thread(blocking, I2P(2), &r);
    printf("   blocking(0.2 s) returned %ld; the loop ran meanwhile: %s\n",
           (long)P2I(r), weft_task_done(ticker) == 1 ? "yes" : "no");
    weft_await(ticker, NULL);

    printf("3. gather under a progress bar (tqdm.gather), results in "
           "submission order\n");
    weft_task *tasks[5];
    void *results[5];
    double g0 = weft_now();
    for (int i = 0; i < 5; i++)
        weft_spawn(m1, I2P(5 - i), &tasks[i]);
    weft_gather_opts go = {.desc = "任务进行中..."};
    weft_gather_ex(tasks, 5, results, NULL, &go);
    printf("  ");
    for (int i = 0; i < 5; i++)
        printf(" %ld", (long)P2I(results[i]));
    printf("   in %.2f s (the longest, not the sum)\n", weft_now() - g0);

    printf("4. a Lock: four tasks, one in the section at a time\n");
    for (int i = 0; i < 4; i++)
        weft_spawn(locked, I2P(10), &tasks[i]);
    weft_gather(tasks, 4, results, NULL, 0);
    printf("   each returned %ld; at most %d in the section\n",
           (long)P2I(results[0]), max_in_section);

    printf("5. async for over a generator, under a manual bar: each value "
           "as soon as it is ready\n");
    weft_gen *g;
    weft_gen_new(m2, NULL, &g);
    weft_bar *bar;
    weft_bar_opts bo = {.total = 5, .desc = "整体任务进度"};
    weft_bar_new(&bo, &bar);
    weft_gen_set_bar(g, bar); /* pbar.update(1) per value */
    int rc;
    double a0 = weft_now();
    WEFT_GEN_FOREACH(g, v, rc) {
        weft_bar_printf("   %ld at +%.1f s", (long)P2I(v), weft_now() - a0);
    }
    weft_gen_close(g);
    weft_bar_close(bar);

    printf("6. errors carry a code and a message\n");
    weft_spawn(fetch, "/index.html", &t);
    rc = weft_await(t, NULL);
    printf("   %s (%s)\n", weft_strerror(rc), weft_errmsg());

    printf("7. cancellation wakes a sleeping task\n");
    weft_spawn(forever, NULL, &t);
    weft_sleep(0.01);
    weft_task_cancel(t);
    rc = weft_await(t, NULL);
    printf("   await: %s\n", weft_strerror(rc));

    printf("all in %.2f s\n", weft_now() - t0);
    return I2P(0);
}

int main(void)
{
    int rc = weft_run(main_task, NULL, NULL);
    printf("weft_run: %s (context switch: %s, stack guards: %s)\n",
           weft_strerror(rc), weft_switch_name(), weft_guard_name());
    return rc == 0 ? 0 : 1;
}

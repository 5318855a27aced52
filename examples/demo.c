/*
 * demo.c - a short tour of weft: run, sleep, spawn/await, concurrency,
 * errors with messages, cancellation.  `make demo` builds and runs it.
 */
#include "weft.h"

#include <stdint.h>
#include <stdio.h>

/* async def M1(delay): await asyncio.sleep(delay); return delay */
static void *m1(void *arg)
{
    intptr_t tenths = (intptr_t)arg;
    weft_sleep((double)tenths / 10);
    return (void *)tenths;
}

static void *fetch(void *arg)
{
    const char *path = arg;
    weft_sleep(0.05);
    return weft_fail(-ENOENT, "no such page: %s", path);
}

static void *worker_forever(void *arg)
{
    (void)arg;
    int rc = weft_sleep(1.0 / 0.0); /* until cancelled */
    printf("  worker: sleep returned %s\n", weft_strerror(rc));
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    printf("1. tasks run concurrently: five sleeps of 0.1 .. 0.5 s\n");
    double t0 = weft_now();
    weft_task *tasks[5];
    for (intptr_t i = 0; i < 5; i++)
        weft_spawn(m1, (void *)(i + 1), &tasks[i]);
    for (int i = 0; i < 5; i++) {
        void *r;
        weft_await(tasks[i], &r); /* results in submission order */
        printf("  task %d returned %ld\n", i, (long)(intptr_t)r);
    }
    printf("  all done in %.2f s, not 1.5 s\n", weft_now() - t0);

    printf("2. a failing task reports a code and a message\n");
    weft_task *t;
    weft_spawn(fetch, "/index.html", &t);
    int rc = weft_await(t, NULL);
    printf("  await: %s (%s)\n", weft_strerror(rc), weft_errmsg());

    printf("3. cancellation wakes a sleeping task\n");
    weft_spawn(worker_forever, NULL, &t);
    weft_sleep(0.05);
    weft_task_cancel(t);
    rc = weft_await(t, NULL);
    printf("  await: %s\n", weft_strerror(rc));
    return (void *)42;
}

int main(void)
{
    void *result;
    int rc = weft_run(main_task, NULL, &result);
    printf("weft_run: %s, main returned %ld (context switch: %s, stack "
           "guards: %s)\n",
           weft_strerror(rc), (long)(intptr_t)result, weft_switch_name(),
           weft_guard_name());
    return rc == 0 ? 0 : 1;
}

/*
 * test_loops_parallel.c - two loops on two threads at the same time, each
 * spawning and finishing tasks: what they share is process-wide state
 * (the stack guard tier, the "under Valgrind?" answer, the page size, the
 * overflow handler, loop tags), which must be safe to reach from every
 * loop thread.
 *
 * Proves that two threads each running weft_run - tasks with default and
 * custom stack sizes spawned, run and awaited, round after round - finish
 * with every result right.  Its point is the ThreadSanitizer build (in
 * CI): a process-wide value written by one loop's thread and read by
 * another's without synchronisation (the cached Valgrind check in
 * src/coro/stack.c and page size in src/task.c were) is reported there.
 */
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define ROUNDS 20
#define TASKS 50

static atomic_int go; /* both threads start their loops together */

static void *child(void *arg)
{
    weft_yield();
    return (void *)(P2I(arg) * 2);
}

static void *loop_main(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        weft_task *t[TASKS];
        for (int i = 0; i < TASKS; i++) {
            /* Every fourth task on a stack of its own size: mapped and
             * unmapped per task, the other path through the stack code. */
            weft_spawn_opts o = {.stack_size = i % 4 ? 0 : 64 * 1024};
            REQUIRE(weft_spawn_ex(child, I2P(i), &o, &t[i]) == 0);
        }
        for (int i = 0; i < TASKS; i++) {
            void *res = NULL;
            CHECK_EQ(weft_await(t[i], &res), 0);
            CHECK_EQ(P2I(res), 2 * i);
        }
    }
    return NULL;
}

static void *thread_main(void *arg)
{
    (void)arg;
    atomic_fetch_add(&go, 1);
    while (atomic_load(&go) < 2)
        ; /* both loops start at once: their first tasks race */
    CHECK_EQ(weft_run(loop_main, NULL, NULL), 0);
    return NULL;
}

/* Two loops spawning and finishing tasks at once. */
static void case_two_loops(void *arg)
{
    (void)arg;
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&th[i], NULL, thread_main, NULL) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
}

static const struct check_case_def cases[] = {
    {"two_loops_at_once", NULL, case_two_loops, NULL, 0, 0, CHECK_CASE_ALARM},
};

int main(void)
{
    check_allow_maps(4 * 2); /* glibc's cached thread stacks and arenas */
    return CHECK_MAIN(cases);
}

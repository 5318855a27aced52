/*
 * test_sync_loops.c - synchronization primitives in the caller's storage,
 * shared by two loops on two threads.
 *
 * Proves that a primitive belongs to the loop whose tasks hold it or wait
 * on it, while they do, and refuses every other loop's calls with -EPERM:
 * - a lock held by loop A: B's acquire, try and release are -EPERM, and A
 *   still holds it;
 * - an event, a semaphore, a queue, a barrier and a condition with A's
 *   tasks waiting: every call of B's that would take, grant or wait (set,
 *   acquire, try, release, put, get, task_done, join, shutdown, wait,
 *   reset, abort, notify) is -EPERM and A's waiters are neither woken nor
 *   lost;
 * - once A let go of everything, B uses the same static objects normally (a
 *   primitive is not bound to a loop for life: successive loops reuse it).
 * Runs under ThreadSanitizer in CI: the two loops touch the objects only in
 * turn, ordered by the test's own atomics.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static weft_lock lock = WEFT_LOCK_INIT;
static weft_lock cond_lock = WEFT_LOCK_INIT;
static weft_cond cond = WEFT_COND_INIT(&cond_lock);
static weft_event event = WEFT_EVENT_INIT;
static weft_semaphore sem = WEFT_SEMAPHORE_INIT(0);
static weft_barrier barrier = WEFT_BARRIER_INIT(2);
static weft_queue *queue;

/* The two threads' steps. */
static atomic_int a_ready; /* A holds the lock, its waiters wait */
static atomic_int b_done;  /* B has checked everything */
static atomic_int a_done;  /* A let go of everything */
static int a_woken;        /* A's waiters woken by B (must stay 0) */

/* Waits (bounded) for flag, letting the loop run: 10 s, or 60 s under an
 * emulator, where B's 300 loops alone take seconds. */
static void await_flag(atomic_int *flag)
{
    int bound = check_slow_env() ? 60000 : 10000;
    for (int i = 0; !atomic_load(flag); i++) {
        REQUIRE(i < bound);
        weft_sleep(0.001);
    }
}

static void *wait_event(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_event_wait(&event), 0);
    CHECK(atomic_load(&b_done)); /* not woken by B */
    return NULL;
}

static void *wait_sem(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_sem_acquire(&sem), 0);
    CHECK(atomic_load(&b_done));
    return NULL;
}

static void *wait_queue(void *arg)
{
    (void)arg;
    void *item = NULL;
    CHECK_EQ(weft_queue_get(queue, &item), 0);
    CHECK(item == &a_woken); /* A's own item, not B's */
    return NULL;
}

static void *wait_barrier(void *arg)
{
    (void)arg;
    int rc = weft_barrier_wait(&barrier);
    CHECK(rc == 0 || rc == 1);
    CHECK(atomic_load(&b_done));
    return NULL;
}

static void *wait_cond(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_lock_acquire(&cond_lock), 0);
    CHECK_EQ(weft_cond_wait(&cond), 0);
    CHECK(atomic_load(&b_done));
    CHECK_EQ(weft_lock_release(&cond_lock), 0);
    return NULL;
}

static void *loop_a(void *arg)
{
    (void)arg;
    weft_task *t[5];
    REQUIRE(weft_lock_acquire(&lock) == 0);
    REQUIRE(weft_spawn(wait_event, NULL, &t[0]) == 0);
    REQUIRE(weft_spawn(wait_sem, NULL, &t[1]) == 0);
    REQUIRE(weft_spawn(wait_queue, NULL, &t[2]) == 0);
    REQUIRE(weft_spawn(wait_barrier, NULL, &t[3]) == 0);
    REQUIRE(weft_spawn(wait_cond, NULL, &t[4]) == 0);
    for (int i = 0; i < 4; i++)
        weft_yield(); /* every waiter waits now */
    atomic_store(&a_ready, 1);
    await_flag(&b_done);
    /* Still ours: release everything from this loop. */
    CHECK_EQ(weft_lock_locked(&lock), 1);
    CHECK_EQ(weft_lock_release(&lock), 0);
    CHECK_EQ(weft_event_set(&event), 0);
    CHECK_EQ(weft_sem_release(&sem), 0);
    CHECK_EQ(weft_queue_try_put(queue, &a_woken), 0);
    CHECK(weft_barrier_wait(&barrier) >= 0);
    CHECK_EQ(weft_lock_acquire(&cond_lock), 0);
    CHECK_EQ(weft_cond_notify(&cond, 1), 1);
    CHECK_EQ(weft_lock_release(&cond_lock), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(weft_await(t[i], NULL), 0);
    return NULL;
}

static void *loop_b(void *arg)
{
    (void)arg;
    await_flag(&a_ready);
    /* Loop A's lock. */
    CHECK_EQ(weft_lock_release(&lock), -EPERM);
    CHECK_EQ(weft_lock_acquire(&lock), -EPERM);
    CHECK_EQ(weft_lock_try(&lock), -EPERM);
    /* Primitives A's tasks wait on. */
    CHECK_EQ(weft_event_set(&event), -EPERM);
    CHECK_EQ(weft_event_wait(&event), -EPERM);
    CHECK_EQ(weft_sem_release(&sem), -EPERM);
    CHECK_EQ(weft_sem_try(&sem), -EPERM);
    CHECK_EQ(weft_sem_acquire(&sem), -EPERM);
    CHECK_EQ(weft_queue_try_put(queue, NULL), -EPERM);
    void *item;
    CHECK_EQ(weft_queue_try_get(queue, &item), -EPERM);
    CHECK_EQ(weft_queue_put(queue, NULL), -EPERM);
    CHECK_EQ(weft_queue_get(queue, &item), -EPERM);
    CHECK_EQ(weft_queue_task_done(queue), -EPERM);
    CHECK_EQ(weft_queue_join(queue), -EPERM);
    CHECK_EQ(weft_queue_shutdown(queue, 1), -EPERM);
    CHECK_EQ(weft_barrier_wait(&barrier), -EPERM);
    CHECK_EQ(weft_barrier_reset(&barrier), -EPERM);
    CHECK_EQ(weft_barrier_abort(&barrier), -EPERM);
    /* The condition's lock is free (A's waiter let it go), but A's task
     * waits on the condition. */
    CHECK_EQ(weft_lock_acquire(&cond_lock), 0);
    CHECK_EQ(weft_cond_notify(&cond, 1), -EPERM);
    CHECK_EQ(weft_cond_notify_all(&cond), -EPERM);
    CHECK_EQ(weft_cond_wait(&cond), -EPERM);
    CHECK_EQ(weft_lock_release(&cond_lock), 0);
    atomic_store(&b_done, 1);
    /* Once A let go, the same objects serve this loop. */
    await_flag(&a_done);
    CHECK_EQ(weft_lock_acquire(&lock), 0);
    CHECK_EQ(weft_lock_release(&lock), 0);
    CHECK_EQ(weft_sem_release(&sem), 0);
    CHECK_EQ(weft_sem_acquire(&sem), 0);
    CHECK_EQ(weft_event_wait(&event), 0); /* A set it */
    return NULL;
}

static void *thread_a(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_run(loop_a, NULL, NULL), 0);
    atomic_store(&a_done, 1);
    return NULL;
}

/* One short loop on B's thread: A's main task holds `lock`. */
static void *foreign_loop(void *arg)
{
    int *refused = arg;
    int rel = weft_lock_release(&lock), acq = weft_lock_acquire(&lock),
        try = weft_lock_try(&lock);
    CHECK_EQ(rel, -EPERM);
    CHECK_EQ(acq, -EPERM);
    CHECK_EQ(try, -EPERM);
    CHECK_EQ(weft_lock_locked(&lock), 1);
    *refused += rel == -EPERM && acq == -EPERM && try == -EPERM;
    return NULL;
}

static void *thread_b(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&a_ready); i++) {
        REQUIRE(i < 10000); /* 10 s */
        usleep(1000);
    }
    /* More loops than there are task-handle tags: one of them has A's. */
    int refused = 0;
    for (int i = 0; i < 300; i++)
        CHECK_EQ(weft_run(foreign_loop, &refused, NULL), 0);
    CHECK_EQ(refused, 300);
    CHECK_EQ(weft_run(loop_b, NULL, NULL), 0);
    return NULL;
}

static void case_two_threads(void *arg)
{
    (void)arg;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &queue) == 0);
    pthread_t a, b;
    REQUIRE(pthread_create(&a, NULL, thread_a, NULL) == 0);
    REQUIRE(pthread_create(&b, NULL, thread_b, NULL) == 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_EQ(weft_queue_free(queue), 0);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("two_threads", case_two_threads, NULL),
};

int main(void)
{
    check_allow_maps(4 * 2); /* glibc's cached thread stacks and arenas */
    return CHECK_MAIN(cases);
}

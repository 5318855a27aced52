/*
 * test_handle_misuse.c - misusing the handle of an object weft allocates
 * (a generator, a queue) is an error code, never a stray read or write.
 *
 * Proves, for each kind of object, that:
 * - closing (freeing) it twice is -EINVAL;
 * - every call after the close is -EINVAL, also once the handle's slot has
 *   been reused by a newer object of the same kind, which the stale handle
 *   leaves untouched;
 * - a pointer that never was such an object (a stack variable's address, a
 *   heap block, another kind's handle) is -EINVAL and the memory behind it
 *   is untouched;
 * - a live generator's handle used from a thread without a loop is -EPERM;
 *   a freed queue's is -EINVAL there too.
 * (Bars, which other threads may update while they are closed, have
 * test_bar_handle.)
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* Made-up values: a stack variable's address, a heap block filled with
 * 0xff, small numbers, all ones. */
typedef struct fakes {
    int on_stack;
    long *heap;
    void *v[5];
} fakes;

static void fakes_make(fakes *f)
{
    f->on_stack = 42;
    REQUIRE((f->heap = malloc(64)) != NULL);
    memset(f->heap, 0xff, 64);
    f->v[0] = &f->on_stack;
    f->v[1] = f->heap;
    f->v[2] = (void *)(uintptr_t)0x1234;
    f->v[3] = (void *)~(uintptr_t)0;
    f->v[4] = NULL;
}

/* The memory behind the made-up values is as it was. */
static void fakes_check_free(fakes *f)
{
    CHECK_EQ(f->on_stack, 42);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(f->heap[i], -1);
    free(f->heap);
}

/* Runs fn(arg) on a new thread without a loop and returns its result. */
static void *on_plain_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *r;
    REQUIRE(pthread_create(&t, NULL, fn, arg) == 0);
    pthread_join(t, &r);
    return r;
}

/* ---- generators ---- */

static void *count_to_3(void *arg)
{
    (void)arg;
    for (intptr_t i = 1; i <= 3; i++)
        if (weft_gen_yield((void *)i))
            break;
    return NULL;
}

static void gen_refused(weft_gen *g)
{
    void *v = I2P(7);
    CHECK_EQ(weft_gen_next(g, &v), -EINVAL);
    CHECK(v == I2P(7));
    CHECK_EQ(weft_gen_set_bar(g, NULL), -EINVAL);
    CHECK_EQ(weft_gen_close(g), -EINVAL);
}

static void *gen_closed_twice(void *arg)
{
    (void)arg;
    weft_gen *g;
    void *v;
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(weft_gen_close(g), 0); /* the producer is still parked */
    gen_refused(g);
    /* Never started. */
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    CHECK_EQ(weft_gen_close(g), 0);
    gen_refused(g);
    return NULL;
}

static void *gen_stale_after_reuse(void *arg)
{
    (void)arg;
    weft_gen *old, *g;
    void *v = NULL;
    REQUIRE(weft_gen_new(count_to_3, NULL, &old) == 0);
    CHECK_EQ(weft_gen_close(old), 0);
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    CHECK(g != old);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    gen_refused(old);
    CHECK_EQ(weft_gen_next(g, &v), 1); /* the new one goes on: 2 */
    CHECK(v == I2P(2));
    CHECK_EQ(weft_gen_close(g), 0);
    return NULL;
}

static void *gen_never(void *arg)
{
    (void)arg;
    fakes f;
    fakes_make(&f);
    for (size_t i = 0; i < sizeof f.v / sizeof *f.v; i++)
        gen_refused(f.v[i]);
    /* Another kind's handle. */
    weft_bar *b;
    weft_bar_opts o = {.disable = 1};
    REQUIRE(weft_bar_new(&o, &b) == 0);
    gen_refused((weft_gen *)b);
    CHECK_EQ(weft_bar_close(b), 0);
    fakes_check_free(&f);
    return NULL;
}

static void *gen_next_here(void *g)
{
    void *v;
    return I2P(weft_gen_next(g, &v) * 1000 + weft_gen_close(g));
}

static void *gen_other_thread(void *arg)
{
    (void)arg;
    weft_gen *g;
    void *v;
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    CHECK_EQ(P2I(on_plain_thread(gen_next_here, g)), -EPERM * 1000 - EPERM);
    CHECK_EQ(weft_gen_next(g, &v), 1); /* untouched */
    CHECK(v == I2P(1));
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK_EQ(P2I(on_plain_thread(gen_next_here, g)), -EINVAL * 1000 - EINVAL);
    return NULL;
}

/* ---- queues ---- */

static void queue_refused(weft_queue *q)
{
    void *v = I2P(7);
    CHECK_EQ(weft_queue_put(q, I2P(1)), -EINVAL);
    CHECK_EQ(weft_queue_try_put(q, I2P(1)), -EINVAL);
    CHECK_EQ(weft_queue_get(q, &v), -EINVAL);
    CHECK_EQ(weft_queue_try_get(q, &v), -EINVAL);
    CHECK(v == I2P(7));
    CHECK_EQ(weft_queue_size(q), 0);
    CHECK_EQ(weft_queue_task_done(q), -EINVAL);
    CHECK_EQ(weft_queue_join(q), -EINVAL);
    CHECK_EQ(weft_queue_shutdown(q, 1), -EINVAL);
    CHECK_EQ(weft_queue_free(q), -EINVAL);
}

static void *queue_freed_twice(void *arg)
{
    (void)arg;
    for (int kind = WEFT_QUEUE_FIFO; kind <= WEFT_QUEUE_LIFO; kind++) {
        weft_queue *q;
        REQUIRE(weft_queue_new(kind, 4, NULL, &q) == 0);
        CHECK_EQ(weft_queue_put(q, I2P(1)), 0);
        CHECK_EQ(weft_queue_free(q), 0); /* items are the caller's */
        queue_refused(q);
    }
    return NULL;
}

static void *queue_stale_after_reuse(void *arg)
{
    (void)arg;
    weft_queue *old, *q;
    void *v = NULL;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &old) == 0);
    CHECK_EQ(weft_queue_free(old), 0);
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &q) == 0);
    CHECK(q != old);
    CHECK_EQ(weft_queue_put(q, I2P(5)), 0);
    queue_refused(old);
    CHECK_EQ(weft_queue_size(q), 1);
    CHECK_EQ(weft_queue_get(q, &v), 0);
    CHECK(v == I2P(5));
    CHECK_EQ(weft_queue_free(q), 0);
    return NULL;
}

static void *queue_never(void *arg)
{
    (void)arg;
    fakes f;
    fakes_make(&f);
    for (size_t i = 0; i < sizeof f.v / sizeof *f.v; i++)
        queue_refused(f.v[i]);
    weft_gen *g;
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    queue_refused((weft_queue *)g);
    CHECK_EQ(weft_gen_close(g), 0);
    fakes_check_free(&f);
    return NULL;
}

/* Outside any loop: new, free and size are callable there. */
static void *queue_no_loop(void *arg)
{
    (void)arg;
    weft_queue *q;
    REQUIRE(weft_queue_new(WEFT_QUEUE_LIFO, 0, NULL, &q) == 0);
    CHECK_EQ(weft_queue_put(q, I2P(1)), -EPERM); /* a live queue: no task */
    CHECK_EQ(weft_queue_free(q), 0);
    CHECK_EQ(weft_queue_free(q), -EINVAL);
    CHECK_EQ(weft_queue_put(q, I2P(1)), -EINVAL);
    CHECK_EQ(weft_queue_size(q), 0);
    return NULL;
}

static void *queue_other_thread(void *arg)
{
    (void)arg;
    on_plain_thread(queue_no_loop, NULL);
    return NULL;
}

int main(void)
{
    check_begin();
    check_allow_maps(4 * 4); /* glibc's cached thread stacks and arenas */
    check_case_alarm_install();
    check_case("gen_closed_twice", gen_closed_twice, NULL, 0);
    check_case("gen_stale_after_reuse", gen_stale_after_reuse, NULL, 0);
    check_case("gen_never_a_gen", gen_never, NULL, 0);
    check_case("gen_other_thread", gen_other_thread, NULL, 0);
    check_case("queue_freed_twice", queue_freed_twice, NULL, 0);
    check_case("queue_stale_after_reuse", queue_stale_after_reuse, NULL, 0);
    check_case("queue_never_a_queue", queue_never, NULL, 0);
    check_case("queue_no_loop", queue_other_thread, NULL, 0);
    return check_end();
}

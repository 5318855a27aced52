/*
 * test_bar_handle.c - misusing a bar's handle is an error code, never a
 * stray read or write.
 *
 * Proves that:
 * - closing a bar twice is -EINVAL; after a close every call is -EINVAL
 *   (weft_bar_update does nothing, weft_bar_count is 0), outside a loop
 *   and in a task, also once the handle's slot has been reused by a newer
 *   bar, which the stale handle leaves untouched;
 * - a pointer that never was a bar (a stack variable's address, a heap
 *   block, values that look like handles) is refused the same way;
 * - an update racing a close from another thread does nothing or counts,
 *   never touches freed memory: updater threads (not the bar's creator,
 *   and the creator itself) update in a loop while the main thread closes;
 *   two threads closing one bar at once: one gets 0, the other -EINVAL.
 * Every case ends by itself; ASan and TSan builds check the memory side.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* A quiet bar: counting works, nothing is drawn. */
static weft_bar *quiet_bar(void)
{
    weft_bar_opts o = {.disable = 1, .total = 10};
    weft_bar *b = NULL;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    return b;
}

/* Every call on b is refused as a stale or unknown bar's. */
static void check_refused(weft_bar *b)
{
    weft_bar_update(b, 5); /* nothing, and no crash */
    CHECK_EQ(weft_bar_count(b), 0);
    CHECK_EQ(weft_bar_set_desc(b, "x"), -EINVAL);
    CHECK_EQ(weft_bar_set_postfix(b, "y"), -EINVAL);
    CHECK_EQ(weft_bar_set_total(b, 3), -EINVAL);
    CHECK_EQ(weft_bar_refresh(b), -EINVAL);
    CHECK_EQ(weft_bar_close(b), -EINVAL);
}

/* Runs fn outside any loop as a named case. */
/* ---- closed and stale handles ---- */

static void closed_twice(void *arg)
{
    (void)arg;
    weft_bar *b = quiet_bar();
    weft_bar_update(b, 2);
    CHECK_EQ(weft_bar_count(b), 2);
    CHECK_EQ(weft_bar_close(b), 0);
    check_refused(b);
}

/* The stale handle's slot is reused (the table's free list is LIFO): the
 * new bar is untouched by calls through the old handle. */
static void stale_after_reuse(void *arg)
{
    (void)arg;
    weft_bar *old = quiet_bar();
    CHECK_EQ(weft_bar_close(old), 0);
    weft_bar *b = quiet_bar();
    CHECK(b != old);
    weft_bar_update(b, 7);
    check_refused(old);
    CHECK_EQ(weft_bar_count(b), 7);
    CHECK_EQ(weft_bar_set_desc(b, "still here"), 0);
    CHECK_EQ(weft_bar_close(b), 0);
}

static void *in_task(void *arg)
{
    (void)arg;
    closed_twice(NULL);
    stale_after_reuse(NULL);
    return NULL;
}

/* ---- never a bar ---- */

static void never_a_bar(void *arg)
{
    (void)arg;
    int on_stack = 42;
    long *heap = malloc(64);
    REQUIRE(heap);
    memset(heap, 0xff, 64);
    weft_bar *live = quiet_bar();
    uint64_t v = (uint64_t)(uintptr_t)live;
    weft_bar *fakes[] = {
        (weft_bar *)&on_stack,
        (weft_bar *)heap,
        (weft_bar *)(uintptr_t)0x1234,
        (weft_bar *)~(uintptr_t)0,
        /* Looks like the live handle: another generation, another slot,
         * another type. */
        (weft_bar *)(uintptr_t)(v ^ (1ull << 30)),
        (weft_bar *)(uintptr_t)(v ^ 1),
        (weft_bar *)(uintptr_t)(v ^ (1ull << 57)),
        (weft_bar *)(uintptr_t)(v & 0x7fffffffffffffffull),
    };
    for (size_t i = 0; i < sizeof fakes / sizeof *fakes; i++)
        check_refused(fakes[i]);
    check_refused(NULL);
    CHECK_EQ(on_stack, 42);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(heap[i], -1);
    CHECK_EQ(weft_bar_count(live), 0);
    CHECK_EQ(weft_bar_close(live), 0);
    free(heap);
}

/* ---- races with another thread ---- */

typedef struct race {
    weft_bar *bar;
    atomic_int started;
    long updates; /* by the updater, read after the join */
} race;

/* Updates until the bar is seen closed (its count reads 0), then a while
 * longer: each update is either counted or nothing.  Bounded, so a broken
 * close cannot make it spin for ever. */
static void update_until_closed(race *r)
{
    long after = -1;
    for (long i = 0; i < 200000000L && after < 10000; i++) {
        weft_bar_update(r->bar, 1);
        r->updates++;
        if (i == 100)
            atomic_store(&r->started, 1);
        if (after >= 0)
            after++;
        else if ((i & 63) == 63 && weft_bar_count(r->bar) == 0)
            after = 0;
    }
}

static void *updater(void *arg)
{
    update_until_closed(arg);
    return NULL;
}

static void wait_started(race *r)
{
    while (!atomic_load(&r->started))
        sched_yield();
}

/* Another thread updates while the bar's creator closes it. */
static void update_races_close(void *arg)
{
    (void)arg;
    long rounds = check_scaled(200);
    for (long k = 0; k < rounds; k++) {
        race r = {.bar = quiet_bar()};
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, updater, &r) == 0);
        wait_started(&r);
        CHECK_EQ(weft_bar_close(r.bar), 0);
        pthread_join(t, NULL);
        CHECK(r.updates > 100);
        check_refused(r.bar);
    }
}

/* The creator (whose adds are plain stores) updates while another thread
 * closes the bar. */
static void *creator(void *arg)
{
    race *r = arg;
    r->bar = quiet_bar();
    update_until_closed(r);
    return NULL;
}

static void owner_update_races_close(void *arg)
{
    (void)arg;
    long rounds = check_scaled(200);
    for (long k = 0; k < rounds; k++) {
        race r = {0};
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, creator, &r) == 0);
        wait_started(&r);
        CHECK_EQ(weft_bar_close(r.bar), 0);
        pthread_join(t, NULL);
        check_refused(r.bar);
    }
}

typedef struct closer {
    weft_bar *bar;
    atomic_int *go;
    int rc;
} closer;

static void *close_on_go(void *arg)
{
    closer *c = arg;
    while (!atomic_load(c->go))
        ;
    c->rc = weft_bar_close(c->bar);
    return NULL;
}

/* Two threads close one bar at once, while a third updates it. */
static void two_closes_race(void *arg)
{
    (void)arg;
    long rounds = check_scaled(200);
    for (long k = 0; k < rounds; k++) {
        atomic_int go = 0;
        race r = {.bar = quiet_bar()};
        closer c[2] = {{r.bar, &go, 1}, {r.bar, &go, 1}};
        pthread_t t[3];
        REQUIRE(pthread_create(&t[0], NULL, updater, &r) == 0);
        wait_started(&r);
        for (int i = 0; i < 2; i++)
            REQUIRE(pthread_create(&t[1 + i], NULL, close_on_go, &c[i]) == 0);
        atomic_store(&go, 1);
        for (int i = 0; i < 3; i++)
            pthread_join(t[i], NULL);
        CHECK((c[0].rc == 0 && c[1].rc == -EINVAL) ||
              (c[0].rc == -EINVAL && c[1].rc == 0));
        check_refused(r.bar);
    }
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("closed_twice", closed_twice, NULL),
    CHECK_PLAIN("stale_after_reuse", stale_after_reuse, NULL),
    CHECK_TASK("in_a_task", in_task, NULL),
    CHECK_PLAIN("never_a_bar", never_a_bar, NULL),
    CHECK_PLAIN("update_races_close", update_races_close, NULL),
    CHECK_PLAIN("owner_update_races_close", owner_update_races_close, NULL),
    CHECK_PLAIN("two_closes_race", two_closes_race, NULL),
};

int main(void)
{
    check_allow_maps(4 * 4); /* glibc's cached thread stacks and arenas */
    return CHECK_MAIN(cases);
}

/*
 * test_records.c - where task records live.
 *
 * The loop's record arena holds up to WEFT__ARENA_RECORDS records (0 with
 * WEFT_TEST_RECORDS_IN_STACKS=1, as in CI's clang and ASan runs); once
 * it is full and none of them is free, a default task that starts gets its
 * record at the top of its own stack (the page its first frames fault
 * in).  Compact tasks, tasks given a record before they start (a name)
 * and every task under ThreadSanitizer always use the arena.  The cases
 * first fill the arena with tasks that wait on an event.  Proves that:
 * - while the arena has room, or a free record, a default task's record is
 *   in the arena; once it is full, in its stack, above every frame of the
 *   task, and a thousand such tasks leave the arena as it was; the count
 *   of records in stacks follows them and comes back down;
 * - a compact task's and a named task's records are in the arena, full or
 *   not;
 * - a stack handed back and taken again (the pool is a LIFO) gives the next
 *   task a record as clean as a fresh one, though the last task there
 *   failed with a message, opened scopes and armed a timer (the scopes'
 *   array is freed with its record: the leak check at the end sees it),
 *   and so it does after a task with an arena record (named) ran there:
 *   whoever runs on a default stack keeps its frames below the record's
 *   place, so a record there is reset, not cleared;
 * - a start that finds no memory for a stack (a new chunk, a longer pool)
 *   ends its task with -ENOMEM and leaks nothing;
 * - timers of records in stacks, linked in the wheel's lists, fire and
 *   cancel right: 2,000 tasks sleep 50-300 ms (the wheel's first two
 *   levels), a third are cancelled in a random order, the rest wake no
 *   earlier than asked, each exactly once.
 */
#define _GNU_SOURCE
#include "check.h"
#include "core.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool in_arena(const weft__loop *L, const weft__record *r)
{
    return r >= L->recs && r < L->recs + L->rec_top;
}

static bool in_own_stack_top(const weft__record *r)
{
    const char *top = (const char *)r->stack.lo + r->stack.size;
    return r->stack.lo && (const char *)r == top - WEFT__REC_ROOM;
}

/* ---- filling the arena ---- */

typedef struct filler {
    weft_event go;
    weft_task *t[WEFT__ARENA_RECORDS];
    size_t n;
} filler;

static void *wait_for_go(void *arg)
{
    CHECK_EQ(weft_event_wait(arg), 0);
    return NULL;
}

/* Starts tasks that wait until the arena is full, none of its records
 * free (they take the free ones first). */
static void fill(filler *fl)
{
    weft__loop *L = weft__tls_loop;
    weft_event go = WEFT_EVENT_INIT;
    fl->go = go;
    fl->n = 0;
    while ((L->rec_free || L->rec_top < weft__arena_records) &&
           fl->n < WEFT__ARENA_RECORDS) {
        REQUIRE(weft_spawn(wait_for_go, &fl->go, &fl->t[fl->n]) == 0);
        fl->n++;
        CHECK_EQ(weft_yield(), 0); /* it starts, takes a record, waits */
    }
    REQUIRE(!L->rec_free && L->rec_top >= weft__arena_records);
}

static void unfill(filler *fl)
{
    CHECK_EQ(weft_event_set(&fl->go), 0);
    CHECK_EQ(weft_gather(fl->t, fl->n, NULL, NULL, 0), 0);
}

/* ---- placement ---- */

static void *where_am_i(void *arg)
{
    weft__loop *L = weft__tls_loop;
    weft__record *me = L->cur;
    int local = 0;
    if (arg && WEFT__REC_IN_STACK) {
        CHECK(in_own_stack_top(me));
        CHECK(!in_arena(L, me));
        /* Every frame of the task lies below its record. */
        CHECK((char *)&local < (char *)me);
    } else {
        CHECK(in_arena(L, me));
        CHECK(!in_own_stack_top(me));
    }
    return I2P(local + 1);
}

static void *record_placement(void *arg)
{
    (void)arg;
    weft_task *t;
    void *res;
    /* Room in the arena: there (unless the suite runs with every record
     * in its stack). */
    REQUIRE(weft_spawn(where_am_i, weft__arena_records ? NULL : I2P(1), &t) ==
            0);
    CHECK_EQ(weft_await(t, &res), 0);
    CHECK_EQ(P2I(res), 1);
    static filler fl;
    fill(&fl);
    REQUIRE(weft_spawn(where_am_i, I2P(1), &t) == 0);
    CHECK_EQ(weft_await(t, &res), 0);
    CHECK_EQ(P2I(res), 1);
    unfill(&fl);
    /* Free records again (the fillers' - none if the suite runs with
     * every record in its stack): the arena's. */
    bool free_ones = weft__tls_loop->rec_free != NULL;
    CHECK(free_ones || weft__arena_records == 0);
    REQUIRE(weft_spawn(where_am_i, free_ones ? NULL : I2P(1), &t) == 0);
    CHECK_EQ(weft_await(t, &res), 0);
    CHECK_EQ(P2I(res), 1);
    return NULL;
}

enum { MANY = 1000 };

static void *nap(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_sleep(0.001), 0);
    return NULL;
}

static void *arena_untouched(void *arg)
{
    (void)arg;
    weft__loop *L = weft__tls_loop;
    static filler fl;
    fill(&fl);
    uint32_t top = L->rec_top, in_stacks = L->recs_in_stacks;
    static weft_task *t[MANY];
    for (int i = 0; i < MANY; i++)
        REQUIRE(weft_spawn(nap, NULL, &t[i]) == 0);
    CHECK_EQ(weft_yield(), 0); /* they all start and sleep */
    if (WEFT__REC_IN_STACK) {
        CHECK_EQ(L->rec_top, top);
        CHECK_EQ(L->recs_in_stacks, in_stacks + MANY);
    } else {
        CHECK_EQ(L->rec_top, top + MANY);
    }
    CHECK_EQ(weft_gather(t, MANY, NULL, NULL, 0), 0);
    CHECK_EQ(L->recs_in_stacks, in_stacks);
    unfill(&fl);
    return NULL;
}

static void *in_the_arena(void *arg)
{
    (void)arg;
    weft__loop *L = weft__tls_loop;
    CHECK(in_arena(L, L->cur));
    CHECK(!in_own_stack_top(L->cur));
    CHECK_EQ(weft_yield(), 0);
    return I2P(7);
}

static void *compact_and_named_in_the_arena(void *arg)
{
    (void)arg;
    static filler fl;
    fill(&fl);
    weft_spawn_opts compact = {.flags = WEFT_SPAWN_COMPACT};
    weft_spawn_opts named = {.name = "named"};
    weft_task *t[2];
    int rc = weft_spawn_ex(in_the_arena, NULL, &compact, &t[0]);
    if (rc == -ENOTSUP) /* the ucontext build has no compact tasks */
        REQUIRE(weft_spawn_ex(in_the_arena, NULL, &named, &t[0]) == 0);
    else
        REQUIRE(rc == 0);
    REQUIRE(weft_spawn_ex(in_the_arena, NULL, &named, &t[1]) == 0);
    void *res[2];
    CHECK_EQ(weft_gather(t, 2, res, NULL, 0), 0);
    CHECK_EQ(P2I(res[0]), 7);
    CHECK_EQ(P2I(res[1]), 7);
    unfill(&fl);
    return NULL;
}

/* ---- reuse ---- */

static weft__record *last_record;

static void *leave_a_mess(void *arg)
{
    (void)arg;
    weft__loop *L = weft__tls_loop;
    last_record = L->cur;
    weft_scope *sc;
    REQUIRE(weft_scope_open(10.0, &sc) == 0); /* allocates the scopes */
    CHECK_EQ(weft_scope_close(sc), 0);
    CHECK_EQ(weft_sleep(0.0005), 0);
    return weft_fail(-EIO, "left %s", "behind");
}

static void *look_clean(void *arg)
{
    (void)arg;
    weft__record *me = weft__tls_loop->cur;
    if (WEFT__REC_IN_STACK)
        CHECK(me == last_record); /* the same stack, taken again */
    if (WEFT__REC_IN_STACK)
        CHECK(me->scopes == NULL); /* an arena record keeps its array */
    CHECK(me->fail_msg == NULL && me->errmsg == NULL && me->name == NULL);
    CHECK_EQ(me->fail_err, 0);
    CHECK_EQ(me->timer_pos, 0);
    CHECK(me->deadline == WEFT__NO_DEADLINE);
    CHECK_EQ(me->nopen, 0);
    CHECK_EQ(me->shield, 0);
    CHECK_EQ(me->cancelled, 0);
    /* And it works as one: a scope, a timer. */
    weft_scope *sc;
    REQUIRE(weft_scope_open(10.0, &sc) == 0);
    CHECK_EQ(weft_sleep(0.0005), 0);
    CHECK_EQ(weft_scope_close(sc), 0);
    return I2P(3);
}

/* A task with a record of the arena's (named) runs on a default stack:
 * its frames stay below the stack's top, so the next task there finds its
 * record slot as a released record left it. */
static void *named_on_a_default_stack(void *arg)
{
    (void)arg;
    weft__record *me = weft__tls_loop->cur;
    last_record = (weft__record *)((char *)me->stack.lo + me->stack.size -
                                   WEFT__REC_ROOM);
    /* Frames as deep as a few KiB, full of non-zero bytes. */
    volatile unsigned char pad[3000];
    memset((void *)pad, 0xa5, sizeof pad);
    CHECK_EQ(weft_sleep(0.0005), 0);
    CHECK_EQ(pad[0] + pad[sizeof pad - 1], 2 * 0xa5);
    CHECK((char *)&pad[sizeof pad - 1] < (char *)last_record);
    return NULL;
}

static void *named_then_default(void *arg)
{
    (void)arg;
    static filler fl;
    fill(&fl);
    /* The named task's record goes back to the arena's free list, which a
     * starting task takes first: another one must take it, on another
     * stack, before the next task can get the named one's stack with a
     * record at its top.  The pool hands out the last stack given back
     * first: x's, given back after the named task's, goes to the taker. */
    weft_event x_go = WEFT_EVENT_INIT, taker_go = WEFT_EVENT_INIT;
    weft_spawn_opts named = {.name = "named"};
    weft_task *x, *n, *taker, *t;
    REQUIRE(weft_spawn(wait_for_go, &x_go, &x) == 0);
    CHECK_EQ(weft_yield(), 0);
    REQUIRE(weft_spawn_ex(named_on_a_default_stack, NULL, &named, &n) == 0);
    CHECK_EQ(weft_await(n, NULL), 0);
    CHECK_EQ(weft_event_set(&x_go), 0);
    CHECK_EQ(weft_await(x, NULL), 0);
    REQUIRE(weft_spawn(wait_for_go, &taker_go, &taker) == 0);
    CHECK_EQ(weft_yield(), 0);
    REQUIRE(weft_spawn(look_clean, NULL, &t) == 0);
    void *res;
    CHECK_EQ(weft_await(t, &res), 0);
    CHECK_EQ(P2I(res), 3);
    CHECK_EQ(weft_event_set(&taker_go), 0);
    CHECK_EQ(weft_await(taker, NULL), 0);
    unfill(&fl);
    return NULL;
}

static void *reused_stack_clean_record(void *arg)
{
    (void)arg;
    static filler fl;
    fill(&fl);
    weft_task *t;
    REQUIRE(weft_spawn(leave_a_mess, NULL, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -EIO);
    CHECK(weft_errmsg() && strstr(weft_errmsg(), "left behind"));
    REQUIRE(weft_spawn(look_clean, NULL, &t) == 0);
    void *res;
    CHECK_EQ(weft_await(t, &res), 0);
    CHECK_EQ(P2I(res), 3);
    unfill(&fl);
    return NULL;
}

/* ---- no memory at a start ---- */

enum { MORE = 1100 };

/* With the arena full, tasks start one by one, each with the next
 * allocation made to fail: most starts allocate nothing (a stack from the
 * chunk being carved), but a new chunk of stacks, or a longer pool, does -
 * and then the start fails, the task ends with -ENOMEM, nothing leaks and
 * the loop goes on. */
static void *start_without_memory(void *arg)
{
    (void)arg;
    static filler fl;
    fill(&fl);
    weft_event go = WEFT_EVENT_INIT;
    static weft_task *t[MORE];
    static bool refused[MORE];
    int n = 0, refusals = 0;
    for (int i = 0; i < MORE; i++) {
        int rc = weft_spawn(wait_for_go, &go, &t[n]);
        if (rc != 0) {
            CHECK_EQ(rc, -ENOMEM);
            continue;
        }
        check_alloc_fail_next();
        CHECK_EQ(weft_yield(), 0); /* it starts, or fails to */
        refused[n] = check_alloc_fail_hit();
        if (refused[n]) {
            refusals++;
            CHECK_EQ(weft_task_done(t[n]), 1);
        }
        n++;
    }
    CHECK(refusals >= 1); /* a chunk boundary lies within MORE starts */
    CHECK_EQ(weft_event_set(&go), 0);
    static int errs[MORE];
    CHECK_EQ(weft_gather(t, (size_t)n, NULL, errs, WEFT_GATHER_RETURN_ERRORS),
             0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(errs[i], refused[i] ? -ENOMEM : 0);
    /* With memory again, a start gets its stack and its record there. */
    weft_task *ok;
    void *res;
    REQUIRE(weft_spawn(where_am_i, I2P(1), &ok) == 0);
    CHECK_EQ(weft_await(ok, &res), 0);
    CHECK_EQ(P2I(res), 1);
    unfill(&fl);
    return NULL;
}

/* ---- timers of records in stacks (and of the arena's: the first
 * thousand start with room in it) ---- */

enum { SLEEPERS = 2000 };

typedef struct sleeper {
    double asked, start, woke;
    int rc, wakes;
} sleeper;

static void *sleep_for(void *arg)
{
    sleeper *s = arg;
    s->start = weft_now();
    s->rc = weft_sleep(s->asked);
    s->woke = weft_now();
    s->wakes++;
    return NULL;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
    return check_xorshift(&rng_state);
}

static void *wheel_timers_in_stacks(void *arg)
{
    (void)arg;
    sleeper *s = calloc(SLEEPERS, sizeof *s);
    weft_task **t = calloc(SLEEPERS, sizeof *t);
    int *order = calloc(SLEEPERS, sizeof *order);
    REQUIRE(s && t && order);
    for (int i = 0; i < SLEEPERS; i++) {
        /* 50 ms at least: none is due before the cancels are done. */
        s[i].asked = 0.05 + (double)(rng() % 250000) * 1e-6;
        REQUIRE(weft_spawn(sleep_for, &s[i], &t[i]) == 0);
        order[i] = i;
    }
    CHECK_EQ(weft_yield(), 0); /* all asleep */
    for (int i = SLEEPERS - 1; i > 0; i--) {
        int j = (int)(rng() % (uint64_t)(i + 1)), k = order[i];
        order[i] = order[j];
        order[j] = k;
    }
    /* A third, in a random order, while the rest sleep on. */
    for (int i = 0; i < SLEEPERS / 3; i++)
        CHECK_EQ(weft_task_cancel(t[order[i]]), 0);
    int *errs = calloc(SLEEPERS, sizeof *errs);
    REQUIRE(errs);
    CHECK_EQ(weft_gather(t, SLEEPERS, NULL, errs, WEFT_GATHER_RETURN_ERRORS),
             0);
    bool *cancelled = calloc(SLEEPERS, sizeof *cancelled);
    REQUIRE(cancelled);
    for (int i = 0; i < SLEEPERS / 3; i++)
        cancelled[order[i]] = true;
    int wrong = 0;
    for (int i = 0; i < SLEEPERS; i++) {
        wrong += s[i].wakes != 1;
        bool slept =
            s[i].rc == 0 && s[i].woke - s[i].start >= s[i].asked - 1e-9;
        if (!cancelled[i])
            wrong += !slept || errs[i] != 0;
        else if (s[i].rc == -ECANCELED)
            wrong += errs[i] != -ECANCELED;
        else /* its sleep ended before the cancel came (a slow machine) */
            wrong += !slept;
    }
    CHECK_EQ(wrong, 0);
    free(cancelled);
    free(errs);
    free(order);
    free(t);
    free(s);
    return NULL;
}

static const struct check_case_def cases[] = {
    CHECK_TASK("record_in_the_arena_then_in_the_stack", record_placement, NULL),
    CHECK_TASK("arena_untouched_by_default_tasks", arena_untouched, NULL),
    CHECK_TASK("compact_and_named_in_the_arena", compact_and_named_in_the_arena,
               NULL),
    CHECK_TASK("reused_stack_clean_record", reused_stack_clean_record, NULL),
    CHECK_TASK("arena_record_task_leaves_the_top", named_then_default, NULL),
    CHECK_TASK("start_without_memory", start_without_memory, NULL),
    CHECK_TASK("wheel_timers_in_stacks", wheel_timers_in_stacks, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

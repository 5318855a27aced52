/*
 * test_taskset.c - task sets (weft_taskset_*: Tokio's JoinSet,
 * asyncio.as_completed): tasks taken back in the order they finish.  It
 * proves:
 * - tasks sleeping different times come back in finishing order; tasks
 *   already finished when added come back first (in the order added);
 *   weft_taskset_next returns 0 on an empty set, at once;
 * - a taken handle is owned: weft_await returns at once (no other task
 *   runs) with the result, or it can be detached;
 * - a failing member cancels nothing;
 * - a timeout scope opened around weft_taskset_next (after the set was
 *   created) makes it return -ETIMEDOUT, taking nothing and cancelling no
 *   member (they come back later); a cancelled one, -ECANCELED;
 * - a scope opened before weft_taskset_new, once cancelled, cancels the
 *   members, also when the owner cancels it while running (the members
 *   are woken then, not at the owner's next call); cancelling the owner
 *   cancels the members;
 * - a scope closed after the set was created is no longer around it: a
 *   timeout scope opened afterwards at the same depth, around
 *   weft_taskset_next, cancels no member when it expires;
 * - weft_taskset_free cancels the running members and joins them (their
 *   cleanup has run when it returns) and drops the finished ones, a
 *   failure among them being reported on stderr;
 * - the owner returning without freeing: members cancelled and joined as
 *   it returns, the owner fails with -EINVAL;
 * - misuse: NULL -> -EINVAL, outside a task -> -EPERM, adding a consumed
 *   or borrowed handle -> -EINVAL, a handle another task awaits -> -EBUSY,
 *   a task awaiting the owner or the owner's own handle -> -EDEADLK,
 *   next/add/free from a non-owner -> -EPERM (nothing consumed on error);
 * - weft_taskset_len counts members running or finished and not taken;
 * - the handle given to weft_taskset_add still queries and cancels the
 *   member (name, done, result -EAGAIN), never awaits, detaches, waits on
 *   or re-adds it (-EBUSY); it is dead once the set dropped the member;
 * - check_scaled(100000) tasks added and taken, each exactly once.
 *
 * Every case runs under an alarm that names it if it hangs.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a configurable member ---- */

#define NOSLEEP (-1.0)

typedef struct mem {
    double delay;     /* INFINITY: until cancelled; NOSLEEP: never suspends */
    weft_event *gate; /* if set: waits for it instead of sleeping */
    int fail;
    const char *msg;
    intptr_t ret;
    bool cleanup; /* when the sleep failed: a shielded sleep first */
    int started, exited, rc;
} mem;

static void *mem_fn(void *arg)
{
    mem *m = arg;
    m->started = 1;
    if (m->gate)
        m->rc = weft_event_wait(m->gate);
    else if (m->delay != NOSLEEP)
        m->rc = weft_sleep(m->delay);
    if (m->rc && m->cleanup) {
        CHECK_EQ(weft_shield_begin(), 0);
        CHECK_EQ(weft_sleep(0.002), 0);
        CHECK_EQ(weft_shield_end(), 0);
    }
    m->exited = 1;
    if (m->fail)
        weft_fail(m->fail, "%s", m->msg ? m->msg : "failed");
    return I2P(m->ret);
}

static mem forever(intptr_t ret)
{
    return (mem){.delay = INFINITY, .cleanup = true, .ret = ret};
}

static weft_task *spawn_mem(mem *m)
{
    weft_task *t;
    REQUIRE(weft_spawn(mem_fn, m, &t) == 0);
    return t;
}

/* Takes the next task (must be one) and awaits it: returns its result
 * value, *err its error. */
static intptr_t take(weft_taskset *s, int *err)
{
    weft_task *t = NULL;
    int rc = weft_taskset_next(s, &t);
    CHECK_EQ(rc, 1);
    if (rc != 1) {
        *err = rc;
        return -1;
    }
    void *r = NULL;
    *err = weft_await(t, &r);
    return P2I(r);
}

/* ---- completion order ---- */

#define ORD_N 5

static int ord_arrived;
static double ord_base, ord_step;
static int ord_exited[ORD_N];

/* Once all have started, the last sets the base: member i wakes at
 * base + (ORD_N - i) steps, so they finish in reverse order however long
 * starting them took. */
static void *ord_member(void *arg)
{
    intptr_t i = P2I(arg);
    if (++ord_arrived == ORD_N)
        ord_base = weft_now() + ord_step;
    for (int k = 0; ord_arrived < ORD_N; k++) {
        REQUIRE(k < 100000);
        weft_yield();
    }
    double left = ord_base + (double)(ORD_N - i) * ord_step - weft_now();
    CHECK_EQ(weft_sleep(left > 0 ? left : 0), 0);
    ord_exited[i] = 1;
    return arg;
}

static void *case_order(void *arg)
{
    (void)arg;
    ord_step = check_slow_env() ? 0.012 : 0.005;
    ord_arrived = 0;
    memset(ord_exited, 0, sizeof ord_exited);
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    for (int i = 0; i < ORD_N; i++) {
        weft_task *t;
        REQUIRE(weft_spawn(ord_member, I2P(i), &t) == 0);
        CHECK_EQ(weft_taskset_add(s, t), 0);
    }
    CHECK_EQ(weft_taskset_len(s), ORD_N);
    int inversions = 0, prev = ORD_N;
    for (int k = 0; k < ORD_N; k++) {
        int err = 1;
        intptr_t v = take(s, &err);
        CHECK_EQ(err, 0);
        CHECK(v >= 0 && v < ORD_N && ord_exited[v]);
        inversions += v > prev;
        prev = (int)v;
        CHECK_EQ(weft_taskset_len(s), ORD_N - 1 - k);
    }
    CHECK_EQ(inversions, 0); /* 4, 3, 2, 1, 0 */
    weft_task *t = (weft_task *)(intptr_t)0x5a5a;
    CHECK_EQ(weft_taskset_next(s, &t), 0);
    CHECK(t == (weft_task *)(intptr_t)0x5a5a); /* untouched */
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

static void *case_finished_first(void *arg)
{
    (void)arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    weft_event gate = WEFT_EVENT_INIT;
    mem slow = {.gate = &gate, .ret = 1};
    mem quick = {.delay = NOSLEEP, .ret = 2};
    weft_task *ts = spawn_mem(&slow), *tq = spawn_mem(&quick);
    CHECK_YIELD_UNTIL(weft_task_done(tq) == 1);
    weft_task *tc, *tf;
    REQUIRE(weft_task_completed(I2P(3), &tc) == 0);
    REQUIRE(weft_task_failed(-EIO, "pre-failed", &tf) == 0);
    CHECK_EQ(weft_taskset_add(s, ts), 0);
    CHECK_EQ(weft_taskset_add(s, tq), 0);
    CHECK_EQ(weft_taskset_add(s, tc), 0);
    CHECK_EQ(weft_taskset_add(s, tf), 0);
    int err = 1;
    CHECK_EQ(take(s, &err), 2);
    CHECK_EQ(err, 0);
    CHECK_EQ(take(s, &err), 3);
    CHECK_EQ(err, 0);
    take(s, &err);
    CHECK_EQ(err, -EIO);
    CHECK(check_streq(weft_errmsg(), "pre-failed"));
    CHECK_EQ(weft_event_set(&gate), 0);
    CHECK_EQ(take(s, &err), 1);
    CHECK_EQ(err, 0);
    CHECK_EQ(weft_taskset_len(s), 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

static int marker_ran;

static void *marker(void *arg)
{
    (void)arg;
    marker_ran = 1;
    return NULL;
}

static void *case_empty(void *arg)
{
    (void)arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    CHECK_EQ(weft_taskset_len(s), 0);
    marker_ran = 0;
    weft_task *mk, *t = NULL;
    REQUIRE(weft_spawn(marker, NULL, &mk) == 0);
    CHECK_EQ(weft_taskset_next(s, &t), 0);
    CHECK_EQ(weft_taskset_next(s, &t), 0);
    CHECK_EQ(marker_ran, 0); /* did not suspend */
    CHECK_EQ(weft_taskset_free(s), 0);
    CHECK_EQ(weft_await(mk, NULL), 0);
    return NULL;
}

/* ---- taken handles are owned ---- */

static void *case_owned(void *arg)
{
    (void)arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    mem a = {.delay = 0.002, .ret = 10}, b = {.delay = 0.004, .ret = 20};
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&a)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&b)), 0);
    weft_task *t = NULL;
    CHECK_EQ(weft_taskset_next(s, &t), 1);
    REQUIRE(t);
    CHECK_EQ(weft_task_done(t), 1);
    void *r = NULL;
    CHECK_EQ(weft_task_result(t, &r), 0);
    CHECK_EQ(P2I(r), 10);
    /* The await does not suspend: a ready task does not run meanwhile. */
    marker_ran = 0;
    weft_task *mk;
    REQUIRE(weft_spawn(marker, NULL, &mk) == 0);
    r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 10);
    CHECK_EQ(marker_ran, 0);
    CHECK_EQ(weft_task_done(t), -EINVAL); /* consumed */
    /* Detach the second. */
    CHECK_EQ(weft_taskset_next(s, &t), 1);
    CHECK_EQ(weft_task_detach(t), 0);
    CHECK_EQ(weft_taskset_next(s, &t), 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    CHECK_EQ(weft_await(mk, NULL), 0);
    return NULL;
}

/* ---- a failure cancels nothing ---- */

static void *case_failure(void *arg)
{
    (void)arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    mem bad = {.delay = 0.002, .fail = -EIO, .msg = "member failed", .ret = 1};
    weft_event gate = WEFT_EVENT_INIT;
    mem good = {.gate = &gate, .ret = 2};
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&bad)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&good)), 0);
    int err = 0;
    CHECK_EQ(take(s, &err), 1);
    CHECK_EQ(err, -EIO);
    CHECK(check_streq(weft_errmsg(), "member failed"));
    CHECK_EQ(good.exited, 0);
    CHECK_EQ(weft_sleep(0.001), 0); /* the owner is not cancelled */
    CHECK_EQ(good.exited, 0);
    CHECK_EQ(weft_event_set(&gate), 0);
    CHECK_EQ(take(s, &err), 2);
    CHECK_EQ(err, 0);
    CHECK_EQ(good.rc, 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

/* ---- a scope around next ---- */

static void *case_timeout_next(void *arg)
{
    (void)arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    weft_event gate = WEFT_EVENT_INIT;
    mem a = {.gate = &gate, .ret = 1};
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&a)), 0);
    weft_scope *sc;
    double t0 = weft_now();
    REQUIRE(weft_scope_open(0.005, &sc) == 0);
    weft_task *t = (weft_task *)(intptr_t)0x5a5a;
    CHECK_EQ(weft_taskset_next(s, &t), -ETIMEDOUT);
    CHECK(weft_now() - t0 >= 0.005);
    CHECK(t == (weft_task *)(intptr_t)0x5a5a);
    CHECK_EQ(weft_taskset_next(s, &t), -ETIMEDOUT); /* sticky */
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(weft_taskset_len(s), 1); /* nothing taken */
    CHECK_EQ(a.exited, 0);            /* not cancelled */
    /* A scope cancelled by hand: -ECANCELED. */
    REQUIRE(weft_scope_open(INFINITY, &sc) == 0);
    CHECK_EQ(weft_scope_cancel(sc), 0);
    CHECK_EQ(weft_taskset_next(s, &t), -ECANCELED);
    CHECK_EQ(weft_scope_close(sc), 1);
    /* The member still comes back, unharmed. */
    CHECK_EQ(a.exited, 0);
    CHECK_EQ(weft_event_set(&gate), 0);
    int err = 1;
    CHECK_EQ(take(s, &err), 1);
    CHECK_EQ(err, 0);
    CHECK_EQ(a.rc, 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

/* ---- a scope opened before the set, cancelled ---- */

typedef struct sc_ctx {
    weft_scope *sc;
    int rc;
} sc_ctx;

static void *scope_canceller(void *arg)
{
    sc_ctx *c = arg;
    CHECK_EQ(weft_sleep(0.003), 0);
    c->rc = weft_scope_cancel(c->sc);
    return NULL;
}

static void *case_scope_before(void *arg)
{
    (void)arg;
    sc_ctx c = {.rc = 1};
    REQUIRE(weft_scope_open(INFINITY, &c.sc) == 0);
    weft_task *h;
    REQUIRE(weft_spawn(scope_canceller, &c, &h) == 0);
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    mem a = forever(1), b = forever(2);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&a)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&b)), 0);
    weft_task *t = NULL;
    int rc = weft_taskset_next(s, &t);
    CHECK_EQ(c.rc, 0);
    if (rc == 1) {
        /* A member cancelled by the scope came back. */
        CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    } else {
        CHECK_EQ(rc, -ECANCELED);
    }
    CHECK_EQ(weft_scope_close(c.sc), 1);
    /* Outside the cancelled scope: the members, cancelled by it (not by
     * a free), come back. */
    int err = 0;
    while (weft_taskset_len(s) > 0) {
        take(s, &err);
        CHECK_EQ(err, -ECANCELED);
    }
    CHECK_EQ(a.exited + b.exited, 2);
    CHECK_EQ(a.rc, -ECANCELED);
    CHECK_EQ(b.rc, -ECANCELED);
    CHECK_EQ(weft_taskset_free(s), 0);
    CHECK_EQ(weft_await(h, NULL), 0);
    return NULL;
}

/* ---- a scope around the set cancelled while the owner runs ---- */

/* The owner cancels, while running (not blocked), a scope opened before
 * weft_taskset_new: the members, blocked in a wait the test opens only
 * afterwards, are cancelled at once, not merely the owner's next call. */
static void *case_scope_cancel_running(void *arg)
{
    (void)arg;
    weft_scope *sc;
    REQUIRE(weft_scope_open(INFINITY, &sc) == 0);
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    weft_event gate = WEFT_EVENT_INIT;
    mem a = {.gate = &gate, .cleanup = true, .ret = 1};
    mem b = {.gate = &gate, .cleanup = true, .ret = 2};
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&a)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&b)), 0);
    CHECK_YIELD_UNTIL(a.started && b.started);
    CHECK_EQ(weft_scope_cancel(sc), 0);
    weft_task *t = NULL;
    CHECK_EQ(weft_taskset_next(s, &t), -ECANCELED);
    CHECK_EQ(weft_scope_close(sc), 1);
    /* The gate opens: members not cancelled by now would succeed. */
    CHECK_EQ(weft_event_set(&gate), 0);
    int err = 0;
    while (weft_taskset_len(s) > 0) {
        take(s, &err);
        CHECK_EQ(err, -ECANCELED);
    }
    CHECK_EQ(a.exited + b.exited, 2);
    CHECK_EQ(a.rc, -ECANCELED);
    CHECK_EQ(b.rc, -ECANCELED);
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

/* A set created inside scope S0, S0 closed, then a timeout scope opened at
 * the same depth around weft_taskset_next: it is not around the set, so
 * its expiry ends that call and cancels no member. */
static void *case_scope_same_depth(void *arg)
{
    (void)arg;
    weft_scope *s0, *sc;
    REQUIRE(weft_scope_open(INFINITY, &s0) == 0);
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    weft_event gate = WEFT_EVENT_INIT;
    mem a = {.gate = &gate, .ret = 1}, b = {.gate = &gate, .ret = 2};
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&a)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&b)), 0);
    CHECK_EQ(weft_scope_close(s0), 0);
    REQUIRE(weft_scope_open(0.005, &sc) == 0);
    weft_task *t = (weft_task *)(intptr_t)0x5a5a;
    CHECK_EQ(weft_taskset_next(s, &t), -ETIMEDOUT);
    CHECK(t == (weft_task *)(intptr_t)0x5a5a);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(weft_taskset_len(s), 2);
    CHECK_EQ(a.exited + b.exited, 0); /* not cancelled */
    CHECK_EQ(weft_event_set(&gate), 0);
    int err = 1;
    intptr_t sum = take(s, &err);
    CHECK_EQ(err, 0);
    err = 1;
    sum += take(s, &err);
    CHECK_EQ(err, 0);
    CHECK_EQ(sum, 3);
    CHECK_EQ(a.rc, 0);
    CHECK_EQ(b.rc, 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

/* ---- the owner cancelled ---- */

typedef struct oc_ctx {
    mem a, b;
    int next_rc, taken, taken_cancelled;
} oc_ctx;

static void *oc_owner(void *arg)
{
    oc_ctx *c = arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    c->a = forever(1);
    c->b = forever(2);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&c->a)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&c->b)), 0);
    weft_task *t = NULL;
    c->next_rc = weft_taskset_next(s, &t);
    if (c->next_rc == 1) {
        c->taken++;
        c->taken_cancelled += weft_await(t, NULL) == -ECANCELED;
    }
    /* Shielded, the owner can still collect the members, which the
     * owner's cancellation (not a free) cancelled. */
    CHECK_EQ(weft_shield_begin(), 0);
    while (weft_taskset_next(s, &t) == 1) {
        c->taken++;
        c->taken_cancelled += weft_await(t, NULL) == -ECANCELED;
    }
    CHECK_EQ(weft_shield_end(), 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

static void *case_owner_cancelled(void *arg)
{
    (void)arg;
    oc_ctx c = {0};
    weft_task *o;
    REQUIRE(weft_spawn(oc_owner, &c, &o) == 0);
    CHECK_EQ(weft_sleep(0.003), 0);
    CHECK(c.a.started && c.b.started);
    CHECK_EQ(weft_task_cancel(o), 0);
    CHECK_EQ(weft_await(o, NULL), -ECANCELED);
    CHECK(c.next_rc == -ECANCELED || c.next_rc == 1);
    CHECK_EQ(c.taken, 2);
    CHECK_EQ(c.taken_cancelled, 2);
    CHECK_EQ(c.a.rc, -ECANCELED);
    CHECK_EQ(c.b.rc, -ECANCELED);
    return NULL;
}

/* ---- free ---- */

static void *case_free(void *arg)
{
    (void)arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    mem a = forever(1), b = forever(2), done = {.delay = NOSLEEP, .ret = 3};
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&a)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&b)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&done)), 0);
    CHECK_YIELD_UNTIL(a.started && b.started && done.exited);
    CHECK_EQ(weft_taskset_len(s), 3);
    CHECK_EQ(weft_taskset_free(s), 0);
    /* Joined: the shielded cleanup, which suspends, has run. */
    CHECK_EQ(a.exited, 1);
    CHECK_EQ(b.exited, 1);
    CHECK_EQ(a.rc, -ECANCELED);
    CHECK_EQ(b.rc, -ECANCELED);
    /* The free is not interrupted by the owner's own cancellation. */
    REQUIRE(weft_taskset_new(&s) == 0);
    mem c = forever(4);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&c)), 0);
    CHECK_YIELD_UNTIL(c.started);
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    CHECK_EQ(c.exited, 1);
    CHECK_EQ(c.rc, -ECANCELED);
    return NULL;
}

/* A failed member never taken: the free reports it on stderr. */
static void *free_failed_main(void *arg)
{
    (void)arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    mem bad = {.delay = 0.001, .fail = -EIO, .msg = "dropped member failure"};
    mem ok = {.delay = NOSLEEP, .ret = 1};
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&bad)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&ok)), 0);
    CHECK_SLEEP_UNTIL(bad.exited && ok.exited);
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

static void child_free_failed(void *arg)
{
    (void)arg;
    alarm(CHECK_CASE_ALARM);
    check_failures = 0;
    CHECK_EQ(weft_run(free_failed_main, NULL, NULL), 0);
    CHECK_EQ(weft__alloc_live, 0);
    fflush(stderr);
    _exit(check_failures ? 1 : 0);
}

/* ---- the owner returns without freeing ---- */

typedef struct leave_ctx {
    mem a, done;
    int ticks, tick_exited;
} leave_ctx;

static void *ticker(void *arg)
{
    leave_ctx *c = arg;
    while (weft_sleep(0.001) == 0)
        c->ticks++;
    c->tick_exited = 1;
    return NULL;
}

static void *leaving_owner(void *arg)
{
    leave_ctx *c = arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    c->a = forever(1);
    c->done = (mem){.delay = NOSLEEP, .ret = 2};
    weft_task *tk;
    REQUIRE(weft_spawn(ticker, c, &tk) == 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&c->a)), 0);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&c->done)), 0);
    CHECK_EQ(weft_taskset_add(s, tk), 0);
    CHECK_EQ(weft_sleep(0.005), 0);
    return I2P(5); /* without weft_taskset_free */
}

static void *case_owner_returns(void *arg)
{
    (void)arg;
    leave_ctx c = {0};
    weft_task *o;
    REQUIRE(weft_spawn(leaving_owner, &c, &o) == 0);
    CHECK_SLEEP_UNTIL(weft_task_done(o) == 1);
    CHECK_EQ(c.a.exited, 1);
    CHECK_EQ(c.a.rc, -ECANCELED);
    CHECK_EQ(c.tick_exited, 1);
    CHECK(c.ticks > 0);
    const char *m = weft_task_message(o);
    CHECK(m && strstr(m, "set"));
    void *r = NULL;
    CHECK_EQ(weft_await(o, &r), -EINVAL);
    CHECK_EQ(P2I(r), 5);
    int ticks = c.ticks;
    CHECK_EQ(weft_sleep(0.005), 0);
    CHECK_EQ(c.ticks, ticks); /* nothing runs afterwards */
    return NULL;
}

/* ---- misuse ---- */

typedef struct no_ctx {
    weft_taskset *s;
    int next_rc, add_rc, free_rc, len;
} no_ctx;

static void *non_owner(void *arg)
{
    no_ctx *c = arg;
    weft_task *t = NULL;
    c->next_rc = weft_taskset_next(c->s, &t);
    mem m = {.delay = NOSLEEP, .ret = 1};
    weft_task *mine = spawn_mem(&m);
    c->add_rc = weft_taskset_add(c->s, mine);
    CHECK_EQ(weft_await(mine, NULL), 0); /* not consumed */
    c->free_rc = weft_taskset_free(c->s);
    c->len = weft_taskset_len(c->s);
    return NULL;
}

typedef struct aw_ctx {
    weft_task *target;
    int rc;
} aw_ctx;

static void *awaiter(void *arg)
{
    aw_ctx *c = arg;
    c->rc = weft_await(c->target, NULL);
    return NULL;
}

/* A task given its own (owned) handle adds it to its set. */
typedef struct selfadd_ctx {
    weft_task *self;
    int rc;
} selfadd_ctx;

static void *self_adder(void *arg)
{
    selfadd_ctx *c = arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    c->rc = weft_taskset_add(s, c->self);
    CHECK_EQ(weft_taskset_len(s), 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    return I2P(3);
}

/* The owner of a set, and a task awaiting it. */
typedef struct dl_ctx {
    weft_task *owner, *other;
    int add_rc, other_rc;
} dl_ctx;

static void *dl_other(void *arg)
{
    dl_ctx *c = arg;
    c->other_rc = weft_await(c->owner, NULL); /* awaits the set's owner */
    return NULL;
}

static void *dl_owner(void *arg)
{
    dl_ctx *c = arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    CHECK_EQ(weft_sleep(0.002), 0); /* dl_other is awaiting us by now */
    c->add_rc = weft_taskset_add(s, c->other);
    CHECK_EQ(weft_taskset_len(s), 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    return I2P(7);
}

static void *case_misuse(void *arg)
{
    (void)arg;
    weft_taskset *s;
    weft_task *t = NULL;
    CHECK_EQ(weft_taskset_new(NULL), -EINVAL);
    CHECK_EQ(weft_taskset_add(NULL, NULL), -EINVAL);
    CHECK_EQ(weft_taskset_next(NULL, &t), -EINVAL);
    CHECK_EQ(weft_taskset_len(NULL), -EINVAL);
    CHECK_EQ(weft_taskset_free(NULL), -EINVAL);
    REQUIRE(weft_taskset_new(&s) == 0);
    CHECK_EQ(weft_taskset_next(s, NULL), -EINVAL);
    CHECK_EQ(weft_taskset_add(s, NULL), -EINVAL);

    /* A consumed handle. */
    mem m1 = {.delay = NOSLEEP, .ret = 1};
    weft_task *c1 = spawn_mem(&m1);
    CHECK_EQ(weft_await(c1, NULL), 0);
    CHECK_EQ(weft_taskset_add(s, c1), -EINVAL);
    /* A borrowed handle: the caller itself, or a group child. */
    CHECK_EQ(weft_taskset_add(s, weft_current()), -EINVAL);
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    mem gm = {.delay = 0.001};
    weft_task *gh;
    REQUIRE(weft_group_spawn(g, mem_fn, &gm, &gh) == 0);
    CHECK_EQ(weft_taskset_add(s, gh), -EINVAL);
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    CHECK_EQ(weft_taskset_len(s), 0);

    /* A handle another task awaits: -EBUSY, not consumed. */
    weft_event gate = WEFT_EVENT_INIT;
    mem m2 = {.gate = &gate, .ret = 2};
    aw_ctx ac = {.target = spawn_mem(&m2), .rc = 1};
    weft_task *aw;
    REQUIRE(weft_spawn(awaiter, &ac, &aw) == 0);
    CHECK_YIELD_UNTIL(m2.started);
    CHECK_EQ(weft_taskset_add(s, ac.target), -EBUSY);
    CHECK_EQ(weft_taskset_len(s), 0);
    CHECK_EQ(weft_event_set(&gate), 0);
    CHECK_EQ(weft_await(aw, NULL), 0);
    CHECK_EQ(ac.rc, 0); /* the awaiter still got it */

    /* A task awaiting the set's owner: -EDEADLK. */
    dl_ctx dc = {.add_rc = 1};
    weft_task *dlo, *dlx;
    REQUIRE(weft_spawn(dl_owner, &dc, &dlo) == 0);
    REQUIRE(weft_spawn(dl_other, &dc, &dlx) == 0);
    dc.owner = dlo; /* handed over to dl_other, which consumes it */
    dc.other = dlx;
    /* Not awaiting dlx yet: that would make the add -EBUSY. */
    CHECK_SLEEP_UNTIL(dc.add_rc != 1);
    CHECK_EQ(weft_await(dlx, NULL), 0);
    CHECK_EQ(dc.add_rc, -EDEADLK);
    CHECK_EQ(dc.other_rc, 0);

    /* The caller's own handle: -EDEADLK, not consumed. */
    selfadd_ctx sa = {.rc = 1};
    weft_task *st;
    REQUIRE(weft_spawn(self_adder, &sa, &st) == 0);
    sa.self = st;
    CHECK_SLEEP_UNTIL(sa.rc != 1);
    CHECK_EQ(sa.rc, -EDEADLK);
    void *sr = NULL;
    CHECK_EQ(weft_await(st, &sr), 0);
    CHECK_EQ(P2I(sr), 3);

    /* next/add/free from a non-owner. */
    mem m3 = {.delay = 0.002, .ret = 3};
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&m3)), 0);
    no_ctx nc = {.s = s, .next_rc = 1, .add_rc = 1, .free_rc = 1};
    weft_task *no;
    REQUIRE(weft_spawn(non_owner, &nc, &no) == 0);
    CHECK_EQ(weft_await(no, NULL), 0);
    CHECK_EQ(nc.next_rc, -EPERM);
    CHECK_EQ(nc.add_rc, -EPERM);
    CHECK_EQ(nc.free_rc, -EPERM);
    CHECK_EQ(nc.len, 1);
    /* The set is intact. */
    CHECK_EQ(weft_taskset_len(s), 1);
    int err = 1;
    CHECK_EQ(take(s, &err), 3);
    CHECK_EQ(err, 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

/* ---- the handle after add ---- */

static void *case_handle_after_add(void *arg)
{
    (void)arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    mem a = forever(1), b = {.delay = 0.02, .ret = 2};
    weft_spawn_opts o = {.name = "member-a"};
    weft_task *ha, *hb = spawn_mem(&b);
    REQUIRE(weft_spawn_ex(mem_fn, &a, &o, &ha) == 0);
    CHECK_EQ(weft_taskset_add(s, ha), 0);
    CHECK_EQ(weft_taskset_add(s, hb), 0);
    CHECK_YIELD_UNTIL(a.started);
    /* The set owns it: the handle may query and cancel, not consume. */
    CHECK_EQ(weft_task_done(ha), 0);
    CHECK(check_streq(weft_task_name(ha), "member-a"));
    CHECK_EQ(weft_task_result(ha, NULL), -EAGAIN);
    CHECK_EQ(weft_await(ha, NULL), -EBUSY);
    CHECK_EQ(weft_task_detach(ha), -EBUSY);
    weft_task *one[1] = {ha};
    CHECK_EQ(weft_wait(one, 1, WEFT_WAIT_ALL), -EBUSY);
    CHECK(weft_taskset_add(s, ha) < 0); /* not twice */
    CHECK_EQ(weft_taskset_len(s), 2);
    CHECK_EQ(weft_task_cancel(ha), 0);
    int err = 1;
    CHECK_EQ(take(s, &err), 1); /* a, cancelled, finishes first */
    CHECK_EQ(err, -ECANCELED);
    CHECK_EQ(a.rc, -ECANCELED);
    /* b finished, not taken: dropped by the free; the handle is dead. */
    CHECK_SLEEP_UNTIL(b.exited);
    CHECK_EQ(weft_task_done(hb), 1);
    CHECK_EQ(weft_taskset_free(s), 0);
    CHECK_EQ(weft_task_done(hb), -EINVAL);
    return NULL;
}

/* ---- len ---- */

static void *case_len(void *arg)
{
    (void)arg;
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    mem a = {.delay = 0.002, .ret = 1}, b = {.delay = NOSLEEP, .ret = 2};
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&a)), 0);
    CHECK_EQ(weft_taskset_len(s), 1);
    CHECK_EQ(weft_taskset_add(s, spawn_mem(&b)), 0);
    CHECK_EQ(weft_taskset_len(s), 2);
    CHECK_SLEEP_UNTIL(a.exited && b.exited);
    CHECK_EQ(weft_taskset_len(s), 2); /* finished, not taken */
    int err;
    take(s, &err);
    CHECK_EQ(weft_taskset_len(s), 1);
    take(s, &err);
    CHECK_EQ(weft_taskset_len(s), 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    return NULL;
}

/* ---- many ---- */

static void *quick(void *arg)
{
    intptr_t i = P2I(arg);
    if (i % 64 == 0)
        weft_yield(); /* some finish later, out of order */
    return arg;
}

static void *case_stress(void *arg)
{
    long n = (long)P2I(arg);
    unsigned char *seen = calloc((size_t)n, 1);
    REQUIRE(seen);
    weft_taskset *s;
    REQUIRE(weft_taskset_new(&s) == 0);
    for (long i = 0; i < n; i++) {
        weft_task *t;
        REQUIRE(weft_spawn(quick, I2P(i), &t) == 0);
        REQUIRE(weft_taskset_add(s, t) == 0);
    }
    CHECK_EQ(weft_taskset_len(s), n);
    long got = 0, bad = 0, dup = 0;
    weft_task *t;
    int rc;
    while ((rc = weft_taskset_next(s, &t)) == 1) {
        void *r = NULL;
        if (weft_await(t, &r) != 0)
            bad++;
        long i = (long)P2I(r);
        if (i < 0 || i >= n)
            bad++;
        else if (seen[i]++)
            dup++;
        got++;
        REQUIRE(got <= n);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(got, n);
    CHECK_EQ(bad, 0);
    CHECK_EQ(dup, 0);
    long missing = 0;
    for (long i = 0; i < n; i++)
        missing += !seen[i];
    CHECK_EQ(missing, 0);
    CHECK_EQ(weft_taskset_free(s), 0);
    free(seen);
    return NULL;
}

/* A set freed with a member that failed: the failure is reported (in a
 * child, whose stderr is read). */
static void case_free_reports_failure(void *arg)
{
    (void)arg;
    char *out = NULL;
    int st = check_fork(child_free_failed, NULL, &out);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && out &&
              strstr(out, "dropped member failure");
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "status %#x, its stderr:\n%s\n", st, out ? out : "");
    free(out);
}

int main(void)
{
    check_begin();
    check_case_alarm_install();

    weft_taskset *s = NULL;
    CHECK_EQ(weft_taskset_new(&s), -EPERM); /* outside a task */
    CHECK(s == NULL);

    check_case("completion_order", case_order, NULL, 0);
    check_case("finished_before_add", case_finished_first, NULL, 0);
    check_case("empty", case_empty, NULL, 0);
    check_case("owned_handles", case_owned, NULL, 0);
    check_case("failure_cancels_nothing", case_failure, NULL, 0);
    check_case("timeout_around_next", case_timeout_next, NULL, 0);
    check_case("scope_before_new", case_scope_before, NULL, 0);
    check_case("scope_cancelled_running", case_scope_cancel_running, NULL, 0);
    check_case("scope_same_depth", case_scope_same_depth, NULL, 0);
    check_case("owner_cancelled", case_owner_cancelled, NULL, 0);
    check_case("free_cancels_joins", case_free, NULL, -ECANCELED);
    check_case("owner_returns", case_owner_returns, NULL, 0);
    check_case("misuse", case_misuse, NULL, 0);
    check_case("len", case_len, NULL, 0);
    check_case("handle_after_add", case_handle_after_add, NULL, 0);

    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "free_reports_failure", case_free_reports_failure, NULL));

    long n = check_scaled(100000);
    if (check_slow_env() && n > 20000)
        n = 20000;
    check_case("stress", case_stress, I2P(n), 0);

    return check_end();
}

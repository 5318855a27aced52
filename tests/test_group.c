/*
 * test_group.c - task groups (weft_group_*: asyncio.TaskGroup, trio's
 * nursery), with CPython's test_taskgroups.py as the reference.  It proves:
 * - all children succeed: wait returns 0, no failures, and every child's
 *   result stays readable through its borrowed handle until
 *   weft_group_free; no child outlives the wait;
 * - one child fails: the others are cancelled, the owner's suspending
 *   calls inside the group body return -ECANCELED (sticky), wait returns
 *   the failure's code with its message in weft_errmsg(), the failure is
 *   kept (code, message, borrowed handle; -ERANGE past the end), and after
 *   the wait the owner is not cancelled any more (a sleep succeeds) - both
 *   when the child fails while the owner is in the body and while it is
 *   already in the wait;
 * - several children failing in the same loop turn: every failure is kept;
 * - cancelling the owner (from another task, in the body or during the
 *   wait) cancels the children and the wait still joins them all, then
 *   returns -ECANCELED; a child failing in the turn the waiting owner is
 *   cancelled: the wait returns the failure, the owner stays cancelled;
 * - a timeout scope opened before weft_group_new expires: children
 *   cancelled, wait returns -ETIMEDOUT, the scope's close returns 1; a
 *   timeout scope opened inside the group body only ends the call it
 *   bounds, the children are unaffected;
 * - weft_group_cancel (from the owner or a child): children cancelled, the
 *   body's calls fail, wait returns 0; cancelling one child through its
 *   borrowed handle is not a failure;
 * - spawning into a cancelled group (after weft_group_cancel or a
 *   failure; also eagerly) creates a child that never runs and finishes
 *   -ECANCELED;
 * - children spawn into the group (also while the owner is in the wait);
 * - nested groups: an outer failure reaches an inner group's children, an
 *   inner failure stays inside the inner group, an outer cancel reaches an
 *   inner group of the same owner;
 * - eager children (WEFT_SPAWN_EAGER) that finish or fail inside the spawn,
 *   or spawn into their own group while they run inside the spawn (run in
 *   a child process: a memory error fails only that case);
 * - misuse: NULL -> -EINVAL, outside a task -> -EPERM, wait twice,
 *   spawn/cancel after the wait -> -EINVAL, wait from a non-owner -> -EPERM,
 *   wait with a scope or shield of the body still open -> -EBUSY (nothing
 *   changes, a later wait works), free before the wait -> -EBUSY, awaiting
 *   or detaching a borrowed child handle -> -EINVAL;
 * - the owner returning without waiting: the children are cancelled and
 *   joined as it returns (nothing of theirs runs afterwards), the owner
 *   fails with -EINVAL and a message naming the open group, a child's
 *   failure is reported on stderr, and nothing leaks; a child spawned
 *   into the group meanwhile (by a child woken cancelled) never runs and
 *   does not hold the owner up;
 * - 255 task sets open in one task work, a 256th set or a group is
 *   -EOVERFLOW; the owner returning with them open fails with -EINVAL and
 *   every member was cancelled and joined.
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

/* ---- a configurable child ---- */

#define NOSLEEP (-1.0) /* delay: do not suspend at all */

typedef struct kid {
    double delay;     /* sleep this long first (INFINITY: until cancelled) */
    weft_event *gate; /* if set: wait for it instead of sleeping */
    int fail;         /* then fail with this code (0: succeed) */
    const char *msg;  /* the failure's message */
    intptr_t ret;     /* what the body returns */
    bool cleanup;     /* when the wait failed: a shielded sleep, then exit */
    int started, exited;
    int rc; /* what the sleep/wait returned */
} kid;

static void *kid_fn(void *arg)
{
    kid *k = arg;
    k->started = 1;
    if (k->gate)
        k->rc = weft_event_wait(k->gate);
    else if (k->delay != NOSLEEP)
        k->rc = weft_sleep(k->delay);
    if (k->rc && k->cleanup) {
        /* A cleanup that suspends: a wait that did not join its children
         * would return before `exited` is set. */
        CHECK_EQ(weft_shield_begin(), 0);
        CHECK_EQ(weft_sleep(0.002), 0);
        CHECK_EQ(weft_shield_end(), 0);
    }
    k->exited = 1;
    if (k->fail)
        weft_fail(k->fail, "%s", k->msg ? k->msg : "failed");
    return I2P(k->ret);
}

static kid forever(void)
{
    return (kid){.delay = INFINITY, .cleanup = true, .ret = 99};
}

/* A child that ticks every millisecond until its sleep fails. */
typedef struct ticker {
    int ticks, exited, rc;
} ticker;

static void *ticker_fn(void *arg)
{
    ticker *t = arg;
    while ((t->rc = weft_sleep(0.001)) == 0)
        t->ticks++;
    t->exited = 1;
    return NULL;
}

static void check_result(weft_task *h, int err, intptr_t val)
{
    void *r = (void *)(intptr_t)0x5a5a;
    CHECK_EQ(weft_task_done(h), 1);
    CHECK_EQ(weft_task_result(h, &r), err);
    CHECK_EQ(P2I(r), val);
}

/* ---- all succeed ---- */

static void *case_all_succeed(void *arg)
{
    (void)arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    kid k[4] = {
        {.delay = 0.004, .ret = 11},
        {.delay = 0.0, .ret = 22},
        {.delay = NOSLEEP, .ret = 33},
        {.delay = 0.002, .ret = 44},
    };
    weft_task *h[4];
    for (int i = 0; i < 4; i++)
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], &h[i]) == 0);
    /* Not finished yet: the results are not there. */
    CHECK_EQ(weft_task_done(h[0]), 0);
    CHECK_EQ(weft_task_result(h[0], NULL), -EAGAIN);
    CHECK_EQ(weft_group_wait(g), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(k[i].exited, 1); /* no child outlives the wait */
        CHECK_EQ(k[i].rc, 0);
        check_result(h[i], 0, k[i].ret);
        CHECK(weft_task_message(h[i]) == NULL);
    }
    CHECK_EQ(weft_group_failures(g), 0);
    int code = 1;
    CHECK_EQ(weft_group_failure(g, 0, &code, NULL, NULL), -ERANGE);
    CHECK_EQ(code, 1);
    /* The owner is not cancelled. */
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_cancelled(), 0);
    /* Still readable after some time, until the free. */
    check_result(h[2], 0, 33);
    CHECK_EQ(weft_group_free(g), 0);
    /* An empty group. */
    REQUIRE(weft_group_new(&g) == 0);
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(weft_group_failures(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* ---- one child fails ---- */

/* arg 0: the owner is in the body (sleeping) when the child fails;
 * arg 1: the owner is already in the wait. */
static void *case_one_fails(void *arg)
{
    bool in_wait = P2I(arg) != 0;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    kid k[3] = {
        {.delay = 0.005, .fail = -EIO, .msg = "boom 7", .ret = 7},
        forever(),
        forever(),
    };
    weft_task *h[3];
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], &h[i]) == 0);
    if (!in_wait) {
        double t0 = weft_now();
        CHECK_EQ(weft_sleep(5.0), -ECANCELED); /* woken by the failure */
        CHECK(weft_now() - t0 < 2.0);
        CHECK_EQ(k[0].exited, 1);
        /* Sticky: every later suspending call in the body fails too. */
        CHECK_EQ(weft_yield(), -ECANCELED);
        CHECK_EQ(weft_sleep(0), -ECANCELED);
        CHECK_EQ(weft_sleep(0.001), -ECANCELED);
    }
    CHECK_EQ(weft_group_wait(g), -EIO);
    CHECK(check_streq(weft_errmsg(), "boom 7"));
    for (int i = 0; i < 3; i++)
        CHECK_EQ(k[i].exited, 1);
    CHECK_EQ(k[0].rc, 0);
    CHECK_EQ(k[1].rc, -ECANCELED);
    CHECK_EQ(k[2].rc, -ECANCELED);
    check_result(h[0], -EIO, 7);
    CHECK(check_streq(weft_task_message(h[0]), "boom 7"));
    check_result(h[1], -ECANCELED, 99);
    check_result(h[2], -ECANCELED, 99);
    /* The failure is kept. */
    CHECK_EQ(weft_group_failures(g), 1);
    int code = 0;
    const char *msg = NULL;
    weft_task *ft = NULL;
    CHECK_EQ(weft_group_failure(g, 0, &code, &msg, &ft), 0);
    CHECK_EQ(code, -EIO);
    CHECK(check_streq(msg, "boom 7"));
    REQUIRE(ft != NULL);
    CHECK_EQ(weft_task_result(ft, NULL), -EIO);
    CHECK(check_streq(weft_task_message(ft), "boom 7"));
    CHECK_EQ(weft_group_failure(g, 0, NULL, NULL, NULL), 0);
    CHECK_EQ(weft_group_failure(g, 1, &code, &msg, &ft), -ERANGE);
    CHECK_EQ(weft_group_failure(g, (size_t)-1, NULL, NULL, NULL), -ERANGE);
    /* After the wait the owner is not cancelled: the group's cancellation
     * does not leak out of it. */
    CHECK_EQ(weft_cancelled(), 0);
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* ---- several failures in the same turn ---- */

static void *case_same_turn_failures(void *arg)
{
    (void)arg;
    weft_event gate = WEFT_EVENT_INIT;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    static const int codes[3] = {-EIO, -ENOENT, -EPIPE};
    static const char *const msgs[3] = {"f0", "f1", "f2"};
    kid k[4];
    weft_task *h[4];
    for (int i = 0; i < 3; i++)
        k[i] = (kid){.gate = &gate, .fail = codes[i], .msg = msgs[i]};
    k[3] = forever();
    for (int i = 0; i < 4; i++)
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], &h[i]) == 0);
    CHECK_YIELD_UNTIL(k[0].started && k[1].started && k[2].started &&
                      k[3].started);
    /* One set wakes the three in the same turn; each fails without
     * suspending again. */
    CHECK_EQ(weft_event_set(&gate), 0);
    CHECK_EQ(weft_group_wait(g), -EIO);
    CHECK(check_streq(weft_errmsg(), "f0"));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(k[i].exited, 1);
    int n = weft_group_failures(g);
    CHECK_EQ(n, 3);
    if (n != 3) {
        for (int i = 0; i < 3; i++) {
            int e = weft_task_result(h[i], NULL);
            fprintf(stderr,
                    "  same_turn_failures: child %d ended %d (%s), wanted "
                    "%d\n",
                    i, e, weft_strerror(e), codes[i]);
        }
    }
    for (int i = 0; i < n && i < 3; i++) {
        int code = 0;
        const char *msg = NULL;
        weft_task *ft = NULL;
        CHECK_EQ(weft_group_failure(g, (size_t)i, &code, &msg, &ft), 0);
        CHECK_EQ(code, codes[i]);
        CHECK(check_streq(msg, msgs[i]));
        CHECK(ft && weft_task_result(ft, NULL) == codes[i]);
    }
    CHECK_EQ(weft_group_failure(g, (size_t)(n > 0 ? n : 0), NULL, NULL, NULL),
             -ERANGE);
    check_result(h[3], -ECANCELED, 99);
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* ---- the owner cancelled ---- */

typedef struct owner_ctx {
    bool in_body;
    kid k[3];
    int body_rc, wait_rc, after_rc;
    int exited_at_wait; /* children exited when the wait returned */
} owner_ctx;

static void *owner_cancelled_body(void *arg)
{
    owner_ctx *c = arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    for (int i = 0; i < 3; i++) {
        c->k[i] = forever();
        REQUIRE(weft_group_spawn(g, kid_fn, &c->k[i], NULL) == 0);
    }
    if (c->in_body)
        c->body_rc = weft_sleep(5.0);
    c->wait_rc = weft_group_wait(g);
    for (int i = 0; i < 3; i++)
        c->exited_at_wait += c->k[i].exited;
    c->after_rc = weft_sleep(0.001); /* the task's own cancel stays */
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

static void *case_owner_cancelled(void *arg)
{
    owner_ctx c = {.in_body = P2I(arg) != 0};
    weft_task *t;
    REQUIRE(weft_spawn(owner_cancelled_body, &c, &t) == 0);
    CHECK_EQ(weft_sleep(0.005), 0);
    CHECK(c.k[0].started && c.k[1].started && c.k[2].started);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    if (c.in_body)
        CHECK_EQ(c.body_rc, -ECANCELED);
    CHECK_EQ(c.wait_rc, -ECANCELED);
    CHECK_EQ(c.exited_at_wait, 3); /* the wait joined them all */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(c.k[i].rc, -ECANCELED);
    CHECK_EQ(c.after_rc, -ECANCELED);
    return NULL;
}

/* A child fails and, in the same turn, another task cancels the owner
 * waiting for the group: the wait returns the child's failure (a real
 * error beats the cancellation) and the owner's cancellation stays. */
typedef struct race_ctx {
    weft_event gate;
    weft_task *owner; /* borrowed (weft_current of the owner) */
    kid bad;
    int cancel_rc, wait_rc, after_rc;
} race_ctx;

static void *race_canceller(void *arg)
{
    race_ctx *c = arg;
    weft_event_wait(&c->gate); /* woken with bad, right after it */
    c->cancel_rc = weft_task_cancel(c->owner);
    return NULL;
}

static void *race_owner(void *arg)
{
    race_ctx *c = arg;
    c->owner = weft_current();
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    c->bad = (kid){.gate = &c->gate, .fail = -EIO, .msg = "race"};
    REQUIRE(weft_group_spawn(g, kid_fn, &c->bad, NULL) == 0);
    c->wait_rc = weft_group_wait(g);
    c->after_rc = weft_sleep(0.001);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

static void *case_fail_and_owner_cancel(void *arg)
{
    (void)arg;
    race_ctx c = {.gate = WEFT_EVENT_INIT, .cancel_rc = 9, .wait_rc = 9};
    weft_task *o, *x;
    REQUIRE(weft_spawn(race_owner, &c, &o) == 0);
    CHECK_YIELD_UNTIL(c.bad.started);
    REQUIRE(weft_spawn(race_canceller, &c, &x) == 0);
    CHECK_YIELD_UNTIL(weft_task_done(x) == 0 && c.cancel_rc == 9 &&
                      weft_event_is_set(&c.gate) == 0 && c.owner);
    CHECK_EQ(weft_yield(), 0); /* race_canceller waits on the gate */
    CHECK_EQ(weft_event_set(&c.gate), 0);
    CHECK_EQ(weft_await(o, NULL), -ECANCELED);
    CHECK_EQ(weft_await(x, NULL), 0);
    CHECK_EQ(c.cancel_rc, 0);
    CHECK_EQ(c.wait_rc, -EIO);
    CHECK_EQ(c.after_rc, -ECANCELED);
    return NULL;
}

/* ---- timeouts ---- */

/* A timeout scope opened before weft_group_new.  arg 0: the owner waits
 * at once; arg 1: it sleeps in the body first. */
static void *case_timeout_around(void *arg)
{
    bool body = P2I(arg) != 0;
    weft_scope *sc;
    double t0 = weft_now();
    REQUIRE(weft_scope_open(0.01, &sc) == 0);
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    kid k[2] = {forever(), forever()};
    kid quick = {.delay = NOSLEEP, .ret = 5};
    weft_task *h[2], *hq;
    for (int i = 0; i < 2; i++)
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], &h[i]) == 0);
    REQUIRE(weft_group_spawn(g, kid_fn, &quick, &hq) == 0);
    if (body)
        CHECK_EQ(weft_sleep(5.0), -ETIMEDOUT);
    CHECK_EQ(weft_group_wait(g), -ETIMEDOUT);
    double el = weft_now() - t0;
    CHECK(el >= 0.01);
    CHECK(el < 2.0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(k[i].exited, 1);
        /* The children were cancelled by the enclosing deadline. */
        CHECK(k[i].rc == -ECANCELED || k[i].rc == -ETIMEDOUT);
        CHECK_EQ(weft_task_done(h[i]), 1);
        CHECK(weft_task_result(h[i], NULL) < 0);
    }
    check_result(hq, 0, 5); /* finished before the deadline */
    CHECK_EQ(weft_group_failures(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(weft_sleep(0.001), 0);
    return NULL;
}

/* A timeout scope opened inside the group body: only the call it bounds
 * fails. */
static void *case_timeout_inside(void *arg)
{
    (void)arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    weft_event gate = WEFT_EVENT_INIT;
    kid k[2] = {{.gate = &gate, .ret = 1}, {.gate = &gate, .ret = 2}};
    weft_task *h[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], &h[i]) == 0);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.005, &sc) == 0);
    CHECK_EQ(weft_sleep(5.0), -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(k[0].exited + k[1].exited, 0); /* still waiting */
    /* The group is not cancelled: the body's calls work. */
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_event_set(&gate), 0);
    CHECK_EQ(weft_group_wait(g), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(k[i].rc, 0);
        CHECK_EQ(k[i].exited, 1);
        check_result(h[i], 0, k[i].ret);
    }
    CHECK_EQ(weft_group_failures(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* ---- weft_group_cancel ---- */

typedef struct gc_ctx {
    weft_group *g;
    int rc;
} gc_ctx;

static void *canceller_kid(void *arg)
{
    gc_ctx *c = arg;
    CHECK_EQ(weft_sleep(0.003), 0);
    c->rc = weft_group_cancel(c->g);
    return NULL;
}

/* arg 0: the owner cancels; arg 1: a child does. */
static void *case_group_cancel(void *arg)
{
    bool by_child = P2I(arg) != 0;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    kid k[2] = {forever(), forever()};
    weft_task *h[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], &h[i]) == 0);
    gc_ctx c = {.g = g, .rc = 1};
    if (by_child) {
        REQUIRE(weft_group_spawn(g, canceller_kid, &c, NULL) == 0);
        double t0 = weft_now();
        CHECK_EQ(weft_sleep(5.0), -ECANCELED);
        CHECK(weft_now() - t0 < 2.0);
        CHECK_EQ(c.rc, 0);
    } else {
        CHECK_YIELD_UNTIL(k[0].started && k[1].started);
        CHECK_EQ(weft_group_cancel(g), 0);
        CHECK_EQ(weft_group_cancel(g), 0); /* idempotent */
        CHECK_EQ(weft_sleep(5.0), -ECANCELED);
    }
    CHECK_EQ(weft_yield(), -ECANCELED);
    CHECK_EQ(weft_group_wait(g), 0); /* a cancel is not a failure */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(k[i].exited, 1);
        CHECK_EQ(k[i].rc, -ECANCELED);
        check_result(h[i], -ECANCELED, 99);
    }
    CHECK_EQ(weft_group_failures(g), 0);
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* Cancelling one child through its borrowed handle: not a failure, the
 * others are unaffected. */
static void *case_cancel_one_child(void *arg)
{
    (void)arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    kid k[2] = {forever(), {.delay = 0.005, .ret = 3}};
    weft_task *h[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], &h[i]) == 0);
    CHECK_YIELD_UNTIL(k[0].started);
    CHECK_EQ(weft_task_cancel(h[0]), 0);
    CHECK_EQ(weft_sleep(0.001), 0); /* the body goes on */
    CHECK_EQ(weft_group_wait(g), 0);
    check_result(h[0], -ECANCELED, 99);
    check_result(h[1], 0, 3);
    CHECK_EQ(k[1].rc, 0);
    CHECK_EQ(weft_task_cancel(h[1]), 1); /* finished: nothing changes */
    CHECK_EQ(weft_group_failures(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* ---- spawning into a cancelled group ---- */

/* arg 0: cancelled by weft_group_cancel; arg 1: by a child's failure. */
static void *case_spawn_into_cancelled(void *arg)
{
    bool by_failure = P2I(arg) != 0;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    kid bad = {.delay = NOSLEEP, .fail = -EIO, .msg = "first"};
    weft_task *hb = NULL;
    if (by_failure) {
        REQUIRE(weft_group_spawn(g, kid_fn, &bad, &hb) == 0);
        CHECK_YIELD_UNTIL(bad.exited); /* bad ran and failed */
        CHECK_EQ(weft_sleep(0), -ECANCELED);
        CHECK_EQ(weft_task_result(hb, NULL), -EIO);
    } else {
        CHECK_EQ(weft_group_cancel(g), 0);
    }
    kid late = {.delay = NOSLEEP, .ret = 8};
    weft_task *hl;
    CHECK_EQ(weft_group_spawn(g, kid_fn, &late, &hl), 0);
    CHECK_EQ(weft_group_wait(g), by_failure ? -EIO : 0);
    CHECK_EQ(late.started, 0); /* never ran */
    CHECK_EQ(weft_task_done(hl), 1);
    CHECK_EQ(weft_task_result(hl, NULL), -ECANCELED);
    CHECK_EQ(weft_group_failures(g), by_failure ? 1 : 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* An eager child spawned into a cancelled group: it must not run either. */
static void *case_eager_into_cancelled(void *arg)
{
    (void)arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    CHECK_EQ(weft_group_cancel(g), 0);
    weft_spawn_opts o = {.flags = WEFT_SPAWN_EAGER};
    kid late = {.delay = NOSLEEP, .fail = -EIO, .msg = "eager late"};
    weft_task *hl;
    CHECK_EQ(weft_group_spawn_ex(g, kid_fn, &late, &o, &hl), 0);
    CHECK_EQ(late.started, 0); /* never ran */
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(late.started, 0);
    CHECK_EQ(weft_task_result(hl, NULL), -ECANCELED);
    CHECK_EQ(weft_group_failures(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* ---- a child spawns into the group ---- */

typedef struct sp_ctx {
    weft_group *g;
    kid grand[2];
    weft_task *gh[2];
    int spawn_rc[2];
} sp_ctx;

static void *spawner_kid(void *arg)
{
    sp_ctx *c = arg;
    /* By now the owner is in the wait. */
    CHECK_EQ(weft_sleep(0.003), 0);
    for (int i = 0; i < 2; i++) {
        c->grand[i] = (kid){.delay = 0.005, .ret = 50 + i};
        c->spawn_rc[i] =
            weft_group_spawn(c->g, kid_fn, &c->grand[i], &c->gh[i]);
    }
    return I2P(1);
}

static void *case_spawn_from_child(void *arg)
{
    (void)arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    sp_ctx c = {.g = g};
    weft_task *hs;
    REQUIRE(weft_group_spawn(g, spawner_kid, &c, &hs) == 0);
    CHECK_EQ(weft_group_wait(g), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(c.spawn_rc[i], 0);
        CHECK_EQ(c.grand[i].exited, 1); /* joined by the same wait */
        check_result(c.gh[i], 0, 50 + i);
    }
    check_result(hs, 0, 1);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* ---- nested groups ---- */

typedef struct mid_ctx {
    kid leaf[2];
    int inner_wait_rc;
    int leaves_exited_at_wait;
} mid_ctx;

static void *mid_kid(void *arg)
{
    mid_ctx *m = arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    for (int i = 0; i < 2; i++) {
        m->leaf[i] = forever();
        REQUIRE(weft_group_spawn(g, kid_fn, &m->leaf[i], NULL) == 0);
    }
    m->inner_wait_rc = weft_group_wait(g);
    m->leaves_exited_at_wait = m->leaf[0].exited + m->leaf[1].exited;
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

static void *case_nested(void *arg)
{
    (void)arg;
    /* 1. An outer child fails while a sibling waits on an inner group:
     *    the inner group's children are cancelled. */
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    mid_ctx m = {0};
    kid bad = {.delay = 0.005, .fail = -EINVAL, .msg = "outer child"};
    REQUIRE(weft_group_spawn(g, mid_kid, &m, NULL) == 0);
    REQUIRE(weft_group_spawn(g, kid_fn, &bad, NULL) == 0);
    CHECK_EQ(weft_group_wait(g), -EINVAL);
    CHECK_EQ(m.inner_wait_rc, -ECANCELED);
    CHECK_EQ(m.leaves_exited_at_wait, 2);
    CHECK_EQ(m.leaf[0].rc, -ECANCELED);
    CHECK_EQ(weft_group_failures(g), 1);
    CHECK_EQ(weft_group_free(g), 0);

    /* 2. Two groups in the owner: the inner one's failure stays inside. */
    weft_group *g1, *g2;
    REQUIRE(weft_group_new(&g1) == 0);
    weft_event gate = WEFT_EVENT_INIT;
    kid o1 = {.gate = &gate, .ret = 1};
    weft_task *ho1;
    REQUIRE(weft_group_spawn(g1, kid_fn, &o1, &ho1) == 0);
    REQUIRE(weft_group_new(&g2) == 0);
    kid i1 = {.delay = 0.002, .fail = -ENOENT, .msg = "inner child"};
    kid i2 = forever();
    REQUIRE(weft_group_spawn(g2, kid_fn, &i1, NULL) == 0);
    REQUIRE(weft_group_spawn(g2, kid_fn, &i2, NULL) == 0);
    CHECK_EQ(weft_group_wait(g1), -EBUSY); /* g2 is open inside g1 */
    CHECK_EQ(weft_group_wait(g2), -ENOENT);
    CHECK(check_streq(weft_errmsg(), "inner child"));
    CHECK_EQ(i2.rc, -ECANCELED);
    CHECK_EQ(i2.exited, 1);
    CHECK_EQ(weft_group_free(g2), 0);
    CHECK_EQ(weft_sleep(0.001), 0); /* g1's body is not cancelled */
    CHECK_EQ(o1.exited, 0);
    CHECK_EQ(weft_event_set(&gate), 0);
    CHECK_EQ(weft_group_wait(g1), 0);
    CHECK_EQ(o1.rc, 0);
    check_result(ho1, 0, 1);
    CHECK_EQ(weft_group_free(g1), 0);

    /* 3. Cancelling the outer group reaches the inner group's children. */
    REQUIRE(weft_group_new(&g1) == 0);
    REQUIRE(weft_group_new(&g2) == 0);
    kid a = forever(), b = forever();
    REQUIRE(weft_group_spawn(g1, kid_fn, &a, NULL) == 0);
    REQUIRE(weft_group_spawn(g2, kid_fn, &b, NULL) == 0);
    CHECK_YIELD_UNTIL(a.started && b.started);
    CHECK_EQ(weft_group_cancel(g1), 0);
    CHECK_EQ(weft_group_wait(g2), -ECANCELED); /* the outer scope's cause */
    CHECK_EQ(b.exited, 1);
    CHECK_EQ(b.rc, -ECANCELED);
    CHECK_EQ(weft_group_free(g2), 0);
    CHECK_EQ(weft_group_wait(g1), 0);
    CHECK_EQ(a.exited, 1);
    CHECK_EQ(a.rc, -ECANCELED);
    CHECK_EQ(weft_group_free(g1), 0);
    CHECK_EQ(weft_sleep(0.001), 0);
    return NULL;
}

/* ---- eager children ---- */

static void *case_eager(void *arg)
{
    (void)arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    weft_spawn_opts o = {.flags = WEFT_SPAWN_EAGER};
    /* Finishes inside the spawn. */
    kid ok = {.delay = NOSLEEP, .ret = 5};
    weft_task *hok;
    CHECK_EQ(weft_group_spawn_ex(g, kid_fn, &ok, &o, &hok), 0);
    CHECK_EQ(ok.exited, 1);
    check_result(hok, 0, 5);
    /* Suspends: runs up to its sleep inside the spawn. */
    kid susp = {.delay = 0.002, .ret = 6};
    weft_task *hs;
    CHECK_EQ(weft_group_spawn_ex(g, kid_fn, &susp, &o, &hs), 0);
    CHECK_EQ(susp.started, 1);
    CHECK_EQ(susp.exited, 0);
    CHECK_EQ(weft_sleep(0.01), 0); /* nothing failed yet */
    CHECK_EQ(susp.exited, 1);
    /* A running sibling, then an eager child that fails inside the spawn:
     * the group is failed when the spawn returns. */
    kid run = forever();
    weft_task *hr;
    REQUIRE(weft_group_spawn(g, kid_fn, &run, &hr) == 0);
    CHECK_YIELD_UNTIL(run.started);
    kid bad = {.delay = NOSLEEP, .fail = -EIO, .msg = "eager boom"};
    weft_task *hb;
    CHECK_EQ(weft_group_spawn_ex(g, kid_fn, &bad, &o, &hb), 0);
    CHECK_EQ(bad.exited, 1);
    CHECK_EQ(weft_task_result(hb, NULL), -EIO);
    CHECK_EQ(weft_yield(), -ECANCELED); /* the body is cancelled */
    CHECK_EQ(weft_group_wait(g), -EIO);
    CHECK(check_streq(weft_errmsg(), "eager boom"));
    CHECK_EQ(run.rc, -ECANCELED);
    CHECK_EQ(run.exited, 1);
    check_result(hs, 0, 6);
    CHECK_EQ(weft_group_failures(g), 1);
    int code = 0;
    const char *msg = NULL;
    CHECK_EQ(weft_group_failure(g, 0, &code, &msg, NULL), 0);
    CHECK_EQ(code, -EIO);
    CHECK(check_streq(msg, "eager boom"));
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* An eager child that spawns into its own group while it runs inside
 * the spawn: the group must account for both (with 15 children before
 * and one spawned by the eager child, the group's first block of 16 is
 * full when the spawn of the eager child records it). */
typedef struct es_ctx {
    weft_group *g;
    int n; /* children the eager one spawns (at most 3) */
    kid x[3];
    weft_task *hx[3];
    int spawn_rc[3];
} es_ctx;

static void *eager_spawner(void *arg)
{
    es_ctx *c = arg;
    for (int i = 0; i < c->n; i++) {
        c->x[i] = (kid){.delay = 0.002, .ret = 70 + i};
        c->spawn_rc[i] = weft_group_spawn(c->g, kid_fn, &c->x[i], &c->hx[i]);
    }
    CHECK_EQ(weft_sleep(0.003), 0);
    return I2P(60);
}

static void *case_eager_spawns_into_group(void *arg)
{
    int before = (int)(P2I(arg) / 10), n = (int)(P2I(arg) % 10);
    enum { MAXB = 40 };
    kid k[MAXB + 8];
    weft_task *h[MAXB + 8];
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    for (int i = 0; i < before; i++) {
        k[i] = (kid){.delay = 0.002, .ret = i};
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], &h[i]) == 0);
    }
    es_ctx c = {.g = g, .n = n};
    weft_spawn_opts o = {.flags = WEFT_SPAWN_EAGER};
    weft_task *he;
    CHECK_EQ(weft_group_spawn_ex(g, eager_spawner, &c, &o, &he), 0);
    for (int i = before; i < before + 8; i++) {
        k[i] = (kid){.delay = 0.001, .ret = i};
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], &h[i]) == 0);
    }
    CHECK_EQ(weft_group_wait(g), 0);
    for (int i = 0; i < before + 8; i++) {
        CHECK_EQ(k[i].exited, 1);
        check_result(h[i], 0, i);
    }
    for (int i = 0; i < n; i++) {
        CHECK_EQ(c.spawn_rc[i], 0);
        CHECK_EQ(c.x[i].exited, 1);
        check_result(c.hx[i], 0, 70 + i);
    }
    check_result(he, 0, 60);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* ---- misuse ---- */

typedef struct mis_ctx {
    weft_group *g;
    int wait_rc, free_rc;
} mis_ctx;

static void *non_owner_kid(void *arg)
{
    mis_ctx *c = arg;
    c->wait_rc = weft_group_wait(c->g);
    c->free_rc = weft_group_free(c->g);
    return NULL;
}

static void *case_misuse(void *arg)
{
    (void)arg;
    kid dummy = {.delay = NOSLEEP};
    CHECK_EQ(weft_group_new(NULL), -EINVAL);
    CHECK_EQ(weft_group_spawn(NULL, kid_fn, &dummy, NULL), -EINVAL);
    CHECK_EQ(weft_group_spawn_ex(NULL, kid_fn, &dummy, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_group_wait(NULL), -EINVAL);
    CHECK_EQ(weft_group_cancel(NULL), -EINVAL);
    CHECK_EQ(weft_group_failures(NULL), -EINVAL);
    CHECK_EQ(weft_group_failure(NULL, 0, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_group_free(NULL), -EINVAL);

    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    CHECK_EQ(weft_group_spawn(g, NULL, NULL, NULL), -EINVAL);
    weft_spawn_opts bad_opts = {.flags = 0x80};
    CHECK_EQ(weft_group_spawn_ex(g, kid_fn, &dummy, &bad_opts, NULL), -EINVAL);
    CHECK_EQ(dummy.started, 0);

    weft_event gate = WEFT_EVENT_INIT;
    kid k = {.gate = &gate, .ret = 4};
    weft_task *h;
    REQUIRE(weft_group_spawn(g, kid_fn, &k, &h) == 0);
    /* A borrowed handle is never awaited or detached. */
    CHECK_EQ(weft_await(h, NULL), -EINVAL);
    CHECK_EQ(weft_task_detach(h), -EINVAL);
    CHECK_EQ(weft_wait_for(h, 1.0, NULL), -EINVAL);
    /* Free before the wait: nothing happens. */
    CHECK_EQ(weft_group_free(g), -EBUSY);
    /* Wait from a non-owner. */
    mis_ctx c = {.g = g, .wait_rc = 1, .free_rc = 1};
    weft_task *no;
    REQUIRE(weft_spawn(non_owner_kid, &c, &no) == 0);
    CHECK_EQ(weft_await(no, NULL), 0);
    CHECK_EQ(c.wait_rc, -EPERM);
    CHECK_EQ(c.free_rc, -EBUSY);
    /* Wait with a scope of the body open: -EBUSY, nothing changes. */
    weft_scope *sc;
    REQUIRE(weft_scope_open(INFINITY, &sc) == 0);
    CHECK_EQ(weft_group_wait(g), -EBUSY);
    CHECK_EQ(weft_task_done(h), 0); /* the child still runs, uncancelled */
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_scope_close(sc), 0);
    /* With a shield open: the same. */
    REQUIRE(weft_shield_begin() == 0);
    CHECK_EQ(weft_group_wait(g), -EBUSY);
    CHECK_EQ(weft_shield_end(), 0);
    CHECK_EQ(weft_task_done(h), 0);
    /* The later wait works. */
    CHECK_EQ(weft_event_set(&gate), 0);
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(k.rc, 0);
    check_result(h, 0, 4);
    /* Borrowed even after the wait. */
    CHECK_EQ(weft_await(h, NULL), -EINVAL);
    CHECK_EQ(weft_task_detach(h), -EINVAL);
    /* Wait twice; spawn and cancel after the wait. */
    CHECK_EQ(weft_group_wait(g), -EINVAL);
    kid after = {.delay = NOSLEEP};
    CHECK_EQ(weft_group_spawn(g, kid_fn, &after, NULL), -EINVAL);
    CHECK_EQ(weft_group_cancel(g), -EINVAL);
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(after.started, 0);
    CHECK_EQ(weft_group_failures(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* ---- the owner returns without waiting ---- */

typedef struct leave_ctx {
    kid k;
    ticker tk;
    kid bad;
    bool with_failure;
} leave_ctx;

static void *leaving_owner(void *arg)
{
    leave_ctx *c = arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    c->k = forever();
    REQUIRE(weft_group_spawn(g, kid_fn, &c->k, NULL) == 0);
    REQUIRE(weft_group_spawn(g, ticker_fn, &c->tk, NULL) == 0);
    if (c->with_failure) {
        c->bad =
            (kid){.delay = 0.002, .fail = -EIO, .msg = "lost child failure"};
        REQUIRE(weft_group_spawn(g, kid_fn, &c->bad, NULL) == 0);
        CHECK_EQ(weft_sleep(5.0), -ECANCELED);
    } else {
        CHECK_EQ(weft_sleep(0.005), 0);
        CHECK(c->tk.ticks > 0);
    }
    return I2P(1); /* without weft_group_wait */
}

static void *case_owner_returns(void *arg)
{
    leave_ctx *c = arg;
    weft_task *t;
    REQUIRE(weft_spawn(leaving_owner, c, &t) == 0);
    CHECK_SLEEP_UNTIL(weft_task_done(t) == 1);
    /* The children were cancelled and joined as it returned. */
    CHECK_EQ(c->k.exited, 1);
    CHECK_EQ(c->k.rc, -ECANCELED);
    CHECK_EQ(c->tk.exited, 1);
    CHECK_EQ(c->tk.rc, -ECANCELED);
    const char *m = weft_task_message(t);
    CHECK(m && strstr(m, "task group"));
    if (m && !strstr(m, "task group"))
        fprintf(stderr, "  owner's message: \"%s\"\n", m);
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), -EINVAL);
    CHECK_EQ(P2I(r), 1);
    CHECK(weft_errmsg() && strstr(weft_errmsg(), "task group"));
    /* Nothing of theirs runs afterwards. */
    int ticks = c->tk.ticks;
    CHECK_EQ(weft_sleep(0.01), 0);
    CHECK_EQ(c->tk.ticks, ticks);
    return NULL;
}

/* ---- a child spawns into the group while it is being drained ---- */

/* The owner returns without waiting; a child, woken cancelled by that,
 * spawns a helper into the group: the helper is born cancelled (never
 * runs), so the owner is not held up by it. */
typedef struct drain_ctx {
    weft_group *g;
    kid helper;
    int woken_rc, spawn_rc;
} drain_ctx;

static void *drain_spawner(void *arg)
{
    drain_ctx *c = arg;
    c->woken_rc = weft_sleep(INFINITY);
    c->spawn_rc = weft_group_spawn(c->g, kid_fn, &c->helper, NULL);
    return NULL;
}

static void *drain_owner(void *arg)
{
    drain_ctx *c = arg;
    REQUIRE(weft_group_new(&c->g) == 0);
    REQUIRE(weft_group_spawn(c->g, drain_spawner, c, NULL) == 0);
    CHECK_EQ(weft_sleep(0.002), 0);
    return I2P(1); /* without weft_group_wait */
}

static void *case_spawn_during_drain(void *arg)
{
    (void)arg;
    /* The helper would sleep 1 s, unless cancelled. */
    drain_ctx c = {.helper = {.delay = 1.0, .cleanup = true},
                   .woken_rc = 1,
                   .spawn_rc = 1};
    weft_task *t;
    REQUIRE(weft_spawn(drain_owner, &c, &t) == 0);
    double t0 = weft_now();
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), -EINVAL);
    double took = weft_now() - t0;
    CHECK_EQ(P2I(r), 1);
    CHECK(weft_errmsg() && strstr(weft_errmsg(), "task group"));
    CHECK_EQ(c.woken_rc, -ECANCELED);
    CHECK_EQ(c.spawn_rc, 0);
    CHECK_EQ(c.helper.started, 0);
    CHECK(took < 0.5);
    if (took >= 0.5)
        fprintf(stderr, "  the owner took %.3f s\n", took);
    CHECK_EQ(weft_sleep(0.005), 0);
    CHECK_EQ(c.helper.started, 0); /* nor afterwards */
    return NULL;
}

/* ---- at most 255 task groups and sets open in one task ---- */

#define OPEN_SETS 255

typedef struct many_sets {
    kid k[OPEN_SETS];
    bool group; /* the one too many is a group (else a set) */
    int opened;
    int rc; /* what creating the one too many returned */
} many_sets;

/* Opens OPEN_SETS task sets, a member in each, then one set or group
 * more (-EOVERFLOW), and returns with the sets open. */
static void *many_sets_owner(void *arg)
{
    many_sets *c = arg;
    for (int i = 0; i < OPEN_SETS; i++) {
        weft_taskset *s;
        int rc = weft_taskset_new(&s);
        CHECK_EQ(rc, 0);
        if (rc)
            return NULL;
        c->k[i] = forever();
        weft_task *t;
        REQUIRE(weft_spawn(kid_fn, &c->k[i], &t) == 0);
        REQUIRE(weft_taskset_add(s, t) == 0);
        c->opened++;
    }
    if (c->group) {
        weft_group *g = NULL;
        c->rc = weft_group_new(&g);
        CHECK(g == NULL);
    } else {
        weft_taskset *s = NULL;
        c->rc = weft_taskset_new(&s);
        CHECK(s == NULL);
    }
    CHECK_EQ(weft_sleep(0.002), 0);
    return I2P(1); /* the sets still open */
}

/* arg 0: a 256th set; 1: a group after 255 sets. */
static void *case_too_many_sets(void *arg)
{
    static many_sets c;
    memset(&c, 0, sizeof c);
    c.group = P2I(arg) != 0;
    c.rc = 1;
    weft_task *t;
    REQUIRE(weft_spawn(many_sets_owner, &c, &t) == 0);
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), -EINVAL);
    CHECK_EQ(P2I(r), 1);
    CHECK_EQ(c.opened, OPEN_SETS);
    CHECK_EQ(c.rc, -EOVERFLOW);
    /* Every member was cancelled and joined as the owner returned. */
    int started = 0, exited = 0, cancelled = 0;
    for (int i = 0; i < OPEN_SETS; i++) {
        started += c.k[i].started;
        exited += c.k[i].exited;
        cancelled += c.k[i].rc == -ECANCELED;
    }
    CHECK_EQ(started, OPEN_SETS);
    CHECK_EQ(exited, OPEN_SETS);
    CHECK_EQ(cancelled, OPEN_SETS);
    return NULL;
}

static void child_owner_returns_failure(void *arg)
{
    (void)arg;
    alarm(CHECK_CASE_ALARM);
    check_failures = 0;
    leave_ctx c = {.with_failure = true};
    int rc = weft_run(case_owner_returns, &c, NULL);
    CHECK_EQ(rc, 0);
    CHECK_EQ(c.bad.exited, 1);
    CHECK_EQ(weft__alloc_live, 0);
    fflush(stderr);
    _exit(check_failures ? 1 : 0);
}

/* ---- no child outlives the wait, with many children ---- */

/* Runs a case in a child process: memory corruption (caught by ASan, or
 * a crash) fails that case and not the whole program. */
typedef struct forked {
    weft_fn fn;
    void *arg;
} forked;

static void forked_case(void *arg)
{
    forked *f = arg;
    alarm(CHECK_CASE_ALARM);
    check_failures = 0;
    int rc = weft_run(f->fn, f->arg, NULL);
    CHECK_EQ(rc, 0);
    CHECK_EQ(weft__alloc_live, 0);
    fflush(stderr);
    _exit(check_failures ? 1 : 0);
}

/* Runs f in a child of its own (a case whose failure is a crash or an
 * exit, or that leaves process-wide state behind). */
static void run_forked(void *arg)
{
    char *out = NULL;
    int st = check_fork(forked_case, arg, &out);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "status %#x, its stderr:\n%s\n", st, out ? out : "");
    free(out);
}

static void *case_many_children(void *arg)
{
    (void)arg;
    enum { NK = 40 };
    static kid k[NK];
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    for (int i = 0; i < NK; i++) {
        if (i == NK / 2)
            k[i] = (kid){.delay = 0.004, .fail = -EPROTO, .msg = "mid"};
        else if (i % 3 == 0)
            k[i] = (kid){.delay = 0.001 * (i % 5), .ret = i};
        else
            k[i] = forever();
        REQUIRE(weft_group_spawn(g, kid_fn, &k[i], NULL) == 0);
    }
    CHECK_EQ(weft_group_wait(g), -EPROTO);
    int exited = 0;
    for (int i = 0; i < NK; i++)
        exited += k[i].exited;
    CHECK_EQ(exited, NK);
    CHECK_EQ(weft_group_failures(g), 1);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* The owner returns without waiting after a child failed: the failure
 * is reported on stderr.  In a child process, to capture it. */
static void owner_returns_failure_reported(void *arg)
{
    (void)arg;
    char *out = NULL;
    int st = check_fork(child_owner_returns_failure, NULL, &out);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && out &&
              strstr(out, "lost child failure");
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "status %#x, its stderr:\n%s\n", st, out ? out : "");
    free(out);
}

/* Outside a task. */
static void outside_a_task(void *arg)
{
    (void)arg;
    weft_group *g = NULL;
    CHECK_EQ(weft_group_new(&g), -EPERM);
    CHECK(g == NULL);
}

static leave_ctx owner_returns_ctx = {.with_failure = false};

/* arg of eager_spawns_into_group: 10 * children before + children the
 * eager one spawns */
static forked fork_eager_spawns_into_group = {case_eager_spawns_into_group,
                                              I2P(3)};
static forked fork_eager_spawns_into_group_16 = {case_eager_spawns_into_group,
                                                 I2P(151)};
static forked fork_too_many_sets_open = {case_too_many_sets, I2P(0)};
static forked fork_too_many_sets_then_group = {case_too_many_sets, I2P(1)};

static const struct check_case_def cases[] = {
    CHECK_PLAIN("new_outside_a_task", outside_a_task, NULL),
    CHECK_TASK("all_succeed", case_all_succeed, NULL),
    CHECK_TASK("one_fails_in_body", case_one_fails, I2P(0)),
    CHECK_TASK("one_fails_in_wait", case_one_fails, I2P(1)),
    CHECK_TASK("same_turn_failures", case_same_turn_failures, NULL),
    CHECK_TASK("owner_cancelled_in_body", case_owner_cancelled, I2P(1)),
    CHECK_TASK("owner_cancelled_in_wait", case_owner_cancelled, I2P(0)),
    CHECK_TASK("fail_and_owner_cancel", case_fail_and_owner_cancel, NULL),
    CHECK_TASK("timeout_around_group", case_timeout_around, I2P(0)),
    CHECK_TASK("timeout_around_group_body", case_timeout_around, I2P(1)),
    CHECK_TASK("timeout_inside_body", case_timeout_inside, NULL),
    CHECK_TASK("group_cancel_by_owner", case_group_cancel, I2P(0)),
    CHECK_TASK("group_cancel_by_child", case_group_cancel, I2P(1)),
    CHECK_TASK("cancel_one_child", case_cancel_one_child, NULL),
    CHECK_TASK("spawn_into_cancelled", case_spawn_into_cancelled, I2P(0)),
    CHECK_TASK("spawn_into_failed", case_spawn_into_cancelled, I2P(1)),
    CHECK_TASK("eager_into_cancelled", case_eager_into_cancelled, NULL),
    CHECK_TASK("spawn_from_child", case_spawn_from_child, NULL),
    CHECK_TASK("nested", case_nested, NULL),
    CHECK_TASK("eager", case_eager, NULL),
    CHECK_PLAIN("eager_spawns_into_group", run_forked,
                &fork_eager_spawns_into_group),
    CHECK_PLAIN("eager_spawns_into_group_16", run_forked,
                &fork_eager_spawns_into_group_16),
    CHECK_TASK("misuse", case_misuse, NULL),
    CHECK_TASK("owner_returns", case_owner_returns, &owner_returns_ctx),
    CHECK_TASK("spawn_during_drain", case_spawn_during_drain, NULL),
    CHECK_PLAIN("too_many_sets_open", run_forked, &fork_too_many_sets_open),
    CHECK_PLAIN("too_many_sets_then_group", run_forked,
                &fork_too_many_sets_then_group),
    CHECK_TASK("many_children", case_many_children, NULL),
    CHECK_PLAIN("owner_returns_failure_reported",
                owner_returns_failure_reported, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

/*
 * test_wait.c - weft_wait (asyncio.wait), weft_wait_for (asyncio.wait_for)
 * and the "cancel while awaited" watcher pattern of weft_await, with
 * CPython's test_waitfor.py and asyncio.wait tests as the reference.  It
 * proves:
 * weft_wait
 * - FIRST_COMPLETED returns as soon as one task has finished; the others
 *   still run, and every handle is still owned and awaitable afterwards;
 * - FIRST_ERROR returns at the first failure (-ECANCELED included), or
 *   when all have finished; ALL when all have;
 * - n == 0 returns 0; tasks already finished count at once (no
 *   suspension when that satisfies the mode);
 * - a cancelled caller gets -ECANCELED and the tasks are NOT cancelled; in
 *   an expiring timeout scope it gets -ETIMEDOUT, the tasks keep running;
 * - while it waits, another task's weft_await (or detach) of one of the
 *   handles returns -EBUSY; a handle another task awaits gives -EBUSY;
 * - a repeated handle -> -EBUSY, NULL array or handle, consumed handle,
 *   bad mode -> -EINVAL, the caller itself -> -EDEADLK, outside a task ->
 *   -EPERM; after any error every handle is still awaitable;
 * - a borrowed handle (a detached task's weft_current()) -> -EINVAL, and
 *   the handle consumed by the detach stays consumed;
 * - the caller's array is read at the start only: overwritten by another
 *   task while the caller waits, the claims given back are still right;
 * - out of memory for its state: -ENOMEM, nothing claimed, no leak;
 * weft_wait_for
 * - expiry: -ETIMEDOUT, the task cancelled and joined (its cleanup ran
 *   before wait_for returned), what its body returned still delivered;
 *   also with a timeout of 0;
 * - the task finishing first: its own result and code (and message);
 * - an already finished task with timeout 0 (or negative): its result;
 * - a task that shields itself around a sleep longer than the timeout:
 *   wait_for returns only after it has finished;
 * - the caller cancelled meanwhile: -ECANCELED, the task joined;
 * - NaN: -EINVAL, handle not consumed;
 * watcher pattern
 * - main awaits T; a watcher cancels T (0) while main awaits it, after
 *   querying it (weft_task_done, weft_task_name); main's await returns
 *   -ECANCELED with what T's body returned; a second await of T from
 *   another task, a detach, or a weft_wait on it return -EBUSY.
 *
 * Every case runs under an alarm that names it if it hangs.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* ---- a configurable task ---- */

#define NOSLEEP (-1.0)

typedef struct job {
    double delay;     /* INFINITY: until cancelled; NOSLEEP: never suspends */
    weft_event *gate; /* if set: waits for it instead of sleeping */
    int fail;
    const char *msg;
    intptr_t ret;
    bool cleanup; /* when the sleep failed: a shielded sleep first */
    bool shield;  /* the whole sleep shielded */
    int started, exited, rc;
} job;

static void *job_fn(void *arg)
{
    job *j = arg;
    j->started = 1;
    if (j->shield)
        CHECK_EQ(weft_shield_begin(), 0);
    if (j->gate)
        j->rc = weft_event_wait(j->gate);
    else if (j->delay != NOSLEEP)
        j->rc = weft_sleep(j->delay);
    if (j->shield)
        CHECK_EQ(weft_shield_end(), 0);
    if (j->rc && j->cleanup) {
        CHECK_EQ(weft_shield_begin(), 0);
        CHECK_EQ(weft_sleep(0.002), 0);
        CHECK_EQ(weft_shield_end(), 0);
    }
    j->exited = 1;
    if (j->fail)
        weft_fail(j->fail, "%s", j->msg ? j->msg : "failed");
    return I2P(j->ret);
}

static job forever(intptr_t ret)
{
    return (job){.delay = INFINITY, .cleanup = true, .ret = ret};
}

static weft_task *spawn_job(job *j)
{
    weft_task *t;
    REQUIRE(weft_spawn(job_fn, j, &t) == 0);
    return t;
}

static weft_task *spawn_named(job *j, const char *name)
{
    weft_spawn_opts o = {.name = name};
    weft_task *t;
    REQUIRE(weft_spawn_ex(job_fn, j, &o, &t) == 0);
    return t;
}

static void await_is(weft_task *t, int err, intptr_t val)
{
    void *r = (void *)(intptr_t)0x5a5a;
    CHECK_EQ(weft_await(t, &r), err);
    CHECK_EQ(P2I(r), val);
}

static int marker_ran;

static void *marker(void *arg)
{
    (void)arg;
    marker_ran = 1;
    return NULL;
}

/* ======================================================================
 * weft_wait
 * ====================================================================== */

static void *case_first_completed(void *arg)
{
    (void)arg;
    weft_event gate = WEFT_EVENT_INIT;
    job a = {.gate = &gate, .ret = 1}, b = {.delay = 0.003, .ret = 2},
        c = {.gate = &gate, .ret = 3};
    weft_task *t[3] = {spawn_job(&a), spawn_job(&b), spawn_job(&c)};
    CHECK_EQ(weft_wait(t, 3, WEFT_WAIT_FIRST_COMPLETED), 1);
    CHECK_EQ(weft_task_done(t[0]), 0);
    CHECK_EQ(weft_task_done(t[1]), 1);
    CHECK_EQ(weft_task_done(t[2]), 0);
    /* Again: returns at once, nothing consumed. */
    CHECK_EQ(weft_wait(t, 3, WEFT_WAIT_FIRST_COMPLETED), 1);
    /* Every handle is still owned. */
    CHECK_EQ(weft_event_set(&gate), 0);
    await_is(t[1], 0, 2);
    await_is(t[0], 0, 1);
    await_is(t[2], 0, 3);
    CHECK_EQ(a.rc, 0); /* nobody was cancelled */
    CHECK_EQ(c.rc, 0);
    return NULL;
}

typedef struct canceller_ctx {
    weft_task *victim;
    double after;
    int rc;
} canceller_ctx;

static void *canceller(void *arg)
{
    canceller_ctx *c = arg;
    CHECK_EQ(weft_sleep(c->after), 0);
    c->rc = weft_task_cancel(c->victim);
    return NULL;
}

static void *case_first_error(void *arg)
{
    (void)arg;
    /* 1. A failure. */
    weft_event gate = WEFT_EVENT_INIT;
    job a = {.delay = 0.001, .ret = 1},
        b = {.delay = 0.005, .fail = -EIO, .msg = "b failed", .ret = 2},
        c = {.gate = &gate, .ret = 3};
    weft_task *t[3] = {spawn_job(&a), spawn_job(&b), spawn_job(&c)};
    CHECK_EQ(weft_wait(t, 3, WEFT_WAIT_FIRST_ERROR), 2);
    CHECK_EQ(weft_task_done(t[1]), 1);
    CHECK_EQ(weft_task_done(t[2]), 0);
    await_is(t[1], -EIO, 2);
    CHECK(check_streq(weft_errmsg(), "b failed"));
    await_is(t[0], 0, 1);
    CHECK_EQ(weft_event_set(&gate), 0);
    await_is(t[2], 0, 3);
    CHECK_EQ(c.rc, 0);

    /* 2. A cancellation counts as an error. */
    job d = forever(4), e = forever(5);
    weft_task *u[2] = {spawn_job(&d), spawn_job(&e)};
    canceller_ctx cc = {.victim = u[1], .after = 0.003, .rc = 1};
    weft_task *ct;
    REQUIRE(weft_spawn(canceller, &cc, &ct) == 0);
    CHECK_EQ(weft_wait(u, 2, WEFT_WAIT_FIRST_ERROR), 1);
    CHECK_EQ(cc.rc, 0);
    CHECK_EQ(weft_task_done(u[1]), 1);
    CHECK_EQ(weft_task_done(u[0]), 0); /* still running */
    await_is(u[1], -ECANCELED, 5);
    CHECK_EQ(weft_task_cancel(u[0]), 0);
    await_is(u[0], -ECANCELED, 4);
    CHECK_EQ(weft_await(ct, NULL), 0);

    /* 3. No failure: returns when all have finished. */
    job f = {.delay = 0.002, .ret = 6}, g = {.delay = 0.004, .ret = 7};
    weft_task *v[2] = {spawn_job(&f), spawn_job(&g)};
    CHECK_EQ(weft_wait(v, 2, WEFT_WAIT_FIRST_ERROR), 2);
    CHECK_EQ(f.exited + g.exited, 2);
    await_is(v[0], 0, 6);
    await_is(v[1], 0, 7);
    return NULL;
}

static void *case_all(void *arg)
{
    (void)arg;
    job a = {.delay = 0.004, .ret = 1},
        b = {.delay = 0.001, .fail = -EIO, .ret = 2},
        c = {.delay = NOSLEEP, .ret = 3};
    weft_task *t[3] = {spawn_job(&a), spawn_job(&b), spawn_job(&c)};
    CHECK_EQ(weft_wait(t, 3, WEFT_WAIT_ALL), 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_task_done(t[i]), 1);
    CHECK_EQ(weft_wait(t, 3, WEFT_WAIT_ALL), 3); /* again, at once */
    await_is(t[0], 0, 1);
    await_is(t[1], -EIO, 2);
    await_is(t[2], 0, 3);
    return NULL;
}

static void *case_empty(void *arg)
{
    (void)arg;
    weft_task *none[1] = {NULL};
    marker_ran = 0;
    weft_task *mk;
    REQUIRE(weft_spawn(marker, NULL, &mk) == 0);
    CHECK_EQ(weft_wait(NULL, 0, WEFT_WAIT_ALL), 0);
    CHECK_EQ(weft_wait(none, 0, WEFT_WAIT_FIRST_COMPLETED), 0);
    CHECK_EQ(weft_wait(NULL, 0, WEFT_WAIT_FIRST_ERROR), 0);
    CHECK_EQ(marker_ran, 0);
    CHECK_EQ(weft_await(mk, NULL), 0);
    return NULL;
}

static void *case_already_finished(void *arg)
{
    (void)arg;
    job run = forever(1);
    weft_task *tc, *tf, *tr = spawn_job(&run);
    REQUIRE(weft_task_completed(I2P(2), &tc) == 0);
    REQUIRE(weft_task_failed(-EIO, "pre", &tf) == 0);
    CHECK_YIELD_UNTIL(run.started);
    marker_ran = 0;
    weft_task *mk;
    REQUIRE(weft_spawn(marker, NULL, &mk) == 0);
    weft_task *a[2] = {tr, tc};
    CHECK_EQ(weft_wait(a, 2, WEFT_WAIT_FIRST_COMPLETED), 1);
    weft_task *b[3] = {tr, tc, tf};
    CHECK_EQ(weft_wait(b, 3, WEFT_WAIT_FIRST_ERROR), 2);
    weft_task *c[2] = {tc, tf};
    CHECK_EQ(weft_wait(c, 2, WEFT_WAIT_ALL), 2);
    CHECK_EQ(marker_ran, 0); /* none of them suspended */
    CHECK_EQ(weft_task_done(tr), 0);
    CHECK_EQ(weft_task_cancel(tr), 0);
    await_is(tr, -ECANCELED, 1);
    await_is(tc, 0, 2);
    await_is(tf, -EIO, 0);
    CHECK(check_streq(weft_errmsg(), "pre"));
    CHECK_EQ(weft_await(mk, NULL), 0);
    return NULL;
}

/* The caller of weft_wait is cancelled: the tasks are not. */
typedef struct waiter_ctx {
    weft_task *t[2];
    int mode;
    bool self_cancel;
    int rc;
} waiter_ctx;

static void *waiter(void *arg)
{
    waiter_ctx *w = arg;
    if (w->self_cancel)
        CHECK_EQ(weft_task_cancel(weft_current()), 0);
    w->rc = weft_wait(w->t, 2, w->mode);
    return NULL;
}

static void *case_caller_cancelled(void *arg)
{
    bool pre = P2I(arg) != 0;
    weft_event gate = WEFT_EVENT_INIT;
    job a = forever(1), b = {.gate = &gate, .ret = 2};
    waiter_ctx w = {.mode = WEFT_WAIT_ALL, .self_cancel = pre, .rc = 1};
    w.t[0] = spawn_job(&a);
    w.t[1] = spawn_job(&b);
    weft_task *wt;
    REQUIRE(weft_spawn(waiter, &w, &wt) == 0);
    if (!pre) {
        CHECK_EQ(weft_sleep(0.003), 0);
        CHECK_EQ(w.rc, 1); /* still waiting */
        CHECK_EQ(weft_task_cancel(wt), 0);
    }
    CHECK_EQ(weft_await(wt, NULL), -ECANCELED);
    CHECK_EQ(b.exited, 0); /* did not wait for b */
    CHECK_EQ(w.rc, -ECANCELED);
    /* The tasks were not cancelled. */
    CHECK_EQ(weft_sleep(0.003), 0);
    CHECK_EQ(a.exited, 0);
    CHECK_EQ(weft_task_done(w.t[0]), 0);
    CHECK_EQ(weft_event_set(&gate), 0);
    await_is(w.t[1], 0, 2);
    CHECK_EQ(b.rc, 0);
    CHECK_EQ(weft_task_cancel(w.t[0]), 0);
    await_is(w.t[0], -ECANCELED, 1);
    return NULL;
}

/* The caller's array is read at the start only: another task overwriting
 * it while the caller waits changes nothing (the claims given back are the
 * handles given). */
static void *case_array_read_once(void *arg)
{
    (void)arg;
    job a = forever(1), b = forever(2);
    waiter_ctx w = {.mode = WEFT_WAIT_ALL, .rc = 1};
    weft_task *t[2] = {spawn_job(&a), spawn_job(&b)};
    w.t[0] = t[0];
    w.t[1] = t[1];
    weft_task *wt;
    REQUIRE(weft_spawn(waiter, &w, &wt) == 0);
    CHECK_EQ(weft_sleep(0.003), 0);
    CHECK_EQ(w.rc, 1); /* still waiting */
    w.t[0] = w.t[1] = NULL;
    CHECK_EQ(weft_task_cancel(wt), 0);
    CHECK_EQ(weft_await(wt, NULL), -ECANCELED);
    CHECK_EQ(w.rc, -ECANCELED);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(weft_task_cancel(t[i]), 0);
    await_is(t[0], -ECANCELED, 1);
    await_is(t[1], -ECANCELED, 2);
    return NULL;
}

/* Out of memory for the call's state: -ENOMEM before claiming anything,
 * nothing left allocated (the case checks for leaks). */
static void *case_oom(void *arg)
{
    (void)arg;
    job a = {.delay = 0.001, .ret = 1};
    weft_task *t[1] = {spawn_job(&a)};
    check_alloc_fail_next();
    int rc = weft_wait(t, 1, WEFT_WAIT_ALL);
    CHECK(check_alloc_fail_hit());
    CHECK_EQ(rc, -ENOMEM);
    CHECK_EQ(weft_wait(t, 1, WEFT_WAIT_ALL), 1); /* nothing half-claimed */
    await_is(t[0], 0, 1);
    return NULL;
}

static void *case_timeout_scope(void *arg)
{
    (void)arg;
    weft_event gate = WEFT_EVENT_INIT;
    job a = {.gate = &gate, .ret = 1};
    weft_task *t[1] = {spawn_job(&a)};
    weft_scope *sc;
    double t0 = weft_now();
    REQUIRE(weft_scope_open(0.005, &sc) == 0);
    CHECK_EQ(weft_wait(t, 1, WEFT_WAIT_ALL), -ETIMEDOUT);
    double el = weft_now() - t0;
    CHECK(el >= 0.005);
    CHECK_EQ(weft_wait(t, 1, WEFT_WAIT_ALL), -ETIMEDOUT); /* sticky */
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(weft_task_done(t[0]), 0); /* keeps running */
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(a.exited, 0);
    CHECK_EQ(weft_event_set(&gate), 0);
    await_is(t[0], 0, 1);
    CHECK_EQ(a.rc, 0);
    return NULL;
}

/* While weft_wait waits, other tasks cannot consume the handles.  The
 * tasks waited for wait for gates, opened only once the intruder has
 * looked: no timing decides the outcome. */
typedef struct intruder_ctx {
    weft_task *t;
    weft_event *awaiting; /* set just before it awaits t, if not NULL */
    weft_event *done;     /* set once it has looked, if not NULL */
    int await_rc, detach_rc, wait_rc, done_rc, cancel_rc;
} intruder_ctx;

static void *intruder(void *arg)
{
    intruder_ctx *c = arg;
    CHECK_EQ(weft_sleep(0.002), 0);
    if (c->awaiting)
        CHECK_EQ(weft_event_set(c->awaiting), 0);
    c->await_rc = weft_await(c->t, NULL);
    c->detach_rc = weft_task_detach(c->t);
    weft_task *one[1] = {c->t};
    c->wait_rc = weft_wait(one, 1, WEFT_WAIT_ALL);
    c->done_rc = weft_task_done(c->t);
    if (c->done)
        CHECK_EQ(weft_event_set(c->done), 0);
    return NULL;
}

static void *case_busy_while_waiting(void *arg)
{
    (void)arg;
    weft_event gate_a = WEFT_EVENT_INIT;
    job a = {.gate = &gate_a, .ret = 1};
    weft_task *t[1] = {spawn_job(&a)};
    intruder_ctx ic = {.t = t[0],
                       .done = &gate_a,
                       .await_rc = 1,
                       .detach_rc = 1,
                       .wait_rc = 1,
                       .done_rc = 1};
    weft_task *it;
    REQUIRE(weft_spawn(intruder, &ic, &it) == 0);
    CHECK_EQ(weft_wait(t, 1, WEFT_WAIT_ALL), 1);
    CHECK_EQ(weft_await(it, NULL), 0);
    CHECK_EQ(ic.await_rc, -EBUSY);
    CHECK_EQ(ic.detach_rc, -EBUSY);
    CHECK_EQ(ic.wait_rc, -EBUSY);
    CHECK_EQ(ic.done_rc, 0);
    /* Given back afterwards. */
    await_is(t[0], 0, 1);

    /* A handle another task awaits: -EBUSY. */
    weft_event gate_b = WEFT_EVENT_INIT, awaiting = WEFT_EVENT_INIT;
    job b = {.gate = &gate_b, .ret = 2};
    weft_task *tb = spawn_job(&b);
    intruder_ctx ic2 = {.t = tb, .awaiting = &awaiting};
    weft_task *aw;
    REQUIRE(weft_spawn(intruder, &ic2, &aw) == 0);
    /* The intruder awaits tb and gets it once the gate opens. */
    CHECK_EQ(weft_event_wait(&awaiting), 0);
    weft_task *one[1] = {tb};
    CHECK_EQ(weft_wait(one, 1, WEFT_WAIT_ALL), -EBUSY);
    CHECK_EQ(weft_event_set(&gate_b), 0);
    CHECK_EQ(weft_await(aw, NULL), 0);
    CHECK_EQ(ic2.await_rc, 0);
    return NULL;
}

static void *case_bad_args(void *arg)
{
    (void)arg;
    job a = {.delay = 0.002, .ret = 1}, b = {.delay = 0.002, .ret = 2};
    weft_task *ta = spawn_job(&a), *tb = spawn_job(&b);
    /* A repeated handle. */
    weft_task *rep[3] = {ta, tb, ta};
    CHECK_EQ(weft_wait(rep, 3, WEFT_WAIT_ALL), -EBUSY);
    /* NULL array, NULL handle. */
    CHECK_EQ(weft_wait(NULL, 1, WEFT_WAIT_ALL), -EINVAL);
    weft_task *wn[2] = {ta, NULL};
    CHECK_EQ(weft_wait(wn, 2, WEFT_WAIT_ALL), -EINVAL);
    /* Bad modes. */
    weft_task *ok[2] = {ta, tb};
    CHECK_EQ(weft_wait(ok, 2, 0), -EINVAL);
    CHECK_EQ(weft_wait(ok, 2, 4), -EINVAL);
    CHECK_EQ(weft_wait(ok, 2, -1), -EINVAL);
    /* The caller itself. */
    weft_task *self[2] = {ta, weft_current()};
    CHECK_EQ(weft_wait(self, 2, WEFT_WAIT_ALL), -EDEADLK);
    /* A consumed handle. */
    job c = {.delay = NOSLEEP, .ret = 3};
    weft_task *tc = spawn_job(&c);
    await_is(tc, 0, 3);
    weft_task *used[2] = {ta, tc};
    CHECK_EQ(weft_wait(used, 2, WEFT_WAIT_ALL), -EINVAL);
    /* Nothing was left claimed: the handles work. */
    CHECK_EQ(weft_wait(ok, 2, WEFT_WAIT_ALL), 2);
    await_is(ta, 0, 1);
    await_is(tb, 0, 2);
    return NULL;
}

/* A borrowed handle - a detached task's own, from weft_current() - is not
 * the caller's to wait on: -EINVAL, and the handle the caller gave up by
 * detaching stays consumed (a wait that claimed the borrowed one would
 * hand it back owned).  Both calls run inside a timeout scope: a wait
 * that went ahead ends there instead of hanging. */
typedef struct borrowed {
    weft_event gate;
    weft_task *self;
    int rc, exited;
} borrowed;

static void *borrowed_self(void *arg)
{
    borrowed *b = arg;
    b->self = weft_current();
    b->rc = weft_event_wait(&b->gate);
    b->exited = 1;
    return I2P(7);
}

static void *case_borrowed_handle(void *arg)
{
    (void)arg;
    borrowed b = {.gate = WEFT_EVENT_INIT, .rc = 1};
    weft_task *h;
    REQUIRE(weft_spawn(borrowed_self, &b, &h) == 0);
    CHECK_YIELD_UNTIL(b.self != NULL);
    CHECK_EQ(weft_task_detach(h), 0);
    await_is(h, -EINVAL, 0x5a5a); /* consumed by the detach */
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.05, &sc) == 0);
    weft_task *one[1] = {b.self};
    CHECK_EQ(weft_wait(one, 1, WEFT_WAIT_ALL), -EINVAL);
    CHECK_EQ(weft_wait(one, 1, WEFT_WAIT_FIRST_COMPLETED), -EINVAL);
    await_is(h, -EINVAL, 0x5a5a); /* still consumed */
    CHECK_EQ(weft_scope_close(sc), 0);
    CHECK_EQ(b.exited, 0); /* nothing disturbed the task */
    CHECK_EQ(weft_event_set(&b.gate), 0);
    CHECK_YIELD_UNTIL(b.exited);
    CHECK_EQ(b.rc, 0);
    return NULL;
}

/* ======================================================================
 * weft_wait_for
 * ====================================================================== */

static void *case_wait_for_expires(void *arg)
{
    (void)arg;
    job a = forever(77);
    weft_task *t = spawn_job(&a);
    double t0 = weft_now();
    void *r = NULL;
    CHECK_EQ(weft_wait_for(t, 0.005, &r), -ETIMEDOUT);
    CHECK(weft_now() - t0 >= 0.005);
    CHECK_EQ(a.exited, 1); /* its cleanup ran before wait_for returned */
    CHECK_EQ(a.rc, -ECANCELED);
    CHECK_EQ(P2I(r), 77);
    CHECK_EQ(weft_task_done(t), -EINVAL); /* consumed */
    CHECK_EQ(weft_sleep(0.001), 0);       /* the caller is fine */

    /* For comparison, weft_await in a timeout scope of the caller's. */
    job d = forever(76);
    t = spawn_job(&d);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.005, &sc) == 0);
    r = NULL;
    CHECK_EQ(weft_await(t, &r), -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(d.exited, 1);
    CHECK_EQ(P2I(r), 76);

    /* Timeout 0 on a running task: the same, at once. */
    job b = forever(78);
    t = spawn_job(&b);
    CHECK_YIELD_UNTIL(b.started);
    r = NULL;
    CHECK_EQ(weft_wait_for(t, 0, &r), -ETIMEDOUT);
    CHECK_EQ(b.exited, 1);
    CHECK_EQ(P2I(r), 78);
    /* And negative. */
    job c = forever(79);
    t = spawn_job(&c);
    r = NULL;
    CHECK_EQ(weft_wait_for(t, -1.0, &r), -ETIMEDOUT);
    CHECK_EQ(c.exited, c.started);
    CHECK_EQ(weft_sleep(0.001), 0);
    return NULL;
}

static void *case_wait_for_finishes(void *arg)
{
    (void)arg;
    job a = {.delay = 0.002, .ret = 5};
    void *r = NULL;
    CHECK_EQ(weft_wait_for(spawn_job(&a), 1.0, &r), 0);
    CHECK_EQ(P2I(r), 5);
    job b = {.delay = 0.002, .fail = -EIO, .msg = "wf fail", .ret = 6};
    r = NULL;
    CHECK_EQ(weft_wait_for(spawn_job(&b), 1.0, &r), -EIO);
    CHECK_EQ(P2I(r), 6);
    CHECK(check_streq(weft_errmsg(), "wf fail"));
    job c = {.delay = 0.002, .ret = 7};
    r = NULL;
    CHECK_EQ(weft_wait_for(spawn_job(&c), INFINITY, &r), 0);
    CHECK_EQ(P2I(r), 7);
    CHECK_EQ(weft_sleep(0.002), 0); /* the caller is fine */
    return NULL;
}

static void *case_wait_for_done(void *arg)
{
    (void)arg;
    job a = {.delay = NOSLEEP, .ret = 8};
    weft_task *t = spawn_job(&a);
    CHECK_YIELD_UNTIL(weft_task_done(t) == 1);
    void *r = NULL;
    CHECK_EQ(weft_wait_for(t, 0, &r), 0);
    CHECK_EQ(P2I(r), 8);
    job b = {.delay = NOSLEEP, .fail = -ENOENT, .ret = 9};
    t = spawn_job(&b);
    CHECK_YIELD_UNTIL(weft_task_done(t) == 1);
    r = NULL;
    CHECK_EQ(weft_wait_for(t, -1.0, &r), -ENOENT);
    CHECK_EQ(P2I(r), 9);
    weft_task *tc;
    REQUIRE(weft_task_completed(I2P(10), &tc) == 0);
    r = NULL;
    CHECK_EQ(weft_wait_for(tc, 0, &r), 0);
    CHECK_EQ(P2I(r), 10);
    return NULL;
}

static void *case_wait_for_shielded(void *arg)
{
    (void)arg;
    job a = {.delay = 0.03, .shield = true, .ret = 9};
    weft_task *t = spawn_job(&a);
    double t0 = weft_now();
    void *r = NULL;
    int rc = weft_wait_for(t, 0.005, &r);
    double el = weft_now() - t0;
    CHECK_EQ(a.exited, 1); /* returned only after it finished */
    CHECK(el >= 0.03);
    CHECK_EQ(a.rc, 0); /* its shielded sleep was not interrupted */
    /* It was cancelled (the shield only held the cancellation off). */
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK_EQ(P2I(r), 9);
    return NULL;
}

typedef struct wf_ctx {
    job j;
    int rc;
    int exited_at_return;
    void *r;
} wf_ctx;

static void *wf_caller(void *arg)
{
    wf_ctx *c = arg;
    c->rc = weft_wait_for(spawn_job(&c->j), 10.0, &c->r);
    c->exited_at_return = c->j.exited;
    return NULL;
}

static void *case_wait_for_caller_cancelled(void *arg)
{
    (void)arg;
    wf_ctx c = {.j = forever(11), .rc = 1};
    weft_task *w;
    REQUIRE(weft_spawn(wf_caller, &c, &w) == 0);
    CHECK_EQ(weft_sleep(0.003), 0);
    CHECK_EQ(c.j.started, 1);
    CHECK_EQ(weft_task_cancel(w), 0);
    double t0 = weft_now();
    CHECK_EQ(weft_await(w, NULL), -ECANCELED);
    CHECK(weft_now() - t0 < 1.0);
    CHECK_EQ(c.rc, -ECANCELED);
    CHECK_EQ(c.exited_at_return, 1); /* joined */
    CHECK_EQ(c.j.rc, -ECANCELED);
    CHECK_EQ(P2I(c.r), 11);
    return NULL;
}

static void *case_wait_for_nan(void *arg)
{
    (void)arg;
    job a = {.delay = 0.002, .ret = 12};
    weft_task *t = spawn_job(&a);
    CHECK_EQ(weft_wait_for(t, NAN, NULL), -EINVAL);
    CHECK_EQ(weft_task_done(t), 0); /* not consumed, not cancelled */
    await_is(t, 0, 12);
    CHECK_EQ(a.rc, 0);
    CHECK_EQ(weft_wait_for(NULL, 1.0, NULL), -EINVAL);
    return NULL;
}

/* ======================================================================
 * the watcher pattern
 * ====================================================================== */

typedef struct watch_ctx {
    weft_task *t;
    int done_rc, cancel_rc, cancel_again_rc;
    const char *name;
    char name_copy[32];
    int await_rc, detach_rc, wait_rc;
} watch_ctx;

static void *watcher(void *arg)
{
    watch_ctx *c = arg;
    CHECK_EQ(weft_sleep(0.004), 0);
    c->done_rc = weft_task_done(c->t);
    c->name = weft_task_name(c->t);
    if (c->name)
        snprintf(c->name_copy, sizeof c->name_copy, "%s", c->name);
    c->cancel_rc = weft_task_cancel(c->t);
    c->cancel_again_rc = weft_task_cancel(c->t); /* already requested */
    return NULL;
}

static void *second_awaiter(void *arg)
{
    watch_ctx *c = arg;
    CHECK_EQ(weft_sleep(0.002), 0);
    c->await_rc = weft_await(c->t, NULL);
    c->detach_rc = weft_task_detach(c->t);
    weft_task *one[1] = {c->t};
    c->wait_rc = weft_wait(one, 1, WEFT_WAIT_ALL);
    return NULL;
}

static void *case_watcher(void *arg)
{
    (void)arg;
    job j = forever(42);
    watch_ctx c = {.done_rc = 9,
                   .cancel_rc = 9,
                   .cancel_again_rc = 9,
                   .await_rc = 9,
                   .detach_rc = 9,
                   .wait_rc = 9};
    c.t = spawn_named(&j, "victim");
    weft_task *w, *s;
    REQUIRE(weft_spawn(watcher, &c, &w) == 0);
    REQUIRE(weft_spawn(second_awaiter, &c, &s) == 0);
    void *r = NULL;
    double t0 = weft_now();
    CHECK_EQ(weft_await(c.t, &r), -ECANCELED);
    CHECK(weft_now() - t0 < 1.0);
    CHECK_EQ(P2I(r), 42);
    CHECK_EQ(j.exited, 1);
    CHECK_EQ(j.rc, -ECANCELED);
    CHECK_EQ(c.done_rc, 0);
    CHECK(check_streq(c.name_copy, "victim"));
    CHECK_EQ(c.cancel_rc, 0);
    CHECK_EQ(c.cancel_again_rc, 0);
    CHECK_EQ(weft_await(w, NULL), 0);
    CHECK_EQ(weft_await(s, NULL), 0);
    CHECK_EQ(c.await_rc, -EBUSY);
    CHECK_EQ(c.detach_rc, -EBUSY);
    CHECK_EQ(c.wait_rc, -EBUSY);
    /* The awaiting task itself was not cancelled. */
    CHECK_EQ(weft_sleep(0.001), 0);
    return NULL;
}

int main(void)
{
    check_begin();
    check_case_alarm_install();

    /* Outside a task. */
    CHECK_EQ(weft_wait(NULL, 0, WEFT_WAIT_ALL), -EPERM);

    check_case("wait_first_completed", case_first_completed, NULL, 0);
    check_case("wait_first_error", case_first_error, NULL, 0);
    check_case("wait_all", case_all, NULL, 0);
    check_case("wait_empty", case_empty, NULL, 0);
    check_case("wait_already_finished", case_already_finished, NULL, 0);
    check_case("wait_caller_cancelled", case_caller_cancelled, I2P(0), 0);
    check_case("wait_caller_precancelled", case_caller_cancelled, I2P(1), 0);
    check_case("wait_array_read_once", case_array_read_once, NULL, 0);
    check_case("wait_timeout_scope", case_timeout_scope, NULL, 0);
    check_case("wait_busy_while_waiting", case_busy_while_waiting, NULL, 0);
    check_case("wait_bad_args", case_bad_args, NULL, 0);
    check_run_case(&(struct check_case_def){
        .name = "wait_oom", .task = case_oom, .flags = CHECK_NO_LEAK});
    check_case("wait_borrowed_handle", case_borrowed_handle, NULL, 0);
    check_case("wait_for_expires", case_wait_for_expires, NULL, 0);
    check_case("wait_for_finishes_first", case_wait_for_finishes, NULL, 0);
    check_case("wait_for_already_done", case_wait_for_done, NULL, 0);
    check_case("wait_for_shielded", case_wait_for_shielded, NULL, 0);
    check_case("wait_for_caller_cancelled", case_wait_for_caller_cancelled,
               NULL, 0);
    check_case("wait_for_nan", case_wait_for_nan, NULL, 0);
    check_case("watcher", case_watcher, NULL, 0);

    return check_end();
}

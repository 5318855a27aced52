/*
 * test_cancel.c - sticky cancellation (as in trio).
 *
 * Proves that:
 * - cancelling a task wakes it with -ECANCELED wherever it is suspended:
 *   weft_sleep (finite, INFINITY, a huge finite time), weft_io_wait (with and
 *   without a timeout) and weft_await - where the awaited task is cancelled
 *   too and the awaiter resumes only once that task has finished, cleanup
 *   included;
 * - after cancellation every suspending call returns -ECANCELED at entry,
 *   without suspending, whether or not it would have suspended, and
 *   weft_cancelled() says 1; weft_await in a cancelled task cancels and joins
 *   the awaited task and still delivers its result;
 * - a task cancelled before it started never runs and finishes -ECANCELED;
 * - a cancelled task finishes -ECANCELED whatever it returns (success, or
 *   after weft_fail) and its result is still delivered;
 * - weft_task_cancel returns 0 for a live task (again 0 when repeated), 1 for
 *   a finished one (which keeps its outcome), -EINVAL for a consumed handle;
 * - a task can cancel itself, the main task included;
 * - cancellation runs down chains of awaits (A awaits B awaits C: C, then B,
 *   then A finish), also long ones, and never up: cancelling the middle of a
 *   chain leaves its awaiter uncancelled;
 * - shields: inside weft_shield_begin/end waits ignore cancellation (a sleep
 *   lasts its full time, an fd wait runs to its timeout or readiness, an
 *   await does not pass the cancellation on), scopes nest, and when the
 *   outermost ends the next suspension is -ECANCELED; misuse: end without
 *   begin is -EINVAL, outside a task -EPERM;
 * - a task cancelled in a shielded infinite sleep is not woken, and at
 *   shutdown it is abandoned (reported, never resumed, its memory freed);
 * - cancellation arriving in the loop turn where the task's own wake-up
 *   already happened (same-deadline timers; a yield in the ready queue):
 *   this implementation lets the interrupted call return 0 (the wake-up
 *   stands), and the next suspending call returns -ECANCELED.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Lets the other tasks run until *flag is set (bounded, so that a bug
 * cannot hang the test). */
static void wait_flag(const int *flag)
{
    for (long i = 0; !*flag && i < 1000000; i++)
        weft_yield();
    REQUIRE(*flag);
}

/* ---------------------------------------------------------------------- */
/* Cancelling each kind of wait                                            */
/* ---------------------------------------------------------------------- */

typedef struct {
    double secs;    /* for sleep; for io: the timeout */
    int fd;         /* io only */
    int reached;    /* set just before the wait */
    int rc;         /* what the wait returned */
    int cancelled;  /* weft_cancelled() after it */
    int after;      /* the next suspension's result */
    double elapsed; /* time spent in the wait */
} probe;

static void *sleep_probe(void *arg)
{
    probe *p = arg;
    p->reached = 1;
    double t0 = weft_now();
    p->rc = weft_sleep(p->secs);
    p->elapsed = weft_now() - t0;
    p->cancelled = weft_cancelled();
    p->after = weft_sleep(0);
    return I2P(p->rc);
}

static void *io_probe(void *arg)
{
    probe *p = arg;
    p->reached = 1;
    double t0 = weft_now();
    p->rc = weft_io_wait(p->fd, WEFT_READABLE, p->secs);
    p->elapsed = weft_now() - t0;
    p->cancelled = weft_cancelled();
    p->after = weft_yield();
    return I2P(p->rc);
}

static void cancel_probe(weft_fn fn, probe *p)
{
    weft_task *t;
    REQUIRE(weft_spawn(fn, p, &t) == 0);
    wait_flag(&p->reached);
    CHECK_EQ(weft_task_done(t), 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    void *r = I2P(1);
    CHECK_EQ(weft_await(t, &r), -ECANCELED);
    CHECK_EQ(P2I(r), -ECANCELED); /* the body ran to its end */
    CHECK_EQ(p->rc, -ECANCELED);
    CHECK_EQ(p->cancelled, 1);
    CHECK_EQ(p->after, -ECANCELED);
    if (p->secs > 0 && isfinite(p->secs))
        CHECK(p->elapsed < p->secs); /* woken by the cancellation */
}

static void *main_cancel_waits(void *arg)
{
    (void)arg;
    /* Sleeps: finite, infinite, and finite but beyond any deadline.  (A
     * finite sleep that ran out would return 0, not -ECANCELED.) */
    const double secs[] = {3.0, INFINITY, 1e300};
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        probe p = {.secs = secs[i]};
        cancel_probe(sleep_probe, &p);
    }

    /* weft_io_wait on a pipe nobody writes, without and with a timeout. */
    int pfd[2];
    REQUIRE(pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0);
    /* Ends the wait if cancellation fails to (see check.h). */
    check_watchdog w;
    check_watchdog_start(&w, pfd[1], 10.0);
    const double timeouts[] = {-1.0, INFINITY, 3.0};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        probe p = {.secs = timeouts[i], .fd = pfd[0]};
        cancel_probe(io_probe, &p);
        /* The cancelled wait let go of the fd: it can be waited on again. */
        CHECK_EQ(weft_io_wait(pfd[0], WEFT_READABLE, 0), -ETIMEDOUT);
    }
    /* And no stale timer from the cancelled timed wait: a sleep lasts. */
    double t0 = weft_now();
    CHECK_EQ(weft_sleep(0.02), 0);
    CHECK(weft_now() - t0 >= 0.02);
    check_watchdog_stop(&w);
    close(pfd[0]);
    close(pfd[1]);
    return NULL;
}

/* ---- cancelling a task that waits in weft_await ---- */

typedef struct {
    int reached;
    int child_rc;      /* the child's sleep */
    int cleanup_rc;    /* the child's shielded cleanup sleep */
    int cleanup_done;
    int parent_rc;     /* the parent's await */
    void *parent_r;
    int cleanup_seen;  /* cleanup_done when the parent's await returned */
    int child_ran;
} await_probe;

static void *await_child(void *arg)
{
    await_probe *p = arg;
    p->child_ran = 1;
    p->reached = 1;
    p->child_rc = weft_sleep(INFINITY);
    /* Cleanup that must wait: the awaiter must not resume before it. */
    weft_shield_begin();
    p->cleanup_rc = weft_sleep(0.01);
    weft_shield_end();
    p->cleanup_done = 1;
    return I2P(55);
}

static void *await_parent(void *arg)
{
    await_probe *p = arg;
    weft_task *c;
    REQUIRE(weft_spawn(await_child, p, &c) == 0);
    p->parent_rc = weft_await(c, &p->parent_r);
    p->cleanup_seen = p->cleanup_done;
    return NULL;
}

/* The child is already in a shielded wait when the parent is cancelled. */
static void *await_child_shielded(void *arg)
{
    await_probe *p = arg;
    p->child_ran = 1;
    weft_shield_begin();
    p->reached = 1;
    double t0 = weft_now();
    p->child_rc = weft_sleep(0.02);
    CHECK(weft_now() - t0 >= 0.02);
    weft_shield_end();
    p->cleanup_rc = weft_yield(); /* the cancellation applies again */
    p->cleanup_done = 1;
    return I2P(56);
}

static void *await_parent_shielded(void *arg)
{
    await_probe *p = arg;
    weft_task *c;
    REQUIRE(weft_spawn(await_child_shielded, p, &c) == 0);
    p->parent_rc = weft_await(c, &p->parent_r);
    p->cleanup_seen = p->cleanup_done;
    return NULL;
}

/* The parent awaits a child it spawned that has not started yet. */
static void *await_parent_pending(void *arg)
{
    await_probe *p = arg;
    weft_task *c;
    REQUIRE(weft_spawn(await_child, p, &c) == 0);
    p->reached = 1;
    p->parent_r = I2P(1);
    p->parent_rc = weft_await(c, &p->parent_r);
    return NULL;
}

static void *main_cancel_await(void *arg)
{
    (void)arg;
    await_probe p = {0};
    weft_task *t;
    REQUIRE(weft_spawn(await_parent, &p, &t) == 0);
    wait_flag(&p.reached); /* the child sleeps, the parent awaits it */
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_task_done(t), 0); /* cancel does not wait */
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(p.child_rc, -ECANCELED); /* passed on to the child */
    CHECK_EQ(p.cleanup_rc, 0);
    CHECK_EQ(p.cleanup_done, 1);
    CHECK_EQ(p.cleanup_seen, 1); /* the parent resumed after the cleanup */
    CHECK_EQ(p.parent_rc, -ECANCELED);
    CHECK_EQ(P2I(p.parent_r), 55); /* the child's result still delivered */

    /* The child is in a shielded sleep: it is not woken, it sleeps its full
     * time, and the parent waits for it. */
    await_probe s = {0};
    REQUIRE(weft_spawn(await_parent_shielded, &s, &t) == 0);
    wait_flag(&s.reached);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(s.child_rc, 0);
    CHECK_EQ(s.cleanup_rc, -ECANCELED);
    CHECK_EQ(s.cleanup_seen, 1);
    CHECK_EQ(s.parent_rc, -ECANCELED);
    CHECK_EQ(P2I(s.parent_r), 56);

    /* The awaited child had not started yet: it never runs. */
    await_probe q = {0};
    REQUIRE(weft_spawn(await_parent_pending, &q, &t) == 0);
    wait_flag(&q.reached); /* the parent now waits in weft_await */
    CHECK_EQ(q.child_ran, 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(q.child_ran, 0);
    CHECK_EQ(q.parent_rc, -ECANCELED);
    CHECK(q.parent_r == NULL); /* the body never ran */
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Sticky: after cancellation every suspending call is -ECANCELED at entry */
/* ---------------------------------------------------------------------- */

static long ticks;
static int ticker_stop;

/* Counts the times it gets to run: a call that suspends lets it tick.
 * Bounded, so that a call that wrongly suspends for good ends in a
 * detected deadlock rather than a hang. */
static void *ticker(void *arg)
{
    (void)arg;
    while (!ticker_stop && ticks < 20000000) {
        ticks++;
        weft_yield();
    }
    return NULL;
}

static int grandchild_ran, grandchild_rc, grandchild_cleanup;

static void *grandchild_sleeper(void *arg)
{
    grandchild_ran = 1;
    grandchild_rc = weft_sleep(INFINITY);
    grandchild_cleanup = 1;
    return arg;
}

static void *grandchild_quick(void *arg)
{
    return arg;
}

static void *mark_pending(void *arg)
{
    *(int *)arg = 1;
    return I2P(1);
}

typedef struct {
    int reached;
    int pfd[2];
} sticky_args;

static void *sticky(void *arg)
{
    sticky_args *a = arg;
    a->reached = 1;
    CHECK_EQ(weft_sleep(INFINITY), -ECANCELED);
    CHECK_EQ(weft_cancelled(), 1);

    long t0 = ticks;
    CHECK_EQ(weft_sleep(0), -ECANCELED);
    CHECK_EQ(weft_yield(), -ECANCELED);
    CHECK_EQ(weft_sleep(-1.0), -ECANCELED);
    CHECK_EQ(weft_sleep(1.0), -ECANCELED);
    CHECK_EQ(weft_sleep(INFINITY), -ECANCELED);
    /* Not ready, and ready at once: both refused at entry. */
    CHECK_EQ(weft_io_wait(a->pfd[0], WEFT_READABLE, -1), -ECANCELED);
    CHECK_EQ(weft_io_wait(a->pfd[0], WEFT_READABLE, 0), -ECANCELED);
    CHECK_EQ(weft_io_wait(a->pfd[1], WEFT_WRITABLE, -1), -ECANCELED);
    CHECK_EQ(weft_io_wait(a->pfd[1], WEFT_WRITABLE, 0), -ECANCELED);
    CHECK_EQ(ticks, t0); /* none of them suspended */
    CHECK_EQ(weft_cancelled(), 1);

    /* weft_await of a running child: cancels it, joins it, fills *result. */
    weft_spawn_opts eager = {.flags = WEFT_SPAWN_EAGER};
    weft_task *g;
    REQUIRE(weft_spawn_ex(grandchild_sleeper, I2P(77), &eager, &g) == 0);
    CHECK_EQ(grandchild_ran, 1); /* sleeping now */
    CHECK_EQ(weft_task_done(g), 0);
    void *r = NULL;
    CHECK_EQ(weft_await(g, &r), -ECANCELED);
    CHECK_EQ(P2I(r), 77);
    CHECK_EQ(grandchild_rc, -ECANCELED);
    CHECK_EQ(grandchild_cleanup, 1);

    /* ... of a child that already succeeded: still -ECANCELED, result
     * filled. */
    REQUIRE(weft_spawn_ex(grandchild_quick, I2P(5), &eager, &g) == 0);
    CHECK_EQ(weft_task_done(g), 1);
    r = NULL;
    CHECK_EQ(weft_await(g, &r), -ECANCELED);
    CHECK_EQ(P2I(r), 5);

    /* ... of a child that has not started: it never runs. */
    int ran = 0;
    REQUIRE(weft_spawn(mark_pending, &ran, &g) == 0);
    r = I2P(1);
    CHECK_EQ(weft_await(g, &r), -ECANCELED);
    CHECK(r == NULL);
    CHECK_EQ(ran, 0);

    CHECK_EQ(weft_cancelled(), 1); /* still, until the end */
    CHECK_EQ(weft_yield(), -ECANCELED);
    return I2P(9);
}

static void *main_sticky(void *arg)
{
    (void)arg;
    sticky_args a = {0};
    REQUIRE(pipe2(a.pfd, O_CLOEXEC | O_NONBLOCK) == 0);
    /* Ends the wait if cancellation fails to (see check.h). */
    check_watchdog w;
    check_watchdog_start(&w, a.pfd[1], 10.0);
    weft_task *tk, *t;
    REQUIRE(weft_spawn(ticker, NULL, &tk) == 0);
    REQUIRE(weft_spawn(sticky, &a, &t) == 0);
    wait_flag(&a.reached);
    CHECK_EQ(weft_cancelled(), 0); /* the canceller is not cancelled */
    CHECK_EQ(weft_task_cancel(t), 0);
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), -ECANCELED);
    CHECK_EQ(P2I(r), 9);
    ticker_stop = 1;
    CHECK_EQ(weft_await(tk, NULL), 0);
    check_watchdog_stop(&w);
    close(a.pfd[0]);
    close(a.pfd[1]);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Cancelled before starting; outcome whatever the body returns            */
/* ---------------------------------------------------------------------- */

static int body_runs;

static void *count_runs(void *arg)
{
    body_runs++;
    return arg;
}

static void *main_before_start(void *arg)
{
    (void)arg;
    /* A plain task (no record yet). */
    weft_task *t;
    REQUIRE(weft_spawn(count_runs, I2P(3), &t) == 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_task_cancel(t), 0); /* repeated: still 0 */
    void *r = I2P(1);
    CHECK_EQ(weft_await(t, &r), -ECANCELED);
    CHECK(r == NULL); /* the body never ran */

    /* A named task with its own stack size (it has a record early). */
    weft_spawn_opts o = {.name = "never", .stack_size = WEFT_STACK_MIN};
    REQUIRE(weft_spawn_ex(count_runs, I2P(4), &o, &t) == 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    for (int i = 0; i < 10 && weft_task_done(t) == 0; i++)
        weft_yield(); /* its turn comes and goes */
    CHECK_EQ(weft_task_done(t), 1);
    r = I2P(1);
    CHECK_EQ(weft_task_result(t, &r), -ECANCELED);
    CHECK(r == NULL);
    CHECK_EQ(weft_task_cancel(t), 1); /* finished now */
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);

    /* Cancelled, then detached: still never runs. */
    REQUIRE(weft_spawn(count_runs, NULL, &t) == 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_task_detach(t), 0);
    for (int i = 0; i < 10; i++)
        weft_yield();

    /* Many at once, every other one cancelled. */
    enum { N = 64 };
    weft_task *ts[N];
    for (int i = 0; i < N; i++)
        REQUIRE(weft_spawn(count_runs, I2P(i), &ts[i]) == 0);
    for (int i = 0; i < N; i += 2)
        CHECK_EQ(weft_task_cancel(ts[i]), 0);
    for (int i = 0; i < N; i++) {
        r = I2P(-1);
        int rc = weft_await(ts[i], &r);
        if (i % 2 == 0) {
            CHECK_EQ(rc, -ECANCELED);
            CHECK(r == NULL);
        } else {
            CHECK_EQ(rc, 0);
            CHECK_EQ(P2I(r), i);
        }
    }
    CHECK_EQ(body_runs, N / 2);
    return NULL;
}

static int outcome_reached;

static void *returns_zero(void *arg)
{
    (void)arg;
    outcome_reached++;
    weft_sleep(INFINITY);
    return NULL; /* success, as far as the body is concerned */
}

static void *returns_value(void *arg)
{
    outcome_reached++;
    weft_sleep(INFINITY);
    return arg;
}

static void *fails_after(void *arg)
{
    outcome_reached++;
    weft_sleep(INFINITY);
    return (weft_fail(-EIO, "disk gone"), arg);
}

static void *fails_before(void *arg)
{
    weft_fail(-EIO, "early");
    outcome_reached++;
    weft_sleep(INFINITY);
    return arg;
}

static void *main_outcome(void *arg)
{
    (void)arg;
    struct {
        weft_fn fn;
        intptr_t arg;
    } cases[] = {
        {returns_zero, 0},
        {returns_value, 31},
        {fails_after, 32},
        {fails_before, 33},
    };
    enum { NC = sizeof cases / sizeof cases[0] };
    weft_task *t[NC];
    for (int i = 0; i < NC; i++)
        REQUIRE(weft_spawn(cases[i].fn, I2P(cases[i].arg), &t[i]) == 0);
    for (long i = 0; outcome_reached < NC && i < 1000000; i++)
        weft_yield(); /* every one is sleeping */
    REQUIRE(outcome_reached == NC);
    for (int i = 0; i < NC; i++)
        CHECK_EQ(weft_task_cancel(t[i]), 0);
    for (int i = 0; i < NC; i++) {
        for (long k = 0; weft_task_done(t[i]) == 0 && k < 1000000; k++)
            weft_yield();
        void *r = I2P(-1);
        CHECK_EQ(weft_task_result(t[i], &r), -ECANCELED);
        CHECK_EQ(P2I(r), cases[i].arg);
        r = I2P(-1);
        CHECK_EQ(weft_await(t[i], &r), -ECANCELED);
        CHECK_EQ(P2I(r), cases[i].arg);
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* weft_task_cancel's return values; cancelling oneself                    */
/* ---------------------------------------------------------------------- */

static void *quick(void *arg)
{
    return arg;
}

static void *self_cancel(void *arg)
{
    CHECK_EQ(weft_cancelled(), 0);
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    CHECK_EQ(weft_cancelled(), 1);
    CHECK_EQ(weft_task_cancel(weft_current()), 0); /* again: still 0 */
    CHECK_EQ(weft_sleep(0.001), -ECANCELED);
    CHECK_EQ(weft_yield(), -ECANCELED);
    return arg;
}

static void *self_cancel_no_wait(void *arg)
{
    /* Cancelled, and never suspends again: still finishes -ECANCELED. */
    weft_task_cancel(weft_current());
    return arg;
}

static void *main_cancel_rc(void *arg)
{
    (void)arg;
    /* Live (sleeping): 0, and 0 again. */
    probe p = {.secs = INFINITY};
    weft_task *t;
    REQUIRE(weft_spawn(sleep_probe, &p, &t) == 0);
    wait_flag(&p.reached);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(weft_task_cancel(t), -EINVAL); /* consumed */
    CHECK_EQ(weft_task_cancel(NULL), -EINVAL);

    /* Finished: 1, and nothing changes. */
    REQUIRE(weft_spawn(quick, I2P(8), &t) == 0);
    for (int i = 0; i < 10 && weft_task_done(t) == 0; i++)
        weft_yield();
    CHECK_EQ(weft_task_done(t), 1);
    CHECK_EQ(weft_task_cancel(t), 1);
    CHECK_EQ(weft_task_cancel(t), 1);
    void *r = NULL;
    CHECK_EQ(weft_task_result(t, &r), 0);
    CHECK_EQ(P2I(r), 8);
    r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 8);

    /* A task cancels itself. */
    REQUIRE(weft_spawn(self_cancel, I2P(12), &t) == 0);
    r = NULL;
    CHECK_EQ(weft_await(t, &r), -ECANCELED);
    CHECK_EQ(P2I(r), 12);
    REQUIRE(weft_spawn(self_cancel_no_wait, I2P(13), &t) == 0);
    r = NULL;
    CHECK_EQ(weft_await(t, &r), -ECANCELED);
    CHECK_EQ(P2I(r), 13);
    return NULL;
}

static void *main_cancels_itself(void *arg)
{
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    CHECK_EQ(weft_sleep(0), -ECANCELED);
    return arg;
}

/* ---------------------------------------------------------------------- */
/* Chains of awaits                                                        */
/* ---------------------------------------------------------------------- */

static char chain_order[8];
static int chain_len, chain_c_reached, chain_c_rc;
static int chain_rc[3];
static weft_task *chain_b_handle; /* B's borrowed handle */

static void *chain_c(void *arg)
{
    (void)arg;
    chain_c_reached = 1;
    chain_c_rc = weft_sleep(INFINITY);
    chain_order[chain_len++] = 'C';
    return I2P(chain_c_rc);
}

static void *chain_b(void *arg)
{
    (void)arg;
    chain_b_handle = weft_current();
    weft_task *c;
    REQUIRE(weft_spawn(chain_c, NULL, &c) == 0);
    void *r = NULL;
    chain_rc[1] = weft_await(c, &r);
    CHECK_EQ(P2I(r), -ECANCELED);
    chain_order[chain_len++] = 'B';
    return NULL;
}

static void *chain_a(void *arg)
{
    (void)arg;
    weft_task *b;
    REQUIRE(weft_spawn(chain_b, NULL, &b) == 0);
    chain_rc[0] = weft_await(b, NULL);
    chain_order[chain_len++] = 'A';
    /* Not cancelled itself unless cancelled directly. */
    chain_rc[2] = weft_sleep(0.001);
    return NULL;
}

static void chain_reset(void)
{
    memset(chain_order, 0, sizeof chain_order);
    chain_len = chain_c_reached = 0;
    chain_c_rc = 1;
    chain_rc[0] = chain_rc[1] = chain_rc[2] = 1;
    chain_b_handle = NULL;
}

/* Long chains: level d awaits level d+1; the last sleeps forever. */
static long deep_n, deep_done;
static long *deep_finish; /* finishing position of each level */
static int deep_reached;

static void *deep_level(void *arg)
{
    long d = (long)P2I(arg);
    int rc;
    if (d + 1 < deep_n) {
        weft_spawn_opts o = {.stack_size = WEFT_STACK_MIN};
        weft_task *t;
        REQUIRE(weft_spawn_ex(deep_level, I2P(d + 1), &o, &t) == 0);
        rc = weft_await(t, NULL);
    } else {
        deep_reached = 1;
        rc = weft_sleep(INFINITY);
    }
    CHECK_EQ(rc, -ECANCELED);
    deep_finish[d] = deep_done++;
    return NULL;
}

static void *main_chains(void *arg)
{
    (void)arg;
    /* Cancel the top: C's sleep is interrupted; C, B, A finish in order. */
    chain_reset();
    weft_task *a;
    REQUIRE(weft_spawn(chain_a, NULL, &a) == 0);
    wait_flag(&chain_c_reached);
    CHECK_EQ(weft_task_cancel(a), 0);
    CHECK_EQ(weft_await(a, NULL), -ECANCELED);
    CHECK_EQ(chain_c_rc, -ECANCELED);
    CHECK_EQ(chain_rc[1], -ECANCELED);
    CHECK_EQ(chain_rc[0], -ECANCELED);
    CHECK_EQ(chain_rc[2], -ECANCELED); /* A was cancelled */
    CHECK(strcmp(chain_order, "CBA") == 0);

    /* Cancel the middle: B and C end; A gets B's -ECANCELED as B's outcome
     * but is not cancelled itself. */
    chain_reset();
    REQUIRE(weft_spawn(chain_a, NULL, &a) == 0);
    wait_flag(&chain_c_reached);
    REQUIRE(chain_b_handle != NULL);
    CHECK_EQ(weft_task_cancel(chain_b_handle), 0); /* a borrowed handle */
    CHECK_EQ(weft_await(a, NULL), 0);
    CHECK_EQ(chain_c_rc, -ECANCELED);
    CHECK_EQ(chain_rc[1], -ECANCELED);
    CHECK_EQ(chain_rc[0], -ECANCELED);
    CHECK_EQ(chain_rc[2], 0);
    CHECK(strcmp(chain_order, "CBA") == 0);

    /* A long chain, cancelled at the top, unwinds bottom first. */
    deep_n = check_scaled(300);
    deep_finish = calloc((size_t)deep_n, sizeof *deep_finish);
    REQUIRE(deep_finish);
    deep_done = 0;
    deep_reached = 0;
    weft_spawn_opts o = {.stack_size = WEFT_STACK_MIN};
    weft_task *top;
    REQUIRE(weft_spawn_ex(deep_level, I2P(0), &o, &top) == 0);
    wait_flag(&deep_reached);
    CHECK_EQ(weft_task_cancel(top), 0);
    CHECK_EQ(weft_await(top, NULL), -ECANCELED);
    CHECK_EQ(deep_done, deep_n);
    for (long d = 0; d < deep_n; d++)
        if (deep_finish[d] != deep_n - 1 - d) {
            CHECK_EQ(deep_finish[d], deep_n - 1 - d);
            break;
        }
    free(deep_finish);
    deep_finish = NULL;
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Shields                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct {
    int reached;
    int pfd[2];
    int sleep_rc, cancelled_inside, yield_rc, end_rc, after_rc, after2_rc;
    int io_rc, io_ready_rc, io_after_rc;
    double elapsed, io_elapsed;
} shield_probe;

static void *shielded_sleeper(void *arg)
{
    shield_probe *p = arg;
    CHECK_EQ(weft_shield_begin(), 0);
    p->reached = 1;
    double t0 = weft_now();
    p->sleep_rc = weft_sleep(0.03);
    p->elapsed = weft_now() - t0;
    p->cancelled_inside = weft_cancelled();
    p->yield_rc = weft_yield();
    t0 = weft_now();
    p->io_rc = weft_io_wait(p->pfd[0], WEFT_READABLE, 0.01);
    p->io_elapsed = weft_now() - t0;
    p->io_ready_rc = weft_io_wait(p->pfd[1], WEFT_WRITABLE, -1);
    p->end_rc = weft_shield_end();
    p->after_rc = weft_sleep(0);
    p->after2_rc = weft_sleep(1.0);
    p->io_after_rc = weft_io_wait(p->pfd[1], WEFT_WRITABLE, -1);
    return NULL;
}

static int inner_cancelled = -1, inner_ran;

static void *inner_child(void *arg)
{
    inner_ran = 1;
    CHECK_EQ(weft_sleep(0.02), 0);
    inner_cancelled = weft_cancelled();
    return arg;
}

typedef struct {
    int reached;
    int cancel_first; /* cancel itself before opening the shield */
    int await_rc, after_rc;
    void *r;
} shield_await_probe;

static void *shielded_awaiter(void *arg)
{
    shield_await_probe *p = arg;
    if (p->cancel_first)
        weft_task_cancel(weft_current());
    weft_shield_begin();
    weft_task *c;
    REQUIRE(weft_spawn(inner_child, I2P(21), &c) == 0);
    p->reached = 1;
    p->await_rc = weft_await(c, &p->r);
    weft_shield_end();
    p->after_rc = weft_yield();
    return NULL;
}

static void *nested_shields(void *arg)
{
    (void)arg;
    weft_task_cancel(weft_current());
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_shield_end(), 0);
    double t0 = weft_now();
    CHECK_EQ(weft_sleep(0.005), 0); /* still inside the outer scope */
    CHECK(weft_now() - t0 >= 0.005);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_shield_end(), 0);
    CHECK_EQ(weft_sleep(0.001), -ECANCELED);
    CHECK_EQ(weft_shield_end(), -EINVAL); /* no scope left */
    /* A new scope after the cancellation: shielded again. */
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_shield_end(), 0);
    CHECK_EQ(weft_yield(), -ECANCELED);
    return NULL;
}

static void *main_shields(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_shield_end(), -EINVAL); /* no scope open */
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_shield_end(), 0);
    CHECK_EQ(weft_shield_end(), -EINVAL);

    /* A shielded sleep lasts its full time despite the cancellation. */
    shield_probe p = {0};
    REQUIRE(pipe2(p.pfd, O_CLOEXEC | O_NONBLOCK) == 0);
    weft_task *t;
    REQUIRE(weft_spawn(shielded_sleeper, &p, &t) == 0);
    wait_flag(&p.reached);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_task_done(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(p.sleep_rc, 0);
    CHECK(p.elapsed >= 0.03);
    CHECK_EQ(p.cancelled_inside, 1); /* cancelled, but shielded */
    CHECK_EQ(p.yield_rc, 0);
    CHECK_EQ(p.end_rc, 0);
    CHECK_EQ(p.after_rc, -ECANCELED);
    CHECK_EQ(p.after2_rc, -ECANCELED);
    /* fd waits too: a timeout runs out, a ready fd is reported. */
    CHECK_EQ(p.io_rc, -ETIMEDOUT);
    CHECK(p.io_elapsed >= 0.01);
    CHECK_EQ(p.io_ready_rc, WEFT_WRITABLE);
    CHECK_EQ(p.io_after_rc, -ECANCELED);
    close(p.pfd[0]);
    close(p.pfd[1]);

    /* An await inside a shield: the cancellation is not passed on, whether
     * it arrives during the await or came before the shield opened. */
    for (int first = 0; first < 2; first++) {
        shield_await_probe q = {.cancel_first = first};
        inner_cancelled = -1;
        inner_ran = 0;
        REQUIRE(weft_spawn(shielded_awaiter, &q, &t) == 0);
        wait_flag(&q.reached);
        wait_flag(&inner_ran); /* the child is sleeping, awaited */
        CHECK_EQ(weft_task_cancel(t), 0);
        CHECK_EQ(weft_await(t, NULL), -ECANCELED);
        CHECK_EQ(inner_cancelled, 0);
        CHECK_EQ(q.await_rc, 0);
        CHECK_EQ(P2I(q.r), 21);
        CHECK_EQ(q.after_rc, -ECANCELED);
    }

    REQUIRE(weft_spawn(nested_shields, NULL, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    return NULL;
}

/* ---- a task cancelled in a shielded wait forever is abandoned ---- */

static int stubborn_reached, stubborn_resumed;

static void *stubborn(void *arg)
{
    (void)arg;
    weft_shield_begin();
    stubborn_reached = 1;
    weft_sleep(INFINITY);
    stubborn_resumed = 1; /* never */
    return NULL;
}

static void *main_abandon(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "stubborn"};
    weft_task *t;
    REQUIRE(weft_spawn_ex(stubborn, NULL, &o, &t) == 0);
    wait_flag(&stubborn_reached);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_sleep(0.01), 0);
    CHECK_EQ(weft_task_done(t), 0); /* the shield holds */
    CHECK_EQ(weft_task_detach(t), 0);
    return I2P(6);
}

static void child_abandon(void *arg)
{
    (void)arg;
    int failures0 = check_failures;
    void *r = NULL;
    int rc = weft_run(main_abandon, NULL, &r);
    /* The abandoned task's stack and record were freed too. */
    long live = weft__alloc_live, maps = weft__map_live;
    int failures = check_failures - failures0;
    fprintf(stderr, "rc=%d r=%ld resumed=%d live=%ld maps=%ld failures=%d\n",
            rc, (long)P2I(r), stubborn_resumed, live, maps, failures);
    _exit(rc == 0 && P2I(r) == 6 && !stubborn_resumed && live == 0 &&
                  maps == 0 && failures == 0
              ? 0
              : 1);
}

/* ---------------------------------------------------------------------- */
/* Cancellation in the turn where the task's own wake-up already happened   */
/* ---------------------------------------------------------------------- */

typedef struct {
    int rc, cancelled, next_rc, cancel_rc;
    double elapsed;
} turn_probe;

static weft_task *turn_victim;
static char turn_order[4];
static int turn_n;

static void *turn_first(void *arg)
{
    turn_probe *p = arg;
    double t0 = weft_now();
    p->rc = weft_sleep(0.005);
    p->elapsed = weft_now() - t0;
    turn_order[turn_n++] = '1';
    p->cancel_rc = weft_task_cancel(turn_victim);
    return NULL;
}

static void *turn_second(void *arg)
{
    turn_probe *p = arg;
    double t0 = weft_now();
    p->rc = weft_sleep(0.005);
    p->elapsed = weft_now() - t0;
    turn_order[turn_n++] = '2';
    p->cancelled = weft_cancelled();
    p->next_rc = weft_yield();
    return NULL;
}

static int yielder_reached;

static void *yield_victim(void *arg)
{
    turn_probe *p = arg;
    yielder_reached = 1;
    p->rc = weft_yield();
    p->cancelled = weft_cancelled();
    p->next_rc = weft_sleep(0);
    return NULL;
}

static void *main_same_turn(void *arg)
{
    (void)arg;
    /* Two tasks sleep the same 5 ms; the loop is kept busy until both
     * deadlines have passed, so that one clock read wakes both in the same
     * turn, the first armed first.  The first cancels the second, which is
     * then already woken (in the ready queue), not waiting. */
    turn_probe p1 = {0}, p2 = {0};
    weft_task *t1, *t2;
    REQUIRE(weft_spawn(turn_first, &p1, &t1) == 0);
    REQUIRE(weft_spawn(turn_second, &p2, &t2) == 0);
    turn_victim = t2;
    CHECK_EQ(weft_yield(), 0); /* both arm their timers */
    double t0 = weft_now();
    while (weft_now() - t0 < 0.03) {
        /* busy: nothing else runs, no timer is looked at */
    }
    CHECK_EQ(weft_await(t1, NULL), 0);
    CHECK_EQ(weft_await(t2, NULL), -ECANCELED);
    CHECK(strcmp(turn_order, "12") == 0);
    CHECK_EQ(p1.rc, 0);
    CHECK_EQ(p1.cancel_rc, 0); /* not finished yet: 0 */
    /* This implementation: the wake-up that already happened stands. */
    CHECK(p2.rc == 0 || p2.rc == -ECANCELED);
    CHECK_EQ(p2.rc, 0);
    CHECK(p2.elapsed >= 0.005);
    CHECK_EQ(p2.cancelled, 1);
    CHECK_EQ(p2.next_rc, -ECANCELED);

    /* A task in the ready queue after a yield, cancelled before its turn:
     * the yield returns 0 here too, the next suspension -ECANCELED. */
    turn_probe p3 = {0};
    weft_task *t3;
    REQUIRE(weft_spawn(yield_victim, &p3, &t3) == 0);
    wait_flag(&yielder_reached); /* it yielded: it is in the ready queue */
    CHECK_EQ(weft_task_done(t3), 0);
    CHECK_EQ(weft_task_cancel(t3), 0);
    CHECK_EQ(weft_await(t3, NULL), -ECANCELED);
    CHECK(p3.rc == 0 || p3.rc == -ECANCELED);
    CHECK_EQ(p3.rc, 0);
    CHECK_EQ(p3.cancelled, 1);
    CHECK_EQ(p3.next_rc, -ECANCELED);
    return NULL;
}

/* ---------------------------------------------------------------------- */

static void case_cancels_itself(void *arg)
{
    (void)arg;
    void *r = NULL;
    CHECK_EQ(weft_run(main_cancels_itself, I2P(4), &r), -ECANCELED);
    CHECK_EQ(P2I(r), 4);
}

/* Outside a task. */
static void case_outside_task(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_shield_begin(), -EPERM);
    CHECK_EQ(weft_shield_end(), -EPERM);
    CHECK_EQ(weft_cancelled(), -EPERM);
}

static void case_abandon(void *arg)
{
    (void)arg;
    char *out = NULL;
    int st = check_fork(child_abandon, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "cannot finish") != NULL);
    CHECK(strstr(out, "'stubborn'") != NULL);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(out, "'stubborn'"))
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);
}

static const struct check_case_def cases[] = {
    CHECK_TASK("cancel_waits", main_cancel_waits, NULL),
    CHECK_TASK("cancel_await", main_cancel_await, NULL),
    CHECK_TASK("sticky", main_sticky, NULL),
    CHECK_TASK("before_start", main_before_start, NULL),
    CHECK_TASK("outcome", main_outcome, NULL),
    CHECK_TASK("cancel_rc", main_cancel_rc, NULL),
    CHECK_PLAIN("cancels_itself", case_cancels_itself, NULL),
    CHECK_TASK("chains", main_chains, NULL),
    CHECK_TASK("shields", main_shields, NULL),
    CHECK_TASK("same_turn", main_same_turn, NULL),
    CHECK_PLAIN("outside_task", case_outside_task, NULL),
    CHECK_PLAIN("abandon", case_abandon, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

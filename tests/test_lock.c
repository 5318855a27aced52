/*
 * test_lock.c - weft_lock (asyncio.Lock), with asyncio's test_locks.py as
 * the reference for the tricky cases.  It proves:
 * - a free lock is taken without suspending (a ready task does not run in
 *   between), and a release without waiters does not suspend either;
 * - waiters get the lock in the order they queued (FIFO), not in spawn
 *   order, and a newcomer queues behind them;
 * - weft_lock_try: 0 when free, -EBUSY when held (by anyone) or handed over;
 * - release by a non-holder or of a free lock is -EPERM; re-acquire by the
 *   holder is -EDEADLK and leaves the lock held once;
 * - mutual exclusion across yields: N tasks x M read-yield-write increments
 *   lose nothing and never overlap;
 * - a waiter cancelled while queued leaves without the lock, and the next
 *   waiter gets it;
 * - the hand-off race: a release hands the lock to the first waiter W and W
 *   is cancelled in the same turn; W's acquire still returns 0, W holds the
 *   lock (its release succeeds) and its next suspending call returns
 *   -ECANCELED; the lock is never free while others wait and never held by
 *   two (owner-tracking counter);
 * - a cancelled task's acquire returns -ECANCELED at entry, even when the
 *   lock is free (and succeeds inside a shielded scope);
 * - WEFT_WITH_LOCK releases on normal exit, break, continue, return and
 *   goto out of the body, skips the body with rc set when the acquire
 *   fails, and never releases a lock it did not take; the shared library
 *   exports the helper the macro calls;
 * - weft_lock_locked, WEFT_LOCK_INIT (static and automatic storage);
 * - -EPERM outside a task, -EINVAL for NULL;
 * - deadlock detection names a task blocked on a lock whose holder awaits
 *   it: weft_run returns -EDEADLK, "waiting on a lock" on stderr.
 */
#define _GNU_SOURCE
#include "check.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NW 5 /* waiters in the ordering cases */

static weft_lock g_static_lock = WEFT_LOCK_INIT;

/* ---- a free lock does not suspend ---- */

static int bumps;

static void *bump(void *arg)
{
    (void)arg;
    bumps++;
    return NULL;
}

static void *case_free_no_suspend(void *arg)
{
    (void)arg;
    weft_lock l = WEFT_LOCK_INIT;
    weft_task *t;
    bumps = 0;
    REQUIRE(weft_spawn(bump, NULL, &t) == 0); /* ready to run */
    CHECK_EQ(weft_lock_locked(&l), 0);
    CHECK_EQ(weft_lock_acquire(&l), 0);
    CHECK_EQ(bumps, 0); /* the ready task did not run: no suspension */
    CHECK_EQ(weft_lock_locked(&l), 1);
    CHECK_EQ(weft_lock_release(&l), 0);
    CHECK_EQ(bumps, 0); /* nor on a release without waiters */
    CHECK_EQ(weft_lock_locked(&l), 0);
    CHECK_EQ(weft_lock_try(&l), 0);
    CHECK_EQ(bumps, 0);
    CHECK_EQ(weft_lock_release(&l), 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(bumps, 1); /* it does run once we suspend */
    CHECK_EQ(weft_await(t, NULL), 0);
    return NULL;
}

/* ---- FIFO fairness ---- */

static struct {
    weft_lock lock;
    int queued;
    int order[NW + 1];
    int norder;
    int held; /* tasks that think they hold the lock */
} F;

/* Task i yields delay[i] times, then queues: the queue order is by delay,
 * not by spawn order. */
static const int fifo_delay[NW] = {3, 0, 4, 1, 2};

static void *fifo_waiter(void *arg)
{
    int id = (int)P2I(arg);
    for (int i = 0; i < fifo_delay[id]; i++)
        CHECK_EQ(weft_yield(), 0);
    F.queued++;
    CHECK_EQ(weft_lock_acquire(&F.lock), 0);
    F.held++;
    CHECK_EQ(F.held, 1);
    F.order[F.norder++] = id;
    CHECK_EQ(weft_yield(), 0); /* hold it across a suspension */
    F.held--;
    CHECK_EQ(weft_lock_release(&F.lock), 0);
    return NULL;
}

static void *barger(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_lock_try(&F.lock), -EBUSY); /* waiters come first */
    CHECK_EQ(weft_lock_acquire(&F.lock), 0);
    F.held++;
    CHECK_EQ(F.held, 1);
    F.order[F.norder++] = NW; /* the barger's id */
    F.held--;
    CHECK_EQ(weft_lock_release(&F.lock), 0);
    return NULL;
}

static void *case_fifo(void *arg)
{
    (void)arg;
    memset(&F, 0, sizeof F);
    weft_task *t[NW + 1];
    CHECK_EQ(weft_lock_acquire(&F.lock), 0);
    for (int i = 0; i < NW; i++)
        REQUIRE(weft_spawn(fifo_waiter, I2P(i), &t[i]) == 0);
    check_yield_until(&F.queued, NW);
    CHECK_EQ(F.norder, 0); /* nobody got in while we hold it */
    CHECK_EQ(weft_lock_release(&F.lock), 0);
    /* Handed to the first waiter: not free for anyone else. */
    CHECK_EQ(weft_lock_locked(&F.lock), 1);
    CHECK_EQ(weft_lock_try(&F.lock), -EBUSY);
    CHECK_EQ(weft_lock_release(&F.lock), -EPERM);
    REQUIRE(weft_spawn(barger, NULL, &t[NW]) == 0);
    for (int i = 0; i <= NW; i++)
        CHECK_EQ(weft_await(t[i], NULL), 0);
    /* Sorted by delay: 1 (0), 3 (1), 4 (2), 0 (3), 2 (4); then the barger. */
    static const int want[NW + 1] = {1, 3, 4, 0, 2, NW};
    CHECK_EQ(F.norder, NW + 1);
    for (int i = 0; i <= NW; i++)
        CHECK_EQ(F.order[i], want[i]);
    CHECK_EQ(weft_lock_locked(&F.lock), 0);
    return NULL;
}

/* ---- try, release and re-acquire errors ---- */

static weft_lock E_lock;
static int e_step;

static void *other_task_checks(void *arg)
{
    (void)arg;
    /* The lock is held by main. */
    CHECK_EQ(weft_lock_locked(&E_lock), 1);
    CHECK_EQ(weft_lock_try(&E_lock), -EBUSY);
    CHECK_EQ(weft_lock_release(&E_lock), -EPERM); /* not the holder */
    CHECK_EQ(weft_lock_locked(&E_lock), 1);       /* still held */
    e_step = 1;
    return NULL;
}

static void *case_errors(void *arg)
{
    (void)arg;
    weft_lock z = WEFT_LOCK_INIT;
    E_lock = z;
    e_step = 0;
    CHECK_EQ(weft_lock_release(&E_lock), -EPERM); /* free lock */
    CHECK_EQ(weft_lock_locked(&E_lock), 0);
    CHECK_EQ(weft_lock_try(&E_lock), 0);
    CHECK_EQ(weft_lock_try(&E_lock), -EBUSY);     /* even for the holder */
    CHECK_EQ(weft_lock_acquire(&E_lock), -EDEADLK);
    CHECK_EQ(weft_lock_locked(&E_lock), 1);
    weft_task *t;
    REQUIRE(weft_spawn(other_task_checks, NULL, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(e_step, 1);
    /* Held once, so released once. */
    CHECK_EQ(weft_lock_release(&E_lock), 0);
    CHECK_EQ(weft_lock_release(&E_lock), -EPERM);
    CHECK_EQ(weft_lock_locked(&E_lock), 0);
    /* acquire/-EDEADLK on a lock taken with acquire, too. */
    CHECK_EQ(weft_lock_acquire(&E_lock), 0);
    CHECK_EQ(weft_lock_acquire(&E_lock), -EDEADLK);
    CHECK_EQ(weft_lock_release(&E_lock), 0);
    CHECK_EQ(weft_lock_locked(&E_lock), 0);

    /* NULL inside a task. */
    CHECK_EQ(weft_lock_acquire(NULL), -EINVAL);
    CHECK_EQ(weft_lock_try(NULL), -EINVAL);
    CHECK_EQ(weft_lock_release(NULL), -EINVAL);
    CHECK_EQ(weft_lock_locked(NULL), 0);

    /* The static initializer. */
    CHECK_EQ(weft_lock_locked(&g_static_lock), 0);
    CHECK_EQ(weft_lock_acquire(&g_static_lock), 0);
    CHECK_EQ(weft_lock_locked(&g_static_lock), 1);
    CHECK_EQ(weft_lock_release(&g_static_lock), 0);
    CHECK_EQ(weft_lock_locked(&g_static_lock), 0);
    return NULL;
}

/* ---- a lock left held by a finished task stays held ---- */

static void *take_and_finish(void *arg)
{
    CHECK_EQ(weft_lock_acquire(arg), 0);
    return NULL;
}

static void *try_release(void *arg)
{
    return I2P(weft_lock_release(arg));
}

static void *case_holder_gone(void *arg)
{
    (void)arg;
    weft_lock l = WEFT_LOCK_INIT;
    weft_task *t;
    void *r = NULL;
    REQUIRE(weft_spawn(take_and_finish, &l, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    /* The holder's identity is not confused with a later task's (which
     * may reuse its slot): still held by the finished task, and nobody
     * else may release it. */
    CHECK_EQ(weft_lock_locked(&l), 1);
    CHECK_EQ(weft_lock_release(&l), -EPERM);
    for (int i = 0; i < 4; i++) {
        REQUIRE(weft_spawn(try_release, &l, &t) == 0);
        CHECK_EQ(weft_await(t, &r), 0);
        CHECK_EQ(P2I(r), -EPERM);
    }
    CHECK_EQ(weft_lock_try(&l), -EBUSY);
    CHECK_EQ(weft_lock_locked(&l), 1);
    return NULL;
}

/* ---- mutual exclusion across yields ---- */

static struct {
    weft_lock lock;
    long counter;
    int inside;
    int overlaps;
    long iters;
} M;

static void *mutex_worker(void *arg)
{
    int id = (int)P2I(arg);
    for (long i = 0; i < M.iters; i++) {
        if (id % 2 == 0) {
            CHECK_EQ(weft_lock_acquire(&M.lock), 0);
            if (++M.inside != 1)
                M.overlaps++;
            long v = M.counter;
            CHECK_EQ(weft_yield(), 0); /* everyone else gets to run here */
            M.counter = v + 1;
            M.inside--;
            CHECK_EQ(weft_lock_release(&M.lock), 0);
        } else {
            int rc;
            WEFT_WITH_LOCK(&M.lock, rc) {
                if (++M.inside != 1)
                    M.overlaps++;
                long v = M.counter;
                CHECK_EQ(weft_yield(), 0);
                M.counter = v + 1;
                M.inside--;
            }
            CHECK_EQ(rc, 0);
        }
        if (i % 3 == id % 3)
            CHECK_EQ(weft_yield(), 0); /* vary the interleaving */
    }
    return NULL;
}

static void *case_mutex(void *arg)
{
    (void)arg;
    enum { N = 8 };
    memset(&M, 0, sizeof M);
    M.iters = check_scaled(300);
    weft_task *t[N];
    for (int i = 0; i < N; i++)
        REQUIRE(weft_spawn(mutex_worker, I2P(i), &t[i]) == 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(weft_await(t[i], NULL), 0);
    CHECK_EQ(M.counter, N * M.iters);
    CHECK_EQ(M.overlaps, 0);
    CHECK_EQ(weft_lock_locked(&M.lock), 0);
    return NULL;
}

/* ---- cancellation of waiters, and the hand-off race ---- */

static struct {
    weft_lock lock;
    int queued;
    int acq_rc[NW + 1];
    int next_rc[NW + 1];  /* the next suspending call after acquiring */
    int rel_rc[NW + 1];
    int order[NW + 1];
    int norder;
    int held;             /* owner-tracking counter */
    int bad;              /* held by two, or free while a waiter waits */
    int main_holds;
} R;

static void *race_waiter(void *arg)
{
    int id = (int)P2I(arg);
    R.queued++;
    int rc = weft_lock_acquire(&R.lock);
    R.acq_rc[id] = rc;
    if (rc != 0) {
        R.next_rc[id] = R.rel_rc[id] = 1; /* marks: never held */
        return NULL;
    }
    if (++R.held != 1 || R.main_holds)
        R.bad++;
    if (!weft_lock_locked(&R.lock))
        R.bad++;
    R.order[R.norder++] = id;
    R.next_rc[id] = weft_yield();
    R.held--;
    R.rel_rc[id] = weft_lock_release(&R.lock);
    return NULL;
}

enum {
    RACE_RELEASE_THEN_CANCEL,     /* W0 granted, then cancelled */
    RACE_RELEASE_THEN_CANCEL_TWO, /* W0 granted and W1 queued, both cancelled */
    RACE_CANCEL_THEN_RELEASE,     /* W0 leaves the queue, W1 granted */
    RACE_CANCEL_QUEUED,           /* W1 cancelled while main holds it */
};

static void *case_race(void *arg)
{
    int mode = (int)P2I(arg);
    enum { N = 4 };
    memset(&R, 0, sizeof R);
    weft_task *t[N];
    CHECK_EQ(weft_lock_acquire(&R.lock), 0);
    R.main_holds = 1;
    for (int i = 0; i < N; i++)
        REQUIRE(weft_spawn(race_waiter, I2P(i), &t[i]) == 0);
    check_yield_until(&R.queued, N);
    CHECK_EQ(R.norder, 0);

    switch (mode) {
    case RACE_RELEASE_THEN_CANCEL:
        R.main_holds = 0;
        CHECK_EQ(weft_lock_release(&R.lock), 0);
        CHECK_EQ(weft_task_cancel(t[0]), 0);
        /* W0 owns it now even though it has not run: never free while
         * others wait, and main no longer holds it. */
        CHECK_EQ(weft_lock_locked(&R.lock), 1);
        CHECK_EQ(weft_lock_try(&R.lock), -EBUSY);
        CHECK_EQ(weft_lock_release(&R.lock), -EPERM);
        break;
    case RACE_RELEASE_THEN_CANCEL_TWO:
        R.main_holds = 0;
        CHECK_EQ(weft_lock_release(&R.lock), 0);
        CHECK_EQ(weft_task_cancel(t[0]), 0);
        CHECK_EQ(weft_task_cancel(t[1]), 0);
        CHECK_EQ(weft_lock_locked(&R.lock), 1);
        CHECK_EQ(weft_lock_try(&R.lock), -EBUSY);
        break;
    case RACE_CANCEL_THEN_RELEASE:
        CHECK_EQ(weft_task_cancel(t[0]), 0);
        R.main_holds = 0;
        CHECK_EQ(weft_lock_release(&R.lock), 0);
        CHECK_EQ(weft_lock_locked(&R.lock), 1); /* W1 has it */
        CHECK_EQ(weft_lock_try(&R.lock), -EBUSY);
        break;
    case RACE_CANCEL_QUEUED:
        CHECK_EQ(weft_task_cancel(t[1]), 0);
        CHECK_EQ(weft_await(t[1], NULL), -ECANCELED);
        t[1] = NULL;
        /* W1 left without the lock: main still holds it. */
        CHECK_EQ(R.acq_rc[1], -ECANCELED);
        CHECK_EQ(R.norder, 0);
        CHECK_EQ(weft_lock_locked(&R.lock), 1);
        R.main_holds = 0;
        CHECK_EQ(weft_lock_release(&R.lock), 0);
        break;
    }

    int rc[N];
    for (int i = 0; i < N; i++)
        rc[i] = t[i] ? weft_await(t[i], NULL) : -ECANCELED;
    CHECK_EQ(R.bad, 0);
    CHECK_EQ(R.held, 0);
    CHECK_EQ(weft_lock_locked(&R.lock), 0);

    switch (mode) {
    case RACE_RELEASE_THEN_CANCEL:
        /* W0 was granted the lock: acquire 0, it held it (its release
         * succeeded), and its next suspending call saw the cancellation. */
        CHECK_EQ(rc[0], -ECANCELED);
        CHECK_EQ(R.acq_rc[0], 0);
        CHECK_EQ(R.next_rc[0], -ECANCELED);
        CHECK_EQ(R.rel_rc[0], 0);
        CHECK_EQ(R.norder, 4);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(R.order[i], i);
        for (int i = 1; i < N; i++) {
            CHECK_EQ(rc[i], 0);
            CHECK_EQ(R.acq_rc[i], 0);
            CHECK_EQ(R.next_rc[i], 0);
            CHECK_EQ(R.rel_rc[i], 0);
        }
        break;
    case RACE_RELEASE_THEN_CANCEL_TWO:
        CHECK_EQ(rc[0], -ECANCELED);
        CHECK_EQ(R.acq_rc[0], 0);
        CHECK_EQ(R.next_rc[0], -ECANCELED);
        CHECK_EQ(R.rel_rc[0], 0);
        CHECK_EQ(rc[1], -ECANCELED);
        CHECK_EQ(R.acq_rc[1], -ECANCELED); /* was queued: left empty-handed */
        CHECK_EQ(R.norder, 3);
        CHECK_EQ(R.order[0], 0);
        CHECK_EQ(R.order[1], 2);
        CHECK_EQ(R.order[2], 3);
        break;
    case RACE_CANCEL_THEN_RELEASE:
        CHECK_EQ(rc[0], -ECANCELED);
        CHECK_EQ(R.acq_rc[0], -ECANCELED);
        CHECK_EQ(R.norder, 3);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(R.order[i], i + 1);
        for (int i = 1; i < N; i++)
            CHECK_EQ(rc[i], 0);
        break;
    case RACE_CANCEL_QUEUED:
        CHECK_EQ(R.norder, 3);
        CHECK_EQ(R.order[0], 0);
        CHECK_EQ(R.order[1], 2);
        CHECK_EQ(R.order[2], 3);
        break;
    }
    return NULL;
}

/* Many rounds of release-and-cancel with the cancelled waiter chosen from
 * a pattern: the lock is never held by two tasks and never lost. */
static void *case_race_rounds(void *arg)
{
    (void)arg;
    enum { N = 4 };
    long rounds = check_scaled(200);
    for (long r = 0; r < rounds; r++) {
        memset(&R, 0, sizeof R);
        weft_task *t[N];
        CHECK_EQ(weft_lock_acquire(&R.lock), 0);
        R.main_holds = 1;
        for (int i = 0; i < N; i++)
            REQUIRE(weft_spawn(race_waiter, I2P(i), &t[i]) == 0);
        check_yield_until(&R.queued, N);
        int victim = (int)(r % N), before = (int)(r / N % 2);
        if (before)
            CHECK_EQ(weft_task_cancel(t[victim]), 0);
        R.main_holds = 0;
        CHECK_EQ(weft_lock_release(&R.lock), 0);
        if (!before)
            CHECK_EQ(weft_task_cancel(t[victim]), 0);
        CHECK_EQ(weft_lock_locked(&R.lock), 1);
        int granted = 0;
        for (int i = 0; i < N; i++) {
            int rc = weft_await(t[i], NULL);
            CHECK_EQ(rc, i == victim ? -ECANCELED : 0);
        }
        for (int i = 0; i < N; i++)
            granted += R.acq_rc[i] == 0;
        /* The victim keeps the lock only if it was granted before being
         * cancelled (it was first and cancelled after the release). */
        int victim_granted = victim == 0 && !before;
        CHECK_EQ(R.acq_rc[victim], victim_granted ? 0 : -ECANCELED);
        CHECK_EQ(granted, victim_granted ? N : N - 1);
        CHECK_EQ(R.norder, granted);
        CHECK_EQ(R.bad, 0);
        CHECK_EQ(weft_lock_locked(&R.lock), 0);
    }
    return NULL;
}

/* ---- a cancelled task's acquire ---- */

static struct {
    int acq, acq_held, try_rc, shield_acq, rel;
} C;

static void *cancelled_acquirer(void *arg)
{
    weft_lock *l = arg;
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    C.acq = weft_lock_acquire(l); /* free lock, but we are cancelled */
    C.acq_held = weft_lock_locked(l);
    REQUIRE(weft_shield_begin() == 0);
    C.shield_acq = weft_lock_acquire(l); /* shielded: works */
    REQUIRE(weft_shield_end() == 0);
    C.rel = weft_lock_release(l);
    return NULL;
}

static void *case_cancelled_acquire(void *arg)
{
    (void)arg;
    weft_lock l = WEFT_LOCK_INIT;
    memset(&C, 0, sizeof C);
    weft_task *t;
    REQUIRE(weft_spawn(cancelled_acquirer, &l, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(C.acq, -ECANCELED);
    CHECK_EQ(C.acq_held, 0); /* and it did not take it */
    CHECK_EQ(C.shield_acq, 0);
    CHECK_EQ(C.rel, 0);
    CHECK_EQ(weft_lock_locked(&l), 0);
    return NULL;
}

/* ---- WEFT_WITH_LOCK ---- */

static int with_return(weft_lock *l, int *ran)
{
    int rc;
    WEFT_WITH_LOCK(l, rc) {
        *ran += 1;
        if (weft_lock_locked(l))
            return 42; /* the cleanup attribute releases */
        *ran += 100;
    }
    return rc - 1000;
}

static int with_goto(weft_lock *l, int *ran)
{
    int rc;
    WEFT_WITH_LOCK(l, rc) {
        *ran += 1;
        if (weft_lock_acquire(l) == -EDEADLK) /* we hold it */
            goto out;
        *ran += 100;
    }
    return -1;
out:
    return weft_lock_locked(l) ? -2 : 7;
}

static struct {
    int rc, ran;
} W;

static void *with_cancelled(void *arg)
{
    weft_lock *l = arg;
    weft_task_cancel(weft_current());
    W.rc = 1;
    WEFT_WITH_LOCK(l, W.rc) {
        W.ran++;
    }
    return NULL;
}

static int waiter_got;

static void *with_waiter(void *arg)
{
    weft_lock *l = arg;
    int rc;
    WEFT_WITH_LOCK(l, rc) {
        waiter_got++;
    }
    CHECK_EQ(rc, 0);
    return NULL;
}

static void *case_with_lock(void *arg)
{
    (void)arg;
    weft_lock l = WEFT_LOCK_INIT;
    int rc = 1, ran = 0;

    /* Normal exit: the body runs once, holding the lock. */
    WEFT_WITH_LOCK(&l, rc) {
        ran++;
        CHECK_EQ(weft_lock_locked(&l), 1);
        CHECK_EQ(weft_lock_acquire(&l), -EDEADLK); /* held by us */
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(ran, 1);
    CHECK_EQ(weft_lock_locked(&l), 0);

    /* break. */
    ran = 0;
    rc = 1;
    WEFT_WITH_LOCK(&l, rc) {
        ran++;
        if (ran)
            break;
        ran += 100;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(ran, 1);
    CHECK_EQ(weft_lock_locked(&l), 0);

    /* continue (ends the body like falling off its end). */
    ran = 0;
    WEFT_WITH_LOCK(&l, rc) {
        ran++;
        if (ran)
            continue;
        ran += 100;
    }
    CHECK_EQ(ran, 1);
    CHECK_EQ(weft_lock_locked(&l), 0);

    /* break and continue inside the body of an outer loop still release
     * each time. */
    int loops = 0;
    for (int i = 0; i < 3; i++) {
        WEFT_WITH_LOCK(&l, rc) {
            loops++;
            if (i == 1)
                break;
        }
        CHECK_EQ(weft_lock_locked(&l), 0);
    }
    CHECK_EQ(loops, 3);

    /* return from inside the body. */
    ran = 0;
    CHECK_EQ(with_return(&l, &ran), 42);
    CHECK_EQ(ran, 1);
    CHECK_EQ(weft_lock_locked(&l), 0);

    /* goto out of the body. */
    ran = 0;
    CHECK_EQ(with_goto(&l, &ran), 7);
    CHECK_EQ(ran, 1);
    CHECK_EQ(weft_lock_locked(&l), 0);

    /* A WEFT_WITH_LOCK that has to wait: its body runs once the holder
     * releases, and it leaves the lock free. */
    waiter_got = 0;
    CHECK_EQ(weft_lock_acquire(&l), 0);
    weft_task *t;
    REQUIRE(weft_spawn(with_waiter, &l, &t) == 0);
    CHECK_EQ(weft_yield(), 0); /* it queues */
    CHECK_EQ(weft_lock_release(&l), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(waiter_got, 1);
    CHECK_EQ(weft_lock_locked(&l), 0);

    /* Acquire fails with -EDEADLK: body skipped, and the lock we held
     * before stays held (the macro does not release what it did not
     * take). */
    CHECK_EQ(weft_lock_acquire(&l), 0);
    ran = 0;
    WEFT_WITH_LOCK(&l, rc) {
        ran++;
    }
    CHECK_EQ(rc, -EDEADLK);
    CHECK_EQ(ran, 0);
    CHECK_EQ(weft_lock_locked(&l), 1);
    CHECK_EQ(weft_lock_release(&l), 0);

    /* Acquire fails in a cancelled task: body skipped, rc -ECANCELED. */
    memset(&W, 0, sizeof W);
    REQUIRE(weft_spawn(with_cancelled, &l, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(W.rc, -ECANCELED);
    CHECK_EQ(W.ran, 0);
    CHECK_EQ(weft_lock_locked(&l), 0);

    /* The macro with a NULL lock: acquire fails with -EINVAL. */
    ran = 0;
    WEFT_WITH_LOCK((weft_lock *)NULL, rc) {
        ran++;
    }
    CHECK_EQ(rc, -EINVAL);
    CHECK_EQ(ran, 0);
    return NULL;
}

/*
 * WEFT_WITH_LOCK expands to a call to weft_lock_release_scoped, so a program
 * linked with the shared library needs it among libweft.so's dynamic
 * symbols.  Reads the .dynsym of the libweft.so built next to this test
 * (BUILD/tests/test_lock -> BUILD/libweft.so).  Returns 1 if defined there,
 * 0 if not, -1 if the library cannot be read.
 */
static int shared_lib_defines(const char *path, const char *sym)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    char *img = NULL;
    int found = -1;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr))
        goto out;
    img = malloc((size_t)st.st_size);
    if (!img)
        goto out;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, img + got, (size_t)st.st_size - got);
        if (n <= 0)
            goto out;
        got += (size_t)n;
    }
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > got)
        goto out;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
    found = 0;
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum)
            continue;
        const Elf64_Shdr *strs = &sh[sh[i].sh_link];
        if (sh[i].sh_offset + sh[i].sh_size > got ||
            strs->sh_offset + strs->sh_size > got)
            continue;
        const Elf64_Sym *s = (const Elf64_Sym *)(img + sh[i].sh_offset);
        size_t n = sh[i].sh_size / sizeof *s;
        for (size_t k = 0; k < n; k++) {
            if (s[k].st_name >= strs->sh_size || s[k].st_shndx == SHN_UNDEF)
                continue;
            int bind = ELF64_ST_BIND(s[k].st_info);
            if (bind != STB_GLOBAL && bind != STB_WEAK)
                continue;
            if (strcmp(img + strs->sh_offset + s[k].st_name, sym) == 0)
                found = 1;
        }
    }
out:
    free(img);
    close(fd);
    return found;
}

static void check_shared_exports(void)
{
    char exe[PATH_MAX], lib[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    snprintf(lib, sizeof lib, "%s/../libweft.so", exe);
    int r = shared_lib_defines(lib, "weft_lock_acquire");
    if (r < 0) {
        printf("note: %s not readable; shared library exports not checked\n",
               lib);
        return;
    }
    CHECK_EQ(r, 1); /* sanity: the reader works */
    /* The macro's helper must be exported, or WEFT_WITH_LOCK does not link
     * against libweft.so. */
    r = shared_lib_defines(lib, "weft_lock_release_scoped");
    if (r != 1)
        fprintf(stderr, "libweft.so does not export weft_lock_release_scoped, "
                        "which WEFT_WITH_LOCK calls\n");
    CHECK_EQ(r, 1);
}

/* ---- deadlock detection ---- */

static void *dl_blocker(void *arg)
{
    int rc = weft_lock_acquire(arg);
    if (rc == 0)
        weft_lock_release(arg);
    return I2P(rc);
}

static void *dl_main(void *arg)
{
    (void)arg;
    weft_lock l = WEFT_LOCK_INIT;
    int bad = 0;
    if (weft_lock_acquire(&l) != 0)
        bad |= 1;
    weft_spawn_opts o = {.name = "blocker"};
    weft_task *t;
    REQUIRE(weft_spawn_ex(dl_blocker, &l, &o, &t) == 0);
    void *r = NULL;
    int rc = weft_await(t, &r); /* it waits for our lock: deadlock */
    /* Shutdown cancelled us, hence the blocker, whose acquire gave up. */
    if (rc != -ECANCELED)
        bad |= 2;
    if (P2I(r) != -ECANCELED)
        bad |= 4;
    if (weft_lock_release(&l) != 0) /* still ours */
        bad |= 8;
    return I2P(bad);
}

static void child_deadlock(void *arg)
{
    (void)arg;
    void *r = I2P(-1);
    int rc = weft_run(dl_main, NULL, &r);
    fprintf(stderr, "rc=%d bad=%ld\n", rc, (long)P2I(r));
    _exit(rc == -EDEADLK && P2I(r) == 0 ? 0 : 1);
}

static void check_deadlock(void)
{
    char *out = NULL;
    int before = check_failures;
    int st = check_fork(child_deadlock, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "deadlock") != NULL);
    /* The blocker's own line says what it waits on. */
    const char *line = strstr(out, "\n  task 'blocker'");
    CHECK(line != NULL);
    if (line) {
        const char *eol = strchr(line + 1, '\n');
        const char *why = strstr(line, "waiting on a lock");
        CHECK(why != NULL && (!eol || why < eol));
    }
    CHECK(strstr(out, "awaiting task 'blocker'") != NULL);
    if (check_failures != before)
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);
}

/* Outside a task. */
static void case_outside_task(void *arg)
{
    (void)arg;
    weft_lock l = WEFT_LOCK_INIT;
    CHECK_EQ(weft_lock_acquire(&l), -EPERM);
    CHECK_EQ(weft_lock_try(&l), -EPERM);
    CHECK_EQ(weft_lock_release(&l), -EPERM);
    CHECK_EQ(weft_lock_locked(&l), 0);
    CHECK_EQ(weft_lock_acquire(NULL), -EINVAL);
    CHECK_EQ(weft_lock_release(NULL), -EINVAL);
    CHECK_EQ(weft_lock_try(NULL), -EINVAL);
}

/* A lock used by a finished loop is free for the next one when it was left
 * free (the cases before it in this process used it). */
static void case_static_lock_free(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_lock_locked(&g_static_lock), 0);
}

static void case_shared_exports(void *arg)
{
    (void)arg;
    check_shared_exports();
}

static void case_deadlock(void *arg)
{
    (void)arg;
    check_deadlock();
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_task", case_outside_task, NULL),
    CHECK_TASK("free_no_suspend", case_free_no_suspend, NULL),
    CHECK_TASK("fifo", case_fifo, NULL),
    CHECK_TASK("errors", case_errors, NULL),
    CHECK_TASK("holder_gone", case_holder_gone, NULL),
    CHECK_TASK("mutex", case_mutex, NULL),
    CHECK_TASK("race_release_then_cancel", case_race, I2P(RACE_RELEASE_THEN_CANCEL)),
    CHECK_TASK("race_release_then_cancel_two", case_race, I2P(RACE_RELEASE_THEN_CANCEL_TWO)),
    CHECK_TASK("race_cancel_then_release", case_race, I2P(RACE_CANCEL_THEN_RELEASE)),
    CHECK_TASK("race_cancel_queued", case_race, I2P(RACE_CANCEL_QUEUED)),
    CHECK_TASK("race_rounds", case_race_rounds, NULL),
    CHECK_TASK("cancelled_acquire", case_cancelled_acquire, NULL),
    CHECK_TASK("with_lock", case_with_lock, NULL),
    CHECK_PLAIN_SERIAL("static_lock_free", case_static_lock_free, NULL),
    CHECK_PLAIN("shared_exports", case_shared_exports, NULL),
    CHECK_PLAIN("deadlock", case_deadlock, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

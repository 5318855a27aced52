/*
 * test_event.c - weft_event, weft_semaphore (plain and bounded) and
 * weft_cond (asyncio.Event, Semaphore, BoundedSemaphore, Condition), with
 * asyncio's test_locks.py as the reference.  It proves:
 * Event
 * - a wait on a set event returns at once (a ready task does not run in
 *   between); set wakes every waiter, in the order they waited; clear makes
 *   later waits suspend again; is_set follows; waiters woken by a set
 *   return 0 even if the event is cleared before they run;
 * - a cancelled waiter leaves with -ECANCELED and the others still wake; a
 *   waiter cancelled after the set keeps its wake-up (returns 0); a
 *   cancelled task's wait fails at entry even on a set event;
 * Semaphore / BoundedSemaphore
 * - permits are counted; acquiring a free permit does not suspend; try is
 *   -EBUSY with none free; waiters get permits in the order they queued;
 *   a release with waiters hands its permit to the first one (the value
 *   stays 0 and a newcomer's try fails until it has run);
 * - a cancelled waiter consumes no permit (the value is right afterwards);
 *   a waiter granted a permit and cancelled before it runs keeps it;
 * - a bounded semaphore refuses a release past its initial value
 *   (-EOVERFLOW); a plain one does not;
 * - a semaphore of K limits concurrency to exactly K;
 * Condition
 * - wait requires holding the lock (-EPERM); notify(n) wakes n waiters in
 *   FIFO order and returns how many it woke; notify_all wakes them all;
 * - wait returns holding the lock, only once the notifier has released
 *   it - also when the waiter was cancelled (-ECANCELED, and its release
 *   succeeds), and when it was cancelled at entry; a waiter notified and
 *   then cancelled keeps the notification (returns 0);
 * - a bounded buffer with two conditions and predicate loops passes every
 *   item exactly once;
 * and -EPERM outside a task, -EINVAL for NULL and bad arguments.
 */
#include "check.h"

#include <errno.h>
#include <string.h>

#define NW 5

static const int delay[NW] = {3, 0, 4, 1, 2};
/* Tasks sorted by delay: the order in which they queue. */
static const int by_delay[NW] = {1, 3, 4, 0, 2};

static int bumps;

static void *bump(void *arg)
{
    (void)arg;
    bumps++;
    return NULL;
}

/* ======================================================== Event ==== */

static weft_event g_event = WEFT_EVENT_INIT;

static struct {
    weft_event *ev;
    int queued;
    int rc[NW];
    int order[NW];
    int norder;
} EV;

static void *ev_waiter(void *arg)
{
    int id = (int)P2I(arg);
    for (int i = 0; i < delay[id]; i++)
        CHECK_EQ(weft_yield(), 0);
    EV.queued++;
    EV.rc[id] = weft_event_wait(EV.ev);
    EV.order[EV.norder++] = id;
    return NULL;
}

static void ev_spawn_all(weft_task **t)
{
    for (int i = 0; i < NW; i++)
        REQUIRE(weft_spawn(ev_waiter, I2P(i), &t[i]) == 0);
    check_yield_until(&EV.queued, NW);
}

static void *case_event_basic(void *arg)
{
    (void)arg;
    weft_event ev = WEFT_EVENT_INIT;
    weft_task *t;
    memset(&EV, 0, sizeof EV);
    EV.ev = &ev;

    CHECK_EQ(weft_event_is_set(&ev), 0);
    CHECK_EQ(weft_event_is_set(&g_event), 0);
    bumps = 0;
    REQUIRE(weft_spawn(bump, NULL, &t) == 0);
    CHECK_EQ(weft_event_set(&ev), 0);
    CHECK_EQ(weft_event_is_set(&ev), 1);
    CHECK_EQ(weft_event_wait(&ev), 0); /* set: at once */
    CHECK_EQ(weft_event_wait(&ev), 0);
    CHECK_EQ(weft_event_set(&ev), 0);  /* setting again is harmless */
    CHECK_EQ(bumps, 0);                /* nothing above suspended */
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(bumps, 1);

    /* Waiters on a set event all pass without suspending. */
    weft_task *w[NW];
    ev_spawn_all(w);
    CHECK_EQ(EV.norder, NW);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(weft_await(w[i], NULL), 0);

    /* clear: later waits suspend until the next set. */
    memset(&EV, 0, sizeof EV);
    EV.ev = &ev;
    CHECK_EQ(weft_event_clear(&ev), 0);
    CHECK_EQ(weft_event_is_set(&ev), 0);
    CHECK_EQ(weft_event_clear(&ev), 0); /* clearing again is harmless */
    ev_spawn_all(w);
    check_yield_n(5);
    CHECK_EQ(EV.norder, 0);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(weft_task_done(w[i]), 0);
    /* set wakes every waiter, in the order they waited, and does not
     * suspend the setter. */
    CHECK_EQ(weft_event_set(&ev), 0);
    CHECK_EQ(EV.norder, 0);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(weft_await(w[i], NULL), 0);
    CHECK_EQ(EV.norder, NW);
    for (int i = 0; i < NW; i++) {
        CHECK_EQ(EV.order[i], by_delay[i]);
        CHECK_EQ(EV.rc[i], 0);
    }

    /* set then clear in the same turn: the waiters woken by the set still
     * return 0 (asyncio's test_clear_with_waiters). */
    memset(&EV, 0, sizeof EV);
    EV.ev = &ev;
    CHECK_EQ(weft_event_clear(&ev), 0);
    ev_spawn_all(w);
    CHECK_EQ(weft_event_set(&ev), 0);
    CHECK_EQ(weft_event_clear(&ev), 0);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(weft_await(w[i], NULL), 0);
    CHECK_EQ(EV.norder, NW);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(EV.rc[i], 0);
    CHECK_EQ(weft_event_is_set(&ev), 0);

    /* The static initializer. */
    EV.ev = &g_event;
    CHECK_EQ(weft_event_set(&g_event), 0);
    CHECK_EQ(weft_event_is_set(&g_event), 1);
    CHECK_EQ(weft_event_wait(&g_event), 0);
    CHECK_EQ(weft_event_clear(&g_event), 0);

    /* NULL. */
    CHECK_EQ(weft_event_wait(NULL), -EINVAL);
    CHECK_EQ(weft_event_set(NULL), -EINVAL);
    CHECK_EQ(weft_event_clear(NULL), -EINVAL);
    CHECK_EQ(weft_event_is_set(NULL), 0);
    return NULL;
}

static struct {
    int wait_rc;
} EC;

static void *ev_cancelled_self(void *arg)
{
    weft_task_cancel(weft_current());
    EC.wait_rc = weft_event_wait(arg);
    return NULL;
}

static void *case_event_cancel(void *arg)
{
    (void)arg;
    weft_event ev = WEFT_EVENT_INIT;
    weft_task *w[NW];
    memset(&EV, 0, sizeof EV);
    EV.ev = &ev;
    ev_spawn_all(w);

    /* A queued waiter cancelled: it leaves with -ECANCELED. */
    CHECK_EQ(weft_task_cancel(w[3]), 0);
    CHECK_EQ(weft_await(w[3], NULL), -ECANCELED);
    CHECK_EQ(EV.rc[3], -ECANCELED);
    CHECK_EQ(EV.norder, 1);
    /* Others keep waiting, and wake on set. */
    check_yield_n(3);
    CHECK_EQ(EV.norder, 1);
    CHECK_EQ(weft_event_set(&ev), 0);
    /* Woken but not yet run, then cancelled: it keeps the wake-up. */
    CHECK_EQ(weft_task_cancel(w[4]), 0);
    for (int i = 0; i < NW; i++) {
        if (i == 3)
            continue;
        CHECK_EQ(weft_await(w[i], NULL), i == 4 ? -ECANCELED : 0);
        CHECK_EQ(EV.rc[i], 0);
    }
    CHECK_EQ(EV.norder, NW);
    /* The order of the wake-ups, the cancelled one (3) having left
     * first. */
    static const int want[NW] = {3, 1, 4, 0, 2};
    for (int i = 0; i < NW; i++)
        CHECK_EQ(EV.order[i], want[i]);

    /* A cancelled task's wait fails at entry, even on a set event. */
    weft_task *t;
    EC.wait_rc = 1;
    REQUIRE(weft_spawn(ev_cancelled_self, &ev, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(EC.wait_rc, -ECANCELED);
    return NULL;
}

/* ==================================================== Semaphore ==== */

static weft_semaphore g_sem = WEFT_SEMAPHORE_INIT(2);

static struct {
    weft_semaphore *sem;
    int queued;
    int acq_rc[NW + 1];
    int next_rc[NW + 1];
    int rel_rc[NW + 1];
    int order[NW + 1];
    int norder;
    int hold; /* 1: keep the permit until told */
    int go;
} S;

static void *sem_waiter(void *arg)
{
    int id = (int)P2I(arg);
    for (int i = 0; i < (id < NW ? delay[id] : 0); i++)
        CHECK_EQ(weft_yield(), 0);
    S.queued++;
    int rc = weft_sem_acquire(S.sem);
    S.acq_rc[id] = rc;
    if (rc != 0)
        return NULL;
    S.order[S.norder++] = id;
    S.next_rc[id] = weft_yield();
    if (S.hold)
        while (!S.go && weft_yield() == 0) {
        }
    S.rel_rc[id] = weft_sem_release(S.sem);
    return NULL;
}

static void *case_sem_counting(void *arg)
{
    (void)arg;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(3);
    weft_task *t;
    bumps = 0;
    REQUIRE(weft_spawn(bump, NULL, &t) == 0);
    CHECK_EQ(weft_sem_value(&s), 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_sem_acquire(&s), 0);
    CHECK_EQ(bumps, 0); /* free permits: no suspension */
    CHECK_EQ(weft_sem_value(&s), 0);
    CHECK_EQ(weft_sem_try(&s), -EBUSY);
    CHECK_EQ(weft_sem_value(&s), 0);
    CHECK_EQ(weft_sem_release(&s), 0);
    CHECK_EQ(weft_sem_value(&s), 1);
    CHECK_EQ(weft_sem_try(&s), 0);
    CHECK_EQ(weft_sem_value(&s), 0);
    CHECK_EQ(weft_sem_try(&s), -EBUSY);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_sem_release(&s), 0);
    CHECK_EQ(weft_sem_value(&s), 3);
    /* A plain semaphore may go past its initial value. */
    CHECK_EQ(weft_sem_release(&s), 0);
    CHECK_EQ(weft_sem_value(&s), 4);
    CHECK_EQ(bumps, 0); /* none of this suspended */
    CHECK_EQ(weft_await(t, NULL), 0);

    /* Static initializers. */
    CHECK_EQ(weft_sem_value(&g_sem), 2);
    CHECK_EQ(weft_sem_acquire(&g_sem), 0);
    CHECK_EQ(weft_sem_try(&g_sem), 0);
    CHECK_EQ(weft_sem_try(&g_sem), -EBUSY);
    CHECK_EQ(weft_sem_release(&g_sem), 0);
    CHECK_EQ(weft_sem_release(&g_sem), 0);
    CHECK_EQ(weft_sem_value(&g_sem), 2);
    weft_semaphore z = WEFT_SEMAPHORE_INIT(0);
    CHECK_EQ(weft_sem_value(&z), 0);
    CHECK_EQ(weft_sem_try(&z), -EBUSY);

    /* NULL. */
    CHECK_EQ(weft_sem_acquire(NULL), -EINVAL);
    CHECK_EQ(weft_sem_try(NULL), -EINVAL);
    CHECK_EQ(weft_sem_release(NULL), -EINVAL);
    CHECK_EQ(weft_sem_value(NULL), 0);
    return NULL;
}

static void *case_sem_fifo(void *arg)
{
    (void)arg;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(0);
    weft_task *w[NW + 1];
    memset(&S, 0, sizeof S);
    S.sem = &s;
    S.hold = 1;
    for (int i = 0; i < NW; i++)
        REQUIRE(weft_spawn(sem_waiter, I2P(i), &w[i]) == 0);
    check_yield_until(&S.queued, NW);
    check_yield_n(2);
    CHECK_EQ(S.norder, 0);
    for (int k = 0; k < NW; k++) {
        /* One permit: it goes to the first waiter still queued. */
        CHECK_EQ(weft_sem_release(&s), 0);
        CHECK_EQ(weft_sem_value(&s), 0); /* handed over, not counted */
        CHECK_EQ(weft_sem_try(&s), -EBUSY);
        if (k == 0) {
            /* A newcomer cannot take it either, and queues last. */
            REQUIRE(weft_spawn(sem_waiter, I2P(NW), &w[NW]) == 0);
        }
        check_yield_n(3);
        CHECK_EQ(S.norder, k + 1);
        CHECK_EQ(S.order[k], by_delay[k]);
    }
    CHECK_EQ(weft_sem_release(&s), 0);
    check_yield_n(3);
    CHECK_EQ(S.norder, NW + 1);
    CHECK_EQ(S.order[NW], NW); /* the newcomer */
    S.go = 1;
    for (int i = 0; i <= NW; i++) {
        CHECK_EQ(weft_await(w[i], NULL), 0);
        CHECK_EQ(S.acq_rc[i], 0);
        CHECK_EQ(S.rel_rc[i], 0);
    }
    /* Every permit came back. */
    CHECK_EQ(weft_sem_value(&s), NW + 1);
    return NULL;
}

static void *case_sem_cancel(void *arg)
{
    (void)arg;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(0);
    weft_task *w[NW];
    memset(&S, 0, sizeof S);
    S.sem = &s;
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_spawn(sem_waiter, I2P(i + 1), &w[i]) == 0);
    /* delays of ids 1, 2, 3 are 0, 4, 1: queue order 1, 3, 2. */
    check_yield_until(&S.queued, 3);

    /* A queued waiter cancelled: it leaves without a permit. */
    CHECK_EQ(weft_task_cancel(w[2]), 0); /* id 3 */
    CHECK_EQ(weft_await(w[2], NULL), -ECANCELED);
    CHECK_EQ(S.acq_rc[3], -ECANCELED);
    CHECK_EQ(weft_sem_value(&s), 0);
    CHECK_EQ(S.norder, 0);

    /* A release hands the permit to id 1, which is then cancelled before
     * it runs: it keeps the permit, its next suspending call fails, and it
     * gives the permit back (to id 2). */
    CHECK_EQ(weft_sem_release(&s), 0);
    CHECK_EQ(weft_task_cancel(w[0]), 0);
    CHECK_EQ(weft_sem_value(&s), 0);
    CHECK_EQ(weft_sem_try(&s), -EBUSY);
    CHECK_EQ(weft_await(w[0], NULL), -ECANCELED);
    CHECK_EQ(S.acq_rc[1], 0);
    CHECK_EQ(S.next_rc[1], -ECANCELED);
    CHECK_EQ(S.rel_rc[1], 0);
    CHECK_EQ(weft_await(w[1], NULL), 0);
    CHECK_EQ(S.acq_rc[2], 0);
    CHECK_EQ(S.rel_rc[2], 0);
    CHECK_EQ(S.norder, 2);
    CHECK_EQ(S.order[0], 1);
    CHECK_EQ(S.order[1], 2);
    /* One permit in all, and it is back. */
    CHECK_EQ(weft_sem_value(&s), 1);

    /* Only waiter cancelled, then a release: the permit is counted. */
    CHECK_EQ(weft_sem_acquire(&s), 0);
    memset(&S, 0, sizeof S);
    S.sem = &s;
    weft_task *t;
    REQUIRE(weft_spawn(sem_waiter, I2P(1), &t) == 0);
    check_yield_until(&S.queued, 1);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_sem_release(&s), 0); /* same turn as the cancel */
    CHECK_EQ(weft_sem_value(&s), 1);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(S.acq_rc[1], -ECANCELED);
    CHECK_EQ(weft_sem_value(&s), 1);

    /* A task cancelled before it starts never takes a permit. */
    memset(&S, 0, sizeof S);
    S.sem = &s;
    REQUIRE(weft_spawn(sem_waiter, I2P(1), &t) == 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED); /* never started */
    CHECK_EQ(weft_sem_value(&s), 1);
    return NULL;
}

static struct {
    int acq, value_after;
} SC;

static void *sem_cancelled_self(void *arg)
{
    weft_task_cancel(weft_current());
    SC.acq = weft_sem_acquire(arg);
    SC.value_after = (int)weft_sem_value(arg);
    return NULL;
}

static void *case_sem_cancelled_entry(void *arg)
{
    (void)arg;
    weft_semaphore s = WEFT_SEMAPHORE_INIT(2);
    weft_task *t;
    SC.acq = 1;
    REQUIRE(weft_spawn(sem_cancelled_self, &s, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(SC.acq, -ECANCELED);
    CHECK_EQ(SC.value_after, 2);
    CHECK_EQ(weft_sem_value(&s), 2);
    return NULL;
}

static void *case_sem_bounded(void *arg)
{
    (void)arg;
    weft_semaphore b = WEFT_BOUNDED_SEMAPHORE_INIT(2);
    CHECK_EQ(weft_sem_value(&b), 2);
    CHECK_EQ(weft_sem_release(&b), -EOVERFLOW);
    CHECK_EQ(weft_sem_value(&b), 2);
    CHECK_EQ(weft_sem_acquire(&b), 0);
    CHECK_EQ(weft_sem_acquire(&b), 0);
    CHECK_EQ(weft_sem_try(&b), -EBUSY);
    CHECK_EQ(weft_sem_release(&b), 0);
    CHECK_EQ(weft_sem_release(&b), 0);
    CHECK_EQ(weft_sem_release(&b), -EOVERFLOW);
    CHECK_EQ(weft_sem_value(&b), 2);

    /* With a waiter: the release hands over, then the waiter's release
     * counts, then one more overflows. */
    weft_semaphore b1 = WEFT_BOUNDED_SEMAPHORE_INIT(1);
    CHECK_EQ(weft_sem_acquire(&b1), 0);
    memset(&S, 0, sizeof S);
    S.sem = &b1;
    weft_task *t;
    REQUIRE(weft_spawn(sem_waiter, I2P(1), &t) == 0);
    check_yield_until(&S.queued, 1);
    CHECK_EQ(weft_sem_release(&b1), 0);
    CHECK_EQ(weft_sem_value(&b1), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(S.acq_rc[1], 0);
    CHECK_EQ(S.rel_rc[1], 0);
    CHECK_EQ(weft_sem_value(&b1), 1);
    CHECK_EQ(weft_sem_release(&b1), -EOVERFLOW);
    CHECK_EQ(weft_sem_value(&b1), 1);

    /* Bounded at 0 (asyncio's BoundedSemaphore(0)): any release is one
     * past the initial value. */
    weft_semaphore b0 = WEFT_BOUNDED_SEMAPHORE_INIT(0);
    CHECK_EQ(weft_sem_release(&b0), -EOVERFLOW);
    CHECK_EQ(weft_sem_value(&b0), 0);
    return NULL;
}

static struct {
    weft_semaphore sem;
    int cur, max, done;
} K;

static void *limited(void *arg)
{
    int id = (int)P2I(arg);
    for (int round = 0; round < 3; round++) {
        CHECK_EQ(weft_sem_acquire(&K.sem), 0);
        if (++K.cur > K.max)
            K.max = K.cur;
        for (int i = 0; i < 1 + (id + round) % 4; i++)
            CHECK_EQ(weft_yield(), 0);
        K.cur--;
        CHECK_EQ(weft_sem_release(&K.sem), 0);
        if (id % 2)
            CHECK_EQ(weft_yield(), 0);
    }
    K.done++;
    return NULL;
}

static void *case_sem_limit(void *arg)
{
    (void)arg;
    enum { LIMIT = 3, N = 12 };
    weft_semaphore s = WEFT_BOUNDED_SEMAPHORE_INIT(LIMIT);
    memset(&K, 0, sizeof K);
    K.sem = s;
    weft_task *t[N];
    for (int i = 0; i < N; i++)
        REQUIRE(weft_spawn(limited, I2P(i), &t[i]) == 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(weft_await(t[i], NULL), 0);
    CHECK_EQ(K.done, N);
    CHECK_EQ(K.max, LIMIT); /* reached, never exceeded */
    CHECK_EQ(K.cur, 0);
    CHECK_EQ(weft_sem_value(&K.sem), LIMIT);
    return NULL;
}

/* ==================================================== Condition ==== */

static struct {
    weft_lock lock;
    weft_cond cond;
    int queued;
    int rc[NW + 1];
    int locked_on_return[NW + 1];
    int rel_rc[NW + 1];
    int next_rc[NW + 1];
    int order[NW + 1];
    int norder;
    int held;
    int bad;
    int main_holds;
} CV;

static void cv_reset(void)
{
    memset(&CV, 0, sizeof CV);
    weft_cond c = WEFT_COND_INIT(&CV.lock);
    CV.cond = c;
}

static void *cv_waiter(void *arg)
{
    int id = (int)P2I(arg);
    for (int i = 0; i < (id < NW ? delay[id] : 0); i++)
        CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_lock_acquire(&CV.lock), 0);
    CV.queued++;
    int rc = weft_cond_wait(&CV.cond);
    CV.rc[id] = rc;
    /* Held, by us: nobody else thinks they hold it, and our release
     * succeeds (only the holder's does). */
    if (++CV.held != 1 || CV.main_holds)
        CV.bad++;
    CV.locked_on_return[id] = weft_lock_locked(&CV.lock);
    CV.order[CV.norder++] = id;
    if (rc == 0)
        CV.next_rc[id] = weft_yield(); /* still holding it */
    CV.held--;
    CV.rel_rc[id] = weft_lock_release(&CV.lock);
    return NULL;
}

static void cv_spawn_all(weft_task **t)
{
    for (int i = 0; i < NW; i++)
        REQUIRE(weft_spawn(cv_waiter, I2P(i), &t[i]) == 0);
    check_yield_until(&CV.queued, NW);
    check_yield_n(2);
}

static int cv_other_rc;

static void *cv_not_holder(void *arg)
{
    (void)arg;
    cv_other_rc = weft_cond_wait(&CV.cond); /* main holds the lock */
    return NULL;
}

static void *case_cond_errors(void *arg)
{
    (void)arg;
    cv_reset();
    /* Lock free: -EPERM, and the lock stays free. */
    CHECK_EQ(weft_cond_wait(&CV.cond), -EPERM);
    CHECK_EQ(weft_lock_locked(&CV.lock), 0);
    /* Lock held by another task: -EPERM, and it stays the other's. */
    CHECK_EQ(weft_lock_acquire(&CV.lock), 0);
    weft_task *t;
    cv_other_rc = 1;
    REQUIRE(weft_spawn(cv_not_holder, NULL, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(cv_other_rc, -EPERM);
    CHECK_EQ(weft_lock_release(&CV.lock), 0); /* still ours */

    /* Bad arguments. */
    weft_cond nolock = WEFT_COND_INIT(NULL);
    CHECK_EQ(weft_cond_wait(NULL), -EINVAL);
    CHECK_EQ(weft_cond_wait(&nolock), -EINVAL);
    CHECK_EQ(weft_cond_notify(NULL, 1), -EINVAL);
    CHECK_EQ(weft_cond_notify(&CV.cond, -1), -EINVAL);
    CHECK_EQ(weft_cond_notify_all(NULL), -EINVAL);

    /* Notifying without holding the lock: -EPERM, as asyncio raises. */
    CHECK_EQ(weft_cond_notify(&CV.cond, 1), -EPERM);
    CHECK_EQ(weft_cond_notify_all(&CV.cond), -EPERM);
    CHECK_EQ(weft_cond_notify(&nolock, 1), -EINVAL);
    /* Nobody waits: notify wakes none. */
    CHECK_EQ(weft_lock_acquire(&CV.lock), 0);
    CHECK_EQ(weft_cond_notify(&CV.cond, 1), 0);
    CHECK_EQ(weft_cond_notify_all(&CV.cond), 0);
    CHECK_EQ(weft_cond_notify(&CV.cond, 0), 0);
    CHECK_EQ(weft_lock_release(&CV.lock), 0);
    return NULL;
}

/* weft_cond_notify with the lock held, as it must be. */
static int notify_locked(int n)
{
    REQUIRE(weft_lock_acquire(&CV.lock) == 0);
    int rc = weft_cond_notify(&CV.cond, n);
    REQUIRE(weft_lock_release(&CV.lock) == 0);
    return rc;
}

static void *case_cond_notify(void *arg)
{
    (void)arg;
    weft_task *w[NW];
    cv_reset();
    cv_spawn_all(w);
    CHECK_EQ(CV.norder, 0);
    CHECK_EQ(weft_lock_locked(&CV.lock), 0); /* every waiter released it */

    /* notify(1) while holding the lock: one waiter, the first, wakes - but
     * returns only once we release the lock. */
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(weft_lock_acquire(&CV.lock), 0);
        CV.main_holds = 1;
        CHECK_EQ(weft_cond_notify(&CV.cond, 1), 1);
        check_yield_n(4);
        CHECK_EQ(CV.norder, k); /* waiting for the lock */
        CV.main_holds = 0;
        CHECK_EQ(weft_lock_release(&CV.lock), 0);
        check_yield_n(4);
        CHECK_EQ(CV.norder, k + 1);
        CHECK_EQ(CV.order[k], by_delay[k]);
    }
    /* notify(0) wakes nobody; notify(2) of three wakes two, in order;
     * notify(5) of one wakes one and says so. */
    CHECK_EQ(notify_locked(0), 0);
    check_yield_n(4);
    CHECK_EQ(CV.norder, 2);
    CHECK_EQ(notify_locked(2), 2);
    check_yield_n(8);
    CHECK_EQ(CV.norder, 4);
    CHECK_EQ(CV.order[2], by_delay[2]);
    CHECK_EQ(CV.order[3], by_delay[3]);
    CHECK_EQ(notify_locked(5), 1);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(weft_await(w[i], NULL), 0);
    CHECK_EQ(CV.norder, NW);
    CHECK_EQ(CV.order[4], by_delay[4]);
    CHECK_EQ(notify_locked(1), 0); /* nobody left */
    for (int i = 0; i < NW; i++) {
        CHECK_EQ(CV.rc[i], 0);
        CHECK_EQ(CV.locked_on_return[i], 1);
        CHECK_EQ(CV.next_rc[i], 0);
        CHECK_EQ(CV.rel_rc[i], 0);
    }
    CHECK_EQ(CV.bad, 0);
    CHECK_EQ(weft_lock_locked(&CV.lock), 0);

    /* notify_all wakes every waiter; each returns holding the lock in
     * turn, in FIFO order. */
    cv_reset();
    cv_spawn_all(w);
    CHECK_EQ(weft_lock_acquire(&CV.lock), 0);
    CV.main_holds = 1;
    CHECK_EQ(weft_cond_notify_all(&CV.cond), NW);
    CHECK_EQ(weft_cond_notify_all(&CV.cond), 0);
    check_yield_n(4);
    CHECK_EQ(CV.norder, 0);
    CV.main_holds = 0;
    CHECK_EQ(weft_lock_release(&CV.lock), 0);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(weft_await(w[i], NULL), 0);
    CHECK_EQ(CV.norder, NW);
    for (int i = 0; i < NW; i++) {
        CHECK_EQ(CV.order[i], by_delay[i]);
        CHECK_EQ(CV.rc[i], 0);
        CHECK_EQ(CV.locked_on_return[i], 1);
        CHECK_EQ(CV.rel_rc[i], 0);
    }
    CHECK_EQ(CV.bad, 0);
    CHECK_EQ(weft_lock_locked(&CV.lock), 0);
    return NULL;
}

static struct {
    int rc, locked, rel;
} CE;

static void *cv_cancelled_at_entry(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_lock_acquire(&CV.lock), 0);
    weft_task_cancel(weft_current());
    CE.rc = weft_cond_wait(&CV.cond);
    CE.locked = weft_lock_locked(&CV.lock);
    CE.rel = weft_lock_release(&CV.lock); /* never let go: still ours */
    return NULL;
}

static void *case_cond_cancel(void *arg)
{
    (void)arg;
    weft_task *w[NW];
    cv_reset();
    cv_spawn_all(w);

    /* Cancelled while waiting, with the lock held by main: the waiter
     * re-acquires before returning -ECANCELED, so it returns only after
     * main releases. */
    CHECK_EQ(weft_lock_acquire(&CV.lock), 0);
    CV.main_holds = 1;
    CHECK_EQ(weft_task_cancel(w[by_delay[0]]), 0);
    check_yield_n(6);
    CHECK_EQ(CV.norder, 0);
    CHECK_EQ(weft_task_done(w[by_delay[0]]), 0);
    CV.main_holds = 0;
    CHECK_EQ(weft_lock_release(&CV.lock), 0);
    CHECK_EQ(weft_await(w[by_delay[0]], NULL), -ECANCELED);
    CHECK_EQ(CV.rc[by_delay[0]], -ECANCELED);
    CHECK_EQ(CV.locked_on_return[by_delay[0]], 1);
    CHECK_EQ(CV.rel_rc[by_delay[0]], 0); /* it held the lock */
    CHECK_EQ(CV.norder, 1);

    /* The cancelled waiter took no notification with it: notify(1) wakes
     * the next one. */
    CHECK_EQ(notify_locked(1), 1);
    CHECK_EQ(weft_await(w[by_delay[1]], NULL), 0);
    CHECK_EQ(CV.rc[by_delay[1]], 0);
    CHECK_EQ(CV.norder, 2);

    /* Notified, then cancelled before it runs: it keeps the notification
     * (returns 0), holds the lock, and its next suspending call fails. */
    CHECK_EQ(notify_locked(1), 1);
    CHECK_EQ(weft_task_cancel(w[by_delay[2]]), 0);
    CHECK_EQ(weft_await(w[by_delay[2]], NULL), -ECANCELED);
    CHECK_EQ(CV.rc[by_delay[2]], 0);
    CHECK_EQ(CV.locked_on_return[by_delay[2]], 1);
    CHECK_EQ(CV.next_rc[by_delay[2]], -ECANCELED);
    CHECK_EQ(CV.rel_rc[by_delay[2]], 0);
    CHECK_EQ(CV.norder, 3);

    /* Cancelled while waiting, lock free: returns -ECANCELED holding it. */
    CHECK_EQ(weft_task_cancel(w[by_delay[3]]), 0);
    CHECK_EQ(weft_await(w[by_delay[3]], NULL), -ECANCELED);
    CHECK_EQ(CV.rc[by_delay[3]], -ECANCELED);
    CHECK_EQ(CV.locked_on_return[by_delay[3]], 1);
    CHECK_EQ(CV.rel_rc[by_delay[3]], 0);

    CHECK_EQ(weft_lock_acquire(&CV.lock), 0);
    CHECK_EQ(weft_cond_notify_all(&CV.cond), 1); /* only the last is left */
    CHECK_EQ(weft_lock_release(&CV.lock), 0);
    CHECK_EQ(weft_await(w[by_delay[4]], NULL), 0);
    CHECK_EQ(CV.rc[by_delay[4]], 0);
    CHECK_EQ(CV.bad, 0);
    CHECK_EQ(weft_lock_locked(&CV.lock), 0);

    /* Notified, then cancelled while it waits to re-acquire the lock
     * (asyncio's test_cancelled_error_re_aquire): it keeps the
     * notification and returns holding the lock, once main lets go. */
    cv_reset();
    REQUIRE(weft_spawn(cv_waiter, I2P(1), &w[0]) == 0); /* delay 0 */
    check_yield_until(&CV.queued, 1);
    CHECK_EQ(weft_lock_acquire(&CV.lock), 0);
    CV.main_holds = 1;
    CHECK_EQ(weft_cond_notify(&CV.cond, 1), 1);
    check_yield_n(3); /* it now waits for the lock */
    CHECK_EQ(weft_task_cancel(w[0]), 0);
    check_yield_n(3);
    CHECK_EQ(CV.norder, 0);
    CHECK_EQ(weft_task_done(w[0]), 0);
    CV.main_holds = 0;
    CHECK_EQ(weft_lock_release(&CV.lock), 0);
    CHECK_EQ(weft_await(w[0], NULL), -ECANCELED);
    CHECK_EQ(CV.rc[1], 0);
    CHECK_EQ(CV.locked_on_return[1], 1);
    CHECK_EQ(CV.next_rc[1], -ECANCELED);
    CHECK_EQ(CV.rel_rc[1], 0);
    CHECK_EQ(CV.bad, 0);
    CHECK_EQ(weft_lock_locked(&CV.lock), 0);

    /* Cancelled at entry: -ECANCELED, and the lock was never let go. */
    weft_task *t;
    CE.rc = 1;
    REQUIRE(weft_spawn(cv_cancelled_at_entry, NULL, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(CE.rc, -ECANCELED);
    CHECK_EQ(CE.locked, 1);
    CHECK_EQ(CE.rel, 0);
    CHECK_EQ(weft_lock_locked(&CV.lock), 0);
    return NULL;
}

/* A bounded buffer: producers wait while it is full, consumers while it is
 * empty, each in a predicate loop. */
enum { PC_CAP = 4, PC_PROD = 3, PC_CONS = 3 };

static struct {
    weft_lock lock;
    weft_cond not_full, not_empty;
    long buf[PC_CAP];
    int head, len;
    long per_producer;
    long produced_sum, consumed_sum, consumed_n;
    int producers_left;
    long *seen;
} PC;

static void *pc_producer(void *arg)
{
    long base = P2I(arg) * PC.per_producer;
    for (long i = 0; i < PC.per_producer; i++) {
        long v = base + i + 1;
        CHECK_EQ(weft_lock_acquire(&PC.lock), 0);
        while (PC.len == PC_CAP)
            CHECK_EQ(weft_cond_wait(&PC.not_full), 0);
        PC.buf[(PC.head + PC.len++) % PC_CAP] = v;
        PC.produced_sum += v;
        weft_cond_notify(&PC.not_empty, 1);
        CHECK_EQ(weft_lock_release(&PC.lock), 0);
        if (i % 5 == 0)
            CHECK_EQ(weft_yield(), 0);
    }
    CHECK_EQ(weft_lock_acquire(&PC.lock), 0);
    if (--PC.producers_left == 0)
        weft_cond_notify_all(&PC.not_empty); /* consumers may stop */
    CHECK_EQ(weft_lock_release(&PC.lock), 0);
    return NULL;
}

static void *pc_consumer(void *arg)
{
    (void)arg;
    for (;;) {
        CHECK_EQ(weft_lock_acquire(&PC.lock), 0);
        while (PC.len == 0 && PC.producers_left > 0)
            CHECK_EQ(weft_cond_wait(&PC.not_empty), 0);
        if (PC.len == 0) {
            CHECK_EQ(weft_lock_release(&PC.lock), 0);
            return NULL;
        }
        long v = PC.buf[PC.head];
        PC.head = (PC.head + 1) % PC_CAP;
        PC.len--;
        PC.consumed_sum += v;
        PC.consumed_n++;
        PC.seen[v - 1]++;
        weft_cond_notify(&PC.not_full, 1);
        CHECK_EQ(weft_lock_release(&PC.lock), 0);
        if (v % 3 == 0)
            CHECK_EQ(weft_yield(), 0);
    }
}

static void *case_cond_prodcons(void *arg)
{
    (void)arg;
    memset(&PC, 0, sizeof PC);
    weft_cond nf = WEFT_COND_INIT(&PC.lock), ne = WEFT_COND_INIT(&PC.lock);
    PC.not_full = nf;
    PC.not_empty = ne;
    PC.per_producer = check_scaled(1000);
    PC.producers_left = PC_PROD;
    long total = PC_PROD * PC.per_producer;
    PC.seen = calloc((size_t)total, sizeof *PC.seen);
    REQUIRE(PC.seen);
    weft_task *t[PC_PROD + PC_CONS];
    for (int i = 0; i < PC_CONS; i++)
        REQUIRE(weft_spawn(pc_consumer, NULL, &t[i]) == 0);
    for (int i = 0; i < PC_PROD; i++)
        REQUIRE(weft_spawn(pc_producer, I2P(i), &t[PC_CONS + i]) == 0);
    for (int i = 0; i < PC_PROD + PC_CONS; i++)
        CHECK_EQ(weft_await(t[i], NULL), 0);
    CHECK_EQ(PC.consumed_n, total);
    CHECK_EQ(PC.consumed_sum, total * (total + 1) / 2);
    CHECK_EQ(PC.produced_sum, PC.consumed_sum);
    long wrong = 0;
    for (long i = 0; i < total; i++)
        wrong += PC.seen[i] != 1;
    CHECK_EQ(wrong, 0);
    CHECK_EQ(weft_lock_locked(&PC.lock), 0);
    free(PC.seen);
    return NULL;
}

/* Outside a task. */
static void case_outside_task(void *arg)
{
    (void)arg;
    weft_event ev = WEFT_EVENT_INIT;
    CHECK_EQ(weft_event_wait(&ev), -EPERM);
    CHECK_EQ(weft_event_set(&ev), -EPERM);
    CHECK_EQ(weft_event_is_set(&ev), 0); /* the failed set did nothing */
    CHECK_EQ(weft_event_wait(NULL), -EINVAL);
    weft_semaphore s = WEFT_SEMAPHORE_INIT(1);
    CHECK_EQ(weft_sem_acquire(&s), -EPERM);
    CHECK_EQ(weft_sem_try(&s), -EPERM);
    CHECK_EQ(weft_sem_release(&s), -EPERM);
    CHECK_EQ(weft_sem_value(&s), 1); /* untouched */
    CHECK_EQ(weft_sem_acquire(NULL), -EINVAL);
    weft_lock l = WEFT_LOCK_INIT;
    weft_cond c = WEFT_COND_INIT(&l);
    CHECK_EQ(weft_cond_wait(&c), -EPERM);
    CHECK_EQ(weft_cond_notify(&c, 1), -EPERM);
    CHECK_EQ(weft_cond_notify_all(&c), -EPERM);
    CHECK_EQ(weft_cond_wait(NULL), -EINVAL);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_task", case_outside_task, NULL),
    CHECK_TASK("event_basic", case_event_basic, NULL),
    CHECK_TASK("event_cancel", case_event_cancel, NULL),
    CHECK_TASK("sem_counting", case_sem_counting, NULL),
    CHECK_TASK("sem_fifo", case_sem_fifo, NULL),
    CHECK_TASK("sem_cancel", case_sem_cancel, NULL),
    CHECK_TASK("sem_cancelled_entry", case_sem_cancelled_entry, NULL),
    CHECK_TASK("sem_bounded", case_sem_bounded, NULL),
    CHECK_TASK("sem_limit", case_sem_limit, NULL),
    CHECK_TASK("cond_errors", case_cond_errors, NULL),
    CHECK_TASK("cond_notify", case_cond_notify, NULL),
    CHECK_TASK("cond_cancel", case_cond_cancel, NULL),
    CHECK_TASK("cond_prodcons", case_cond_prodcons, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

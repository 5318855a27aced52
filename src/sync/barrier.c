/*
 * barrier.c - weft_barrier (asyncio.Barrier), with asyncio's four states:
 * FILLING (tasks arrive and wait), DRAINING (released, leaving), RESETTING
 * (reset while tasks were in it: they leave with -EPIPE) and BROKEN.
 *
 * Invariants, between calls:
 * - count_ counts the tasks in the current cycle: arrived and not yet left.
 *   A task leaves when it resumes (released, woken by a reset or an abort,
 *   or cancelled), so count_ includes the tasks woken but not yet run.
 * - FILLING: count_ < parties_; waiters_ holds the arrivals not yet woken,
 *   and it is empty in every other state (the trip, reset and abort wake
 *   them all).
 * - DRAINING and RESETTING: count_ > 0.  The last task to leave turns the
 *   state back to FILLING and wakes blocked_, the tasks that arrived
 *   meanwhile: they are not counted, and join the next cycle.  blocked_ is
 *   empty in FILLING and BROKEN.
 * - BROKEN lasts until a reset, whatever count_ is.
 *
 * A woken task reads its outcome from the state when it resumes, as the
 * asyncio code (a Condition's wait_for) does: nothing is handed over.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>

#include <limits.h>

WEFT__QUEUE_WAIT(barrier_wait, "a barrier", weft_barrier, waiters_);
WEFT__QUEUE_WAIT(barrier_next, "a barrier's next cycle", weft_barrier,
                 blocked_);

enum { FILLING = 0, DRAINING, RESETTING, BROKEN };

/* Why the calling task's suspending calls must fail now (-ECANCELED, or
 * a cancel scope's -ETIMEDOUT), 0 if they may proceed. */
static int stopped(weft__loop *L, weft__record *f)
{
    return weft__check(L, f);
}

static void to_filling(weft__loop *L, weft_barrier *b)
{
    b->state_ = FILLING;
    weft__waitq_wake_all(L, weft__wq(&b->blocked_), 0);
}

/* A task of the cycle leaves it. */
static void leave(weft__loop *L, weft_barrier *b)
{
    if (--b->count_ == 0 && (b->state_ == DRAINING || b->state_ == RESETTING))
        to_filling(L, b);
}

int weft_barrier_init(weft_barrier *b, unsigned parties)
{
    if (!b || parties == 0 || parties > INT_MAX)
        return -EINVAL;
    WEFT__SYNC_CHECK_PLACE(weft__tls_loop, b);
    *b = (weft_barrier)WEFT_BARRIER_INIT(parties);
    return 0;
}

int weft_barrier_wait(weft_barrier *b)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(b, &L, &f);
    if (rc)
        return rc;
    if (weft__waitq_foreign(L, weft__wq(&b->waiters_)) ||
        weft__waitq_foreign(L, weft__wq(&b->blocked_)))
        return -EPERM; /* bound to another loop's tasks */
    if (b->parties_ == 0 || b->parties_ > INT_MAX)
        return -EINVAL;
    /* At the door: wait out a drain or a reset. */
    for (;;) {
        if ((rc = stopped(L, f)))
            return rc;
        if (b->state_ == BROKEN)
            return -EPIPE;
        if (b->state_ == FILLING)
            break;
        rc = weft__waitq_wait(L, weft__wq(&b->blocked_), &barrier_next,
                              WEFT__NO_DEADLINE);
        if (rc)
            return rc;
    }
    int index = (int)b->count_++;
    if (b->count_ == b->parties_) {
        b->state_ = DRAINING; /* the last arrival releases the cycle */
        weft__waitq_wake_all(L, weft__wq(&b->waiters_), 0);
    } else {
        while (rc == 0 && b->state_ == FILLING && !(rc = stopped(L, f)))
            rc = weft__waitq_wait(L, weft__wq(&b->waiters_), &barrier_wait,
                                  WEFT__NO_DEADLINE);
        /* Woken by the release, a reset or an abort: the state now says
         * which.  Cancelled (or timed out) after the release: fails, as
         * in asyncio. */
        if (rc == 0 && !(rc = stopped(L, f)) && b->state_ != DRAINING)
            rc = -EPIPE;
    }
    leave(L, b);
    return rc ? rc : index;
}

int weft_barrier_reset(weft_barrier *b)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(b, &L, &f);
    if (rc)
        return rc;
    if (weft__waitq_foreign(L, weft__wq(&b->waiters_)) ||
        weft__waitq_foreign(L, weft__wq(&b->blocked_)))
        return -EPERM; /* bound to another loop's tasks */
    if (b->count_ == 0) {
        to_filling(L, b);
        return 0;
    }
    b->state_ = RESETTING; /* the last to leave turns it back to FILLING */
    weft__waitq_wake_all(L, weft__wq(&b->waiters_), 0);
    return 0;
}

int weft_barrier_abort(weft_barrier *b)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(b, &L, &f);
    if (rc)
        return rc;
    if (weft__waitq_foreign(L, weft__wq(&b->waiters_)) ||
        weft__waitq_foreign(L, weft__wq(&b->blocked_)))
        return -EPERM; /* bound to another loop's tasks */
    b->state_ = BROKEN;
    weft__waitq_wake_all(L, weft__wq(&b->waiters_), 0);
    weft__waitq_wake_all(L, weft__wq(&b->blocked_), 0);
    return 0;
}

int weft_barrier_parties(const weft_barrier *b)
{
    return b && b->parties_ <= INT_MAX ? (int)b->parties_ : 0;
}

int weft_barrier_n_waiting(const weft_barrier *b)
{
    return b && b->state_ == FILLING ? (int)b->count_ : 0;
}

int weft_barrier_broken(const weft_barrier *b)
{
    return b && b->state_ == BROKEN;
}

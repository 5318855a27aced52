/*
 * lock.c - weft_lock (asyncio.Lock).
 *
 * The holder is recorded by identity (slot and generation), not by record
 * pointer, so a task that ends while holding the lock can never be
 * mistaken for a later task reusing its record; and by its loop's serial
 * beside it, because identities repeat across loops (their 8-bit tag does:
 * the main tasks of two loops often share slot and generation).  While
 * held, the lock is its holder's loop's: other loops' calls are -EPERM.
 * Release hands the lock to the first waiter directly (FIFO fairness; see
 * weft/sync.h); a lock with waiters is never free, so a free lock belongs
 * to no loop.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>

WEFT__QUEUE_WAIT(lock_wait, "a lock", weft_lock, waiters_);

int weft_lock_acquire(weft_lock *l)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(l, &L, &f);
    if (rc)
        return rc;
    WEFT__RETURN_IF_CANCELLED(L, f);
    uint64_t me = weft__identity(L, f);
    if (!l->owner_) {
        l->owner_ = me; /* free: no suspension */
        l->loop_ = L->serial;
        return 0;
    }
    if (l->loop_ != L->serial)
        return -EPERM; /* held by another loop's task */
    if (l->owner_ == me)
        return -EDEADLK;
    /* On 0 the releaser made us the owner before waking us. */
    return weft__waitq_wait(L, weft__wq(&l->waiters_), &lock_wait,
                            WEFT__NO_DEADLINE);
}

int weft_lock_try(weft_lock *l)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(l, &L, &f);
    if (rc)
        return rc;
    if (l->owner_)
        return l->loop_ != L->serial ? -EPERM : -EBUSY;
    l->owner_ = weft__identity(L, f);
    l->loop_ = L->serial;
    return 0;
}

int weft_lock_release(weft_lock *l)
{
    weft__loop *L;
    weft__record *f = weft__sync_self(&L);
    if (!l)
        return -EINVAL;
    WEFT__SYNC_CHECK_PLACE(L, l);
    if (!f || !weft__lock_held(l, L, f))
        return -EPERM;
    weft__record *next = weft__waitq_pop(weft__wq(&l->waiters_));
    if (!next) {
        l->owner_ = 0; /* loop_ means nothing while owner_ is 0 */
        return 0;
    }
    l->owner_ = weft__identity(L, next); /* same loop: loop_ stays */
    weft__ready(L, next, 0);
    return 0;
}

int weft_lock_locked(const weft_lock *l)
{
    return l && l->owner_ != 0;
}

void weft_lock_release_scoped(weft_lock **held)
{
    if (held && *held)
        weft_lock_release(*held);
}

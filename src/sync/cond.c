/*
 * cond.c - weft_cond (asyncio.Condition).
 *
 * wait releases the lock, waits for a notify and takes the lock back before
 * returning - shielded, so that even a cancelled wait returns holding the
 * lock, as asyncio guarantees and as the caller's unlock expects.
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>

WEFT__QUEUE_WAIT(cond_wait, "a condition", weft_cond, waiters_);

int weft_cond_wait(weft_cond *c)
{
    weft__loop *L;
    weft__record *f = weft__sync_self(&L);
    if (!c || !c->lock_)
        return -EINVAL;
    WEFT__SYNC_CHECK_PLACE(L, c);
    WEFT__SYNC_CHECK_PLACE(L, c->lock_);
    if (!f || !weft__lock_held(c->lock_, L, f) ||
        weft__waitq_foreign(L, weft__wq(&c->waiters_)))
        return -EPERM;
    int rc = weft__check(L, f);
    if (rc == 0) {
        weft_lock_release(c->lock_);
        rc = weft__waitq_wait(L, weft__wq(&c->waiters_), &cond_wait,
                              WEFT__NO_DEADLINE);
        f->shield++;
        int lrc = weft_lock_acquire(c->lock_);
        f->shield--;
        if (lrc && !rc)
            rc = lrc;
    }
    return rc;
}

int weft_cond_notify(weft_cond *c, int n)
{
    weft__loop *L;
    weft__record *f = weft__sync_self(&L);
    if (!c || !c->lock_ || n < 0)
        return -EINVAL;
    WEFT__SYNC_CHECK_PLACE(L, c);
    WEFT__SYNC_CHECK_PLACE(L, c->lock_);
    /* As weft_cond_wait (and asyncio): only the lock's holder notifies. */
    if (!f || !weft__lock_held(c->lock_, L, f) ||
        weft__waitq_foreign(L, weft__wq(&c->waiters_)))
        return -EPERM;
    int woken = 0;
    while (woken < n && weft__waitq_wake_one(L, weft__wq(&c->waiters_), NULL))
        woken++;
    return woken;
}

int weft_cond_notify_all(weft_cond *c)
{
    return weft_cond_notify(c, 0x7fffffff);
}

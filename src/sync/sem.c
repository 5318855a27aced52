/*
 * sem.c - weft_semaphore (asyncio.Semaphore and BoundedSemaphore).
 *
 * A release with waiters hands its permit to the first waiter instead of
 * raising the count, so a permit cannot be taken by a newcomer while the
 * woken waiter has not run yet (FIFO fairness), and a count above zero
 * always means nobody waits.
 */
#define _GNU_SOURCE
#include <limits.h>
#include "sync.h"

#include <errno.h>

WEFT__QUEUE_WAIT(sem_wait, "a semaphore", weft_semaphore, waiters_);

int weft_sem_acquire(weft_semaphore *s)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(s, &L, &f);
    if (rc)
        return rc;
    if (weft__waitq_foreign(L, weft__wq(&s->waiters_)))
        return -EPERM; /* bound to another loop's tasks */
    WEFT__RETURN_IF_CANCELLED(L, f);
    if (s->value_ > 0) {
        s->value_--;
        return 0;
    }
    return weft__waitq_wait(L, weft__wq(&s->waiters_), &sem_wait,
                            WEFT__NO_DEADLINE);
}

int weft_sem_try(weft_semaphore *s)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(s, &L, &f);
    if (rc)
        return rc;
    if (weft__waitq_foreign(L, weft__wq(&s->waiters_)))
        return -EPERM; /* bound to another loop's tasks */
    if (s->value_ <= 0)
        return -EBUSY;
    s->value_--;
    return 0;
}

int weft_sem_release(weft_semaphore *s)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(s, &L, &f);
    if (rc)
        return rc;
    if (weft__waitq_foreign(L, weft__wq(&s->waiters_)))
        return -EPERM; /* bound to another loop's tasks */
    if (weft__waitq_wake_one(L, weft__wq(&s->waiters_), NULL))
        return 0;
    /* LONG_MAX permits: one more would overflow the count. */
    if ((s->bound_ && s->value_ >= s->bound_ - 1) || s->value_ == LONG_MAX)
        return -EOVERFLOW;
    s->value_++;
    return 0;
}

long weft_sem_value(const weft_semaphore *s)
{
    return s ? s->value_ : 0;
}

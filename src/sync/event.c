/*
 * event.c - weft_event (asyncio.Event).
 */
#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>

WEFT__QUEUE_WAIT(event_wait, "an event", weft_event, waiters_);

int weft_event_wait(weft_event *ev)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(ev, &L, &f);
    if (rc)
        return rc;
    if (weft__waitq_foreign(L, weft__wq(&ev->waiters_)))
        return -EPERM; /* bound to another loop's tasks */
    WEFT__RETURN_IF_CANCELLED(L, f);
    if (ev->set_)
        return 0;
    return weft__waitq_wait(L, weft__wq(&ev->waiters_), &event_wait,
                            WEFT__NO_DEADLINE);
}

int weft_event_set(weft_event *ev)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(ev, &L, &f);
    if (rc)
        return rc;
    if (weft__waitq_foreign(L, weft__wq(&ev->waiters_)))
        return -EPERM; /* bound to another loop's tasks */
    ev->set_ = 1;
    weft__waitq_wake_all(L, weft__wq(&ev->waiters_), 0);
    return 0;
}

int weft_event_clear(weft_event *ev)
{
    if (!ev)
        return -EINVAL;
    WEFT__SYNC_CHECK_PLACE(weft__tls_loop, ev);
    ev->set_ = 0;
    return 0;
}

int weft_event_is_set(const weft_event *ev)
{
    return ev && ev->set_;
}

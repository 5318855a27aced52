/*
 * handoff.h - switching from the running task to a chosen one, inline: the
 * generator and the scheduler's hot paths, where a function call per
 * switch would cost as much as the switch itself.
 */
#ifndef WEFT_HANDOFF_H
#define WEFT_HANDOFF_H

#include "core.h"
#include "coro/overflow.h"
#include "coro/switch.h"

/* Switches from self to next (NULL: the host).  Returns when something
 * switches back to self. */
static inline void weft__leave(weft__loop *L, weft__record *self,
                               weft__record *next)
{
    if (!self->stack.guarded && !weft__canary_ok(self->stack.lo))
        weft__overflow_report(L, self, "its stack canary was overwritten");
    weft__running_set(L, next);
    weft__switch(&self->exec, next ? &next->exec : &L->host, false);
}

/* Switches directly to `to` (blocked in a hand-off wait, or was just given a
 * stack), the caller having set its own wait; the ready queue is bypassed
 * but the switch budget is spent as usual.  Returns the caller's wake_rc
 * once something resumes it. */
static inline int weft__handoff_inline(weft__loop *L, weft__record *self,
                                       weft__record *to)
{
    if (__builtin_expect(L->budget <= 0, 0)) {
        /* Budget spent: `to` queues like any other ready task. */
        to->wait = WEFT__WAIT_READY;
        weft__ring_push(L, to->idx);
        return weft__suspend(L);
    }
    weft__budget_spend(L);
    to->wait = WEFT__WAIT_NONE;
    int saved = *L->errno_ptr;
    weft__leave(L, self, to);
    *L->errno_ptr = saved;
    return self->wake_rc;
}

#endif

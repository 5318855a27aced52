/*
 * waitq.c - FIFO queues of waiting tasks, the building block of locks,
 * events, conditions, semaphores and queues.
 *
 * Links live in the waiting task's record, so waiting never allocates.
 * A waker hands over what it grants (a lock, a permit, an item) through
 * the record's `handoff` field and removes the waiter from the queue in the
 * same step: once woken with 0, the waiter owns the grant even if it is
 * cancelled before it runs again - nothing is lost and nothing is granted
 * twice.  A waiter that leaves by timeout or cancellation is unlinked by
 * weft__wake and was granted nothing.
 */
#define _GNU_SOURCE
#include "core.h"

#include <errno.h>
#include <stdio.h>

void weft__waitq_push(weft__waitq *q, weft__record *f)
{
    weft__list_push(q, &f->q_link);
    f->q_owner = q;
}

bool weft__waitq_ours(const weft__loop *L, const weft__waitq *q)
{
    /* A waiter is a running task: the slot of its number in its own loop
     * names its record, which no slot of another loop does.  (Records are
     * not all in the loop's arena: its address would not tell.) */
    const weft__record *r =
        weft__container_of(q->head, const weft__record, q_link);
    /* Written by its own loop's thread (weft__record_identify). */
    uint32_t i = __atomic_load_n(&r->idx, __ATOMIC_RELAXED);
    return i < L->slot_top && (L->slots[i].flags & WEFT__SF_RECORD) &&
           L->slots[i].a.rec == r;
}

void weft__waitq_remove(weft__waitq *q, weft__record *f)
{
    weft__list_remove(q, &f->q_link);
    f->q_owner = NULL;
}

weft__record *weft__waitq_pop(weft__waitq *q)
{
    weft__link *n = weft__list_pop(q);
    if (!n)
        return NULL;
    weft__record *f = weft__container_of(n, weft__record, q_link);
    f->q_owner = NULL;
    return f;
}

/* Woken by a timer or cancellation: out of the queue, granted nothing. */
void weft__waitq_leave(weft__loop *L, weft__record *r)
{
    (void)L;
    if (r->q_owner)
        weft__waitq_remove(r->q_owner, r);
}

/* "waiting on a lock (weft_lock 0x...)": the primitive's kind, and the
 * object, at the address the program gave weft - or, for a kind that does
 * not say, where its wait queue lies - to tell two of them apart. */
void weft__waitq_describe(weft__loop *L, weft__record *r, char *buf,
                          size_t len)
{
    (void)L;
    const weft__wait_kind *k = r->kind;
    const char *what = k->name ? k->name : "a wait queue";
    if (k->object && r->q_owner)
        snprintf(buf, len, "waiting on %s (%s %p)", what, k->type,
                 k->object(r->q_owner));
    else
        snprintf(buf, len, "waiting on %s (wait queue at %p)", what,
                 (void *)r->q_owner);
}

const weft__wait_kind weft__wait_queue = {
    .leave = weft__waitq_leave,
    .describe = weft__waitq_describe,
};

int weft__waitq_wait(weft__loop *L, weft__waitq *q,
                     const weft__wait_kind *kind, uint64_t deadline)
{
    weft__record *f = L->cur;
    /* f->handoff: what the caller offers, if any */
    weft__waitq_push(q, f);
    return weft__block(L, f, kind ? kind : &weft__wait_queue, deadline);
}

weft__record *weft__waitq_wake_one(weft__loop *L, weft__waitq *q,
                                  void *handoff)
{
    weft__record *f = weft__waitq_pop(q);
    if (f) {
        f->handoff = handoff;
        weft__ready(L, f, 0);
    }
    return f;
}

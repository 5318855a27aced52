/*
 * sync.h - what the synchronization primitives share: the check that a call
 * comes from a task, and the view of their private waiter fields as a
 * weft__waitq.
 */
#ifndef WEFT_SYNC_INTERNAL_H
#define WEFT_SYNC_INTERNAL_H

#include "../core.h"

#include <errno.h>
#include <stddef.h>

_Static_assert(sizeof(weft_waiters) == sizeof(weft__waitq),
               "weft_waiters mirrors weft__waitq");

static inline weft__waitq *weft__wq(weft_waiters *w)
{
    return (weft__waitq *)(void *)w;
}

/* The calling task, or NULL (then the caller returns -EPERM). */
static inline weft__record *weft__sync_self(weft__loop **Lp)
{
    weft__loop *L = weft__tls_loop;
    *Lp = L;
    return L ? L->cur : NULL;
}

/* Debug builds (WEFT_CHECKS): a primitive on the shared stack of compact
 * tasks is refused - other tasks' calls, and the loop when a waiter is
 * cancelled, write into it while the task whose frame holds it is away
 * (docs/compact-tasks.md). */
#define WEFT__SYNC_CHECK_PLACE(L, obj) WEFT__REFUSE_ON_SHARED_STACK(L, obj)

/* What every call checks first: the object (-EINVAL if NULL) and that a
 * task of a loop is calling (-EPERM otherwise).  0 when both hold. */
static inline int weft__sync_enter(const void *obj, weft__loop **Lp,
                                   weft__record **fp)
{
    *fp = weft__sync_self(Lp);
    if (!obj)
        return -EINVAL;
    WEFT__SYNC_CHECK_PLACE(*Lp, obj);
    if (!*fp)
        return -EPERM;
    return 0;
}

/* A task's identity for ownership within its loop: its slot, its loop's
 * tag and its slot's generation (never 0, so neither is this).  Another
 * loop may have a task with the same identity (the tag has 8 bits):
 * whoever keeps it keeps the loop's serial too.  Computed, not kept in the
 * record: a load from the slot array, where a field would cost every
 * record 8 bytes. */
static inline uint64_t weft__identity(weft__loop *L, weft__record *f)
{
    return (uint64_t)f->idx | (uint64_t)L->tag << 24 |
           (uint64_t)L->slots[f->idx].gen << 32;
}

/* Does task f of loop L hold lock l? */
static inline bool weft__lock_held(const weft_lock *l, weft__loop *L,
                                   weft__record *f)
{
    /* One branch: both differ from f's only on misuse. */
    return ((l->owner_ ^ weft__identity(L, f)) | (l->loop_ ^ L->serial)) == 0;
}

/* Is q waited on by tasks of another loop?  A primitive in the caller's
 * storage belongs to the loop whose tasks hold it or wait on it, while they
 * do: any other loop's call is then refused (-EPERM).  Its first waiter
 * says which loop (weft__waitq_ours). */
static inline bool weft__waitq_foreign(const weft__loop *L,
                                       const weft__waitq *q)
{
    return q->head && !weft__waitq_ours(L, q);
}

/* Defines `var`, the wait kind of a primitive's wait queue: the queue's
 * hooks, and for reports `what` ("a lock"), the object's type and objfn,
 * which maps the wait queue to the object as the program knows it. */
#define WEFT__QUEUE_WAIT_OBJ(var, what, type_, objfn)                         \
    static const weft__wait_kind var = {.leave = weft__waitq_leave,           \
                                        .describe = weft__waitq_describe,     \
                                        .name = (what),                       \
                                        .type = (type_),                      \
                                        .object = (objfn)}

/* The same for a primitive in the caller's storage: the object is the
 * struct `type` whose weft_waiters `member` the queue is. */
#define WEFT__QUEUE_WAIT(var, what, type, member)                             \
    static const void *var##_object(const weft__waitq *q)                     \
    {                                                                         \
        return (const char *)q - offsetof(type, member);                      \
    }                                                                         \
    WEFT__QUEUE_WAIT_OBJ(var, what, #type, var##_object)

/* Wakes every waiter with rc. */
static inline void weft__waitq_wake_all(weft__loop *L, weft__waitq *q, int rc)
{
    weft__record *f;
    while ((f = weft__waitq_pop(q)))
        weft__ready(L, f, rc);
}

#endif

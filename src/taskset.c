/*
 * taskset.c - task sets (Tokio's JoinSet, asyncio.as_completed): tasks
 * taken back one by one in the order they finish.
 *
 * A set is a join set of its owner (join.c) told of every finishing member
 * (notify_each), which it appends to a ring of finished members; taking one
 * pops the ring and hands the slot back to the caller as an owned handle.
 * The ring is sized at add time to hold every member, so a finishing member
 * never needs memory.  The running members are not listed anywhere: the
 * rare walks that need them (cancellation, cycle checks) find them by their
 * waiter_of, which holds the set's id.
 *
 * Callers hold handles (handle.h) owned by the set's loop: a freed or
 * made-up handle is -EINVAL, another loop's -EPERM, and the set is not
 * read before the handle is found live and of this loop.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"
#include "handle.h"

#include <errno.h>
#include <string.h>

typedef struct weft__taskset weft__taskset;

struct weft__taskset {
    weft__joinset js; /* first */
    weft_taskset *handle; /* what the caller holds */
    weft__loop *L;
    uint32_t members;    /* added and not taken: running + ring */
    uint32_t *ring;      /* finished, not taken: slot indices */
    uint32_t cap;        /* a power of two, >= members */
    uint32_t head, tail; /* free-running */
};

/* The set behind h: 0, or -EINVAL (not a live set's handle) or -EPERM
 * (another loop's set, or no loop here). */
static int lookup(const weft_taskset *h, weft__taskset **t)
{
    return weft__handle_owned(h, WEFT__H_TASKSET, weft__tls_loop, (void **)t);
}

static void set_on_done(weft__loop *L, weft__joinset *js, uint32_t child)
{
    weft__taskset *t = (weft__taskset *)js;
    t->ring[t->tail++ & (t->cap - 1)] = child;
    weft__join_wake(L, js);
}

static void set_targets(weft__loop *L, weft__joinset *js, weft__walk *w)
{
    for (uint32_t i = 1; i < L->slot_top; i++) {
        weft__slot *s = &L->slots[i];
        if ((s->flags & WEFT__SF_JOINED) && L->waiter_of[i] == js->id &&
            (s->state == WEFT__SLOT_PENDING || s->state == WEFT__SLOT_RUNNING))
            weft__walk_visit(L, w, i);
    }
}

/* Drops the finished members not taken: failures are reported. */
static void drop_finished(weft__loop *L, weft__taskset *t)
{
    char label[64];
    while (t->head != t->tail) {
        uint32_t idx = t->ring[t->head++ & (t->cap - 1)];
        int err = weft__slot_err(&L->slots[idx]);
        if (err && err != -ECANCELED) {
            const char *msg = weft__msg_peek(L, idx);
            weft__report_add(L,
                             "weft: task %s of a task set failed and was "
                             "never taken: %s%s%s",
                             weft__task_label(L, idx, label, sizeof label),
                             weft_strerror(err), msg ? ": " : "",
                             msg ? msg : "");
        }
        weft__collect(L, idx, NULL, false);
    }
}

static void release(weft__loop *L, weft__taskset *t)
{
    drop_finished(L, t);
    weft__free(t->ring);
    weft__handle_free(t->handle, WEFT__H_TASKSET);
    weft__free(t);
}

static void set_abandon(weft__loop *L, weft__joinset *js)
{
    release(L, (weft__taskset *)js);
}

int weft_taskset_new(weft_taskset **out)
{
    weft__loop *L = weft__tls_loop;
    if (!out)
        return -EINVAL;
    if (!L || !L->cur)
        return -EPERM;
    weft__taskset *t = weft__calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    if (weft__handle_new(WEFT__H_TASKSET, t, L, (void **)&t->handle)) {
        weft__free(t);
        return -ENOMEM;
    }
    t->js.notify_each = true;
    t->js.interruptible = true;
    t->js.on_done = set_on_done;
    t->js.targets = set_targets;
    t->js.abandon = set_abandon;
    int rc = weft__join_open(L, &t->js);
    if (rc) {
        weft__handle_free(t->handle, WEFT__H_TASKSET);
        weft__free(t);
        return rc;
    }
    t->L = L;
    *out = t->handle;
    return 0;
}

/* Room in the ring for one more member. */
static int reserve(weft__taskset *t)
{
    if (t->members < t->cap)
        return 0;
    uint32_t cap = t->cap ? t->cap * 2 : 16;
    uint32_t *r = weft__malloc((size_t)cap * sizeof *r);
    if (!r)
        return -ENOMEM;
    uint32_t n = 0;
    for (uint32_t p = t->head; p != t->tail; p++)
        r[n++] = t->ring[p & (t->cap - 1)];
    weft__free(t->ring);
    t->ring = r;
    t->cap = cap;
    t->head = 0;
    t->tail = n;
    return 0;
}

/* The owner's checks: 0 and *tp, or -EINVAL / -EPERM. */
static int owner_check(weft_taskset *h, weft__taskset **tp, weft__loop **Lp)
{
    weft__loop *L = weft__tls_loop;
    int rc = lookup(h, tp);
    if (rc)
        return rc;
    if (L->cur != (*tp)->js.owner)
        return -EPERM;
    *Lp = L;
    return 0;
}

int weft_taskset_add(weft_taskset *h, weft_task *task)
{
    weft__loop *L;
    weft__taskset *t;
    int rc = owner_check(h, &t, &L);
    if (rc)
        return rc;
    weft__loop *L2;
    uint32_t idx;
    if ((rc = weft__decode(task, true, &L2, &idx)))
        return rc;
    if (idx == L->cur->idx || (L->slots[idx].state == WEFT__SLOT_RUNNING &&
                               weft__waits_on(L, idx, L->cur->idx)))
        return -EDEADLK;
    if ((rc = reserve(t)))
        return rc;
    weft__slot *s = &L->slots[idx];
    s->flags = (uint8_t)((s->flags & ~WEFT__SF_OWNED) | WEFT__SF_AWAITED);
    t->members++;
    if (s->state == WEFT__SLOT_DONE)
        t->ring[t->tail++ & (t->cap - 1)] = idx;
    else
        weft__join_add(L, &t->js, idx);
    return 0;
}

int weft_taskset_next(weft_taskset *h, weft_task **task)
{
    weft__loop *L;
    weft__taskset *t;
    if (!task)
        return -EINVAL;
    int rc = owner_check(h, &t, &L);
    if (rc)
        return rc;
    weft__record *self = L->cur;
    WEFT__RETURN_IF_CANCELLED(L, self);
    while (t->head == t->tail) {
        if (t->members == 0)
            return 0;
        if ((rc = weft__join_wait(L, &t->js)))
            return rc;
    }
    uint32_t idx = t->ring[t->head++ & (t->cap - 1)];
    weft__slot *s = &L->slots[idx];
    s->flags = (uint8_t)((s->flags | WEFT__SF_OWNED) &
                         ~(WEFT__SF_AWAITED | WEFT__SF_JOINED));
    t->members--;
    *task = weft__encode(L, idx, false);
    return 1;
}

int weft_taskset_len(const weft_taskset *h)
{
    weft__taskset *t;
    int rc = lookup(h, &t);
    if (rc)
        return rc;
    return (int)t->members;
}

int weft_taskset_free(weft_taskset *h)
{
    weft__loop *L;
    weft__taskset *t;
    int rc = owner_check(h, &t, &L);
    if (rc)
        return rc;
    weft__join_drain(L, &t->js);
    weft__join_close(L, &t->js);
    release(L, t);
    return 0;
}

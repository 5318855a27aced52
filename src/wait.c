/*
 * wait.c - weft_wait (asyncio.wait): waiting until the first, the first
 * failed or all of some tasks have finished, without consuming or
 * cancelling any of them.
 *
 * The tasks are claimed for the duration of the call by a passive,
 * interruptible join set: passive, so that cancelling the caller does not
 * cancel them; interruptible, so that a cancelled caller or an expired
 * scope ends the wait.  On the way out the claims are given back, whatever
 * happened.  The set, its counts and a copy of the handles live in one
 * allocation made before the caller suspends, not on the caller's stack
 * (nor in its array): finishing children write the counts and
 * cancellation and cycle walks read the handles while the caller is
 * suspended, and nothing but the caller itself touches the caller's stack
 * while it is suspended in a call.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

typedef struct wait_state {
    weft__joinset js; /* first */
    size_t n;
    int mode;
    size_t done;
    bool failed;
    weft_task *tasks[]; /* a copy of the caller's array: walks read it */
} wait_state;

static bool satisfied(const wait_state *w)
{
    switch (w->mode) {
    case WEFT_WAIT_FIRST_COMPLETED:
        return w->done > 0;
    case WEFT_WAIT_FIRST_ERROR:
        return w->failed || w->done == w->n;
    default:
        return w->done == w->n;
    }
}

static void wait_on_done(weft__loop *L, weft__joinset *js, uint32_t child)
{
    wait_state *w = (wait_state *)js;
    w->done++;
    if (weft__slot_err(&L->slots[child]))
        w->failed = true;
    if (satisfied(w))
        weft__join_wake(L, js);
}

static void wait_targets(weft__loop *L, weft__joinset *js, weft__walk *wk)
{
    wait_state *w = (wait_state *)js;
    for (size_t i = 0; i < w->n; i++) {
        weft__loop *L2;
        uint32_t idx;
        if (!weft__decode(w->tasks[i], false, &L2, &idx) &&
            L->slots[idx].state != WEFT__SLOT_DONE)
            weft__walk_visit(L, wk, idx);
    }
}

/* Gives back the claims on tasks[0, upto). */
static void unclaim(weft__loop *L, wait_state *w, size_t upto)
{
    for (size_t i = 0; i < upto; i++) {
        weft__loop *L2;
        uint32_t idx;
        if (!weft__decode(w->tasks[i], false, &L2, &idx))
            L->slots[idx].flags =
                (uint8_t)((L->slots[idx].flags | WEFT__SF_OWNED) &
                          ~(WEFT__SF_AWAITED | WEFT__SF_JOINED));
    }
}

/* Claims every task (refusing a repeated one: the first claim holds it). */
static int claim_all(weft__loop *L, weft__record *self, wait_state *w)
{
    for (size_t i = 0; i < w->n; i++) {
        weft__loop *L2;
        uint32_t idx;
        int rc = weft__decode(w->tasks[i], false, &L2, &idx);
        if (!rc && (L->slots[idx].flags & WEFT__SF_AWAITED))
            rc = -EBUSY;
        if (!rc &&
            (idx == self->idx || (L->slots[idx].state == WEFT__SLOT_RUNNING &&
                                  weft__waits_on(L, idx, self->idx))))
            rc = -EDEADLK;
        /* Only handles the caller owns: a borrowed one (of a detached
         * task, say) must not come back owned. */
        if (!rc && !(L->slots[idx].flags & WEFT__SF_OWNED))
            rc = -EINVAL;
        if (rc) {
            unclaim(L, w, i);
            return rc;
        }
        weft__slot *s = &L->slots[idx];
        s->flags &= (uint8_t)~WEFT__SF_OWNED; /* refused to awaits meanwhile */
        if (s->state == WEFT__SLOT_DONE) {
            s->flags |= WEFT__SF_AWAITED;
            w->done++;
            if (weft__slot_err(s))
                w->failed = true;
        } else {
            weft__join_add(L, &w->js, idx);
        }
    }
    return 0;
}

int weft_wait(weft_task **tasks, size_t n, int mode)
{
    weft__loop *L = weft__tls_loop;
    weft__record *self = L ? L->cur : NULL;
    if ((n && !tasks) || mode < WEFT_WAIT_FIRST_COMPLETED ||
        mode > WEFT_WAIT_ALL)
        return -EINVAL;
    if (!self)
        return -EPERM;
    WEFT__RETURN_IF_CANCELLED(L, self);
    if (n == 0)
        return 0;
    /* On the heap, handles copied: finishing children and walks use them
     * while the caller sleeps. */
    if (n > (SIZE_MAX - sizeof(wait_state)) / sizeof(weft_task *))
        return -ENOMEM;
    wait_state *w = weft__malloc(sizeof *w + n * sizeof(weft_task *));
    if (!w)
        return -ENOMEM;
    *w = (wait_state){.n = n, .mode = mode};
    memcpy(w->tasks, tasks, n * sizeof(weft_task *));
    w->js.notify_each = true;
    w->js.passive = true;
    w->js.interruptible = true;
    w->js.on_done = wait_on_done;
    w->js.targets = wait_targets;
    int rc = weft__join_open(L, &w->js);
    if (rc)
        goto out;
    if ((rc = claim_all(L, self, w))) {
        weft__join_close(L, &w->js);
        goto out;
    }
    while (!satisfied(w) && !(rc = weft__join_wait(L, &w->js))) {
    }
    unclaim(L, w, n);
    weft__join_close(L, &w->js);
    if (!rc)
        rc = (int)(w->done > INT32_MAX ? INT32_MAX : w->done);
out:
    weft__free(w);
    return rc;
}

/*
 * join.c - join sets: one task waiting for several (weft_gather, weft_map,
 * task groups, task sets, weft_wait).
 *
 * A set is registered in the loop's table of open sets (an id, so that a
 * child's waiter_of can name it in 32 bits) and linked into its owner's
 * chain of open sets, innermost first.  A finishing child reports to its
 * set (weft__join_child_done, inline in core.h) whether or not the owner is
 * blocked at that moment, and the set's feature decides when to wake the
 * owner.  Cancelling the owner cancels the children of its sets (walk.c);
 * a cancelled cancel scope cancels those of the sets opened inside it
 * (weft__interrupt).
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"

#include <stdio.h>
#include <string.h>

#define FREE_TAG 1u

/* Waiting for all: cancellation passes to the children (visited through
 * the owner's chain of sets) and the owner waits on.  Waiting for the next
 * of several: cancellation wakes it. */
static bool join_targets(weft__loop *L, weft__record *r, weft__walk *w)
{
    (void)L;
    (void)w;
    weft__joinset *js = r->wait_obj;
    return !js->interruptible;
}

static void join_describe(weft__loop *L, weft__record *r, char *buf, size_t len)
{
    (void)L;
    weft__joinset *js = r->wait_obj;
    snprintf(buf, len, "%s %u task(s)",
             js->interruptible ? "waiting for one of" : "joining",
             js->remaining);
}

const weft__wait_kind weft__wait_join = {
    .targets = join_targets,
    .describe = join_describe,
};

int weft__join_wait(weft__loop *L, weft__joinset *js)
{
    weft__record *r = js->owner;
    r->wait_obj = js;
    int rc = weft__block(L, r, &weft__wait_join, WEFT__NO_DEADLINE);
    r->wait_obj = NULL;
    return rc;
}

void weft__join_wake(weft__loop *L, weft__joinset *js)
{
    weft__record *owner = js->owner;
    if (owner->wait == WEFT__WAIT_BLOCKED && owner->kind == &weft__wait_join &&
        owner->wait_obj == js)
        weft__ready(L, owner, 0);
}

static int grow(weft__loop *L)
{
    uint32_t cap = L->joinsets_cap ? L->joinsets_cap * 2 : 16;
    weft__joinset **t = weft__malloc(cap * sizeof *t);
    if (!t)
        return -ENOMEM;
    if (L->joinsets_cap)
        memcpy(t, L->joinsets, L->joinsets_cap * sizeof *t);
    weft__free(L->joinsets);
    /* Ids [old cap, cap) are free (id 0 never is used). */
    for (uint32_t i = cap; i-- > (L->joinsets_cap ? L->joinsets_cap : 1);) {
        t[i] = (weft__joinset *)(uintptr_t)((uintptr_t)L->join_free << 1 |
                                            FREE_TAG);
        L->join_free = i;
    }
    L->joinsets = t;
    L->joinsets_cap = cap;
    return 0;
}

int weft__join_register(weft__loop *L, weft__joinset *js)
{
    if (!L->join_free && grow(L))
        return -ENOMEM;
    uint32_t id = L->join_free;
    L->join_free = (uint32_t)((uintptr_t)L->joinsets[id] >> 1);
    L->joinsets[id] = js;
    js->id = id;
    js->owner = NULL;
    js->outer = NULL;
    return 0;
}

void weft__join_unregister(weft__loop *L, weft__joinset *js)
{
    L->joinsets[js->id] =
        (weft__joinset *)(uintptr_t)((uintptr_t)L->join_free << 1 | FREE_TAG);
    L->join_free = js->id;
}

int weft__join_open(weft__loop *L, weft__joinset *js)
{
    if (L->cur->njoins == UINT8_MAX)
        return -EOVERFLOW; /* the record counts them in a byte */
    int rc = weft__join_register(L, js);
    if (rc)
        return rc;
    weft__record *r = L->cur;
    js->owner = r;
    js->depth = r->nscopes;
    js->outer = r->join;
    r->join = js;
    r->njoins++;
    return 0;
}

void weft__join_close(weft__loop *L, weft__joinset *js)
{
    weft__joinset **p = &js->owner->join;
    while (*p != js)
        p = &(*p)->outer;
    *p = js->outer;
    js->owner->njoins--;
    weft__join_unregister(L, js);
}

/*
 * join.c - join sets: one task waiting for several (weft_gather, weft_map,
 * task groups).
 *
 * The owner registers itself as the waiter of each child (L->waiter_of) and
 * points its record's `join` at the set; a finishing child then reports to
 * the set (weft__join_child_done, inline in core.h) whether or not the owner
 * is blocked at that moment, and the set's feature decides when to wake the
 * owner.  Cancelling the owner cancels the children still registered
 * (through the set's targets) and the owner wakes when they have finished.
 */
#define _GNU_SOURCE
#include "core.h"

#include <stdio.h>

static bool join_targets(weft__loop *L, weft__record *r, weft__walk *w)
{
    (void)L;
    (void)r;
    (void)w;
    return true; /* walked through r->join (weft__walk_targets) */
}

static void join_describe(weft__loop *L, weft__record *r, char *buf,
                          size_t len)
{
    (void)L;
    snprintf(buf, len, "joining %u task(s)",
             r->join ? r->join->remaining : 0);
}

const weft__wait_kind weft__wait_join = {
    .targets = join_targets,
    .describe = join_describe,
};

void weft__join_wake(weft__loop *L, weft__record *owner)
{
    if (owner->wait == WEFT__WAIT_BLOCKED && owner->kind == &weft__wait_join)
        weft__ready(L, owner, 0);
}

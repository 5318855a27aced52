/*
 * walk.c - walks over who waits for whom: cancellation passes from a
 * waiter to the tasks it waits for (an awaited task, a gather's children, a
 * generator's producer), and a wait that would close a cycle is refused.
 *
 * Each wait kind names the tasks it waits for through its `targets` hook
 * (a join set through its own); the walk keeps the records still to expand
 * on an intrusive stack (walk_next), and marks the records it has seen with
 * the loop's walk epoch, so that a deep chain or a wide tree costs neither
 * recursion nor allocation, and a shared subtree is expanded once.
 */
#define _GNU_SOURCE
#include "core.h"

void weft__walk_push(weft__loop *L, weft__walk *w, weft__record *r)
{
    if (r->walk_epoch == L->walk_epoch)
        return;
    r->walk_epoch = L->walk_epoch;
    r->walk_next = w->stack;
    w->stack = r;
}

void weft__walk_visit(weft__loop *L, weft__walk *w, uint32_t idx)
{
    if (w->found || !idx)
        return;
    if (w->visit(L, w, idx))
        w->found = true;
}

bool weft__walk_targets(weft__loop *L, weft__record *r, weft__walk *w,
                        bool passive)
{
    for (weft__joinset *js = r->join; js; js = js->outer)
        if (passive || !js->passive)
            js->targets(L, js, w);
    if (r->wait != WEFT__WAIT_BLOCKED)
        return true;
    return r->kind->targets && r->kind->targets(L, r, w);
}

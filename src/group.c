/*
 * group.c - task groups (asyncio.TaskGroup, trio's nursery).
 *
 * A group is a join set of its owner (join.c) plus a cancel scope opened
 * in the owner (scope.c).  Children register with the set when spawned, by
 * the owner or by any other task of the loop; the set is told of failures
 * and of the last child (not of every success: the inline path in core.h
 * settles those).  The first failure cancels the scope - which wakes the
 * owner's calls inside the group - and the children still running.
 *
 * The group keeps its children's slots (finished, not owned by anyone) and
 * their failures until weft_group_free, so that the borrowed handles it gave
 * out can still be queried after the wait, as asyncio's task objects can.
 *
 * The first failure cancels the group's scope at once (the owner's next
 * call in the body fails) and the other children at the loop's next turn
 * (the groups' loop service does it): children already woken in the turn
 * of the failure run first and may fail on their own, as asyncio's done
 * callbacks run after the tasks already scheduled - so several failures in
 * one turn are all kept.  For that, the group's join set counts as opened
 * outside its own scope: the scope's cancellation does not reach the
 * children through the owner (weft__interrupt); outer scopes' does.
 *
 * If the owner returns without waiting, the core cancels and joins the
 * children (weft__task_left_open) and calls group_abandon, which reports
 * the failures and frees the group.
 *
 * Callers hold handles (handle.h) owned by the group's loop: a freed or
 * made-up handle is -EINVAL, another loop's -EPERM, and the group is not
 * read before the handle is found live and of this loop.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"
#include "handle.h"

#include <errno.h>
#include <string.h>

#define MSG_MAX 4096

typedef struct failure {
    uint32_t idx;
    int err;
    char *msg; /* owned, may be NULL */
} failure;

typedef struct weft__group weft__group;

struct weft__group {
    weft__joinset js; /* first: the loop's set table points at it */
    weft_group *handle; /* what the caller holds */
    bool waited;
    bool failed;     /* a child failed: the group is (being) cancelled */
    bool pending;    /* in the service's list, to cancel at the next turn */
    weft__link pend; /* in group_service.pending */
    struct group_service *svc;
    weft__loop *L;
    weft_scope *scope;
    uint32_t *kids; /* every child spawned, in spawn order */
    uint32_t nkids, cap;
    failure *fails; /* in completion order */
    uint32_t nfails, fails_cap;
};

typedef struct group_service {
    weft__service svc;  /* first */
    weft__list pending; /* groups to cancel at the next turn */
} group_service;

/* The group behind h: 0, or -EINVAL (not a live group's handle) or
 * -EPERM (another loop's group, or no loop here). */
static int lookup(const weft_group *h, weft__group **g)
{
    return weft__handle_owned(h, WEFT__H_GROUP, weft__tls_loop, (void **)g);
}

/* kids[] may hold 0 where a spawn failed (a position is reserved before
 * the spawn: an eager child may spawn into the group meanwhile). */
static void cancel_kids(weft__loop *L, weft__group *g)
{
    for (uint32_t i = 0; i < g->nkids; i++)
        if (g->kids[i] && L->slots[g->kids[i]].state != WEFT__SLOT_DONE)
            weft__cancel(L, g->kids[i]);
}

static void unpend(weft__group *g)
{
    if (g->pending) {
        weft__list_remove(&g->svc->pending, &g->pend);
        g->pending = false;
    }
}

/* Cancels the group: its scope, then the children still running. */
static void cancel_now(weft__loop *L, weft__group *g)
{
    unpend(g);
    weft__scope_cancel(g->scope);
    cancel_kids(L, g);
}

static void groups_turn(weft__loop *L, weft__service *sv)
{
    group_service *gs = (group_service *)sv;
    weft__link *n;
    while ((n = gs->pending.head))
        cancel_now(L, weft__container_of(n, weft__group, pend));
}

static void groups_close(weft__loop *L, weft__service *sv)
{
    (void)L;
    weft__free(sv);
}

static const weft__service_ops group_service_ops = {
    .turn = groups_turn,
    .close = groups_close,
};

static group_service *service_get(weft__loop *L)
{
    return (group_service *)weft__service_get(L, &group_service_ops,
                                              sizeof(group_service));
}

/* Keeps a failure; without memory for it, it is reported on stderr now
 * rather than lost. */
static void keep_failure(weft__loop *L, weft__group *g, uint32_t idx, int err)
{
    const char *msg = weft__msg_peek(L, idx);
    if (g->nfails == g->fails_cap) {
        uint32_t cap = g->fails_cap ? g->fails_cap * 2 : 4;
        failure *f = weft__malloc(cap * sizeof *f);
        if (!f) {
            weft__report_add(L, "weft: task #%u in a group failed: %s%s%s", idx,
                             weft_strerror(err), msg ? ": " : "",
                             msg ? msg : "");
            return;
        }
        if (g->nfails)
            memcpy(f, g->fails, g->nfails * sizeof *f);
        weft__free(g->fails);
        g->fails = f;
        g->fails_cap = cap;
    }
    failure *f = &g->fails[g->nfails++];
    f->idx = idx;
    f->err = err;
    f->msg = msg ? weft__strndup(msg, MSG_MAX) : NULL;
}

/* Child idx finished: a failure is kept, and the first one cancels the
 * group. */
static void child_done(weft__loop *L, weft__group *g, uint32_t idx)
{
    int err = weft__slot_err(&L->slots[idx]);
    if (!err || err == -ECANCELED)
        return;
    keep_failure(L, g, idx, err);
    if (!g->failed) {
        g->failed = true;
        weft__scope_cancel(g->scope);
        g->pending = true;
        weft__list_push(&g->svc->pending, &g->pend);
    }
}

static void group_on_done(weft__loop *L, weft__joinset *js, uint32_t child)
{
    child_done(L, (weft__group *)js, child);
    if (js->remaining == 0)
        weft__join_wake(L, js);
}

static void group_targets(weft__loop *L, weft__joinset *js, weft__walk *w)
{
    weft__group *g = (weft__group *)js;
    for (uint32_t i = 0; i < g->nkids; i++)
        weft__walk_visit(L, w, g->kids[i]); /* skips 0 */
}

/* Frees the group and the finished children's slots. */
static void release(weft__loop *L, weft__group *g)
{
    unpend(g);
    for (uint32_t i = 0; i < g->nkids; i++)
        if (g->kids[i])
            weft__collect(L, g->kids[i], NULL, false);
    for (uint32_t i = 0; i < g->nfails; i++)
        weft__free(g->fails[i].msg);
    weft__free(g->fails);
    weft__free(g->kids);
    weft__handle_free(g->handle, WEFT__H_GROUP);
    weft__free(g);
}

static void group_abandon(weft__loop *L, weft__joinset *js)
{
    weft__group *g = (weft__group *)js;
    char label[64];
    for (uint32_t i = 0; i < g->nfails; i++) {
        failure *f = &g->fails[i];
        weft__report_add(L,
                         "weft: task %s of a group its owner never waited "
                         "for failed: %s%s%s",
                         weft__task_label(L, f->idx, label, sizeof label),
                         weft_strerror(f->err), f->msg ? ": " : "",
                         f->msg ? f->msg : "");
    }
    release(L, g);
}

int weft_group_new(weft_group **out)
{
    weft__loop *L = weft__tls_loop;
    weft__record *self = L ? L->cur : NULL;
    if (!out)
        return -EINVAL;
    if (!self)
        return -EPERM;
    group_service *gs = service_get(L);
    weft__group *g = gs ? weft__calloc(1, sizeof *g) : NULL;
    if (!g)
        return -ENOMEM;
    if (weft__handle_new(WEFT__H_GROUP, g, L, (void **)&g->handle)) {
        weft__free(g);
        return -ENOMEM;
    }
    g->svc = gs;
    int rc = weft__scope_open(L, self, WEFT__NO_DEADLINE, &g->scope);
    if (rc) {
        weft__handle_free(g->handle, WEFT__H_GROUP);
        weft__free(g);
        return rc;
    }
    g->js.on_done = group_on_done;
    g->js.targets = group_targets;
    g->js.abandon = group_abandon;
    if ((rc = weft__join_open(L, &g->js))) {
        weft_scope_close(g->scope);
        weft__handle_free(g->handle, WEFT__H_GROUP);
        weft__free(g);
        return rc;
    }
    g->js.depth = (uint8_t)(self->nscopes - 1); /* see the file's comment */
    g->L = L;
    *out = g->handle;
    return 0;
}

int weft_group_spawn_ex(weft_group *h, weft_fn fn, void *arg,
                        const weft_spawn_opts *opts, weft_task **task)
{
    weft__loop *L = weft__tls_loop;
    weft__group *g;
    int rc = lookup(h, &g);
    if (rc)
        return rc;
    if (!fn || g->waited)
        return -EINVAL;
    if (!L->cur)
        return -EPERM;
    /* The child would use it while the compact task whose frame holds it
     * is away (docs/compact-tasks.md). */
    WEFT__REFUSE_ON_SHARED_STACK(L, arg);
    if (g->nkids == g->cap) {
        uint32_t cap = g->cap ? g->cap * 2 : 16;
        uint32_t *k = weft__malloc((size_t)cap * sizeof *k);
        if (!k)
            return -ENOMEM;
        if (g->nkids)
            memcpy(k, g->kids, g->nkids * sizeof *k);
        weft__free(g->kids);
        g->kids = k;
        g->cap = cap;
    }
    weft_spawn_opts lazy;
    bool doomed = g->failed || g->js.draining ||
                  weft_scope_cancelled(g->scope) != 0;
    if (opts && (opts->flags & WEFT_SPAWN_EAGER) && doomed) {
        lazy = *opts; /* born cancelled: it must not start, even eagerly */
        lazy.flags &= ~WEFT_SPAWN_EAGER;
        opts = &lazy;
    }
    /* The position first: an eager child runs inside the spawn and may
     * spawn into the group itself. */
    uint32_t pos = g->nkids++;
    g->kids[pos] = 0;
    uint32_t idx;
    rc = weft__spawn_idx(L, fn, arg, opts, &idx);
    if (rc)
        return rc;
    weft__slot *s = &L->slots[idx];
    g->kids[pos] = idx;
    if (s->state == WEFT__SLOT_DONE) { /* an eager child that finished */
        s->flags = (uint8_t)((s->flags & ~WEFT__SF_OWNED) | WEFT__SF_AWAITED);
        child_done(L, g, idx);
    } else {
        s->flags &= (uint8_t)~WEFT__SF_OWNED;
        weft__join_add(L, &g->js, idx);
        if (doomed)
            weft__cancel(L, idx); /* born cancelled: never runs */
    }
    if (task)
        *task = weft__encode(L, idx, true);
    return 0;
}

int weft_group_spawn(weft_group *h, weft_fn fn, void *arg, weft_task **task)
{
    return weft_group_spawn_ex(h, fn, arg, NULL, task);
}

int weft_group_wait(weft_group *h)
{
    weft__loop *L = weft__tls_loop;
    weft__group *g;
    int rc = lookup(h, &g);
    if (rc)
        return rc;
    if (g->waited)
        return -EINVAL;
    weft__record *self = L ? L->cur : NULL;
    if (!self || g->js.owner != self)
        return -EPERM;
    /* The group's scope must be the innermost one open: a scope or shield
     * opened in the group's body and still open is the caller's error. */
    if (weft__scope_is_innermost(g->scope) != 1)
        return -EBUSY;
    if (weft__check(L, self)) {
        g->js.draining = true; /* children spawned from now on too */
        cancel_kids(L, g);
    }
    while (g->js.remaining)
        weft__join_wait(L, &g->js);
    weft__join_close(L, &g->js);
    weft_scope_close(g->scope);
    g->waited = true;
    if (g->nfails) {
        weft__free(self->errmsg);
        self->errmsg =
            g->fails[0].msg ? weft__strndup(g->fails[0].msg, MSG_MAX) : NULL;
        return g->fails[0].err;
    }
    return weft__check(L, self);
}

int weft_group_cancel(weft_group *h)
{
    weft__loop *L = weft__tls_loop;
    weft__group *g;
    int rc = lookup(h, &g);
    if (rc)
        return rc;
    if (g->waited)
        return -EINVAL;
    if (!L->cur)
        return -EPERM;
    cancel_now(L, g);
    return 0;
}

int weft_group_failures(const weft_group *h)
{
    weft__group *g;
    int rc = lookup(h, &g);
    if (rc)
        return rc;
    return (int)g->nfails;
}

int weft_group_failure(const weft_group *h, size_t i, int *code,
                       const char **msg, weft_task **task)
{
    weft__group *g;
    int rc = lookup(h, &g);
    if (rc)
        return rc;
    if (i >= g->nfails)
        return -ERANGE;
    const failure *f = &g->fails[i];
    if (code)
        *code = f->err;
    if (msg)
        *msg = f->msg;
    if (task)
        *task = weft__encode(g->L, f->idx, true);
    return 0;
}

int weft_group_free(weft_group *h)
{
    weft__group *g;
    int rc = lookup(h, &g);
    if (rc)
        return rc;
    if (!g->waited)
        return -EBUSY;
    release(g->L, g);
    return 0;
}

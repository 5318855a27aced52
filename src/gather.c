/*
 * gather.c - weft_gather (asyncio.gather, Task.WhenAll), weft_map (bounded
 * concurrency) and already-completed tasks.
 *
 * weft_gather consumes the handles and collects the children into a join
 * set (join.c) - the caller is every child's waiter - and sleeps until all
 * have finished; children report to the set as they finish, and the caller
 * is woken early only by the first error, to cancel the others.  It
 * returns only once every child has finished, so nothing it gathered can
 * still write into the caller's arrays.  Its state is one allocation made
 * before anything is consumed.  weft_map's workers likewise read the items
 * from, and write the outcomes into, the run's own state; the caller's
 * arrays get them after the caller resumes.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"
#include "progress/bar_internal.h"

#include <errno.h>
#include <string.h>

/* A gather in progress. */
typedef struct gather_state {
    weft__joinset js; /* first: the owner's record points at it */
    uint32_t n;
    unsigned flags;
    int first_err;      /* default mode: first error in completion order */
    uint32_t first_idx; /* its slot */
    bool cancelled_rest;
    uint32_t done_before; /* children already done when claimed */
    weft_bar *bar;      /* ticked per finished child, may be NULL */
    weft__bar *own;     /* bar, if the gather made it (never given out) */
    uint32_t idx[];     /* children in submission order */
} gather_state;

/* One finished task on the gather's bar: inline when the gather made the
 * bar in this loop, else the public call (the caller's bar may be closed
 * meanwhile, by another task or thread: the call checks its handle). */
static void tick(weft__loop *L, gather_state *st)
{
    if (st->own && st->own->loop == L)
        weft__bar_tick_owner(st->own);
    else
        weft_bar_update(st->bar, 1);
}

/* The inline ticks reached the bar's next check (its count is the gather's
 * alone: the bar was never given out). */
static void gather_on_progress(weft__loop *L, weft__joinset *js)
{
    (void)L;
    weft__bar_check(((gather_state *)js)->own);
}

static bool failed(int err)
{
    return err != 0;
}

/* A child finished and the inline path (weft__join_child_done) could not
 * settle it: a failure, the last child, or a bar to tick by a call. */
static void gather_on_done(weft__loop *L, weft__joinset *js, uint32_t child)
{
    gather_state *st = (gather_state *)js; /* remaining already counted */
    if (st->bar && !js->progress) /* else ticked already, inline */
        tick(L, st);
    int err = weft__slot_err(&L->slots[child]);
    if (!(st->flags & WEFT_GATHER_RETURN_ERRORS) && failed(err) &&
        !st->first_err) {
        st->first_err = err;
        st->first_idx = child;
        weft__join_wake(L, js); /* to cancel the others */
    }
    if (js->remaining == 0)
        weft__join_wake(L, js);
}

static void gather_targets(weft__loop *L, weft__joinset *js, weft__walk *w)
{
    gather_state *st = (gather_state *)js;
    for (uint32_t i = 0; i < st->n; i++)
        weft__walk_visit(L, w, st->idx[i]);
}

/* Cancels the children still running (cancellation walks the tree). */
static void cancel_children(weft__loop *L, gather_state *st)
{
    st->cancelled_rest = true;
    for (uint32_t i = 0; i < st->n; i++)
        if (L->slots[st->idx[i]].state != WEFT__SLOT_DONE)
            weft__cancel(L, st->idx[i]);
}

/* Claims child idx (position i) for the gather's join set: the handle
 * stays usable for everything but another await until the gather returns.
 * A child already done counts at once (its error, if first, is the
 * gather's). */
static void claim(weft__loop *L, gather_state *st, uint32_t i, uint32_t idx)
{
    weft__slot *s = &L->slots[idx];
    st->idx[i] = idx;
    s->flags &= (uint8_t)~WEFT__SF_OWNED;
    if (s->state != WEFT__SLOT_DONE) {
        weft__join_add(L, &st->js, idx);
        return;
    }
    s->flags |= WEFT__SF_AWAITED;
    st->done_before++;
    if (!(st->flags & WEFT_GATHER_RETURN_ERRORS) &&
        failed(weft__slot_err(s)) && !st->first_err) {
        st->first_err = weft__slot_err(s);
        st->first_idx = idx;
    }
}

/* Gives back the first `upto` claims and closes the join set: nothing was
 * consumed after all. */
static void unclaim(weft__loop *L, gather_state *st, uint32_t upto)
{
    for (uint32_t i = 0; i < upto; i++) {
        weft__slot *s = &L->slots[st->idx[i]];
        s->flags = (uint8_t)((s->flags | WEFT__SF_OWNED) &
                             ~(WEFT__SF_AWAITED | WEFT__SF_JOINED));
    }
    weft__join_close(L, &st->js);
}

/* Checks and claims every handle in one pass; on a bad one, gives back the
 * claims made so far, so that an error consumes nothing.  A handle given
 * twice fails its second check (-EBUSY): the first claim holds it. */
static int validate(weft__loop *L, weft__record *self, weft_task **tasks,
                    gather_state *st)
{
    for (uint32_t i = 0; i < st->n; i++) {
        weft__loop *L2;
        uint32_t idx;
        int rc = weft__decode(tasks[i], true, &L2, &idx);
        /* Only a started task can wait on anything (the common case of a
         * not-yet-started child needs no walk). */
        if (!rc && (idx == self->idx ||
                    (L->slots[idx].state == WEFT__SLOT_RUNNING &&
                     weft__waits_on(L, idx, self->idx))))
            rc = -EDEADLK;
        if (rc) {
            unclaim(L, st, i);
            return rc;
        }
        claim(L, st, i, idx);
    }
    return 0;
}

/* Waits for every claimed child and collects their outcomes.  Cannot
 * fail: everything it needs was allocated before. */
static int gather_run(weft__loop *L, weft__record *self, gather_state *st,
                      void **results, int *errors, char **msgs)
{
    unsigned flags = st->flags;
    if (st->bar && st->done_before)
        weft_bar_update(st->bar, st->done_before);
    if (st->own && st->own->loop == L) { /* ticked inline */
        st->js.progress = &st->own->n_owner;
        st->js.progress_at = &st->own->check_at;
        st->js.on_progress = gather_on_progress;
    }
    st->js.notify_each = st->bar && !st->js.progress;
    while (st->js.remaining) {
        if (!st->cancelled_rest &&
            (st->first_err || weft__cancelled(L, self)))
            cancel_children(L, st);
        if (!st->js.remaining)
            break;
        weft__join_wait(L, &st->js);
    }
    weft__join_close(L, &st->js);

    /* Collect in submission order; the caller's weft_errmsg is the first
     * error's message. */
    weft__free(self->errmsg);
    self->errmsg = NULL;
    for (uint32_t i = 0; i < st->n; i++) {
        uint32_t idx = st->idx[i];
        weft__slot *s = &L->slots[idx];
        int err;
        if (msgs)
            msgs[i] = NULL;
        if (!(s->flags & WEFT__SF_MSG)) { /* the common case, inline */
            if (results)
                results[i] = s->a.result;
            err = weft__slot_err(s);
            weft__slot_release(L, idx);
        } else {
            bool first = st->first_err && idx == st->first_idx;
            if (msgs) /* the caller's; weft_errmsg gets a copy below */
                msgs[i] = weft__msg_take(L, idx);
            err = weft__collect(L, idx, results ? &results[i] : NULL, first);
            if (first && msgs && msgs[i]) {
                weft__free(self->errmsg);
                self->errmsg = weft__strndup(msgs[i], 1u << 20);
            }
        }
        if (errors)
            errors[i] = err;
    }
    int rc = (flags & WEFT_GATHER_RETURN_ERRORS) ? 0 : st->first_err;
    int why = weft__check(L, self);
    if (why)
        rc = why;
    return rc;
}

static gather_state *gather_new(size_t n, unsigned flags)
{
    gather_state *st = weft__malloc(sizeof *st + n * sizeof(uint32_t));
    if (st) {
        memset(st, 0, sizeof *st);
        st->n = (uint32_t)n;
        st->flags = flags;
        st->js.on_done = gather_on_done;
        st->js.targets = gather_targets;
    }
    return st;
}

/* The bar the options ask for: a new one (closed by the caller of this
 * with close_bar), the caller's, or none. */
static int open_bar(const weft_gather_opts *o, size_t n, weft_bar **bar)
{
    *bar = NULL;
    if (o && o->desc) {
        weft_bar_opts bo = {.total = (double)n, .desc = o->desc, .fd = o->fd};
        return weft_bar_new(&bo, bar);
    }
    if (o)
        *bar = o->bar;
    return 0;
}

static void close_bar(const weft_gather_opts *o, weft_bar *bar)
{
    if (o && o->desc && bar)
        weft_bar_close(bar);
}

int weft_gather_ex(weft_task **tasks, size_t n, void **results, int *errors,
                   const weft_gather_opts *o)
{
    weft__loop *L = weft__tls_loop;
    weft__record *self = L ? L->cur : NULL;
    unsigned flags = o ? o->flags : 0;
    if (!self)
        return -EPERM;
    if ((n && !tasks) || (flags & ~WEFT_GATHER_RETURN_ERRORS) ||
        n > UINT32_MAX || (o && o->fd < 0))
        return -EINVAL;
    if (n == 0)
        return weft__check(L, self);
    gather_state *st = gather_new(n, flags);
    if (!st)
        return -ENOMEM;
    int rc = weft__join_open(L, &st->js);
    if (rc) {
        weft__free(st);
        return rc;
    }
    rc = validate(L, self, tasks, st);
    if (rc) {
        weft__free(st);
        return rc;
    }
    if ((rc = open_bar(o, n, &st->bar))) {
        unclaim(L, st, st->n);
        weft__free(st);
        return rc;
    }
    if (o && o->desc)
        st->own = weft__bar_own(st->bar);
    rc = gather_run(L, self, st, results, errors, o ? o->messages : NULL);
    close_bar(o, st->bar);
    weft__free(st);
    return rc;
}

int weft_gather(weft_task **tasks, size_t n, void **results, int *errors,
                unsigned flags)
{
    weft_gather_opts o = {.flags = flags};
    return weft_gather_ex(tasks, n, results, errors, &o);
}

/* ---- completed tasks ---- */

static int completed(void *value, int err, const char *msg, weft_task **task)
{
    weft__loop *L = weft__tls_loop;
    if (!task)
        return -EINVAL;
    if (!L || !L->cur)
        return -EPERM;
    char *copy = NULL;
    if (msg && !(copy = weft__strndup(msg, 4096)))
        return -ENOMEM;
    uint32_t idx = weft__slot_alloc(L);
    if (!idx) {
        weft__free(copy);
        return -ENOMEM;
    }
    weft__slot *s = &L->slots[idx];
    s->state = WEFT__SLOT_DONE;
    s->flags = WEFT__SF_OWNED;
    weft__slot_set_err(s, err);
    s->a.result = value;
    weft__msg_attach(L, idx, copy);
    *task = weft__encode(L, idx, false);
    return 0;
}

int weft_task_completed(void *value, weft_task **task)
{
    return completed(value, 0, NULL, task);
}

int weft_task_failed(int err, const char *msg, weft_task **task)
{
    if (err < -4095 || err > -1)
        return -EINVAL;
    return completed(NULL, err, msg, task);
}

/* ---- weft_map: bounded concurrency ---- */

/* The run's state, one allocation: the workers read the items and write
 * each item's outcome here, never in the caller's arrays - those may be on
 * the caller's stack, and nothing but the caller itself touches the
 * caller's stack while it is suspended in a call.  The outcomes are copied
 * into the caller's arrays once the caller has resumed. */
typedef struct map_state {
    weft_fn fn;
    void **items; /* a copy of the caller's, or NULL */
    size_t n, next; /* items [0, next) were taken, and have outcomes */
    void **results;
    int *errors;
    char **msgs; /* NULL when the caller wants none */
    unsigned flags;
    int first_err;
    char *first_msg;
    bool stop;
    weft_bar *bar;
    uint32_t nworkers;
    uint32_t workers[]; /* worker slots, to cancel them; then the arrays */
} map_state;

/* Each worker runs fn over the next unclaimed item until none is left; fn
 * runs on the worker's own stack, so items need no task each. */
static void *map_worker(void *arg)
{
    map_state *st = arg;
    weft__loop *L = weft__tls_loop;
    weft__record *self = L->cur;
    while (!st->stop && st->next < st->n && !self->cancelled) {
        size_t i = st->next++;
        self->fail_err = 0;
        void *r = st->fn(st->items ? st->items[i] : NULL);
        int err = self->cancelled ? -ECANCELED : self->fail_err;
        st->results[i] = r;
        st->errors[i] = err;
        weft_bar_update(st->bar, 1);
        if (st->msgs) /* the item's, to the caller */
            st->msgs[i] = self->fail_msg
                              ? weft__strndup(self->fail_msg, 1u << 20)
                              : NULL;
        if (err && !(st->flags & WEFT_GATHER_RETURN_ERRORS) &&
            !st->first_err) {
            st->first_err = err;
            st->first_msg = self->fail_msg;
            self->fail_msg = NULL;
            st->stop = true;
            for (uint32_t w = 0; w < st->nworkers; w++)
                if (st->workers[w] != self->idx)
                    weft__cancel(L, st->workers[w]);
        }
        weft__free(self->fail_msg);
        self->fail_msg = NULL;
    }
    self->fail_err = 0; /* the worker itself succeeded */
    return NULL;
}

/* Items [from, n) never ran: NULL and -ECANCELED, no message. */
static void map_unrun(void **results, int *errors, char **msgs, size_t from,
                      size_t n)
{
    for (size_t i = from; i < n; i++) {
        results[i] = NULL;
        errors[i] = -ECANCELED;
        if (msgs)
            msgs[i] = NULL;
    }
}

/* The run's state with room for nw workers and the arrays of n items
 * (items and msgs only if the caller gave them), or NULL. */
static map_state *map_new(size_t n, size_t nw, bool items, bool msgs)
{
    size_t ptrs = 1 + items + msgs; /* results, items, msgs */
    size_t head = sizeof(map_state) + nw * sizeof(uint32_t);
    head = (head + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
    if (n > (SIZE_MAX - head) / (ptrs * sizeof(void *) + sizeof(int)))
        return NULL;
    map_state *st =
        weft__malloc(head + n * (ptrs * sizeof(void *) + sizeof(int)));
    if (!st)
        return NULL;
    memset(st, 0, sizeof *st);
    void **p = (void **)((char *)st + head);
    st->results = p;
    p += n;
    if (items) {
        st->items = p;
        p += n;
    }
    if (msgs) {
        st->msgs = (char **)p;
        p += n;
    }
    st->errors = (int *)p;
    st->n = n;
    return st;
}

/* Back in the caller: the outcomes into its arrays (the messages become
 * the caller's), NULL and -ECANCELED for the items never taken. */
static void map_deliver(const map_state *st, void **results, int *errors,
                        char **msgs)
{
    size_t k = st->next;
    memcpy(results, st->results, k * sizeof *results);
    memcpy(errors, st->errors, k * sizeof *errors);
    if (msgs)
        memcpy(msgs, st->msgs, k * sizeof *msgs);
    map_unrun(results, errors, msgs, k, st->n);
}

int weft_map(weft_fn fn, void **items, size_t n, size_t limit,
             void **results, int *errors, unsigned flags)
{
    weft_gather_opts o = {.flags = flags};
    return weft_map_ex(fn, items, n, limit, results, errors, &o);
}

/* Spawns up to nw workers over st, claimed by gs, and waits for them:
 * the run's outcome (0 if no worker could start). */
static int map_run(weft__loop *L, weft__record *self, map_state *st,
                   gather_state *gs, size_t nw)
{
    int rc = 0;
    for (size_t w = 0; w < nw; w++) {
        uint32_t idx;
        rc = weft__spawn_idx(L, map_worker, st, NULL, &idx);
        if (rc)
            break; /* run with the workers we have */
        st->workers[st->nworkers++] = idx;
        claim(L, gs, (uint32_t)w, idx); /* no handle was given out */
    }
    if (!st->nworkers) {
        weft__join_close(L, &gs->js);
        return rc;
    }
    gs->n = st->nworkers;
    rc = gather_run(L, self, gs, NULL, NULL, NULL);
    if (rc == 0 && !(st->flags & WEFT_GATHER_RETURN_ERRORS))
        rc = st->first_err;
    if (st->first_msg) {
        weft__free(self->errmsg);
        self->errmsg = st->first_msg;
        st->first_msg = NULL;
    }
    int why = weft__check(L, self);
    return why ? why : rc;
}

int weft_map_ex(weft_fn fn, void **items, size_t n, size_t limit,
                void **results, int *errors, const weft_gather_opts *o)
{
    unsigned flags = o ? o->flags : 0;
    weft__loop *L = weft__tls_loop;
    weft__record *self = L ? L->cur : NULL;
    if (!self)
        return -EPERM;
    if (!fn || !limit || (flags & ~WEFT_GATHER_RETURN_ERRORS) ||
        (n && (!results || !errors)) || (o && o->fd < 0))
        return -EINVAL;
    /* Past the argument checks, the caller's arrays are filled whatever
     * the call returns: at once on the ways out before the run, from the
     * run's state after it. */
    char **msgs = o ? o->messages : NULL;
    int rc = weft__check(L, self);
    if (rc || n == 0) {
        map_unrun(results, errors, msgs, 0, n);
        return rc;
    }
    size_t nw = limit < n ? limit : n;
    if (nw > 65536)
        nw = 65536;
    map_state *st = map_new(n, nw, items != NULL, msgs != NULL);
    gather_state *gs = gather_new(nw, WEFT_GATHER_RETURN_ERRORS);
    weft_bar *bar = NULL;
    if (!st || !gs || open_bar(o, n, &bar)) {
        weft__free(st);
        weft__free(gs);
        map_unrun(results, errors, msgs, 0, n);
        return -ENOMEM;
    }
    if ((rc = weft__join_open(L, &gs->js))) {
        close_bar(o, bar);
        weft__free(st);
        weft__free(gs);
        map_unrun(results, errors, msgs, 0, n);
        return rc;
    }
    if (items)
        memcpy(st->items, items, n * sizeof *items);
    st->bar = bar;
    st->fn = fn;
    st->flags = flags;
    rc = map_run(L, self, st, gs, nw);
    map_deliver(st, results, errors, msgs);
    close_bar(o, bar);
    weft__free(gs);
    weft__free(st);
    return rc;
}

void weft_messages_free(char **messages, size_t n)
{
    if (!messages)
        return;
    for (size_t i = 0; i < n; i++) {
        weft__free(messages[i]);
        messages[i] = NULL;
    }
}

/*
 * gen.c - async generators (async def + yield, async for; C#'s
 * IAsyncEnumerable).
 *
 * The producer is a task that runs only while its consumer waits in
 * weft_gen_next: next switches straight to the producer, and
 * weft_gen_yield switches straight back with the value - two direct
 * switches per item, no queue and no read-ahead.  The producer is started
 * by the first next, and its end reaches the consumer the way an awaited
 * task's end reaches its awaiter (the consumer is registered as its
 * waiter).  Closing cancels the producer, lets it clean up and joins it.
 *
 * Callers hold handles (handle.h), owned by the generator's loop: a call
 * checks the handle and the loop before it reads the generator, so a
 * closed or made-up handle is -EINVAL and another loop's -EPERM.  Closing
 * revokes the handle first: the join that follows suspends, and a second
 * close or a next meanwhile finds the handle stale.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"
#include "handle.h"
#include "handoff.h"

#include <errno.h>
#include <stdio.h>

typedef struct weft__gen weft__gen;

struct weft__gen {
    weft__link link; /* in the loop's live generators (gen_service) */
    weft_gen *handle; /* what the caller holds */
    weft__loop *L;
    weft_fn fn;
    void *arg;
    uint32_t producer; /* slot, 0 before the first next and once collected */
    uint32_t consumer; /* slot of the task inside next, 0 if none */
    weft__record *pf;   /* the producer's record while it runs */
    weft__record *cf;   /* the consumer's record while it is in next */
    void *value;
    weft_bar *bar;     /* ticked per value, may be NULL */
    bool has_value;
    bool done;
    bool busy;
    bool closing;      /* no next will ever come: yields fail at once */
};

/* The loop's generators: shutdown wakes producers parked in a yield, and
 * the loop's close frees what is left. */
typedef struct gen_service {
    weft__service svc; /* first */
    weft__list gens;
} gen_service;

/* Both sides of a generator block on this kind while the other runs.
 * A consumer inside next waits for its producer: cancelling it cancels the
 * producer.  A producer parked in a yield is not woken by cancellation or
 * its scopes either: it only ever resumes when a next hands off to it (its
 * yield returns 0, its next call fails) or when the generator is closed or
 * the loop shuts down (wake_yielder) - so that a next never finds it in the
 * ready queue. */
static bool gen_targets(weft__loop *L, weft__record *r, weft__walk *w)
{
    weft__gen *g = r->wait_obj;
    if (g->consumer == r->idx)
        weft__walk_visit(L, w, g->producer);
    return true;
}

/* A task finished while r waited in a generator's next: r's producer, or
 * (r having awaited it earlier) another generator's, which is not r's
 * business. */
static void gen_task_done(weft__loop *L, weft__record *r, uint32_t idx)
{
    weft__gen *g = r->wait_obj;
    if (g->consumer == r->idx && g->producer == idx)
        weft__ready(L, r, 0);
}

static void gen_describe(weft__loop *L, weft__record *r, char *buf,
                         size_t len)
{
    (void)L;
    weft__gen *g = r->wait_obj;
    snprintf(buf, len, "%s",
             g && g->consumer == r->idx
                 ? "waiting for a generator's next value"
                 : "yielding a value nobody takes");
}

static const weft__wait_kind gen_wait = {
    .targets = gen_targets,
    .task_done = gen_task_done,
    .describe = gen_describe,
    .self_timed = true,
    .no_since = true,
};

static void *gen_body(void *arg)
{
    weft__gen *g = arg;
    weft__loop *L = weft__tls_loop;
    weft__record *self = L->cur;
    self->role = g;
    g->pf = self;
    void *r = g->fn(g->arg);
    /* Its end goes to whoever waits for it now: the consumer inside next,
     * or a task closing the generator (which registered itself); nobody
     * else. */
    if (g->consumer)
        L->waiter_of[self->idx] = g->consumer;
    else if (!g->closing)
        L->waiter_of[self->idx] = 0;
    g->pf = NULL;
    return r;
}

static void gens_shutdown(weft__loop *L, weft__service *sv);
static void gens_close(weft__loop *L, weft__service *sv);

static const weft__service_ops gen_service_ops = {
    .shutdown = gens_shutdown,
    .close = gens_close,
};

/* The loop's generator service, registered on first use. */
static gen_service *gen_service_get(weft__loop *L)
{
    return (gen_service *)weft__service_get(L, &gen_service_ops,
                                            sizeof(gen_service));
}

int weft_gen_new(weft_fn fn, void *arg, weft_gen **out)
{
    weft__loop *L = weft__tls_loop;
    if (!fn || !out)
        return -EINVAL;
    if (!L || !L->cur)
        return -EPERM;
    /* The producer uses it while the consumer may be away (a compact
     * task's frame: docs/compact-tasks.md). */
    WEFT__REFUSE_ON_SHARED_STACK(L, arg);
    gen_service *gs = gen_service_get(L);
    weft__gen *g = gs ? weft__calloc(1, sizeof *g) : NULL;
    if (!g)
        return -ENOMEM;
    if (weft__handle_new(WEFT__H_GEN, g, L, (void **)&g->handle)) {
        weft__free(g);
        return -ENOMEM;
    }
    g->L = L;
    g->fn = fn;
    g->arg = arg;
    weft__list_push(&gs->gens, &g->link);
    *out = g->handle;
    return 0;
}

/* Spawns the producer without queueing it: next hands off to it. */
static int start_producer(weft__loop *L, weft__record *self, weft__gen *g,
                          weft__record **pf)
{
    uint32_t idx;
    int rc = weft__spawn_idx(L, gen_body, g, NULL, &idx);
    if (rc)
        return rc;
    L->ring_tail--; /* spawn queued it last; it runs by hand-off instead */
    weft__slot *s = &L->slots[idx];
    s->flags = (uint8_t)((s->flags & ~WEFT__SF_OWNED) | WEFT__SF_AWAITED);
    L->waiter_of[idx] = self->idx;
    g->producer = idx;
    *pf = weft__start_now(L, idx); /* NULL: it already finished */
    return 0;
}

/* The consumer's side once the producer is done (returned, failed or was
 * cancelled): the generator is exhausted. */
static __attribute__((noinline)) int next_end(weft__loop *L,
                                               weft__record *self,
                                               weft__gen *g)
{
    g->done = true;
    int rc = weft__collect(L, g->producer, NULL, true);
    g->producer = 0;
    int why = weft__check(L, self);
    if (why)
        rc = why;
    return rc;
}

enum { CONSUMER, PRODUCER };

/* The consumer's side once the producer handed back: the value it left,
 * or the end of the generator. */
static inline int next_result(weft__loop *L, weft__record *self,
                              weft__gen *g, void **value)
{
    g->busy = false;
    g->consumer = 0;
    if (!g->has_value)
        return next_end(L, self, g);
    *value = g->value; /* copied here, in the consumer's own context */
    if (g->bar)
        weft_bar_update(g->bar, 1);
    return 1;
}


/*
 * The one place where both sides of a generator switch, each side calling
 * it as its last act (a tail call from weft_gen_next and weft_gen_yield).
 * Why one place: after a switch the processor predicts returns from the
 * *other* side's call chain.  With one shared switch site and no frame of
 * weft_gen_next or weft_gen_yield below it, only the final return into the
 * caller's code is mispredicted, not two returns per switch.
 */
static __attribute__((noinline)) int xfer(weft__loop *L, weft__record *self,
                                          weft__record *to, weft__gen *g,
                                          int role, void **value)
{
    self->wait = WEFT__WAIT_BLOCKED;
    self->kind = &gen_wait;
    self->wait_obj = g;
    to->wake_rc = 0;
    int rc = weft__handoff_inline(L, self, to);
    if (role == PRODUCER)
        return rc; /* 0, or -ECANCELED when the generator is closed */
    return next_result(L, self, g, value);
}

/* A consumer's next on the slow path (cancelled, or inside a scope that
 * alerts), kept out of xfer (the hot path).  The hand-off bypasses
 * weft__block, so a scope's deadline gets a timer here - it interrupts the
 * wait, which cancels and joins the producer - removed afterwards if the
 * producer's hand-off (which does not touch timers) ended the wait.  A
 * producer parked in its yield, or just given its stack by this next (it
 * runs by hand-off only: nothing else would ever start it), is handed to;
 * one that is neither (the loop shut down and woke it) is not: the
 * consumer waits for its yield or its end. */
static __attribute__((noinline, cold)) int
next_scoped(weft__loop *L, weft__record *self, weft__record *pf,
            weft__gen *g, void **value)
{
    self->wait_deadline = WEFT__NO_DEADLINE;
    uint64_t d = weft__scope_deadline(self);
    if (d != WEFT__NO_DEADLINE)
        weft__timer_add(L, self, d);
    int rc;
    if ((pf->wait == WEFT__WAIT_BLOCKED && pf->kind == &gen_wait) ||
        !pf->started) {
        rc = xfer(L, self, pf, g, CONSUMER, value);
    } else {
        self->wait = WEFT__WAIT_BLOCKED;
        self->kind = &gen_wait;
        self->wait_obj = g;
        self->wake_rc = 0;
        weft__suspend(L);
        rc = next_result(L, self, g, value);
    }
    if (self->timer_pos)
        weft__timer_del(L, self);
    weft__now_refresh(L); /* as weft__block does */
    return rc;
}

/* The body of weft_gen_next once its arguments are checked.  `slow`: the
 * task is cancelled or inside a scope that alerts (a constant: the fast
 * copy has neither the check nor the scoped hand-off). */
static inline __attribute__((always_inline)) int
next_body(weft__loop *L, weft__record *self, weft__gen *g, void **value,
          bool slow)
{
    if (slow)
        WEFT__RETURN_IF_CANCELLED(L, self);
    if (g->done)
        return 0;
    weft__record *pf = g->pf;
    if (!g->producer) {
        int rc = start_producer(L, self, g, &pf);
        if (rc)
            return rc;
    }
    g->busy = true;
    g->has_value = false;
    g->consumer = self->idx;
    g->cf = self;
    if (!pf) { /* the producer finished as it started */
        g->busy = false;
        g->consumer = 0;
        return next_end(L, self, g);
    }
    if (slow)
        return next_scoped(L, self, pf, g, value);
    return xfer(L, self, pf, g, CONSUMER, value);
}

static __attribute__((noinline, cold)) int next_slow(weft__loop *L,
                                               weft__record *self,
                                               weft__gen *g, void **value)
{
    return next_body(L, self, g, value, true);
}

static inline int gen_next(weft_gen *h, void **value)
{
    weft__loop *L = weft__tls_loop;
    weft__record *self = L ? L->cur : NULL;
    weft__gen *g;
    int rc = weft__handle_owned(h, WEFT__H_GEN, L, (void **)&g);
    if (rc || !value)
        return rc ? rc : -EINVAL;
    if (!self)
        return -EPERM;
    if (g->busy)
        return -EBUSY;
    /* One test for "cancelled, or inside a scope that alerts". */
    if (__builtin_expect(self->alerts, 0))
        return next_slow(L, self, g, value);
    return next_body(L, self, g, value, false);
}

/* The body of weft_gen_yield once the caller is known to be a producer;
 * `slow` as for next_body. */
static inline __attribute__((always_inline)) int
yield_body(weft__loop *L, weft__record *self, weft__gen *g, void *value,
           bool slow)
{
    if (slow)
        WEFT__RETURN_IF_CANCELLED(L, self);
    /* Closing (or the loop shutting down): nobody will ever take the
     * value, so even a shielded yield must not wait for it. */
    if (g->closing || L->closing)
        return -ECANCELED;
    g->value = value;
    g->has_value = true;
    /* Back when the consumer asks for the next value, or -ECANCELED when
     * the generator is closed. */
    return xfer(L, self, g->cf, g, PRODUCER, NULL);
}

static __attribute__((noinline, cold)) int yield_slow(weft__loop *L,
                                                weft__record *self,
                                                weft__gen *g, void *value)
{
    return yield_body(L, self, g, value, true);
}

static inline int gen_yield(void *value)
{
    weft__loop *L = weft__tls_loop;
    weft__record *self = L ? L->cur : NULL;
    if (!self)
        return -EPERM;
    weft__gen *g = self->role;
    if (!g)
        return -EINVAL; /* not a generator's producer */
    if (__builtin_expect(self->alerts, 0))
        return yield_slow(L, self, g, value);
    return yield_body(L, self, g, value, false);
}

#if defined(__x86_64__) && !defined(WEFT_CTX_UCONTEXT) &&                  \
    !defined(WEFT_SANITIZE_ADDRESS) && !defined(WEFT_SANITIZE_THREAD)
/* weft_gen_next and weft_gen_yield are assembly stubs (gen_x86_64.S) that
 * call this from one shared call site and leave by an indirect jump to
 * their caller rather than a return: after a switch, the return-stack
 * predictor holds the other side's return addresses, while the
 * indirect-branch predictor learns the alternation between the two
 * callers.  The stubs pass role 0 (next: a = gen, b = value) or 1 (yield:
 * a = value). */
int weft__gen_call(void *a, void *b, int role)
    __attribute__((visibility("hidden")));
int weft__gen_call(void *a, void *b, int role)
{
    if (role == CONSUMER)
        return gen_next(a, b);
    return gen_yield(a);
}
#else
int weft_gen_next(weft_gen *h, void **value)
{
    return gen_next(h, value);
}

int weft_gen_yield(void *value)
{
    return gen_yield(value);
}
#endif

/* A producer suspended in weft_gen_yield is woken with -ECANCELED even
 * inside a shielded scope: its value can never be taken. */
static void wake_yielder(weft__loop *L, weft__gen *g)
{
    weft__record *pf = g->pf;
    if (pf && pf->wait == WEFT__WAIT_BLOCKED && pf->kind == &gen_wait &&
        !g->busy)
        weft__wake(L, pf, -ECANCELED);
}

static void gens_shutdown(weft__loop *L, weft__service *sv)
{
    for (weft__link *n = ((gen_service *)sv)->gens.head; n; n = n->next) {
        weft__gen *g = weft__container_of(n, weft__gen, link);
        if (!g->busy)
            wake_yielder(L, g);
    }
}

int weft_gen_close(weft_gen *h)
{
    weft__loop *L = weft__tls_loop;
    weft__record *self = L ? L->cur : NULL;
    weft__gen *g;
    int rc = weft__handle_owned(h, WEFT__H_GEN, L, (void **)&g);
    if (rc)
        return rc;
    if (!self)
        return -EPERM;
    if (g->busy)
        return -EBUSY;
    weft__handle_revoke(h, WEFT__H_GEN); /* before the join suspends */
    g->closing = true;
    if (g->producer) {
        uint32_t p = g->producer;
        if (L->slots[p].state != WEFT__SLOT_DONE) {
            weft__cancel(L, p);
            wake_yielder(L, g);
            L->waiter_of[p] = self->idx;
            weft__await_done(L, self, p); /* joined like an awaited task */
        }
        weft__collect(L, p, NULL, false);
    }
    weft__list_remove(
        &((gen_service *)weft__service_find(L, &gen_service_ops))->gens,
        &g->link);
    weft__handle_release(h);
    weft__free(g);
    return 0;
}

static void gens_close(weft__loop *L, weft__service *sv)
{
    (void)L;
    /* Shutdown already cancelled and joined every producer; their slots
     * go with the loop. */
    gen_service *gs = (gen_service *)sv;
    weft__link *n;
    while ((n = weft__list_pop(&gs->gens))) {
        weft__gen *g = weft__container_of(n, weft__gen, link);
        weft__handle_free(g->handle, WEFT__H_GEN);
        weft__free(g);
    }
    weft__free(gs);
}

int weft_gen_set_bar(weft_gen *h, weft_bar *bar)
{
    weft__gen *g;
    int rc = weft__handle_owned(h, WEFT__H_GEN, weft__tls_loop, (void **)&g);
    if (rc)
        return rc;
    g->bar = bar; /* the caller's handle: checked by each update */
    return 0;
}

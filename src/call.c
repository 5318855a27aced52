/*
 * call.c - work that reports back: futures for plain threads (weft_submit)
 * and calls from a task of one loop to another (weft_spawn_on).
 *
 * A call is one object shared by two sides:
 * - the target side: the loop that runs fn(arg) as a task, started from
 *   its inbox (CALL), the task the only child of the call's ownerless join
 *   set, whose on_done hook records the outcome;
 * - the caller side: either a plain thread blocked on the future's
 *   condition variable, or a task of another loop awaiting a stackless
 *   task (core.h) that stands for the remote one.  Cancelling that stand-in
 *   posts CANCEL to the target; the target posts DONE back when its task
 *   has finished, and only then does the stand-in finish - so the caller's
 *   wait, even a cancelled one, ends after the remote task, never before.
 *
 * Each of the three messages is posted at most once.  References: one per
 * side, one per CANCEL in flight; the DONE message carries the target's.
 * The outcome is written by the target thread before `finished` is set
 * (release) and read after (acquire).  A caller loop never closes while
 * its stand-in lives (it is a live task), so DONE always finds it.
 */
#define _GNU_SOURCE
#include "inbox.h"

#include "alloc.h"
#include "handle.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

#define SPIN_NS 20000ull /* a waiter spins this long before it sleeps */

typedef struct weft__call {
    weft__stackless sl; /* weft_spawn_on: the stand-in's slot points here */
    weft__msg start, cancel, done;
    weft__joinset js;   /* target side, while its task lives */
    atomic_uint refs;
    atomic_int cancel_sent;
    atomic_int finished;
    bool is_future;     /* mu and cv exist */
    weft_loop *target;  /* held */
    weft_loop *caller;  /* weft_spawn_on: the caller's loop (held) */
    uint32_t caller_idx; /* the stand-in's slot, on the caller's loop */
    uint32_t task_idx;  /* target thread only: the task, 0 if none */
    bool task_done;     /* target thread only */
    weft_fn fn;
    void *arg;
    /* The outcome: written before `finished`. */
    void *result;
    int err;
    char *msg;
    /* Futures: a plain thread sleeps here. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sleepers;   /* under mu */
    bool woke_loop; /* the submission had to wake the loop */
} weft__call;

/* ---- life ---- */

static weft__call *call_new(weft_loop *target, weft_fn fn, void *arg,
                            bool future)
{
    weft__call *c = weft__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (future) {
        /* Timed waits are on CLOCK_MONOTONIC, weft_now()'s clock. */
        pthread_condattr_t ca;
        if (pthread_condattr_init(&ca)) {
            weft__free(c);
            return NULL;
        }
        bool ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                  pthread_cond_init(&c->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
        if (!ok || pthread_mutex_init(&c->mu, NULL)) {
            if (ok)
                pthread_cond_destroy(&c->cv);
            weft__free(c);
            return NULL;
        }
        c->is_future = true;
    }
    c->start.kind = WEFT__MSG_CALL;
    c->cancel.kind = WEFT__MSG_CANCEL;
    c->done.kind = WEFT__MSG_DONE;
    atomic_init(&c->refs, 2);
    c->target = target;
    weft__loop_hold(target);
    c->fn = fn;
    c->arg = arg;
    return c;
}

static void call_unref(weft__call *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (c->is_future) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
    }
    weft__free(c->msg);
    weft__loop_drop(c->target);
    if (c->caller)
        weft__loop_drop(c->caller);
    weft__free(c);
}

/* Asks the target to cancel the task (once).  Any thread. */
static void call_cancel_send(weft__call *c)
{
    if (atomic_exchange_explicit(&c->cancel_sent, 1, memory_order_relaxed))
        return;
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    if (weft__inbox_post(c->target, &c->cancel) < 0)
        call_unref(c); /* closed: the task has finished already */
}

/* ---- target side (the target loop's thread) ---- */

/* The outcome is in: wake the plain thread, or tell the caller's loop. */
static void call_finish(weft__call *c)
{
    if (!c->caller) {
        /* A waiter counts itself in `sleepers` under mu before it checks
         * `finished` and sleeps: no wake-up is lost, and none is made
         * when the waiter caught the flag while it spun. */
        atomic_store_explicit(&c->finished, 1, memory_order_seq_cst);
        pthread_mutex_lock(&c->mu);
        if (c->sleepers)
            pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        call_unref(c);
        return;
    }
    atomic_store_explicit(&c->finished, 1, memory_order_release);
    /* The caller's loop waits for this (its stand-in is alive), so it has
     * not closed: the post cannot be refused. */
    if (weft__inbox_post(c->caller, &c->done) < 0)
        call_unref(c);
}

static void call_task_done(weft__loop *L, weft__joinset *js, uint32_t child)
{
    weft__call *c = weft__container_of(js, weft__call, js);
    c->msg = weft__msg_take(L, child);
    c->err = weft__collect(L, child, &c->result, false);
    weft__join_unregister(L, js);
    c->task_done = true;
    call_finish(c);
}

void weft__call_start(weft__loop *L, weft__msg *m)
{
    weft__call *c = weft__container_of(m, weft__call, start);
    c->js.on_done = call_task_done;
    uint32_t idx;
    int rc = weft__join_register(L, &c->js);
    if (rc == 0 && (rc = weft__spawn_idx(L, c->fn, c->arg, NULL, &idx)))
        weft__join_unregister(L, &c->js);
    if (rc) {
        c->err = rc;
        c->task_done = true;
        call_finish(c);
        return;
    }
    L->slots[idx].flags &= (uint8_t)~WEFT__SF_OWNED; /* nobody's handle */
    c->task_idx = idx;
    weft__join_add(L, &c->js, idx);
}

void weft__call_cancel(weft__loop *L, weft__msg *m)
{
    weft__call *c = weft__container_of(m, weft__call, cancel);
    /* CALL came first (one inbox, FIFO), so the task exists or finished. */
    if (c->task_idx && !c->task_done)
        weft__cancel(L, c->task_idx);
    call_unref(c);
}

void weft__call_discard(weft__msg *m)
{
    if (m->kind == WEFT__MSG_CANCEL)
        call_unref(weft__container_of(m, weft__call, cancel));
    else if (m->kind == WEFT__MSG_DONE)
        call_unref(weft__container_of(m, weft__call, done));
}

/* ---- caller side: the stand-in task of weft_spawn_on ---- */

void weft__call_done(weft__loop *L, weft__msg *m)
{
    weft__call *c = weft__container_of(m, weft__call, done);
    char *msg = c->msg;
    c->msg = NULL;
    weft__task_finish(L, c->caller_idx, NULL, c->result, c->err, msg);
    weft__source_unref(L);
    call_unref(c); /* the target's, carried by DONE */
    call_unref(c); /* the stand-in's */
}

static void standin_cancel(weft__loop *L, uint32_t idx, weft__stackless *t)
{
    (void)L;
    (void)idx;
    call_cancel_send(weft__container_of(t, weft__call, sl));
}

static const weft__stackless_ops standin_ops = {.cancel = standin_cancel};

int weft_spawn_on(weft_loop *handle, weft_fn fn, void *arg,
                  weft_task **task)
{
    if (!fn || !task)
        return -EINVAL;
    weft_loop *loop = weft__loop_resolve(handle);
    if (!loop)
        return -EINVAL;
    int rc;
    weft__loop *L = weft__tls_loop;
    if (!L || !L->cur)
        return -EPERM;
    /* The other loop's task uses it while the caller waits (a compact
     * task's frame: docs/compact-tasks.md). */
    WEFT__REFUSE_ON_SHARED_STACK(L, arg);
    weft_loop *here = weft__loop_handle(L);
    if (!here || weft__ring_reserve(L, L->n_alive + 1))
        return -ENOMEM;
    weft__call *c = call_new(loop, fn, arg, false);
    if (!c)
        return -ENOMEM;
    uint32_t idx = weft__slot_alloc(L);
    if (!idx) {
        call_unref(c);
        call_unref(c);
        return -ENOMEM;
    }
    c->caller = here;
    weft__loop_hold(here);
    c->caller_idx = idx;
    c->sl.ops = &standin_ops;
    if ((rc = weft__inbox_post(loop, &c->start)) < 0) {
        weft__slot_release(L, idx);
        call_unref(c);
        call_unref(c);
        return rc;
    }
    weft__slot *s = &L->slots[idx];
    s->state = WEFT__SLOT_RUNNING;
    s->flags = WEFT__SF_OWNED | WEFT__SF_STACKLESS;
    s->x = 0;
    s->a.ext = &c->sl;
    L->n_alive++;
    weft__source_ref(L); /* DONE will come */
    if (L->closing) /* as weft_spawn during shutdown: born cancelled */
        weft__cancel(L, idx);
    *task = weft__encode(L, idx, false);
    return 0;
}

int weft_call_on(weft_loop *loop, weft_fn fn, void *arg, void **result)
{
    weft__loop *L = weft__tls_loop;
    if (L && L->cur) {
        WEFT__RETURN_IF_CANCELLED(L, L->cur);
    }
    weft_task *t;
    int rc = weft_spawn_on(loop, fn, arg, &t);
    if (rc)
        return rc;
    return weft_await(t, result);
}

/* ---- futures: the plain thread's side ---- */

/* The call behind a future the user holds: a handle-table entry (handle.h),
 * so a joined, made-up or stale future is NULL and never dereferenced.
 * (Two threads using one future at once is not detected: a future has one
 * holder.) */
static weft__call *future_get(weft_future *f)
{
    return weft__handle_get(f, WEFT__H_FUTURE);
}

int weft_submit(weft_loop *handle, weft_fn fn, void *arg,
                weft_future **future)
{
    if (!fn || !future)
        return -EINVAL;
    weft_loop *loop = weft__loop_resolve(handle);
    if (!loop)
        return -EINVAL;
    /* From a loop's thread: not into its compact tasks' shared stack, which
     * the target loop would read while they are away. */
    WEFT__REFUSE_ON_SHARED_STACK(weft__tls_loop, arg);
    weft__call *c = call_new(loop, fn, arg, true);
    if (!c)
        return -ENOMEM;
    void *h;
    if (weft__handle_new(WEFT__H_FUTURE, c, NULL, &h)) {
        call_unref(c);
        call_unref(c);
        return -ENOMEM;
    }
    int rc = weft__inbox_post(loop, &c->start);
    if (rc < 0) {
        weft__handle_free(h, WEFT__H_FUTURE);
        call_unref(c);
        call_unref(c);
        return rc;
    }
    c->woke_loop = rc == 1;
    *future = h;
    return 0;
}

static bool finished(weft__call *c)
{
    return atomic_load_explicit(&c->finished, memory_order_acquire) != 0;
}

/* On the target's own thread, a wait would stop the loop that must run
 * the task. */
static bool would_deadlock(weft__call *c)
{
    return weft__loop_is_here(c->target);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Waits until finished or `until` (ns on CLOCK_MONOTONIC, UINT64_MAX:
 * none): true if finished.  Spins briefly first if the loop was awake when
 * the work was submitted: a hand-off between two awake threads costs far
 * less than a sleeping one.  Not if the submission had to wake the loop:
 * that takes longer than the spin, and the loop may be scheduled on this
 * very CPU, where spinning would only delay it. */
static bool wait_until(weft__call *c, uint64_t until)
{
    uint64_t spin_end = c->woke_loop ? 0 : mono_ns() + SPIN_NS;
    if (spin_end > until)
        spin_end = until;
    for (unsigned i = 0; spin_end && !finished(c); i++) {
        if ((i & 63) == 63 && mono_ns() >= spin_end)
            break;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    }
    if (finished(c))
        return true;
    pthread_mutex_lock(&c->mu);
    c->sleepers++;
    while (!finished(c)) {
        if (until == UINT64_MAX) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        struct timespec ts = {.tv_sec = (time_t)(until / 1000000000ull),
                              .tv_nsec = (long)(until % 1000000000ull)};
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
            break;
    }
    c->sleepers--;
    pthread_mutex_unlock(&c->mu);
    return finished(c);
}

static uint64_t deadline_ns(double deadline)
{
    if (isinf(deadline) && deadline > 0)
        return UINT64_MAX;
    if (deadline <= 0)
        return 0;
    double ns = deadline * 1e9;
    return ns >= 1.8e19 ? UINT64_MAX : (uint64_t)ns;
}

int weft_future_wait_at(weft_future *future, double deadline)
{
    weft__call *c = future_get(future);
    if (!c || isnan(deadline))
        return -EINVAL;
    if (finished(c))
        return 0;
    if (would_deadlock(c))
        return -EDEADLK;
    return wait_until(c, deadline_ns(deadline)) ? 0 : -ETIMEDOUT;
}

int weft_future_wait(weft_future *future, double timeout)
{
    if (isnan(timeout))
        return -EINVAL;
    if (isinf(timeout) && timeout > 0)
        return weft_future_wait_at(future, INFINITY);
    return weft_future_wait_at(future, weft_now() + (timeout > 0 ? timeout
                                                                 : 0));
}

int weft_future_done(weft_future *future)
{
    weft__call *c = future_get(future);
    return c ? finished(c) : -EINVAL;
}

int weft_future_cancel(weft_future *future)
{
    weft__call *c = future_get(future);
    if (!c)
        return -EINVAL;
    if (finished(c))
        return 1;
    call_cancel_send(c);
    return 0;
}

const char *weft_future_message(weft_future *future)
{
    weft__call *c = future_get(future);
    return c && finished(c) ? c->msg : NULL;
}

int weft_future_join(weft_future *future, void **result)
{
    weft__call *c = future_get(future);
    if (!c)
        return -EINVAL;
    if (!finished(c) && would_deadlock(c))
        return -EDEADLK;
    wait_until(c, UINT64_MAX);
    /* One join only: a second one (or a racing one) finds the handle
     * revoked. */
    if (weft__handle_free(future, WEFT__H_FUTURE) != c)
        return -EINVAL;
    if (result)
        *result = c->result;
    int rc = c->err;
    call_unref(c);
    return rc;
}

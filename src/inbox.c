/*
 * inbox.c - loop handles (weft_loop) and weft_call_soon: how other threads
 * and other loops hand work to a loop (see inbox.h for the protocol).
 *
 * The handle is created with a loop service on first use.  The service
 * empties the inbox at each turn and before the loop sleeps, counts as a
 * wake source while users hold references (may_wake), stops taking work
 * when the loop begins to shut down, and detaches the handle when the loop
 * closes.  Each task started from the inbox is the only child of a join set
 * of its own with no owner task (join.c): its on_done hook is where the
 * outcome is collected - also for a task the loop cancelled before it ran,
 * which is how a submission that never ran is told apart and dropped.
 */
#define _GNU_SOURCE
#include "inbox.h"

#include "alloc.h"
#include "backend/backend.h"
#include "handle.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>

typedef struct inbox {
    weft__service svc; /* first: the loop's service list points at it */
    weft_loop *h;
} inbox;

/* A weft_call_soon submission. */
typedef struct weft__run {
    weft__msg msg;
    weft__joinset js; /* while its task lives */
    weft_fn fn;
    void *arg;
    void (*drop)(void *arg);
    struct weft__run_slab *slab;
    bool ran;
} weft__run;

/*
 * Submissions come from one thread and are freed on another (the loop's):
 * with a malloc for each, the submitting thread spends most of its time in
 * the allocator's slow path (its arena refilled by frees from the other
 * thread), and the loop walks messages scattered over the heap.  So they
 * are carved from slabs of RUN_SLAB, handed out in order under the
 * handle's slab_lock (posters only; the loop never takes it), and a slab is
 * freed when the last of its messages is: `left` counts the messages not
 * released plus the slots not handed out (given up when the handle goes).
 */
#define RUN_SLAB 64

typedef struct weft__run_slab {
    atomic_uint left;
    weft__run runs[RUN_SLAB];
} weft__run_slab;

static weft__run *run_alloc(weft_loop *h)
{
    while (atomic_flag_test_and_set_explicit(&h->slab_lock,
                                             memory_order_acquire)) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    }
    weft__run_slab *sl = h->slab;
    if (!sl || h->slab_used == RUN_SLAB) {
        if (!(sl = weft__malloc(sizeof *sl))) {
            atomic_flag_clear_explicit(&h->slab_lock, memory_order_release);
            return NULL;
        }
        atomic_init(&sl->left, RUN_SLAB);
        h->slab = sl;
        h->slab_used = 0;
    }
    weft__run *r = &sl->runs[h->slab_used++];
    atomic_flag_clear_explicit(&h->slab_lock, memory_order_release);
    r->slab = sl;
    return r;
}

static void slab_put(weft__run_slab *sl, unsigned n)
{
    if (atomic_fetch_sub_explicit(&sl->left, n, memory_order_acq_rel) == n)
        weft__free(sl);
}

/* Any thread. */
static void run_release(weft__run *r)
{
    slab_put(r->slab, 1);
}

static void inbox_turn(weft__loop *L, weft__service *sv);
static bool inbox_before_sleep(weft__loop *L, weft__service *sv,
                               int64_t timeout_ns);
static void inbox_after_sleep(weft__loop *L, weft__service *sv);
static void inbox_shutdown(weft__loop *L, weft__service *sv);
static void inbox_close(weft__loop *L, weft__service *sv);
static bool inbox_may_wake(weft__loop *L, weft__service *sv);

static const weft__service_ops inbox_ops = {
    .turn = inbox_turn,
    .before_sleep = inbox_before_sleep,
    .after_sleep = inbox_after_sleep,
    .shutdown = inbox_shutdown,
    .close = inbox_close,
    .may_wake = inbox_may_wake,
};

/* ---- the handle ---- */

weft_loop *weft__loop_handle(weft__loop *L)
{
    inbox *ib = (inbox *)weft__service_find(L, &inbox_ops);
    if (ib)
        return ib->h;
    weft_loop *h = weft__calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (!(ib = weft__calloc(1, sizeof *ib))) {
        weft__free(h);
        return NULL;
    }
    atomic_init(&h->refs, 1); /* the loop's own */
    atomic_init(&h->state, WEFT__LOOP_OPEN);
    h->backend = L->backend;
    __atomic_store_n(&h->L, L, __ATOMIC_RELAXED);
    /* Published (the table's release store) once the fields are set. */
    void *user;
    if (weft__handle_new(WEFT__H_LOOP, h, NULL, &user)) {
        weft__free(ib);
        weft__free(h);
        return NULL;
    }
    h->user = user;
    ib->svc.ops = &inbox_ops;
    ib->h = h;
    weft__service_add(L, &ib->svc);
    return h;
}

weft_loop *weft__loop_resolve(weft_loop *h)
{
    return weft__handle_get(h, WEFT__H_LOOP);
}

void weft__loop_hold(weft_loop *h)
{
    atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
}

void weft__loop_drop(weft_loop *h)
{
    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
        return;
    weft__handle_free(h->user, WEFT__H_LOOP);
    if (h->slab && h->slab_used < RUN_SLAB) /* slots never handed out */
        slab_put(h->slab, RUN_SLAB - h->slab_used);
    weft__free(h);
}

/* Enters as a poster: false if the state refuses `work` (then left). */
static bool poster_enter(weft_loop *h, bool work)
{
    atomic_fetch_add_explicit(&h->posters, 1, memory_order_seq_cst);
    int st = atomic_load_explicit(&h->state, memory_order_seq_cst);
    if (st == WEFT__LOOP_CLOSED || (work && st != WEFT__LOOP_OPEN)) {
        atomic_fetch_sub_explicit(&h->posters, 1, memory_order_release);
        return false;
    }
    return true;
}

static void poster_leave(weft_loop *h)
{
    atomic_fetch_sub_explicit(&h->posters, 1, memory_order_release);
}

/* The loop changed its state: waits out the posters that may have read
 * the old one (each is a few instructions from leaving). */
static void posters_drain(weft_loop *h)
{
    while (atomic_load_explicit(&h->posters, memory_order_acquire))
        sched_yield();
}

int weft__inbox_post(weft_loop *h, weft__msg *m)
{
    if (!poster_enter(h, m->kind == WEFT__MSG_RUN ||
                             m->kind == WEFT__MSG_CALL))
        return -ESHUTDOWN;
    weft__msg *old = atomic_load_explicit(&h->head, memory_order_relaxed);
    do
        m->next = old;
    while (!atomic_compare_exchange_weak_explicit(
        &h->head, &old, m, memory_order_seq_cst, memory_order_relaxed));
    int woke = 0;
    if (atomic_load_explicit(&h->sleeping, memory_order_seq_cst) &&
        atomic_exchange_explicit(&h->sleeping, 0, memory_order_seq_cst)) {
        weft__backend_wake(h->backend);
        woke = 1;
    }
    poster_leave(h);
    return woke;
}

/* ---- the loop's side ---- */

/* Everything posted so far, oldest first. */
static weft__msg *take_all(weft_loop *h)
{
    weft__msg *m = atomic_exchange_explicit(&h->head, NULL,
                                            memory_order_acquire);
    weft__msg *fifo = NULL;
    while (m) {
        weft__msg *next = m->next;
        m->next = fifo;
        fifo = m;
        m = next;
    }
    return fifo;
}

static void run_start(weft__loop *L, weft__run *r);

static void dispatch(weft__loop *L, weft__msg *m)
{
    while (m) {
        weft__msg *next = m->next;
        switch (m->kind) {
        case WEFT__MSG_RUN:
            run_start(L, weft__container_of(m, weft__run, msg));
            break;
        case WEFT__MSG_CALL:
            weft__call_start(L, m);
            break;
        case WEFT__MSG_CANCEL:
            weft__call_cancel(L, m);
            break;
        default:
            weft__call_done(L, m);
            break;
        }
        m = next;
    }
}

static void inbox_turn(weft__loop *L, weft__service *sv)
{
    weft_loop *h = ((inbox *)sv)->h;
    if (atomic_load_explicit(&h->head, memory_order_relaxed))
        dispatch(L, take_all(h));
}

/* No spinning for messages before sleeping (the thread pool spins for its
 * completions): a loop spinning after each message keeps its CPU busy, so
 * the scheduler cannot put a submitting thread that sleeps between
 * submissions next to it, and every hand-off then pays a cross-CPU wake-up
 * (~50 us here against ~6 us on one CPU; docs/benchmarks.md). */
static bool inbox_before_sleep(weft__loop *L, weft__service *sv,
                               int64_t timeout_ns)
{
    (void)L;
    (void)timeout_ns;
    weft_loop *h = ((inbox *)sv)->h;
    atomic_store_explicit(&h->sleeping, 1, memory_order_seq_cst);
    return atomic_load_explicit(&h->head, memory_order_seq_cst) != NULL;
}

static void inbox_after_sleep(weft__loop *L, weft__service *sv)
{
    weft_loop *h = ((inbox *)sv)->h;
    atomic_store_explicit(&h->sleeping, 0, memory_order_relaxed);
    inbox_turn(L, sv);
}

/* Users hold the handle: they may still submit (not once it shuts down).
 * Or messages came after this turn's look at the inbox: a poster that
 * pushed and then released its reference between the two must not make
 * the loop report a deadlock (the release is ordered after the push, so
 * seeing no users means seeing the message). */
static bool inbox_may_wake(weft__loop *L, weft__service *sv)
{
    weft_loop *h = ((inbox *)sv)->h;
    if (!L->closing &&
        atomic_load_explicit(&h->users, memory_order_acquire) > 0)
        return true;
    return atomic_load_explicit(&h->head, memory_order_acquire) != NULL;
}

/* No more work from now on; what is queued starts as tasks born cancelled
 * (the loop is closing), which are dropped when they finish unstarted. */
static void inbox_shutdown(weft__loop *L, weft__service *sv)
{
    weft_loop *h = ((inbox *)sv)->h;
    atomic_store_explicit(&h->state, WEFT__LOOP_CLOSING, memory_order_seq_cst);
    posters_drain(h);
    inbox_turn(L, sv);
}

static void inbox_close(weft__loop *L, weft__service *sv)
{
    (void)L;
    weft_loop *h = ((inbox *)sv)->h;
    atomic_store_explicit(&h->state, WEFT__LOOP_CLOSED, memory_order_seq_cst);
    posters_drain(h); /* none will write the eventfd from now on */
    h->backend = NULL;
    __atomic_store_n(&h->L, NULL, __ATOMIC_RELAXED);
    weft__msg *m = take_all(h);
    /* Only cancellations of calls that finished can be left. */
    while (m) {
        weft__msg *next = m->next;
        weft__call_discard(m);
        m = next;
    }
    weft__free(sv);
    weft__loop_drop(h);
}

/* ---- weft_call_soon's tasks ---- */

static void *run_body(void *arg)
{
    weft__run *r = arg;
    r->ran = true;
    return r->fn(r->arg);
}

static void run_free(weft__run *r, bool dropped)
{
    if (dropped && r->drop)
        r->drop(r->arg);
    run_release(r);
}

static void run_done(weft__loop *L, weft__joinset *js, uint32_t child)
{
    weft__run *r = weft__container_of(js, weft__run, js);
    weft__slot *s = &L->slots[child];
    int err = weft__slot_err(s);
    if (err && err != -ECANCELED) {
        const char *msg = weft__msg_peek(L, child);
        weft__report_add(L, "weft: task #%u (submitted to the loop) failed: "
                            "%s%s%s",
                         child, weft_strerror(err), msg ? ": " : "",
                         msg ? msg : "");
    }
    weft__collect(L, child, NULL, false);
    weft__join_unregister(L, js);
    run_free(r, !r->ran);
}

static void run_start(weft__loop *L, weft__run *r)
{
    uint32_t idx;
    if (!r->drop) {
        /* Nothing to call if it never runs: a plain detached task. */
        if (weft__spawn_idx(L, r->fn, r->arg, NULL, &idx) == 0)
            L->slots[idx].flags = (uint8_t)((L->slots[idx].flags &
                                             ~WEFT__SF_OWNED) |
                                            WEFT__SF_DETACHED);
        run_release(r);
        return;
    }
    r->js.on_done = run_done;
    if (weft__join_register(L, &r->js)) {
        run_free(r, true);
        return;
    }
    if (weft__spawn_idx(L, run_body, r, NULL, &idx)) {
        weft__join_unregister(L, &r->js);
        run_free(r, true);
        return;
    }
    L->slots[idx].flags &= (uint8_t)~WEFT__SF_OWNED; /* nobody's handle */
    weft__join_add(L, &r->js, idx);
}

/* ---- public API ---- */

int weft_loop_current(weft_loop **loop)
{
    if (!loop)
        return -EINVAL;
    weft__loop *L = weft__tls_loop;
    if (!L)
        return -EPERM;
    weft_loop *h = weft__loop_handle(L);
    if (!h)
        return -ENOMEM;
    weft_loop_ref(h->user);
    *loop = h->user;
    return 0;
}

int weft_loop_ref(weft_loop *handle)
{
    weft_loop *loop = weft__loop_resolve(handle);
    if (!loop)
        return -EINVAL;
    weft__loop_hold(loop);
    atomic_fetch_add_explicit(&loop->users, 1, memory_order_relaxed);
    return 0;
}

int weft_loop_release(weft_loop *handle)
{
    if (!handle)
        return 0;
    weft_loop *loop = weft__loop_resolve(handle);
    if (!loop)
        return -EINVAL;
    unsigned users = atomic_load_explicit(&loop->users, memory_order_relaxed);
    do {
        if (users == 0)
            return -EINVAL; /* more releases than references */
    } while (!atomic_compare_exchange_weak_explicit(
        &loop->users, &users, users - 1, memory_order_acq_rel,
        memory_order_relaxed));
    if (users == 1) {
        /* The last user let go: an idle loop may now be deadlocked, and
         * must look again (inbox_may_wake). */
        if (poster_enter(loop, true)) {
            weft__backend_wake(loop->backend);
            poster_leave(loop);
        }
    }
    weft__loop_drop(loop);
    return 0;
}

int weft_loop_closed(weft_loop *handle)
{
    weft_loop *loop = weft__loop_resolve(handle);
    if (!loop)
        return -EINVAL;
    return atomic_load_explicit(&loop->state, memory_order_acquire) !=
           WEFT__LOOP_OPEN;
}

int weft_call_soon(weft_loop *handle, weft_fn fn, void *arg,
                   void (*drop)(void *arg))
{
    if (!fn)
        return -EINVAL;
    weft_loop *loop = weft__loop_resolve(handle);
    if (!loop)
        return -EINVAL;
    /* From a loop's thread: not into its compact tasks' shared stack, which
     * fn would read while they are away (docs/compact-tasks.md). */
    WEFT__REFUSE_ON_SHARED_STACK(weft__tls_loop, arg);
    weft__run *r = run_alloc(loop);
    if (!r)
        return -ENOMEM;
    r->msg.kind = WEFT__MSG_RUN;
    r->js = (weft__joinset){0};
    r->fn = fn;
    r->arg = arg;
    r->drop = drop;
    r->ran = false;
    int rc = weft__inbox_post(loop, &r->msg);
    if (rc < 0) {
        run_release(r);
        return rc;
    }
    return 0;
}

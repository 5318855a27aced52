/*
 * pool.c - the thread pool behind weft_to_thread and weft_spawn_blocking.
 *
 * One pool per loop, started on first use with min(32, ncpu + 4) threads at
 * most (asyncio's default), created as work arrives; it is shut down - its
 * running jobs waited for and its threads joined - when the loop closes, so
 * once the last weft_run of a process has returned no weft thread is left.
 * (Per loop rather than per process: a loop's jobs and threads then live
 * and die with it, and loops never contend for workers.)
 *
 * A job is a stackless task (core.h): its slot is RUNNING with
 * WEFT__SF_STACKLESS and points at the job, so it can be awaited, gathered
 * and cancelled like any task, and 100,000 jobs need 100,000 small records,
 * not stacks.  The pool is a loop service (registered on first use): it
 * takes in finished jobs at each turn, spins briefly before the loop
 * sleeps, and is joined when the loop closes.
 *
 * Hand-off in both directions:
 * - to a worker: the loop pushes a job on a lock-free stack (`incoming`)
 *   that workers move, under the pool mutex, to the FIFO they take from.
 *   The loop wakes a worker only when none is awake between jobs (`awake`:
 *   spinning, just woken, just done with a job - each looks at the queue
 *   before it sleeps; a seq_cst count checked after the push, so either
 *   the loop sees it or the worker sees the job), and then at most once
 *   per turn of the loop: a job submitted while that wake-up is on its way
 *   is covered by it (a worker taking a job wakes the next if more are
 *   queued), and a job still untaken at the turn's end gets one more.  So
 *   100,000 tasks that each submit a job cost a few thousand futex calls
 *   in all, not one or more per job, and a job never waits past the
 *   current turn for a thread that is free.  A
 *   worker that runs out of work spins for a short while (at most one
 *   worker at a time) before it sleeps, so back-to-back jobs skip the
 *   wake-up entirely.
 * - back to the loop: a lock-free stack of finished jobs that the loop
 *   empties at each turn; the worker writes the loop's eventfd only if the
 *   loop said it was going to sleep (a seq_cst flag checked after the push:
 *   either the worker sees the flag or the loop sees the job).  The loop
 *   spins briefly on the stack before it sleeps.
 * Spins are bounded in time, so a 2-core machine is never starved.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"
#include "backend/backend.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_MAX_LIMIT 1024
#define WORKER_SPIN_NS 50000ull /* a worker waiting for the next job */
#define LOOP_SPIN_NS 30000ull   /* the loop waiting for a completion */

enum { JOB_QUEUED, JOB_RUNNING };

typedef struct weft__job {
    weft__stackless base; /* first: the slot points at it */
    weft__link link;       /* in the pool's queue, under mu */
    struct weft__job *next; /* in `incoming`, then in the finished stack */
    weft_fn fn;
    void *arg;
    void *result;
    weft__fail_sink fail; /* weft_fail from the job (message owned) */
    void (*drop)(void *result); /* detached by its caller: takes the result */
    int state;     /* JOB_*, under the pool mutex */
    uint32_t idx;  /* the job's slot */
    atomic_int cancel;
} weft__job;

typedef struct weft__pool {
    weft__service svc; /* first: the loop's service list points at it */
    /* Loop thread only. */
    uint32_t in_flight; /* jobs submitted and not finished */
    bool has_thread;    /* a worker exists (they live until the pool closes) */
    bool woke;          /* the loop woke a worker during this turn */
    bool owed;          /* ... and a later job found no worker awake */
    uint64_t loop_wakes; /* wake-ups sent by the loop (weft__pool_stats) */
    /* Under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    weft__list queue;       /* jobs taken in from `incoming`, not started */
    unsigned nthreads, max;
    unsigned nidle;         /* in cond_wait and not yet sent a wake-up */
    unsigned wakeups;       /* signals sent and not yet taken by a worker */
    unsigned nbusy;         /* workers running a job; never above max */
    bool stop;
    bool spinner;           /* a worker spins */
    /* Shared, lock-free. */
    _Atomic(weft__job *) incoming; /* pushed by the loop, newest first */
    atomic_uint queued;     /* submitted, not taken nor withdrawn */
    atomic_uint awake;      /* workers that will look at the queue before
                               they sleep (neither waiting nor in a job) */
    _Atomic(weft__job *) done;
    atomic_int loop_sleeping;
    weft__backend *backend;
    pthread_t *threads;     /* max entries */
} weft__pool;

static __thread weft__job *tls_job;

static void relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Every few microseconds of spinning: give the CPU away once - if the
 * thread we wait for shares our CPU, spinning on would only delay it (two
 * threads spinning on one CPU cost ~100 us a hand-off here) - and stop once
 * the deadline passed. */
static bool spin_check(uint64_t until)
{
    sched_yield();
    return weft__clock_ns() > until;
}

/* A stack of jobs pushed newest first, reversed: oldest first. */
static weft__job *oldest_first(weft__job *list)
{
    weft__job *rev = NULL;
    while (list) {
        weft__job *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    return rev;
}

/* ---- worker side ---- */

/* With mu held: moves what the loop pushed since to the FIFO, oldest
 * first. */
static void take_in(weft__pool *p)
{
    if (!atomic_load_explicit(&p->incoming, memory_order_relaxed))
        return;
    weft__job *rev = oldest_first(atomic_exchange_explicit(
        &p->incoming, NULL, memory_order_acquire));
    for (; rev; rev = rev->next)
        weft__list_push(&p->queue, &rev->link);
}

static int add_worker(weft__pool *p);

/* With mu held: gets one more worker to look at the queue - an idle one
 * signalled (it counts as awake from now on, so nobody signals for the
 * same job twice), or a new thread - unless the cap leaves no room. */
static bool wake_one(weft__pool *p)
{
    if (p->nbusy >= p->max)
        return false; /* nobody could take it: a worker that finishes will */
    if (p->nidle) {
        p->nidle--;
        p->wakeups++;
        atomic_fetch_add_explicit(&p->awake, 1, memory_order_seq_cst);
        pthread_cond_signal(&p->cv);
        return true;
    }
    /* On failure the threads there are will do. */
    return p->nthreads < p->max && add_worker(p) == 0;
}

/* May this worker take a job now?  Not past the cap (weft_pool_limit may
 * lower it below the number of threads). */
static bool can_take(weft__pool *p)
{
    take_in(p);
    return p->queue.head && p->nbusy < p->max;
}

/* Called with mu held and can_take() true.  The worker stops counting as
 * awake; if more jobs wait and nobody else is awake, it passes the wake-up
 * on, so jobs queued in a burst start on as many threads as they need
 * without the loop waking each. */
static weft__job *take(weft__pool *p)
{
    weft__job *j = weft__container_of(weft__list_pop(&p->queue), weft__job,
                                      link);
    j->state = JOB_RUNNING;
    unsigned left = atomic_fetch_sub_explicit(&p->queued, 1,
                                              memory_order_relaxed) - 1;
    p->nbusy++;
    if (atomic_fetch_sub_explicit(&p->awake, 1, memory_order_seq_cst) == 1 &&
        left)
        wake_one(p);
    return j;
}

static void complete(weft__pool *p, weft__job *j)
{
    weft__job *old = atomic_load_explicit(&p->done, memory_order_relaxed);
    do
        j->next = old;
    while (!atomic_compare_exchange_weak_explicit(
        &p->done, &old, j, memory_order_seq_cst, memory_order_relaxed));
    if (atomic_load_explicit(&p->loop_sleeping, memory_order_seq_cst))
        weft__backend_wake(p->backend);
}

/* Called with mu held, awake and nothing to take: spin (if nobody else
 * does and nothing is queued), else sleep.  Returns with mu held, awake. */
static void idle(weft__pool *p)
{
    if (!p->spinner && !p->queue.head) {
        p->spinner = true;
        pthread_mutex_unlock(&p->mu);
        uint64_t until = weft__clock_ns() + WORKER_SPIN_NS;
        int n = 0;
        while (!atomic_load_explicit(&p->queued, memory_order_acquire)) {
            relax();
            if ((++n & 63) == 0 && spin_check(until))
                break;
        }
        pthread_mutex_lock(&p->mu);
        p->spinner = false;
        if (can_take(p) || p->stop)
            return;
    }
    /* Going to sleep: no longer awake, then one more look.  seq_cst on
     * both sides (here: awake then queued; the loop: queued then awake),
     * so a job pushed meanwhile is seen here or wakes someone. */
    atomic_fetch_sub_explicit(&p->awake, 1, memory_order_seq_cst);
    if ((atomic_load_explicit(&p->queued, memory_order_seq_cst) &&
         can_take(p)) ||
        p->stop) {
        atomic_fetch_add_explicit(&p->awake, 1, memory_order_seq_cst);
        return;
    }
    p->nidle++;
    pthread_cond_wait(&p->cv, &p->mu);
    if (p->wakeups) {
        p->wakeups--; /* wake_one counted us awake already */
    } else {
        p->nidle--; /* a spurious wake-up, or the pool closing */
        atomic_fetch_add_explicit(&p->awake, 1, memory_order_seq_cst);
    }
}

/* A worker counts as awake from its creation (add_worker) to its end,
 * except while it runs a job or sleeps. */
static void *worker(void *arg)
{
    weft__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!can_take(p) && !p->stop)
            idle(p);
        if (!can_take(p))
            break; /* stopping, nothing (more) this worker may take */
        weft__job *j = take(p);
        pthread_mutex_unlock(&p->mu);
        tls_job = j;
        weft__tls_fail_sink = &j->fail;
        j->result = j->fn(j->arg);
        weft__tls_fail_sink = NULL;
        tls_job = NULL;
        /* Awake again before the loop can see the result: a task resumed
         * by it that submits at once must not wake a second worker. */
        atomic_fetch_add_explicit(&p->awake, 1, memory_order_seq_cst);
        complete(p, j);
        pthread_mutex_lock(&p->mu);
        p->nbusy--; /* a job held back by the cap: this worker takes it */
    }
    atomic_fetch_sub_explicit(&p->awake, 1, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* With mu held.  Workers block asynchronous signals: those are the
 * program's, to be handled on its own threads. */
static int add_worker(weft__pool *p)
{
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = weft__alloc_should_fail()
                 ? EAGAIN
                 : pthread_create(&p->threads[p->nthreads], NULL, worker, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return -rc;
    p->nthreads++;
    atomic_fetch_add_explicit(&p->awake, 1, memory_order_seq_cst);
    return 0;
}

/* ---- loop side ---- */

static unsigned default_max(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n + 4 < 32 ? (unsigned)n + 4 : 32;
}

static void pool_turn(weft__loop *L, weft__service *sv);
static bool pool_before_sleep(weft__loop *L, weft__service *sv,
                              int64_t timeout_ns);
static void pool_after_sleep(weft__loop *L, weft__service *sv);
static void pool_close(weft__loop *L, weft__service *sv);
static void job_cancel(weft__loop *L, uint32_t idx, weft__stackless *t);

static const weft__service_ops pool_service_ops = {
    .turn = pool_turn,
    .before_sleep = pool_before_sleep,
    .after_sleep = pool_after_sleep,
    .close = pool_close,
};

static const weft__stackless_ops job_ops = {.cancel = job_cancel};

static int pool_get(weft__loop *L, weft__pool **out)
{
    weft__service *sv = weft__service_find(L, &pool_service_ops);
    if (sv) {
        *out = (weft__pool *)sv;
        return 0;
    }
    weft__pool *p = weft__calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->threads = weft__calloc(POOL_MAX_LIMIT, sizeof *p->threads);
    if (!p->threads) {
        weft__free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max = default_max();
    p->backend = L->backend;
    p->svc.ops = &pool_service_ops;
    weft__service_add(L, &p->svc);
    *out = p;
    return 0;
}

/* The loop wakes a worker: once per turn at once, later ones of the turn
 * at its end (pool_turn). */
static void loop_wake(weft__pool *p)
{
    if (p->woke) {
        p->owed = true;
        return;
    }
    p->woke = true;
    pthread_mutex_lock(&p->mu);
    p->loop_wakes += wake_one(p);
    pthread_mutex_unlock(&p->mu);
}

static int submit(weft__loop *L, weft__job *j)
{
    weft__pool *p;
    int rc = pool_get(L, &p);
    if (rc)
        return rc;
    if (!p->has_thread) {
        pthread_mutex_lock(&p->mu);
        rc = p->nthreads ? 0 : add_worker(p);
        pthread_mutex_unlock(&p->mu);
        if (rc)
            return rc; /* no thread at all: the job could never run */
        p->has_thread = true;
    }
    j->state = JOB_QUEUED;
    weft__job *old = atomic_load_explicit(&p->incoming, memory_order_relaxed);
    do
        j->next = old;
    while (!atomic_compare_exchange_weak_explicit(
        &p->incoming, &old, j, memory_order_release, memory_order_relaxed));
    /* seq_cst, then awake: see idle(). */
    atomic_fetch_add_explicit(&p->queued, 1, memory_order_seq_cst);
    p->in_flight++;
    weft__source_ref(L);
    if (!atomic_load_explicit(&p->awake, memory_order_seq_cst))
        loop_wake(p);
    return 0;
}

static void finish_job(weft__loop *L, weft__pool *p, weft__job *j)
{
    p->in_flight--;
    weft__source_unref(L);
    weft__slot *s = &L->slots[j->idx];
    s->flags &= (uint8_t)~WEFT__SF_STACKLESS;
    if (j->drop && (s->flags & WEFT__SF_DETACHED)) {
        j->drop(j->result);
        j->result = NULL;
    }
    weft__task_finish(L, j->idx, NULL, j->result, j->fail.err, j->fail.msg);
    weft__free(j);
}

/* Finishes the jobs the workers completed.  Returns how many. */
static int pool_reap(weft__loop *L, weft__pool *p)
{
    if (!atomic_load_explicit(&p->done, memory_order_relaxed))
        return 0;
    /* The stack is newest first; finish in completion order. */
    weft__job *rev = oldest_first(atomic_exchange_explicit(
        &p->done, NULL, memory_order_acquire));
    int count = 0;
    while (rev) {
        weft__job *n = rev->next;
        finish_job(L, p, rev);
        rev = n;
        count++;
    }
    return count;
}

/* Busy-waits a bounded time for a completion; true if one arrived. */
static bool pool_spin(weft__pool *p)
{
    uint64_t until = weft__clock_ns() + LOOP_SPIN_NS;
    int n = 0;
    while (!atomic_load_explicit(&p->done, memory_order_acquire)) {
        relax();
        if ((++n & 63) == 0 && spin_check(until))
            return false;
    }
    return true;
}

static void pool_turn(weft__loop *L, weft__service *sv)
{
    weft__pool *p = (weft__pool *)sv;
    p->woke = false;
    if (p->owed) {
        p->owed = false;
        if (atomic_load_explicit(&p->queued, memory_order_seq_cst) &&
            !atomic_load_explicit(&p->awake, memory_order_seq_cst))
            loop_wake(p);
    }
    if (p->in_flight)
        pool_reap(L, p);
}

/* A job is out: spin a little for it (a sleeping hand-off costs ~25 us
 * here), then let the loop sleep with the workers told to wake it.  The
 * flag is seq_cst and checked after a worker's push, so either the worker
 * sees it or this reap sees the job. */
static bool pool_before_sleep(weft__loop *L, weft__service *sv,
                              int64_t timeout_ns)
{
    (void)timeout_ns;
    weft__pool *p = (weft__pool *)sv;
    if (!p->in_flight)
        return false;
    if (pool_spin(p))
        return true; /* reaped by pool_after_sleep */
    atomic_store_explicit(&p->loop_sleeping, 1, memory_order_seq_cst);
    return pool_reap(L, p) > 0;
}

static void pool_after_sleep(weft__loop *L, weft__service *sv)
{
    weft__pool *p = (weft__pool *)sv;
    atomic_store_explicit(&p->loop_sleeping, 0, memory_order_seq_cst);
    pool_reap(L, p);
}

/* Cancellation of a job: removed if still queued (finishes cancelled), or
 * flagged for the job to poll. */
/* Withdraws a job still queued - it never runs and finishes cancelled -
 * and returns true; or asks a running one to stop (weft_thread_cancelled)
 * and returns false: it cannot be stopped, and whoever waits for it waits
 * until it has returned. */
static bool job_stop(weft__loop *L, weft__job *j)
{
    weft__pool *p = (weft__pool *)weft__service_find(L, &pool_service_ops);
    pthread_mutex_lock(&p->mu);
    take_in(p);
    if (j->state == JOB_QUEUED) {
        weft__list_remove(&p->queue, &j->link);
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
        pthread_mutex_unlock(&p->mu);
        L->slots[j->idx].flags |= WEFT__SF_CANCELLED;
        j->result = NULL;
        finish_job(L, p, j);
        return true;
    }
    pthread_mutex_unlock(&p->mu);
    atomic_store_explicit(&j->cancel, 1, memory_order_relaxed);
    return false;
}

static void job_cancel(weft__loop *L, uint32_t idx, weft__stackless *t)
{
    (void)idx;
    job_stop(L, (weft__job *)t);
}

static void pool_close(weft__loop *L, weft__service *sv)
{
    (void)L;
    weft__pool *p = (weft__pool *)sv;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Shutdown waited for every job; anything left would be a bug. */
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    weft__free(p->threads);
    weft__free(p);
}

/* ---- public API ---- */

int weft_spawn_blocking(weft_fn fn, void *arg, weft_task **task)
{
    weft__loop *L = weft__tls_loop;
    if (!fn || !task)
        return -EINVAL;
    if (!L || !L->cur)
        return -EPERM;
    /* A pool thread would use it while other compact tasks run on the
     * stack that holds it (docs/compact-tasks.md). */
    WEFT__REFUSE_ON_SHARED_STACK(L, arg);
    if (weft__ring_reserve(L, L->n_alive + 1))
        return -ENOMEM;
    weft__job *j = weft__calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    uint32_t idx = weft__slot_alloc(L);
    if (!idx) {
        weft__free(j);
        return -ENOMEM;
    }
    j->fn = fn;
    j->arg = arg;
    j->idx = idx;
    weft__slot *s = &L->slots[idx];
    s->state = WEFT__SLOT_RUNNING;
    s->flags = WEFT__SF_OWNED | WEFT__SF_STACKLESS;
    s->x = 0;
    j->base.ops = &job_ops;
    s->a.ext = &j->base;
    if (L->closing) {
        /* Shutdown: born cancelled, never runs. */
        s->flags = WEFT__SF_OWNED | WEFT__SF_CANCELLED;
        L->n_alive++;
        weft__task_finish(L, idx, NULL, NULL, -ECANCELED, NULL);
        weft__free(j);
        *task = weft__encode(L, idx, false);
        return 0;
    }
    int rc = submit(L, j);
    if (rc) {
        weft__slot_release(L, idx);
        weft__free(j);
        return rc;
    }
    L->n_alive++;
    *task = weft__encode(L, idx, false);
    return 0;
}

int weft_to_thread(weft_fn fn, void *arg, void **result)
{
    weft__loop *L = weft__tls_loop;
    if (!fn)
        return -EINVAL;
    if (!L || !L->cur)
        return -EPERM;
    WEFT__RETURN_IF_CANCELLED(L, L->cur);
    weft_task *t;
    int rc = weft_spawn_blocking(fn, arg, &t);
    if (rc)
        return rc;
    return weft_await(t, result);
}

/* The wait of weft_to_thread_detachable: cancellation and scopes wake the
 * caller instead of passing to the job. */
static void detachable_done(weft__loop *L, weft__record *r, uint32_t idx)
{
    (void)idx;
    weft__ready(L, r, 0);
}

static const weft__wait_kind detachable_wait = {.task_done = detachable_done};

int weft_to_thread_detachable(weft_fn fn, void *arg,
                              void (*drop)(void *result), void **result)
{
    weft__loop *L = weft__tls_loop;
    if (!fn)
        return -EINVAL;
    if (!L || !L->cur)
        return -EPERM;
    weft__record *self = L->cur;
    WEFT__RETURN_IF_CANCELLED(L, self);
    weft_task *t;
    int rc = weft_spawn_blocking(fn, arg, &t);
    if (rc)
        return rc;
    weft__loop *L2;
    uint32_t idx;
    weft__decode(t, false, &L2, &idx);
    weft__slot *s = &L->slots[idx];
    ((weft__job *)s->a.ext)->drop = drop;
    s->flags |= WEFT__SF_AWAITED;
    weft__waiter_set(L, idx, self->idx);
    while (s->state != WEFT__SLOT_DONE) {
        if ((rc = weft__check(L, self)))
            break;
        weft__block(L, self, &detachable_wait, WEFT__NO_DEADLINE);
    }
    if (s->state != WEFT__SLOT_DONE) {
        /* Withdrawn if queued; else asked to stop, but not flagged
         * cancelled: a failure it reports is its own, and printed. */
        if (!job_stop(L, (weft__job *)s->a.ext)) {
            /* Running: it goes on without us. */
            s->flags = (uint8_t)((s->flags & ~(WEFT__SF_OWNED |
                                              WEFT__SF_AWAITED)) |
                                 WEFT__SF_DETACHED);
            return rc;
        }
    }
    int err = weft__collect(L, idx, result, true);
    return rc ? rc : err;
}

int weft_thread_cancelled(void)
{
    weft__job *j = tls_job;
    if (!j)
        return -EPERM;
    return atomic_load_explicit(&j->cancel, memory_order_relaxed);
}

int weft_pool_limit(unsigned max_threads)
{
    weft__loop *L = weft__tls_loop;
    if (!L || !L->cur)
        return -EPERM;
    if (max_threads < 1 || max_threads > POOL_MAX_LIMIT)
        return -EINVAL;
    weft__pool *p;
    int rc = pool_get(L, &p);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->mu);
    p->max = max_threads; /* extra threads finish and idle; none is added */
    /* Raised: jobs held back by the old cap may start now (each taker
     * wakes the next). */
    if (atomic_load_explicit(&p->queued, memory_order_seq_cst) &&
        !atomic_load_explicit(&p->awake, memory_order_seq_cst))
        wake_one(p);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void weft__pool_stats_get(weft__loop *L, weft__pool_stats *out)
{
    *out = (weft__pool_stats){0};
    weft__pool *p = (weft__pool *)weft__service_find(L, &pool_service_ops);
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    out->threads = p->nthreads;
    out->busy = p->nbusy;
    out->queued = atomic_load_explicit(&p->queued, memory_order_relaxed);
    pthread_mutex_unlock(&p->mu);
    out->loop_wakes = p->loop_wakes;
}

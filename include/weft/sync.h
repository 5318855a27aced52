/*
 * weft/sync.h - asyncio's synchronization primitives: Lock, Event,
 * Condition, Semaphore, BoundedSemaphore, Barrier and Queue.  Included by
 * weft.h.
 *
 * They suspend the calling task, never the thread.  Waiters are served in
 * FIFO order, and what a waker grants (the lock, a permit, an item) is
 * handed to the first waiter directly: a waiter cancelled while queued
 * leaves without taking anything, and one cancelled after it was granted
 * keeps the grant (its *next* suspending call returns -ECANCELED) - so a
 * grant is never lost and never given twice.  Waiting never allocates.
 *
 * Lock, Event, Condition, Semaphore and Barrier live in the caller's
 * storage, with a static initializer (all zero is a valid lock, event and
 * condition-less state); their fields are private.  A primitive belongs to
 * the loop whose tasks hold it (a lock) or wait on it, for as long as they
 * do: every other loop's call that would take, grant or wait on it returns
 * -EPERM then, so a lock held on one loop cannot be released, taken or
 * waited for from another.  Free and unwaited, it belongs to no loop:
 * successive loops (one weft_run after another, or loops on two threads
 * taking turns) may reuse the same static object.  Loops are told apart
 * exactly (a lock records its holder's loop beside the task), however many
 * loops the process runs; a lock still held when its holder's loop closes
 * stays held, and every later loop's call on it is -EPERM.  Calls must come
 * from a task (-EPERM otherwise).  What is not detected: two loops on two
 * threads
 * calling at the same moment on an object neither holds nor waits on (a
 * data race - keep one object to one loop at a time), moving or reusing
 * the storage while a task waits on it, and a pointer to anything else.
 * Never in a compact task's frame (WEFT_SPAWN_COMPACT, weft/task.h): other
 * tasks and the loop write into a primitive while the task whose frame
 * holds it is away.  Debug builds refuse every call that waits on, wakes
 * or changes a primitive there (all but the read-only queries) with
 * -EINVAL, the condition's lock included.
 * A queue is allocated by weft, and its weft_queue * is a checked handle:
 * once freed, and for anything that never was a queue's handle, every
 * call returns -EINVAL (weft_queue_size 0), in every build.
 * weft_queue_new, weft_queue_free, weft_event_clear and the read-only
 * queries (weft_lock_locked, weft_event_is_set, weft_sem_value,
 * weft_queue_size) may be called from anywhere that does not race with the
 * loop (before weft_run, for example).
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A queue of waiting tasks (private). */
typedef struct weft_waiters {
    void *head_, *tail_;
} weft_waiters;

/* ---- Lock (asyncio.Lock) ---- */

typedef struct weft_lock {
    uint64_t owner_; /* the holder's identity in its loop, 0 when free */
    uint64_t loop_;  /* the holder's loop (never reused), while held */
    weft_waiters waiters_;
} weft_lock;

#define WEFT_LOCK_INIT {0, 0, {0, 0}}

/* Acquires the lock, suspending while another task holds it.  A free lock
 * is taken without suspending.  Not re-entrant.
 * Errors: -EDEADLK (the caller holds it already), -ECANCELED, -EPERM,
 * -EINVAL (NULL). */
int weft_lock_acquire(weft_lock *lock);
/* Takes the lock only if it is free and nobody waits: 0, or -EBUSY. */
int weft_lock_try(weft_lock *lock);
/* Releases the lock, handing it to the first waiter if any.
 * Errors: -EPERM (the caller does not hold it), -EINVAL. */
int weft_lock_release(weft_lock *lock);
/* 1 if some task holds the lock, 0 if not. */
int weft_lock_locked(const weft_lock *lock);

/*
 * `async with lock:` for C.  The body runs with the lock held; the lock is
 * released however the body is left - falling off its end, break, or (with
 * gcc and clang, through the cleanup attribute) return or goto.  rc
 * receives weft_lock_acquire's result; the body is skipped if it fails.
 *
 *     int rc;
 *     WEFT_WITH_LOCK(&lock, rc) {
 *         ...
 *     }
 *     if (rc) ... // could not acquire: -ECANCELED, ...
 */
/* Used by WEFT_WITH_LOCK: releases *held if not NULL. */
void weft_lock_release_scoped(weft_lock **held);
#if defined(__GNUC__) || defined(__clang__)
#define WEFT_WITH_LOCK(lock, rc)                                              \
    for (weft_lock *weft_held_                                               \
             __attribute__((cleanup(weft_lock_release_scoped))) =            \
                 ((rc) = weft_lock_acquire(lock)) == 0 ? (lock) : NULL;       \
         weft_held_; weft_lock_release(weft_held_), weft_held_ = NULL)
#endif

/* ---- Event (asyncio.Event) ---- */

typedef struct weft_event {
    int set_;
    weft_waiters waiters_;
} weft_event;

#define WEFT_EVENT_INIT {0, {0, 0}}

/* Waits until the event is set (at once if it is).  Errors: -ECANCELED,
 * -EPERM, -EINVAL. */
int weft_event_wait(weft_event *ev);
/* Sets the event and wakes every waiter.  Errors: -EPERM, -EINVAL. */
int weft_event_set(weft_event *ev);
/* Clears it: later waits suspend again.  Errors: -EINVAL. */
int weft_event_clear(weft_event *ev);
/* 1 if set, 0 if not. */
int weft_event_is_set(const weft_event *ev);

/* ---- Semaphore and BoundedSemaphore (asyncio.Semaphore, ...) ---- */

typedef struct weft_semaphore {
    long value_;
    long bound_; /* 0: unbounded; else 1 + the initial value */
    weft_waiters waiters_;
} weft_semaphore;

#define WEFT_SEMAPHORE_INIT(n) {(n), 0, {0, 0}}
/* A BoundedSemaphore: releasing past the initial value is an error. */
#define WEFT_BOUNDED_SEMAPHORE_INIT(n) {(n), (n) + 1, {0, 0}}

/* Takes a permit, suspending while none is free.
 * Errors: -ECANCELED, -EPERM, -EINVAL. */
int weft_sem_acquire(weft_semaphore *sem);
/* 0, or -EBUSY when no permit is free. */
int weft_sem_try(weft_semaphore *sem);
/* Gives a permit back (to the first waiter, if any).
 * Errors: -EOVERFLOW (bounded: more releases than acquires; any: already
 * LONG_MAX permits), -EPERM, -EINVAL. */
int weft_sem_release(weft_semaphore *sem);
/* Free permits now. */
long weft_sem_value(const weft_semaphore *sem);

/* ---- Condition (asyncio.Condition) ---- */

typedef struct weft_cond {
    weft_lock *lock_;
    weft_waiters waiters_;
} weft_cond;

/* A condition over `lockp` (a weft_lock *), which the caller owns. */
#define WEFT_COND_INIT(lockp) {(lockp), {0, 0}}

/* Releases the lock, waits for a notify, re-acquires the lock.  The lock is
 * held again when it returns, whatever it returns (even -ECANCELED).
 * Errors: -EPERM (the caller does not hold the lock, or not in a task),
 * -ECANCELED, -EINVAL. */
int weft_cond_wait(weft_cond *cond);
/* Wakes up to n waiters; the caller must hold the lock (asyncio raises
 * otherwise).  Returns how many were woken.
 * Errors: -EPERM (the caller does not hold the lock, or not in a task),
 * -EINVAL (NULL, a condition without a lock, n < 0). */
int weft_cond_notify(weft_cond *cond, int n);
int weft_cond_notify_all(weft_cond *cond);

/* ---- Barrier (asyncio.Barrier, Python 3.11) ---- */

/*
 * A barrier for `parties` tasks: weft_barrier_wait suspends until `parties`
 * tasks wait, then releases them all.  It serves cycle after cycle.  A
 * cycle fills (tasks arrive and wait), then drains (the released tasks
 * leave, each when it resumes); a task that arrives while the barrier
 * drains - or while a reset is under way - is not part of that cycle: it
 * waits until the last released task has left, then joins the next one.
 *
 * -EPIPE stands for asyncio's BrokenBarrierError.  weft_barrier_abort
 * breaks the barrier: the tasks waiting in it, and every wait after, fail
 * with -EPIPE until weft_barrier_reset.  weft_barrier_reset fails the
 * tasks waiting in it with -EPIPE and leaves the barrier usable.
 *
 * As in asyncio, and unlike the primitives above, release is not a grant:
 * a released task's outcome is settled when it resumes.  If the barrier
 * was reset or aborted in between it returns -EPIPE; if the task was
 * cancelled in between, -ECANCELED (or -ETIMEDOUT: a cancel scope's
 * deadline); the other tasks are unaffected either way.  A task cancelled
 * while the barrier fills leaves the cycle (-ECANCELED, and one more
 * arrival is needed): weft_barrier_n_waiting
 * drops when the cancelled task resumes, not when it is cancelled, and an
 * arrival before that still counts it (as in asyncio).
 *
 * In the caller's storage, with a static initializer, under the same rules
 * as the Lock (one loop; not moved or reused while a task uses it).  wait,
 * reset and abort are called from a task (-EPERM otherwise); init and the
 * queries from anywhere that does not race with the loop.
 */
typedef struct weft_barrier {
    unsigned parties_;
    unsigned count_; /* tasks in the current cycle */
    int state_;      /* filling, draining, resetting or broken */
    weft_waiters waiters_; /* arrived, waiting for the cycle to fill */
    weft_waiters blocked_; /* arrived while it drains or resets */
} weft_barrier;

/* A barrier for `parties` tasks, 1 to INT_MAX (with any other value, waits
 * fail with -EINVAL). */
#define WEFT_BARRIER_INIT(parties) {(parties), 0, 0, {0, 0}, {0, 0}}

/* Sets *b up like WEFT_BARRIER_INIT(parties) (not while a task uses it).
 * Errors: -EINVAL (b NULL, parties 0 or above INT_MAX).  Callable
 * anywhere. */
int weft_barrier_init(weft_barrier *b, unsigned parties);
/* Waits until `parties` tasks wait, and returns this task's index in the
 * cycle: 0 for the first to arrive, parties - 1 for the last, which
 * releases the others and returns without suspending.  The index is the
 * number of tasks in the cycle at arrival, so after a waiter left by
 * cancellation a later arrival reuses a number (as in asyncio); otherwise
 * the indices of a cycle are 0 .. parties - 1, each once.
 * Errors: -EPIPE (broken, or reset or aborted while waiting), -ECANCELED,
 * -ETIMEDOUT (a cancel scope's deadline), -EPERM, -EINVAL (b NULL, or a
 * bad number of parties). */
int weft_barrier_wait(weft_barrier *b);
/* Back to an empty, unbroken barrier.  The tasks waiting in it fail with
 * -EPIPE; arrivals wait until they have left.  Errors: -EPERM, -EINVAL. */
int weft_barrier_reset(weft_barrier *b);
/* Breaks the barrier: the tasks waiting in it and every later wait fail
 * with -EPIPE, until weft_barrier_reset.  Errors: -EPERM, -EINVAL. */
int weft_barrier_abort(weft_barrier *b);
/* Read-only queries, callable anywhere; 0 for NULL.  parties: as
 * initialized; n_waiting: tasks waiting for the cycle to fill (0 while it
 * drains, resets or is broken); broken: 1 after an abort, until reset. */
int weft_barrier_parties(const weft_barrier *b);
int weft_barrier_n_waiting(const weft_barrier *b);
int weft_barrier_broken(const weft_barrier *b);

/* ---- Queue (asyncio.Queue, LifoQueue, PriorityQueue) ---- */

typedef struct weft_queue weft_queue;

enum {
    WEFT_QUEUE_FIFO = 0,
    WEFT_QUEUE_LIFO = 1,
    WEFT_QUEUE_PRIORITY = 2, /* smallest item first, by cmp */
};

/*
 * A queue of pointers.  maxsize 0: unbounded (put never waits; memory
 * grows); otherwise put waits while maxsize items are queued.  cmp orders a
 * priority queue (like qsort's: negative if a comes first; ties leave in
 * put order... not guaranteed) and must be NULL for the other kinds.
 * *q receives the queue, which the caller frees with weft_queue_free.
 * Callable anywhere; the queue is then used by one loop's tasks.
 * Errors: -EINVAL (bad kind, cmp or maxsize; q NULL), -ENOMEM.
 */
int weft_queue_new(int kind, size_t maxsize,
                   int (*cmp)(const void *a, const void *b), weft_queue **q);
/* Frees an unused queue.  Errors: -EBUSY (a task waits on it; nothing is
 * freed), -EINVAL (NULL, freed or unknown queue: a second free).  Items
 * still queued are the caller's (they are pointers: weft frees nothing
 * they point to). */
int weft_queue_free(weft_queue *q);

/* Adds an item, waiting while the queue is full.
 * Errors: -ESHUTDOWN, -ECANCELED, -ENOMEM (unbounded queue), -EPERM,
 * -EINVAL (NULL, freed or unknown queue; debug builds: item points into a
 * compact task's frame, which the getter must not use while that task
 * waits - WEFT_SPAWN_COMPACT in weft/task.h). */
int weft_queue_put(weft_queue *q, void *item);
/* Removes the next item, waiting while the queue is empty.  After
 * shutdown, the remaining items still come out, then -ESHUTDOWN.
 * Errors: -ESHUTDOWN, -ECANCELED, -EPERM, -EINVAL (item NULL; NULL, freed
 * or unknown queue). */
int weft_queue_get(weft_queue *q, void **item);
/* Without waiting: -EAGAIN when full (put) or empty (get); other errors
 * as weft_queue_put and weft_queue_get. */
int weft_queue_try_put(weft_queue *q, void *item);
int weft_queue_try_get(weft_queue *q, void **item);
/* Items queued now; 0 for a NULL, freed or unknown queue. */
size_t weft_queue_size(const weft_queue *q);
/* A consumer finished an item it got.  Errors: -EINVAL (called more times
 * than items were put; NULL, freed or unknown queue), -EPERM. */
int weft_queue_task_done(weft_queue *q);
/* Waits until every item put has been got and marked done.
 * Errors: -ECANCELED, -EPERM, -EINVAL (NULL, freed or unknown queue). */
int weft_queue_join(weft_queue *q);
/* Python 3.13's Queue.shutdown: puts fail with -ESHUTDOWN from now on and
 * every waiting putter is woken with it; getters drain what is left, then
 * get -ESHUTDOWN.  immediate: the remaining items are dropped (and count as
 * done for join), and waiting getters are woken at once.
 * Errors: -EPERM, -EINVAL (NULL, freed or unknown queue). */
int weft_queue_shutdown(weft_queue *q, int immediate);

#ifdef __cplusplus
}
#endif

#endif

/*
 * weft/loop.h - the loop from outside: a handle to a loop that other threads
 * and other loops may use, submitting work to it (call_soon_threadsafe),
 * waiting for the outcome from a plain thread (run_coroutine_threadsafe and
 * its concurrent.futures.Future), and calls from a task of one loop to
 * another loop.  Included by weft.h.
 *
 *     // on the loop, in a task:
 *     weft_loop *loop;
 *     weft_loop_current(&loop);          // hand `loop` to a worker thread
 *
 *     // on the worker thread:
 *     weft_future *f;
 *     if (weft_submit(loop, fetch, url, &f) == 0) {
 *         if (weft_future_wait(f, 2.0) == -ETIMEDOUT)
 *             weft_future_cancel(f);     // give up: cancel ...
 *         void *page;
 *         int rc = weft_future_join(f, &page); // ... and still join
 *     }
 *     weft_loop_release(loop);
 *
 * Unlike everything else in weft, the calls here (but weft_loop_current,
 * weft_spawn_on and weft_call_on) may be made from any thread.
 *
 * Lifetimes.  A loop handle is reference-counted and outlives its loop: once
 * the loop has begun to shut down (its main task finished) it refuses new
 * work with -ESHUTDOWN, and once it has closed it is never touched again;
 * the handle's memory goes with its last reference.  Every submission the
 * loop accepted either runs exactly once, as a task, or - if the loop shuts
 * down before the task starts, or has no memory to start it - is dropped:
 * weft_call_soon calls its drop callback, a future finishes -ECANCELED (or
 * -ENOMEM).  While any reference taken with weft_loop_current or
 * weft_loop_ref is held, the loop counts as having a wake source: a task
 * waiting for something another thread will submit is not a deadlock.
 *
 * Misuse.  Loop handles and futures are checked values, never followed
 * before a process-wide table says they are live: a handle after its last
 * release, a future after its join, or a pointer that never was either is
 * -EINVAL.  Not detected: two threads joining one future at once, or a
 * thread using a handle while another releases the reference it relied
 * on.  Release each reference exactly once.
 */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A loop handle (asyncio's loop object, seen from outside). */
typedef struct weft_loop weft_loop;

/* The outcome of a submission, for a plain thread to wait on
 * (concurrent.futures.Future). */
typedef struct weft_future weft_future;

/*
 * A new reference to the calling thread's loop.  The caller owns it and
 * releases it with weft_loop_release (from any thread, also after the loop
 * has closed).  Callable from a task or from the loop's thread.
 * Errors: -EINVAL (loop NULL), -EPERM (no loop runs on this thread),
 * -ENOMEM (the first handle of a loop is allocated).
 */
int weft_loop_current(weft_loop **loop);

/* Takes one more reference to the handle (to give to another thread).
 * Any thread.  Errors: -EINVAL (not a live handle). */
int weft_loop_ref(weft_loop *loop);

/* Drops one reference; the last one frees the handle.  NULL is ignored.
 * Any thread.  Errors: -EINVAL (not a live handle). */
int weft_loop_release(weft_loop *loop);

/* 1 if the loop has begun to shut down or has closed (it refuses new
 * work), 0 if it runs.  Any thread.  Errors: -EINVAL. */
int weft_loop_closed(weft_loop *loop);

/*
 * loop.call_soon_threadsafe(): runs fn(arg) as a new task of `loop`, which
 * starts it at its next turn (submissions from one thread start in the
 * order they were made).  The loop owns the task (as weft_task_detach: a
 * failure is reported on stderr when the loop closes).
 *
 * drop: may be NULL.  Called with arg, on the loop's thread, if the
 * submission was accepted but the task never ran: the loop shut down
 * before starting it, or could not allocate it.  Exactly one of fn(arg)
 * and drop(arg) happens for every accepted submission.
 * Returns 0 (accepted).
 * Errors (nothing was accepted, drop is not called, the caller keeps arg):
 * -EINVAL (loop or fn NULL, not a live handle; debug builds: arg points
 * into a compact task's frame on the calling thread's loop, see
 * WEFT_SPAWN_COMPACT in weft/task.h), -ESHUTDOWN (the loop is shutting
 * down or closed), -ENOMEM.
 * Any thread, including the loop's own tasks and other loops' tasks.
 */
int weft_call_soon(weft_loop *loop, weft_fn fn, void *arg,
                   void (*drop)(void *arg));

/*
 * asyncio.run_coroutine_threadsafe(): runs fn(arg) as a new task of `loop`
 * and gives a future that receives its outcome.
 *
 * future: receives the future, which the caller owns and must join with
 * weft_future_join exactly once (a future never joined is a leak, and its
 * task may still be running).  arg must stay valid until the join: the
 * task may use it until then, also after a timed-out wait.
 * Errors: -EINVAL (loop, fn or future NULL, not a live handle; debug
 * builds: arg points into a compact task's frame on the calling thread's
 * loop, see WEFT_SPAWN_COMPACT in weft/task.h), -ESHUTDOWN (the loop is
 * shutting down or closed), -ENOMEM.  On error *future is untouched and
 * nothing runs.
 * Any thread.  From a task of the same loop, use weft_spawn / weft_await
 * instead: waiting on the future there would block the loop that has to
 * run the task (weft_future_wait says -EDEADLK).
 */
int weft_submit(weft_loop *loop, weft_fn fn, void *arg, weft_future **future);

/*
 * Blocks the calling thread until the future's task has finished or
 * `timeout` seconds have passed (INFINITY: no limit; 0: just look).
 * Returns 0 (finished: join it for the outcome) or -ETIMEDOUT.
 * Errors: -EINVAL (NULL, not a live future, timeout NaN), -EDEADLK (called
 * on the thread of the loop that runs the task, which would never run).
 * Any thread; from a task of another loop it blocks that whole loop (a task
 * should use weft_call_on instead).
 */
int weft_future_wait(weft_future *future, double timeout);

/* weft_future_wait with an absolute deadline on weft_now()'s clock
 * (INFINITY: none).  Errors as weft_future_wait. */
int weft_future_wait_at(weft_future *future, double deadline);

/* 1 if the future's task has finished, 0 if not.  Any thread.
 * Errors: -EINVAL. */
int weft_future_done(weft_future *future);

/*
 * Asks for the future's task to be cancelled (weft_task_cancel, sent to its
 * loop): a task not started yet never runs, a running one sees -ECANCELED
 * from its suspending calls.  Does not wait: join the future afterwards,
 * which returns once the task has finished (so it no longer uses arg).
 * Returns 0 if requested (or already requested), 1 if the task had already
 * finished.  Errors: -EINVAL.  Any thread.
 */
int weft_future_cancel(weft_future *future);

/*
 * Waits without limit until the future's task has finished, gives its
 * outcome and frees the future.
 * result: if not NULL, receives what the task's body returned (NULL if it
 * never ran), also when it failed or was cancelled, so that an allocation
 * it returned is never lost.
 * Returns the task's outcome: 0, its weft_fail() code, -ECANCELED (it was
 * cancelled, or the loop shut down before it ran), -ENOMEM (the loop could
 * not start it).  The task's weft_fail message is readable with
 * weft_future_message until this call.
 * Errors (the future is not freed): -EINVAL (NULL, not a live future),
 * -EDEADLK (on the thread of the loop that runs the task).
 */
int weft_future_join(weft_future *future, void **result);

/* The failed task's weft_fail message, or NULL (none, or not finished).
 * Owned by the future: valid until weft_future_join.  Any thread. */
const char *weft_future_message(weft_future *future);

/*
 * From a task of one loop, starts fn(arg) as a task of `loop` (another
 * loop, possibly on another thread; the caller's own loop works too) and
 * gives a handle, on the caller's loop, that stands for it: await it,
 * gather it, put it in a task group, wait for it with a timeout, cancel it
 * - as any task.  Cancelling the handle (directly, or by cancelling the
 * task or scope that awaits it) cancels the remote task, and the handle
 * finishes only once the remote task has: nothing the remote task uses of
 * the caller's outlives the wait.  The outcome (result, error and
 * weft_fail message) is the remote task's; -ECANCELED if `loop` shut down
 * before starting it.
 * The handle is owned by the caller, as weft_spawn's.
 * Errors: -EINVAL (loop, fn or task NULL, not a live handle; debug builds:
 * arg points into a compact task's frame, see WEFT_SPAWN_COMPACT in
 * weft/task.h), -EPERM (not in a task), -ESHUTDOWN (`loop` is shutting
 * down or closed), -ENOMEM.
 */
int weft_spawn_on(weft_loop *loop, weft_fn fn, void *arg, weft_task **task);

/*
 * weft_spawn_on + weft_await: runs fn(arg) as a task of `loop` and
 * suspends only the calling task until it has finished.  The caller's
 * cancellation and cancel scopes pass across: the remote task is
 * cancelled and joined, then this returns -ECANCELED (or the scope's
 * -ETIMEDOUT).
 * Returns the remote task's outcome as weft_await does; errors as
 * weft_spawn_on and weft_await.
 */
int weft_call_on(weft_loop *loop, weft_fn fn, void *arg, void **result);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_LOOP_H */

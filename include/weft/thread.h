/*
 * weft/thread.h - running blocking functions on a thread pool
 * (asyncio.to_thread, run_in_executor; C#'s Task.Run; Tokio's
 * spawn_blocking).  Included by weft.h.
 *
 * Each loop has its own pool, started on first use, of at most
 * min(32, ncpu + 4) threads (weft_pool_limit changes that), created as work
 * arrives.  Jobs are taken in the order they were submitted, and a job
 * waits for a free thread no longer than the loop's current turn (the loop
 * wakes a sleeping thread at most once per turn, and threads that take a
 * job wake the next, so many jobs submitted at once cost no system call
 * each).
 * Closing the loop waits for the jobs still running and joins the threads:
 * once the last weft_run of a process has returned, no weft thread is left.
 * Pool threads block asynchronous signals.
 */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Runs fn(arg) on a pool thread and suspends the calling task (only) until
 * it returns: asyncio.to_thread.  result, if not NULL, receives what fn
 * returned.  fn may report an error with weft_fail(), as a task does.
 * If the calling task is cancelled meanwhile, or a cancel scope around the
 * call is (weft/cancel.h), a job still queued is withdrawn and never runs
 * (-ECANCELED or the scope's -ETIMEDOUT at once); a running job cannot be
 * stopped, so the call returns only once fn has returned - never while it
 * may still touch the caller's memory - which makes a timeout around it
 * as long as fn takes.  fn can poll weft_thread_cancelled() to stop early;
 * or use weft_to_thread_detachable to leave at once.
 * Errors: fn's weft_fail code, -ECANCELED, -ETIMEDOUT (a scope), -EINVAL
 * (fn NULL; debug builds: arg points into a compact task's frame, which a
 * pool thread must not use while the task waits - see WEFT_SPAWN_COMPACT
 * in weft/task.h), -EPERM (not in a task), -ENOMEM, -EAGAIN (no thread
 * could be created).
 */
int weft_to_thread(weft_fn fn, void *arg, void **result);

/*
 * weft_to_thread that can be left at once: if the calling task is cancelled
 * or a cancel scope around the call expires while fn runs, the call returns
 * -ECANCELED / -ETIMEDOUT immediately and the job is detached - it runs to
 * its end on its thread, weft_thread_cancelled() tells it to hurry, and
 * when it returns, `drop` (if not NULL) is called with its result on the
 * loop's thread (to free it), and a weft_fail error it reports is printed
 * when the loop closes.  Because fn may outlive the call, arg must belong
 * to the job (allocated for it, freed by fn or by drop's result), never the
 * caller's stack.  A job still queued is withdrawn instead, as with
 * weft_to_thread, and drop is not called (*result is then NULL); when the
 * job is left running, *result is left untouched - so a caller that set it
 * to arg beforehand knows who frees arg.
 * Errors: as weft_to_thread.
 */
int weft_to_thread_detachable(weft_fn fn, void *arg,
                              void (*drop)(void *result), void **result);

/*
 * Starts fn(arg) on the pool and returns a task handle at once (the caller
 * owns it).  The handle has no stack of its own; await, gather, cancel and
 * detach it like any task.  Errors as weft_to_thread (before anything runs).
 */
int weft_spawn_blocking(weft_fn fn, void *arg, weft_task **task);

/* Called from inside a pool job: 1 if the task for it was cancelled (stop
 * early if you can), 0 if not; -EPERM from anywhere else.  Callable from
 * pool threads only. */
int weft_thread_cancelled(void);

/* Caps the current loop's pool at max_threads (1..1024).  Threads beyond a
 * lowered cap finish their job and then idle.  Errors: -EINVAL, -EPERM. */
int weft_pool_limit(unsigned max_threads);

#ifdef __cplusplus
}
#endif

#endif

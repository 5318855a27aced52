/*
 * weft/task.h - running a loop, and spawning, awaiting, cancelling and
 * failing tasks (asyncio.run, create_task, Task).  Included by weft.h.
 */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options for weft_spawn_ex().  Zero-initialise, then set what you need. */
typedef struct weft_spawn_opts {
    /* The task's name, shown in deadlock and stack-overflow reports and
     * returned by weft_task_name().  Copied (at most 31 bytes kept); NULL for
     * none. */
    const char *name;
    /* Usable stack size in bytes; 0 for the default (WEFT_STACK_DEFAULT).
     * Rounded up to the page size; at least WEFT_STACK_MIN, at most
     * WEFT_STACK_MAX, otherwise weft_spawn_ex() returns -EINVAL.  Of the
     * default size, the top 256 bytes (more in sanitizer builds) are weft's
     * (the task's record may lie there). */
    size_t stack_size;
    /* WEFT_SPAWN_* flags. */
    unsigned flags;
} weft_spawn_opts;

#define WEFT_STACK_DEFAULT ((size_t)128 * 1024)
#define WEFT_STACK_MIN ((size_t)16 * 1024)
#define WEFT_STACK_MAX ((size_t)256 * 1024 * 1024)

/*
 * Eager start (Python 3.12's eager tasks): the new task runs at once, inside
 * weft_spawn_ex(), until it first suspends or finishes; then the spawner
 * continues.  Without it a task starts on a later turn of the loop, in
 * spawn (FIFO) order.
 */
#define WEFT_SPAWN_EAGER 1u

/*
 * Compact task (copy-stack, as libaco's): the task runs on a stack it
 * shares with the other compact tasks of its loop (WEFT_STACK_DEFAULT
 * bytes, with the same guard: too deep a frame gets the stack overflow
 * report), and while it is suspended the bytes it uses - its frames, from
 * where it suspended to the top - wait in a buffer sized to fit.  An idle
 * compact task costs its bytes, not a page; a switch to it costs a copy
 * when another compact task used the stack in between.  stack_size must be
 * 0 (-EINVAL); builds with the ucontext switch refuse it (-ENOTSUP).
 *
 * The rule: while a compact task is suspended, its frame is not
 * addressable - its bytes are elsewhere and another task's frame occupies
 * those addresses.  Nothing in a compact task's frame may be used by
 * anyone else while it waits: no lock, event, semaphore, condition or
 * barrier declared there, no `arg` pointing there for a task it spawns or
 * for weft_to_thread and the pool.  Pointers to its frame are fine
 * within its own code, for calls that use them only while it runs
 * (weft_gather's and weft_map's arrays, socket and stream buffers, DNS,
 * out-parameters), and for weft_file_* calls, which bounce them through
 * the heap.
 *
 * Debug builds (CMAKE_BUILD_TYPE=Debug, and the sanitizer builds) check
 * the addresses handed over and refuse with -EINVAL, before anything
 * starts, one that lies on the shared stack - in some compact task's
 * frame: a lock, event, semaphore, condition (or its lock) or barrier
 * there, for every call on it that links a waiter, wakes one or changes it
 * (weft_*_acquire, _try, _release, _wait, _set, _clear, _notify*,
 * weft_barrier_init, _reset, _abort); `arg` of weft_spawn, weft_spawn_ex,
 * weft_group_spawn, weft_group_spawn_ex, weft_gen_new, weft_spawn_blocking,
 * weft_to_thread, weft_to_thread_detachable, weft_spawn_on, weft_call_on,
 * weft_submit and weft_call_soon (checked against the calling thread's
 * loop); weft_serve's ctx; an item given to weft_queue_put or
 * weft_queue_try_put.  The test is exact for the address passed, whoever
 * calls (only compact frames live on the shared stack), and costs nothing
 * in other builds.  Not caught in any build: a pointer into the frame
 * stored inside something else that is handed over (a heap struct passed
 * as `arg`, a queue item that points back into the frame), and a primitive
 * of a compact frame used only by the read-only queries (weft_lock_locked,
 * weft_sem_value, ...).  Refused although harmless: an integer passed as a
 * pointer that happens to fall in the shared stack's range (a small
 * integer never does).
 *
 * A compact task's suspending calls (weft_sleep, weft_yield, awaits, waits
 * on primitives and descriptors) may also fail with -ENOMEM: its buffer
 * grows when it suspends, so that waiting never allocates.  It grows to
 * the frame as it is plus the depth of a suspension below the call, which
 * each loop learns: the deepest it has seen (512 bytes until it has seen
 * one).  (A suspension deeper than any its loop had seen, or a generator's
 * hand-off, grows the buffer when the task is copied out instead; without
 * memory then, the process aborts with a message.)  Buffers of up to
 * 2 KiB come from blocks the loop keeps until it closes: a loop that once
 * held a million idle compact tasks keeps their buffers' memory (about
 * 200 bytes each) for reuse until weft_run returns.  In the task dump, and
 * in gdb's `weft bt` (tools/weft-gdb.py), a compact task that is not on
 * the stack has no backtrace.
 */
#define WEFT_SPAWN_COMPACT 2u

/*
 * asyncio.run(): creates an event loop on the calling thread, runs fn(arg)
 * as the main task and returns when it has finished.  Before returning it
 * cancels and joins every task still alive, reports (on stderr) detached
 * tasks that failed and failed tasks nobody awaited, and closes the loop,
 * leaving no memory, file descriptor, thread or mapping behind.
 *
 * Ctrl-C, as asyncio.run handles it: called on the process's main thread
 * while SIGINT has its default disposition, weft_run installs a SIGINT
 * handler for the run and restores the default on return.  The first
 * SIGINT cancels the main task - its cleanup runs, shielded cleanup can
 * still await (weft_shield_begin), and shutdown then cancels the other
 * tasks as usual - and weft_run returns -EINTR, however the main task
 * finished.  The handler gives SIGINT its default action back as it fires,
 * so a second Ctrl-C during cleanup kills the program.  While some task of
 * the process watches SIGINT (weft_signal_watch, weft/signal.h), SIGINT
 * goes to the watchers instead and cancels nothing: the program took over.
 * On any other thread, or if the program set SIGINT's disposition itself
 * (SIG_IGN, a handler of its own), nothing is installed.  weft_run_ex can
 * turn this off or re-raise the SIGINT.
 *
 * result: if not NULL, receives what fn returned (NULL if it never returned).
 * Returns 0 or the main task's error (its weft_fail() code, or -ECANCELED),
 * whose message weft_errmsg() gives afterwards on this thread.
 * Errors:
 *   -EINVAL   fn is NULL.
 *   -EBUSY    called from a thread that is already running a loop.
 *   -ENOMEM, -EMFILE, ...  the loop could not be created.
 *   -EDEADLK  every task was waiting and nothing could wake any of them; the
 *             stuck tasks are named on stderr, then cancelled.  A task that
 *             still cannot finish is abandoned (reported, never resumed).
 *   -EINTR    interrupted by SIGINT (Ctrl-C): the main task was cancelled.
 * Call it from a thread that is not running a loop; weft_run(fn, arg,
 * result) is weft_run_ex(fn, arg, NULL, result).
 */
int weft_run(weft_fn fn, void *arg, void **result);

/* Options for weft_run_ex().  Zero-initialise, then set what you need. */
typedef struct weft_run_opts {
    /* WEFT_RUN_* flags. */
    unsigned flags;
} weft_run_opts;

/* Do not install the SIGINT handler: SIGINT keeps whatever disposition it
 * has (by default, Ctrl-C kills the program at once, without cleanup). */
#define WEFT_RUN_NO_SIGINT 1u
/* If SIGINT interrupted the run: once everything is cleaned up, restore
 * SIGINT's default action and raise it, so that the program dies by SIGINT
 * as the shell expects from an interrupted program (exit status 130)
 * instead of returning -EINTR. */
#define WEFT_RUN_RERAISE_SIGINT 2u

/*
 * weft_run() with options; opts may be NULL (weft_run's defaults).
 * Errors: those of weft_run(), and -EINVAL for an unknown flag.
 * With WEFT_RUN_RERAISE_SIGINT, an interrupted run does not return.
 */
int weft_run_ex(weft_fn fn, void *arg, const weft_run_opts *opts,
                void **result);

/*
 * asyncio.create_task(): starts fn(arg) as a new task.  It starts on a later
 * turn of the loop, after the tasks already waiting to run (FIFO).
 *
 * task: receives the handle, which the caller owns (await or detach it).
 * Must not be NULL.
 * Errors: -EINVAL (fn or task NULL; debug builds: arg points into a
 * compact task's frame, see WEFT_SPAWN_COMPACT), -EPERM (no loop on this
 * thread), -ENOMEM.  On error nothing was started and *task is untouched.
 * Callable from a task of the loop.  During loop shutdown new tasks are
 * created already cancelled: they never run and finish as -ECANCELED.
 */
int weft_spawn(weft_fn fn, void *arg, weft_task **task);

/* weft_spawn() with options (name, stack size, eager start); opts may be
 * NULL.  Errors as weft_spawn(), and -EINVAL for a bad stack size or unknown
 * flag. */
int weft_spawn_ex(weft_fn fn, void *arg, const weft_spawn_opts *opts,
                  weft_task **task);

/*
 * Waits for a task to finish and consumes its handle.
 *
 * result: if not NULL, always receives what the body returned, even when the
 * task failed or was cancelled, so that a returned allocation is never lost
 * (NULL if the body never ran).
 * Returns 0 or the task's error: its weft_fail() code, -ECANCELED if it was
 * cancelled, -ENOMEM if its stack could not be allocated.  The task's
 * message stays readable with weft_errmsg() until this task's next await.
 *
 * While the await is in progress the handle stays usable by other tasks
 * for everything but consuming it: they may cancel it (the await then
 * returns -ECANCELED once the task has finished - the watcher pattern),
 * query it, name it.  A second await or a detach of it returns -EBUSY.
 *
 * If the calling task is cancelled (before or during the wait), or a cancel
 * scope around the call is (weft/cancel.h), the awaited task is cancelled
 * too and joined: weft_await returns -ECANCELED (or the scope's
 * -ETIMEDOUT) only once it has finished, so it never outlives the caller's
 * memory.
 * Errors: -EINVAL (NULL or consumed handle), -EBUSY (another task awaits
 * it), -EPERM (not in a task, or the handle is from another loop), -EDEADLK
 * (awaiting oneself, or a task that is, directly or not, awaiting the
 * caller).  On these errors the handle is not consumed, and weft_errmsg()
 * says in words what was wrong (a handle already awaited or detached, ...).
 */
int weft_await(weft_task *task, void **result);

/*
 * asyncio.wait_for(): weft_await with a timeout, in seconds (INFINITY for
 * none).  On expiry the task is cancelled and joined, and weft_wait_for
 * returns -ETIMEDOUT once it has finished (result still receives what its
 * body returned).  A task that finishes on its own before the cancellation
 * takes effect - or had already finished - gives its own outcome.  The
 * handle is consumed as by weft_await.
 * The join is unbounded if the task shields itself from cancellation
 * (weft_shield_begin): wait_for then returns only when it has finished.
 * Errors: those of weft_await, -EINVAL (timeout NaN), -ECANCELED (the
 * caller was cancelled), an outer scope's -ETIMEDOUT/-ECANCELED,
 * -EOVERFLOW/-ENOMEM (no room for the timeout's scope: nothing consumed).
 */
int weft_wait_for(weft_task *task, double timeout, void **result);

/*
 * Fire and forget: the loop takes ownership of the task; the handle is
 * consumed.  If the task fails (any error but -ECANCELED), the failure is
 * reported on stderr when the loop closes, never silently lost.
 * Errors: -EINVAL (NULL or consumed handle), -EBUSY (a task awaits it),
 * -EPERM (wrong thread/loop).
 */
int weft_task_detach(weft_task *task);

/*
 * Requests cancellation.  The task's suspending calls return -ECANCELED from
 * then on (a wait in progress is woken); a task cancelled before it started
 * never runs; a cancelled task finishes as -ECANCELED whatever it returns.
 * A task waiting in weft_await() passes the cancellation to the task it
 * awaits, and wakes when that one has finished.  A task may cancel itself.
 * Does not consume the handle and does not wait.
 * Returns 0 if cancellation was requested (or already had been), 1 if the
 * task had already finished (nothing changes).
 * Errors: -EINVAL (NULL or consumed handle), -EPERM (wrong thread/loop).
 */
int weft_task_cancel(weft_task *task);

/* 1 if the task has finished, 0 if not.  Errors: -EINVAL, -EPERM. */
int weft_task_done(weft_task *task);

/*
 * Outcome of a finished task, without consuming the handle: the task's error
 * (0 on success) and, if result is not NULL, what its body returned.
 * Errors: -EAGAIN (not finished yet), -EINVAL, -EPERM.
 */
int weft_task_result(weft_task *task, void **result);

/* The task's error message (from weft_fail), or NULL if none or not
 * finished.  Owned by the task; valid until the handle is consumed. */
const char *weft_task_message(weft_task *task);

/*
 * The task's name (the empty string if it has none or has finished), or NULL
 * for a bad handle.  The string is owned by the task and valid while it runs.
 */
const char *weft_task_name(weft_task *task);

/* The calling task's handle, or NULL outside a task.  The caller does not
 * own it (do not await or detach it; cancelling is fine). */
weft_task *weft_current(void);

/*
 * Finishes the current task with an error: records err (a negative errno,
 * -4095..-1; anything else is recorded as -EINVAL) and a printf-style
 * message (fmt may be NULL), and returns NULL so that a body can write
 *     return weft_fail(-EIO, "read %s", path);
 * The error takes effect when the body returns.  A later call replaces an
 * earlier one.  Outside a task it does nothing but return NULL.  If the
 * message cannot be allocated, the error is kept without it.
 */
void *weft_fail(int err, const char *fmt, ...) WEFT_PRINTF(2, 3);

/*
 * The message of the last failed weft_await() of the calling task, or, outside
 * a task, of the last weft_run() on this thread.  NULL if there is none.
 * Owned by weft; valid until the next weft_await() (or weft_run()).
 */
const char *weft_errmsg(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_TASK_H */

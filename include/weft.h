/*
 * weft.h - asyncio's programming model in C.
 *
 * A task is a function with its own stack that runs on a single-threaded
 * event loop.  It can sleep, await other tasks and wait for file
 * descriptors; while it waits, the loop runs the other tasks.  Code inside a
 * task is ordinary straight-line C.
 *
 *     static void *child(void *arg) {
 *         weft_sleep(1.0);
 *         return arg;
 *     }
 *     static void *main_task(void *arg) {
 *         weft_task *t;
 *         void *r;
 *         weft_spawn(child, (void *)(intptr_t)42, &t);
 *         weft_await(t, &r);                 // r == 42 after one second
 *         return r;
 *     }
 *     int main(void) { return weft_run(main_task, NULL, NULL); }
 *
 * Conventions, as in libuv and liburing:
 * - Functions return 0 (or a count) on success and a negative errno value on
 *   failure (-ECANCELED, -ETIMEDOUT, -EINVAL, ...).  errno is never the error
 *   channel; weft_strerror() names a code.
 * - "Suspending" functions (weft_sleep, weft_yield, weft_await, weft_io_wait)
 *   may only be called from a task.  Outside a task they return -EPERM.
 * - Each loop belongs to the thread that called weft_run.  Unless a
 *   declaration says otherwise, a function must be called from that thread;
 *   from any other thread it returns -EPERM.
 * - Cancellation is sticky (as in trio): once a task is cancelled, every
 *   suspending call it makes returns -ECANCELED at entry, whether or not it
 *   would have suspended, until the task ends - except inside a shielded
 *   scope (weft_shield_begin).
 */
#ifndef WEFT_H
#define WEFT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define WEFT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WEFT_PRINTF(f, a)
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Tasks                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * A task body, shaped like a pthread start routine.  The returned pointer is
 * the task's result (return integers through intptr_t, as with pthreads).
 */
typedef void *(*weft_fn)(void *arg);

/*
 * A handle to a task.  It is not a pointer you may dereference: it encodes
 * the task's slot, a generation number and its loop, so that every use of a
 * handle is checked.
 *
 * Ownership: each handle has exactly one owner.  weft_await() and
 * weft_task_detach() consume it; after that every call given the handle
 * returns -EINVAL (the generation no longer matches), and never touches
 * another task's memory.  A handle is only meaningful on its own loop:
 * passed to another loop's thread it gives -EPERM.  Handles die with their
 * loop; do not keep them past weft_run().
 */
typedef struct weft_task weft_task;

/* Options for weft_spawn_ex().  Zero-initialise, then set what you need. */
typedef struct weft_spawn_opts {
    /* The task's name, shown in deadlock and stack-overflow reports and
     * returned by weft_task_name().  Copied (at most 31 bytes kept); NULL for
     * none. */
    const char *name;
    /* Usable stack size in bytes; 0 for the default (WEFT_STACK_DEFAULT).
     * Rounded up to the page size; at least WEFT_STACK_MIN, at most
     * WEFT_STACK_MAX, otherwise weft_spawn_ex() returns -EINVAL. */
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
 * asyncio.run(): creates an event loop on the calling thread, runs fn(arg)
 * as the main task and returns when it has finished.  Before returning it
 * cancels and joins every task still alive, reports (on stderr) detached
 * tasks that failed and failed tasks nobody awaited, and closes the loop,
 * leaving no memory, file descriptor, thread or mapping behind.
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
 */
int weft_run(weft_fn fn, void *arg, void **result);

/*
 * asyncio.create_task(): starts fn(arg) as a new task.  It starts on a later
 * turn of the loop, after the tasks already waiting to run (FIFO).
 *
 * task: receives the handle, which the caller owns (await or detach it).
 * Must not be NULL.
 * Errors: -EINVAL (fn or task NULL), -EPERM (no loop on this thread),
 * -ENOMEM.  On error nothing was started and *task is untouched.
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
 * If the calling task is cancelled (before or during the wait), the awaited
 * task is cancelled too and joined: weft_await returns -ECANCELED only once
 * it has finished, so it never outlives the caller's memory.
 * Errors: -EINVAL (NULL or consumed handle), -EPERM (not in a task, or the
 * handle is from another loop), -EDEADLK (awaiting oneself, or a task that
 * is, directly or not, awaiting the caller: the handle is not consumed).
 */
int weft_await(weft_task *task, void **result);

/*
 * Fire and forget: the loop takes ownership of the task; the handle is
 * consumed.  If the task fails (any error but -ECANCELED), the failure is
 * reported on stderr when the loop closes, never silently lost.
 * Errors: -EINVAL (NULL or consumed handle), -EPERM (wrong thread/loop).
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

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

/*
 * asyncio.sleep(): suspends the calling task for at least `seconds` (a timer
 * never fires early; its deadline is computed from a fresh clock read).
 * 0 or negative: moves the task to the back of the ready queue, like
 * asyncio.sleep(0).  +INFINITY: sleeps until cancelled.
 * Errors: -EINVAL (NaN), -EPERM (not in a task), -ECANCELED.
 */
int weft_sleep(double seconds);

/* weft_sleep(0): lets every other ready task run once.
 * Errors: -EPERM, -ECANCELED. */
int weft_yield(void);

/* Monotonic clock in seconds (CLOCK_MONOTONIC).  Callable from any thread. */
double weft_now(void);

/* ------------------------------------------------------------------------ */
/* Cancellation scopes                                                       */
/* ------------------------------------------------------------------------ */

/*
 * A shielded scope (trio's CancelScope(shield=True)): between
 * weft_shield_begin() and weft_shield_end(), the task's suspending calls
 * ignore cancellation, so that cleanup can still await.  Scopes nest.  When
 * the outermost scope ends, a pending cancellation applies again.
 * Errors: -EPERM (not in a task); weft_shield_begin: -EOVERFLOW past 65535
 * nested scopes; weft_shield_end: -EINVAL if no scope is open.
 */
int weft_shield_begin(void);
int weft_shield_end(void);

/* 1 if the calling task has been cancelled, 0 if not, -EPERM outside a
 * task.  Does not suspend. */
int weft_cancelled(void);

/* ------------------------------------------------------------------------ */
/* File descriptors                                                          */
/* ------------------------------------------------------------------------ */

#define WEFT_READABLE 1u
#define WEFT_WRITABLE 2u

/*
 * Suspends the calling task until fd is readable and/or writable (events is
 * a mask of WEFT_READABLE and WEFT_WRITABLE), or until `timeout` seconds
 * have passed (negative or +INFINITY: no timeout).  The fd stays the
 * caller's; it must not be closed while a task waits on it.  One task at a
 * time may wait on a given fd.
 * Returns the mask of ready events (error and hang-up conditions report
 * every requested event, so the next read or write sees them).
 * Errors: -EINVAL (negative fd, empty mask or unknown bits, NaN timeout),
 * -EBADF (fd not open), -EBUSY (another task waits on fd), -ETIMEDOUT,
 * -ECANCELED, -EPERM (not in a task; also the poller's answer for a regular
 * file, which is always ready), -ENOMEM.
 */
int weft_io_wait(int fd, unsigned events, double timeout);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* A static description of a weft error code (a negative errno).  Never NULL;
 * callable from any thread. */
const char *weft_strerror(int err);

/* The name of the context-switch implementation ("x86_64", "aarch64",
 * "ucontext") and of the stack guard tier in use ("guard-install",
 * "mprotect", "canary").  Callable from any thread; the guard tier is known
 * once a loop has run (before that: "unknown"). */
const char *weft_switch_name(void);
const char *weft_guard_name(void);

#ifdef __cplusplus
}
#endif

#include "weft/bar.h"
#include "weft/gather.h"
#include "weft/gen.h"
#include "weft/sync.h"
#include "weft/thread.h"

#endif /* WEFT_H */

/*
 * weft/cancel.h - cancel scopes (trio's CancelScope, asyncio.timeout),
 * shields, and asking whether the task was cancelled.  Included by weft.h.
 *
 * One model serves timeouts, weft_wait_for, task groups and shutdown: a
 * *cancel scope* is a region of a task that can be cancelled explicitly
 * (weft_scope_cancel) or by a deadline.  Once it is cancelled, every
 * suspending call the task makes inside it returns -ECANCELED (cancelled)
 * or -ETIMEDOUT (deadline), at entry, whether or not it would have
 * suspended, until the scope is closed - sticky, as task cancellation is.
 * A call blocked when its scope is cancelled is woken; a call that waits
 * for other tasks (weft_await, weft_gather, weft_map, a generator's next,
 * a task group's wait, weft_to_thread) cancels them first and returns once
 * they have finished, so nothing it started outlives it.
 *
 *     weft_scope *sc;
 *     weft_scope_open(2.0, &sc);           // async with timeout(2):
 *     int rc = fetch(...);                 //   -ETIMEDOUT after 2 s
 *     if (weft_scope_close(sc) == 1) ...   // it was this scope's deadline
 *
 * Rules (trio's):
 * - Scopes nest.  A cancelled outer scope cancels what is inside.  A call
 *   fails because of the outermost cancelled scope it is in; only that
 *   scope's weft_scope_close returns 1 ("cancelled_caught"), never an inner
 *   one for an outer one's cancellation.
 * - The task's own cancellation (weft_task_cancel) beats any scope: its
 *   calls return -ECANCELED, and no scope reports it as its own.
 * - A shield (weft_shield_begin) protects from scopes opened outside it and
 *   from the task's cancellation, not from scopes opened inside it: cleanup
 *   under a shield can still bound itself with a deadline of its own.
 * - Deadlines are absolute times on weft_now()'s clock; a timer never fires
 *   early.  A deadline that has passed cancels the scope.  A call blocked at
 *   that moment is woken; a call that would block sees it at once; a task
 *   that keeps running without blocking (weft_yield in a loop) sees it at
 *   the loop's next turn, at most a few hundred switches later.
 * - A grant made to a waiter in the same turn its scope expires (a lock, a
 *   permit, an item) is kept: that call returns 0 and the next one fails.
 * - One exception to "a blocked call is woken": a future deadline given by
 *   weft_scope_reschedule while the task waits in weft_gen_next, having
 *   entered it with no deadline and no cancellation in force, is seen when
 *   that call returns (the producer's hand-off bypasses the timers).  A
 *   cancellation, or a deadline already passed, does wake it.
 *
 * A scope's state lives in its task (at most WEFT_SCOPE_MAX open at once
 * per task); the caller holds a handle.  Opening and closing never
 * allocate, except for a task's first scope.  Only the task that opened a
 * scope may close it, innermost first; any task of the loop may cancel it
 * or move its deadline while it is open.  A task that returns with scopes
 * open has them dropped and fails with -EINVAL ("returned with N cancel
 * scope(s) open") unless it failed already.
 */
#ifndef WEFT_CANCEL_H
#define WEFT_CANCEL_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A handle to an open cancel scope (not a pointer to dereference). */
typedef struct weft_scope weft_scope;

/* Scopes one task may have open at once. */
#define WEFT_SCOPE_MAX 16

/*
 * Opens a cancel scope in the calling task, cancelled by itself `timeout`
 * seconds from now (asyncio.timeout(t), trio.move_on_after(t)); INFINITY
 * for none (cancelled only by weft_scope_cancel); 0 or negative: already
 * expired, so the first suspending call inside returns -ETIMEDOUT.
 * scope: receives the handle.
 * Errors: -EINVAL (scope NULL, timeout NaN), -EPERM (not in a task),
 * -EOVERFLOW (WEFT_SCOPE_MAX scopes already open), -ENOMEM (the task's
 * first scope).
 */
int weft_scope_open(double timeout, weft_scope **scope);

/* weft_scope_open with an absolute deadline on weft_now()'s clock
 * (asyncio.timeout_at); INFINITY for none.  It does not read the clock
 * (weft_scope_open with a timeout reads it once): the cheaper form for many
 * scopes sharing one deadline.  Errors as weft_scope_open. */
int weft_scope_open_at(double deadline, weft_scope **scope);

/*
 * Closes the innermost open scope of the calling task; the handle is dead
 * afterwards.  Returns 1 if a suspending call inside failed because of this
 * scope (its deadline or its cancellation), 0 if not.
 * Errors: -EINVAL (NULL, closed or stale handle), -EPERM (another task's
 * scope, or another loop's), -EBUSY (a scope or shield opened inside it is
 * still open: close those first; nothing changes).
 */
int weft_scope_close(weft_scope *scope);

/*
 * Cancels the scope: the calls its task makes inside it fail with
 * -ECANCELED from now on (a blocked one is woken).  Cancelling twice, or a
 * scope whose deadline passed, changes nothing.  Callable from any task of
 * the loop.  Errors: -EINVAL (closed or stale handle), -EPERM (not in a
 * task of the scope's loop).
 */
int weft_scope_cancel(weft_scope *scope);

/*
 * Moves the scope's deadline (asyncio's Timeout.reschedule): an absolute
 * time on weft_now()'s clock, INFINITY for none.  A blocked call of its
 * task is re-timed at once; a deadline already passed cancels the scope.
 * A scope already cancelled stays cancelled.  Callable from any task of the
 * loop.  Errors: -EINVAL (NaN, closed or stale handle), -EPERM.
 */
int weft_scope_reschedule(weft_scope *scope, double deadline);

/* The scope's deadline (INFINITY if none) into *deadline.
 * Errors: -EINVAL (NULL, closed or stale handle), -EPERM. */
int weft_scope_deadline(weft_scope *scope, double *deadline);

/* Whether the scope is cancelled: 0 if not, -ECANCELED (weft_scope_cancel)
 * or -ETIMEDOUT (its deadline passed, as of the loop's clock).
 * Errors: -EINVAL (closed or stale handle), -EPERM. */
int weft_scope_cancelled(weft_scope *scope);

/*
 * A shielded scope (trio's CancelScope(shield=True)): between
 * weft_shield_begin() and weft_shield_end(), the task's suspending calls
 * ignore cancellation, so that cleanup can still await.  Scopes nest.  When
 * the outermost scope ends, a pending cancellation applies again.
 * Errors: -EPERM (not in a task); weft_shield_begin: -EOVERFLOW past 65535
 * nested shields; weft_shield_end: -EINVAL if no shield is open, -EBUSY if
 * a cancel scope opened inside the shield is still open.
 */
int weft_shield_begin(void);
int weft_shield_end(void);

/* 1 if the calling task has been cancelled, 0 if not, -EPERM outside a
 * task.  Does not suspend. */
int weft_cancelled(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_CANCEL_H */

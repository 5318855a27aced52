/*
 * weft/group.h - structured concurrency (asyncio.TaskGroup, trio's nursery)
 * and tasks in completion order (asyncio.as_completed, Tokio's JoinSet,
 * C#'s WhenAny loop; asyncio.wait).  Included by weft.h.
 */
#ifndef WEFT_GROUP_H
#define WEFT_GROUP_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct weft_spawn_opts;

/* ------------------------------------------------------------------------ */
/* Task groups                                                               */
/* ------------------------------------------------------------------------ */

/*
 * A task group: tasks spawned into it are joined by weft_group_wait, and
 * none outlives it.
 *
 *     weft_group *g;
 *     weft_group_new(&g);                    // async with TaskGroup() as g:
 *     weft_group_spawn(g, fetch, url1, NULL);
 *     weft_group_spawn(g, fetch, url2, NULL);
 *     int rc = weft_group_wait(g);           // joins both
 *     ... weft_group_failures(g) / weft_group_failure(g, i, ...) ...
 *     weft_group_free(g);
 *
 * The group owns a cancel scope (weft/cancel.h) opened in the owner - the
 * task that called weft_group_new - so the owner's calls between new and
 * wait are "inside the group".  The first failure of a child (an error
 * other than -ECANCELED) cancels that scope at once - the owner's
 * suspending calls inside the group return -ECANCELED - and the other
 * children at the loop's next turn, after the tasks already woken in the
 * same turn have run, so that their own failures are kept too, as in
 * asyncio.  Once weft_group_wait returns, the scope is closed and the owner
 * is not cancelled any more (unless it was cancelled itself).  Every
 * failure is kept with its task, code and message (asyncio's
 * ExceptionGroup: none dropped).  A child the group cancelled finishes
 * -ECANCELED whatever it does next (weft's rule for cancelled tasks), so it
 * is not a failure, as in asyncio, where the cancellation reaches it first.
 * Cancelling the owner, or a cancel scope around the group, cancels the
 * children; the wait still joins them all.
 *
 * If the owner returns without waiting, the children are cancelled and
 * joined as it returns, each failure is reported on stderr, the group is
 * freed, and the owner fails with -EINVAL (unless it failed already).
 *
 * A group belongs to its loop; its functions must be called from that
 * loop's tasks (-EPERM otherwise, and the group is not touched).  A
 * weft_group * is a checked handle: once the group is freed (by
 * weft_group_free, or by its owner's return without a wait), and for
 * anything that never was a group's handle, every call returns -EINVAL, in
 * every build.
 */
typedef struct weft_group weft_group;

/*
 * Creates a group owned by the calling task and opens its scope there.
 * Errors: -EINVAL (group NULL), -EPERM (not in a task), -EOVERFLOW (the
 * task has WEFT_SCOPE_MAX scopes, or 255 task groups and sets, open),
 * -ENOMEM.
 */
int weft_group_new(weft_group **group);

/*
 * Spawns fn(arg) into the group (opts as weft_spawn_ex; may be NULL).
 * task: if not NULL, receives a borrowed handle (like weft_current's): it
 * may be cancelled and queried - weft_task_done, weft_task_result,
 * weft_task_message, weft_task_name - until weft_group_free, never awaited
 * or detached.  Callable from any task of the group's loop, also from the
 * group's children.  Spawning into a group whose scope is cancelled (after
 * a failure, or weft_group_cancel) creates the task already cancelled: it
 * never runs and finishes -ECANCELED; so does one spawned while the group
 * is being joined because its owner was cancelled or returned.
 * Errors: -EINVAL (NULL fn, bad opts, the group was waited for; NULL,
 * freed or unknown group; debug builds: arg points into a compact task's
 * frame, see WEFT_SPAWN_COMPACT in weft/task.h), -EPERM (not in a task of
 * the group's loop), -ENOMEM.
 */
int weft_group_spawn(weft_group *group, weft_fn fn, void *arg,
                     weft_task **task);
int weft_group_spawn_ex(weft_group *group, weft_fn fn, void *arg,
                        const struct weft_spawn_opts *opts, weft_task **task);

/*
 * Waits until every child has finished, then closes the group's scope.
 * Returns 0 if no child failed; otherwise the first failure's code (in
 * completion order; weft_errmsg() gives its message).  If the owner's calls
 * fail meanwhile - it was cancelled, or a scope around the group expired -
 * the children are cancelled and joined, and that cause (-ECANCELED,
 * -ETIMEDOUT) is returned when no child failed.
 * Errors: -EINVAL (already waited; NULL, freed or unknown group), -EPERM
 * (not the owner), -EBUSY
 * (a scope or shield opened inside the group is still open: nothing
 * happens).
 */
int weft_group_wait(weft_group *group);

/*
 * Cancels the group's scope (asyncio's TaskGroup.cancel()): every child is
 * cancelled and the owner's calls inside the group fail with -ECANCELED
 * until weft_group_wait, which then returns 0 unless a child failed.
 * Callable from any task of the loop.  Errors: -EINVAL (already waited;
 * NULL, freed or unknown group), -EPERM.
 */
int weft_group_cancel(weft_group *group);

/* How many children failed (an error other than -ECANCELED), or -EINVAL
 * (NULL, freed or unknown group), -EPERM (not on the group's loop). */
int weft_group_failures(const weft_group *group);

/*
 * Failure i (0 <= i < weft_group_failures, in completion order): its code,
 * its message (NULL if none; owned by the group, valid until
 * weft_group_free) and a borrowed handle of the task.  Any out pointer may
 * be NULL.  Errors: -EINVAL (NULL, freed or unknown group), -EPERM (not on
 * the group's loop), -ERANGE (no such failure).
 */
int weft_group_failure(const weft_group *group, size_t i, int *code,
                       const char **msg, weft_task **task);

/* Frees a waited group and what it kept of its children.
 * Errors: -EINVAL (NULL, freed or unknown group: a second free), -EPERM
 * (not on the group's loop), -EBUSY (not waited yet: nothing happens). */
int weft_group_free(weft_group *group);

/* ------------------------------------------------------------------------ */
/* Completion order                                                          */
/* ------------------------------------------------------------------------ */

/*
 * A task set (Tokio's JoinSet; asyncio.as_completed): tasks added to it are
 * taken back one by one as they finish.
 *
 *     weft_taskset *set;
 *     weft_taskset_new(&set);
 *     for (...) { weft_spawn(fetch, url, &t); weft_taskset_add(set, t); }
 *     while ((rc = weft_taskset_next(set, &t)) == 1)
 *         rc = weft_await(t, &result);       // finished: returns at once
 *     weft_taskset_free(set);
 *
 * A failing task cancels nothing.  The set belongs to the task that created
 * it (its owner): only the owner may add, take and free.  Cancelling the
 * owner, or a cancel scope around the set's creation, cancels the tasks in
 * it; a scope opened after the set (a timeout around weft_taskset_next)
 * only ends that call.  If the owner returns without freeing the set, its
 * tasks are cancelled and joined as it returns, failures are reported on
 * stderr, the set is freed and the owner fails with -EINVAL.
 *
 * A weft_taskset * is a checked handle, as a group's is: once the set is
 * freed, and for anything that never was a set's handle, every call
 * returns -EINVAL; from another loop, -EPERM.
 */
typedef struct weft_taskset weft_taskset;

/* Errors: -EINVAL (set NULL), -EPERM (not in a task), -ENOMEM, -EOVERFLOW
 * (the task has 255 task groups and sets open). */
int weft_taskset_new(weft_taskset **set);

/*
 * Adds a task to the set, which owns it from then on: the handle may still
 * cancel and query the task (as while it is awaited), never await or
 * detach it (-EBUSY); weft_taskset_next hands out an owned handle again.
 * Errors (nothing consumed): -EINVAL (NULL, freed or unknown set;
 * NULL/consumed/borrowed task handle), -EBUSY (a task awaits it), -EDEADLK (the caller itself), -EPERM
 * (not the owner, another loop's handle), -ENOMEM.
 */
int weft_taskset_add(weft_taskset *set, weft_task *task);

/*
 * Takes the next finished task, in completion order, waiting if none has
 * finished yet.  Returns 1 with *task an owned handle of a finished task
 * (collect it with weft_await, which does not suspend, or detach it), or 0
 * if the set is empty.
 * Errors: -EINVAL (task NULL; NULL, freed or unknown set), -EPERM (not the
 * owner), -ECANCELED/-ETIMEDOUT (the owner's calls fail: nothing taken).
 */
int weft_taskset_next(weft_taskset *set, weft_task **task);

/* Tasks in the set (running, or finished and not taken), or -EINVAL
 * (NULL, freed or unknown set), -EPERM (not on the set's loop). */
int weft_taskset_len(const weft_taskset *set);

/*
 * Cancels the tasks still running, waits for them, drops every task not
 * taken (a failure among them is reported on stderr) and frees the set.
 * Suspends; the join is not interrupted by cancellation.
 * Errors: -EINVAL (NULL, freed or unknown set: a second free), -EPERM (not
 * the owner).
 */
int weft_taskset_free(weft_taskset *set);

/*
 * asyncio.wait(): waits until some of the n tasks have finished, without
 * consuming any handle and without cancelling any task, also when the wait
 * itself is cancelled or times out (put it in a cancel scope for a timeout).
 *   WEFT_WAIT_FIRST_COMPLETED  one has finished
 *   WEFT_WAIT_FIRST_ERROR      one has failed (any error, -ECANCELED
 *                              included), or all have finished
 *   WEFT_WAIT_ALL              all have finished
 * Returns how many have finished (weft_task_done tells which), >= 1 unless
 * n is 0.  While it waits, the handles cannot be awaited (-EBUSY).
 * Errors: -EINVAL (NULL array, a NULL, consumed or borrowed handle, bad
 * mode),
 * -EBUSY (a handle repeated, or one a task awaits), -EDEADLK, -EPERM,
 * -ENOMEM, -ECANCELED, -ETIMEDOUT.
 */
#define WEFT_WAIT_FIRST_COMPLETED 1
#define WEFT_WAIT_FIRST_ERROR 2
#define WEFT_WAIT_ALL 3
int weft_wait(weft_task **tasks, size_t n, int mode);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_GROUP_H */

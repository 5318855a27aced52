/*
 * weft/gather.h - waiting for many tasks (asyncio.gather, C#'s
 * Task.WhenAll), bounded concurrency, and tasks that are already done
 * (Task.FromResult / Task.CompletedTask).  Included by weft.h.
 */
#ifndef WEFT_GATHER_H
#define WEFT_GATHER_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct weft_bar; /* weft/bar.h */

/* return_exceptions=True: nothing is cancelled; every task's own error
 * lands in its slot of errors, and weft_gather returns 0. */
#define WEFT_GATHER_RETURN_ERRORS 1u

/*
 * Waits for all n tasks and consumes their handles (all of them, whatever
 * it returns, once it got past argument checks).  results[i] and errors[i]
 * (either array may be NULL) receive task i's result and error, in
 * submission order, for every task.
 * Default: returns 0 if all succeeded, else the first error in completion
 * order; the other tasks are then cancelled, and every task has finished
 * before weft_gather returns - nothing keeps running that could write into
 * the caller's arrays.  weft_errmsg() gives that error's message.
 * If the calling task is cancelled, the tasks are cancelled and joined and
 * weft_gather returns -ECANCELED.  n == 0 returns at once.
 * While it waits, the handles stay usable by other tasks for everything but
 * consuming them (cancel, query), as with weft_await.
 * Errors (nothing consumed): -EINVAL (a NULL, consumed or borrowed handle,
 * unknown flags), -EBUSY (a handle repeated, or awaited by another task),
 * -EDEADLK (the caller itself, or a task awaiting it), -EPERM, -ENOMEM.
 */
int weft_gather(weft_task **tasks, size_t n, void **results, int *errors,
                unsigned flags);

/* Options of weft_gather_ex and weft_map_ex; zero-initialise. */
typedef struct weft_gather_opts {
    unsigned flags;   /* WEFT_GATHER_RETURN_ERRORS */
    /* Non-NULL: show a progress bar with this description that ticks as
     * tasks (items) finish, closed when the call returns (tqdm.gather). */
    const char *desc;
    /* Or tick this bar of the caller's (left open).  desc wins if both. */
    struct weft_bar *bar;
    /* Non-NULL: an array of n entries (one per task or item) that receives
     * each one's weft_fail message, or NULL where it has none (or never
     * ran) - also under WEFT_GATHER_RETURN_ERRORS, where weft_errmsg()
     * gives none.  The messages are the caller's: free them with
     * weft_messages_free.  Filled whenever the call got past its argument
     * checks, whatever it returns. */
    char **messages;
    /* Where the bar made for desc draws: an output file descriptor, as
     * weft_bar_opts.fd (a terminal redraws in place, anything else gets a
     * line per tenth); 0: stderr (2); < 0: -EINVAL.  Not closed. */
    int fd;
} weft_gather_opts;

/* Frees the n messages a gather or map stored (NULL entries are fine) and
 * sets the entries to NULL.  messages may be NULL.  Callable anywhere. */
void weft_messages_free(char **messages, size_t n);

/* weft_gather with options (a progress bar).  opts may be NULL.  Errors as
 * weft_gather, -EINVAL for a negative opts->fd, and -ENOMEM for the bar
 * (nothing consumed). */
int weft_gather_ex(weft_task **tasks, size_t n, void **results, int *errors,
                   const weft_gather_opts *opts);

/*
 * Runs fn(items[i]) for i in [0, n) with at most `limit` running at once,
 * results in order (C#'s Parallel.ForEachAsync; the semaphore pattern in
 * asyncio).  fn runs in one of `limit` worker tasks, which take items in
 * order as they become free; fn reports errors with weft_fail.
 * results and errors (n entries each, required) receive each item's
 * outcome; an item that never ran has NULL and -ECANCELED.
 * flags: WEFT_GATHER_RETURN_ERRORS, as for weft_gather.  Default: the first
 * error stops the run (no new item starts, running ones are cancelled) and
 * is returned, with its message in weft_errmsg().
 * items may be NULL (fn then gets NULL).  Errors: -EINVAL (fn NULL, limit
 * 0, arrays NULL), -ECANCELED, -EPERM, -ENOMEM.
 */
int weft_map(weft_fn fn, void **items, size_t n, size_t limit,
             void **results, int *errors, unsigned flags);

/* weft_map with options (a progress bar ticking per finished item).
 * Errors as weft_map, -EINVAL for a negative opts->fd, and -ENOMEM for
 * the bar. */
int weft_map_ex(weft_fn fn, void **items, size_t n, size_t limit,
                void **results, int *errors, const weft_gather_opts *opts);

/* A task that has already finished with `value` (Task.FromResult): usable
 * everywhere a task handle is.  Errors: -EINVAL, -EPERM, -ENOMEM. */
int weft_task_completed(void *value, weft_task **task);

/* A task that has already failed with err (-4095..-1) and message msg
 * (copied; may be NULL).  Errors: -EINVAL, -EPERM, -ENOMEM. */
int weft_task_failed(int err, const char *msg, weft_task **task);

#ifdef __cplusplus
}
#endif

#endif

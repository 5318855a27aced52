/*
 * run.h - the pieces weft_run and weft_run_ex (run.c) are composed of: the
 * core's loop runner (loop.c) and the SIGINT interrupt of the signal leaf
 * (signal.c).  The core itself never names the signal feature: run.c
 * passes it in as a `started` hook.
 */
#ifndef WEFT_RUN_INTERNAL_H
#define WEFT_RUN_INTERNAL_H

#include "core.h"

#include <stdbool.h>

/* loop.c: creates a loop on the calling thread, calls started(L, ctx)
 * (unless NULL) before the main task is spawned, runs fn(arg) as the main
 * task until the loop closes (the services' close hooks run before it
 * returns), and returns as weft_run documents.  A nonzero code from
 * `started` closes the loop at once and is returned. */
int weft__run(weft_fn fn, void *arg, void **result,
              int (*started)(weft__loop *L, void *ctx), void *ctx);

/* signal.c: Ctrl-C as asyncio.run handles it.  The state lives in the
 * caller of weft__run (run.c), which outlives the loop. */
typedef struct weft__sigint {
    bool installed;   /* SIGINT's handler was installed for this run */
    bool interrupted; /* a SIGINT cancelled (or would have cancelled) the
                       * main task; written on the loop thread only */
} weft__sigint;

/* Installs the SIGINT handler for loop L's run (on the loop thread, before
 * the main task starts) as one user of SIGINT: the first SIGINT that no
 * signal watcher takes resets SIGINT to its default action and cancels L's
 * main task.  The handler is removed when L closes (its service's close
 * hook), restoring SIGINT's disposition if it was the last user.
 * Does nothing (returns 0, si->installed false) if SIGINT's disposition
 * is not SIG_DFL or the handler cannot be installed.  0 or -ENOMEM. */
int weft__sigint_begin(weft__loop *L, weft__sigint *si);

/* signal.c: the signal a name ("SIGQUIT", "QUIT") or number in text
 * means, if a loop may react to it (not SIGINT, which weft_run's
 * interrupt uses, nor one weft_signal_watch refuses); -EINVAL otherwise. */
int weft__signal_parse(const char *text);

/* signal.c: from now until L closes, each delivery of signo to the
 * process makes L call fn(L) on its thread between tasks (deliveries
 * that come while one is pending coalesce).  This is not a wake source:
 * a loop whose tasks are all stuck is still reported as deadlocked.
 * Installs weft's handler for signo if its disposition is SIG_DFL (or
 * weft's already); -EBUSY if the program has a handler or ignores it, or
 * L has a hook already; -EAGAIN (too many loops use signals), -ENOMEM.
 * On L's thread, before its main task starts. */
int weft__signal_hook(weft__loop *L, int signo, void (*fn)(weft__loop *L));

#endif

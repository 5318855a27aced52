/*
 * weft/signal.h - POSIX signals as events a task can await (asyncio's
 * loop.add_signal_handler, Go's signal.Notify).  Included by weft.h.
 *
 *     int sigs[] = {SIGTERM, SIGHUP};
 *     weft_sigwatch *w;
 *     weft_signal_watch(sigs, 2, &w);     // handlers installed from here on
 *     int signo;
 *     while (weft_sigwatch_next(w, &signo) == 0)
 *         if (signo == SIGTERM) break; else reload_config();
 *     weft_sigwatch_close(w);             // previous dispositions restored
 *
 * A *watcher* receives the signals of its list delivered to the process
 * after it was opened.  Every watcher of a signal, in every loop of the
 * process, receives each delivery.  weft installs one handler per signal
 * while at least one watcher (or weft_run's Ctrl-C handling) uses it, and
 * restores the disposition it found - SIG_DFL, SIG_IGN or the program's
 * own handler - when the last one leaves.  The handler does nothing but
 * count the delivery and wake the loops concerned: the waiting task runs
 * the program's reaction as ordinary task code, where anything may be
 * called.  (The program should not change a watched signal's disposition
 * itself meanwhile.)  SIGINT: while a watcher of SIGINT is open anywhere
 * in the process, weft_run's Ctrl-C handling (weft/task.h) stands aside and
 * the watchers receive it.
 *
 * Signals that cannot be watched (-EINVAL): numbers out of range, SIGKILL
 * and SIGSTOP (the kernel does not let them be caught), the synchronous
 * fault signals SIGSEGV, SIGBUS, SIGFPE and SIGILL (raised by the faulting
 * instruction, and SIGSEGV is how weft reports stack overflows), and the
 * real-time signals the C library reserves for itself (below SIGRTMIN).
 */
#ifndef WEFT_SIGNAL_H
#define WEFT_SIGNAL_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A watcher of signals: a pointer weft_signal_watch gave; pass nothing else
 * (a closed or unknown pointer is refused with -EINVAL, never
 * dereferenced). */
typedef struct weft_sigwatch weft_sigwatch;

/* Signals one watcher may list. */
#define WEFT_SIGWATCH_MAX 64

/*
 * Opens a watcher of the n signals in `signals` (a signal listed twice
 * counts once) for the calling task's loop: from now on each delivery of
 * one of them to the process is kept for it until weft_sigwatch_next
 * returns it.  Installs weft's handler for each signal this is the first
 * user of in the process (saving the disposition found).  Does not
 * suspend.
 *
 * watch: receives the watcher, which belongs to the loop (any of its tasks
 * may use it) and which the caller owns: close it with weft_sigwatch_close.
 * A watcher still open when its loop closes - its task returned without
 * closing it, say - stays open (and keeps receiving) until then, and is
 * closed by the loop as it closes, restoring dispositions as
 * weft_sigwatch_close does; the pointer is dead afterwards.
 * Errors (nothing was opened, *watch untouched):
 *   -EINVAL  signals or watch NULL, n < 1 or n > WEFT_SIGWATCH_MAX, or a
 *            signal that cannot be watched (above).
 *   -EPERM   not called from a task.
 *   -EAGAIN  128 loops of the process already use signals.
 *   -ENOMEM  out of memory.
 * Callable from a task.
 */
int weft_signal_watch(const int *signals, int n, weft_sigwatch **watch);

/*
 * Suspends the calling task until one of the watcher's signals has been
 * delivered since the watcher was opened and not yet returned, and returns
 * it through signo (which may be NULL).  A delivery already waiting is
 * returned at once; when several signals wait, they are returned in turn.
 * Deliveries of one signal that nobody took meanwhile coalesce into one,
 * as the kernel's own pending signals do: n quick SIGUSR1s may be returned
 * once.  Cancellation is checked at entry and during the wait (a cancel
 * scope's deadline bounds the wait: weft/cancel.h).  While a task waits
 * here the loop counts as having a wake source, so a program that only
 * waits for SIGTERM is not reported as deadlocked.
 * Returns 0 and the signal.
 * Errors:
 *   -EINVAL     watch NULL, closed, or not one weft_signal_watch gave.
 *   -EPERM      not in a task, or the watcher belongs to another loop.
 *   -EBUSY      another task is already waiting on this watcher.
 *   -EBADF      the watcher was closed (by another task) while this one
 *               waited; the watcher is gone.
 *   -ECANCELED  the task (or a cancel scope around the call) is cancelled.
 *   -ETIMEDOUT  a cancel scope's deadline passed.
 * On an error no delivery was consumed.
 */
int weft_sigwatch_next(weft_sigwatch *watch, int *signo);

/*
 * Closes the watcher and frees it: deliveries not taken are dropped, a
 * task waiting in weft_sigwatch_next is woken with -EBADF, and for each
 * signal this was the last user of in the process, the disposition found
 * by the first user is restored.  The pointer is dead afterwards.
 * Errors: -EINVAL (NULL, already closed, or not a watcher),
 * -EPERM (not called from a task of the watcher's loop).
 */
int weft_sigwatch_close(weft_sigwatch *watch);

/*
 * Waits for one delivery of signo to the calling task's process: a watcher
 * of signo opened, waited on once and closed (so only a delivery after the
 * call counts).  Returns 0 once signo was delivered.
 * Errors: those of weft_signal_watch and weft_sigwatch_next (-EINVAL for a
 * signal that cannot be watched, -EPERM outside a task, -ECANCELED,
 * -ETIMEDOUT, ...).  Callable from a task.
 */
int weft_signal_wait(int signo);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_SIGNAL_H */

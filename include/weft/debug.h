/*
 * weft/debug.h - what a running program can say about itself: a dump of
 * its tasks with their backtraces, and the loop's metrics (Tokio's runtime
 * metrics, Go's goroutine dump).  Included by weft.h.
 *
 * Backtraces unwind each suspended task's stack by the unwind tables that
 * gcc and clang emit by default on x86-64 and AArch64 (frame pointers are
 * not needed; code built with -fno-asynchronous-unwind-tables ends the
 * trace).  Link with -rdynamic so that the program's own functions get
 * names; without it their frames show as module + offset, which
 * `addr2line -f -e PROGRAM OFFSET` turns into a function and a line when
 * the program has debug information (-g).  Builds with the ucontext
 * switch print no backtraces.
 *
 * Environment, read at the process's first loop:
 *   WEFT_DUMP_SIGNAL=SIGQUIT (a signal's name or number; unset by
 *     default): each delivery makes every loop write its dump to stderr,
 *     between tasks, and go on - Go's SIGQUIT dump.  SIGINT cannot be
 *     used; a signal the program handles or ignores is left alone.
 *   WEFT_BLOCKED_WARN=seconds (default 0.1; "off" or 0 to disable): a
 *     watchdog thread names, on stderr, a task that runs that long
 *     without suspending - asyncio debug mode's slow-callback warning.
 */
#ifndef WEFT_DEBUG_H
#define WEFT_DEBUG_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes every task of the calling thread's loop to descriptor fd, one
 * paragraph per task: its id, its name (or its function), the task that
 * spawned it ("child of #1", "(finished)" once that one is gone), its
 * state - not
 * started, ready to run, running (the caller), or what it waits for (the
 * wait's own words: which task, descriptor, primitive, how long a sleep
 * has left) and for how long (as of the loop's clock, which advances once
 * per turn) - then a backtrace of its suspended stack.  Tasks of the
 * thread pool are listed as jobs.  Output is plain text, written with
 * write(2) (no stdio buffer); fd stays the caller's.  Progress bars drawn
 * on fd are erased meanwhile and drawn again below the dump.
 * Returns the number of tasks listed.
 * Errors: -EPERM (no loop runs on this thread), -EINVAL (fd negative), or
 * write(2)'s error (-EBADF: fd not open, -EPIPE, -EIO, ...).  Callable from any task or code on the loop's thread.
 */
int weft_dump_tasks(int fd);

/* A loop's counters and gauges (weft_loop_metrics_read). */
typedef struct weft_loop_metrics {
    uint64_t tasks_live;     /* spawned and not finished (pool jobs too) */
    uint64_t tasks_spawned;  /* since the loop started, of every kind */
    uint64_t tasks_finished; /* tasks_spawned - tasks_live */
    uint64_t task_runs;      /* switches into a task */
    uint64_t polls;          /* calls of the poller (epoll) */
    double sleep_seconds;    /* spent in the poller when it could block */
    uint64_t timers;         /* tasks with a deadline armed now */
    uint64_t ready_peak;     /* longest ready queue seen at a turn's start */
    uint64_t pool_threads;   /* threads of this loop's pool */
    uint64_t pool_busy;      /* of which running a job */
    uint64_t pool_queued;    /* jobs waiting for a thread */
    uint64_t bars_open;      /* progress bars this loop redraws */
    uint64_t fds_open;       /* descriptors weft manages (weft_fd) */
} weft_loop_metrics;

/*
 * Reads the calling thread's loop's metrics into *m (one call, no locks
 * but the pool's and the bars' own, briefly).  Counters only grow; the
 * others are gauges as of the call.
 * Errors: -EINVAL (m NULL), -EPERM (no loop runs on this thread).
 */
int weft_loop_metrics_read(weft_loop_metrics *m);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_DEBUG_H */

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

/* The API by topic.  Each part also compiles on its own (it includes what
 * it uses), but weft.h is the supported entry point. */
#include "weft/base.h"
#include "weft/task.h"
#include "weft/time.h"
#include "weft/cancel.h"
#include "weft/io.h"
#include "weft/bar.h"
#include "weft/gather.h"
#include "weft/group.h"
#include "weft/gen.h"
#include "weft/sync.h"
#include "weft/thread.h"
#include "weft/loop.h"
#include "weft/signal.h"
#include "weft/fd.h"
#include "weft/net.h"
#include "weft/stream.h"
#include "weft/file.h"
#include "weft/proc.h"
#include "weft/debug.h"

#endif /* WEFT_H */

/*
 * weft/time.h - sleeping, yielding and the monotonic clock (asyncio.sleep,
 * loop.time).  Included by weft.h.
 */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif /* WEFT_TIME_H */

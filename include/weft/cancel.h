/*
 * weft/cancel.h - cancellation scopes: shielding a task's cleanup from
 * cancellation, and asking whether the task was cancelled.  Included by
 * weft.h.
 */
#ifndef WEFT_CANCEL_H
#define WEFT_CANCEL_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif /* WEFT_CANCEL_H */

/*
 * weft/io.h - waiting for a file descriptor to become readable or
 * writable.  Included by weft.h.
 */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * -ECANCELED (or a cancel scope's -ETIMEDOUT), -EPERM (not in a task),
 * -ENOTSUP (a regular file or directory: always ready, the poller refuses
 * it), -ENOMEM.
 */
int weft_io_wait(int fd, unsigned events, double timeout);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_IO_H */

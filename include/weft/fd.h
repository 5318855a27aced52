/*
 * weft/fd.h - descriptors weft manages (sockets, pipes) and the I/O calls
 * on them, each suspending only the calling task.  Included by weft.h.
 *
 *     weft_fd *c;
 *     weft_fd_open(sock, &c);                 // weft owns sock from now on
 *     char buf[4096];
 *     ssize_t n;
 *     while ((n = weft_fd_read(c, buf, sizeof buf)) > 0)
 *         if (weft_fd_write(c, buf, (size_t)n, NULL) != 0)
 *             break;                          // echo
 *     weft_fd_close(c);
 *
 * A descriptor given to weft_fd_open is registered once with the loop's
 * poller, edge-triggered, and its readiness is remembered per direction:
 * a call tries the system call first when the descriptor was last seen
 * ready, and forgets the readiness only when the call would block (EAGAIN)
 * or, on a stream, when it moved fewer bytes than asked.  A connection
 * that keeps being ready costs no poller call and no failed read.
 *
 * One task may wait to read and another to write on one descriptor at the
 * same time (full duplex); a second reader (or writer) gets -EBUSY.
 *
 * Handles are not pointers: they carry the loop, a slot and a generation,
 * so a closed handle - or a handle whose descriptor number has since been
 * reused by another weft_fd_open - is refused with -EINVAL and never
 * touches the new descriptor, and events the poller reports for a closed
 * descriptor are ignored.  A handle belongs to the loop that opened it
 * (-EPERM elsewhere).  A pointer that never was a handle is -EINVAL
 * everywhere, in every build (handles have bit 63 set, user-space pointers
 * never); a made-up value with bit 63 set is -EINVAL too unless its bits
 * carry the tag of a loop this process has run, which makes it another
 * loop's handle (-EPERM); it is never taken for a live handle of this loop
 * unless it equals one.  Descriptors still open when the loop closes are
 * closed then.
 * The same holds for the handles of streams (weft/stream.h) and processes
 * (weft/proc.h), which are weft_fd handles.
 *
 * Close through weft_fd_close only.  Closing the number with close(2)
 * instead is a bug weft cannot see: the poller forgets the descriptor
 * silently, so a task waiting on it is not woken (until its cancellation
 * or a scope's deadline), and the handle would use whatever file next gets
 * that number.  (tests/test_fd.c shows both.)
 *
 * No call here raises SIGPIPE: sockets are written with MSG_NOSIGNAL,
 * other descriptors (pipes) with SIGPIPE blocked around the write (a
 * SIGPIPE the write raised is taken back); a peer that went away is -EPIPE
 * or -ECONNRESET.
 *
 * Every call that may suspend obeys cancellation and cancel scopes
 * (weft/cancel.h): -ECANCELED / -ETIMEDOUT, also at entry.  They may be
 * called from a task only (-EPERM otherwise).
 */
#ifndef WEFT_FD_H
#define WEFT_FD_H

#include "base.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A descriptor weft manages (not a pointer to dereference). */
typedef struct weft_fd weft_fd;

/*
 * Adopts fd: makes it non-blocking and close-on-exec and registers it with
 * the loop's poller.  From now on weft owns fd: it closes it in
 * weft_fd_close (or when the loop closes).
 * fdh: receives the handle.
 * Errors (fd stays the caller's, unchanged but for O_NONBLOCK/FD_CLOEXEC):
 * -EINVAL (fd negative, fdh NULL), -EPERM (not in a task), -EBADF (fd not
 * open), -ENOTSUP (a regular file or directory: the poller cannot watch
 * it - use the thread pool), -EEXIST (fd is registered already), -ENOMEM.
 */
int weft_fd_open(int fd, weft_fd **fdh);

/*
 * Closes the descriptor and frees the handle.  A task blocked reading or
 * writing it is woken with -EBADF.  Returns 0, or the error close(2)
 * reported (the descriptor is released all the same).
 * Errors: -EINVAL (closed or unknown handle), -EPERM (another loop's, or
 * not on a loop's thread).
 */
int weft_fd_close(weft_fd *fdh);

/*
 * Borrows the descriptor number for use outside the loop's tasks - a
 * thread-pool job (weft_to_thread) making a blocking call on it, say.
 * While it is held, weft_fd_close still wakes the waiters and makes the
 * handle stale at once, but the close(2) waits for the last
 * weft_fd_release, so the number cannot be reused by another file under
 * the borrower.  Holds nest.  Returns the descriptor number.  Call both
 * from a task or the loop's thread (not from the pool job).  When the loop
 * closes, held descriptors are closed all the same.
 * Errors: -EINVAL (closed or unknown handle), -EPERM, -EOVERFLOW (65535
 * holds).
 */
int weft_fd_hold(weft_fd *fdh);

/* Ends one weft_fd_hold; also with the handle closed meanwhile - then the
 * last release closes the descriptor and returns close(2)'s error.
 * Errors: -EINVAL (not held, or an unknown handle), -EPERM. */
int weft_fd_release(weft_fd *fdh);

/* The descriptor number (for setsockopt, getsockname, ...: do not close
 * it, and do not read or write it while a task of the loop may).
 * Errors: -EINVAL, -EPERM. */
int weft_fd_fileno(weft_fd *fdh);

/*
 * Reads up to n bytes (read(2); recv(2) with `flags` in weft_fd_recv).
 * Suspends the task until at least one byte, end of file or an error.
 * Returns the number of bytes read, 0 at end of file (or n == 0), or:
 * -EBADF (closed through weft meanwhile), -ECONNRESET, -ECANCELED,
 * -ETIMEDOUT (a scope's deadline), -EBUSY (another task reads fdh),
 * -EINVAL, -EPERM, or another read error.
 */
ssize_t weft_fd_read(weft_fd *fdh, void *buf, size_t n);
ssize_t weft_fd_recv(weft_fd *fdh, void *buf, size_t n, int flags);

/*
 * Writes all n bytes (write(2); send(2) with MSG_NOSIGNAL and `flags` in
 * weft_fd_send), suspending the task while the kernel's buffer is full.
 * written: if not NULL, receives the number of bytes that went out - n on
 * success, fewer when the call failed or was cancelled part-way (the
 * stream is then cut at that byte: what the peer received is a prefix).
 * Returns 0, or: -EPIPE / -ECONNRESET (the peer went away), -EBADF,
 * -ECANCELED, -ETIMEDOUT, -EBUSY (another task writes fdh), -EINVAL,
 * -EPERM, or another write error.
 */
int weft_fd_write(weft_fd *fdh, const void *buf, size_t n, size_t *written);
int weft_fd_send(weft_fd *fdh, const void *buf, size_t n, int flags,
                 size_t *written);

/*
 * Vectored I/O (readv(2), writev(2)).  weft_fd_readv reads what one call
 * brings, up to the vector's total (0 at end of file); weft_fd_writev
 * writes all of it, as weft_fd_write (written: how many bytes went out).
 * iovcnt: 0..IOV_MAX.  Errors as weft_fd_read / weft_fd_write, and -EINVAL
 * for a bad vector.
 */
ssize_t weft_fd_readv(weft_fd *fdh, const struct iovec *iov, int iovcnt);
int weft_fd_writev(weft_fd *fdh, const struct iovec *iov, int iovcnt,
                   size_t *written);

/*
 * Datagrams and messages: one recvfrom/sendto/recvmsg/sendmsg each (a
 * datagram is sent whole or not at all; a stream socket may take part of a
 * sendmsg: the count says).  Sending adds MSG_NOSIGNAL; recvmsg adds
 * MSG_CMSG_CLOEXEC, so descriptors received over a Unix socket
 * (SCM_RIGHTS) are close-on-exec.  from/fromlen, to: as the system calls.
 * Returns the bytes received or sent, or an error as weft_fd_read /
 * weft_fd_write (-EMSGSIZE: a datagram too large to send).
 */
ssize_t weft_fd_recvfrom(weft_fd *fdh, void *buf, size_t n, int flags,
                         struct sockaddr *from, socklen_t *fromlen);
ssize_t weft_fd_sendto(weft_fd *fdh, const void *buf, size_t n, int flags,
                       const struct sockaddr *to, socklen_t tolen);
ssize_t weft_fd_recvmsg(weft_fd *fdh, struct msghdr *msg, int flags);
ssize_t weft_fd_sendmsg(weft_fd *fdh, const struct msghdr *msg, int flags);

/*
 * sendfile(2): sends count bytes of the file in_fd, from offset (in_fd's own
 * file offset does not move), to out, suspending while out is full.  Stops
 * early at the file's end.  sent: if not NULL, the bytes that went out.
 * Returns 0, or an error as weft_fd_write (-EINVAL: in_fd or offset
 * negative, or in_fd is not a file sendfile can read).
 */
int weft_fd_sendfile(weft_fd *out, int in_fd, off_t offset, size_t count,
                     size_t *sent);

/*
 * Accepts a connection on a listening socket (accept4(2)); the new socket
 * is non-blocking, close-on-exec, registered, and - for TCP - has
 * TCP_NODELAY set (as Go and Tokio do).
 * conn: receives its handle.  addr/addrlen: the peer's address, as
 * accept(2) (both NULL if not wanted).
 * Errors: -EMFILE / -ENFILE (out of descriptors: back off before trying
 * again), -ECONNABORTED, -EBADF, -ECANCELED, -ETIMEDOUT, -EBUSY, -EINVAL,
 * -EPERM, -ENOMEM.
 */
int weft_fd_accept(weft_fd *listener, weft_fd **conn, struct sockaddr *addr,
                   socklen_t *addrlen);

/*
 * Connects a socket to addr (connect(2)), suspending the task until the
 * connection is established or has failed.
 * Errors: -ECONNREFUSED, -ENETUNREACH, -EHOSTUNREACH, -ETIMEDOUT (the
 * kernel gave up, or a scope's deadline), -ECANCELED, -EBADF, -EINVAL,
 * -EPERM, or another connect error.  After a failure the socket cannot be
 * connected again: close it.
 */
int weft_fd_connect(weft_fd *fdh, const struct sockaddr *addr,
                    socklen_t addrlen);

/*
 * Half-close (shutdown(2)): SHUT_WR sends end of file to the peer and
 * keeps reading possible.  Does not suspend.
 * Errors: -ENOTCONN, -EINVAL, -EPERM, -EBADF.
 */
int weft_fd_shutdown(weft_fd *fdh, int how);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_FD_H */

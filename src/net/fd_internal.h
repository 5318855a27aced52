/*
 * fd_internal.h - the fd registry (fd.c), shared with the socket helpers
 * (sock.c).
 */
#ifndef WEFT_FD_INTERNAL_H
#define WEFT_FD_INTERNAL_H

#include "../core.h"

#include <sys/uio.h>

/* weft__fdent.flags */
enum {
    WEFT__FD_SOCKET = 1 << 0, /* send(MSG_NOSIGNAL), recv */
    WEFT__FD_STREAM = 1 << 1, /* a short read or write means drained/full */
    WEFT__FD_TCP = 1 << 2,    /* accepted sockets get TCP_NODELAY */
    /* The peer hung up (or an error is pending): no edge will come again,
     * so a short read or write no longer forgets readiness - only EAGAIN
     * does (end of file stays readable). */
    WEFT__FD_HUP = 1 << 3,
};

typedef struct weft__fdent {
    int fd;           /* -1 when free */
    uint32_t gen;     /* bumped when freed; never 0 */
    uint8_t ready;    /* WEFT_READABLE | WEFT_WRITABLE, as last known */
    uint8_t flags;    /* WEFT__FD_* */
    weft__record *waiter[2]; /* the reader and the writer, or NULL */
    uint32_t next_free;
    /* weft_fd_hold: borrowers of the number outside the loop.  Closed
     * while held, the entry is `closing`: the handle is stale (its gen was
     * bumped; closed_gen is the old one, for weft_fd_release), the poller
     * has forgotten it, and close(2) waits for the last release. */
    uint16_t holds;
    bool closing;
    uint32_t closed_gen;
    /* A layer over the descriptor (a stream), freed with the entry. */
    void *ext;
    void (*ext_free)(void *ext);
} weft__fdent;

typedef struct weft__fdreg {
    weft__service svc; /* first: the loop's service list points at it */
    weft__fdent *ents; /* [1, top) handed out; cap entries */
    uint32_t top, cap, free_head;
} weft__fdreg;

/* Registers fd (non-blocking, close-on-exec already) with `flags`; on
 * success weft owns it.  0, -ENOMEM, -ENOTSUP, -EEXIST, -EBADF. */
int weft__fd_register(weft__loop *L, int fd, unsigned flags, weft_fd **out);
/* The WEFT__FD_* kind of fd (a syscall or two). */
unsigned weft__fd_kind(int fd);
int weft__fd_decode(weft_fd *h, weft__loop **Lp, weft__fdreg **regp,
                    uint32_t *idxp);
weft_fd *weft__fd_encode(weft__loop *L, uint32_t idx, uint32_t gen);
/* Blocks the running task until the entry's direction (0 read, 1 write)
 * is reported ready: 0, -EBADF (closed meanwhile - also after the poller
 * woke us: 0 means the entry is still the one we waited on), -EBUSY (a
 * task waits already), -ECANCELED, -ETIMEDOUT. */
int weft__fd_wait(weft__loop *L, weft__fdreg *reg, uint32_t idx, int dir);
/* The entry of a handle of the calling thread's loop (NULL and *rc set if
 * bad); not stable across suspensions (the table may grow). */
weft__fdent *weft__fd_entry(weft_fd *h, int *rc);

/* One system call on an entry's descriptor, retried as the readiness rule
 * says: called when `dir` is marked ready; returns what the call returned
 * (>= 0) or -errno.  `full` (may be NULL) says whether a result moved all
 * that was asked (a shorter one forgets readiness on a stream). */
typedef ssize_t (*weft__fd_op)(weft__fdent *e, void *ctx);
/* Decodes h for a suspending call from a task, then runs op until it does
 * not return -EAGAIN, waiting for `dir` (0 read, 1 write) between tries.
 * Returns op's result or an error (-EBADF if closed while waiting). */
ssize_t weft__fd_io(weft_fd *h, int dir, weft__fd_op op, void *ctx,
                    bool (*full)(ssize_t r, void *ctx));
/* What weft__fd_io checks first (handle, task, cancellation): 0 or the
 * error, for a call with nothing to move. */
int weft__fd_enter(weft_fd *h);
/* Writes all `total` bytes of the vector v[0..cnt) (which it advances as
 * bytes go out), with send flags on sockets (MSG_NOSIGNAL added) and
 * SIGPIPE held back on other descriptors.  *written (if not NULL): the
 * bytes that went out.  msg.c. */
int weft__fd_write_all(weft_fd *h, struct iovec *v, int cnt, size_t total,
                       int flags, size_t *written);

#endif

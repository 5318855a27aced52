/*
 * msg.c - the vectored and datagram calls on registered descriptors:
 * readv/writev, recvfrom/sendto, recvmsg/sendmsg, sendfile.  Each is one
 * system call wrapped in the registry's retry (weft__fd_io), except the
 * write-all loop, which weft_fd_writev, weft_fd_write and weft_fd_send
 * share.
 */
#define _GNU_SOURCE
#include "fd_internal.h"

#include "../alloc.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <time.h>

static ssize_t ret(ssize_t k)
{
    return k < 0 ? -errno : k;
}

/* ---- readv ---- */

typedef struct iov_ctx {
    const struct iovec *iov;
    int cnt;
    size_t total;
} iov_ctx;

static size_t iov_total(const struct iovec *iov, int cnt, bool *ok)
{
    size_t t = 0;
    *ok = true;
    for (int i = 0; i < cnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            *ok = false;
        t += iov[i].iov_len;
    }
    return t;
}

static ssize_t readv_op(weft__fdent *e, void *ctx)
{
    iov_ctx *c = ctx;
    return ret(readv(e->fd, c->iov, c->cnt));
}

static bool iov_full(ssize_t r, void *ctx)
{
    return (size_t)r == ((iov_ctx *)ctx)->total;
}

ssize_t weft_fd_readv(weft_fd *fdh, const struct iovec *iov, int iovcnt)
{
    bool ok;
    if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt && !iov))
        return -EINVAL;
    iov_ctx c = {iov, iovcnt, iovcnt ? iov_total(iov, iovcnt, &ok) : 0};
    if (iovcnt && !ok)
        return -EINVAL;
    return weft__fd_io(fdh, 0, readv_op, &c, iov_full);
}

/* ---- writing all of it ---- */

/* writev(2) with SIGPIPE blocked around it, and a SIGPIPE it raised taken
 * back: for descriptors that are not sockets.  (Not one thread-wide block
 * while descriptors are open: the ucontext switch restores each task's own
 * signal mask on every switch.) */
static ssize_t nopipe_writev(int fd, const struct iovec *iov, int cnt)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t k = writev(fd, iov, cnt);
    int err = errno;
    if (k < 0 && err == EPIPE && !sigismember(&old, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return k;
}

typedef struct wr_ctx {
    const struct iovec *iov;
    int cnt;
    size_t total;
    int flags;
} wr_ctx;

static ssize_t write_op(weft__fdent *e, void *ctx)
{
    wr_ctx *c = ctx;
    if (e->flags & WEFT__FD_SOCKET) {
        struct msghdr m = {.msg_iov = (struct iovec *)c->iov,
                           .msg_iovlen = (size_t)c->cnt};
        return ret(sendmsg(e->fd, &m, c->flags | MSG_NOSIGNAL));
    }
    return ret(nopipe_writev(e->fd, c->iov, c->cnt));
}

static bool write_full(ssize_t r, void *ctx)
{
    return (size_t)r == ((wr_ctx *)ctx)->total;
}

int weft__fd_write_all(weft_fd *h, struct iovec *v, int cnt, size_t total,
                       int flags, size_t *written)
{
    size_t done = 0;
    int first = 0;
    ssize_t rc = total ? 0 : weft__fd_enter(h);
    while (rc == 0 && done < total) {
        wr_ctx c = {v + first, cnt - first, total - done, flags};
        ssize_t k = weft__fd_io(h, 1, write_op, &c, write_full);
        if (k < 0) {
            rc = k;
            break;
        }
        done += (size_t)k;
        size_t left = (size_t)k;
        while (first < cnt && left >= v[first].iov_len)
            left -= v[first++].iov_len;
        if (first < cnt) {
            v[first].iov_base = (char *)v[first].iov_base + left;
            v[first].iov_len -= left;
        }
    }
    if (written)
        *written = done;
    return (int)rc;
}

int weft_fd_writev(weft_fd *fdh, const struct iovec *iov, int iovcnt,
                   size_t *written)
{
    if (written)
        *written = 0;
    bool ok = true;
    if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt && !iov))
        return -EINVAL;
    size_t total = iovcnt ? iov_total(iov, iovcnt, &ok) : 0;
    if (!ok)
        return -EINVAL;
    /* A private copy of the vector, advanced as bytes go out. */
    struct iovec local[64], *v = local;
    if (iovcnt > 64 && !(v = weft__malloc((size_t)iovcnt * sizeof *v)))
        return -ENOMEM;
    if (iovcnt)
        memcpy(v, iov, (size_t)iovcnt * sizeof *v);
    int rc = weft__fd_write_all(fdh, v, iovcnt, total, 0, written);
    if (v != local)
        weft__free(v);
    return rc;
}

/* ---- datagrams and messages ---- */

typedef struct dgram_ctx {
    void *buf;
    size_t n;
    int flags;
    struct sockaddr *addr;
    socklen_t *addrlen;
    const struct sockaddr *to;
    socklen_t tolen;
    struct msghdr *msg;
} dgram_ctx;

static ssize_t recvfrom_op(weft__fdent *e, void *ctx)
{
    dgram_ctx *c = ctx;
    return ret(recvfrom(e->fd, c->buf, c->n, c->flags, c->addr, c->addrlen));
}

ssize_t weft_fd_recvfrom(weft_fd *fdh, void *buf, size_t n, int flags,
                         struct sockaddr *from, socklen_t *fromlen)
{
    if ((!buf && n) || (from && !fromlen))
        return -EINVAL;
    dgram_ctx c = {.buf = buf, .n = n, .flags = flags, .addr = from,
                   .addrlen = fromlen};
    return weft__fd_io(fdh, 0, recvfrom_op, &c, NULL);
}

static ssize_t sendto_op(weft__fdent *e, void *ctx)
{
    dgram_ctx *c = ctx;
    return ret(sendto(e->fd, c->buf, c->n, c->flags | MSG_NOSIGNAL, c->to,
                      c->tolen));
}

ssize_t weft_fd_sendto(weft_fd *fdh, const void *buf, size_t n, int flags,
                       const struct sockaddr *to, socklen_t tolen)
{
    if (!buf && n)
        return -EINVAL;
    dgram_ctx c = {.buf = (void *)buf, .n = n, .flags = flags, .to = to,
                   .tolen = tolen};
    return weft__fd_io(fdh, 1, sendto_op, &c, NULL);
}

static ssize_t recvmsg_op(weft__fdent *e, void *ctx)
{
    dgram_ctx *c = ctx;
    /* Descriptors passed in are close-on-exec, as every one weft makes. */
    return ret(recvmsg(e->fd, c->msg, c->flags | MSG_CMSG_CLOEXEC));
}

ssize_t weft_fd_recvmsg(weft_fd *fdh, struct msghdr *msg, int flags)
{
    if (!msg)
        return -EINVAL;
    dgram_ctx c = {.msg = msg, .flags = flags};
    return weft__fd_io(fdh, 0, recvmsg_op, &c, NULL);
}

static ssize_t sendmsg_op(weft__fdent *e, void *ctx)
{
    dgram_ctx *c = ctx;
    return ret(sendmsg(e->fd, c->msg, c->flags | MSG_NOSIGNAL));
}

ssize_t weft_fd_sendmsg(weft_fd *fdh, const struct msghdr *msg, int flags)
{
    if (!msg)
        return -EINVAL;
    dgram_ctx c = {.msg = (struct msghdr *)msg, .flags = flags};
    return weft__fd_io(fdh, 1, sendmsg_op, &c, NULL);
}

/* ---- sendfile ---- */

typedef struct sf_ctx {
    int in_fd;
    off_t off;
    size_t n;
} sf_ctx;

static ssize_t sendfile_op(weft__fdent *e, void *ctx)
{
    sf_ctx *c = ctx;
    return ret(sendfile(e->fd, c->in_fd, &c->off, c->n));
}

int weft_fd_sendfile(weft_fd *out, int in_fd, off_t offset, size_t count,
                     size_t *sent)
{
    if (sent)
        *sent = 0;
    if (in_fd < 0 || offset < 0)
        return -EINVAL;
    size_t done = 0;
    int rc = 0;
    do {
        sf_ctx c = {in_fd, offset + (off_t)done, count - done};
        /* A short count may mean the file ended, not that the socket is
         * full: only EAGAIN forgets writability here. */
        ssize_t k = weft__fd_io(out, 1, sendfile_op, &c, NULL);
        if (k < 0) {
            rc = (int)k;
            break;
        }
        if (k == 0)
            break; /* end of the file */
        done += (size_t)k;
    } while (done < count);
    if (sent)
        *sent = done;
    return rc;
}

/*
 * msg.c - the vectored and datagram calls on registered descriptors:
 * readv/writev, recvfrom/sendto, recvmsg/sendmsg.  Each is one system call
 * wrapped in the registry's retry (weft__fd_io), except writev, which
 * writes everything as weft_fd_write does.
 */
#define _GNU_SOURCE
#include "fd_internal.h"

#include "../alloc.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

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

/* ---- writev: all of it ---- */

static ssize_t writev_op(weft__fdent *e, void *ctx)
{
    iov_ctx *c = ctx;
    if (e->flags & WEFT__FD_SOCKET) {
        struct msghdr m = {.msg_iov = (struct iovec *)c->iov,
                           .msg_iovlen = (size_t)c->cnt};
        return ret(sendmsg(e->fd, &m, MSG_NOSIGNAL));
    }
    return ret(weft__nopipe_write(e->fd, c->iov, c->cnt));
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
    if (total == 0) {
        int bad;
        return weft__fd_entry(fdh, &bad) ? 0 : bad;
    }
    /* A private copy of the vector, advanced as bytes go out. */
    struct iovec local[64], *v = local;
    if (iovcnt > 64 && !(v = weft__malloc((size_t)iovcnt * sizeof *v)))
        return -ENOMEM;
    if (iovcnt)
        memcpy(v, iov, (size_t)iovcnt * sizeof *v);
    size_t done = 0;
    int first = 0;
    ssize_t rc = 0;
    while (done < total) {
        iov_ctx c = {v + first, iovcnt - first, total - done};
        rc = weft__fd_io(fdh, 1, writev_op, &c, iov_full);
        if (rc < 0)
            break;
        done += (size_t)rc;
        size_t k = (size_t)rc;
        while (first < iovcnt && k >= v[first].iov_len)
            k -= v[first++].iov_len;
        if (first < iovcnt) {
            v[first].iov_base = (char *)v[first].iov_base + k;
            v[first].iov_len -= k;
        }
        rc = 0;
    }
    if (v != local)
        weft__free(v);
    if (written)
        *written = done;
    return (int)rc;
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

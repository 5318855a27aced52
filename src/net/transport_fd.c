/*
 * transport_fd.c - the plain transport of streams: a registered
 * descriptor's own calls (transport.h).
 */
#define _GNU_SOURCE
#include "transport.h"

#include <sys/socket.h>

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
    return weft_fd_read(ctx, buf, n);
}

static int fd_writev(void *ctx, struct iovec *v, int cnt, size_t total,
                     size_t *written)
{
    return weft__fd_write_all(ctx, v, cnt, total, 0, written);
}

static int fd_shutdown_write(void *ctx)
{
    return weft_fd_shutdown(ctx, SHUT_WR);
}

static int fd_close(void *ctx)
{
    return weft_fd_close(ctx);
}

const weft__transport_ops weft__fd_transport = {
    .read = fd_read,
    .writev = fd_writev,
    .shutdown_write = fd_shutdown_write,
    .close = fd_close,
};

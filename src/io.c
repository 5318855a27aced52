/*
 * io.c - waiting for a file descriptor to become ready.
 *
 * Each wait registers the fd with the backend for one report and removes
 * it afterwards, so weft keeps no per-fd state: a second task waiting on the
 * same fd is told -EBUSY by the backend's duplicate check.
 */
#define _GNU_SOURCE
#include "core.h"

#include "backend/backend.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

/* However the wait ends (readiness, timer, cancellation, abandonment):
 * the fd leaves the poller. */
static void io_leave(weft__loop *L, weft__record *r)
{
    weft__backend_del(L->backend, r->io_fd);
    L->n_io--;
}

static void io_describe(weft__loop *L, weft__record *r, char *buf,
                        size_t len)
{
    (void)L;
    snprintf(buf, len, "waiting on fd %d", r->io_fd);
}

const weft__wait_kind weft__wait_io = {
    .leave = io_leave,
    .describe = io_describe,
};

void weft__io_ready(weft__loop *L, void *data, unsigned events)
{
    if ((uintptr_t)data & 1) {
        L->tagged_ready(L, (uintptr_t)data, events);
        return;
    }
    weft__record *f = data;
    if (f->wait != WEFT__WAIT_BLOCKED || f->kind != &weft__wait_io)
        return;
    f->io_ready = events;
    weft__wake(L, f, 0);
}

int weft_io_wait(int fd, unsigned events, double timeout)
{
    weft__loop *L = weft__tls_loop;
    weft__record *f = L ? L->cur : NULL;
    if (!f)
        return -EPERM;
    if (fd < 0 || !events || (events & ~(WEFT_READABLE | WEFT_WRITABLE)) ||
        isnan(timeout))
        return -EINVAL;
    WEFT__RETURN_IF_CANCELLED(L, f);
    uint64_t deadline = WEFT__NO_DEADLINE;
    if (timeout >= 0)
        deadline = weft__deadline_after(timeout);
    int rc = weft__backend_add(L->backend, fd, events, f);
    if (rc == -EEXIST)
        return -EBUSY;
    if (rc == -EPERM)
        return -ENOTSUP; /* the poller's word for a regular file */
    if (rc)
        return rc;
    f->io_fd = fd;
    f->io_ready = 0;
    L->n_io++;
    rc = weft__block(L, f, &weft__wait_io, deadline);
    if (rc)
        return rc;
    return (int)(f->io_ready & events);
}

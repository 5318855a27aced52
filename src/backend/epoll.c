/*
 * epoll.c - the Linux backend: epoll for readiness, an eventfd to be woken
 * from other threads.
 *
 * Timeouts have nanosecond resolution through epoll_pwait2 (Linux 5.11).
 * Where it is missing (qemu-user 7.2 does not emulate it, older kernels
 * lack it) the wait falls back to epoll_wait with the timeout rounded *up*
 * to whole milliseconds, so a timer may be late but is never early.
 */
#define _GNU_SOURCE
#include "backend.h"

#include "../alloc.h"
#include "weft.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441 /* same number on x86-64 and AArch64 */
#endif

#define MAX_EVENTS 128

struct weft__backend {
    int epfd;
    int wakefd;
    bool no_pwait2;
    struct epoll_event ev[MAX_EVENTS];
};

int weft__backend_open(weft__backend **out)
{
    weft__backend *b = weft__calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        int e = -errno;
        weft__free(b);
        return e;
    }
    b->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (b->wakefd < 0 || epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->wakefd, &ev)) {
        int e = -errno;
        if (b->wakefd >= 0)
            close(b->wakefd);
        close(b->epfd);
        weft__free(b);
        return e;
    }
    *out = b;
    return 0;
}

void weft__backend_close(weft__backend *b)
{
    if (!b)
        return;
    close(b->wakefd);
    close(b->epfd);
    weft__free(b);
}

int weft__backend_add(weft__backend *b, int fd, unsigned events, void *data)
{
    struct epoll_event ev = {.events = EPOLLONESHOT, .data.ptr = data};
    if (events & WEFT_READABLE)
        ev.events |= EPOLLIN | EPOLLRDHUP;
    if (events & WEFT_WRITABLE)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -errno;
    return 0;
}

void weft__backend_del(weft__backend *b, int fd)
{
    /* EBADF or ENOENT if the fd was closed meanwhile: nothing to undo. */
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int weft__backend_watch(weft__backend *b, int fd, void *data)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.ptr = data,
    };
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -errno;
    return 0;
}

void weft__backend_unwatch(weft__backend *b, int fd)
{
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static int wait_events(weft__backend *b, int64_t timeout_ns)
{
    if (!b->no_pwait2) {
        struct timespec ts, *tp = NULL;
        if (timeout_ns >= 0) {
            ts.tv_sec = timeout_ns / 1000000000;
            ts.tv_nsec = timeout_ns % 1000000000;
            tp = &ts;
        }
        long n = syscall(SYS_epoll_pwait2, b->epfd, b->ev, MAX_EVENTS, tp,
                         NULL, (size_t)0);
        if (n >= 0 || errno != ENOSYS)
            return n < 0 ? -errno : (int)n;
        b->no_pwait2 = true;
    }
    int ms = -1;
    if (timeout_ns >= 0) {
        int64_t m = (timeout_ns + 999999) / 1000000; /* never early */
        ms = m > 1000000000 ? 1000000000 : (int)m;
    }
    int n = epoll_wait(b->epfd, b->ev, MAX_EVENTS, ms);
    return n < 0 ? -errno : n;
}

int weft__backend_poll(weft__backend *b, int64_t timeout_ns,
                       weft__ready_fn fn, void *ctx)
{
    int n = wait_events(b, timeout_ns);
    if (n == -EINTR)
        return 0; /* the loop re-reads the clock and polls again */
    if (n < 0)
        return n;
    int reported = 0;
    for (int i = 0; i < n; i++) {
        struct epoll_event *e = &b->ev[i];
        if (!e->data.ptr) {
            uint64_t v;
            /* Drain; EAGAIN if another poll already did. */
            if (read(b->wakefd, &v, sizeof v) < 0) {
            }
            continue;
        }
        unsigned ev = 0;
        if (e->events & (EPOLLIN | EPOLLRDHUP | EPOLLPRI))
            ev |= WEFT_READABLE;
        if (e->events & EPOLLOUT)
            ev |= WEFT_WRITABLE;
        if (e->events & (EPOLLERR | EPOLLHUP))
            ev |= WEFT_READABLE | WEFT_WRITABLE; /* caller masks */
        if (e->events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            ev |= WEFT__POLL_HUP;
        fn(ctx, e->data.ptr, ev);
        reported++;
    }
    return reported;
}

void weft__backend_wake(weft__backend *b)
{
    uint64_t one = 1;
    /* EAGAIN only if the counter is about to overflow: already woken. */
    if (write(b->wakefd, &one, sizeof one) < 0) {
    }
}

const char *weft__backend_name(void)
{
    return "epoll";
}

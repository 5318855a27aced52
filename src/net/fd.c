/*
 * fd.c - the fd registry: descriptors weft manages (weft_fd), registered
 * once with the poller, edge-triggered, with readiness cached per
 * direction; and the I/O calls on them.
 *
 * The readiness rule (Tokio's): a direction is marked ready by the poller's
 * report and forgotten only when a call would block (EAGAIN) or, on a
 * stream, moved fewer bytes than asked (the kernel's buffer is then empty,
 * or full; data arriving after that call raises a new edge, which the next
 * poll reports - the loop polls only between tasks, so no edge can slip in
 * between a call and its forgetting).  Not after a hang-up was reported:
 * end of file raises no further edge, so a short read before it must not
 * forget that the descriptor is readable.  A call tries the system call at
 * once when the direction is marked ready, and waits first otherwise.
 *
 * The registry is a per-loop table of entries, reached by index (it grows
 * by copying).  What the poller carries for an entry is its index and its
 * generation, tagged with bit 0 (core.h's tagged_ready): an event for a
 * closed entry - or for an entry reused since - has a stale generation and
 * is dropped.  Handles carry the loop's tag, the index and the generation
 * as task handles do.  Generations keep bit 31 set, so a handle has bit 63
 * set, which no user-space pointer has: a pointer that never was a handle
 * is -EINVAL before any other check.  They never wrap: an entry whose
 * generation is exhausted is retired (never reused), so a stale handle
 * cannot match a later descriptor.  A waiting task is linked in its entry (one reader,
 * one writer) and counts as an fd wait for deadlock detection.
 *
 * SIGPIPE: sockets are written with MSG_NOSIGNAL; other descriptors
 * (pipes) with SIGPIPE blocked around the write, and a SIGPIPE the write
 * raised taken back before the mask is restored.  (Not one thread-wide
 * block while descriptors are open: the ucontext switch restores each
 * task's own signal mask on every switch.)
 */
#define _GNU_SOURCE
#include "fd_internal.h"

#include "../alloc.h"
#include "../backend/backend.h"
#include "../stats.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(void *) == 8, "poll data packs a 32-bit generation");

#define IDX_BITS 24
#define IDX_MASK ((1u << IDX_BITS) - 1)
#define GEN_FIRST 0x80000001u /* bit 31: the handle's bit 63 */

enum { DIR_READ = 0, DIR_WRITE = 1 };

static void reg_close(weft__loop *L, weft__service *sv);

static const weft__service_ops reg_ops = {.close = reg_close};

/* ---- the table ---- */

static void tagged_ready(weft__loop *L, uintptr_t data, unsigned events);

static weft__fdreg *reg_get(weft__loop *L)
{
    weft__fdreg *reg = (weft__fdreg *)weft__service_find(L, &reg_ops);
    if (reg)
        return reg;
    if (!(reg = weft__calloc(1, sizeof *reg)))
        return NULL;
    reg->svc.ops = &reg_ops;
    L->tagged_ready = tagged_ready;
    weft__service_add(L, &reg->svc);
    return reg;
}

static int reg_grow(weft__fdreg *reg)
{
    uint32_t cap = reg->cap ? reg->cap * 2 : 64;
    if (cap > IDX_MASK)
        return -ENOMEM;
    weft__fdent *t = weft__malloc(cap * sizeof *t);
    if (!t)
        return -ENOMEM;
    if (reg->cap)
        memcpy(t, reg->ents, reg->cap * sizeof *t);
    weft__free(reg->ents);
    reg->ents = t;
    reg->cap = cap;
    return 0;
}

static uint32_t ent_alloc(weft__fdreg *reg)
{
    if (reg->free_head) {
        uint32_t idx = reg->free_head;
        reg->free_head = reg->ents[idx].next_free;
        return idx;
    }
    if (reg->top == 0)
        reg->top = 1; /* index 0 is never used */
    if (reg->top >= reg->cap && reg_grow(reg))
        return 0;
    uint32_t idx = reg->top++;
    reg->ents[idx] = (weft__fdent){.fd = -1, .gen = GEN_FIRST};
    return idx;
}

/* Frees the layer over the entry (a stream, a process), if any. */
static void ent_drop_ext(weft__fdreg *reg, uint32_t idx)
{
    weft__fdent *e = &reg->ents[idx];
    if (e->ext) {
        void *ext = e->ext;
        e->ext = NULL;
        e->ext_free(ext);
    }
}

/* The generation after g; it stays at the last one (the entry is then
 * retired by ent_free). */
static uint32_t gen_after(uint32_t g)
{
    return g == UINT32_MAX ? g : g + 1;
}

static void ent_free(weft__fdreg *reg, uint32_t idx)
{
    ent_drop_ext(reg, idx);
    weft__fdent *e = &reg->ents[idx];
    e->fd = -1;
    e->holds = 0;
    e->closing = false;
    e->gen = gen_after(e->gen);
    if (e->gen == UINT32_MAX)
        return; /* retired: its generations are used up */
    e->next_free = reg->free_head;
    reg->free_head = idx;
}

static uintptr_t poll_data(uint32_t idx, uint32_t gen)
{
    return (uintptr_t)gen << 32 | (uintptr_t)idx << 1 | 1;
}

weft_fd *weft__fd_encode(weft__loop *L, uint32_t idx, uint32_t gen)
{
    return (weft_fd *)(uintptr_t)((uint64_t)gen << 32 |
                                  (uint64_t)L->tag << IDX_BITS | idx);
}

/* A handle's loop, registry and index, checked against this thread's
 * loop and the table's size; *genp: the generation it carries (not yet
 * compared with the entry's). */
static int decode_slot(weft_fd *h, weft__loop **Lp, weft__fdreg **regp,
                       uint32_t *idxp, uint32_t *genp)
{
    uint64_t v = (uint64_t)(uintptr_t)h;
    if (!(v >> 63))
        return -EINVAL; /* NULL, a pointer, a number: never a handle */
    weft__loop *L = weft__tls_loop;
    if (!L)
        return -EPERM;
    if (((v >> IDX_BITS) & 0xff) != L->tag)
        return weft__foreign_tag((uint8_t)(v >> IDX_BITS));
    weft__fdreg *reg = (weft__fdreg *)weft__service_find(L, &reg_ops);
    uint32_t idx = (uint32_t)v & IDX_MASK;
    if (!reg || idx == 0 || idx >= reg->top)
        return -EINVAL;
    *Lp = L;
    *regp = reg;
    *idxp = idx;
    *genp = (uint32_t)(v >> 32);
    return 0;
}

int weft__fd_decode(weft_fd *h, weft__loop **Lp, weft__fdreg **regp,
                    uint32_t *idxp)
{
    uint32_t gen;
    int rc = decode_slot(h, Lp, regp, idxp, &gen);
    if (rc)
        return rc;
    weft__fdent *e = &(*regp)->ents[*idxp];
    return e->fd < 0 || e->gen != gen ? -EINVAL : 0;
}

weft__fdent *weft__fd_entry(weft_fd *h, int *rc)
{
    weft__loop *L;
    weft__fdreg *reg;
    uint32_t idx;
    if ((*rc = weft__fd_decode(h, &L, &reg, &idx)))
        return NULL;
    return &reg->ents[idx];
}

/* ---- readiness and waiting ---- */

static void wake_dir(weft__loop *L, weft__fdent *e, int dir, int rc)
{
    weft__record *r = e->waiter[dir];
    if (!r)
        return;
    e->waiter[dir] = NULL;
    L->n_io--;
    weft__ready(L, r, rc);
}

static void tagged_ready(weft__loop *L, uintptr_t data, unsigned events)
{
    weft__fdreg *reg = (weft__fdreg *)weft__service_find(L, &reg_ops);
    uint32_t idx = (uint32_t)(data >> 1) & 0x7fffffffu;
    if (!reg || idx == 0 || idx >= reg->top)
        return;
    weft__fdent *e = &reg->ents[idx];
    if (e->fd < 0 || e->gen != (uint32_t)(data >> 32))
        return; /* closed, maybe reused, since the poller saw it */
    if (events & WEFT__POLL_HUP)
        e->flags |= WEFT__FD_HUP;
    e->ready |= (uint8_t)(events & (WEFT_READABLE | WEFT_WRITABLE));
    if (events & WEFT_READABLE)
        wake_dir(L, e, DIR_READ, 0);
    if (events & WEFT_WRITABLE)
        wake_dir(L, e, DIR_WRITE, 0);
}

/* The wait's state is in the record: io_fd holds the entry's index,
 * io_ready the direction. */
static void fd_leave(weft__loop *L, weft__record *r)
{
    weft__fdreg *reg = (weft__fdreg *)weft__service_find(L, &reg_ops);
    weft__fdent *e = &reg->ents[r->io_fd];
    if (e->waiter[r->io_ready] == r) {
        e->waiter[r->io_ready] = NULL;
        L->n_io--;
    }
}

static void fd_describe(weft__loop *L, weft__record *r, char *buf,
                        size_t len)
{
    weft__fdreg *reg = (weft__fdreg *)weft__service_find(L, &reg_ops);
    snprintf(buf, len, "waiting to %s fd %d",
             r->io_ready == DIR_READ ? "read" : "write",
             reg->ents[r->io_fd].fd);
}

static const weft__wait_kind fd_wait_kind = {
    .leave = fd_leave,
    .describe = fd_describe,
};

int weft__fd_wait(weft__loop *L, weft__fdreg *reg, uint32_t idx, int dir)
{
    weft__fdent *e = &reg->ents[idx];
    weft__record *r = L->cur;
    if (e->waiter[dir])
        return -EBUSY;
    uint32_t gen = e->gen;
    e->waiter[dir] = r;
    L->n_io++;
    r->io_fd = (int)idx;
    r->io_ready = (unsigned)dir;
    int rc = weft__block(L, r, &fd_wait_kind, WEFT__NO_DEADLINE);
    /* Woken by the poller, then - before we ran - closed by another task
     * of the same turn (which found no waiter left to tell), maybe reused
     * since: the entry is no longer ours. */
    e = &reg->ents[idx];
    if (rc == 0 && (e->fd < 0 || e->closing || e->gen != gen))
        return -EBADF;
    return rc;
}

/* ---- opening and closing ---- */

int weft__fd_register(weft__loop *L, int fd, unsigned flags, weft_fd **out)
{
    weft__fdreg *reg = reg_get(L);
    if (!reg)
        return -ENOMEM;
    uint32_t idx = ent_alloc(reg);
    if (!idx)
        return -ENOMEM;
    weft__fdent *e = &reg->ents[idx];
    e->fd = fd;
    e->flags = (uint8_t)flags;
    e->ready = WEFT_READABLE | WEFT_WRITABLE; /* try first */
    e->waiter[0] = e->waiter[1] = NULL;
    e->ext = NULL;
    e->holds = 0;
    e->closing = false;
    int rc = weft__backend_watch(L->backend, fd,
                                 (void *)poll_data(idx, e->gen));
    if (rc) {
        ent_free(reg, idx);
        return rc == -EPERM ? -ENOTSUP : rc;
    }
    *out = weft__fd_encode(L, idx, e->gen);
    return 0;
}

/* What kind of descriptor: a socket (stream or not), a pipe. */
unsigned weft__fd_kind(int fd)
{
    int type;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
        return WEFT__FD_SOCKET |
               (type == SOCK_STREAM ? WEFT__FD_STREAM : 0u);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
        return WEFT__FD_STREAM;
    return 0;
}

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK)))
        return -errno;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 ||
        (!(fdfl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC)))
        return -errno;
    return 0;
}

int weft_fd_open(int fd, weft_fd **fdh)
{
    if (fd < 0 || !fdh)
        return -EINVAL;
    weft__loop *L = weft__tls_loop;
    if (!L || !L->cur)
        return -EPERM;
    int rc = set_flags(fd);
    if (rc)
        return rc;
    return weft__fd_register(L, fd, weft__fd_kind(fd), fdh);
}

static int close_number(int fd)
{
    int rc = close(fd) ? -errno : 0;
    return rc == -EINTR ? 0 : rc; /* Linux: closed all the same */
}

/* Releases entry idx: waiters woken with -EBADF, the poller told, the
 * descriptor closed - or, while it is held, the handle made stale and the
 * close left to the last weft_fd_release.  Returns close(2)'s error. */
static int ent_close(weft__loop *L, weft__fdreg *reg, uint32_t idx)
{
    weft__fdent *e = &reg->ents[idx];
    wake_dir(L, e, DIR_READ, -EBADF);
    wake_dir(L, e, DIR_WRITE, -EBADF);
    weft__backend_unwatch(L->backend, e->fd);
    if (e->holds) {
        ent_drop_ext(reg, idx);
        e = &reg->ents[idx];
        e->closed_gen = e->gen;
        e->gen = gen_after(e->gen);
        e->closing = true;
        return 0;
    }
    int fd = e->fd;
    ent_free(reg, idx);
    return close_number(fd);
}

int weft_fd_close(weft_fd *fdh)
{
    weft__loop *L;
    weft__fdreg *reg;
    uint32_t idx;
    int rc = weft__fd_decode(fdh, &L, &reg, &idx);
    if (rc)
        return rc;
    return ent_close(L, reg, idx);
}

int weft_fd_hold(weft_fd *fdh)
{
    weft__loop *L;
    weft__fdreg *reg;
    uint32_t idx;
    int rc = weft__fd_decode(fdh, &L, &reg, &idx);
    if (rc)
        return rc;
    weft__fdent *e = &reg->ents[idx];
    if (e->holds == UINT16_MAX)
        return -EOVERFLOW;
    e->holds++;
    return e->fd;
}

int weft_fd_release(weft_fd *fdh)
{
    /* As weft__fd_decode, but a handle closed while held still counts. */
    weft__loop *L;
    weft__fdreg *reg;
    uint32_t idx, gen;
    int rc = decode_slot(fdh, &L, &reg, &idx, &gen);
    if (rc)
        return rc;
    weft__fdent *e = &reg->ents[idx];
    bool live = !e->closing && e->gen == gen;
    bool closed = e->closing && e->closed_gen == gen;
    if (e->fd < 0 || !e->holds || !(live || closed))
        return -EINVAL;
    if (--e->holds || live)
        return 0;
    int fd = e->fd;
    ent_free(reg, idx); /* the delayed close */
    return close_number(fd);
}

int weft_fd_fileno(weft_fd *fdh)
{
    weft__loop *L;
    weft__fdreg *reg;
    uint32_t idx;
    int rc = weft__fd_decode(fdh, &L, &reg, &idx);
    return rc ? rc : reg->ents[idx].fd;
}

/* The loop closes: descriptors left open are closed (no task is left to
 * wait on them). */
static void reg_close(weft__loop *L, weft__service *sv)
{
    weft__fdreg *reg = (weft__fdreg *)sv;
    for (uint32_t i = 1; i < reg->top; i++) {
        weft__fdent *e = &reg->ents[i];
        e->holds = 0; /* no task is left to release them */
        if (e->fd >= 0 && e->closing)
            close_number(e->fd); /* held past its close: still released */
        else if (e->fd >= 0)
            ent_close(L, reg, i);
    }
    L->tagged_ready = NULL;
    weft__free(reg->ents);
    weft__free(reg);
}

/* ---- the calls ---- */

/* Decodes a handle for a suspending call from a task. */
static int enter(weft_fd *fdh, weft__loop **Lp, weft__fdreg **regp,
                 uint32_t *idxp)
{
    int rc = weft__fd_decode(fdh, Lp, regp, idxp);
    if (rc)
        return rc;
    if (!(*Lp)->cur)
        return -EPERM;
    return weft__check(*Lp, (*Lp)->cur);
}

int weft__fd_enter(weft_fd *h)
{
    weft__loop *L;
    weft__fdreg *reg;
    uint32_t idx;
    return enter(h, &L, &reg, &idx);
}

ssize_t weft__fd_io(weft_fd *h, int dir, weft__fd_op op, void *ctx,
                    bool (*full)(ssize_t r, void *ctx))
{
    weft__loop *L;
    weft__fdreg *reg;
    uint32_t idx;
    int rc = enter(h, &L, &reg, &idx);
    if (rc)
        return rc;
    uint8_t bit = dir == DIR_READ ? WEFT_READABLE : WEFT_WRITABLE;
    for (;;) {
        weft__fdent *e = &reg->ents[idx];
        if (e->ready & bit) {
            ssize_t k = op(e, ctx);
            if (k >= 0) {
                if (full && !full(k, ctx) &&
                    (e->flags & (WEFT__FD_STREAM | WEFT__FD_HUP)) ==
                        WEFT__FD_STREAM)
                    e->ready &= (uint8_t)~bit;
                return k;
            }
            if (k == -EINTR)
                continue;
            if (k != -EAGAIN && k != -EWOULDBLOCK)
                return k;
            e->ready &= (uint8_t)~bit;
        }
        if ((rc = weft__fd_wait(L, reg, idx, dir)))
            return rc;
    }
}

typedef struct read_ctx {
    void *buf;
    size_t n;
    int flags;
    bool recv_call;
} read_ctx;

static ssize_t read_op(weft__fdent *e, void *ctx)
{
    read_ctx *c = ctx;
    ssize_t k = c->recv_call ? recv(e->fd, c->buf, c->n, c->flags)
                             : read(e->fd, c->buf, c->n);
    return k < 0 ? -errno : k;
}

/* A short read (not end of file) empties a stream's buffer. */
static bool read_full(ssize_t r, void *ctx)
{
    return r == 0 || (size_t)r == ((read_ctx *)ctx)->n;
}

static ssize_t do_read(weft_fd *fdh, void *buf, size_t n, int flags,
                       bool recv_call)
{
    if (!buf && n)
        return -EINVAL;
    read_ctx c = {buf, n, flags, recv_call};
    if (n == 0)
        return weft__fd_enter(fdh); /* still checked and cancellable */
    return weft__fd_io(fdh, DIR_READ, read_op, &c, read_full);
}

ssize_t weft_fd_read(weft_fd *fdh, void *buf, size_t n)
{
    return do_read(fdh, buf, n, 0, false);
}

ssize_t weft_fd_recv(weft_fd *fdh, void *buf, size_t n, int flags)
{
    return do_read(fdh, buf, n, flags, true);
}

int weft_fd_write(weft_fd *fdh, const void *buf, size_t n, size_t *written)
{
    return weft_fd_send(fdh, buf, n, 0, written);
}

/* Write-all is one loop (msg.c's, over a vector of one). */
int weft_fd_send(weft_fd *fdh, const void *buf, size_t n, int flags,
                 size_t *written)
{
    if (written)
        *written = 0;
    if (!buf && n)
        return -EINVAL;
    struct iovec v = {(void *)buf, n};
    return weft__fd_write_all(fdh, &v, 1, n, flags, written);
}

typedef struct accept_ctx {
    struct sockaddr *addr;
    socklen_t *addrlen;
    unsigned kind; /* set from the listener's entry */
} accept_ctx;

static ssize_t accept_op(weft__fdent *e, void *ctx)
{
    accept_ctx *c = ctx;
    int fd = accept4(e->fd, c->addr, c->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return -errno; /* EMFILE: the caller backs off */
    c->kind = WEFT__FD_SOCKET | WEFT__FD_STREAM | (e->flags & WEFT__FD_TCP);
    return fd;
}

int weft_fd_accept(weft_fd *listener, weft_fd **conn, struct sockaddr *addr,
                   socklen_t *addrlen)
{
    if (!conn || (addr && !addrlen))
        return -EINVAL;
    accept_ctx c = {addr, addrlen, 0};
    ssize_t fd = weft__fd_io(listener, DIR_READ, accept_op, &c, NULL);
    if (fd < 0)
        return (int)fd;
    if (c.kind & WEFT__FD_TCP) {
        int one = 1;
        setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    int rc = weft__fd_register(weft__tls_loop, (int)fd, c.kind, conn);
    if (rc)
        close((int)fd);
    return rc;
}

int weft_fd_connect(weft_fd *fdh, const struct sockaddr *addr,
                    socklen_t addrlen)
{
    weft__loop *L;
    weft__fdreg *reg;
    uint32_t idx;
    int rc = enter(fdh, &L, &reg, &idx);
    if (rc)
        return rc;
    if (!addr)
        return -EINVAL;
    weft__fdent *e = &reg->ents[idx];
    if (connect(e->fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    /* Whatever the poller said before (an unconnected socket reports
     * itself writable and hung up) says nothing about this connection:
     * wait, then ask the socket whether it is connected. */
    for (;;) {
        e = &reg->ents[idx];
        e->ready &= (uint8_t)~WEFT_WRITABLE;
        if ((rc = weft__fd_wait(L, reg, idx, DIR_WRITE)))
            return rc;
        e = &reg->ents[idx];
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len))
            return -errno;
        if (err)
            return -err;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        if (getpeername(e->fd, (struct sockaddr *)&peer, &plen) == 0)
            return 0;
        if (errno != ENOTCONN)
            return -errno;
    }
}

int weft_fd_shutdown(weft_fd *fdh, int how)
{
    weft__loop *L;
    weft__fdreg *reg;
    uint32_t idx;
    int rc = weft__fd_decode(fdh, &L, &reg, &idx);
    if (rc)
        return rc;
    if (shutdown(reg->ents[idx].fd, how))
        return -errno;
    return 0;
}

unsigned weft__fds_open(weft__loop *L)
{
    weft__fdreg *reg = (weft__fdreg *)weft__service_find(L, &reg_ops);
    unsigned n = 0;
    for (uint32_t i = 1; reg && i < reg->top; i++)
        n += reg->ents[i].fd >= 0 && !reg->ents[i].closing;
    return n;
}

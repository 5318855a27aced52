/*
 * stream.c - buffered streams over registered descriptors (weft_stream).
 *
 * A stream is a layer on a registry entry (fd_internal.h's ext): its
 * handle is the descriptor's handle, so it is generation-checked for free,
 * and closing the descriptor frees the stream.  State:
 * - a read buffer [start, end) of cap bytes, allocated once, grown only as
 *   far as a separator search needs (at most limit + 1 bytes), compacted
 *   when full.  readuntil remembers how far it has searched, so a long
 *   line arriving in small pieces is scanned once;
 * - writers: one writes at a time, the others wait in a FIFO queue (their
 *   records, no allocation) and are handed the turn in order, so each
 *   write stays contiguous.
 * When the stream closes, queued writers are woken with -EBADF, and a task
 * blocked in the descriptor's read or write gets -EBADF from the registry:
 * none of them touches the stream's memory after that.
 */
#define _GNU_SOURCE
#include "fd_internal.h"

#include "../alloc.h"

#include <errno.h>
#include <string.h>

#define DEFAULT_LIMIT (64 * 1024)
#define MAX_LIMIT ((size_t)1 << 30)
#define FIRST_CAP 16384

typedef struct stream {
    weft_fd *fd;
    char *buf;
    size_t cap, start, end;
    size_t scanned; /* readuntil: bytes after start searched already */
    size_t limit;
    bool eof;
    bool broken;  /* a write failed part-way: the peer has a cut message */
    bool writing; /* a writer has the turn */
    weft__waitq writers;
} stream;

static const weft__wait_kind write_turn = {
    .leave = weft__waitq_leave,
    .describe = weft__waitq_describe,
    .name = "a stream's turn to write",
};

static void stream_free(void *ext)
{
    stream *st = ext;
    weft__loop *L = weft__tls_loop;
    weft__record *f;
    while ((f = weft__waitq_pop(&st->writers)))
        weft__ready(L, f, -EBADF);
    weft__free(st->buf);
    weft__free(st);
}

/* The stream of handle s, or NULL with *rc set.  Call again after every
 * suspension: the stream may have been closed meanwhile. */
static stream *get(weft_stream *s, int *rc)
{
    weft__fdent *e = weft__fd_entry((weft_fd *)(void *)s, rc);
    if (!e)
        return NULL;
    if (e->ext_free != stream_free) {
        *rc = -EINVAL; /* a plain descriptor, not a stream */
        return NULL;
    }
    return e->ext;
}

/* get() for a suspending call: also a task, not cancelled. */
static stream *enter(weft_stream *s, int *rc)
{
    stream *st = get(s, rc);
    if (!st)
        return NULL;
    weft__loop *L = weft__tls_loop;
    if (!L->cur) {
        *rc = -EPERM;
        return NULL;
    }
    if ((*rc = weft__check(L, L->cur)))
        return NULL;
    return st;
}

int weft_stream_open(weft_fd *fd, const weft_stream_opts *opts,
                     weft_stream **s)
{
    int rc;
    weft__fdent *e = weft__fd_entry(fd, &rc);
    if (!e)
        return rc;
    size_t limit = opts && opts->limit ? opts->limit : DEFAULT_LIMIT;
    if (!s || e->ext || limit > MAX_LIMIT)
        return -EINVAL;
    stream *st = weft__calloc(1, sizeof *st);
    size_t cap = limit + 1 < FIRST_CAP ? limit + 1 : FIRST_CAP;
    if (!st || !(st->buf = weft__malloc(cap))) {
        weft__free(st);
        return -ENOMEM;
    }
    st->fd = fd;
    st->cap = cap;
    st->limit = limit;
    e->ext = st;
    e->ext_free = stream_free;
    *s = (weft_stream *)(void *)fd;
    return 0;
}

int weft_open_connection(const char *host, int port, weft_stream **s)
{
    if (!s)
        return -EINVAL;
    weft_fd *fd;
    int rc = weft_tcp_connect(host, port, &fd);
    if (rc)
        return rc;
    if ((rc = weft_stream_open(fd, NULL, s)))
        weft_fd_close(fd);
    return rc;
}

int weft_stream_close(weft_stream *s)
{
    int rc;
    if (!get(s, &rc))
        return rc;
    return weft_fd_close((weft_fd *)(void *)s);
}

int weft_stream_shutdown_write(weft_stream *s)
{
    int rc;
    if (!get(s, &rc))
        return rc;
    return weft_fd_shutdown((weft_fd *)(void *)s, SHUT_WR);
}

/* ---- reading ---- */

/* Makes room after end: compacts, then grows up to limit + 1 bytes.
 * Returns false if the buffer is full at its largest. */
static bool make_room(stream *st)
{
    if (st->end < st->cap)
        return true;
    if (st->start > 0) {
        memmove(st->buf, st->buf + st->start, st->end - st->start);
        st->end -= st->start;
        st->start = 0;
        return true;
    }
    size_t max = st->limit + 1;
    if (st->cap >= max)
        return false;
    size_t cap = st->cap * 2 < max ? st->cap * 2 : max;
    char *nb = weft__malloc(cap);
    if (!nb)
        return false;
    memcpy(nb, st->buf, st->end);
    weft__free(st->buf);
    st->buf = nb;
    st->cap = cap;
    return true;
}

/* Reads more into the buffer.  Returns the bytes read (0: end of stream),
 * or an error; on error or end of stream the stream may be gone (-EBADF)
 * - the caller re-fetches it. */
static ssize_t fill(weft_stream *s, stream *st)
{
    if (!make_room(st))
        return -ENOMEM;
    ssize_t k = weft_fd_read(st->fd, st->buf + st->end, st->cap - st->end);
    if (k > 0)
        st->end += (size_t)k;
    else if (k == 0)
        st->eof = true;
    (void)s;
    return k;
}

ssize_t weft_stream_read(weft_stream *s, void *buf, size_t n)
{
    int rc;
    stream *st = enter(s, &rc);
    if (!st)
        return rc;
    if (!buf && n)
        return -EINVAL;
    if (n == 0)
        return 0;
    if (st->start == st->end) {
        if (st->eof)
            return 0;
        if (n >= st->cap) /* large: straight into the caller's buffer */
            return weft_fd_read(st->fd, buf, n);
        st->start = st->end = st->scanned = 0;
        ssize_t k = fill(s, st);
        if (k <= 0)
            return k;
        if (!(st = get(s, &rc)))
            return rc;
    }
    size_t take = st->end - st->start < n ? st->end - st->start : n;
    memcpy(buf, st->buf + st->start, take);
    st->start += take;
    st->scanned = st->scanned > take ? st->scanned - take : 0;
    return (ssize_t)take;
}

int weft_stream_readexactly(weft_stream *s, void *buf, size_t n,
                            size_t *got)
{
    size_t have = 0;
    int rc;
    stream *st = enter(s, &rc);
    if (st && !buf && n)
        rc = -EINVAL, st = NULL;
    if (st) {
        size_t take = st->end - st->start < n ? st->end - st->start : n;
        memcpy(buf, st->buf + st->start, take);
        st->start += take;
        st->scanned = st->scanned > take ? st->scanned - take : 0;
        have = take;
        bool eof = st->eof;
        while (have < n && rc == 0) {
            if (eof) {
                rc = -ENODATA;
                break;
            }
            ssize_t k = weft_fd_read(st->fd, (char *)buf + have, n - have);
            if (k < 0)
                rc = (int)k;
            else if (k == 0)
                eof = true;
            else
                have += (size_t)k;
            if (k == 0 && (st = get(s, &rc)))
                st->eof = true;
        }
    }
    if (got)
        *got = have;
    return rc;
}

static const char *find(const char *hay, size_t n, const char *sep,
                        size_t seplen)
{
    if (seplen == 1)
        return memchr(hay, sep[0], n);
    return memmem(hay, n, sep, seplen);
}

int weft_stream_readuntil(weft_stream *s, const void *sep, size_t seplen,
                          const char **data, size_t *len)
{
    int rc;
    stream *st = enter(s, &rc);
    if (!st)
        return rc;
    if (!sep || !seplen || !data || !len)
        return -EINVAL;
    for (;;) {
        size_t avail = st->end - st->start;
        size_t from = st->scanned >= seplen ? st->scanned - (seplen - 1) : 0;
        const char *p = find(st->buf + st->start + from, avail - from, sep,
                             seplen);
        *data = st->buf + st->start;
        if (p) {
            size_t total = (size_t)(p - *data) + seplen;
            if (total > st->limit) {
                *len = avail;
                return -EMSGSIZE;
            }
            *len = total;
            st->start += total;
            st->scanned = 0;
            return 0;
        }
        st->scanned = avail;
        *len = avail;
        if (avail > st->limit)
            return -EMSGSIZE; /* nothing taken */
        if (st->eof) {
            st->start = st->end; /* the rest is handed back */
            st->scanned = 0;
            return -ENODATA;
        }
        ssize_t k = fill(s, st);
        if (k < 0)
            return (int)k;
        if (!(st = get(s, &rc)))
            return rc;
    }
}

int weft_stream_readline(weft_stream *s, const char **line, size_t *len)
{
    int rc = weft_stream_readuntil(s, "\n", 1, line, len);
    return rc == -ENODATA ? 0 : rc;
}

/* ---- writing ---- */

int weft_stream_write(weft_stream *s, const void *buf, size_t n,
                      size_t *written)
{
    if (written)
        *written = 0;
    int rc;
    stream *st = enter(s, &rc);
    if (!st)
        return rc;
    if (!buf && n)
        return -EINVAL;
    weft__loop *L = weft__tls_loop;
    if (st->writing) {
        /* Our turn comes in order; woken with -EBADF if the stream
         * closes meanwhile (its memory is gone then). */
        if ((rc = weft__waitq_wait(L, &st->writers, &write_turn,
                                   WEFT__NO_DEADLINE)))
            return rc;
        if (!(st = get(s, &rc)))
            return rc;
    } else {
        st->writing = true;
    }
    size_t w = 0;
    if (st->broken)
        rc = -EPIPE;
    else
        rc = weft_fd_write(st->fd, buf, n, &w);
    if (written)
        *written = w;
    if (rc == -EBADF)
        return rc; /* closed while we wrote: st is gone */
    if (rc && (w > 0 || rc == -EPIPE || rc == -ECONNRESET))
        st->broken = true;
    if (!weft__waitq_wake_one(L, &st->writers, NULL))
        st->writing = false;
    return rc;
}

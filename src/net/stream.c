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
 *   write stays contiguous;
 * - optionally a write buffer, allocated once: a write that fits is
 *   copied in; one that does not goes out together with what is buffered
 *   (one writev).  A send that fails before any byte of the new data went
 *   out keeps the unsent rest of the buffer, so the stream is still whole.
 * Bytes move through a transport (transport.h): the descriptor's own
 * calls today, TLS tomorrow.
 * When the stream closes, queued writers are woken with -EBADF, and a task
 * blocked in the descriptor's read or write gets -EBADF from the registry:
 * none of them touches the stream's memory after that.
 */
#define _GNU_SOURCE
#include "transport.h"

#include "../alloc.h"

#include <errno.h>
#include <string.h>

#define DEFAULT_LIMIT (64 * 1024)
#define MAX_LIMIT ((size_t)1 << 30)
#define FIRST_CAP 16384
#define DEFAULT_GRACE 5.0

typedef struct stream {
    const weft__transport_ops *tp;
    void *tp_ctx;
    char *buf;
    size_t cap, start, end;
    size_t scanned; /* readuntil: bytes after start searched already */
    /* ...for this separator (a search for another starts over; one longer
     * than scan_sep is not kept: scan_seplen 0). */
    char scan_sep[8];
    uint8_t scan_seplen;
    size_t limit;
    bool eof;
    bool broken;  /* a write failed part-way: the peer has a cut message */
    bool writing; /* a writer has the turn */
    weft__waitq writers;
    char *wbuf; /* the write buffer: wlen of wcap bytes pending */
    size_t wcap, wlen;
    double close_grace;
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
    weft__free(st->wbuf);
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
    static const weft_stream_opts defaults;
    if (!opts)
        opts = &defaults;
    size_t limit = opts->limit ? opts->limit : DEFAULT_LIMIT;
    if (!s || e->ext || limit > MAX_LIMIT || opts->write_buffer > MAX_LIMIT ||
        opts->close_grace != opts->close_grace)
        return -EINVAL;
    stream *st = weft__calloc(1, sizeof *st);
    size_t cap = limit + 1 < FIRST_CAP ? limit + 1 : FIRST_CAP;
    if (!st || !(st->buf = weft__malloc(cap)) ||
        (opts->write_buffer &&
         !(st->wbuf = weft__malloc(opts->write_buffer)))) {
        if (st)
            weft__free(st->buf);
        weft__free(st);
        return -ENOMEM;
    }
    st->tp = &weft__fd_transport;
    st->tp_ctx = fd;
    st->cap = cap;
    st->limit = limit;
    st->wcap = opts->write_buffer;
    st->close_grace = opts->close_grace ? opts->close_grace : DEFAULT_GRACE;
    e->ext = st;
    e->ext_free = stream_free;
    *s = (weft_stream *)(void *)fd;
    return 0;
}

/* A stream over a connection just made (connected: connect's result);
 * the connection is closed if the stream cannot be made. */
static int stream_over(int connected, weft_fd *fd, weft_stream **s)
{
    if (connected)
        return connected;
    int rc = weft_stream_open(fd, NULL, s);
    if (rc)
        weft_fd_close(fd);
    return rc;
}

int weft_open_connection(const char *host, int port, weft_stream **s)
{
    if (!s)
        return -EINVAL;
    weft_fd *fd = NULL;
    int rc = weft_tcp_connect(host, port, &fd);
    return stream_over(rc, fd, s);
}

int weft_open_unix_connection(const char *path, weft_stream **s)
{
    if (!s)
        return -EINVAL;
    weft_fd *fd = NULL;
    int rc = weft_unix_connect(path, &fd);
    return stream_over(rc, fd, s);
}

/* Close's flush: shielded, so that a cancelled task still flushes, and
 * bounded by the stream's grace period. */
static int flush_for_close(weft_stream *s, double grace)
{
    if (grace < 0)
        return 0; /* the owner asked to drop what is buffered */
    int shielded = weft_shield_begin() == 0;
    weft_scope *sc = NULL;
    int rc = weft_scope_open(grace, &sc);
    if (rc == 0)
        rc = weft_stream_flush(s);
    if (sc)
        weft_scope_close(sc);
    if (shielded)
        weft_shield_end();
    return rc;
}

int weft_stream_close(weft_stream *s)
{
    int rc;
    stream *st = get(s, &rc);
    if (!st)
        return rc;
    int frc = 0;
    if (st->wlen && !st->broken && weft__tls_loop->cur) {
        frc = flush_for_close(s, st->close_grace);
        if (!(st = get(s, &rc)))
            return frc ? frc : rc; /* another task closed it meanwhile */
    } else if (st->wlen && st->close_grace >= 0) {
        frc = -EPIPE; /* buffered bytes that cannot be sent: dropped */
    }
    rc = st->tp->close(st->tp_ctx);
    return frc ? frc : rc;
}

int weft_stream_shutdown_write(weft_stream *s)
{
    int rc;
    stream *st = get(s, &rc);
    if (!st)
        return rc;
    if (st->wlen) {
        if ((rc = weft_stream_flush(s)))
            return rc;
        if (!(st = get(s, &rc)))
            return rc;
    }
    return st->tp->shutdown_write(st->tp_ctx);
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
    ssize_t k = st->tp->read(st->tp_ctx, st->buf + st->end, st->cap - st->end);
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
            return st->tp->read(st->tp_ctx, buf, n);
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
            ssize_t k = st->tp->read(st->tp_ctx, (char *)buf + have, n - have);
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
    if (st->scanned && (seplen != st->scan_seplen ||
                        memcmp(sep, st->scan_sep, seplen) != 0))
        st->scanned = 0; /* searched for another separator */
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
        st->scan_seplen = seplen <= sizeof st->scan_sep ? (uint8_t)seplen : 0;
        if (st->scan_seplen)
            memcpy(st->scan_sep, sep, seplen);
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

ssize_t weft_stream_buffered(weft_stream *s)
{
    int rc;
    stream *st = get(s, &rc);
    return st ? (ssize_t)(st->end - st->start) : rc;
}

/* ---- writing ---- */

/* Takes the writers' turn, in FIFO order.  0, or an error (woken with
 * -EBADF: the stream is gone). */
static int take_turn(weft__loop *L, stream *st)
{
    if (!st->writing) {
        st->writing = true;
        return 0;
    }
    return weft__waitq_wait(L, &st->writers, &write_turn, WEFT__NO_DEADLINE);
}

static void pass_turn(weft__loop *L, stream *st)
{
    if (!weft__waitq_wake_one(L, &st->writers, NULL))
        st->writing = false;
}

/* Sends what is buffered, then buf[0..n), in one go.  *sent: how many of
 * buf's bytes went out.  On failure, if none of buf's did, the unsent rest
 * of the buffer stays buffered (the stream is whole: a later write or
 * flush sends it); otherwise the stream is cut (broken).  -EBADF: closed
 * meanwhile, st is gone. */
static int send_out(stream *st, const void *buf, size_t n, size_t *sent)
{
    struct iovec v[2];
    int cnt = 0;
    size_t pending = st->wlen, out = 0;
    if (pending)
        v[cnt++] = (struct iovec){st->wbuf, pending};
    if (n)
        v[cnt++] = (struct iovec){(void *)buf, n};
    int rc = cnt ? st->tp->writev(st->tp_ctx, v, cnt, pending + n, &out) : 0;
    *sent = out > pending ? out - pending : 0;
    if (rc == -EBADF)
        return rc;
    if (rc == 0) {
        st->wlen = 0;
    } else if (out > pending || rc == -EPIPE || rc == -ECONNRESET) {
        st->broken = true;
    } else {
        memmove(st->wbuf, st->wbuf + out, pending - out);
        st->wlen = pending - out;
    }
    return rc;
}

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
    if ((rc = take_turn(L, st)))
        return rc;
    if (!(st = get(s, &rc)))
        return rc;
    size_t w = 0;
    if (st->broken) {
        rc = -EPIPE;
    } else if (n <= st->wcap - st->wlen) {
        if (n) /* buffered: no system call */
            memcpy(st->wbuf + st->wlen, buf, n);
        st->wlen += n;
        w = n;
    } else {
        rc = send_out(st, buf, n, &w);
    }
    if (written)
        *written = w;
    if (rc == -EBADF)
        return rc; /* closed while we wrote: st is gone */
    pass_turn(L, st);
    return rc;
}

int weft_stream_flush(weft_stream *s)
{
    int rc;
    stream *st = enter(s, &rc);
    if (!st)
        return rc;
    weft__loop *L = weft__tls_loop;
    if ((rc = take_turn(L, st)))
        return rc;
    if (!(st = get(s, &rc)))
        return rc;
    size_t unused;
    rc = st->broken ? -EPIPE : send_out(st, NULL, 0, &unused);
    if (rc == -EBADF)
        return rc;
    pass_turn(L, st);
    return rc;
}

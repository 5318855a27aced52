/*
 * file.c - files through the loop's thread pool (weft/file.h).  A leaf on
 * the public API: each call describes its system call in an op and runs
 * it with weft_to_thread, which withdraws a queued job when the caller is
 * cancelled and waits out a running one - so the job may use the caller's
 * buffers and paths.  The op the pool thread reads and writes is a heap
 * copy, made before the caller suspends and copied back after it resumes:
 * nothing but the caller itself touches the caller's stack while it is
 * suspended in a call.
 *
 * A compact task (WEFT_SPAWN_COMPACT) is the exception: its frame - where
 * its buffers, paths and struct stat usually are - is not addressable
 * while it waits (docs/compact-tasks.md).  For such a caller, what lies on
 * the shared stack is bounced through the heap: paths and write buffers
 * copied in before the job, read buffers and the struct stat copied out
 * once the caller has resumed, the copies freed after the job has ended.
 * Default tasks never pay for it.
 */
#define _GNU_SOURCE
#include "weft.h"

#include "alloc.h"
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_ALL_MAX ((size_t)1 << 30)

typedef struct op {
    int kind;
    int fd;
    const char *path, *path2;
    int flags;
    mode_t mode;
    void *buf;
    const void *cbuf;
    size_t n;
    off_t off;
    struct stat *st;
    ssize_t result;  /* >= 0, or -errno */
    size_t done;     /* bytes written so far */
    char *data;      /* read_all: malloc'd here, handed to the caller */
} op;

enum { OPEN, CLOSE, READ, PREAD, WRITE, PWRITE, FSYNC, STAT, UNLINK,
       RENAME, READ_ALL, WRITE_ALL };

static ssize_t neg(ssize_t k)
{
    return k < 0 ? -errno : k;
}

static ssize_t write_all_fd(op *o, int fd, const char *p, size_t n,
                            bool positioned)
{
    while (o->done < n) {
        ssize_t k = positioned
                        ? pwrite(fd, p + o->done, n - o->done,
                                 o->off + (off_t)o->done)
                        : write(fd, p + o->done, n - o->done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        o->done += (size_t)k;
    }
    return 0;
}

static ssize_t read_all(op *o)
{
    int fd = open(o->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    size_t cap = 4096, len = 0;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    if (cap > o->n + 1)
        cap = o->n + 1;
    char *buf = malloc(cap + 1);
    ssize_t rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        if (len == cap) {
            if (cap > o->n) {
                rc = -EFBIG;
                break;
            }
            size_t ncap = cap * 2 > o->n + 1 ? o->n + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            rc = -errno;
        else if (k == 0)
            break;
        else
            len += (size_t)k;
    }
    close(fd);
    if (rc == 0 && len > o->n)
        rc = -EFBIG;
    if (rc) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    o->data = buf;
    return (ssize_t)len;
}

static ssize_t write_all_file(op *o)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", o->path) >=
        (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t rc = fchmod(fd, o->mode) ? -errno : 0;
    if (rc == 0)
        rc = write_all_fd(o, fd, o->cbuf, o->n, false);
    if (rc == 0 && fsync(fd))
        rc = -errno;
    if (close(fd) && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, o->path))
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

static void *run(void *arg)
{
    op *o = arg;
    switch (o->kind) {
    case OPEN:
        o->result = neg(open(o->path, o->flags | O_CLOEXEC, o->mode));
        break;
    case CLOSE:
        o->result = close(o->fd) && errno != EINTR ? -errno : 0;
        break;
    case READ:
        do
            o->result = neg(read(o->fd, o->buf, o->n));
        while (o->result == -EINTR);
        break;
    case PREAD:
        do
            o->result = neg(pread(o->fd, o->buf, o->n, o->off));
        while (o->result == -EINTR);
        break;
    case WRITE:
    case PWRITE:
        o->result = write_all_fd(o, o->fd, o->cbuf, o->n, o->kind == PWRITE);
        break;
    case FSYNC:
        o->result = neg(fsync(o->fd));
        break;
    case STAT:
        o->result = neg(stat(o->path, o->st));
        break;
    case UNLINK:
        o->result = neg(unlink(o->path));
        break;
    case RENAME:
        o->result = neg(rename(o->path, o->path2));
        break;
    case READ_ALL:
        o->result = read_all(o);
        break;
    default:
        o->result = write_all_file(o);
        break;
    }
    return NULL;
}

/* The heap copies of a compact caller's pointers into the shared stack
 * (NULL: none made, the pointer is used as it is). */
typedef struct bounced {
    char *path, *path2;
    void *buf;  /* read into, copied out */
    void *cbuf; /* copied in, written from */
    struct stat *st;
} bounced;

static char *dup_path(const char *p)
{
    size_t n = strlen(p) + 1;
    char *c = weft__malloc(n);
    if (c)
        memcpy(c, p, n);
    return c;
}

/* Replaces in h (a copy of the caller's op) every pointer into the shared
 * stack by a heap copy, recorded in b.  -ENOMEM if one cannot be made
 * (those made are in b, for unbounce). */
static int bounce(const weft__loop *L, op *h, bounced *b)
{
    if (h->path && weft__on_shared_stack(L, h->path, 1)) {
        if (!(h->path = b->path = dup_path(h->path)))
            return -ENOMEM;
    }
    if (h->path2 && weft__on_shared_stack(L, h->path2, 1)) {
        if (!(h->path2 = b->path2 = dup_path(h->path2)))
            return -ENOMEM;
    }
    if (h->buf && h->n && weft__on_shared_stack(L, h->buf, h->n)) {
        if (!(h->buf = b->buf = weft__malloc(h->n)))
            return -ENOMEM;
    }
    if (h->cbuf && h->n && weft__on_shared_stack(L, h->cbuf, h->n)) {
        if (!(b->cbuf = weft__malloc(h->n)))
            return -ENOMEM;
        memcpy(b->cbuf, h->cbuf, h->n);
        h->cbuf = b->cbuf;
    }
    if (h->st && weft__on_shared_stack(L, h->st, sizeof *h->st)) {
        if (!(h->st = b->st = weft__malloc(sizeof *h->st)))
            return -ENOMEM;
    }
    return 0;
}

/* On the resumed caller, once the job has ended or was withdrawn: what the
 * job read goes to the caller's buffers (bytes read - also when the call
 * was cancelled while the job ran, as without the bounce - and a stat that
 * succeeded), and the copies are freed. */
static void unbounce(const op *o, const op *h, bounced *b, bool ran)
{
    if (b->buf) {
        if (h->result > 0)
            memcpy(o->buf, b->buf, (size_t)h->result);
        weft__free(b->buf);
    }
    if (b->st) {
        if (ran && h->result == 0)
            *o->st = *b->st;
        weft__free(b->st);
    }
    weft__free(b->cbuf);
    weft__free(b->path2);
    weft__free(b->path);
}

/* Runs o on the pool: the pool's error (cancelled before it ran, no
 * thread), -ENOMEM, or the system call's result.  The pool thread works on
 * a heap copy of o, not on o (the caller's stack); what it leaves for the
 * caller (done, data) is copied back once the caller has resumed.  A
 * compact caller's pointers into the shared stack are bounced (above). */
static ssize_t go(op *o)
{
    weft__loop *L = weft__tls_loop;
    bool compact = L && L->cur && WEFT__IS_COMPACT(L->cur);
    op *h = weft__malloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    *h = *o;
    bounced b = {0};
    int rc = compact ? bounce(L, h, &b) : 0;
    if (rc == 0)
        rc = weft_to_thread(run, h, NULL);
    if (compact)
        unbounce(o, h, &b, rc == 0);
    o->done = h->done;
    o->data = h->data;
    ssize_t result = h->result;
    weft__free(h);
    if (rc) {
        /* Cancelled, but the job may have run to its end meanwhile. */
        free(o->data);
        o->data = NULL;
        return rc;
    }
    return result;
}

int weft_file_open(const char *path, int flags, mode_t mode, int *fd)
{
    if (!path || !fd)
        return -EINVAL;
    op o = {.kind = OPEN, .path = path, .flags = flags, .mode = mode};
    ssize_t rc = go(&o);
    if (rc < 0)
        return (int)rc;
    *fd = (int)rc;
    return 0;
}

int weft_file_close(int fd)
{
    op o = {.kind = CLOSE, .fd = fd};
    return (int)go(&o);
}

ssize_t weft_file_read(int fd, void *buf, size_t n)
{
    if (!buf && n)
        return -EINVAL;
    op o = {.kind = READ, .fd = fd, .buf = buf, .n = n};
    return go(&o);
}

ssize_t weft_file_pread(int fd, void *buf, size_t n, off_t offset)
{
    if (!buf && n)
        return -EINVAL;
    op o = {.kind = PREAD, .fd = fd, .buf = buf, .n = n, .off = offset};
    return go(&o);
}

static int write_common(op *o, size_t *written)
{
    ssize_t rc = (!o->cbuf && o->n) ? -EINVAL : go(o);
    if (written)
        *written = o->done;
    return (int)rc;
}

int weft_file_write(int fd, const void *buf, size_t n, size_t *written)
{
    op o = {.kind = WRITE, .fd = fd, .cbuf = buf, .n = n};
    return write_common(&o, written);
}

int weft_file_pwrite(int fd, const void *buf, size_t n, off_t offset,
                     size_t *written)
{
    op o = {.kind = PWRITE, .fd = fd, .cbuf = buf, .n = n, .off = offset};
    return write_common(&o, written);
}

int weft_file_fsync(int fd)
{
    op o = {.kind = FSYNC, .fd = fd};
    return (int)go(&o);
}

int weft_file_stat(const char *path, struct stat *st)
{
    if (!path || !st)
        return -EINVAL;
    op o = {.kind = STAT, .path = path, .st = st};
    return (int)go(&o);
}

int weft_file_unlink(const char *path)
{
    if (!path)
        return -EINVAL;
    op o = {.kind = UNLINK, .path = path};
    return (int)go(&o);
}

int weft_file_rename(const char *from, const char *to)
{
    if (!from || !to)
        return -EINVAL;
    op o = {.kind = RENAME, .path = from, .path2 = to};
    return (int)go(&o);
}

int weft_file_read_all(const char *path, size_t max_len, char **data,
                       size_t *len)
{
    if (!path || !data || !len || max_len > READ_ALL_MAX)
        return -EINVAL;
    op o = {.kind = READ_ALL, .path = path,
            .n = max_len ? max_len : READ_ALL_MAX};
    ssize_t rc = go(&o);
    if (rc < 0)
        return (int)rc;
    *data = o.data;
    *len = (size_t)rc;
    return 0;
}

int weft_file_write_all(const char *path, const void *data, size_t len,
                        mode_t mode)
{
    if (!path || (!data && len))
        return -EINVAL;
    op o = {.kind = WRITE_ALL, .path = path, .cbuf = data, .n = len,
            .mode = mode};
    return (int)go(&o);
}

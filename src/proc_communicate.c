/*
 * proc_communicate.c - asyncio's Process.communicate(): feed a child's
 * stdin while draining its stdout and stderr, then wait for its exit.
 *
 * The three run as tasks of one group, so that a child blocked writing a
 * full stdout pipe never waits on us while we wait to write its stdin
 * (the classic deadlock of doing them in turn), and so that a failure or
 * a cancellation of the caller cancels and joins them all before the call
 * returns: nothing touches the caller's buffers afterwards.  The feeder's
 * and the drains' state is one heap allocation made before the call
 * suspends, not on the caller's stack: those tasks write it while the
 * caller waits in the group, and nothing but the caller itself touches the
 * caller's stack while it is suspended in a call.  Built on the public
 * calls (and weft's allocator, for its failure injection).
 */
#define _GNU_SOURCE
#include "weft.h"

#include "alloc.h"

#include <errno.h>
#include <stdlib.h>

#define CHUNK 16384

typedef struct feed {
    weft_stream *s;
    const void *data;
    size_t n;
} feed;

typedef struct sink {
    weft_stream *s;
    bool keep; /* else each chunk overwrites the last */
    char *buf; /* malloc'd: handed to the caller as it is */
    size_t len, cap;
} sink;

static void *feed_stdin(void *arg)
{
    feed *f = arg;
    int rc = f->n ? weft_stream_write(f->s, f->data, f->n, NULL) : 0;
    weft_stream_close(f->s); /* the child reads end of file */
    /* A child that exits without reading all its input is not an error
     * of ours (asyncio ignores BrokenPipeError here too). */
    if (rc && rc != -EPIPE && rc != -ECONNRESET)
        return weft_fail(rc, "writing to the child's stdin");
    return NULL;
}

static void *drain(void *arg)
{
    sink *k = arg;
    for (;;) {
        if (k->cap - k->len < CHUNK + 1) {
            size_t cap = k->cap ? k->cap * 2 : 2 * CHUNK;
            char *b = cap > k->cap ? realloc(k->buf, cap) : NULL;
            if (!b)
                return weft_fail(-ENOMEM, "buffering the child's output");
            k->buf = b;
            k->cap = cap;
        }
        ssize_t r = weft_stream_read(k->s, k->buf + k->len,
                                     k->cap - k->len - 1);
        if (r == 0)
            return NULL;
        if (r < 0)
            return weft_fail((int)r, "reading the child's output");
        if (k->keep)
            k->len += (size_t)r;
    }
}

/* The stream of `which`, or NULL if it is not a pipe: 0 or an error. */
static int pipe_of(weft_proc *p, int which, weft_stream **s)
{
    int rc = weft_proc_stream(p, which, s);
    if (rc == -ENOENT) {
        *s = NULL;
        return 0;
    }
    return rc;
}

/* Runs the feeder and the drains in a group and joins them. */
static int pump(feed *f, sink k[2])
{
    weft_group *g;
    int rc = weft_group_new(&g);
    if (rc)
        return rc;
    if (f->s)
        rc = weft_group_spawn(g, feed_stdin, f, NULL);
    for (int j = 0; j < 2 && !rc; j++)
        if (k[j].s)
            rc = weft_group_spawn(g, drain, &k[j], NULL);
    if (rc)
        weft_group_cancel(g);
    int wrc = weft_group_wait(g);
    weft_group_free(g);
    return rc ? rc : wrc;
}

int weft_proc_communicate(weft_proc *p, const void *input, size_t n,
                          char **out, size_t *outlen, char **err,
                          size_t *errlen, int *returncode)
{
    if ((out && !outlen) || (err && !errlen) || (!input && n))
        return -EINVAL;
    if (out) {
        *out = NULL;
        *outlen = 0;
    }
    if (err) {
        *err = NULL;
        *errlen = 0;
    }
    weft_stream *s[3];
    int rc = 0;
    for (int j = 0; j < 3 && !rc; j++)
        rc = pipe_of(p, j, &s[j]);
    if (rc)
        return rc;
    if (input && !s[0])
        return -EINVAL; /* input for a stdin that is not a pipe */
    /* Written by the group's tasks while the caller waits: on the heap. */
    struct pumps {
        feed f;
        sink k[2];
    } *ps = weft__malloc(sizeof *ps);
    if (!ps)
        return -ENOMEM;
    *ps = (struct pumps){
        .f = {.s = s[0], .data = input, .n = n},
        .k = {{.s = s[1], .keep = out != NULL},
              {.s = s[2], .keep = err != NULL}}};
    sink *k = ps->k;
    if (!(rc = pump(&ps->f, k)))
        rc = weft_proc_wait(p, returncode);
    for (int j = 0; j < 2; j++) {
        if (!rc && k[j].keep && k[j].s && !k[j].buf &&
            !(k[j].buf = malloc(1)))
            rc = -ENOMEM;
    }
    if (rc) {
        free(k[0].buf);
        free(k[1].buf);
        weft__free(ps);
        return rc;
    }
    char **bufs[2] = {out, err};
    size_t *lens[2] = {outlen, errlen};
    for (int j = 0; j < 2; j++) {
        if (k[j].keep && k[j].s) {
            k[j].buf[k[j].len] = '\0';
            *bufs[j] = k[j].buf;
            *lens[j] = k[j].len;
        } else {
            free(k[j].buf);
        }
    }
    weft__free(ps);
    return 0;
}

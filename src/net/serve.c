/*
 * serve.c - weft_serve: accept connections and run a handler task for
 * each, with a limit on live connections, back-off when out of
 * descriptors, and a graceful shutdown when the serving task is cancelled.
 *
 * Built on the public API only.  Each connection is a task whose handle
 * the server keeps (in a list of conn records it allocated); the task's
 * wrapper marks its record done and sets the server's event, so the
 * server - waiting for a free slot, or for the end at shutdown - reaps it
 * (weft_await of a task that is returning).  The handler tasks are not
 * children of the serving task's scopes: cancelling the server gives them
 * the grace period first, under a shield, then cancels and joins them.
 * The server record (lists, count, event) is allocated when the call
 * starts, not kept on the serving task's stack: the handler tasks write it
 * while the server waits, and nothing but the caller itself touches the
 * caller's stack while it is suspended in a call.
 */
#define _GNU_SOURCE
#include "weft.h"

#include "../alloc.h"
#include "../core.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct conn conn;
typedef struct server {
    weft_conn_fn handler;
    void *ctx;
    size_t limit;
    size_t live;
    conn *all;        /* every live connection */
    conn *done;       /* those whose handler returned, not reaped yet */
    weft_event changed; /* a connection finished */
} server;

struct conn {
    server *srv;
    weft_stream *s;
    weft_task *task;
    bool done;
    conn *prev, *next; /* in all */
    conn *done_next;   /* in done */
};

static void *conn_main(void *arg)
{
    conn *c = arg;
    c->srv->handler(c->s, c->srv->ctx);
    weft_stream_close(c->s); /* -EINVAL if the handler closed it: fine */
    c->done = true;
    c->done_next = c->srv->done;
    c->srv->done = c;
    weft_event_set(&c->srv->changed);
    return NULL;
}

static void unlink_conn(server *srv, conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->live--;
}

/* Collects the connections that finished (their awaits return at once, or
 * after the last instructions of the task). */
static void reap(server *srv)
{
    weft_event_clear(&srv->changed);
    while (srv->done) {
        conn *c = srv->done;
        srv->done = c->done_next;
        weft_shield_begin(); /* it is returning: wait for that */
        int rc = weft_await(c->task, NULL);
        weft_shield_end();
        if (rc && rc != -ECANCELED)
            weft_bar_printf("weft: a connection handler failed: %s",
                            weft_strerror(rc));
        unlink_conn(srv, c);
        weft__free(c);
    }
}

static int start_conn(server *srv, weft_fd *fd, size_t stream_limit)
{
    conn *c = weft__calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    weft_stream_opts so = {.limit = stream_limit};
    int rc = weft_stream_open(fd, &so, &c->s);
    if (rc == 0 && (rc = weft_spawn(conn_main, c, &c->task)))
        weft_stream_close(c->s);
    if (rc) {
        weft__free(c);
        return rc;
    }
    c->srv = srv;
    c->next = srv->all;
    if (srv->all)
        srv->all->prev = c;
    srv->all = c;
    srv->live++;
    return 0;
}

/* Shutdown: the handlers get `grace` seconds to finish, then are cancelled
 * and joined.  Under a shield: the server's own cancellation must not cut
 * this short. */
static void shut_down(server *srv, double grace)
{
    weft_shield_begin();
    weft_scope *sc = NULL;
    if (grace > 0 && srv->live && weft_scope_open(grace, &sc) == 0) {
        while (srv->live && weft_event_wait(&srv->changed) == 0)
            reap(srv);
        weft_scope_close(sc);
    }
    for (conn *c = srv->all; c; c = c->next)
        if (!c->done)
            weft_task_cancel(c->task);
    while (srv->live) {
        reap(srv);
        if (srv->live)
            weft_event_wait(&srv->changed);
    }
    weft_shield_end();
}

int weft_serve(weft_fd *listener, weft_conn_fn handler, void *ctx,
               const weft_serve_opts *opts)
{
    if (!handler)
        return -EINVAL;
    double grace = opts ? opts->grace : 0;
    if (isnan(grace) || grace < 0)
        return -EINVAL;
    int rc = weft_fd_fileno(listener);
    if (rc < 0)
        return rc;
    if (!weft_current())
        return -EPERM;
    /* The handler tasks use it while the server waits (a compact task's
     * frame: docs/compact-tasks.md). */
    WEFT__REFUSE_ON_SHARED_STACK(weft__tls_loop, ctx);
    /* Written by the handler tasks while the server waits: on the heap. */
    server *srv = weft__malloc(sizeof *srv);
    if (!srv)
        return -ENOMEM;
    *srv = (server){.handler = handler,
                    .ctx = ctx,
                    .limit = opts ? opts->max_connections : 0,
                    .changed = WEFT_EVENT_INIT};
    size_t stream_limit = opts ? opts->stream_limit : 0;
    double backoff = 0.01;
    for (;;) {
        reap(srv);
        if (srv->limit && srv->live >= srv->limit) {
            if ((rc = weft_event_wait(&srv->changed)))
                break; /* cancelled while full */
            continue;
        }
        weft_fd *fd;
        rc = weft_fd_accept(listener, &fd, NULL, NULL);
        if (rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM ||
            rc == -ENOBUFS) {
            /* Out of descriptors or memory: wait, never spin; the
             * connections that end give some back. */
            if ((rc = weft_sleep(backoff)))
                break;
            backoff = backoff * 2 < 1.0 ? backoff * 2 : 1.0;
            continue;
        }
        if (rc == -ECONNABORTED)
            continue;
        if (rc)
            break; /* cancelled (shutdown), or the listener failed */
        backoff = 0.01;
        if (start_conn(srv, fd, stream_limit))
            weft_fd_close(fd); /* no memory: this client is dropped */
    }
    shut_down(srv, grace);
    weft__free(srv);
    return rc;
}

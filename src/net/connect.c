/*
 * connect.c - TCP connect to a name: each resolved address in turn, or
 * Happy Eyeballs (RFC 8305).
 *
 * In turn: the resolver's order, one address at a time; a failure for the
 * address's own reasons (refused, unreachable, the kernel's timeout) moves
 * to the next, the caller's reasons (its cancellation, a scope's deadline,
 * out of descriptors or memory) stop.
 *
 * Happy Eyeballs: the addresses are interleaved by family (the resolver's
 * first family first, then alternating, RFC 8305 section 4), and each
 * attempt is a task of its own.  The next attempt starts when the previous
 * one failed or `attempt_delay` after it started, whichever comes first;
 * the first to connect wins.  Then the others are cancelled and joined - a
 * loser that connected meanwhile has its socket closed - so when the call
 * returns no attempt is running and no socket but the winner's is open.
 * The attempts write only into the call's own attempt array, freed after
 * the join.  Simplifications: one getaddrinfo for both families (no
 * separate AAAA and A queries, so no resolution delay), and no sorting
 * beyond the resolver's (RFC 6724 is what getaddrinfo applies).
 */
#define _GNU_SOURCE
#include "sock_internal.h"

#include "../alloc.h"

#include <errno.h>
#include <string.h>

#define DEFAULT_ATTEMPT_DELAY 0.25 /* RFC 8305's recommended value */
#define MAX_ATTEMPT_DELAY 60.0

#define TCP_KIND (WEFT__FD_SOCKET | WEFT__FD_STREAM | WEFT__FD_TCP)

int weft__sock_connect_to(weft__loop *L, const struct sockaddr *sa,
                          socklen_t len, unsigned kind, weft_fd **out)
{
    int fd;
    weft_fd *h;
    int rc = weft__sock_new(L, sa->sa_family, SOCK_STREAM, kind, &fd, &h);
    if (rc)
        return rc;
    if ((rc = weft_fd_connect(h, sa, len))) {
        weft_fd_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

/* ---- in turn ---- */

static int connect_each(weft__loop *L, const struct addrinfo *list,
                        weft_fd **conn)
{
    int rc = -EHOSTUNREACH;
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        rc = weft__sock_connect_to(L, ai->ai_addr, ai->ai_addrlen, TCP_KIND,
                                   conn);
        if (rc == 0 || weft__check(L, L->cur) || rc == -ENOMEM ||
            rc == -EMFILE || rc == -ENFILE)
            break;
    }
    return rc;
}

/* ---- Happy Eyeballs ---- */

typedef struct attempt {
    const struct addrinfo *ai;
    weft_fd *fd;     /* its connection, if it connected */
    int rc;          /* connect's result, once finished */
    weft_task *task; /* NULL until started and once joined */
} attempt;

static void *attempt_main(void *arg)
{
    attempt *a = arg;
    a->rc = weft__sock_connect_to(weft__tls_loop, a->ai->ai_addr,
                                  a->ai->ai_addrlen, TCP_KIND, &a->fd);
    return NULL;
}

/* list interleaved by family into at[0..n). */
static void interleave(const struct addrinfo *list, attempt *at, size_t n)
{
    int first = list->ai_family;
    const struct addrinfo *a = list, *b = list; /* next of first, other */
    for (size_t i = 0; i < n; i++) {
        bool want_first = (i % 2 == 0);
        const struct addrinfo **p = want_first ? &a : &b;
        const struct addrinfo *ai = *p;
        while (ai && ((ai->ai_family == first) != want_first))
            ai = ai->ai_next;
        if (!ai) { /* that family ran out: the other one */
            p = want_first ? &b : &a;
            ai = *p;
            while (ai && ((ai->ai_family == first) == want_first))
                ai = ai->ai_next;
        }
        at[i].ai = ai;
        *p = ai->ai_next;
    }
}

/* Takes in the finished attempts: the first that connected is *winner;
 * *failed says whether one failed.  Returns the last failure's code. */
static int reap(attempt *at, size_t started, size_t *live, long *winner,
                bool *failed, int rc)
{
    for (size_t i = 0; i < started; i++) {
        if (!at[i].task || weft_task_done(at[i].task) != 1)
            continue;
        weft_await(at[i].task, NULL);
        at[i].task = NULL;
        (*live)--;
        if (at[i].rc == 0 && *winner < 0) {
            *winner = (long)i;
        } else if (at[i].rc) {
            rc = at[i].rc;
            *failed = true;
        }
    }
    return rc;
}

/* Waits until an attempt finishes or, with attempts left, `next_at`.
 * 0, or the caller's cancellation / deadline, or -ENOMEM (weft_wait's
 * state: the caller stops, as for its other allocations). */
static int wait_some(attempt *at, size_t started, weft_task **run,
                     bool more, double next_at)
{
    size_t k = 0;
    for (size_t i = 0; i < started; i++)
        if (at[i].task)
            run[k++] = at[i].task;
    weft_scope *sc = NULL;
    int rc;
    if (more && (rc = weft_scope_open_at(next_at, &sc)))
        return rc;
    rc = weft_wait(run, k, WEFT_WAIT_FIRST_COMPLETED);
    if (sc && weft_scope_close(sc) == 1)
        rc = 0; /* the attempt delay: start the next one */
    return rc < 0 ? rc : 0;
}

/* Cancels and joins the attempts still running; closes every connection
 * but the winner's. */
static void finish_attempts(attempt *at, size_t started, long winner)
{
    weft_shield_begin(); /* the joins must happen, cancelled or not */
    for (size_t i = 0; i < started; i++)
        if (at[i].task)
            weft_task_cancel(at[i].task);
    for (size_t i = 0; i < started; i++) {
        if (at[i].task) {
            weft_await(at[i].task, NULL);
            at[i].task = NULL;
        }
        if (at[i].fd && (long)i != winner) {
            weft_fd_close(at[i].fd);
            at[i].fd = NULL;
        }
    }
    weft_shield_end();
}

static int happy_eyeballs(const struct addrinfo *list, double delay,
                          weft_fd **conn)
{
    size_t n = 0;
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next)
        n++;
    if (n == 0)
        return -EHOSTUNREACH;
    attempt *at = weft__calloc(n, sizeof *at);
    weft_task **run = weft__calloc(n, sizeof *run);
    if (!at || !run) {
        weft__free(at);
        weft__free(run);
        return -ENOMEM;
    }
    interleave(list, at, n);
    size_t started = 0, live = 0;
    long winner = -1;
    int rc = -EHOSTUNREACH;
    double next_at = 0;
    for (;;) {
        if (started < n && (live == 0 || weft_now() >= next_at)) {
            int err = weft_spawn(attempt_main, &at[started],
                                 &at[started].task);
            if (err) {
                rc = err;
                break;
            }
            started++;
            live++;
            next_at = weft_now() + delay;
            continue;
        }
        if (live == 0)
            break; /* every address failed: rc is the last one's error */
        int err = wait_some(at, started, run, started < n, next_at);
        if (err) {
            rc = err;
            break;
        }
        bool failed = false;
        rc = reap(at, started, &live, &winner, &failed, rc);
        if (winner >= 0)
            break;
        if (failed)
            next_at = 0; /* the next one at once */
    }
    finish_attempts(at, started, winner);
    if (winner >= 0) {
        *conn = at[winner].fd;
        rc = 0;
    }
    weft__free(at);
    weft__free(run);
    return rc;
}

/* ---- public ---- */

static int check_opts(const weft_connect_opts *o, double *delay)
{
    *delay = DEFAULT_ATTEMPT_DELAY;
    if (!o)
        return 0;
    if (o->flags & ~WEFT_CONNECT_HAPPY_EYEBALLS)
        return -EINVAL;
    if (o->attempt_delay != 0) {
        if (!(o->attempt_delay > 0 && o->attempt_delay <= MAX_ATTEMPT_DELAY))
            return -EINVAL; /* NaN too */
        *delay = o->attempt_delay;
    }
    return 0;
}

int weft__tcp_connect_list(const struct addrinfo *list,
                           const weft_connect_opts *opts, weft_fd **conn)
{
    double delay;
    int rc = check_opts(opts, &delay);
    if (rc || !conn)
        return rc ? rc : -EINVAL;
    weft__loop *L;
    if ((rc = weft__sock_task_loop(&L)))
        return rc;
    if (opts && (opts->flags & WEFT_CONNECT_HAPPY_EYEBALLS))
        return happy_eyeballs(list, delay, conn);
    return connect_each(L, list, conn);
}

int weft_tcp_connect_ex(const char *host, int port,
                        const weft_connect_opts *opts, weft_fd **conn)
{
    double delay;
    if (!host || !conn || port < 1 || port > 65535 ||
        check_opts(opts, &delay))
        return -EINVAL;
    weft__loop *L;
    int rc = weft__sock_task_loop(&L);
    if (rc)
        return rc;
    struct addrinfo *res;
    if ((rc = weft__sock_resolve(host, port, 0, &res)))
        return rc;
    rc = weft__tcp_connect_list(res, opts, conn);
    weft_freeaddrinfo(res);
    return rc;
}

int weft_tcp_connect(const char *host, int port, weft_fd **conn)
{
    return weft_tcp_connect_ex(host, port, NULL, conn);
}

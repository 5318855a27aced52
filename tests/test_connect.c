/*
 * test_connect.c - weft_tcp_connect_ex: addresses in turn (each one tried,
 * a stalled one holding up the rest until a deadline), and Happy Eyeballs
 * (RFC 8305): a stalled first attempt overtaken by the next after the
 * attempt delay, a failed one replaced at once, families interleaved, the
 * losers cancelled and closed (the harness counts descriptors), a scope's
 * deadline ending every attempt.  Address lists of the test's choosing go
 * through the internal weft__tcp_connect_list.  A stalling address is a
 * local listener whose accept queue is full and never drained: the kernel
 * drops further SYNs, so a connect to it gets no answer - deterministic,
 * unlike unroutable addresses, which some sandboxes answer.
 */
#define _GNU_SOURCE
#include "check.h"

#include "net/sock_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The stalling listener of the running case (see stall_open). */
static int stall_fd = -1, stall_port;
static int fillers[8], nfill;
#define STALL_ADDR "127.0.0.1"

static double slow = 1; /* time bounds' factor */
static bool v6_ok;

/* ---- address lists ---- */

typedef struct node {
    struct addrinfo ai;
    struct sockaddr_storage ss;
} node;

/* list[0..n) from "addr" strings and ports. */
static struct addrinfo *make_list(node *nodes, int n, const char **addrs,
                                  const int *ports)
{
    for (int i = 0; i < n; i++) {
        node *x = &nodes[i];
        memset(x, 0, sizeof *x);
        x->ai.ai_socktype = SOCK_STREAM;
        x->ai.ai_addr = (struct sockaddr *)&x->ss;
        if (strchr(addrs[i], ':')) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&x->ss;
            a->sin6_family = AF_INET6;
            a->sin6_port = htons((uint16_t)ports[i]);
            REQUIRE(inet_pton(AF_INET6, addrs[i], &a->sin6_addr) == 1);
            x->ai.ai_family = AF_INET6;
            x->ai.ai_addrlen = sizeof *a;
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&x->ss;
            a->sin_family = AF_INET;
            a->sin_port = htons((uint16_t)ports[i]);
            REQUIRE(inet_pton(AF_INET, addrs[i], &a->sin_addr) == 1);
            x->ai.ai_family = AF_INET;
            x->ai.ai_addrlen = sizeof *a;
        }
        x->ai.ai_next = i + 1 < n ? &nodes[i + 1].ai : NULL;
    }
    return &nodes[0].ai;
}

/* A port nobody listens on. */
static int closed_port(void)
{
    weft_fd *l;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &l) == 0);
    int port = weft_sock_port(l);
    weft_fd_close(l);
    return port;
}

/* Accepts the connection c made on l, checks a byte goes through. */
static void check_connected(weft_fd *l, weft_fd *c)
{
    weft_fd *s;
    REQUIRE(weft_fd_accept(l, &s, NULL, NULL) == 0);
    CHECK_EQ(weft_fd_write(c, "k", 1, NULL), 0);
    char b;
    CHECK_EQ(weft_fd_read(s, &b, 1), 1);
    weft_fd_close(s);
    weft_fd_close(c);
}

/* ---- in turn ---- */

static void *in_turn_each(void *arg)
{
    (void)arg;
    weft_fd *l, *c = NULL;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &l) == 0);
    node nodes[3];
    const char *addrs[] = {"127.0.0.1", "127.0.0.1", "127.0.0.1"};
    int cp = closed_port();
    int ports[] = {cp, cp, weft_sock_port(l)};
    CHECK_EQ(weft__tcp_connect_list(make_list(nodes, 3, addrs, ports), NULL,
                                     &c), 0);
    if (c)
        check_connected(l, c);
    /* All refuse: the last one's error. */
    int ports2[] = {cp, cp};
    c = NULL;
    CHECK_EQ(weft__tcp_connect_list(make_list(nodes, 2, addrs, ports2), NULL,
                                     &c), -ECONNREFUSED);
    CHECK(c == NULL);
    weft_fd_close(l);
    return NULL;
}

static void *in_turn_stall(void *arg)
{
    (void)arg;
    weft_fd *l, *c = NULL;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &l) == 0);
    node nodes[2];
    const char *addrs[] = {STALL_ADDR, "127.0.0.1"};
    int ports[] = {stall_port, weft_sock_port(l)};
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.3 * slow, &sc) == 0);
    int rc = weft__tcp_connect_list(make_list(nodes, 2, addrs, ports), NULL,
                                    &c);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(rc, -ETIMEDOUT); /* the first held up the second */
    CHECK(c == NULL);
    weft_fd_close(l);
    return NULL;
}

/* ---- Happy Eyeballs ---- */

static const weft_connect_opts he = {.flags = WEFT_CONNECT_HAPPY_EYEBALLS,
                                     .attempt_delay = 0.1};

static void *he_stall_then_next(void *arg)
{
    (void)arg;
    weft_fd *l, *c = NULL;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &l) == 0);
    node nodes[2];
    const char *addrs[] = {STALL_ADDR, "127.0.0.1"};
    int ports[] = {stall_port, weft_sock_port(l)};
    double t0 = weft_now();
    CHECK_EQ(weft__tcp_connect_list(make_list(nodes, 2, addrs, ports), &he,
                                     &c), 0);
    double took = weft_now() - t0;
    CHECK(took >= 0.1);          /* the second began after the delay */
    CHECK(took < 0.1 + 0.3 * slow); /* and won at once */
    if (c)
        check_connected(l, c);
    weft_fd_close(l);
    return NULL; /* the stalled attempt's socket: closed (harness) */
}

static void *he_failure_next_at_once(void *arg)
{
    (void)arg;
    weft_fd *l, *c = NULL;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &l) == 0);
    node nodes[3];
    const char *addrs[] = {"127.0.0.1", "127.0.0.1", "127.0.0.1"};
    int cp = closed_port();
    int ports[] = {cp, cp, weft_sock_port(l)};
    weft_connect_opts o = he;
    o.attempt_delay = 2.0;
    double t0 = weft_now();
    CHECK_EQ(weft__tcp_connect_list(make_list(nodes, 3, addrs, ports), &o,
                                     &c), 0);
    CHECK(weft_now() - t0 < 0.5 * slow); /* no delay waited */
    if (c)
        check_connected(l, c);
    int ports2[] = {cp, cp};
    c = NULL;
    CHECK_EQ(weft__tcp_connect_list(make_list(nodes, 2, addrs, ports2), &o,
                                     &c), -ECONNREFUSED);
    CHECK(c == NULL);
    weft_fd_close(l);
    return NULL;
}

/* Two stalling IPv4 addresses, then ::1: interleaved, ::1 is the second
 * attempt (one delay), not the third (two). */
static void *he_interleave(void *arg)
{
    (void)arg;
    weft_fd *l, *c = NULL;
    REQUIRE(weft_tcp_listen("::1", 0, 0, &l) == 0);
    node nodes[3];
    const char *addrs[] = {STALL_ADDR, STALL_ADDR, "::1"};
    int ports[] = {stall_port, stall_port, weft_sock_port(l)};
    weft_connect_opts o = he;
    o.attempt_delay = 0.2;
    double t0 = weft_now();
    CHECK_EQ(weft__tcp_connect_list(make_list(nodes, 3, addrs, ports), &o,
                                     &c), 0);
    double took = weft_now() - t0;
    CHECK(took >= 0.2);
    CHECK(took < 0.38 + 0.2 * (slow - 1));
    if (c)
        check_connected(l, c);
    weft_fd_close(l);
    return NULL;
}

static void *he_deadline(void *arg)
{
    (void)arg;
    node nodes[3];
    const char *addrs[] = {STALL_ADDR, STALL_ADDR, STALL_ADDR};
    int ports[] = {stall_port, stall_port, stall_port};
    weft_connect_opts o = he;
    o.attempt_delay = 0.05;
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.25, &sc) == 0);
    weft_fd *c = NULL;
    double t0 = weft_now();
    int rc = weft__tcp_connect_list(make_list(nodes, 3, addrs, ports), &o,
                                    &c);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK(c == NULL);
    CHECK(weft_now() - t0 < 0.25 + 0.3 * slow);
    return NULL; /* three attempts cancelled, their sockets closed */
}

/* Cancelling the caller ends every attempt. */
static void *he_connect_task(void *arg)
{
    node *nodes = arg;
    const char *addrs[] = {STALL_ADDR, STALL_ADDR};
    int ports[] = {stall_port, stall_port};
    weft_fd *c = NULL;
    int rc = weft__tcp_connect_list(make_list(nodes, 2, addrs, ports), &he,
                                    &c);
    return (void *)(intptr_t)rc;
}

static void *he_cancelled(void *arg)
{
    (void)arg;
    node nodes[2];
    weft_task *t;
    REQUIRE(weft_spawn(he_connect_task, nodes, &t) == 0);
    REQUIRE(weft_sleep(0.15) == 0); /* both attempts started */
    weft_task_cancel(t);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    return NULL;
}

static void *he_by_name(void *arg)
{
    (void)arg;
    weft_fd *l, *c = NULL;
    REQUIRE(weft_tcp_listen(NULL, 0, 0, &l) == 0); /* v4 and v6 */
    CHECK_EQ(weft_tcp_connect_ex("localhost", weft_sock_port(l), &he, &c), 0);
    if (c)
        check_connected(l, c);
    CHECK_EQ(weft_tcp_connect_ex("127.0.0.1", weft_sock_port(l), NULL, &c),
             0);
    if (c)
        check_connected(l, c);
    weft_fd_close(l);
    return NULL;
}

static void *opts_misuse(void *arg)
{
    (void)arg;
    weft_fd *c = NULL;
    weft_connect_opts o = he;
    o.attempt_delay = -1;
    CHECK_EQ(weft_tcp_connect_ex("127.0.0.1", 80, &o, &c), -EINVAL);
    o.attempt_delay = NAN;
    CHECK_EQ(weft_tcp_connect_ex("127.0.0.1", 80, &o, &c), -EINVAL);
    o.attempt_delay = 61;
    CHECK_EQ(weft_tcp_connect_ex("127.0.0.1", 80, &o, &c), -EINVAL);
    o = he;
    o.flags |= 0x80;
    CHECK_EQ(weft_tcp_connect_ex("127.0.0.1", 80, &o, &c), -EINVAL);
    CHECK_EQ(weft_tcp_connect_ex("127.0.0.1", 80, &he, NULL), -EINVAL);
    CHECK(c == NULL);
    return NULL;
}

/* ---- probes ---- */

/* Does a non-blocking connect to 127.0.0.1:port stay unanswered for
 * 100 ms?  (The socket is kept, open, in fillers[] either way.) */
static bool connect_stalls(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0 && nfill < 8);
    fillers[nfill++] = fd;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return false;
    REQUIRE(errno == EINPROGRESS);
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    return poll(&p, 1, 100) == 0;
}

/* A listener on 127.0.0.1 with a full accept queue: its port stalls. */
static void stall_open(void)
{
    stall_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    REQUIRE(bind(stall_fd, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(listen(stall_fd, 0) == 0);
    REQUIRE(getsockname(stall_fd, (struct sockaddr *)&a, &len) == 0);
    stall_port = ntohs(a.sin_port);
    nfill = 0;
    while (!connect_stalls(stall_port))
        ; /* fill the queue */
}

static void stall_close(void)
{
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    close(stall_fd);
    stall_fd = -1;
}

static bool probe_v6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                             .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void maybe(bool ok, const char *why, const char *name, weft_fn fn)
{
    if (!ok) {
        printf("skip %-30s %s\n", name, why);
        return;
    }
    stall_open();
    check_case(name, fn, NULL, 0);
    stall_close();
}

int main(void)
{
    check_begin();
    check_case_alarm_install();
    if (check_slow_env())
        slow = 4;
    v6_ok = probe_v6();
    check_case("in_turn_tries_each_address", in_turn_each, NULL, 0);
    maybe(true, "", "in_turn_stalled_first_holds_up", in_turn_stall);
    maybe(true, "", "he_stalled_first_next_wins_after_delay",
          he_stall_then_next);
    check_case("he_failure_starts_next_at_once", he_failure_next_at_once,
               NULL, 0);
    maybe(v6_ok, "(no ::1 here)",
          "he_families_interleaved", he_interleave);
    maybe(true, "", "he_scope_deadline_ends_all", he_deadline);
    maybe(true, "", "he_cancelled_ends_all", he_cancelled);
    check_case("he_by_name", he_by_name, NULL, 0);
    check_case("opts_misuse", opts_misuse, NULL, 0);
    return check_end();
}

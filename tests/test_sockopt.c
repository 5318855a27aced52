/*
 * test_sockopt.c - socket options (TCP_NODELAY on by default, keepalive
 * with its knobs, SO_LINGER, linger 0 resetting the connection), read back
 * with getsockopt; and Unix datagram sockets: bound to a path, in the
 * abstract namespace, unbound senders.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int getint(weft_fd *h, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    REQUIRE(getsockopt(weft_fd_fileno(h), level, name, &v, &len) == 0);
    return v;
}

/* A connected TCP pair over 127.0.0.1. */
static void tcp_pair(weft_fd **c, weft_fd **s)
{
    weft_fd *l;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &l) == 0);
    REQUIRE(weft_tcp_connect("127.0.0.1", weft_sock_port(l), c) == 0);
    REQUIRE(weft_fd_accept(l, s, NULL, NULL) == 0);
    weft_fd_close(l);
}

static void *nodelay(void *arg)
{
    (void)arg;
    weft_fd *c, *s;
    tcp_pair(&c, &s);
    CHECK(getint(c, IPPROTO_TCP, TCP_NODELAY) != 0); /* connected */
    CHECK(getint(s, IPPROTO_TCP, TCP_NODELAY) != 0); /* accepted */
    CHECK_EQ(weft_sock_nodelay(c, 0), 0);
    CHECK_EQ(getint(c, IPPROTO_TCP, TCP_NODELAY), 0);
    CHECK_EQ(weft_sock_nodelay(c, 1), 0);
    CHECK(getint(c, IPPROTO_TCP, TCP_NODELAY) != 0);
    weft_fd_close(c);
    weft_fd_close(s);
    return NULL;
}

static void *keepalive(void *arg)
{
    (void)arg;
    weft_fd *c, *s;
    tcp_pair(&c, &s);
    CHECK_EQ(getint(c, SOL_SOCKET, SO_KEEPALIVE), 0);
    CHECK_EQ(weft_sock_keepalive(c, 1, 30, 5, 4), 0);
    CHECK(getint(c, SOL_SOCKET, SO_KEEPALIVE) != 0);
    CHECK_EQ(getint(c, IPPROTO_TCP, TCP_KEEPIDLE), 30);
    CHECK_EQ(getint(c, IPPROTO_TCP, TCP_KEEPINTVL), 5);
    CHECK_EQ(getint(c, IPPROTO_TCP, TCP_KEEPCNT), 4);
    /* 0 keeps a knob as it was. */
    CHECK_EQ(weft_sock_keepalive(c, 1, 60, 0, 0), 0);
    CHECK_EQ(getint(c, IPPROTO_TCP, TCP_KEEPIDLE), 60);
    CHECK_EQ(getint(c, IPPROTO_TCP, TCP_KEEPINTVL), 5);
    CHECK_EQ(weft_sock_keepalive(c, 0, 0, 0, 0), 0);
    CHECK_EQ(getint(c, SOL_SOCKET, SO_KEEPALIVE), 0);
    CHECK_EQ(weft_sock_keepalive(c, 1, -1, 0, 0), -EINVAL);
    CHECK_EQ(weft_sock_keepalive(c, 1, 0, 0, 128), -EINVAL);
    /* The TCP knobs on a Unix socket. */
    weft_fd *u;
    REQUIRE(weft_unix_dgram_open(NULL, &u) == 0);
    int rc = weft_sock_keepalive(u, 1, 30, 0, 0);
    CHECK(rc == -EOPNOTSUPP || rc == -ENOPROTOOPT);
    CHECK_EQ(weft_sock_nodelay(u, 1) < 0, 1);
    weft_fd_close(u);
    weft_fd_close(c);
    weft_fd_close(s);
    return NULL;
}

static void *linger_zero_resets(void *arg)
{
    (void)arg;
    weft_fd *c, *s;
    tcp_pair(&c, &s);
    struct linger l;
    socklen_t len = sizeof l;
    CHECK_EQ(weft_sock_linger(c, 1, 7), 0);
    REQUIRE(getsockopt(weft_fd_fileno(c), SOL_SOCKET, SO_LINGER, &l,
                       &len) == 0);
    CHECK(l.l_onoff != 0);
    CHECK_EQ(l.l_linger, 7);
    CHECK_EQ(weft_sock_linger(c, 0, 0), 0);
    REQUIRE(getsockopt(weft_fd_fileno(c), SOL_SOCKET, SO_LINGER, &l,
                       &len) == 0);
    CHECK_EQ(l.l_onoff, 0);
    CHECK_EQ(weft_sock_linger(c, 1, 0), 0);
    REQUIRE(getsockopt(weft_fd_fileno(c), SOL_SOCKET, SO_LINGER, &l,
                       &len) == 0);
    CHECK(l.l_onoff != 0);
    CHECK_EQ(l.l_linger, 0);
    CHECK_EQ(weft_sock_linger(c, 1, -1), -EINVAL);
    /* An abortive close: the peer sees a reset, not end of file. */
    weft_fd_close(c);
    char buf[8];
    CHECK_EQ(weft_fd_read(s, buf, sizeof buf), -ECONNRESET);
    weft_fd_close(s);
    /* The contrast: an ordinary close is end of file. */
    tcp_pair(&c, &s);
    weft_fd_close(c);
    CHECK_EQ(weft_fd_read(s, buf, sizeof buf), 0);
    weft_fd_close(s);
    return NULL;
}

static void *option_misuse(void *arg)
{
    (void)arg;
    weft_fd *c, *s;
    tcp_pair(&c, &s);
    weft_fd_close(c);
    CHECK_EQ(weft_sock_nodelay(c, 1), -EINVAL); /* closed handle */
    CHECK_EQ(weft_sock_keepalive(c, 1, 0, 0, 0), -EINVAL);
    CHECK_EQ(weft_sock_linger(c, 1, 0), -EINVAL);
    CHECK_EQ(weft_sock_linger(NULL, 1, 0), -EINVAL);
    weft_fd_close(s);
    return NULL;
}

/* ---- Unix datagrams ---- */

static char dir[64];

static void *dgram_paths(void *arg)
{
    (void)arg;
    char pa[128], pb[128];
    snprintf(pa, sizeof pa, "%s/a", dir);
    snprintf(pb, sizeof pb, "%s/b", dir);
    weft_fd *a, *b;
    REQUIRE(weft_unix_dgram_open(pa, &a) == 0);
    REQUIRE(weft_unix_dgram_open(pb, &b) == 0);
    struct sockaddr_un to, from;
    socklen_t tolen, fromlen = sizeof from;
    REQUIRE(weft_unix_addr(pb, &to, &tolen) == 0);
    CHECK_EQ(weft_fd_sendto(a, "ping", 4, 0, (struct sockaddr *)&to, tolen),
             4);
    char buf[16];
    CHECK_EQ(weft_fd_recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from,
                              &fromlen), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK(check_streq(from.sun_path, pa)); /* the sender's name */
    /* The answer goes back to where it came from. */
    CHECK_EQ(weft_fd_sendto(b, "pong!", 5, 0, (struct sockaddr *)&from,
                            fromlen), 5);
    CHECK_EQ(weft_fd_recvfrom(a, buf, sizeof buf, 0, NULL, NULL), 5);
    CHECK(memcmp(buf, "pong!", 5) == 0);
    /* Boundaries kept. */
    CHECK_EQ(weft_fd_sendto(a, "1", 1, 0, (struct sockaddr *)&to, tolen), 1);
    CHECK_EQ(weft_fd_sendto(a, "22", 2, 0, (struct sockaddr *)&to, tolen), 2);
    CHECK_EQ(weft_fd_recvfrom(b, buf, sizeof buf, 0, NULL, NULL), 1);
    CHECK_EQ(weft_fd_recvfrom(b, buf, sizeof buf, 0, NULL, NULL), 2);
    /* The path is taken until unlinked. */
    weft_fd *again;
    CHECK_EQ(weft_unix_dgram_open(pa, &again), -EADDRINUSE);
    weft_fd_close(a);
    weft_fd_close(b);
    unlink(pa);
    unlink(pb);
    return NULL;
}

static void *dgram_abstract_unbound(void *arg)
{
    (void)arg;
    char name[64];
    snprintf(name, sizeof name, "@weft-test-%d", (int)getpid());
    weft_fd *srv, *anon;
    REQUIRE(weft_unix_dgram_open(name, &srv) == 0);
    REQUIRE(weft_unix_dgram_open(NULL, &anon) == 0);
    struct sockaddr_un to, from;
    socklen_t tolen, fromlen = sizeof from;
    REQUIRE(weft_unix_addr(name, &to, &tolen) == 0);
    CHECK_EQ(to.sun_path[0], '\0'); /* abstract: no file */
    CHECK_EQ(access(name + 1, F_OK), -1);
    CHECK_EQ(weft_fd_sendto(anon, "hey", 3, 0, (struct sockaddr *)&to,
                            tolen), 3);
    char buf[8];
    CHECK_EQ(weft_fd_recvfrom(srv, buf, sizeof buf, 0,
                              (struct sockaddr *)&from, &fromlen), 3);
    CHECK(memcmp(buf, "hey", 3) == 0);
    CHECK_EQ(fromlen, 0); /* unbound: no address at all */
    /* The name is taken while its socket lives, free after. */
    weft_fd *dup;
    CHECK_EQ(weft_unix_dgram_open(name, &dup), -EADDRINUSE);
    weft_fd_close(srv);
    REQUIRE(weft_unix_dgram_open(name, &srv) == 0);
    weft_fd_close(srv);
    /* Abstract stream sockets too. */
    weft_fd *l, *c, *s;
    REQUIRE(weft_unix_listen(name, 0, &l) == 0);
    REQUIRE(weft_unix_connect(name, &c) == 0);
    REQUIRE(weft_fd_accept(l, &s, NULL, NULL) == 0);
    CHECK_EQ(weft_fd_write(c, "x", 1, NULL), 0);
    CHECK_EQ(weft_fd_read(s, buf, 1), 1);
    weft_fd_close(s);
    weft_fd_close(c);
    weft_fd_close(l);
    weft_fd_close(anon);
    return NULL;
}

static void *dgram_errors(void *arg)
{
    (void)arg;
    weft_fd *h = NULL;
    char longp[200];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    CHECK_EQ(weft_unix_dgram_open(longp, &h), -ENAMETOOLONG);
    longp[0] = '@';
    longp[108] = '\0'; /* '@' and 107 bytes: the most an abstract name has */
    CHECK_EQ(weft_unix_dgram_open(longp, &h), 0);
    if (h)
        weft_fd_close(h);
    longp[108] = 'p';
    longp[109] = '\0';
    CHECK_EQ(weft_unix_dgram_open(longp, &h), -ENAMETOOLONG);
    CHECK_EQ(weft_unix_dgram_open("", &h), -EINVAL);
    CHECK_EQ(weft_unix_dgram_open("/nonexistent-dir/x", &h), -ENOENT);
    CHECK_EQ(weft_unix_dgram_open(NULL, NULL), -EINVAL);
    struct sockaddr_un sun;
    socklen_t len;
    CHECK_EQ(weft_unix_addr(NULL, &sun, &len), -EINVAL);
    CHECK_EQ(weft_unix_addr("x", NULL, &len), -EINVAL);
    return NULL;
}

int main(void)
{
    check_begin();
    check_case_alarm_install();
    snprintf(dir, sizeof dir, "/tmp/weft-sockopt-XXXXXX");
    REQUIRE(mkdtemp(dir));
    check_case("tcp_nodelay_on_by_default", nodelay, NULL, 0);
    check_case("keepalive_and_its_knobs", keepalive, NULL, 0);
    check_case("linger_zero_resets_the_peer", linger_zero_resets, NULL, 0);
    check_case("option_misuse", option_misuse, NULL, 0);
    check_case("unix_dgram_paths_round_trip", dgram_paths, NULL, 0);
    check_case("unix_dgram_abstract_and_unbound", dgram_abstract_unbound,
               NULL, 0);
    check_case("unix_dgram_errors", dgram_errors, NULL, 0);
    rmdir(dir);
    struct sockaddr_un sun;
    socklen_t len;
    CHECK_EQ(weft_unix_addr("@x", &sun, &len), 0); /* outside a task too */
    CHECK_EQ(len, offsetof(struct sockaddr_un, sun_path) + 2);
    return check_end();
}

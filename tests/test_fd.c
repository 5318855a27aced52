/*
 * test_fd.c - the fd registry and the socket calls (weft/fd.h, weft/net.h)
 * against real sockets and pipes on 127.0.0.1.
 *
 * Proves: an echo over TCP and over a Unix socket moves every byte; a
 * reader and a writer wait on one socket at once, a second reader is
 * -EBUSY; closing through weft wakes a waiter with -EBADF; a closed handle
 * is -EINVAL even once its number is reused, and the new handle works; a
 * raw close(2) leaves a waiter asleep until its scope's deadline; a reset
 * peer is -ECONNRESET on read and -EPIPE/-ECONNRESET on write, and a pipe
 * without reader is -EPIPE - never a SIGPIPE, whose mask and pending state
 * are as before once the loop has closed; connect refused; a lookup of
 * "localhost" through the pool; bad names, ports, paths and handles;
 * cancellation at entry; descriptors left open are closed with the loop
 * (the leak check counts fds).
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ECHO_BYTES (1 << 20)

/* ---- an echo server task ---- */

static void *echo_conn(void *arg)
{
    weft_fd *c = arg;
    char buf[8192];
    ssize_t n;
    while ((n = weft_fd_read(c, buf, sizeof buf)) > 0)
        if (weft_fd_write(c, buf, (size_t)n, NULL))
            break;
    weft_fd_close(c);
    return NULL;
}

static void *echo_server(void *arg)
{
    weft_fd *srv = arg;
    weft_fd *c;
    if (weft_fd_accept(srv, &c, NULL, NULL) == 0)
        echo_conn(c);
    return NULL;
}

/* Writes ECHO_BYTES through c (in a task of its own) while reading them
 * back here; checks every byte. */
static void *writer_task(void *arg)
{
    weft_fd *c = arg;
    char *buf = malloc(ECHO_BYTES);
    REQUIRE(buf);
    for (int i = 0; i < ECHO_BYTES; i++)
        buf[i] = (char)(i * 7);
    size_t w = 0;
    CHECK_EQ(weft_fd_write(c, buf, ECHO_BYTES, &w), 0);
    CHECK_EQ(w, ECHO_BYTES);
    CHECK_EQ(weft_fd_shutdown(c, SHUT_WR), 0);
    free(buf);
    return NULL;
}

static void echo_through(weft_fd *c)
{
    weft_task *wt;
    REQUIRE(weft_spawn(writer_task, c, &wt) == 0);
    char buf[10000];
    long got = 0;
    bool ok = true;
    ssize_t n;
    while ((n = weft_fd_read(c, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            ok &= buf[i] == (char)((got + i) * 7);
        got += n;
    }
    CHECK_EQ(n, 0);
    CHECK_EQ(got, ECHO_BYTES);
    CHECK(ok);
    CHECK_EQ(weft_await(wt, NULL), 0);
}

static void *tcp_echo(void *arg)
{
    (void)arg;
    weft_fd *srv, *c;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &srv) == 0);
    int port = weft_sock_port(srv);
    CHECK(port > 0);
    weft_task *st;
    REQUIRE(weft_spawn(echo_server, srv, &st) == 0);
    REQUIRE(weft_tcp_connect("127.0.0.1", port, &c) == 0);
    echo_through(c);
    CHECK_EQ(weft_await(st, NULL), 0);
    CHECK_EQ(weft_fd_close(c), 0);
    CHECK_EQ(weft_fd_close(srv), 0);
    return NULL;
}

static void *unix_echo(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-test-%d.sock", (int)getpid());
    unlink(path);
    weft_fd *srv, *c;
    REQUIRE(weft_unix_listen(path, 0, &srv) == 0);
    CHECK_EQ(weft_unix_listen(path, 0, &c), -EADDRINUSE);
    weft_task *st;
    REQUIRE(weft_spawn(echo_server, srv, &st) == 0);
    REQUIRE(weft_unix_connect(path, &c) == 0);
    echo_through(c);
    CHECK_EQ(weft_await(st, NULL), 0);
    weft_fd_close(c);
    weft_fd_close(srv);
    unlink(path);
    CHECK_EQ(weft_unix_connect(path, &c), -ENOENT);
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    CHECK_EQ(weft_unix_listen(longp, 0, &c), -ENAMETOOLONG);
    return NULL;
}

/* ---- a connected pair of registered sockets ---- */

static void pair(weft_fd **a, weft_fd **b)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    REQUIRE(weft_fd_open(sv[0], a) == 0);
    REQUIRE(weft_fd_open(sv[1], b) == 0);
}

static void *read_one(void *arg)
{
    char c;
    ssize_t n = weft_fd_read(arg, &c, 1);
    return I2P(n == 1 ? c : n);
}

static void *full_duplex(void *arg)
{
    (void)arg;
    weft_fd *a, *b;
    pair(&a, &b);
    weft_task *r1, *r2;
    REQUIRE(weft_spawn(read_one, a, &r1) == 0);
    weft_yield(); /* r1 waits to read a */
    REQUIRE(weft_spawn(read_one, a, &r2) == 0);
    void *res;
    CHECK_EQ(weft_await(r2, &res), 0);
    CHECK_EQ(P2I(res), -EBUSY); /* a second reader */
    /* A writer on a while r1 waits to read it: fill b's receive buffer
     * until a's writes block, then drain from b. */
    static char big[1 << 20];
    weft_task *w;
    REQUIRE(weft_spawn(writer_task, a, &w) == 0);
    char buf[65536];
    long got = 0;
    ssize_t n;
    while ((n = weft_fd_read(b, buf, sizeof buf)) > 0)
        got += n;
    CHECK_EQ(got, ECHO_BYTES);
    CHECK_EQ(weft_await(w, NULL), 0);
    CHECK_EQ(weft_fd_write(b, "x", 1, NULL), 0);
    CHECK_EQ(weft_await(r1, &res), 0);
    CHECK_EQ(P2I(res), 'x');
    (void)big;
    weft_fd_close(a);
    weft_fd_close(b);
    return NULL;
}

static void *close_wakes(void *arg)
{
    (void)arg;
    weft_fd *a, *b;
    pair(&a, &b);
    weft_task *r;
    REQUIRE(weft_spawn(read_one, a, &r) == 0);
    weft_yield();
    CHECK_EQ(weft_fd_close(a), 0);
    void *res;
    CHECK_EQ(weft_await(r, &res), 0);
    CHECK_EQ(P2I(res), -EBADF);
    /* The handle is dead; its number may be reused, never by it. */
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    weft_fd *c, *d;
    REQUIRE(weft_fd_open(sv[0], &c) == 0);
    REQUIRE(weft_fd_open(sv[1], &d) == 0);
    CHECK_EQ(weft_fd_read(a, res, 1), -EINVAL);
    CHECK_EQ(weft_fd_close(a), -EINVAL);
    CHECK_EQ(weft_fd_write(c, "y", 1, NULL), 0);
    char ch = 0;
    CHECK_EQ(weft_fd_read(d, &ch, 1), 1);
    CHECK_EQ(ch, 'y');
    CHECK_EQ(weft_fd_open(sv[0], &a), -EEXIST);
    weft_fd_close(b);
    weft_fd_close(c);
    weft_fd_close(d);
    return NULL;
}

/* A raw close(2) of a registered descriptor: the poller drops it
 * silently; a waiter sleeps until its scope's deadline. */
static void *raw_close(void *arg)
{
    (void)arg;
    weft_fd *a, *b;
    pair(&a, &b);
    int fd = weft_fd_fileno(a);
    weft_task *r;
    REQUIRE(weft_spawn(read_one, a, &r) == 0);
    weft_yield();
    close(fd);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.05, &sc) == 0);
    void *res;
    CHECK_EQ(weft_await(r, &res), -ETIMEDOUT);
    CHECK_EQ(P2I(res), -ECANCELED);
    weft_scope_close(sc);
    CHECK_EQ(weft_fd_close(a), -EBADF); /* already closed: released anyway */
    CHECK_EQ(weft_fd_close(a), -EINVAL);
    weft_fd_close(b);
    return NULL;
}

static void *peer_reset(void *arg)
{
    (void)arg;
    weft_fd *srv, *c, *s;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &srv) == 0);
    REQUIRE(weft_tcp_connect("127.0.0.1", weft_sock_port(srv), &c) == 0);
    REQUIRE(weft_fd_accept(srv, &s, NULL, NULL) == 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(weft_fd_fileno(s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    weft_fd_close(s); /* RST */
    char buf[16];
    CHECK_EQ(weft_fd_read(c, buf, sizeof buf), -ECONNRESET);
    static char big[1 << 20];
    size_t w = 12345;
    int rc = weft_fd_write(c, big, sizeof big, &w);
    CHECK(rc == -EPIPE || rc == -ECONNRESET);
    CHECK(w < sizeof big);
    weft_fd_close(c);
    weft_fd_close(srv);
    return NULL;
}

static void *broken_pipe(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe(p) == 0);
    close(p[0]);
    weft_fd *w;
    REQUIRE(weft_fd_open(p[1], &w) == 0);
    size_t n = 99;
    CHECK_EQ(weft_fd_write(w, "abc", 3, &n), -EPIPE); /* and still alive */
    CHECK_EQ(n, 0);
    weft_fd_close(w);
    return NULL;
}

static void case_sigpipe_state(void *arg)
{
    (void)arg;
    sigset_t before, after, pend;
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    CHECK_EQ(weft_run(broken_pipe, NULL, NULL), 0);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    CHECK_EQ(sigismember(&before, SIGPIPE), sigismember(&after, SIGPIPE));
    sigpending(&pend);
    CHECK(!sigismember(&pend, SIGPIPE));
}

static void *connect_errors(void *arg)
{
    (void)arg;
    weft_fd *srv, *c = NULL;
    /* A port nobody listens on: take one, then close it. */
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &srv) == 0);
    int port = weft_sock_port(srv);
    weft_fd_close(srv);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, &c), -ECONNREFUSED);
    CHECK(c == NULL);
    CHECK_EQ(weft_tcp_connect(NULL, port, &c), -EINVAL);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", 0, &c), -EINVAL);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", 70000, &c), -EINVAL);
    CHECK_EQ(weft_tcp_listen("127.0.0.1", -1, 0, &c), -EINVAL);
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = 0;
    CHECK_EQ(weft_tcp_connect(name, 80, &c), -EINVAL);
    memset(name, 'b', 64);
    strcpy(name + 64, ".example");
    CHECK_EQ(weft_tcp_connect(name, 80, &c), -EINVAL); /* a 64-byte label */
    return NULL;
}

static void *localhost_lookup(void *arg)
{
    (void)arg;
    weft_fd *srv, *c, *s;
    REQUIRE(weft_tcp_listen(NULL, 0, 0, &srv) == 0); /* dual-stack */
    int port = weft_sock_port(srv);
    int rc = weft_tcp_connect("localhost", port, &c); /* through the pool */
    CHECK_EQ(rc, 0);
    if (rc == 0) {
        REQUIRE(weft_fd_accept(srv, &s, NULL, NULL) == 0);
        CHECK_EQ(weft_fd_write(c, "hi", 2, NULL), 0);
        char buf[2];
        CHECK_EQ(weft_fd_read(s, buf, 2), 2);
        weft_fd_close(s);
        weft_fd_close(c);
    }
    /* IPv4 into the dual-stack listener. */
    REQUIRE(weft_tcp_connect("127.0.0.1", port, &c) == 0);
    REQUIRE(weft_fd_accept(srv, &s, NULL, NULL) == 0);
    weft_fd_close(s);
    weft_fd_close(c);
    weft_fd_close(srv);
    return NULL;
}

static void *vectored(void *arg)
{
    (void)arg;
    weft_fd *a, *b;
    pair(&a, &b);
    char p1[] = "hello, ", p2[] = "vectored ", p3[] = "world";
    struct iovec out[3] = {{p1, 7}, {p2, 9}, {p3, 5}};
    size_t w = 0;
    CHECK_EQ(weft_fd_writev(a, out, 3, &w), 0);
    CHECK_EQ(w, 21);
    char x[10], y[11];
    struct iovec in[2] = {{x, sizeof x}, {y, sizeof y}};
    CHECK_EQ(weft_fd_readv(b, in, 2), 21);
    CHECK(memcmp(x, "hello, vec", 10) == 0 && memcmp(y, "tored world", 11) == 0);
    CHECK_EQ(weft_fd_readv(b, NULL, 1), -EINVAL);
    CHECK_EQ(weft_fd_writev(a, out, -1, &w), -EINVAL);
    weft_fd_close(a);
    weft_fd_close(b);
    return NULL;
}

static void *drain_all(void *arg)
{
    char buf[65536];
    long got = 0;
    ssize_t n;
    while ((n = weft_fd_read(arg, buf, sizeof buf)) > 0)
        got += n;
    return I2P(got);
}

static void *vectored_big(void *arg)
{
    (void)arg;
    weft_fd *a, *b;
    pair(&a, &b);
    static char big[200][5243];
    struct iovec v[200];
    for (int i = 0; i < 200; i++) {
        v[i].iov_base = big[i];
        v[i].iov_len = sizeof big[i];
    }
    weft_task *t;
    REQUIRE(weft_spawn(drain_all, b, &t) == 0);
    size_t w = 0;
    CHECK_EQ(weft_fd_writev(a, v, 200, &w), 0);
    CHECK_EQ(w, sizeof big);
    weft_fd_shutdown(a, SHUT_WR);
    void *got;
    CHECK_EQ(weft_await(t, &got), 0);
    CHECK_EQ(P2I(got), (long)sizeof big);
    weft_fd_close(a);
    weft_fd_close(b);
    return NULL;
}

static void *udp(void *arg)
{
    (void)arg;
    weft_fd *u1, *u2;
    REQUIRE(weft_udp_open(NULL, 0, &u1) == 0);
    REQUIRE(weft_udp_open("127.0.0.1", 0, &u2) == 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)weft_sock_port(u2)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(weft_fd_sendto(u1, "ping", 4, 0, (struct sockaddr *)&to,
                            sizeof to), 4);
    char buf[16];
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    CHECK_EQ(weft_fd_recvfrom(u2, buf, sizeof buf, 0,
                              (struct sockaddr *)&from, &flen), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_EQ(weft_fd_sendto(u2, "pong", 4, 0, (struct sockaddr *)&from,
                            flen), 4);
    CHECK_EQ(weft_fd_recvfrom(u1, buf, sizeof buf, 0, NULL, NULL), 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    /* A receiver with nothing to receive waits, and a deadline ends it. */
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.02, &sc) == 0);
    CHECK_EQ(weft_fd_recvfrom(u1, buf, sizeof buf, 0, NULL, NULL),
             -ETIMEDOUT);
    weft_scope_close(sc);
    weft_fd_close(u1);
    weft_fd_close(u2);
    return NULL;
}

static void *pass_fd(void *arg)
{
    (void)arg;
    weft_fd *a, *b;
    pair(&a, &b);
    int p[2];
    REQUIRE(pipe(p) == 0);
    char one = '!';
    struct iovec io = {&one, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1,
                       .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[1], sizeof(int));
    CHECK_EQ(weft_fd_sendmsg(a, &m, 0), 1);
    close(p[1]);
    char got = 0;
    struct iovec io2 = {&got, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm2;
    struct msghdr m2 = {.msg_iov = &io2, .msg_iovlen = 1,
                        .msg_control = cm2.buf,
                        .msg_controllen = sizeof cm2.buf};
    CHECK_EQ(weft_fd_recvmsg(b, &m2, 0), 1);
    CHECK_EQ(got, '!');
    struct cmsghdr *c2 = CMSG_FIRSTHDR(&m2);
    REQUIRE(c2 && c2->cmsg_type == SCM_RIGHTS);
    int fd;
    memcpy(&fd, CMSG_DATA(c2), sizeof fd);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC); /* close-on-exec */
    CHECK_EQ(write(fd, "z", 1), 1);         /* the pipe's write end */
    char r;
    CHECK_EQ(read(p[0], &r, 1), 1);
    CHECK_EQ(r, 'z');
    close(fd);
    close(p[0]);
    weft_fd_close(a);
    weft_fd_close(b);
    return NULL;
}

static void *sendfile_case(void *arg)
{
    (void)arg;
    char tmpl[] = "/tmp/weft-sendfile-XXXXXX";
    int f = mkstemp(tmpl);
    REQUIRE(f >= 0);
    unlink(tmpl);
    enum { SIZE = 3 << 20 };
    char *data = malloc(SIZE);
    REQUIRE(data);
    for (int i = 0; i < SIZE; i++)
        data[i] = (char)(i * 31);
    REQUIRE(write(f, data, SIZE) == SIZE);
    weft_fd *a, *b;
    pair(&a, &b);
    weft_task *t;
    REQUIRE(weft_spawn(drain_all, b, &t) == 0);
    size_t sent = 0;
    /* From offset 100 to past the end: stops at the end. */
    CHECK_EQ(weft_fd_sendfile(a, f, 100, SIZE, &sent), 0);
    CHECK_EQ(sent, SIZE - 100);
    weft_fd_shutdown(a, SHUT_WR);
    void *got;
    CHECK_EQ(weft_await(t, &got), 0);
    CHECK_EQ(P2I(got), SIZE - 100);
    CHECK_EQ(lseek(f, 0, SEEK_CUR), SIZE); /* its offset did not move */
    CHECK_EQ(weft_fd_sendfile(a, -1, 0, 1, &sent), -EINVAL);
    free(data);
    close(f);
    weft_fd_close(a);
    weft_fd_close(b);
    return NULL;
}

/* An address of TEST-NET-1, which nobody should answer (some sandboxes
 * answer everything, or have no route): the connect ends with the scope's
 * deadline or the kernel's verdict - bounded, never a hang. */
static void *connect_nowhere(void *arg)
{
    (void)arg;
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.2, &sc) == 0);
    double t0 = weft_now();
    weft_fd *c = NULL;
    int rc = weft_tcp_connect("192.0.2.77", 9, &c);
    double took = weft_now() - t0;
    weft_scope_close(sc);
    CHECK(rc == 0 || rc == -ETIMEDOUT || rc == -ENETUNREACH ||
          rc == -EHOSTUNREACH || rc == -ECONNREFUSED);
    CHECK(took < 5.0);
    CHECK((rc == 0) == (c != NULL));
    if (rc == 0)
        weft_fd_close(c);
    return NULL;
}

static void *reuse_port(void *arg)
{
    (void)arg;
    weft_listen_opts o = {.flags = WEFT_LISTEN_REUSEPORT};
    weft_fd *l1, *l2, *l3;
    REQUIRE(weft_tcp_listen_ex("127.0.0.1", 0, &o, &l1) == 0);
    int port = weft_sock_port(l1);
    /* A second listener on the same port: with the option, yes. */
    CHECK_EQ(weft_tcp_listen_ex("127.0.0.1", port, &o, &l2), 0);
    CHECK_EQ(weft_tcp_listen("127.0.0.1", port, 0, &l3), -EADDRINUSE);
    weft_listen_opts bad = {.flags = 1u << 7};
    CHECK_EQ(weft_tcp_listen_ex(NULL, 0, &bad, &l3), -EINVAL);
    weft_fd_close(l1);
    weft_fd_close(l2);
    return NULL;
}

static int regular_fd = -1;

static void *misuse(void *arg)
{
    (void)arg;
    weft_fd *h;
    CHECK_EQ(weft_fd_open(-1, &h), -EINVAL);
    CHECK_EQ(weft_fd_open(0, NULL), -EINVAL);
    CHECK_EQ(weft_fd_open(regular_fd, &h), -ENOTSUP);
    CHECK_EQ(weft_fd_open(1000000, &h), -EBADF);
    CHECK_EQ(weft_fd_read(NULL, NULL, 0), -EINVAL);
    int bad = weft_fd_close((weft_fd *)(uintptr_t)12345);
    CHECK(bad == -EINVAL || bad == -EPERM); /* never a crash */
    weft_fd *a, *b;
    pair(&a, &b);
    CHECK_EQ(weft_fd_read(a, NULL, 1), -EINVAL);
    CHECK_EQ(weft_fd_read(a, NULL, 0), 0);
    /* Cancelled: refused at entry, whether or not it would block. */
    weft_task_cancel(weft_current());
    char c;
    CHECK_EQ(weft_fd_read(a, &c, 1), -ECANCELED);
    CHECK_EQ(weft_fd_write(a, "z", 1, NULL), -ECANCELED);
    /* Left open: the loop closes them (the leak check counts fds). */
    return NULL;
}

static weft_fd *old_handle;

static void *keep_handle(void *arg)
{
    (void)arg;
    weft_fd *b;
    pair(&old_handle, &b);
    return NULL;
}

static void *use_old_handle(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_fd_close(old_handle), -EPERM); /* another loop's */
    return NULL;
}

static void case_outside(void *arg)
{
    (void)arg;
    weft_fd *h;
    CHECK_EQ(weft_fd_open(0, &h), -EPERM);
    CHECK_EQ(weft_tcp_listen(NULL, 0, 0, &h), -EPERM);
    /* Never a handle (bit 63 clear): -EINVAL before the loop is looked
     * for. */
    CHECK_EQ(weft_fd_close((weft_fd *)(uintptr_t)1), -EINVAL);
}

int main(void)
{
    char tmpl[] = "/tmp/weft-fd-XXXXXX";
    regular_fd = mkstemp(tmpl);
    REQUIRE(regular_fd >= 0);
    unlink(tmpl);
    check_begin();
    check_allow_maps(16);
    check_case_alarm_install();
    check_case("tcp_echo_1mib", tcp_echo, NULL, 0);
    check_case("unix_echo_1mib", unix_echo, NULL, 0);
    check_case("reader_and_writer_at_once", full_duplex, NULL, 0);
    check_case("close_wakes_waiter_and_kills_handle", close_wakes, NULL, 0);
    check_case("raw_close_leaves_waiter_asleep", raw_close, NULL, 0);
    check_case("peer_reset", peer_reset, NULL, 0);
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "sigpipe_mask_restored", case_sigpipe_state, NULL));
    check_case("connect_errors_and_bad_names", connect_errors, NULL, 0);
    check_case("localhost_through_the_pool", localhost_lookup, NULL, 0);
    check_case("readv_writev", vectored, NULL, 0);
    check_case("writev_1mib_200_pieces", vectored_big, NULL, 0);
    check_case("udp_sendto_recvfrom", udp, NULL, 0);
    check_case("fd_passing_sendmsg_recvmsg", pass_fd, NULL, 0);
    check_case("sendfile_to_the_end", sendfile_case, NULL, 0);
    check_case("listen_reuseport", reuse_port, NULL, 0);
    check_case("connect_nowhere_bounded", connect_nowhere, NULL, 0);
    check_case("misuse", misuse, NULL, -ECANCELED);
    check_case_serial("handle_of_a_closed_loop_a", keep_handle, NULL, 0);
    check_case_serial("handle_of_a_closed_loop_b", use_old_handle, NULL, 0);
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "outside_a_task", case_outside, NULL));
    int rc = check_end();
    close(regular_fd);
    return rc;
}

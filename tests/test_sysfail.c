/*
 * test_sysfail.c - a failing system call is an error code, never a crash,
 * a hang or a leak.
 *
 * This program defines the socket system calls libweft makes (socket,
 * bind, listen, accept4, connect, the socket options and names, shutdown,
 * read, write, writev, recv, recvfrom, sendto, sendmsg, close, epoll_ctl
 * and getaddrinfo).  A definition in the executable interposes over the C
 * library's for the whole program, libweft included, without touching
 * src/; each one calls the real function, found with dlsym(RTLD_NEXT),
 * unless a countdown says this is the call to fail.
 *
 * Each scenario (TCP listen, connect, stream write and read, close; the
 * same through weft_serve; UDP; Unix sockets; weft_open_connection with a
 * name the thread pool resolves) runs for k = 1, 2, 3, ... with the k-th
 * of those calls, on any thread, failing with a plausible errno for that
 * call, until a run makes fewer than k calls.  Every run must end (the
 * harness's alarm names a hang), with 0 or an error, and leave no weft
 * allocation, descriptor or thread behind.  A second pass fails only the
 * calls weft promises to retry on EINTR (reads, writes, sends, receives,
 * accept4), with EINTR: there every run must succeed.  close(2) is failed after
 * closing for real, as Linux does: the descriptor is gone either way.
 *
 * Under ThreadSanitizer and AddressSanitizer the definitions here replace
 * the runtime's interceptors in this program too; dlsym(RTLD_NEXT) then
 * reaches the runtime's (gcc's shared runtimes) or libc's (clang's static
 * ones), which the sanitizers tolerate for these calls.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- the countdown ---- */

static atomic_bool armed;
static bool eintr_pass;       /* fail the retryable calls only, with EINTR */
static atomic_long countdown; /* the call that fails when it hits 0 */
static _Atomic(const char *) hit_name; /* which call failed, if one did */

/* Counts a call while armed; true if this one is to fail.  In the EINTR
 * pass only the calls weft retries on EINTR count (retry true). */
static bool should_fail_as(const char *name, bool retry)
{
    if (!atomic_load(&armed) || (eintr_pass && !retry))
        return false;
    if (atomic_fetch_sub(&countdown, 1) != 1)
        return false;
    atomic_store(&hit_name, name);
    return true;
}

static void arm(long k)
{
    atomic_store(&hit_name, NULL);
    atomic_store(&countdown, k);
    atomic_store(&armed, true);
}

#define should_fail(name) should_fail_as(name, false)

/* A call weft retries: fails with EINTR in that pass, else with e. */
#define FAIL_RETRYABLE(name, e)                                                \
    do {                                                                       \
        if (should_fail_as(name, true))                                        \
            FAIL_WITH(eintr_pass ? EINTR : (e));                               \
    } while (0)

/* read, write, writev and close count on sockets only: the loop's own
 * eventfd cannot fail as a socket does (its write fails only with EAGAIN,
 * at a counter overflow, which means "already woken"). */
static bool is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Disarms; returns the call that failed, or NULL if fewer than k came. */
static const char *disarm(void)
{
    atomic_store(&armed, false);
    return atomic_load(&hit_name);
}

/* ---- the real calls ---- */

/* dlsym may allocate, and the allocator (a sanitizer's) may read a file:
 * a call that arrives while this thread is in dlsym is made directly. */
static _Thread_local bool in_dlsym;

static void *real(const char *name, void **slot)
{
    void *p = atomic_load((_Atomic(void *) *)slot);
    if (p || in_dlsym)
        return p;
    in_dlsym = true;
    p = dlsym(RTLD_NEXT, name);
    in_dlsym = false;
    REQUIRE(p);
    atomic_store((_Atomic(void *) *)slot, p);
    return p;
}

/* REAL(f): the next definition of f, typed as f; NULL during dlsym. */
#define REAL(f) ((__typeof__(f) *)real(#f, &real_slot_##f))
#define SLOT(f) static void *real_slot_##f

#define FAIL_WITH(e)                                                           \
    do {                                                                       \
        errno = (e);                                                           \
        return -1;                                                             \
    } while (0)

SLOT(socket);
SLOT(bind);
SLOT(listen);
SLOT(accept4);
SLOT(connect);
SLOT(setsockopt);
SLOT(getsockopt);
SLOT(getsockname);
SLOT(getpeername);
SLOT(shutdown);
SLOT(read);
SLOT(write);
SLOT(writev);
SLOT(recv);
SLOT(recvfrom);
SLOT(sendto);
SLOT(sendmsg);
SLOT(close);
SLOT(epoll_ctl);
SLOT(getaddrinfo);

int socket(int domain, int type, int protocol)
{
    if (should_fail("socket"))
        FAIL_WITH(EMFILE);
    __typeof__(socket) *f = REAL(socket);
    return f ? f(domain, type, protocol)
             : (int)syscall(SYS_socket, domain, type, protocol);
}

int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    if (should_fail("bind"))
        FAIL_WITH(EADDRINUSE);
    return REAL(bind)(fd, addr, len);
}

int listen(int fd, int backlog)
{
    if (should_fail("listen"))
        FAIL_WITH(EADDRINUSE);
    return REAL(listen)(fd, backlog);
}

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
    FAIL_RETRYABLE("accept4", EMFILE);
    return REAL(accept4)(fd, addr, len, flags);
}

int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    if (should_fail("connect"))
        FAIL_WITH(ECONNREFUSED);
    return REAL(connect)(fd, addr, len);
}

int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
    if (should_fail("setsockopt"))
        FAIL_WITH(ENOMEM);
    return REAL(setsockopt)(fd, level, opt, val, len);
}

int getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
    if (should_fail("getsockopt"))
        FAIL_WITH(ENOBUFS);
    return REAL(getsockopt)(fd, level, opt, val, len);
}

int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
    if (should_fail("getsockname"))
        FAIL_WITH(ENOBUFS);
    return REAL(getsockname)(fd, addr, len);
}

int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
    if (should_fail("getpeername"))
        FAIL_WITH(ENOBUFS);
    return REAL(getpeername)(fd, addr, len);
}

int shutdown(int fd, int how)
{
    if (should_fail("shutdown"))
        FAIL_WITH(ENOTCONN);
    return REAL(shutdown)(fd, how);
}

ssize_t read(int fd, void *buf, size_t n)
{
    if (is_socket(fd))
        FAIL_RETRYABLE("read", ECONNRESET);
    __typeof__(read) *f = REAL(read);
    return f ? f(fd, buf, n) : syscall(SYS_read, fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (is_socket(fd))
        FAIL_RETRYABLE("write", EPIPE);
    __typeof__(write) *f = REAL(write);
    return f ? f(fd, buf, n) : syscall(SYS_write, fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (is_socket(fd))
        FAIL_RETRYABLE("writev", EPIPE);
    return REAL(writev)(fd, iov, cnt);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    FAIL_RETRYABLE("recv", ECONNRESET);
    return REAL(recv)(fd, buf, n, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG addr,
                 socklen_t *len)
{
    FAIL_RETRYABLE("recvfrom", ECONNREFUSED);
    return REAL(recvfrom)(fd, buf, n, flags, addr, len);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags,
               __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    FAIL_RETRYABLE("sendto", EPIPE);
    return REAL(sendto)(fd, buf, n, flags, addr, len);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    FAIL_RETRYABLE("sendmsg", EPIPE);
    return REAL(sendmsg)(fd, msg, flags);
}

int close(int fd)
{
    bool sock = atomic_load(&armed) && is_socket(fd);
    __typeof__(close) *f = REAL(close);
    int rc = f ? f(fd) : (int)syscall(SYS_close, fd);
    if (rc == 0 && sock && should_fail("close"))
        FAIL_WITH(EIO); /* after closing: Linux releases it regardless */
    return rc;
}

int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
    if (should_fail("epoll_ctl"))
        FAIL_WITH(ENOMEM);
    return REAL(epoll_ctl)(ep, op, fd, ev);
}

int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    if (should_fail("getaddrinfo"))
        return EAI_AGAIN;
    return REAL(getaddrinfo)(node, service, hints, res);
}

/* Resolves every real call before the first run, outside any countdown. */
static void resolve_all(void)
{
    (void)REAL(socket), (void)REAL(bind), (void)REAL(listen);
    (void)REAL(accept4), (void)REAL(connect), (void)REAL(setsockopt);
    (void)REAL(getsockopt), (void)REAL(getsockname), (void)REAL(getpeername);
    (void)REAL(shutdown), (void)REAL(read), (void)REAL(write);
    (void)REAL(writev), (void)REAL(recv), (void)REAL(recvfrom);
    (void)REAL(sendto), (void)REAL(sendmsg), (void)REAL(close);
    (void)REAL(epoll_ctl), (void)REAL(getaddrinfo);
}

/* ---- the scenarios ---- */

#define LINE "ping\n"
#define LINE_LEN 5

/* Reads a line and writes it back. */
static int echo_line(weft_stream *s)
{
    const char *p;
    size_t n;
    int rc = weft_stream_readline(s, &p, &n);
    if (rc)
        return rc;
    if (n == 0)
        return -ENODATA; /* the client went away */
    char line[64];
    n = n < sizeof line ? n : sizeof line;
    memcpy(line, p, n);
    return weft_stream_write(s, line, n, NULL);
}

/* The client's side over a connected stream (closed here). */
static int exchange(weft_stream *s)
{
    int rc = weft_stream_write(s, LINE, LINE_LEN, NULL);
    const char *p;
    size_t n = 0;
    if (!rc)
        rc = weft_stream_readline(s, &p, &n);
    if (!rc && n == 0)
        rc = -ENODATA; /* the server failed before answering */
    if (!rc && (n != LINE_LEN || memcmp(p, LINE, LINE_LEN) != 0)) {
        fprintf(stderr, "a wrong answer of %zu bytes\n", n);
        check_failures++;
    }
    int crc = weft_stream_close(s);
    return rc ? rc : crc;
}

static int exchange_fd(weft_fd *c)
{
    weft_stream *s;
    int rc = weft_stream_open(c, NULL, &s);
    if (rc) {
        weft_fd_close(c);
        return rc;
    }
    return exchange(s);
}

/* Accepts one connection, echoes a line.  Owns the listener: closing it
 * after the accept, whatever happened, resets a client still queued. */
static void *one_shot_server(void *arg)
{
    weft_fd *l = arg, *c;
    int rc = weft_fd_accept(l, &c, NULL, NULL);
    weft_fd_close(l);
    if (rc)
        return I2P(rc);
    weft_stream *s;
    if ((rc = weft_stream_open(c, NULL, &s))) {
        weft_fd_close(c);
        return I2P(rc);
    }
    rc = echo_line(s);
    int crc = weft_stream_close(s);
    return I2P(rc ? rc : crc);
}

/* Cancels (if still running) and joins a helper task; its outcome. */
static int finish(weft_task *t)
{
    weft_task_cancel(t);
    void *r = NULL;
    int rc = weft_await(t, &r);
    return rc ? rc : (int)P2I(r);
}

/* A listener on l, served by one_shot_server; then connect() runs the
 * client. */
static int with_one_shot(weft_fd *l, int (*client)(int port))
{
    int port = weft_sock_port(l);
    weft_task *st;
    int rc = port < 0 && port != -EINVAL ? port : 0;
    if (!rc && (rc = weft_spawn(one_shot_server, l, &st)) == 0) {
        rc = client(port);
        int src = finish(st);
        return rc ? rc : src;
    }
    weft_fd_close(l);
    return rc;
}

static int tcp_client(int port)
{
    weft_fd *c;
    int rc = weft_tcp_connect("127.0.0.1", port, &c);
    return rc ? rc : exchange_fd(c);
}

static int tcp_scenario(void)
{
    weft_fd *l;
    int rc = weft_tcp_listen("127.0.0.1", 0, 0, &l);
    return rc ? rc : with_one_shot(l, tcp_client);
}

static int name_client(int port)
{
    weft_stream *s;
    int rc = weft_open_connection("localhost", port, &s);
    return rc ? rc : exchange(s);
}

static int open_connection_scenario(void)
{
    weft_fd *l;
    int rc = weft_tcp_listen("127.0.0.1", 0, 0, &l);
    return rc ? rc : with_one_shot(l, name_client);
}

static char unix_path[64];

static int unix_client(int port)
{
    (void)port;
    weft_fd *c;
    int rc = weft_unix_connect(unix_path, &c);
    return rc ? rc : exchange_fd(c);
}

static int unix_scenario(void)
{
    unlink(unix_path);
    weft_fd *l;
    int rc = weft_unix_listen(unix_path, 0, &l);
    if (!rc)
        rc = with_one_shot(l, unix_client);
    unlink(unix_path);
    return rc;
}

static void serve_handler(weft_stream *s, void *ctx)
{
    (void)ctx;
    echo_line(s);
}

static void *serve_task(void *arg)
{
    weft_serve_opts o = {.grace = 0};
    return I2P(weft_serve(arg, serve_handler, NULL, &o));
}

static int serve_scenario(void)
{
    weft_fd *l;
    int rc = weft_tcp_listen("127.0.0.1", 0, 0, &l);
    if (rc)
        return rc;
    int port = weft_sock_port(l);
    weft_task *st;
    if (port > 0 && (rc = weft_spawn(serve_task, l, &st)) == 0) {
        rc = tcp_client(port);
        int src = finish(st); /* -ECANCELED: the shutdown */
        if (!rc && src != -ECANCELED)
            rc = src;
    } else if (port < 0) {
        rc = port;
    }
    int crc = weft_fd_close(l);
    return rc ? rc : crc;
}

static int udp_scenario(void)
{
    weft_fd *a, *b;
    int rc = weft_udp_open("127.0.0.1", 0, &a);
    if (rc)
        return rc;
    if ((rc = weft_udp_open("127.0.0.1", 0, &b))) {
        weft_fd_close(a);
        return rc;
    }
    int port = weft_sock_port(b);
    if (port < 0)
        rc = port;
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ssize_t k = 0;
    if (!rc)
        k = weft_fd_sendto(a, LINE, LINE_LEN, 0, (struct sockaddr *)&to,
                           sizeof to);
    char buf[16];
    if (!rc && k == LINE_LEN)
        k = weft_fd_recvfrom(b, buf, sizeof buf, 0, NULL, NULL);
    if (!rc && k < 0)
        rc = (int)k;
    else if (!rc && (k != LINE_LEN || memcmp(buf, LINE, LINE_LEN) != 0))
        rc = -EIO;
    int c1 = weft_fd_close(a), c2 = weft_fd_close(b);
    return rc ? rc : c1 ? c1 : c2;
}

/* ---- the runs ---- */

#define HANG (-100000)

/* WEFT_SYSFAIL_VERBOSE=1: a line per run (the call failed, the outcome). */
static bool verbose;
#define MAX_K 400

/* Runs a scenario under a 3 s scope: a wait that a failure left without
 * an end shows as HANG instead of stopping the program. */
static void *scoped(void *arg)
{
    int (*fn)(void) = (int (*)(void))(uintptr_t)arg;
    weft_scope *sc;
    if (weft_scope_open(3.0, &sc))
        return I2P(-ENOMEM);
    int rc = fn();
    return weft_scope_close(sc) == 1 ? I2P(HANG) : I2P(rc);
}

static int run_once(int (*fn)(void))
{
    weft_run_opts o = {.flags = WEFT_RUN_NO_SIGINT};
    void *r = NULL;
    int rc = weft_run_ex(scoped, (void *)(uintptr_t)fn, &o, &r);
    return rc ? rc : (int)P2I(r);
}

static bool threads_back_to(int n)
{
    if (!check_threads_reliable())
        return true;
    for (int i = 0; i < 500; i++) {
        if (check_count_threads() <= n)
            return true;
        usleep(1000);
    }
    return false;
}

/* weft's live allocations once settled: a name lookup's resolver thread
 * frees its record when its call returns, maybe after the caller left. */
static long live_settled(void)
{
    long live = 0;
    for (int i = 0; i < 2000; i++) {
        if (!(live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED)))
            break;
        usleep(1000);
    }
    return live;
}

typedef struct {
    int (*fn)(void);
    bool eintr; /* the EINTR pass */
} scenario;

/* A case: the scenario run with each of its calls failing in turn. */
static void run_scenario(void *arg)
{
    const scenario *sc = arg;
    const char *name = check_case_name;
    int (*fn)(void) = sc->fn;
    eintr_pass = sc->eintr;
    int before = check_failures;
    /* Unarmed first: it must work, and it starts what the C library and
     * the sanitizers start once (resolver state, helper threads). */
    int rc = run_once(fn);
    if (rc) {
        fprintf(stderr, "case %s: fails with no failure injected: %s\n", name,
                weft_strerror(rc));
        check_failures++;
    }
    int fds0 = check_count_fds(), threads0 = check_count_threads();
    long errors = 0, k;
    for (k = 1; k <= MAX_K && check_failures == before; k++) {
        arm(k);
        rc = run_once(fn);
        const char *hit = disarm();
        const char *what = hit ? hit : "(none)";
        long live = live_settled();
        int fds = check_count_fds();
        if (rc == HANG)
            fprintf(stderr, "case %s: k=%ld (%s failed): a hang\n", name, k,
                    what);
        if (live)
            fprintf(stderr,
                    "case %s: k=%ld (%s failed): %ld allocations "
                    "leaked\n",
                    name, k, what, live);
        if (fds != fds0)
            fprintf(stderr, "case %s: k=%ld (%s failed): %d fds, %d before\n",
                    name, k, what, fds, fds0);
        if (!threads_back_to(threads0))
            fprintf(stderr, "case %s: k=%ld (%s failed): threads left\n", name,
                    k, what);
        if (rc == HANG || live || fds != fds0 || !threads_back_to(threads0))
            check_failures++;
        if (!hit) {
            if (rc) {
                fprintf(stderr, "case %s: fails with nothing failing: %s\n",
                        name, weft_strerror(rc));
                check_failures++;
            }
            break;
        }
        errors += rc != 0;
        if (eintr_pass && rc) {
            fprintf(stderr,
                    "case %s: k=%ld (%s failed with EINTR): %s, "
                    "not retried\n",
                    name, k, what, weft_strerror(rc));
            check_failures++;
        }
        if (verbose)
            printf("     %s k=%ld: %s failed, the run: %s\n", name, k, what,
                   rc ? weft_strerror(rc) : "ok");
    }
    CHECK(k <= MAX_K);
    if (check_failures == before)
        printf("     %-22s %3ld calls failed in turn, %3ld runs an error\n",
               name, k - 1, errors);
}

/* First each call fails with an errno of its own; then, for the calls weft
 * retries on EINTR, with EINTR: every run must then succeed. */
static const scenario tcp = {tcp_scenario, false}, tcp_e = {tcp_scenario, true},
                      serve = {serve_scenario, false},
                      serve_e = {serve_scenario, true},
                      udp = {udp_scenario, false}, udp_e = {udp_scenario, true},
                      unx = {unix_scenario, false},
                      unx_e = {unix_scenario, true},
                      oc = {open_connection_scenario, false},
                      oc_e = {open_connection_scenario, true};

#define SCENARIO(name, sc)                                                     \
    {                                                                          \
        (name), NULL, run_scenario, (void *)&(sc), 0, 0, CHECK_CASE_ALARM * 4  \
    }

static const struct check_case_def cases[] = {
    SCENARIO("tcp", tcp),
    SCENARIO("serve", serve),
    SCENARIO("udp", udp),
    SCENARIO("unix", unx),
    SCENARIO("open_connection", oc),
    SCENARIO("tcp/eintr", tcp_e),
    SCENARIO("serve/eintr", serve_e),
    SCENARIO("udp/eintr", udp_e),
    SCENARIO("unix/eintr", unx_e),
    SCENARIO("open_connection/eintr", oc_e),
};

int main(void)
{
    resolve_all();
    verbose = getenv("WEFT_SYSFAIL_VERBOSE") != NULL;
    snprintf(unix_path, sizeof unix_path, "/tmp/weft-sysfail-%d.sock",
             (int)getpid());
    /* Resolver threads (one per name lookup) leave cached stacks. */
    check_allow_maps(16);
    return CHECK_MAIN(cases);
}

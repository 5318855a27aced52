/*
 * bench_echo.c - server CPU per request of an echo server written with
 * weft_fd (as examples/echo_server.c: a task per connection, read then
 * write-all), against the floor: a bare epoll server written for this
 * benchmark with the fewest system calls per request (level-triggered
 * epoll, one read and one write per request, no runtime).
 *
 * Each server runs in a child process pinned to CPU 0; the load generator
 * (one thread, epoll, 100 connections, request/response, every byte
 * checked) runs here pinned to CPU 1 for a fixed number of requests.  The
 * server's CPU time (user + system, from wait4) divided by the requests is
 * the figure; floor and weft alternate, median of 5 each.  Sizes: 64 B and
 * 4 KiB.  Requests per second are limited by the client on this machine:
 * reported in the note, not targeted.
 *
 * A third weft server is the README's: weft_serve and weft_stream_read /
 * weft_stream_write, as a user would write it (row "streams").
 *
 * When libuv was found at build time, a third server takes its turn in
 * the same runs: bench/peer_uv_echo.c, libuv's idiomatic echo server (a
 * separate program, exec'd in the child with the listening socket).  Its
 * row has no target: it places weft among the event loops C programs use.
 *
 * Target: weft at most 1.10x the floor.  Usage: bench_echo [scale]
 *
 *     bench_echo --serve floor|weft|stream|uv PORT   one server alone, on
 *         127.0.0.1:PORT (to count its system calls with strace -c -f)
 *     bench_echo --client PORT N SIZE          the load generator alone
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONNS 100
#define REQUESTS 200000L
#define REPS 5

static long n_requests;

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
    sched_setaffinity(0, sizeof set, &set);
}

enum { FLOOR, WEFT, STREAM, UV, KINDS };
static const char *const kind_name[KINDS] = {"floor", "weft", "stream", "uv"};

#ifdef WEFT_PEER_UV_ECHO
#define HAVE_UV 1
#else
#define HAVE_UV 0
#define WEFT_PEER_UV_ECHO ""
#endif

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)*port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 1024) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* ---- the floor: bare epoll ---- */

static void floor_server(int lfd)
{
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event evs[128];
    char buf[16384];
    for (;;) {
        int n = epoll_wait(ep, evs, 128, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0)
                    continue;
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                continue;
            }
            ssize_t k = read(fd, buf, sizeof buf);
            if (k <= 0) {
                close(fd);
                continue;
            }
            if (send(fd, buf, (size_t)k, MSG_NOSIGNAL) != k)
                close(fd); /* the client never overfills a buffer */
        }
    }
}

/* ---- weft ---- */

static void *weft_echo_conn(void *arg)
{
    weft_fd *c = arg;
    char buf[16384];
    ssize_t n;
    while ((n = weft_fd_read(c, buf, sizeof buf)) > 0)
        if (weft_fd_write(c, buf, (size_t)n, NULL))
            break;
    weft_fd_close(c);
    return NULL;
}

static void *weft_main(void *arg)
{
    weft_fd *srv, *c;
    if (weft_fd_open((int)(intptr_t)arg, &srv))
        return NULL;
    while (weft_fd_accept(srv, &c, NULL, NULL) == 0) {
        weft_task *t;
        if (weft_spawn(weft_echo_conn, c, &t) == 0)
            weft_task_detach(t);
    }
    return NULL;
}

static void weft_server(int lfd)
{
    weft_run_opts o = {.flags = WEFT_RUN_NO_SIGINT};
    weft_run_ex(weft_main, (void *)(intptr_t)lfd, &o, NULL);
}

/* ---- weft, as README's echo server: weft_serve and streams ---- */

static void stream_echo_conn(weft_stream *s, void *ctx)
{
    (void)ctx;
    char buf[16384];
    ssize_t n;
    while ((n = weft_stream_read(s, buf, sizeof buf)) > 0)
        if (weft_stream_write(s, buf, (size_t)n, NULL))
            break;
}

static void *stream_main(void *arg)
{
    weft_fd *srv;
    if (weft_fd_open((int)(intptr_t)arg, &srv) == 0)
        weft_serve(srv, stream_echo_conn, NULL, NULL);
    return NULL;
}

static void stream_server(int lfd)
{
    weft_run_opts o = {.flags = WEFT_RUN_NO_SIGINT};
    weft_run_ex(stream_main, (void *)(intptr_t)lfd, &o, NULL);
}

/* ---- libuv (another program) ---- */

/* Runs peer_uv_echo on lfd in this (child) process. */
static void uv_server(int lfd)
{
    char arg[16];
    snprintf(arg, sizeof arg, "%d", lfd);
    fcntl(lfd, F_SETFD, 0); /* the listening socket crosses the exec */
    execl(WEFT_PEER_UV_ECHO, "peer_uv_echo", arg, (char *)NULL);
    perror("bench_echo: exec " WEFT_PEER_UV_ECHO);
}

static void serve(int kind, int lfd)
{
    if (kind == WEFT)
        weft_server(lfd);
    else if (kind == STREAM)
        stream_server(lfd);
    else if (kind == UV)
        uv_server(lfd);
    else
        floor_server(lfd);
}

/* ---- the load generator ---- */

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a))
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

typedef struct conn {
    int fd;
    size_t got;
    long sent;
} conn;

/* Runs n requests of `size` bytes over CONNS connections; returns the
 * wall time in seconds, or -1 if a byte came back wrong. */
static double load(int port, size_t size, long n)
{
    conn cs[CONNS];
    int ep = epoll_create1(0);
    char *req = malloc(size), *buf = malloc(size);
    for (size_t i = 0; i < size; i++)
        req[i] = (char)('a' + i % 26);
    long issued = 0, done = 0;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < CONNS; i++) {
        cs[i].fd = connect_to(port);
        cs[i].got = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        if (issued < n && write(cs[i].fd, req, size) == (ssize_t)size)
            issued++;
    }
    bool bad = false;
    struct epoll_event evs[CONNS];
    while (done < n && !bad) {
        int k = epoll_wait(ep, evs, CONNS, 5000);
        if (k <= 0) {
            bad = true;
            break;
        }
        for (int j = 0; j < k; j++) {
            conn *c = &cs[evs[j].data.u32];
            ssize_t r = read(c->fd, buf, size - c->got);
            if (r <= 0) {
                bad = true;
                break;
            }
            if (memcmp(buf, req + c->got, (size_t)r) != 0)
                bad = true;
            c->got += (size_t)r;
            if (c->got == size) {
                c->got = 0;
                done++;
                if (issued < n && write(c->fd, req, size) == (ssize_t)size)
                    issued++;
            }
        }
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    for (int i = 0; i < CONNS; i++)
        close(cs[i].fd);
    close(ep);
    free(req);
    free(buf);
    return bad ? -1 : secs;
}

typedef struct which {
    int kind; /* FLOOR, WEFT, UV */
    size_t size;
} which;

static int run_one(void *arg, double *out)
{
    which *w = arg;
    int port = 0;
    int lfd = listen_any(&port);
    if (lfd < 0)
        return bench_fail("listen: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        pin(0);
        serve(w->kind, lfd);
        _exit(0);
    }
    close(lfd);
    pin(1);
    double secs = load(port, w->size, n_requests);
    kill(pid, SIGKILL);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    if (secs < 0)
        return bench_fail("a response came back wrong or late");
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    out[0] = cpu * 1e6 / (double)n_requests;
    out[1] = (double)n_requests / secs;
    return 0;
}

int main(int argc, char **argv)
{
    /* bench_echo --client PORT N SIZE: the load generator alone, against
     * a server started by hand (strace -c -f it to count system calls). */
    if (argc == 4 && strcmp(argv[1], "--serve") == 0) {
        int port = atoi(argv[3]), lfd = listen_any(&port);
        for (int k = 0; k < KINDS; k++)
            if (lfd >= 0 && strcmp(argv[2], kind_name[k]) == 0 &&
                (k != UV || HAVE_UV))
                serve(k, lfd);
        fprintf(stderr, "bench_echo --serve floor|weft|stream|uv PORT\n");
        return 2;
    }
    if (argc == 5 && strcmp(argv[1], "--client") == 0) {
        double secs = load(atoi(argv[2]), (size_t)atol(argv[4]), atol(argv[3]));
        printf("%s: %.3f s\n", secs < 0 ? "FAILED" : "ok", secs);
        return secs < 0;
    }
    double scale = bench_scale(argc, argv);
    n_requests = bench_scaled(scale, REQUESTS, 1000);
    bench_header();
    size_t sizes[] = {64, 4096};
    for (int s = 0; s < 2; s++) {
        /* Interleaved: floor, weft, streams, libuv, floor, ... */
        double cpu[KINDS][REPS], rps[KINDS][REPS];
        int kinds = HAVE_UV ? 4 : 3;
        for (int r = 0; r < REPS; r++) {
            for (int k = 0; k < kinds; k++) {
                bench_stat st[2];
                which w = {k, sizes[s]};
                if (bench_runs(1, 2, run_one, &w, st))
                    return 1;
                cpu[k][r] = st[0].med;
                rps[k][r] = st[1].med;
            }
        }
        double f = bench_median(cpu[FLOOR], REPS);
        double w = bench_median(cpu[WEFT], REPS);
        double(*fl_rps) = rps[FLOOR], (*wf_rps) = rps[WEFT];
        char name[64];
        snprintf(name, sizeof name, "echo %zu B: server CPU per request",
                 sizes[s]);
        int judge = n_requests == REQUESTS;
        bench_row(name, w, 2, "us", "<= 1.10x floor",
                  judge ? w <= 1.10 * f : -1,
                  "%.2fx the floor (bare epoll: %.2f us); %ld requests, "
                  "100 connections; req/s weft %.0f, floor %.0f (client-bound)",
                  w / f, f, n_requests, bench_median(wf_rps, REPS),
                  bench_median(fl_rps, REPS));
        double sw = bench_median(cpu[STREAM], REPS);
        snprintf(name, sizeof name,
                 "echo %zu B: weft_serve + streams, CPU per request",
                 sizes[s]);
        bench_row(name, sw, 2, "us", "<= 1.10x floor",
                  judge ? sw <= 1.10 * f : -1,
                  "%.2fx the floor; README's echo server (weft_serve, "
                  "weft_stream_read/write); req/s %.0f",
                  sw / f, bench_median(rps[STREAM], REPS));
        if (HAVE_UV) {
            double u = bench_median(cpu[UV], REPS);
            snprintf(name, sizeof name,
                     "echo %zu B: libuv server CPU per request", sizes[s]);
            bench_row(name, u, 2, "us", "-", -1,
                      "%.2fx the floor, weft %.2fx libuv; "
                      "bench/peer_uv_echo.c (uv_read_start, a uv_write per "
                      "read); req/s %.0f",
                      u / f, w / u, bench_median(rps[UV], REPS));
        }
    }
    return 0;
}

/*
 * test_serve.c - weft_serve: a handler task per connection, the limit on
 * live connections, graceful shutdown, a thousand slow clients cut by the
 * handler's deadline, and running out of descriptors (RLIMIT_NOFILE 64,
 * 200 clients from another process): no spin, every client served as
 * descriptors come back; out of memory for the server's own state,
 * -ENOMEM with no connection accepted and no leak.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int live, max_live;

/* Echoes one line, then returns. */
static void echo_line(weft_stream *s, void *ctx)
{
    double pause = ctx ? *(double *)ctx : 0;
    live++;
    if (live > max_live)
        max_live = live;
    const char *p;
    size_t n;
    if (weft_stream_readline(s, &p, &n) == 0 && n > 0) {
        char line[256];
        memcpy(line, p, n < sizeof line ? n : sizeof line);
        if (pause > 0)
            weft_sleep(pause);
        weft_stream_write(s, line, n, NULL);
    }
    live--;
}

typedef struct srv_args {
    weft_fd *listener;
    weft_serve_opts opts;
    double pause;
} srv_args;

static void *server(void *arg)
{
    srv_args *a = arg;
    return I2P(weft_serve(a->listener, echo_line, &a->pause, &a->opts));
}

static void *client(void *arg)
{
    int port = (int)P2I(arg);
    weft_stream *s;
    if (weft_open_connection("127.0.0.1", port, &s))
        return I2P(-1);
    weft_stream_write(s, "hello\n", 6, NULL);
    const char *p;
    size_t n;
    int rc = weft_stream_readline(s, &p, &n);
    bool ok = rc == 0 && n == 6 && memcmp(p, "hello\n", 6) == 0;
    weft_stream_close(s);
    return I2P(ok ? 1 : 0);
}

static void run_clients(int port, int n, int *ok)
{
    weft_task *t[64];
    for (int i = 0; i < n; i++)
        REQUIRE(weft_spawn(client, I2P(port), &t[i]) == 0);
    for (int i = 0; i < n; i++) {
        void *r;
        weft_await(t[i], &r);
        *ok += P2I(r) == 1;
    }
}

static void *serve_and_stop(void *arg)
{
    size_t limit = (size_t)P2I(arg);
    srv_args a = {.opts = {.max_connections = limit}, .pause = 0.01};
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &a.listener) == 0);
    int port = weft_sock_port(a.listener);
    live = max_live = 0;
    weft_task *st;
    REQUIRE(weft_spawn(server, &a, &st) == 0);
    int ok = 0;
    run_clients(port, 20, &ok);
    CHECK_EQ(ok, 20);
    if (limit)
        CHECK(max_live <= (int)limit);
    else
        CHECK(max_live > 2); /* they did overlap */
    CHECK_EQ(weft_task_cancel(st), 0);
    void *r;
    CHECK_EQ(weft_await(st, &r), -ECANCELED);
    CHECK_EQ(P2I(r), -ECANCELED);
    CHECK_EQ(live, 0);
    weft_fd_close(a.listener);
    return NULL;
}

/* Shutdown while a handler is busy: with a grace period it finishes. */
static void *graceful(void *arg)
{
    double grace = *(double *)arg;
    srv_args a = {.opts = {.grace = grace}, .pause = 0.05};
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &a.listener) == 0);
    int port = weft_sock_port(a.listener);
    live = 0;
    weft_task *st, *ct;
    REQUIRE(weft_spawn(server, &a, &st) == 0);
    REQUIRE(weft_spawn(client, I2P(port), &ct) == 0);
    CHECK_SLEEP_UNTIL(live == 1); /* the handler is in its pause */
    weft_task_cancel(st);
    void *r;
    CHECK_EQ(weft_await(st, &r), -ECANCELED);
    CHECK_EQ(live, 0);
    CHECK_EQ(weft_await(ct, &r), 0);
    CHECK_EQ(P2I(r), grace > 0 ? 1 : 0); /* answered, or cut */
    weft_fd_close(a.listener);
    return NULL;
}

/* Slow clients: the handler bounds its read with a scope. */
static int timed_out;

static void read_with_deadline(weft_stream *s, void *ctx)
{
    (void)ctx;
    weft_scope *sc;
    if (weft_scope_open(0.05, &sc))
        return;
    const char *p;
    size_t n;
    if (weft_stream_readline(s, &p, &n) == -ETIMEDOUT)
        timed_out++;
    weft_scope_close(sc);
}

static void *slow_server(void *arg)
{
    return I2P(weft_serve(arg, read_with_deadline, NULL, NULL));
}

static void *slow_clients(void *arg)
{
    (void)arg;
    weft_fd *l;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &l) == 0);
    int port = weft_sock_port(l);
    timed_out = 0;
    weft_task *st;
    REQUIRE(weft_spawn(slow_server, l, &st) == 0);
    /* A thousand (two hundred under sanitizers or an emulator): two
     * descriptors each, well inside the usual limits. */
    enum { MAX = 1000 };
    static weft_fd *cs[MAX];
    int N = check_slow_env() ? 200 : MAX;
    for (int i = 0; i < N; i++)
        REQUIRE(weft_tcp_connect("127.0.0.1", port, &cs[i]) == 0);
    CHECK_SLEEP_UNTIL(timed_out == N); /* each cut after 50 ms */
    char c;
    for (int i = 0; i < N; i++) {
        CHECK_EQ(weft_fd_read(cs[i], &c, 1), 0); /* closed by the server */
        weft_fd_close(cs[i]);
    }
    weft_task_cancel(st);
    CHECK_EQ(weft_await(st, NULL), -ECANCELED);
    weft_fd_close(l);
    return NULL;
}

static void *misuse(void *arg)
{
    (void)arg;
    weft_fd *l;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &l) == 0);
    CHECK_EQ(weft_serve(l, NULL, NULL, NULL), -EINVAL);
    weft_serve_opts o = {.grace = -1};
    CHECK_EQ(weft_serve(l, echo_line, NULL, &o), -EINVAL);
    CHECK_EQ(weft_serve(NULL, echo_line, NULL, NULL), -EINVAL);
    weft_fd_close(l);
    return NULL;
}

/* Out of memory for the server's state: -ENOMEM at once, no connection
 * accepted (a client waiting in the backlog is served by the next call),
 * nothing left allocated (the case checks for leaks). */
static void *serve_oom(void *arg)
{
    (void)arg;
    srv_args a = {.pause = 0};
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &a.listener) == 0);
    int port = weft_sock_port(a.listener);
    live = 0;
    weft_task *ct, *st;
    REQUIRE(weft_spawn(client, I2P(port), &ct) == 0);
    CHECK_EQ(weft_sleep(0.005), 0); /* connected: in the backlog */
    check_alloc_fail_next();
    int rc = weft_serve(a.listener, echo_line, &a.pause, &a.opts);
    CHECK(check_alloc_fail_hit());
    CHECK_EQ(rc, -ENOMEM);
    CHECK_EQ(weft_task_done(ct), 0); /* not served, not dropped */
    REQUIRE(weft_spawn(server, &a, &st) == 0);
    void *r;
    CHECK_EQ(weft_await(ct, &r), 0);
    CHECK_EQ(P2I(r), 1);
    CHECK_EQ(weft_task_cancel(st), 0);
    CHECK_EQ(weft_await(st, &r), -ECANCELED);
    weft_fd_close(a.listener);
    return NULL;
}

/* ---- out of descriptors, in a child process ---- */


static void *fd_limited_main(void *arg)
{
    weft_fd *l;
    REQUIRE(weft_fd_open((int)P2I(arg), &l) == 0);
    weft_serve(l, echo_line, NULL, NULL); /* until SIGTERM */
    return NULL;
}

static void case_emfile(void *arg)
{
    (void)arg;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    REQUIRE(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(listen(lfd, 512) == 0);
    REQUIRE(getsockname(lfd, (struct sockaddr *)&a, &len) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {64, 64};
        setrlimit(RLIMIT_NOFILE, &rl);
        weft_run_opts o = {.flags = WEFT_RUN_NO_SIGINT};
        weft_run_ex(fd_limited_main, I2P(lfd), &o, NULL);
        _exit(0);
    }
    close(lfd);
    enum { N = 200 }; /* against 64 descriptors */
    int cs[N];
    for (int i = 0; i < N; i++) {
        cs[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(connect(cs[i], (struct sockaddr *)&a, sizeof a) == 0);
        REQUIRE(write(cs[i], "hello\n", 6) == 6);
    }
    int served = 0;
    for (int i = 0; i < N; i++) {
        struct pollfd pfd = {.fd = cs[i], .events = POLLIN};
        char buf[8];
        if (poll(&pfd, 1, 10000) == 1 && read(cs[i], buf, sizeof buf) == 6)
            served++;
        close(cs[i]);
    }
    CHECK_EQ(served, N);
    kill(pid, SIGTERM);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    CHECK(cpu < 0.5); /* backed off: never spun on EMFILE */
    printf("     server CPU %.3f s\n", cpu);
}

int main(void)
{
    check_begin();
    check_case_alarm_install();
    check_case("twenty_clients_no_limit", serve_and_stop, I2P(0), 0);
    check_case("twenty_clients_limit_2", serve_and_stop, I2P(2), 0);
    double g1 = 1.0, g0 = 0;
    check_case("shutdown_with_grace_lets_handler_finish", graceful, &g1, 0);
    check_case("shutdown_without_grace_cancels_handler", graceful, &g0, 0);
    check_case("a_thousand_slow_clients_cut_by_deadline", slow_clients,
               NULL, 0);
    check_case("misuse", misuse, NULL, 0);
    check_run_case(&(const struct check_case_def){
        .name = "server_state_oom", .task = serve_oom,
        .flags = CHECK_NO_LEAK});
    check_run_case(&(const struct check_case_def){
        .name = "out_of_descriptors_backs_off", .plain = case_emfile,
        .timeout = 30});
    return check_end();
}

/*
 * test_io.c - weft_io_wait on pipes, socketpairs and files.
 *
 * Proves that:
 * - a wait for READABLE returns WEFT_READABLE once another task writes, and
 *   not before; WEFT_WRITABLE on an empty pipe's write end comes at once;
 *   only requested and ready events are reported;
 * - a timeout gives -ETIMEDOUT, never early; a negative or infinite timeout
 *   waits without limit; timeout 0 polls (ready: the mask, not ready:
 *   -ETIMEDOUT); data arriving before the timeout wins and leaves no stale
 *   timer behind;
 * - one task at a time per fd: a second waiter gets -EBUSY, and the fd is
 *   free again once the first wait ends (by data, timeout or error);
 * - bad arguments (fd -1, events 0, unknown event bits, NaN timeout) are
 *   -EINVAL; a regular file (always ready) is -ENOTSUP; outside a task
 *   the call is -EPERM;
 * - hang-up (the write end closed, also while waiting) reports READABLE, and
 *   error and hang-up conditions report every requested event;
 * - socketpairs work both ways (ping-pong);
 * - fds are polled even while tasks stay runnable: tasks yielding in a
 *   tight loop do not starve a task whose pipe another thread writes
 *   (bounded in iterations);
 * - many tasks, each waiting on its own pipe and woken in a random order,
 *   all wake, each for its own fd;
 * - errno is preserved across a wait, and no fd is left open (check_end).
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RW (WEFT_READABLE | WEFT_WRITABLE)

static void make_pipe(int p[2])
{
    REQUIRE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
}

static void close_pair(int p[2])
{
    close(p[0]);
    close(p[1]);
}

static void wait_flag(const int *flag)
{
    for (long i = 0; !*flag && i < 1000000; i++)
        weft_yield();
    REQUIRE(*flag);
}

/* ---------------------------------------------------------------------- */
/* Readable, writable                                                      */
/* ---------------------------------------------------------------------- */

typedef struct {
    int fd;
    double delay;
    int written; /* set just before the write */
} writer_args;

static void *writer(void *arg)
{
    writer_args *w = arg;
    if (w->delay > 0)
        CHECK_EQ(weft_sleep(w->delay), 0);
    w->written = 1;
    CHECK_EQ(write(w->fd, "x", 1), 1);
    return NULL;
}

static void *main_ready(void *arg)
{
    (void)arg;
    int p[2];
    make_pipe(p);

    /* Readable once another task writes, not before. */
    for (int i = 0; i < 3; i++) {
        writer_args w = {.fd = p[1], .delay = i == 0 ? 0 : 0.005 * i};
        weft_task *t;
        REQUIRE(weft_spawn(writer, &w, &t) == 0);
        errno = EXDEV;
        int rc = weft_io_wait(p[0], WEFT_READABLE, i == 2 ? INFINITY : -1);
        CHECK_EQ(errno, EXDEV); /* preserved across the wait */
        CHECK_EQ(rc, WEFT_READABLE);
        CHECK_EQ(w.written, 1);
        char c = 0;
        CHECK_EQ(read(p[0], &c, 1), 1);
        CHECK_EQ(c, 'x');
        CHECK_EQ(weft_await(t, NULL), 0);
    }

    /* Writable at once on an empty pipe's write end; only what was asked
     * for and is ready is reported. */
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, -1), WEFT_WRITABLE);
    CHECK_EQ(weft_io_wait(p[1], RW, -1), WEFT_WRITABLE);
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, 5.0), WEFT_WRITABLE);

    /* Timeout 0 polls. */
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, 0), WEFT_WRITABLE);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, 0), -ETIMEDOUT);
    CHECK_EQ(write(p[1], "y", 1), 1);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, 0), WEFT_READABLE);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, -1), WEFT_READABLE);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, 0), -ETIMEDOUT);

    /* A full pipe is not writable; reading makes it so. */
    char buf[4096];
    memset(buf, 'z', sizeof buf);
    while (write(p[1], buf, sizeof buf) > 0) {
    }
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, 0), -ETIMEDOUT);
    CHECK_EQ(weft_io_wait(p[0], RW, 0), WEFT_READABLE);
    while (read(p[0], buf, sizeof buf) > 0) {
    }
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, 0), WEFT_WRITABLE);
    close_pair(p);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Timeouts                                                                */
/* ---------------------------------------------------------------------- */

static void *main_timeout(void *arg)
{
    (void)arg;
    int p[2];
    make_pipe(p);
    const double timeouts[] = {0.02, 0.001, 0.0003, 1e-9};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        double t0 = weft_now();
        CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, timeouts[i]), -ETIMEDOUT);
        double d = weft_now() - t0;
        CHECK(d >= timeouts[i]);
        CHECK(d < 10.0);
        /* The fd is free again. */
        CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, 0), -ETIMEDOUT);
    }

    /* Data before the timeout: the mask, and the timer is gone (a stale one
     * would end the next sleep early). */
    writer_args w = {.fd = p[1], .delay = 0.005};
    weft_task *t;
    REQUIRE(weft_spawn(writer, &w, &t) == 0);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, 0.1), WEFT_READABLE);
    CHECK_EQ(w.written, 1);
    CHECK_EQ(weft_await(t, NULL), 0);
    double t0 = weft_now();
    CHECK_EQ(weft_sleep(0.15), 0);
    CHECK(weft_now() - t0 >= 0.15);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    close_pair(p);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* One waiter per fd                                                       */
/* ---------------------------------------------------------------------- */

typedef struct {
    int fd;
    int reached;
    int rc;
} waiter_args;

static void *waiter(void *arg)
{
    waiter_args *a = arg;
    a->reached = 1;
    a->rc = weft_io_wait(a->fd, WEFT_READABLE, -1);
    return NULL;
}

static void *main_busy(void *arg)
{
    (void)arg;
    int p[2], q[2];
    make_pipe(p);
    make_pipe(q);
    waiter_args a = {.fd = p[0]};
    weft_task *t;
    REQUIRE(weft_spawn(waiter, &a, &t) == 0);
    wait_flag(&a.reached);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, -1), -EBUSY);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, 0), -EBUSY);
    CHECK_EQ(weft_io_wait(p[0], WEFT_WRITABLE, 0.01), -EBUSY);
    /* Other fds are not affected, the same pipe's other end included. */
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, -1), WEFT_WRITABLE);
    CHECK_EQ(weft_io_wait(q[0], WEFT_READABLE, 0.001), -ETIMEDOUT);
    CHECK_EQ(weft_task_done(t), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(a.rc, WEFT_READABLE);
    /* Free again once the first wait ended. */
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, 0), WEFT_READABLE);

    /* Same with a second waiter that is another task. */
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    waiter_args b1 = {.fd = p[0]}, b2 = {.fd = p[0]};
    weft_task *t1, *t2;
    REQUIRE(weft_spawn(waiter, &b1, &t1) == 0);
    REQUIRE(weft_spawn(waiter, &b2, &t2) == 0);
    CHECK_EQ(weft_await(t2, NULL), 0); /* returns at once */
    CHECK_EQ(b2.rc, -EBUSY);
    CHECK_EQ(weft_task_done(t1), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(weft_await(t1, NULL), 0);
    CHECK_EQ(b1.rc, WEFT_READABLE);
    CHECK_EQ(read(p[0], &c, 1), 1);
    close_pair(p);
    close_pair(q);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Bad arguments, regular files                                            */
/* ---------------------------------------------------------------------- */

static void *main_bad_args(void *arg)
{
    (void)arg;
    int p[2];
    make_pipe(p);
    CHECK_EQ(weft_io_wait(-1, WEFT_READABLE, -1), -EINVAL);
    CHECK_EQ(weft_io_wait(INT_MIN, WEFT_READABLE, 0), -EINVAL);
    CHECK_EQ(weft_io_wait(p[0], 0, -1), -EINVAL);
    CHECK_EQ(weft_io_wait(p[0], 4, -1), -EINVAL);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE | 4, -1), -EINVAL);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE | 0x80000000u, -1), -EINVAL);
    CHECK_EQ(weft_io_wait(p[0], ~0u, -1), -EINVAL);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, NAN), -EINVAL);
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, -NAN), -EINVAL);
    /* An fd number that is not open: an error, never a wait. */
    int closed = dup(p[0]);
    REQUIRE(closed >= 0);
    close(closed);
    int rc = weft_io_wait(closed, WEFT_READABLE, -1);
    CHECK(rc == -EBADF || rc == -EINVAL);

    /* A regular file: epoll refuses it (it is always ready). */
    char path[] = "/tmp/weft-test-io-XXXXXX";
    int f = mkstemp(path);
    REQUIRE(f >= 0);
    unlink(path);
    CHECK_EQ(weft_io_wait(f, WEFT_READABLE, -1), -ENOTSUP);
    CHECK_EQ(weft_io_wait(f, WEFT_WRITABLE, 0), -ENOTSUP);
    CHECK_EQ(weft_io_wait(f, RW, 1.0), -ENOTSUP);
    close(f);

    /* Nothing was left registered by the refusals. */
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, 0), -ETIMEDOUT);
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, -1), WEFT_WRITABLE);
    double t0 = weft_now();
    CHECK_EQ(weft_sleep(0.01), 0);
    CHECK(weft_now() - t0 >= 0.01);
    close_pair(p);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Hang-up and errors                                                      */
/* ---------------------------------------------------------------------- */

typedef struct {
    int fd;
    int closed;
} closer_args;

static void *closer(void *arg)
{
    closer_args *c = arg;
    CHECK_EQ(weft_sleep(0.005), 0);
    c->closed = 1;
    close(c->fd);
    return NULL;
}

static void *main_hangup(void *arg)
{
    (void)arg;
    int p[2];
    char c;

    /* The write end is closed while the reader waits. */
    make_pipe(p);
    closer_args ca = {.fd = p[1]};
    weft_task *t;
    REQUIRE(weft_spawn(closer, &ca, &t) == 0);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, -1), WEFT_READABLE);
    CHECK_EQ(ca.closed, 1);
    CHECK_EQ(read(p[0], &c, 1), 0); /* end of file */
    CHECK_EQ(weft_await(t, NULL), 0);
    /* Already hung up: at once; every requested event is reported. */
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, -1), WEFT_READABLE);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, 0), WEFT_READABLE);
    CHECK_EQ(weft_io_wait(p[0], RW, -1), RW);
    close(p[0]);

    /* The read end is closed: an error condition on the write end. */
    make_pipe(p);
    close(p[0]);
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, -1), WEFT_WRITABLE);
    CHECK_EQ(weft_io_wait(p[1], RW, -1), RW);
    close(p[1]);

    /* A socket whose peer is gone. */
    int s[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       0, s) == 0);
    closer_args cs = {.fd = s[1]};
    REQUIRE(weft_spawn(closer, &cs, &t) == 0);
    CHECK_EQ(weft_io_wait(s[0], WEFT_READABLE, -1), WEFT_READABLE);
    CHECK_EQ(cs.closed, 1);
    CHECK_EQ(read(s[0], &c, 1), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(weft_io_wait(s[0], RW, -1), RW);
    close(s[0]);

    /* Half-close: the peer shuts down writing only. */
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       0, s) == 0);
    REQUIRE(shutdown(s[1], SHUT_WR) == 0);
    CHECK_EQ(weft_io_wait(s[0], WEFT_READABLE, -1), WEFT_READABLE);
    CHECK_EQ(read(s[0], &c, 1), 0);
    close_pair(s);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Socketpair ping-pong                                                    */
/* ---------------------------------------------------------------------- */

enum { PINGS = 200 };

typedef struct {
    int fd;
    int first; /* sends first */
    int count;
} pinger_args;

static void *pinger(void *arg)
{
    pinger_args *a = arg;
    unsigned char v = 0;
    if (a->first) {
        CHECK_EQ(weft_io_wait(a->fd, WEFT_WRITABLE, -1), WEFT_WRITABLE);
        CHECK_EQ(write(a->fd, &v, 1), 1);
    }
    for (int i = 0; i < PINGS; i++) {
        unsigned char got;
        int rc = weft_io_wait(a->fd, WEFT_READABLE, 10.0);
        CHECK_EQ(rc, WEFT_READABLE);
        if (rc != WEFT_READABLE)
            return NULL;
        CHECK_EQ(read(a->fd, &got, 1), 1);
        /* Values go 0, 1, 2, ... alternating between the two sides. */
        CHECK_EQ(got, (unsigned char)(2 * i + a->first));
        a->count++;
        if (a->first && i == PINGS - 1)
            break; /* the last reply */
        v = (unsigned char)(got + 1);
        CHECK_EQ(weft_io_wait(a->fd, WEFT_WRITABLE, -1), WEFT_WRITABLE);
        CHECK_EQ(write(a->fd, &v, 1), 1);
    }
    return NULL;
}

static void *main_socketpair(void *arg)
{
    (void)arg;
    int s[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       0, s) == 0);
    /* Both ends writable, neither readable. */
    CHECK_EQ(weft_io_wait(s[0], RW, -1), WEFT_WRITABLE);
    CHECK_EQ(weft_io_wait(s[1], RW, -1), WEFT_WRITABLE);
    CHECK_EQ(weft_io_wait(s[0], WEFT_READABLE, 0), -ETIMEDOUT);
    CHECK_EQ(weft_io_wait(s[1], WEFT_READABLE, 0), -ETIMEDOUT);
    /* Each way. */
    CHECK_EQ(write(s[0], "a", 1), 1);
    CHECK_EQ(weft_io_wait(s[1], RW, -1), RW);
    CHECK_EQ(weft_io_wait(s[0], WEFT_READABLE, 0), -ETIMEDOUT);
    char c;
    CHECK_EQ(read(s[1], &c, 1), 1);
    CHECK_EQ(c, 'a');
    CHECK_EQ(write(s[1], "b", 1), 1);
    CHECK_EQ(weft_io_wait(s[0], WEFT_READABLE, -1), WEFT_READABLE);
    CHECK_EQ(read(s[0], &c, 1), 1);
    CHECK_EQ(c, 'b');

    pinger_args a = {.fd = s[0], .first = 1}, b = {.fd = s[1], .first = 0};
    weft_task *ta, *tb;
    REQUIRE(weft_spawn(pinger, &a, &ta) == 0);
    REQUIRE(weft_spawn(pinger, &b, &tb) == 0);
    CHECK_EQ(weft_await(ta, NULL), 0);
    CHECK_EQ(weft_await(tb, NULL), 0);
    CHECK_EQ(a.count, PINGS);
    CHECK_EQ(b.count, PINGS);
    close_pair(s);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* File descriptors are looked at while tasks stay runnable                 */
/* ---------------------------------------------------------------------- */

/* Generous: the other thread's 5 ms pass in far fewer yields than this on
 * any machine, but a loop that never polled while tasks stay ready would
 * hit it. */
#define SPIN_LIMIT 50000000L

static int io_flag;
static long io_spins[2];

static void *spin_until_io(void *arg)
{
    long k = P2I(arg), i = 0;
    while (!io_flag && i < SPIN_LIMIT) {
        CHECK_EQ(weft_yield(), 0);
        i++;
    }
    io_spins[k] = i;
    return NULL;
}

static void *io_flag_waiter(void *arg)
{
    int fd = *(int *)arg;
    CHECK_EQ(weft_io_wait(fd, WEFT_READABLE, -1), WEFT_READABLE);
    io_flag = 1;
    return NULL;
}

static void *thread_writer(void *arg)
{
    int fd = *(int *)arg;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
    CHECK_EQ(write(fd, "t", 1), 1);
    return NULL;
}

static void *main_starve(void *arg)
{
    (void)arg;
    int p[2];
    make_pipe(p);
    weft_task *w, *a, *b;
    REQUIRE(weft_spawn(io_flag_waiter, &p[0], &w) == 0);
    REQUIRE(weft_spawn(spin_until_io, I2P(0), &a) == 0);
    REQUIRE(weft_spawn(spin_until_io, I2P(1), &b) == 0);
    /* Written by another thread, so that no timer of this loop is
     * involved: only polling the fds can see it. */
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, thread_writer, &p[1]) == 0);
    CHECK_EQ(weft_await(a, NULL), 0);
    CHECK_EQ(weft_await(b, NULL), 0);
    CHECK_EQ(weft_await(w, NULL), 0);
    pthread_join(th, NULL);
    CHECK_EQ(io_flag, 1);
    CHECK(io_spins[0] < SPIN_LIMIT);
    CHECK(io_spins[1] < SPIN_LIMIT);
    close_pair(p);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Many waiters, woken in a random order                                   */
/* ---------------------------------------------------------------------- */

static long many_n;
static int (*many_pipes)[2];
static int *many_written; /* set just before each pipe is written */
static long many_woken;
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
    return check_xorshift(&rng_state);
}

static void *many_waiter(void *arg)
{
    long i = P2I(arg);
    int rc = weft_io_wait(many_pipes[i][0], WEFT_READABLE, 30.0);
    CHECK_EQ(rc, WEFT_READABLE);
    CHECK_EQ(many_written[i], 1); /* woken for its own fd */
    long v = -1;
    ssize_t n = read(many_pipes[i][0], &v, sizeof v);
    CHECK_EQ(n, (ssize_t)sizeof v);
    CHECK_EQ(v, i);
    many_woken++;
    return I2P(i);
}

static void *many_writer(void *arg)
{
    (void)arg;
    long *order = malloc((size_t)many_n * sizeof *order);
    REQUIRE(order);
    for (long i = 0; i < many_n; i++)
        order[i] = i;
    for (long i = many_n - 1; i > 0; i--) {
        long j = (long)(rng() % (uint64_t)(i + 1));
        long x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    /* Batches of random size: some wake-ups come in the same poll, some in
     * later ones, some after a sleep. */
    long k = 0;
    while (k < many_n) {
        long batch = 1 + (long)(rng() % 40);
        for (long b = 0; b < batch && k < many_n; b++, k++) {
            long i = order[k];
            many_written[i] = 1;
            CHECK_EQ(write(many_pipes[i][1], &i, sizeof i),
                     (ssize_t)sizeof i);
        }
        if (rng() % 2)
            weft_yield();
        else
            weft_sleep(0.0005);
    }
    free(order);
    return NULL;
}

static void *main_many(void *arg)
{
    (void)arg;
    weft_task **t = calloc((size_t)many_n, sizeof *t);
    REQUIRE(t);
    for (long i = 0; i < many_n; i++)
        REQUIRE(weft_spawn(many_waiter, I2P(i), &t[i]) == 0);
    CHECK_EQ(weft_yield(), 0); /* every waiter is waiting now */
    CHECK_EQ(many_woken, 0);
    weft_task *w;
    REQUIRE(weft_spawn(many_writer, NULL, &w) == 0);
    for (long i = 0; i < many_n; i++) {
        void *r = NULL;
        CHECK_EQ(weft_await(t[i], &r), 0);
        CHECK_EQ(P2I(r), i);
    }
    CHECK_EQ(weft_await(w, NULL), 0);
    CHECK_EQ(many_woken, many_n);
    free(t);
    return NULL;
}

static void run_many(void *arg)
{
    (void)arg;
    many_n = check_scaled(200);
    /* Two fds per pipe, and room for the rest of the process. */
    struct rlimit rl;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rlim_t need = (rlim_t)(2 * many_n + 64);
    if (rl.rlim_cur < need) {
        rlim_t cur = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = cur;
        if (rl.rlim_cur < need)
            many_n = ((long)rl.rlim_cur - 64) / 2;
    }
    REQUIRE(many_n > 0);
    many_pipes = calloc((size_t)many_n, sizeof *many_pipes);
    many_written = calloc((size_t)many_n, sizeof *many_written);
    REQUIRE(many_pipes && many_written);
    for (long i = 0; i < many_n; i++)
        make_pipe(many_pipes[i]);
    for (int round = 0; round < 3; round++) {
        memset(many_written, 0, (size_t)many_n * sizeof *many_written);
        many_woken = 0;
        CHECK_EQ(weft_run(main_many, NULL, NULL), 0);
    }
    for (long i = 0; i < many_n; i++)
        close_pair(many_pipes[i]);
    free(many_pipes);
    free(many_written);
}

/* ---------------------------------------------------------------------- */

/* Outside a task. */
static void case_outside_task(void *arg)
{
    (void)arg;
    int p[2];
    make_pipe(p);
    CHECK_EQ(weft_io_wait(p[1], WEFT_WRITABLE, 0), -EPERM);
    CHECK_EQ(weft_io_wait(p[0], WEFT_READABLE, -1), -EPERM);
    close_pair(p);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_task", case_outside_task, NULL),
    CHECK_TASK("ready", main_ready, NULL),
    CHECK_TASK("timeout", main_timeout, NULL),
    CHECK_TASK("busy", main_busy, NULL),
    CHECK_TASK("bad_args", main_bad_args, NULL),
    CHECK_TASK("hangup", main_hangup, NULL),
    CHECK_TASK("socketpair", main_socketpair, NULL),
    CHECK_TASK("starve", main_starve, NULL),
    CHECK_PLAIN("many", run_many, NULL),
};

int main(void)
{
    check_allow_maps(4); /* glibc's cached thread stack and arena */
    return CHECK_MAIN(cases);
}

/*
 * test_fd_hold.c - borrowing a registered descriptor's number for a
 * thread-pool job (weft_fd_hold / weft_fd_release): closing the handle
 * meanwhile wakes its waiters and makes it stale at once, but the number
 * stays open (never reused under the job) until the last release; holds
 * nest; bad releases are refused; descriptors held when the loop closes
 * are released all the same (the leak check counts them).
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static weft_fd *pair(int *peer)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    weft_fd *h;
    REQUIRE(weft_fd_open(sv[0], &h) == 0);
    *peer = sv[1];
    return h;
}

static void *reader(void *arg)
{
    char c;
    return I2P(weft_fd_read(arg, &c, 1));
}

static void *close_while_held(void *arg)
{
    (void)arg;
    int peer;
    weft_fd *h = pair(&peer);
    weft_task *t;
    REQUIRE(weft_spawn(reader, h, &t) == 0);
    weft_sleep(0.005);
    int n = weft_fd_hold(h);
    CHECK(n >= 0 && n == weft_fd_fileno(h));
    CHECK_EQ(weft_fd_close(h), 0);
    void *r;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), -EBADF); /* the waiter is woken at once */
    char c;
    CHECK_EQ(weft_fd_read(h, &c, 1), -EINVAL); /* the handle is stale */
    CHECK_EQ(weft_fd_hold(h), -EINVAL);
    CHECK_EQ(weft_fd_close(h), -EINVAL);
    CHECK(is_open(n)); /* but the number is still ours */
    CHECK_EQ(write(peer, "x", 1), 1); /* an event nobody may see */
    weft_sleep(0.002);
    CHECK_EQ(weft_fd_release(h), 0);
    CHECK(!is_open(n)); /* closed by the last release */
    CHECK_EQ(weft_fd_release(h), -EINVAL);
    close(peer);
    return NULL;
}

typedef struct job {
    int fd;
    char buf[6];
} job;

static void *blocking_send(void *arg)
{
    job *j = arg;
    usleep(20000); /* the handle is closed meanwhile */
    return I2P(send(j->fd, j->buf, sizeof j->buf, MSG_NOSIGNAL));
}

static void *pool_job(void *arg)
{
    (void)arg;
    int peer;
    weft_fd *h = pair(&peer);
    job j = {weft_fd_hold(h), "hello"};
    REQUIRE(j.fd >= 0);
    weft_task *t;
    REQUIRE(weft_spawn_blocking(blocking_send, &j, &t) == 0);
    CHECK_EQ(weft_fd_close(h), 0);
    void *r;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 6); /* the job's descriptor was still the socket */
    CHECK_EQ(weft_fd_release(h), 0);
    char got[8] = {0};
    CHECK_EQ(recv(peer, got, sizeof got, 0), 6);
    CHECK(strcmp(got, "hello") == 0);
    CHECK_EQ(recv(peer, got, sizeof got, 0), 0); /* then end of stream */
    close(peer);
    return NULL;
}

static void *nesting_and_misuse(void *arg)
{
    (void)arg;
    int peer;
    weft_fd *h = pair(&peer);
    CHECK_EQ(weft_fd_release(h), -EINVAL); /* not held */
    int n = weft_fd_hold(h);
    CHECK_EQ(weft_fd_hold(h), n);
    CHECK_EQ(weft_fd_release(h), 0);
    CHECK_EQ(weft_fd_release(h), 0);
    CHECK_EQ(weft_fd_release(h), -EINVAL);
    /* Held and released while open: close is immediate. */
    CHECK_EQ(weft_fd_close(h), 0);
    CHECK(!is_open(n));
    close(peer);
    h = pair(&peer);
    n = weft_fd_hold(h);
    CHECK_EQ(weft_fd_hold(h), n);
    CHECK_EQ(weft_fd_close(h), 0);
    CHECK_EQ(weft_fd_release(h), 0);
    CHECK(is_open(n)); /* one hold left */
    CHECK_EQ(weft_fd_release(h), 0);
    CHECK(!is_open(n));
    /* Its slot reused by a held descriptor: the old handle releases
     * nothing of the new one's. */
    int peer2;
    weft_fd *h2 = pair(&peer2);
    int n2 = weft_fd_hold(h2);
    CHECK(n2 >= 0);
    CHECK_EQ(weft_fd_release(h), -EINVAL);
    CHECK(is_open(n2));
    CHECK_EQ(weft_fd_close(h2), 0);
    CHECK(is_open(n2)); /* still held */
    CHECK_EQ(weft_fd_release(h), -EINVAL);
    CHECK(is_open(n2));
    CHECK_EQ(weft_fd_release(h2), 0);
    CHECK(!is_open(n2));
    close(peer2);
    CHECK_EQ(weft_fd_hold(NULL), -EINVAL);
    CHECK_EQ(weft_fd_release(NULL), -EINVAL);
    close(peer);
    return NULL;
}

/* ---- woken by the poller, closed before it ran ---- */

typedef struct big_write {
    weft_fd *h;
    char *buf;
    size_t n, written;
} big_write;

static void *writer(void *arg)
{
    big_write *w = arg;
    return I2P(weft_fd_write(w->h, w->buf, w->n, &w->written));
}

static void *reader_closes(void *arg)
{
    weft_fd *h = arg;
    char c;
    weft_fd_read(h, &c, 1); /* woken first: the poller reports reads first */
    weft_fd_close(h);       /* the writer is woken already: no -EBADF sent */
    return NULL;
}

static void *closed_after_wakeup(void *arg)
{
    (void)arg;
    int peer;
    weft_fd *h = pair(&peer);
    int n = weft_fd_hold(h); /* the number stays open after the close */
    REQUIRE(n >= 0);
    big_write w = {h, malloc(8 << 20), 8 << 20, 0};
    REQUIRE(w.buf);
    memset(w.buf, 'w', w.n);
    weft_task *tw, *tr;
    REQUIRE(weft_spawn(writer, &w, &tw) == 0);
    REQUIRE(weft_spawn(reader_closes, h, &tr) == 0);
    weft_sleep(0.01); /* the writer fills the buffer and waits */
    /* One event for both directions: readable (a byte) and writable (the
     * peer drains). */
    CHECK_EQ(write(peer, "x", 1), 1);
    char sink[65536];
    size_t drained = 0;
    for (ssize_t k; (k = recv(peer, sink, sizeof sink, MSG_DONTWAIT)) > 0;)
        drained += (size_t)k;
    CHECK(drained > 0);
    void *r;
    CHECK_EQ(weft_await(tr, NULL), 0);
    CHECK_EQ(weft_await(tw, &r), 0);
    CHECK_EQ(P2I(r), -EBADF); /* not a write on a closed handle */
    CHECK_EQ(w.written, drained); /* what went out before the close */
    /* Nothing more was sent after the close. */
    CHECK_EQ(recv(peer, sink, sizeof sink, MSG_DONTWAIT), -1);
    CHECK_EQ(weft_fd_release(h), 0);
    close(peer);
    free(w.buf);
    return NULL;
}

static int peers[2] = {-1, -1};

static void *held_at_loop_close(void *arg)
{
    (void)arg;
    weft_fd *a = pair(&peers[0]);
    weft_fd *b = pair(&peers[1]);
    REQUIRE(weft_fd_hold(a) >= 0);
    REQUIRE(weft_fd_hold(b) >= 0);
    CHECK_EQ(weft_fd_close(b), 0); /* closed while held, never released */
    return NULL;                   /* a: held and open */
}

int main(void)
{
    check_begin();
    check_allow_maps(8);
    check_case_alarm_install();
    int peer;
    /* A pointer is never a handle: -EINVAL, also without a loop. */
    CHECK_EQ(weft_fd_hold((weft_fd *)(void *)&peer), -EINVAL);
    check_case("close_while_held_waits_for_release", close_while_held, NULL,
               0);
    check_case("a_pool_job_keeps_its_descriptor", pool_job, NULL, 0);
    check_case("holds_nest_and_bad_releases_fail", nesting_and_misuse, NULL,
               0);
    check_case("a_writer_woken_then_closed_gets_ebadf", closed_after_wakeup,
               NULL, 0);
    check_case_serial("held_descriptors_released_at_loop_close",
                      held_at_loop_close, NULL, 0);
    close(peers[0]);
    close(peers[1]);
    return check_end();
}

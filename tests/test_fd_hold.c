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
    CHECK_EQ(weft_fd_hold(NULL), -EINVAL);
    CHECK_EQ(weft_fd_release(NULL), -EINVAL);
    close(peer);
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
    CHECK_EQ(weft_fd_hold((weft_fd *)(void *)&peer), -EPERM); /* no loop */
    check_case("close_while_held_waits_for_release", close_while_held, NULL,
               0);
    check_case("a_pool_job_keeps_its_descriptor", pool_job, NULL, 0);
    check_case("holds_nest_and_bad_releases_fail", nesting_and_misuse, NULL,
               0);
    check_case("held_descriptors_released_at_loop_close", held_at_loop_close,
               NULL, 0);
    close(peers[0]);
    close(peers[1]);
    return check_end();
}

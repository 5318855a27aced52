/*
 * test_stream_buffered.c - streams with a write buffer (weft_stream_opts
 * .write_buffer): small writes wait in the buffer until a flush; a write
 * that does not fit goes out after the buffered bytes, in order; close
 * flushes, also from a cancelled task, and gives up after its grace
 * period with the descriptor released; a negative grace drops the buffer;
 * shutdown_write flushes first; a send cut before any new byte went out
 * keeps the buffer whole; concurrent writers stay contiguous; what a reader
 * has read ahead (weft_stream_buffered); bad options.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A stream with opts on sv[0]; *peer is the raw other end (ours). */
static weft_stream *buffered_pair(const weft_stream_opts *opts, int *peer)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    weft_fd *fd;
    REQUIRE(weft_fd_open(sv[0], &fd) == 0);
    weft_stream *s;
    REQUIRE(weft_stream_open(fd, opts, &s) == 0);
    *peer = sv[1];
    return s;
}

/* What the peer can read without waiting. */
static size_t peek_now(int peer, char *buf, size_t n)
{
    ssize_t k = recv(peer, buf, n, MSG_DONTWAIT);
    return k < 0 ? 0 : (size_t)k;
}

/* Everything until end of stream, waiting in 1 ms steps (bounded). */
static size_t read_to_end(int peer, char *buf, size_t n)
{
    size_t have = 0;
    for (int i = 0; i < 5000; i++) {
        ssize_t k = recv(peer, buf + have, n - have, MSG_DONTWAIT);
        if (k == 0)
            return have;
        if (k > 0)
            have += (size_t)k;
        else
            weft_sleep(0.001);
    }
    REQUIRE(!"end of stream within 5 s");
    return have;
}

static void *coalesce(void *arg)
{
    (void)arg;
    int peer;
    weft_stream_opts o = {.write_buffer = 4096};
    weft_stream *s = buffered_pair(&o, &peer);
    char want[1000], got[2000];
    for (int i = 0; i < 10; i++) {
        memset(want + i * 100, 'a' + i, 100);
        size_t w = 0;
        CHECK_EQ(weft_stream_write(s, want + i * 100, 100, &w), 0);
        CHECK_EQ(w, 100);
    }
    CHECK_EQ(peek_now(peer, got, sizeof got), 0); /* all still buffered */
    CHECK_EQ(weft_stream_flush(s), 0);
    CHECK_EQ(peek_now(peer, got, sizeof got), 1000);
    CHECK(memcmp(got, want, 1000) == 0);
    CHECK_EQ(weft_stream_flush(s), 0); /* nothing left: nothing to do */

    /* Buffered bytes, then a write too big for the rest of the buffer:
     * both go out, in order. */
    CHECK_EQ(weft_stream_write(s, "abc", 3, NULL), 0);
    char big[5000];
    memset(big, 'z', sizeof big);
    CHECK_EQ(weft_stream_write(s, big, sizeof big, NULL), 0);
    /* The write returned: every byte is in the kernel already. */
    char *all = malloc(5003);
    REQUIRE(all);
    CHECK_EQ(recv(peer, all, 5003, MSG_WAITALL), 5003);
    CHECK(memcmp(all, "abc", 3) == 0 && memcmp(all + 3, big, 5000) == 0);
    free(all);
    CHECK_EQ(weft_stream_close(s), 0);
    close(peer);
    return NULL;
}

static void *close_flushes(void *arg)
{
    (void)arg;
    int peer;
    weft_stream_opts o = {.write_buffer = 256};
    weft_stream *s = buffered_pair(&o, &peer);
    CHECK_EQ(weft_stream_write(s, "hello", 5, NULL), 0);
    CHECK_EQ(weft_stream_close(s), 0);
    char got[16];
    CHECK_EQ(read_to_end(peer, got, sizeof got), 5);
    CHECK(memcmp(got, "hello", 5) == 0);
    close(peer);

    /* From a cancelled task: flushed all the same. */
    s = buffered_pair(&o, &peer);
    CHECK_EQ(weft_stream_write(s, "bye", 3, NULL), 0);
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    CHECK_EQ(weft_stream_write(s, "x", 1, NULL), -ECANCELED);
    CHECK_EQ(weft_stream_close(s), 0);
    CHECK_EQ(read_to_end(peer, got, sizeof got), 3);
    CHECK(memcmp(got, "bye", 3) == 0);
    close(peer);
    return NULL;
}

static void *shutdown_flushes(void *arg)
{
    (void)arg;
    int peer;
    weft_stream_opts o = {.write_buffer = 256};
    weft_stream *s = buffered_pair(&o, &peer);
    CHECK_EQ(weft_stream_write(s, "last words", 10, NULL), 0);
    CHECK_EQ(weft_stream_shutdown_write(s), 0);
    char got[16];
    CHECK_EQ(read_to_end(peer, got, sizeof got), 10);
    CHECK(memcmp(got, "last words", 10) == 0);
    /* Reading still works after the half-close. */
    CHECK_EQ(write(peer, "ok", 2), 2);
    char two[2];
    CHECK_EQ(weft_stream_readexactly(s, two, 2, NULL), 0);
    CHECK_EQ(weft_stream_close(s), 0);
    close(peer);
    return NULL;
}

static void *grace(void *arg)
{
    (void)arg;
    /* Nobody reads: the flush at close gives up after the grace period,
     * and the descriptor is released all the same. */
    int peer;
    size_t n = 4u << 20;
    weft_stream_opts o = {.write_buffer = n, .close_grace = 0.05};
    weft_stream *s = buffered_pair(&o, &peer);
    char *data = calloc(1, n);
    REQUIRE(data);
    CHECK_EQ(weft_stream_write(s, data, n, NULL), 0);
    int fds = check_count_fds();
    double t0 = weft_now();
    CHECK_EQ(weft_stream_close(s), -ETIMEDOUT);
    double took = weft_now() - t0;
    CHECK(took >= 0.04 && took < 3);
    CHECK_EQ(check_count_fds(), fds - 1);
    close(peer);

    /* A negative grace drops what is buffered. */
    o.close_grace = -1;
    s = buffered_pair(&o, &peer);
    CHECK_EQ(weft_stream_write(s, "dropped", 7, NULL), 0);
    CHECK_EQ(weft_stream_close(s), 0);
    char got[8];
    CHECK_EQ(read_to_end(peer, got, sizeof got), 0);
    close(peer);
    free(data);
    return NULL;
}

typedef struct drain_arg {
    int peer;
    char *buf;
    size_t cap, want, have;
} drain_arg;

/* Reads the raw peer until `want` bytes came (bounded: 5 s). */
static void *drain(void *arg)
{
    drain_arg *d = arg;
    for (int i = 0; i < 10000 && d->have < d->want; i++) {
        d->have += peek_now(d->peer, d->buf + d->have, d->cap - d->have);
        if (d->have < d->want)
            weft_sleep(0.0005);
    }
    return NULL;
}

static void *kept_whole(void *arg)
{
    (void)arg;
    /* 60 KiB buffered, then a 100 KiB write cut by a deadline while the
     * buffered bytes are still going out (a small send buffer, nobody
     * reading): the write reports 0 bytes, the stream is not broken, and
     * a flush later delivers exactly the 60 KiB. */
    int peer;
    size_t held = 60 * 1024, more = 100 * 1024;
    weft_stream_opts o = {.write_buffer = 64 * 1024};
    weft_stream *s = buffered_pair(&o, &peer);
    int small = 4096;
    REQUIRE(setsockopt(weft_fd_fileno((weft_fd *)(void *)s), SOL_SOCKET,
                       SO_SNDBUF, &small, sizeof small) == 0);
    char *a = malloc(held), *b = malloc(more);
    REQUIRE(a && b);
    for (size_t i = 0; i < held; i++)
        a[i] = (char)(i % 251);
    memset(b, 'B', more);
    CHECK_EQ(weft_stream_write(s, a, held, NULL), 0);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.05, &sc) == 0);
    size_t w = 99;
    CHECK_EQ(weft_stream_write(s, b, more, &w), -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(w, 0);
    /* Drain the peer while the flush sends the rest. */
    drain_arg d = {peer, malloc(held + more), held + more, held, 0};
    REQUIRE(d.buf);
    weft_task *t;
    REQUIRE(weft_spawn(drain, &d, &t) == 0);
    CHECK_EQ(weft_stream_flush(s), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    d.have += peek_now(peer, d.buf + d.have, d.cap - d.have);
    CHECK_EQ(d.have, held);
    CHECK(memcmp(d.buf, a, held) == 0);
    free(d.buf);
    CHECK_EQ(weft_stream_write(s, "!", 1, NULL), 0); /* still whole */
    CHECK_EQ(weft_stream_close(s), 0);
    close(peer);
    free(a);
    free(b);
    return NULL;
}

typedef struct writer_arg {
    weft_stream *s;
    char c;
} writer_arg;

static void *writer(void *arg)
{
    writer_arg *w = arg;
    char rec[300];
    for (int i = 0; i < 50; i++) {
        size_t n = 1 + (size_t)((i * 37 + w->c) % 299);
        memset(rec, w->c, n);
        rec[n - 1] = '\n';
        int rc = weft_stream_write(w->s, rec, n, NULL);
        if (rc)
            return weft_fail(rc, "write");
        if (i % 7 == 0)
            weft_yield();
    }
    return NULL;
}

static void *writers_contiguous(void *arg)
{
    (void)arg;
    int peer;
    weft_stream_opts o = {.write_buffer = 1000};
    weft_stream *s = buffered_pair(&o, &peer);
    writer_arg w[4];
    weft_task *t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (writer_arg){s, (char)('a' + i)};
        REQUIRE(weft_spawn(writer, &w[i], &t[i]) == 0);
    }
    for (int i = 0; i < 4; i++)
        CHECK_EQ(weft_await(t[i], NULL), 0);
    CHECK_EQ(weft_stream_close(s), 0);
    size_t cap = 4 * 50 * 300;
    char *got = malloc(cap);
    REQUIRE(got);
    size_t n = read_to_end(peer, got, cap);
    /* Every record is one letter repeated, then a newline. */
    size_t records = 0;
    for (size_t i = 0; i < n;) {
        char c = got[i];
        size_t j = i;
        while (j < n && got[j] == c)
            j++;
        CHECK(j < n && got[j] == '\n');
        i = j + 1;
        records++;
        if (c == '\n')
            records--; /* a one-byte record is just its newline */
    }
    CHECK(records <= 200);
    size_t total = 0;
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < 50; i++)
            total += 1 + (size_t)((i * 37 + 'a' + c) % 299);
    CHECK_EQ(n, total);
    free(got);
    close(peer);
    return NULL;
}

static void *read_ahead(void *arg)
{
    (void)arg;
    int peer;
    weft_stream *s = buffered_pair(NULL, &peer);
    CHECK_EQ(weft_stream_buffered(s), 0);
    CHECK_EQ(write(peer, "GET a\nGET b\n", 12), 12);
    const char *line;
    size_t len;
    CHECK_EQ(weft_stream_readline(s, &line, &len), 0);
    CHECK_EQ(weft_stream_buffered(s), 6); /* the pipelined second request */
    CHECK_EQ(weft_stream_readline(s, &line, &len), 0);
    CHECK_EQ(weft_stream_buffered(s), 0);
    CHECK_EQ(weft_stream_close(s), 0);
    CHECK_EQ(weft_stream_buffered(s), -EINVAL);
    close(peer);
    return NULL;
}

static void *bad_options(void *arg)
{
    (void)arg;
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    weft_fd *fd;
    REQUIRE(weft_fd_open(sv[0], &fd) == 0);
    weft_stream *s;
    weft_stream_opts o = {.write_buffer = ((size_t)1 << 30) + 1};
    CHECK_EQ(weft_stream_open(fd, &o, &s), -EINVAL);
    o = (weft_stream_opts){.close_grace = NAN};
    CHECK_EQ(weft_stream_open(fd, &o, &s), -EINVAL);
    CHECK_EQ(weft_stream_flush((weft_stream *)(void *)fd), -EINVAL);
    o = (weft_stream_opts){.write_buffer = 16};
    REQUIRE(weft_stream_open(fd, &o, &s) == 0);
    CHECK_EQ(weft_stream_close(s), 0);
    CHECK_EQ(weft_stream_flush(s), -EINVAL); /* closed */
    close(sv[1]);
    return NULL;
}

int main(void)
{
    check_begin();
    check_case_alarm_install();
    check_case("small_writes_wait_for_flush_big_ones_in_order", coalesce,
               NULL, 0);
    check_case("close_flushes_also_when_cancelled", close_flushes, NULL,
               -ECANCELED);
    check_case("shutdown_write_flushes_first", shutdown_flushes, NULL, 0);
    check_case("close_grace_runs_out_or_drops", grace, NULL, 0);
    check_case("a_cut_send_keeps_the_buffer_whole", kept_whole, NULL, 0);
    check_case("concurrent_writers_stay_contiguous", writers_contiguous, NULL,
               0);
    check_case("buffered_shows_what_was_read_ahead", read_ahead, NULL, 0);
    check_case("bad_options_and_closed_streams", bad_options, NULL, 0);
    return check_end();
}

/*
 * test_stream.c - buffered streams (weft/stream.h) over socket pairs and
 * TCP on 127.0.0.1.
 *
 * Proves: lines and multi-byte separators split across arbitrary writes
 * (a seeded random splitter over thousands of records); the last line
 * without a newline; readexactly at early end of stream hands back the
 * partial data (-ENODATA); a separator beyond the limit is -EMSGSIZE with
 * nothing taken (the data is then read with weft_stream_read), also for a
 * 16 MiB line, with the buffer never above the limit; large reads; twenty
 * concurrent writers are served in FIFO order with each write contiguous;
 * a write cut by a deadline reports what went out and breaks the stream
 * (-EPIPE next); closing wakes a queued writer and a blocked reader with
 * -EBADF; weft_open_connection; misuse (-EINVAL on plain descriptors,
 * closed streams, bad separators).
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void stream_pair(weft_stream **a, weft_stream **b,
                        const weft_stream_opts *opts)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    weft_fd *fa, *fb;
    REQUIRE(weft_fd_open(sv[0], &fa) == 0);
    REQUIRE(weft_fd_open(sv[1], &fb) == 0);
    REQUIRE(weft_stream_open(fa, opts, a) == 0);
    REQUIRE(weft_stream_open(fb, opts, b) == 0);
}

static bool is(const char *p, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

static void *lines(void *arg)
{
    (void)arg;
    weft_stream *a, *b;
    stream_pair(&a, &b, NULL);
    CHECK_EQ(weft_stream_write(a, "a\nbb\r\nccc", 9, NULL), 0);
    CHECK_EQ(weft_stream_shutdown_write(a), 0);
    const char *p;
    size_t n;
    CHECK_EQ(weft_stream_readline(b, &p, &n), 0);
    CHECK(is(p, n, "a\n"));
    CHECK_EQ(weft_stream_readuntil(b, "\r\n", 2, &p, &n), 0);
    CHECK(is(p, n, "bb\r\n"));
    CHECK_EQ(weft_stream_readline(b, &p, &n), 0); /* unterminated */
    CHECK(is(p, n, "ccc"));
    CHECK_EQ(weft_stream_readline(b, &p, &n), 0); /* exhausted */
    CHECK_EQ(n, 0);
    CHECK_EQ(weft_stream_readuntil(b, "\n", 1, &p, &n), -ENODATA);
    CHECK_EQ(n, 0);
    char c;
    CHECK_EQ(weft_stream_read(b, &c, 1), 0);
    weft_stream_close(a);
    weft_stream_close(b);
    return NULL;
}

static void *exactly(void *arg)
{
    (void)arg;
    weft_stream *a, *b;
    stream_pair(&a, &b, NULL);
    CHECK_EQ(weft_stream_write(a, "0123456789abc", 13, NULL), 0);
    weft_stream_shutdown_write(a);
    char buf[32];
    size_t got = 99;
    CHECK_EQ(weft_stream_readexactly(b, buf, 10, &got), 0);
    CHECK_EQ(got, 10);
    CHECK(memcmp(buf, "0123456789", 10) == 0);
    CHECK_EQ(weft_stream_readexactly(b, buf, 10, &got), -ENODATA);
    CHECK_EQ(got, 3); /* handed back, never lost */
    CHECK(memcmp(buf, "abc", 3) == 0);
    weft_stream_close(a);
    weft_stream_close(b);
    return NULL;
}

static void *over_limit(void *arg)
{
    (void)arg;
    weft_stream_opts o = {.limit = 16};
    weft_stream *a, *b;
    stream_pair(&a, &b, &o);
    char line[101];
    memset(line, 'x', 100);
    line[100] = '\n';
    CHECK_EQ(weft_stream_write(a, line, sizeof line, NULL), 0);
    const char *p;
    size_t n;
    CHECK_EQ(weft_stream_readline(b, &p, &n), -EMSGSIZE);
    CHECK(n > 16 && n <= 17);
    /* Nothing taken: it is all still there. */
    char buf[200];
    size_t got = 0;
    while (got < sizeof line) {
        ssize_t k = weft_stream_read(b, buf + got, sizeof buf - got);
        REQUIRE(k > 0);
        got += (size_t)k;
    }
    CHECK(memcmp(buf, line, sizeof line) == 0);
    weft_stream_close(a);
    weft_stream_close(b);
    return NULL;
}

/* A 16 MiB line against the default 64 KiB limit: -EMSGSIZE at the
 * limit, the buffer never larger than the limit. */
static void *feed_huge(void *arg)
{
    static char chunk[1 << 16];
    memset(chunk, 'y', sizeof chunk);
    for (int i = 0; i < 256; i++)
        if (weft_stream_write(arg, chunk, sizeof chunk, NULL))
            break; /* the reader closed */
    return NULL;
}

static void *huge_line(void *arg)
{
    (void)arg;
    weft_stream *a, *b;
    stream_pair(&a, &b, NULL);
    weft_task *t;
    REQUIRE(weft_spawn(feed_huge, a, &t) == 0);
    const char *p;
    size_t n;
    CHECK_EQ(weft_stream_readline(b, &p, &n), -EMSGSIZE);
    CHECK(n == 64 * 1024 + 1);
    weft_stream_close(b); /* the writer gets -EPIPE or -ECONNRESET */
    CHECK_EQ(weft_await(t, NULL), 0);
    weft_stream_close(a);
    return NULL;
}

/* Random splits: records of random length ending in a random 1-3 byte
 * separator, written in random chunks with yields between; read back with
 * readuntil. */
static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

#define RECORDS 3000
static char sep[3] = {'\r', '\n', '#'};
static size_t sep_len;

typedef struct corpus {
    char *data;
    size_t len;
    size_t rec_end[RECORDS];
} corpus;

static void *feed_random(void *arg)
{
    void **a = arg;
    weft_stream *s = a[0];
    corpus *c = a[1];
    size_t off = 0;
    while (off < c->len) {
        size_t k = 1 + rnd() % 700;
        if (k > c->len - off)
            k = c->len - off;
        REQUIRE(weft_stream_write(s, c->data + off, k, NULL) == 0);
        off += k;
        if (rnd() % 3 == 0)
            weft_yield();
    }
    weft_stream_shutdown_write(s);
    return NULL;
}

static void *random_splits(void *arg)
{
    (void)arg;
    for (sep_len = 1; sep_len <= 3; sep_len++) {
        corpus *c = malloc(sizeof *c);
        REQUIRE(c);
        c->data = malloc(RECORDS * 260);
        REQUIRE(c->data);
        c->len = 0;
        for (int r = 0; r < RECORDS; r++) {
            size_t body = rnd() % 250, start = c->len;
            for (size_t i = 0; i < body; i++) {
                char ch = (char)('a' + rnd() % 26);
                if (rnd() % 5 == 0)
                    ch = sep[rnd() % sep_len]; /* pieces of a separator */
                c->data[c->len++] = ch;
                /* A body never contains the separator itself (these
                 * separators have no border, so none can straddle the
                 * body's end either). */
                if (c->len - start >= sep_len &&
                    memcmp(c->data + c->len - sep_len, sep, sep_len) == 0)
                    c->data[c->len - 1] = 'z';
            }
            memcpy(c->data + c->len, sep, sep_len);
            c->len += sep_len;
            c->rec_end[r] = c->len;
        }
        weft_stream *a, *b;
        stream_pair(&a, &b, NULL);
        void *args[2] = {a, c};
        weft_task *t;
        REQUIRE(weft_spawn(feed_random, args, &t) == 0);
        size_t off = 0;
        int r = 0, rc;
        const char *p;
        size_t n;
        while ((rc = weft_stream_readuntil(b, sep, sep_len, &p, &n)) == 0) {
            REQUIRE(r < RECORDS);
            if (off + n != c->rec_end[r] || memcmp(p, c->data + off, n)) {
                fprintf(stderr, "sep %zu record %d differs\n", sep_len, r);
                check_failures++;
                break;
            }
            off += n;
            r++;
        }
        CHECK_EQ(rc, -ENODATA);
        CHECK_EQ(n, 0);
        CHECK_EQ(r, RECORDS);
        CHECK_EQ(weft_await(t, NULL), 0);
        weft_stream_close(a);
        weft_stream_close(b);
        free(c->data);
        free(c);
    }
    return NULL;
}

/* Twenty writers at once: each block arrives whole, in FIFO order. */
#define WRITERS 20
#define BLOCK 100000

static void *block_writer(void *arg)
{
    void **a = arg;
    static char blocks[WRITERS][BLOCK];
    int id = (int)P2I(a[1]);
    memset(blocks[id], 'A' + id, BLOCK);
    return I2P(weft_stream_write(a[0], blocks[id], BLOCK, NULL));
}

static void *fifo_writers(void *arg)
{
    (void)arg;
    weft_stream *a, *b;
    stream_pair(&a, &b, NULL);
    weft_task *t[WRITERS];
    void *args[WRITERS][2];
    for (int i = 0; i < WRITERS; i++) {
        args[i][0] = a;
        args[i][1] = I2P(i);
        REQUIRE(weft_spawn(block_writer, args[i], &t[i]) == 0);
    }
    static char buf[BLOCK];
    for (int i = 0; i < WRITERS; i++) {
        size_t got;
        CHECK_EQ(weft_stream_readexactly(b, buf, BLOCK, &got), 0);
        bool whole = true;
        for (int k = 0; k < BLOCK; k++)
            whole &= buf[k] == buf[0];
        CHECK(whole);
        CHECK_EQ(buf[0], 'A' + i); /* FIFO */
    }
    for (int i = 0; i < WRITERS; i++) {
        void *res;
        CHECK_EQ(weft_await(t[i], &res), 0);
        CHECK_EQ(P2I(res), 0);
    }
    weft_stream_close(a);
    weft_stream_close(b);
    return NULL;
}

static void *cut_write(void *arg)
{
    (void)arg;
    weft_stream *a, *b;
    stream_pair(&a, &b, NULL);
    size_t big = 8 << 20, w = 0;
    char *data = calloc(1, big);
    REQUIRE(data);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.02, &sc) == 0);
    CHECK_EQ(weft_stream_write(a, data, big, &w), -ETIMEDOUT);
    weft_scope_close(sc);
    CHECK(w > 0 && w < big);
    CHECK_EQ(weft_stream_write(a, "x", 1, &w), -EPIPE); /* broken */
    CHECK_EQ(w, 0);
    free(data);
    weft_stream_close(a);
    weft_stream_close(b);
    return NULL;
}

static void *write_big(void *arg)
{
    static char data[8 << 20];
    return I2P(weft_stream_write(arg, data, sizeof data, NULL));
}

static void *read_some(void *arg)
{
    char c;
    return I2P(weft_stream_read(arg, &c, 1));
}

static void *close_wakes(void *arg)
{
    (void)arg;
    weft_stream *a, *b;
    stream_pair(&a, &b, NULL);
    weft_task *w1, *w2, *r;
    REQUIRE(weft_spawn(write_big, a, &w1) == 0); /* blocks: b never reads */
    REQUIRE(weft_spawn(write_big, a, &w2) == 0); /* queued behind w1 */
    REQUIRE(weft_spawn(read_some, a, &r) == 0);  /* nothing to read */
    for (int i = 0; i < 5; i++)
        weft_yield();
    CHECK_EQ(weft_stream_close(a), 0);
    void *res;
    CHECK_EQ(weft_await(w1, &res), 0);
    CHECK_EQ(P2I(res), -EBADF);
    CHECK_EQ(weft_await(w2, &res), 0);
    CHECK_EQ(P2I(res), -EBADF);
    CHECK_EQ(weft_await(r, &res), 0);
    CHECK_EQ(P2I(res), -EBADF);
    CHECK_EQ(weft_stream_close(a), -EINVAL);
    weft_stream_close(b);
    return NULL;
}

static void *serve_hello(void *arg)
{
    weft_fd *srv = arg, *c;
    REQUIRE(weft_fd_accept(srv, &c, NULL, NULL) == 0);
    weft_stream *s;
    REQUIRE(weft_stream_open(c, NULL, &s) == 0);
    const char *p;
    size_t n;
    CHECK_EQ(weft_stream_readline(s, &p, &n), 0);
    CHECK_EQ(weft_stream_write(s, p, n, NULL), 0);
    weft_stream_close(s);
    return NULL;
}

static void *connection(void *arg)
{
    (void)arg;
    weft_fd *srv;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 0, &srv) == 0);
    weft_task *t;
    REQUIRE(weft_spawn(serve_hello, srv, &t) == 0);
    weft_stream *s;
    REQUIRE(weft_open_connection("127.0.0.1", weft_sock_port(srv), &s) == 0);
    CHECK_EQ(weft_stream_write(s, "hello\n", 6, NULL), 0);
    const char *p;
    size_t n;
    CHECK_EQ(weft_stream_readline(s, &p, &n), 0);
    CHECK(is(p, n, "hello\n"));
    CHECK_EQ(weft_await(t, NULL), 0);
    weft_stream_close(s);
    weft_fd_close(srv);

    /* The same over a Unix socket (the abstract namespace: no file). */
    char path[64];
    snprintf(path, sizeof path, "@weft-test-stream-%d", (int)getpid());
    REQUIRE(weft_unix_listen(path, 0, &srv) == 0);
    REQUIRE(weft_spawn(serve_hello, srv, &t) == 0);
    REQUIRE(weft_open_unix_connection(path, &s) == 0);
    CHECK_EQ(weft_stream_write(s, "hello\n", 6, NULL), 0);
    CHECK_EQ(weft_stream_readline(s, &p, &n), 0);
    CHECK(is(p, n, "hello\n"));
    CHECK_EQ(weft_await(t, NULL), 0);
    weft_stream_close(s);
    weft_fd_close(srv);
    CHECK_EQ(weft_open_unix_connection("@weft-nobody-listens", &s),
             -ECONNREFUSED);
    CHECK_EQ(weft_open_unix_connection(path, NULL), -EINVAL);
    return NULL;
}

/* 10,000 tasks write a record each to one stream at once: every record
 * arrives exactly once, whole.  (1,000 under sanitizers and emulators,
 * where each task switch costs a thousand times more.) */
#define MANY 10000
static weft_stream *many_s;
static int many_n;

static void *one_record(void *arg)
{
    char rec[32];
    int n = snprintf(rec, sizeof rec, "record %05d\n", (int)P2I(arg));
    return I2P(weft_stream_write(many_s, rec, (size_t)n, NULL));
}

static void *many_writes(void *arg)
{
    (void)arg;
    weft_stream *a, *b;
    stream_pair(&a, &b, NULL);
    many_s = a;
    static weft_task *t[MANY];
    static unsigned char seen[MANY];
    memset(seen, 0, sizeof seen);
    many_n = check_slow_env() ? MANY / 10 : MANY;
    for (int i = 0; i < many_n; i++)
        REQUIRE(weft_spawn(one_record, I2P(i), &t[i]) == 0);
    for (int i = 0; i < many_n; i++) {
        const char *p;
        size_t n;
        REQUIRE(weft_stream_readline(b, &p, &n) == 0);
        int id;
        REQUIRE(n == 13 && sscanf(p, "record %d", &id) == 1);
        REQUIRE(id >= 0 && id < many_n);
        seen[id]++;
    }
    for (int i = 0; i < many_n; i++) {
        void *r;
        CHECK_EQ(weft_await(t[i], &r), 0);
        CHECK_EQ(P2I(r), 0);
        CHECK_EQ(seen[i], 1);
    }
    weft_stream_close(a);
    weft_stream_close(b);
    return NULL;
}

/* 64 MiB in one write through a reader that takes its time: all of it
 * arrives, and the writer's memory is the caller's buffer only.  (8 MiB
 * under sanitizers and emulators.) */
static long big_n;
static void *slow_reader(void *arg)
{
    static char buf[1 << 16];
    long got = 0;
    ssize_t n;
    unsigned long sum = 0;
    int i = 0;
    while ((n = weft_stream_read(arg, buf, sizeof buf)) > 0) {
        for (ssize_t k = 0; k < n; k++)
            sum += (unsigned char)buf[k];
        got += n;
        if (++i % 64 == 0)
            weft_sleep(0.001);
    }
    return I2P(got == big_n ? (long)(sum & 0x7fffffff) : -1);
}

static void *big_write(void *arg)
{
    (void)arg;
    weft_stream *a, *b;
    stream_pair(&a, &b, NULL);
    big_n = check_slow_env() ? 8L << 20 : 64L << 20;
    size_t n = (size_t)big_n;
    char *data = malloc(n);
    REQUIRE(data);
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i++) {
        data[i] = (char)(i * 7 + (i >> 20));
        sum += (unsigned char)data[i];
    }
    weft_task *r;
    REQUIRE(weft_spawn(slow_reader, b, &r) == 0);
    size_t w = 0;
    CHECK_EQ(weft_stream_write(a, data, n, &w), 0);
    CHECK_EQ(w, n);
    weft_stream_shutdown_write(a);
    void *res;
    CHECK_EQ(weft_await(r, &res), 0);
    CHECK_EQ(P2I(res), (long)(sum & 0x7fffffff));
    free(data);
    weft_stream_close(a);
    weft_stream_close(b);
    return NULL;
}

/* A search that stopped without its separator (over the limit, or cut by
 * a deadline) must not make a search for another separator skip the bytes
 * it looked at. */
static void *other_separator(void *arg)
{
    (void)arg;
    weft_stream *a, *b;
    weft_stream_opts small = {.limit = 16};
    stream_pair(&a, &b, &small);
    CHECK_EQ(weft_stream_write(a, "abc\n0123456789abcdefghij", 24, NULL), 0);
    const char *p;
    size_t n;
    CHECK_EQ(weft_stream_readuntil(b, "::", 2, &p, &n), -EMSGSIZE);
    CHECK_EQ(weft_stream_readline(b, &p, &n), 0);
    CHECK(is(p, n, "abc\n"));
    weft_stream_close(a);
    weft_stream_close(b);

    stream_pair(&a, &b, NULL);
    CHECK_EQ(weft_stream_write(a, "abc\ndef", 7, NULL), 0);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.02, &sc) == 0);
    CHECK_EQ(weft_stream_readuntil(b, "::", 2, &p, &n), -ETIMEDOUT);
    weft_scope_close(sc);
    CHECK_EQ(weft_stream_shutdown_write(a), 0);
    CHECK_EQ(weft_stream_readline(b, &p, &n), 0);
    CHECK(is(p, n, "abc\n"));
    CHECK_EQ(weft_stream_readline(b, &p, &n), 0);
    CHECK(is(p, n, "def"));
    weft_stream_close(a);
    weft_stream_close(b);
    return NULL;
}

static void *misuse(void *arg)
{
    (void)arg;
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    weft_fd *fa, *fb;
    REQUIRE(weft_fd_open(sv[0], &fa) == 0);
    REQUIRE(weft_fd_open(sv[1], &fb) == 0);
    char c;
    const char *p;
    size_t n;
    CHECK_EQ(weft_stream_read((weft_stream *)(void *)fa, &c, 1), -EINVAL);
    weft_stream *s;
    CHECK_EQ(weft_stream_open(fa, NULL, NULL), -EINVAL);
    weft_stream_opts big = {.limit = (size_t)2 << 30};
    CHECK_EQ(weft_stream_open(fa, &big, &s), -EINVAL);
    REQUIRE(weft_stream_open(fa, NULL, &s) == 0);
    CHECK_EQ(weft_stream_open(fa, NULL, &s), -EINVAL); /* a stream already */
    CHECK_EQ(weft_stream_readuntil(s, "", 0, &p, &n), -EINVAL);
    CHECK_EQ(weft_stream_readuntil(s, "\n", 1, NULL, &n), -EINVAL);
    CHECK_EQ(weft_stream_read(s, NULL, 1), -EINVAL);
    CHECK_EQ(weft_stream_close(s), 0);
    CHECK_EQ(weft_stream_read(s, &c, 1), -EINVAL);
    CHECK_EQ(weft_stream_write(s, "x", 1, NULL), -EINVAL);
    weft_fd_close(fb);
    return NULL;
}

int main(void)
{
    check_begin();
    check_case_alarm_install();
    check_case("lines_separators_and_the_last_line", lines, NULL, 0);
    check_case("readexactly_hands_back_partial_data", exactly, NULL, 0);
    check_case("over_the_limit_nothing_is_taken", over_limit, NULL, 0);
    check_case("a_16mib_line_fails_at_the_limit", huge_line, NULL, 0);
    check_case("random_splits_and_separators", random_splits, NULL, 0);
    check_case("twenty_writers_fifo_and_contiguous", fifo_writers, NULL, 0);
    check_case("a_cut_write_breaks_the_stream", cut_write, NULL, 0);
    check_case("close_wakes_writers_and_reader", close_wakes, NULL, 0);
    check_case("open_connection", connection, NULL, 0);
    check_case("ten_thousand_writes_each_once", many_writes, NULL, 0);
    check_case("64mib_one_write_slow_reader", big_write, NULL, 0);
    check_case("another_separator_after_a_stopped_search", other_separator,
               NULL, 0);
    check_case("misuse", misuse, NULL, 0);
    return check_end();
}

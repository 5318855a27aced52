/*
 * fuzz_stream.c - the stream reader against an oracle.
 *
 * The input is a script.  A writer task sends its data into one end of a
 * Unix socketpair in chunks of the sizes the script gives (yielding
 * between them, so the reader sees data arrive piece by piece), then
 * half-closes.  The reader runs the script's operations (read, readexactly,
 * readuntil, readline) on a weft_stream over the other end, then drains
 * the rest with weft_stream_read.  Every result is checked against the
 * data itself; any violation abort()s:
 *
 * - every byte written comes back exactly once and in order, across all
 *   operations: the partial data of -ENODATA included, and the data an
 *   -EMSGSIZE leaves in the buffer (read later by the drain);
 * - readuntil/readline stop at the first occurrence of the separator (a
 *   search of its own here, not the library's), and -ENODATA comes only
 *   at end of stream with no separator left;
 * - the limit rules of stream.h: a successful readuntil is at most the
 *   limit long; -EMSGSIZE only when no separator ends within the limit,
 *   takes nothing and shows at least the limit; -ENODATA hands back at
 *   most the limit;
 * - no other error, no hang (a 5 s scope), no weft allocation left.
 *
 * Script layout (bytes past the end of the input read as 0):
 *   1  separator length - 1 (low 2 bits), then that many separator bytes
 *   2  limit, little-endian (0: the default, 64 KiB)
 *   1  chunk count (mod 16; 0: one write of everything), then per chunk
 *      2 bytes size (0 means 1) and 1 byte yields after it (mod 4)
 *   1  operation count (mod 32), then per operation 1 byte kind (mod 4:
 *      read, readexactly, readuntil, readline) and 2 bytes n
 *   the rest: the data, at most 64 KiB.
 *
 * fuzz/corpus/stream/regression-* are inputs that once found a bug (a
 * search with another separator after -EMSGSIZE skipped bytes).
 *
 * Built with libFuzzer (make fuzz), and replayed over fuzz/corpus/ by
 * tests/test_fuzz_corpus.c in every ordinary build.
 */
#define _GNU_SOURCE
#include "weft.h"

#include "alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_DATA (64 * 1024)
#define MAX_CHUNKS 16
#define MAX_OPS 32
#define MAX_WRITES 4096 /* then the rest in one write: bounds a run's cost */
#define DEFAULT_LIMIT (64 * 1024)
#define NONE SIZE_MAX

enum { OP_READ, OP_READEXACTLY, OP_READUNTIL, OP_READLINE };

typedef struct script {
    uint8_t sep[4];
    size_t seplen;
    size_t limit; /* as given to weft_stream_open (0: the default) */
    size_t nchunks;
    size_t chunk[MAX_CHUNKS];
    int yields[MAX_CHUNKS];
    size_t nops;
    int op[MAX_OPS];
    size_t op_n[MAX_OPS];
    const uint8_t *data;
    size_t total;
} script;

/* The reader's progress: data[0..pos) has been handed back. */
static const script *sc;
static size_t pos;
static uint8_t buf[MAX_DATA + 1];


_Noreturn static void fail(const char *what)
{
    fprintf(stderr, "fuzz_stream: %s (at byte %zu of %zu)\n", what, pos,
            sc->total);
    abort();
}

/* ---- parsing ---- */

typedef struct cursor {
    const uint8_t *p;
    size_t n, at;
} cursor;

static unsigned byte(cursor *c)
{
    return c->at < c->n ? c->p[c->at++] : 0;
}

static size_t u16(cursor *c)
{
    unsigned lo = byte(c);
    return lo | byte(c) << 8;
}

static void parse(const uint8_t *in, size_t n, script *s)
{
    cursor c = {in, n, 0};
    memset(s, 0, sizeof *s);
    s->seplen = 1 + (byte(&c) & 3);
    for (size_t i = 0; i < s->seplen; i++)
        s->sep[i] = (uint8_t)byte(&c);
    s->limit = u16(&c);
    s->nchunks = byte(&c) % MAX_CHUNKS;
    for (size_t i = 0; i < s->nchunks; i++) {
        size_t k = u16(&c);
        s->chunk[i] = k ? k : 1;
        s->yields[i] = (int)(byte(&c) % 4);
    }
    s->nops = byte(&c) % MAX_OPS;
    for (size_t i = 0; i < s->nops; i++) {
        s->op[i] = (int)(byte(&c) % 4);
        s->op_n[i] = u16(&c);
    }
    s->data = in + c.at;
    s->total = c.at < n ? n - c.at : 0;
    if (s->total > MAX_DATA)
        s->total = MAX_DATA;
}

/* ---- the oracle ---- */

/* Length up to and including the first separator at or after pos, or
 * NONE.  A plain search, independent of the library's memchr/memmem. */
static size_t until_sep(const uint8_t *sep, size_t seplen)
{
    for (size_t i = pos; i + seplen <= sc->total; i++) {
        size_t k = 0;
        while (k < seplen && sc->data[i + k] == sep[k])
            k++;
        if (k == seplen)
            return i + seplen - pos;
    }
    return NONE;
}

/* p[0..n) must be the next n bytes; take them if `take`. */
static void expect(const void *p, size_t n, bool take)
{
    if (n > sc->total - pos)
        fail("more bytes than were written");
    if (n && memcmp(p, sc->data + pos, n) != 0)
        fail("bytes differ from those written");
    if (take)
        pos += n;
}

static void check_read(weft_stream *s, size_t n)
{
    ssize_t k = weft_stream_read(s, buf, n);
    if (k < 0 || (size_t)k > n)
        fail("read: error or too many");
    if (k == 0 && n > 0 && pos != sc->total)
        fail("read: end of stream before the end");
    expect(buf, (size_t)k, true);
}

static void check_readexactly(weft_stream *s, size_t n)
{
    size_t got = NONE;
    int rc = weft_stream_readexactly(s, buf, n, &got);
    if (rc == 0 && got != n)
        fail("readexactly: 0 with a short count");
    if (rc == -ENODATA && (got >= n || pos + got != sc->total))
        fail("readexactly: -ENODATA before the end");
    if (rc != 0 && rc != -ENODATA)
        fail("readexactly: unexpected error");
    expect(buf, got, true);
}

/* readuntil, or readline (sep "\n", -ENODATA reported as 0). */
static void check_until(weft_stream *s, const uint8_t *sep, size_t seplen,
                        bool line)
{
    size_t limit = sc->limit ? sc->limit : DEFAULT_LIMIT;
    size_t want = until_sep(sep, seplen);
    const char *d = NULL;
    size_t len = NONE;
    int rc = line ? weft_stream_readline(s, &d, &len)
                  : weft_stream_readuntil(s, sep, seplen, &d, &len);
    if (rc == 0 && line && want == NONE)
        rc = -ENODATA; /* the last, unterminated line */
    if (rc == 0) {
        if (len != want)
            fail("readuntil: not the first separator");
        if (len > limit)
            fail("readuntil: longer than the limit");
        expect(d, len, true);
    } else if (rc == -EMSGSIZE) {
        if (want != NONE && want <= limit)
            fail("readuntil: -EMSGSIZE with a separator within the limit");
        if (len < limit)
            fail("readuntil: -EMSGSIZE showing less than the limit");
        expect(d, len, false); /* nothing taken: the drain reads it */
    } else if (rc == -ENODATA) {
        if (want != NONE)
            fail("readuntil: -ENODATA with a separator left");
        if (pos + len != sc->total || len > limit)
            fail("readuntil: -ENODATA not handing back the rest");
        expect(d, len, true);
    } else {
        fail("readuntil: unexpected error");
    }
}

/* ---- the run ---- */

static void *writer(void *arg)
{
    weft_fd *w = arg;
    size_t off = 0;
    for (size_t i = 0, writes = 0; off < sc->total; writes++) {
        size_t n = sc->total - off;
        if (sc->nchunks && writes < MAX_WRITES && sc->chunk[i] < n)
            n = sc->chunk[i];
        if (weft_fd_write(w, sc->data + off, n, NULL))
            fail("writer: write failed");
        off += n;
        if (sc->nchunks) {
            for (int y = 0; y < sc->yields[i]; y++)
                weft_yield();
            i = (i + 1) % sc->nchunks;
        }
    }
    if (weft_fd_shutdown(w, SHUT_WR) || weft_fd_close(w))
        fail("writer: shutdown or close failed");
    return NULL;
}

static void run_ops(weft_stream *s)
{
    for (size_t i = 0; i < sc->nops; i++) {
        size_t n = sc->op_n[i];
        switch (sc->op[i]) {
        case OP_READ:
            check_read(s, n);
            break;
        case OP_READEXACTLY:
            check_readexactly(s, n);
            break;
        case OP_READUNTIL:
            check_until(s, sc->sep, sc->seplen, false);
            break;
        default:
            check_until(s, (const uint8_t *)"\n", 1, true);
            break;
        }
    }
    /* The drain: every byte not handed back yet, -EMSGSIZE's included;
     * each read takes at least one byte until the end. */
    for (size_t i = 0; i <= sc->total; i++) {
        size_t before = pos;
        check_read(s, 4096);
        if (pos == before)
            break;
    }
    if (pos != sc->total)
        fail("bytes left unread after end of stream");
}

static void *reader_main(void *arg)
{
    (void)arg;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        fail("socketpair");
    weft_fd *r, *w;
    if (weft_fd_open(sv[0], &r) || weft_fd_open(sv[1], &w))
        fail("weft_fd_open");
    weft_stream_opts o = {.limit = sc->limit};
    weft_stream *s;
    if (weft_stream_open(r, &o, &s))
        fail("weft_stream_open");
    weft_task *wt;
    if (weft_spawn(writer, w, &wt))
        fail("weft_spawn");
    weft_scope *scope;
    if (weft_scope_open(5.0, &scope))
        fail("weft_scope_open");
    run_ops(s);
    if (weft_scope_close(scope) != 0)
        fail("the reader timed out (a hang)");
    if (weft_await(wt, NULL) || weft_stream_close(s))
        fail("await or close failed");
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    script s;
    parse(in, n, &s);
    sc = &s;
    pos = 0;
    weft_run_opts o = {.flags = WEFT_RUN_NO_SIGINT};
    if (weft_run_ex(reader_main, NULL, &o, NULL))
        fail("weft_run failed");
    if (__atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED))
        fail("weft allocations left after the run");
    sc = NULL;
    return 0;
}

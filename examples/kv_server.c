/*
 * kv_server.c - a small key-value server speaking the Redis protocol
 * (RESP2), enough for redis-cli and redis-benchmark: a task per
 * connection (weft_serve), one hash table shared by all of them - with no
 * lock, since every task runs on the loop's one thread and a command never
 * waits in the middle.
 *
 *     kv_server [--port N] [--host ADDR]    (default: every address, 6379)
 *
 * Commands: PING [msg], ECHO msg, GET key, SET key value [EX s | PX ms],
 * DEL key..., EXISTS key..., DBSIZE, FLUSHALL, SELECT 0, QUIT, and what the
 * clients ask at startup: CONFIG GET (save and appendonly), COMMAND (an
 * empty list).  Keys and values are binary safe.  Requests come as RESP
 * arrays or as inline lines ("PING\r\n", split on spaces, no quoting).
 *
 * Pipelining: a connection executes every complete request it has
 * buffered, collecting the replies, and writes them in one go before it
 * reads again - one read and one write per batch, as Redis does.  A
 * malformed request, or one over the size limits, gets an error reply and
 * the connection is closed.  Port 0 picks a free port; the first line
 * printed says which.  Ctrl-C stops it.
 */
#define _DEFAULT_SOURCE /* strncasecmp, getentropy */
#include "weft.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_BULK (16u << 20)    /* one key or value (Redis allows 512 MiB) */
#define MAX_REQUEST (64u << 20) /* one request, all its arguments */
#define MAX_ARGS (1u << 20)     /* Redis's limit too */
#define MAX_INLINE (64u << 10)  /* an inline line, as Redis */
#define OUT_FLUSH (64u << 10)   /* write replies out beyond this much */

/* ------------------------------------------------------------------ */
/* The table: chained hashing, doubled when it holds a key per bucket. */

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    double expires; /* weft_now() seconds; 0: never */
    size_t klen, vlen;
    char data[]; /* the key, then the value */
} entry;

typedef struct table {
    entry **buckets;
    size_t mask; /* buckets - 1, a power of two minus one */
    size_t count;
    uint64_t seed; /* random: clients cannot aim keys at one bucket */
} table;

/* FNV-1a from a random start. */
static uint64_t hash(const table *t, const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull ^ t->seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static int table_init(table *t)
{
    *t = (table){.mask = 63};
    if (getentropy(&t->seed, sizeof t->seed) != 0)
        t->seed = (uint64_t)getpid() * 2654435761u;
    t->buckets = calloc(t->mask + 1, sizeof *t->buckets);
    return t->buckets ? 0 : -ENOMEM;
}

static void table_free(table *t)
{
    for (size_t i = 0; i <= t->mask; i++)
        for (entry *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->buckets);
}

/* The link pointing at key's entry, or at the NULL ending its chain. */
static entry **find(table *t, const char *k, size_t klen, uint64_t h)
{
    entry **pp = &t->buckets[h & t->mask];
    while (*pp && !((*pp)->hash == h && (*pp)->klen == klen &&
                    memcmp((*pp)->data, k, klen) == 0))
        pp = &(*pp)->next;
    return pp;
}

static void unlink_entry(table *t, entry **pp)
{
    entry *e = *pp;
    *pp = e->next;
    free(e);
    t->count--;
}

/* The live entry of key, or NULL; an expired one is removed on the way
 * (expiry is lazy, as a first step of Redis's). */
static entry *table_get(table *t, const char *k, size_t klen)
{
    entry **pp = find(t, k, klen, hash(t, k, klen));
    if (*pp && (*pp)->expires && (*pp)->expires <= weft_now()) {
        unlink_entry(t, pp);
        return NULL;
    }
    return *pp;
}

static bool table_del(table *t, const char *k, size_t klen)
{
    bool live = table_get(t, k, klen) != NULL;
    if (live)
        unlink_entry(t, find(t, k, klen, hash(t, k, klen)));
    return live;
}

static void grow(table *t)
{
    size_t mask = t->mask * 2 + 1;
    entry **b = calloc(mask + 1, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i <= t->mask; i++)
        for (entry *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & mask];
            b[e->hash & mask] = e;
        }
    free(t->buckets);
    t->buckets = b;
    t->mask = mask;
}

static int table_set(table *t, const char *k, size_t klen, const char *v,
                     size_t vlen, double expires)
{
    entry *e = malloc(sizeof *e + klen + vlen);
    if (!e)
        return -ENOMEM;
    *e = (entry){.hash = hash(t, k, klen),
                 .expires = expires,
                 .klen = klen,
                 .vlen = vlen};
    memcpy(e->data, k, klen);
    memcpy(e->data + klen, v, vlen);
    entry **pp = find(t, k, klen, e->hash);
    if (*pp)
        unlink_entry(t, pp);
    e->next = t->buckets[e->hash & t->mask];
    t->buckets[e->hash & t->mask] = e;
    if (++t->count > t->mask)
        grow(t);
    return 0;
}

/* ------------------------------------------------------------------ */
/* A connection: unparsed input in[start, end), replies not sent in out. */

typedef struct arg {
    const char *p;
    size_t n;
} arg;

typedef struct conn {
    weft_stream *s;
    table *t;
    char *in;
    size_t start, end, cap;
    char *out;
    size_t olen, ocap;
    arg *args; /* the request being parsed: pointers into in */
    size_t nargs, acap;
    bool quit; /* close once the replies are out */
} conn;

static bool reserve(conn *c, size_t n)
{
    if (c->ocap - c->olen >= n)
        return true;
    size_t cap = c->ocap ? c->ocap : 16384;
    while (cap - c->olen < n)
        cap *= 2;
    char *p = realloc(c->out, cap);
    if (!p)
        return false;
    c->out = p;
    c->ocap = cap;
    return true;
}

static void put(conn *c, const void *p, size_t n)
{
    if (!reserve(c, n)) {
        c->quit = true; /* out of memory: this client goes */
        return;
    }
    memcpy(c->out + c->olen, p, n);
    c->olen += n;
}

/* A header such as "$5\r\n" or ":1\r\n". */
static void put_num(conn *c, char type, long long n)
{
    char buf[32];
    put(c, buf, (size_t)snprintf(buf, sizeof buf, "%c%lld\r\n", type, n));
}

static void put_bulk(conn *c, const char *p, size_t n)
{
    put_num(c, '$', (long long)n);
    put(c, p, n);
    put(c, "\r\n", 2);
}

/* An error reply: one line, so control bytes of the client's are masked. */
static void put_error(conn *c, const char *msg, const arg *quoted)
{
    char line[160];
    int n = snprintf(line, sizeof line, "-ERR %s", msg);
    if (quoted) {
        for (size_t i = 0; i < quoted->n && i < 64 && n < 150; i++) {
            unsigned char ch = (unsigned char)quoted->p[i];
            line[n++] = ch >= 32 && ch < 127 ? (char)ch : '?';
        }
        line[n++] = '\'';
    }
    put(c, line, (size_t)n);
    put(c, "\r\n", 2);
}

static void put_str(conn *c, const char *s)
{
    put(c, s, strlen(s));
}

/* Writes the collected replies. */
static int flush(conn *c)
{
    int rc = c->olen ? weft_stream_write(c->s, c->out, c->olen, NULL) : 0;
    c->olen = 0;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Commands.  args[0] is the name; the arity was checked. */

static bool is(const arg *a, const char *word)
{
    return a->n == strlen(word) && strncasecmp(a->p, word, a->n) == 0;
}

/* A whole decimal number, or false. */
static bool to_ll(const arg *a, long long *v)
{
    char buf[24];
    if (a->n == 0 || a->n >= sizeof buf)
        return false;
    memcpy(buf, a->p, a->n);
    buf[a->n] = 0;
    char *end;
    errno = 0;
    *v = strtoll(buf, &end, 10);
    return !*end && errno == 0;
}

static void cmd_ping(conn *c, arg *a, size_t n)
{
    if (n == 1)
        put_str(c, "+PONG\r\n");
    else
        put_bulk(c, a[1].p, a[1].n);
}

static void cmd_get(conn *c, arg *a, size_t n)
{
    (void)n;
    entry *e = table_get(c->t, a[1].p, a[1].n);
    if (e)
        put_bulk(c, e->data + e->klen, e->vlen);
    else
        put_str(c, "$-1\r\n");
}

static void cmd_set(conn *c, arg *a, size_t n)
{
    double expires = 0;
    long long v;
    if (n == 5 && (is(&a[3], "EX") || is(&a[3], "PX"))) {
        if (!to_ll(&a[4], &v) || v <= 0 || v > 100000000000LL) {
            put_error(c, "invalid expire time in 'set' command", NULL);
            return;
        }
        expires = weft_now() + (double)v / (is(&a[3], "EX") ? 1 : 1000);
    } else if (n != 3) {
        put_error(c, "syntax error", NULL);
        return;
    }
    if (table_set(c->t, a[1].p, a[1].n, a[2].p, a[2].n, expires) != 0)
        put_error(c, "out of memory", NULL);
    else
        put_str(c, "+OK\r\n");
}

static void cmd_del(conn *c, arg *a, size_t n)
{
    long long k = 0;
    for (size_t i = 1; i < n; i++)
        k += table_del(c->t, a[i].p, a[i].n);
    put_num(c, ':', k);
}

static void cmd_exists(conn *c, arg *a, size_t n)
{
    long long k = 0;
    for (size_t i = 1; i < n; i++)
        k += table_get(c->t, a[i].p, a[i].n) != NULL;
    put_num(c, ':', k);
}

static void cmd_dbsize(conn *c, arg *a, size_t n)
{
    (void)a, (void)n;
    put_num(c, ':', (long long)c->t->count); /* expired keys included */
}

static void cmd_flushall(conn *c, arg *a, size_t n)
{
    (void)a, (void)n;
    table fresh;
    if (table_init(&fresh) != 0) {
        put_error(c, "out of memory", NULL);
        return;
    }
    table_free(c->t);
    *c->t = fresh; /* at the same address, which every task holds */
    put_str(c, "+OK\r\n");
}

/* redis-benchmark reads save and appendonly: we do neither. */
static void cmd_config(conn *c, arg *a, size_t n)
{
    if (!is(&a[1], "GET")) {
        put_str(c, "+OK\r\n"); /* CONFIG SET and the like */
        return;
    }
    bool save = n == 3 && (is(&a[2], "save") || is(&a[2], "*"));
    bool aof = n == 3 && (is(&a[2], "appendonly") || is(&a[2], "*"));
    put_num(c, '*', 2 * (save + aof));
    if (save)
        put_str(c, "$4\r\nsave\r\n$0\r\n\r\n");
    if (aof)
        put_str(c, "$10\r\nappendonly\r\n$2\r\nno\r\n");
}

static void cmd_select(conn *c, arg *a, size_t n)
{
    (void)n;
    long long db;
    if (to_ll(&a[1], &db) && db == 0)
        put_str(c, "+OK\r\n");
    else
        put_error(c, "DB index is out of range", NULL);
}

static void cmd_other(conn *c, arg *a, size_t n)
{
    (void)n;
    if (is(&a[0], "ECHO"))
        put_bulk(c, a[1].p, a[1].n);
    else if (is(&a[0], "COMMAND"))
        put_str(c, "*0\r\n"); /* no command table: clients do without */
    else if (is(&a[0], "QUIT")) {
        put_str(c, "+OK\r\n");
        c->quit = true;
    }
}

typedef struct command {
    const char *name;
    int arity; /* as Redis: n arguments exactly, or -n: at least n */
    int max;   /* at most, 0: no limit */
    void (*fn)(conn *c, arg *a, size_t n);
} command;

static const command commands[] = {
    {"GET", 2, 0, cmd_get},
    {"SET", -3, 5, cmd_set},
    {"PING", -1, 2, cmd_ping},
    {"DEL", -2, 0, cmd_del},
    {"EXISTS", -2, 0, cmd_exists},
    {"DBSIZE", 1, 0, cmd_dbsize},
    {"FLUSHALL", -1, 2, cmd_flushall},
    {"CONFIG", -2, 0, cmd_config},
    {"SELECT", 2, 0, cmd_select},
    {"ECHO", 2, 0, cmd_other},
    {"COMMAND", -1, 0, cmd_other},
    {"QUIT", -1, 0, cmd_other},
};

static void execute(conn *c, arg *a, size_t n)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        const command *cmd = &commands[i];
        if (!is(&a[0], cmd->name))
            continue;
        if ((cmd->arity > 0 && n != (size_t)cmd->arity) ||
            (cmd->arity < 0 && n < (size_t)-cmd->arity) ||
            (cmd->max && n > (size_t)cmd->max))
            put_error(c, "wrong number of arguments for '", &a[0]);
        else
            cmd->fn(c, a, n);
        return;
    }
    put_error(c, "unknown command '", &a[0]);
}

/* ------------------------------------------------------------------ */
/* Parsing.  Each parser returns 1 with a request in c->args and its bytes
 * taken, 0 if more input is needed (nothing taken: parsing restarts from
 * the request's first byte when more has come), or -1 after putting an
 * error reply (the connection then closes). */

static bool push_arg(conn *c, const char *p, size_t n)
{
    if (c->nargs == c->acap) {
        size_t cap = c->acap ? c->acap * 2 : 16;
        arg *a = realloc(c->args, cap * sizeof *a);
        if (!a)
            return false;
        c->args = a;
        c->acap = cap;
    }
    c->args[c->nargs++] = (arg){p, n};
    return true;
}

static int protocol_error(conn *c, const char *what)
{
    char msg[96];
    snprintf(msg, sizeof msg, "Protocol error: %s", what);
    put_error(c, msg, NULL);
    return -1;
}

/* "<type><number>\r\n" at *p: 1 with *v and *p past it, 0 if incomplete,
 * -1 if malformed. */
static int parse_num(const char **p, const char *end, char type, long long *v)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        return end - *p > 24 ? -1 : 0;
    if (**p != type || nl - *p < 3 || nl[-1] != '\r')
        return -1;
    *v = 0;
    bool neg = (*p)[1] == '-';
    for (const char *d = *p + 1 + neg; d < nl - 1; d++) {
        if (*d < '0' || *d > '9' || *v > MAX_REQUEST)
            return -1;
        *v = *v * 10 + (*d - '0');
    }
    *v = neg ? -*v : *v;
    *p = nl + 1;
    return 1;
}

/* "*<n>\r\n" then n times "$<len>\r\n<bytes>\r\n". */
static int parse_array(conn *c)
{
    const char *p = c->in + c->start, *end = c->in + c->end;
    long long n, len;
    int rc = parse_num(&p, end, '*', &n);
    if (rc <= 0)
        return rc ? protocol_error(c, "invalid multibulk length") : 0;
    if (n > (long long)MAX_ARGS)
        return protocol_error(c, "invalid multibulk length");
    for (long long i = 0; i < n; i++) {
        if (p == end)
            return 0;
        if (*p != '$')
            return protocol_error(c, "expected '$'");
        if ((rc = parse_num(&p, end, '$', &len)) <= 0)
            return rc ? protocol_error(c, "invalid bulk length") : 0;
        if (len < 0 || len > (long long)MAX_BULK ||
            (size_t)(p - (c->in + c->start)) + (size_t)len > MAX_REQUEST)
            return protocol_error(c, "invalid bulk length");
        if (end - p < len + 2)
            return 0;
        if (p[len] != '\r' || p[len + 1] != '\n')
            return protocol_error(c, "bulk not ended by CRLF");
        if (!push_arg(c, p, (size_t)len))
            return protocol_error(c, "out of memory");
        p += len + 2;
    }
    c->start = (size_t)(p - c->in);
    return 1; /* n <= 0: an empty request, skipped as Redis does */
}

/* A line of words separated by spaces (telnet, redis-cli's inline). */
static int parse_inline(conn *c)
{
    const char *p = c->in + c->start, *end = c->in + c->end;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return end - p > MAX_INLINE ? protocol_error(c, "too big inline "
                                                        "request")
                                    : 0;
    c->start = (size_t)(nl + 1 - c->in);
    const char *stop = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    while (p < stop) {
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < stop && *p != ' ' && *p != '\t')
            p++;
        if (p > w && !push_arg(c, w, (size_t)(p - w)))
            return protocol_error(c, "out of memory");
    }
    return 1;
}

/* Executes every complete request buffered.  Returns 0 when more input is
 * needed, -1 when the connection is to close. */
static int run_buffered(conn *c)
{
    while (!c->quit && c->start < c->end) {
        c->nargs = 0;
        int rc = c->in[c->start] == '*' ? parse_array(c) : parse_inline(c);
        if (rc <= 0)
            return rc;
        if (c->nargs > 0)
            execute(c, c->args, c->nargs);
        if (c->olen >= OUT_FLUSH && flush(c) != 0)
            return -1; /* large replies: do not hoard them */
    }
    return c->quit ? -1 : 0;
}

/* Reads more input after what is buffered, making room first.  Returns
 * the bytes read, 0 at end of stream, or an error. */
static ssize_t fill(conn *c)
{
    if (c->start > 0) {
        memmove(c->in, c->in + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == c->cap) { /* a request larger than the buffer: grow */
        size_t cap = c->cap ? c->cap * 2 : 65536;
        char *p = cap <= 2 * (size_t)MAX_REQUEST ? realloc(c->in, cap) : 0;
        if (!p)
            return -ENOMEM;
        c->in = p;
        c->cap = cap;
    }
    return weft_stream_read(c->s, c->in + c->end, c->cap - c->end);
}

static void serve_conn(weft_stream *s, void *ctx)
{
    conn c = {.s = s, .t = ctx};
    for (;;) {
        int rc = run_buffered(&c);
        if (flush(&c) != 0 || rc < 0)
            break;
        ssize_t k = fill(&c);
        if (k <= 0)
            break; /* end of stream, error, or shutdown */
        c.end += (size_t)k;
    }
    free(c.in);
    free(c.out);
    free(c.args);
}

/* ------------------------------------------------------------------ */

typedef struct config {
    const char *host;
    int port;
} config;

static void *main_task(void *arg)
{
    config *cfg = arg;
    table t;
    weft_fd *srv;
    int rc = table_init(&t);
    if (rc)
        return weft_fail(rc, "cannot allocate the table");
    if ((rc = weft_tcp_listen(cfg->host, cfg->port, 0, &srv))) {
        table_free(&t);
        return weft_fail(rc, "cannot listen on port %d", cfg->port);
    }
    printf("kv_server listening on port %d\n", weft_sock_port(srv));
    fflush(stdout);
    weft_serve_opts opts = {.grace = 0.5};
    rc = weft_serve(srv, serve_conn, &t, &opts); /* until Ctrl-C */
    weft_fd_close(srv);
    table_free(&t); /* every connection has ended */
    if (rc != -ECANCELED)
        return weft_fail(rc, "accepting connections");
    return NULL;
}

static bool parse_port(const char *arg, int *port)
{
    char *end;
    long p = strtol(arg, &end, 10);
    *port = (int)p;
    return *arg && !*end && p >= 0 && p <= 65535;
}

int main(int argc, char **argv)
{
    config cfg = {.host = NULL, .port = 6379};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc &&
            parse_port(argv[i + 1], &cfg.port)) {
            i++;
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            cfg.host = argv[++i];
        } else {
            printf("usage: %s [--port N] [--host ADDR]\n"
                   "  A key-value server speaking the Redis protocol "
                   "(GET, SET, DEL, PING, ...;\n"
                   "  default port 6379, every address; port 0 picks a "
                   "free one).  Ctrl-C stops it.\n",
                   argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    weft_run_opts opts = {.flags = WEFT_RUN_RERAISE_SIGINT};
    int rc = weft_run_ex(main_task, &cfg, &opts, NULL);
    if (rc) {
        fprintf(stderr, "kv_server: %s: %s\n", weft_strerror(rc),
                weft_errmsg() ? weft_errmsg() : "");
        return 1;
    }
    return 0;
}

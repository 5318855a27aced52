/*
 * http_hello.c - an HTTP/1.1 server that says "Hello, world!": weft_serve
 * runs a task per connection, and each task reads its requests line by
 * line from a buffered stream, in plain sequential code.
 *
 *     http_hello [--port N] [--host ADDR]    (default: every address, 8080)
 *
 * GET / (or HEAD /) answers 200 with "Hello, world!\n"; other paths 404;
 * other methods 405; a malformed request 400 and an oversized header block
 * 431, both closing the connection.  Connections are kept alive as HTTP/1.1
 * says (HTTP/1.0: only when asked), and pipelined requests are answered in
 * order - the stream's buffer holds the requests that arrived early.  Port 0
 * picks a free port; the first line printed says which.  Ctrl-C stops it:
 * requests in flight get half a second to finish.
 */
#include "weft.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The longest header block (request line included) accepted, as nginx's
 * default large_client_header_buffers: it bounds each connection's memory. */
#define MAX_HEADER_BYTES 8192

static const char hello[] = "Hello, world!\n";

typedef struct request {
    bool head;       /* HEAD: headers only */
    bool root;       /* the path is "/" */
    bool keep_alive; /* the connection stays open after the response */
} request;

/* The line without its "\r\n" (a bare "\n" is tolerated, as most servers
 * do). */
static size_t trim_eol(const char *line, size_t len)
{
    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    return len;
}

/* Does the comma-separated list v (a Connection header) hold token tok? */
static bool has_token(const char *v, size_t len, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i < len;) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        size_t k = j;
        while (k > i && (v[k - 1] == ' ' || v[k - 1] == '\t'))
            k--;
        if (k - i == tl && strncasecmp(v + i, tok, tl) == 0)
            return true;
        i = j;
    }
    return false;
}

/* "METHOD /path HTTP/1.x": fills rq; returns 0, 400 or 405. */
static int parse_request_line(const char *l, size_t len, request *rq)
{
    const char *sp1 = memchr(l, ' ', len);
    const char *sp2 =
        sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - l)) : NULL;
    if (!sp1 || !sp2 || sp1 == l || sp2 == sp1 + 1)
        return 400;
    size_t vlen = len - (size_t)(sp2 + 1 - l);
    if (vlen != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 &&
                      memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
        return 400;                 /* also catches a third space */
    rq->keep_alive = sp2[8] == '1'; /* HTTP/1.1's default */
    size_t mlen = (size_t)(sp1 - l);
    rq->head = mlen == 4 && memcmp(l, "HEAD", 4) == 0;
    rq->root = sp2 - sp1 == 2 && sp1[1] == '/';
    if (!rq->head && !(mlen == 3 && memcmp(l, "GET", 3) == 0))
        return 405;
    return 0;
}

/* One header line: returns 0 or 400.  A request with a body closes the
 * connection after the answer: GET and HEAD have no use for one, and
 * not reading it is how we stay in step with the next request. */
static int parse_header(const char *l, size_t len, request *rq)
{
    const char *colon = memchr(l, ':', len);
    if (!colon || colon == l || l[0] == ' ' || l[0] == '\t' ||
        colon[-1] == ' ' || colon[-1] == '\t')
        return 400; /* no name, obsolete folding, or space before ':' */
    size_t nlen = (size_t)(colon - l);
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    if (nlen == 10 && strncasecmp(l, "connection", 10) == 0) {
        if (has_token(v, vlen, "close"))
            rq->keep_alive = false;
        else if (has_token(v, vlen, "keep-alive"))
            rq->keep_alive = true;
    } else if ((nlen == 14 && strncasecmp(l, "content-length", 14) == 0 &&
                strtol(v, NULL, 10) != 0) ||
               (nlen == 17 && strncasecmp(l, "transfer-encoding", 17) == 0)) {
        rq->keep_alive = false;
    }
    return 0;
}

/* The next line of the head, without its end of line.  Returns 0; 431
 * past the header limit; -1 at end of stream (a cut line included), on an
 * error or at shutdown. */
static int next_line(weft_stream *s, const char **l, size_t *len, size_t *total)
{
    int rc = weft_stream_readline(s, l, len);
    if (rc == -EMSGSIZE || (rc == 0 && (*total += *len) > MAX_HEADER_BYTES))
        return 431;
    if (rc != 0 || *len == 0 || (*l)[*len - 1] != '\n')
        return -1;
    *len = trim_eol(*l, *len);
    return 0;
}

/* Reads one request's head.  Returns 0, an HTTP status to answer with
 * (400, 405, 431), or -1 when the connection is done. */
static int read_request(weft_stream *s, request *rq)
{
    const char *l;
    size_t len, total = 0;
    int rc;
    do /* RFC 9112 2.2: empty lines before a request are ignored */
        rc = next_line(s, &l, &len, &total);
    while (rc == 0 && len == 0);
    if (rc)
        return rc;
    int status = parse_request_line(l, len, rq);
    while ((rc = next_line(s, &l, &len, &total)) == 0 && len > 0)
        if (status != 400) /* a 405 honours Connection too */
            status = parse_header(l, len, rq) ? 400 : status;
    return rc ? rc : status;
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Bad Request";
    }
}

/* Writes the whole response with one write. */
static int respond(weft_stream *s, int status, const request *rq)
{
    char body[64], buf[256];
    int blen = status == 200
                   ? snprintf(body, sizeof body, "%s", hello)
                   : snprintf(body, sizeof body, "%s\n", reason(status));
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %d\r\n"
                     "%s%s\r\n"
                     "%.*s",
                     status, reason(status), blen,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     rq->keep_alive ? "" : "Connection: close\r\n",
                     rq->head ? 0 : blen, body);
    return weft_stream_write(s, buf, (size_t)n, NULL);
}

/* After an error response, the client may still be sending (a long header,
 * a body): closing with unread input makes the kernel send a reset, which
 * can destroy the response before the client reads it.  So, as Apache's
 * lingering close does, send end of stream and drain for a short while. */
static void linger_close(weft_stream *s)
{
    weft_scope *sc;
    char buf[4096];
    if (weft_stream_shutdown_write(s) != 0 || weft_scope_open(1.0, &sc) != 0)
        return;
    for (size_t n = 0; n < 1 << 20;) {
        ssize_t k = weft_stream_read(s, buf, sizeof buf);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    weft_scope_close(sc);
}

/* One connection: requests answered in order until either side closes. */
static void serve_conn(weft_stream *s, void *ctx)
{
    (void)ctx;
    for (;;) {
        request rq = {0};
        int status = read_request(s, &rq);
        if (status < 0)
            return; /* weft_serve closes the stream */
        if (status == 0)
            status = rq.root ? 200 : 404;
        else if (status != 405)
            rq.keep_alive = false; /* 400, 431: out of step, stop here */
        int rc = respond(s, status, &rq);
        if (rc == 0 && status >= 400 && !rq.keep_alive)
            linger_close(s);
        if (rc != 0 || !rq.keep_alive)
            return;
    }
}

typedef struct config {
    const char *host;
    int port;
} config;

static void *main_task(void *arg)
{
    config *cfg = arg;
    weft_fd *srv;
    int rc = weft_tcp_listen(cfg->host, cfg->port, 0, &srv);
    if (rc)
        return weft_fail(rc, "cannot listen on port %d", cfg->port);
    printf("http_hello listening on port %d\n", weft_sock_port(srv));
    fflush(stdout);
    weft_serve_opts opts = {.grace = 0.5, .stream_limit = MAX_HEADER_BYTES};
    rc = weft_serve(srv, serve_conn, NULL, &opts); /* until Ctrl-C */
    weft_fd_close(srv);
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
    config cfg = {.host = NULL, .port = 8080};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc &&
            parse_port(argv[i + 1], &cfg.port)) {
            i++;
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            cfg.host = argv[++i];
        } else {
            printf("usage: %s [--port N] [--host ADDR]\n"
                   "  An HTTP/1.1 server answering GET / with \"Hello, "
                   "world!\" (default port\n"
                   "  8080, every address; port 0 picks a free one).  "
                   "Ctrl-C stops it.\n",
                   argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    weft_run_opts opts = {.flags = WEFT_RUN_RERAISE_SIGINT};
    int rc = weft_run_ex(main_task, &cfg, &opts, NULL);
    if (rc) {
        fprintf(stderr, "http_hello: %s: %s\n", weft_strerror(rc),
                weft_errmsg() ? weft_errmsg() : "");
        return 1;
    }
    return 0;
}

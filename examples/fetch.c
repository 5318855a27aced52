/*
 * fetch.c - N HTTP GETs, at most C at once, under progress bars: weft_map
 * runs each request as a task of straight-line code; connections are kept
 * alive and reused.  Prints a summary; exits 1 if a request failed (an
 * error, or a status other than 200).  Try it against examples/http_hello:
 *
 *     fetch --port 8080 --url-count 1000 --concurrency 50
 */
#include "weft.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct {
    const char *host, *path;
    int port;
    size_t count, limit;
    weft_stream **idle; /* connections free for the next request */
    size_t nidle;       /* at most limit: no more are ever open */
    weft_bar *bytes;
    double expected;    /* bytes announced so far: the bar's total */
} app = {"127.0.0.1", "/", 8080, 100, 10, NULL, 0, NULL, 0};

/* Reads a response: its status line and headers, then the body, counting
 * the body's bytes on the bar, whose total grows by each Content-Length.
 * *keep: the connection can be reused. */
static int read_response(weft_stream *s, int *status, bool *keep)
{
    const char *l;
    size_t len;
    long length = -1;
    int rc = weft_stream_readline(s, &l, &len);
    if (rc || len < 12 || memcmp(l, "HTTP/1.", 7) != 0)
        return rc ? rc : -EPROTO;
    *status = atoi(l + 9); /* "HTTP/1.1 200 OK\r\n": the line ends it */
    *keep = true;
    while ((rc = weft_stream_readline(s, &l, &len)) == 0 && len > 2) {
        if (strncasecmp(l, "Content-Length:", 15) == 0)
            length = strtol(l + 15, NULL, 10);
        else if (strncasecmp(l, "Connection: close", 17) == 0)
            *keep = false;
    }
    if (rc || len == 0 || length < 0)
        return rc ? rc : -EPROTO; /* cut short, or no length given */
    weft_bar_set_total(app.bytes, app.expected += (double)length);
    char buf[16384];
    for (ssize_t k; length > 0; length -= k) {
        k = weft_stream_read(
            s, buf, (size_t)length < sizeof buf ? (size_t)length : sizeof buf);
        if (k <= 0)
            return k ? (int)k : -EPROTO;
        weft_bar_update(app.bytes, (unsigned long long)k);
    }
    return 0;
}

/* One GET, on a kept-alive connection if one is free. */
static void *fetch_one(void *unused)
{
    (void)unused;
    weft_stream *s = app.nidle ? app.idle[--app.nidle] : NULL;
    int rc = s ? 0 : weft_open_connection(app.host, app.port, &s);
    if (rc)
        return weft_fail(rc, "connect to %s:%d: %s", app.host, app.port,
                         weft_strerror(rc));
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                     app.path, app.host);
    int status = 0;
    bool keep = false;
    if ((rc = weft_stream_write(s, req, (size_t)n, NULL)) == 0)
        rc = read_response(s, &status, &keep);
    if (rc == 0 && keep)
        app.idle[app.nidle++] = s;
    else
        weft_stream_close(s);
    if (rc)
        return weft_fail(rc, "GET %s: %s", app.path, weft_strerror(rc));
    if (status != 200)
        return weft_fail(-EPROTO, "GET %s: status %d", app.path, status);
    return NULL;
}

static void *main_task(void *unused)
{
    (void)unused;
    weft_bar_opts bo = {
        .desc = "received", .unit = "B", .unit_scale = 1, .unit_divisor = 1024};
    void **results = calloc(app.count, sizeof *results);
    int *errors = calloc(app.count, sizeof *errors);
    char **messages = calloc(app.count, sizeof *messages);
    app.idle = calloc(app.limit, sizeof *app.idle);
    int rc = results && errors && messages && app.idle
                 ? weft_bar_new(&bo, &app.bytes)
                 : -ENOMEM;
    double start = weft_now();
    if (rc == 0) {
        weft_gather_opts go = {.flags = WEFT_GATHER_RETURN_ERRORS,
                               .desc = "requests",
                               .messages = messages};
        rc = weft_map_ex(fetch_one, NULL, app.count, app.limit, results, errors,
                         &go);
        size_t failed = 0, first = 0;
        for (size_t i = app.count; i-- > 0;)
            if (errors[i])
                failed++, first = i;
        printf("%zu requests: %zu ok, %zu errors, %llu bytes in %.3f s\n",
               app.count, app.count - failed, failed, weft_bar_count(app.bytes),
               weft_now() - start);
        weft_bar_close(app.bytes);
        if (failed) /* weft_fail's message, kept by weft_map */
            printf("first error: %s\n", messages[first]);
        weft_messages_free(messages, app.count);
        if (rc == 0 && failed) /* weft_run returns -EIO: exit status 1 */
            weft_fail(-EIO, "%zu of %zu requests failed", failed, app.count);
    }
    while (app.nidle)
        weft_stream_close(app.idle[--app.nidle]);
    free(results), free(errors), free(messages), free(app.idle);
    return rc ? weft_fail(rc, "fetching") : NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *v = i + 1 < argc ? argv[++i] : NULL;
        if (v && strcmp(opt, "--host") == 0)
            app.host = v;
        else if (v && strcmp(opt, "--path") == 0 && v[0] == '/' &&
                 strlen(v) < 512) /* with the host, fits fetch_one's req */
            app.path = v;
        else if (v && strcmp(opt, "--port") == 0 && atoi(v) > 0)
            app.port = atoi(v);
        else if (v && strcmp(opt, "--url-count") == 0 && atol(v) > 0)
            app.count = (size_t)atol(v);
        else if (v && strcmp(opt, "--concurrency") == 0 && atol(v) > 0)
            app.limit = (size_t)atol(v);
        else {
            printf("usage: %s [--host H] [--port P] [--path /x] [--url-count "
                   "N] [--concurrency C]\n  N GETs of http://H:P/x, at most "
                   "C at once (default: 100 of\n  http://127.0.0.1:8080/, 10 "
                   "at once); progress on stderr, summary on stdout.\n",
                   argv[0]);
            return strcmp(opt, "--help") == 0 ? 0 : 2;
        }
    }
    weft_run_opts opts = {.flags = WEFT_RUN_RERAISE_SIGINT};
    int rc = weft_run_ex(main_task, NULL, &opts, NULL);
    if (rc)
        fprintf(stderr, "fetch: %s: %s\n", weft_strerror(rc),
                weft_errmsg() ? weft_errmsg() : "");
    return rc ? 1 : 0;
}

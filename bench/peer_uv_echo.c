/*
 * peer_uv_echo.c - the echo server of bench_echo written with libuv, as
 * libuv's own examples and documentation write one: uv_read_start with an
 * alloc callback that mallocs the suggested size, and for each read a
 * uv_write request that owns the buffer until its callback frees both.
 * Built only when pkg-config finds libuv; not linked with weft.
 *
 *     peer_uv_echo FD     serves the listening TCP socket FD (inherited)
 */
#define _GNU_SOURCE /* uv.h uses POSIX types (pthread_rwlock_t) */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

typedef struct write_req {
    uv_write_t req;
    uv_buf_t buf;
} write_req;

static uv_loop_t *loop;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_close(uv_handle_t *h)
{
    free(h);
}

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    if (status < 0 && !uv_is_closing((uv_handle_t *)req->handle))
        uv_close((uv_handle_t *)req->handle, on_close);
    free(w->buf.base);
    free(w);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0) {
        write_req *w = malloc(sizeof *w);
        if (w) {
            w->buf = uv_buf_init(buf->base, (unsigned)n);
            if (uv_write(&w->req, s, &w->buf, 1, on_write) == 0)
                return; /* on_write frees the buffer */
            free(w);
        }
    } else if (n < 0 && !uv_is_closing((uv_handle_t *)s)) {
        uv_close((uv_handle_t *)s, on_close); /* UV_EOF or an error */
    }
    free(buf->base);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *c = malloc(sizeof *c);
    if (!c)
        return;
    uv_tcp_init(loop, c);
    if (uv_accept(server, (uv_stream_t *)c) == 0) {
        uv_tcp_nodelay(c, 1); /* as weft and the floor do */
        uv_read_start((uv_stream_t *)c, on_alloc, on_read);
    } else {
        uv_close((uv_handle_t *)c, on_close);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: peer_uv_echo LISTENING_FD\n");
        return 2;
    }
    loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_open(&server, atoi(argv[1]));
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (rc) {
        fprintf(stderr, "peer_uv_echo: %s\n", uv_strerror(rc));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}

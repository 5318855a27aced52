/*
 * echo_server.c - a TCP echo server: a task per connection, straight-line
 * code, stopped cleanly by Ctrl-C.
 *
 *     echo_server [--port N] [--host ADDR]    (default: every address, 7007)
 *
 * Port 0 picks a free port; the first line printed says which.
 */
#include "weft.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *serve(void *arg)
{
    weft_fd *conn = arg;
    char buf[16384];
    ssize_t n;
    while ((n = weft_fd_read(conn, buf, sizeof buf)) > 0)
        if (weft_fd_write(conn, buf, (size_t)n, NULL) != 0)
            break;
    weft_fd_close(conn); /* also when cancelled at shutdown */
    return NULL;
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
    printf("echo server listening on port %d\n", weft_sock_port(srv));
    fflush(stdout);
    for (;;) {
        weft_fd *conn;
        rc = weft_fd_accept(srv, &conn, NULL, NULL);
        if (rc == -EMFILE || rc == -ENFILE) {
            weft_sleep(0.1); /* out of descriptors: back off, never spin */
            continue;
        }
        if (rc)
            break; /* -ECANCELED: Ctrl-C */
        weft_task *t;
        if (weft_spawn(serve, conn, &t) == 0)
            weft_task_detach(t);
        else
            weft_fd_close(conn);
    }
    weft_fd_close(srv);
    return NULL;
}

int main(int argc, char **argv)
{
    config cfg = {.host = NULL, .port = 7007};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            cfg.port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            cfg.host = argv[++i];
        } else {
            printf("usage: %s [--port N] [--host ADDR]\n"
                   "  A TCP echo server (default port 7007, every address;\n"
                   "  port 0 picks a free one).  Ctrl-C stops it.\n",
                   argv[0]);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    weft_run_opts opts = {.flags = WEFT_RUN_RERAISE_SIGINT};
    int rc = weft_run_ex(main_task, &cfg, &opts, NULL);
    if (rc) {
        fprintf(stderr, "echo_server: %s: %s\n", weft_strerror(rc),
                weft_errmsg() ? weft_errmsg() : "");
        return 1;
    }
    return 0;
}

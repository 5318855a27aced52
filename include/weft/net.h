/*
 * weft/net.h - TCP and Unix stream sockets: listening, connecting, name
 * resolution.  The sockets are weft_fd handles (weft/fd.h): read, write,
 * accept and close them with the weft_fd_* calls.  Included by weft.h.
 *
 *     weft_fd *srv, *c;
 *     weft_tcp_listen(NULL, 8080, 0, &srv);    // every address, v4 and v6
 *     while (weft_fd_accept(srv, &c, NULL, NULL) == 0)
 *         spawn a task serving c, which closes it;
 *
 * Every socket weft creates is non-blocking and close-on-exec; TCP streams
 * have TCP_NODELAY set (as Go and Tokio do) and listeners SO_REUSEADDR.
 * The calls are made from a task (-EPERM otherwise); those that suspend
 * obey cancellation and cancel scopes (-ECANCELED / -ETIMEDOUT).
 *
 * Names: a numeric address ("127.0.0.1", "::1") is used as is; any other
 * name is resolved with getaddrinfo on the loop's thread pool.  A task
 * cancelled during a lookup leaves at once: the name was copied, and the
 * pool frees the lookup's result when it finishes.  Names longer than 253
 * bytes, or with a label longer than 63, are -EINVAL.  Lookup failures:
 * -ENOENT (no such name), -EAGAIN (temporary failure, try again later),
 * -ENOMEM, -EINVAL (a name or service getaddrinfo rejects).
 */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include "base.h"
#include "fd.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Listens for TCP connections on host:port.  host NULL (or "" or "::"):
 * every address, IPv6 and IPv4 alike where the system has IPv6 (a
 * dual-stack socket), else every IPv4 address.  port 0: the system picks
 * one (weft_sock_port tells which).  backlog <= 0: the system's maximum.
 * A name resolving to several addresses listens on the first that works.
 * listener: receives the socket's handle.
 * Errors: -EINVAL (port outside 0..65535, listener NULL, bad name),
 * -EADDRINUSE, -EACCES (a privileged port), -EPERM, -EMFILE, -ENOMEM, the
 * lookup errors above, -ECANCELED/-ETIMEDOUT (during a lookup).
 */
int weft_tcp_listen(const char *host, int port, int backlog,
                    weft_fd **listener);

/* Options of weft_tcp_listen_ex; zero-initialise. */
typedef struct weft_listen_opts {
    int backlog;    /* <= 0: the system's maximum */
    unsigned flags; /* WEFT_LISTEN_* */
} weft_listen_opts;

/* SO_REUSEPORT: several sockets - one per loop, say - may listen on the
 * same port; the kernel spreads new connections over them. */
#define WEFT_LISTEN_REUSEPORT 1u
/* With host NULL: IPv6 only, no dual-stack socket. */
#define WEFT_LISTEN_V6ONLY 2u

/* weft_tcp_listen with options (opts may be NULL).  Errors as
 * weft_tcp_listen, and -EINVAL for an unknown flag. */
int weft_tcp_listen_ex(const char *host, int port,
                       const weft_listen_opts *opts, weft_fd **listener);

/*
 * Connects to host:port over TCP, trying each address the name resolves to
 * in turn until one accepts.  conn: receives the socket's handle.
 * Errors: -ECONNREFUSED, -ENETUNREACH, -EHOSTUNREACH, -ETIMEDOUT (the
 * kernel gave up, or a scope's deadline), -ECANCELED - the last address's
 * error when all fail - the lookup errors above, -EINVAL (host NULL, port
 * outside 1..65535, conn NULL), -EPERM, -EMFILE, -ENOMEM.
 */
int weft_tcp_connect(const char *host, int port, weft_fd **conn);

/*
 * Unix stream sockets at a filesystem path (at most 107 bytes, else
 * -ENAMETOOLONG).  weft_unix_listen removes nothing: a path left by an
 * earlier listener gives -EADDRINUSE (unlink it first).  Errors as the TCP
 * calls, and -ENOENT (weft_unix_connect: no such socket).
 */
int weft_unix_listen(const char *path, int backlog, weft_fd **listener);
int weft_unix_connect(const char *path, weft_fd **conn);

/*
 * A UDP socket bound to host:port (host NULL: every address, IPv4 and IPv6;
 * port 0: a free port, see weft_sock_port).  Send with weft_fd_sendto and
 * receive with weft_fd_recvfrom.
 * Errors as weft_tcp_listen.
 */
int weft_udp_open(const char *host, int port, weft_fd **sock);

/*
 * A server's accept loop (asyncio.start_server + serve_forever): accepts
 * connections on `listener` and runs handler(conn, ctx) as a task for
 * each, conn a stream over the connection, closed when the handler
 * returns.  A handler's failure (weft_fail) ends its connection only and is
 * reported on stderr.  Runs until the calling task is cancelled or a cancel
 * scope around the call ends (that is the shutdown) or the listener fails;
 * then stops accepting, gives the handlers opts->grace seconds to finish,
 * cancels those still running, waits for all of them, and returns: the
 * listener is still the caller's to close.  Out of descriptors (EMFILE,
 * ENFILE) or memory, it waits and retries, 10 ms doubling up to 1 s - never
 * a busy loop.
 * Returns the reason it stopped: -ECANCELED, a scope's -ETIMEDOUT, or the
 * listener's accept error.
 * Errors: -EINVAL (handler NULL, a bad listener, grace negative or NaN),
 * -EPERM (not in a task).
 */
typedef struct weft_stream weft_stream;
typedef void (*weft_conn_fn)(weft_stream *conn, void *ctx);

typedef struct weft_serve_opts {
    size_t max_connections; /* live at once; 0: no limit */
    double grace;           /* seconds, at shutdown; 0: cancel at once */
    size_t stream_limit;    /* each stream's limit; 0: the default */
} weft_serve_opts;

int weft_serve(weft_fd *listener, weft_conn_fn handler, void *ctx,
               const weft_serve_opts *opts);

/* The local port of a TCP or UDP socket (bound to port 0 included).
 * Errors: -EINVAL (not an IP socket, bad handle), -EPERM. */
int weft_sock_port(weft_fd *fdh);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_NET_H */

/*
 * weft/net.h - TCP, UDP and Unix sockets: listening, connecting (Happy
 * Eyeballs included), socket options, name resolution.  The sockets are weft_fd handles (weft/fd.h): read, write,
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
 * name is resolved by weft_getaddrinfo below (on the loop's thread pool,
 * cancellable).  Names longer than 253 bytes (254 with a final dot), or
 * with a label longer than 63, are -EINVAL before any lookup.  Lookup
 * failures: -ENOENT (no such name), -EAGAIN (temporary failure, try again
 * later), -ENOMEM, -EIO (the resolver failed for good), -EINVAL (a name or
 * service getaddrinfo rejects).
 *
 * Unix socket paths: at most 107 bytes (-ENAMETOOLONG).  A path that
 * starts with '@' names Linux's abstract namespace: the '@' stands for the
 * leading NUL byte ("@weft" is "\0weft", at most 107 bytes after the '@'),
 * as ss(8) and systemd write it; nothing is created in the filesystem and
 * the name goes away with its last socket.  (A filesystem path that starts
 * with '@' is written "./@name".)
 */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include "base.h"
#include "fd.h"

#include <netdb.h>
#include <sys/un.h>

/* <netdb.h> defines it only with POSIX features on (_POSIX_C_SOURCE). */
struct addrinfo;

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
 * in turn, in the resolver's order, until one accepts.  An address's own
 * failure (refused, unreachable, the kernel's connect timeout) moves on to
 * the next; the caller's cancellation or a scope's deadline, -EMFILE,
 * -ENFILE and -ENOMEM stop at once.  conn: receives the socket's handle.
 * Errors: -ECONNREFUSED, -ENETUNREACH, -EHOSTUNREACH, -ETIMEDOUT (the
 * kernel gave up, or a scope's deadline), -ECANCELED - the last address's
 * error when all fail - the lookup errors above, -EINVAL (host NULL, port
 * outside 1..65535, conn NULL), -EPERM, -EMFILE, -ENOMEM.
 */
int weft_tcp_connect(const char *host, int port, weft_fd **conn);

/* Options of weft_tcp_connect_ex; zero-initialise. */
typedef struct weft_connect_opts {
    unsigned flags;       /* WEFT_CONNECT_* */
    double attempt_delay; /* seconds, Happy Eyeballs; 0: 0.25 (RFC 8305) */
} weft_connect_opts;

/*
 * Happy Eyeballs (RFC 8305): the addresses are interleaved by family (the
 * resolver's first family first, then IPv6 and IPv4 in turn) and tried as
 * concurrent attempts: the next starts when the previous one failed or
 * attempt_delay after it started, whichever comes first; the first to
 * connect wins, and the others are cancelled and their sockets closed
 * before the call returns - no socket but the winner's stays open, and no
 * attempt runs on after the call.  Both families come from one
 * getaddrinfo (no separate AAAA and A queries).
 */
#define WEFT_CONNECT_HAPPY_EYEBALLS 1u

/*
 * weft_tcp_connect with options (opts may be NULL: in turn, as
 * weft_tcp_connect).  With WEFT_CONNECT_HAPPY_EYEBALLS it fails only when
 * every address has failed (the last failure's error), or at the caller's
 * cancellation or deadline (which stops every attempt); bound the whole
 * call with a cancel scope (weft_scope_open, weft_scope_open_at).
 * Errors as weft_tcp_connect, and -EINVAL for an unknown flag or an
 * attempt_delay negative, NaN or above 60 seconds.
 */
int weft_tcp_connect_ex(const char *host, int port,
                        const weft_connect_opts *opts, weft_fd **conn);

/*
 * Unix stream sockets at a path (see "Unix socket paths" above for the
 * abstract namespace).  weft_unix_listen removes nothing: a path left by
 * an earlier listener gives -EADDRINUSE (unlink it first).  Errors as the
 * TCP calls, and -ENAMETOOLONG, -EINVAL (path NULL or ""), -ENOENT
 * (weft_unix_connect: no such socket), -ECONNREFUSED (nobody listens).
 */
int weft_unix_listen(const char *path, int backlog, weft_fd **listener);
int weft_unix_connect(const char *path, weft_fd **conn);

/*
 * A Unix datagram socket, bound to path, or unbound with path NULL (it can
 * send; its peers cannot answer it: their recvfrom gives an address length
 * of 0).  Send with weft_fd_sendto to an address from weft_unix_addr,
 * receive with weft_fd_recvfrom; datagrams keep their boundaries and are
 * never reordered.  A bound filesystem path
 * stays until unlinked (-EADDRINUSE meanwhile).
 * sock: receives the handle.
 * Errors: -EINVAL (sock NULL, path ""), -ENAMETOOLONG, -EADDRINUSE,
 * -EACCES, -ENOENT (a directory of path missing), -EPERM (not in a task),
 * -EMFILE, -ENFILE, -ENOMEM, -ECANCELED / -ETIMEDOUT (at entry).
 */
int weft_unix_dgram_open(const char *path, weft_fd **sock);

/*
 * Fills *addr and *addrlen with the Unix address of path ('@': abstract
 * namespace), for weft_fd_sendto and weft_fd_connect.  Pure; callable
 * from anywhere.  Errors: -EINVAL (a NULL argument, path ""),
 * -ENAMETOOLONG.
 */
int weft_unix_addr(const char *path, struct sockaddr_un *addr,
                   socklen_t *addrlen);

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
 * Errors: -EINVAL (handler NULL, a bad listener, grace negative or NaN;
 * debug builds: ctx points into a compact task's frame, which the
 * handlers must not use while the server waits - WEFT_SPAWN_COMPACT in
 * weft/task.h), -EPERM (not in a task), -ENOMEM (no memory for the server's state; no
 * connection was accepted).
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

/* ---- socket options ----
 *
 * Small calls on a socket weft manages, each one setsockopt; read them
 * back with getsockopt on weft_fd_fileno.  They do not suspend and may be
 * called from the loop's thread, in a task or not.  Common errors: -EINVAL
 * (closed or unknown handle, a value out of range), -EPERM (another loop's
 * handle, or not on a loop's thread), -ENOTSOCK (not a socket),
 * -ENOPROTOOPT / -EOPNOTSUPP (the option does not apply to this kind of
 * socket: the TCP ones on a Unix or UDP socket).
 */

/* TCP_NODELAY on (1) or off (0).  TCP streams weft creates or accepts have
 * it on already. */
int weft_sock_nodelay(weft_fd *sock, int on);

/*
 * SO_KEEPALIVE on or off.  With on, the TCP knobs, each 0 to keep the
 * system's value: idle (TCP_KEEPIDLE, seconds of silence before the first
 * probe, 1..32767), interval (TCP_KEEPINTVL, seconds between probes,
 * 1..32767), count (TCP_KEEPCNT, unanswered probes before the connection
 * is dropped, 1..127) - then reads and writes fail with -ETIMEDOUT.
 * Other errors as above; on a non-TCP socket with a knob, -EOPNOTSUPP or
 * -ENOPROTOOPT after SO_KEEPALIVE was set.
 */
int weft_sock_keepalive(weft_fd *sock, int on, int idle, int interval,
                        int count);

/*
 * SO_LINGER.  on 0: the default (close returns at once, the kernel sends
 * what is left in the background).  on 1, seconds 0: closing the socket
 * discards unsent data and resets the connection (RST): the peer's next
 * read or write fails with -ECONNRESET - an abortive close, for a
 * connection that must not linger in TIME_WAIT or a peer that misbehaved.
 * on 1, seconds > 0 (at most 3600): Linux makes close(2) wait up to that
 * long for unsent data even on a non-blocking socket, so weft_fd_close
 * would block the loop's thread: use it only where that is acceptable.
 */
int weft_sock_linger(weft_fd *sock, int on, int seconds);

/* ---- name resolution ----
 *
 * getaddrinfo and getnameinfo that suspend only the calling task.  A
 * numeric address with a numeric (or no) service is converted on the spot;
 * every other lookup runs on a resolver thread started for it and waited
 * for by a job of the loop's thread pool (weft/thread.h).  At most half of
 * the pool's default size (min(32, ncpu + 4) / 2, at least 1) lookups of a
 * loop run at once, so slow lookups cannot take the whole pool; further
 * lookups wait their turn in FIFO order (and may be cancelled while they
 * wait).  A pool lowered with weft_pool_limit is not seen by this count.
 *
 * Cancellation (the task's, a scope's deadline, Ctrl-C, the loop's
 * shutdown): the call returns -ECANCELED / -ETIMEDOUT at once, even while
 * the system's resolver is stuck (a dead DNS server, a hung NSS module).
 * The call's arguments were copied before the lookup started, and the
 * lookup never writes the caller's memory (its answer is copied out when
 * the task resumes), so the caller's buffers and frame are free again on
 * return.  A lookup left behind this way keeps, until the system call
 * returns: its resolver thread (detached, not joined) and one allocation
 * of about 1.5 KB (its copy of the request and the answer), both released
 * by that thread then - so weft_run returns, and the loop closes, without
 * waiting for it, and a leak check made before the resolver has returned
 * counts one more thread and one more allocation per lookup left behind.
 * A process that exits meanwhile simply ends the thread.
 */

/*
 * getaddrinfo(3): host and/or service (at least one non-NULL; service
 * shorter than 32 bytes), hints as getaddrinfo's (NULL: any family,
 * socket type and protocol; only its flags, family, socktype and protocol
 * are read).  AI_ADDRCONFIG applies to names only: a numeric address is
 * used as given.  res: receives the list, which the caller frees with
 * weft_freeaddrinfo.  Callable from a task only.
 * Errors: -ENOENT (no such name, or no address of the family asked),
 * -EAGAIN (temporary failure), -EIO (the resolver failed for good),
 * -ENOMEM, -EAFNOSUPPORT (hints' family), -EINVAL (res NULL, host and
 * service both NULL, a name too long or with a label too long, a service
 * or flags getaddrinfo rejects), -EPERM (not in a task), -ECANCELED,
 * -ETIMEDOUT (a scope's deadline; also at entry), or another errno from
 * the resolver (EAI_SYSTEM).
 */
int weft_getaddrinfo(const char *host, const char *service,
                     const struct addrinfo *hints, struct addrinfo **res);

/* Frees a list from weft_getaddrinfo (NULL: nothing).  Callable from
 * anywhere. */
void weft_freeaddrinfo(struct addrinfo *res);

/*
 * getnameinfo(3): the name (host, hostlen) and service (serv, servlen) of
 * the address sa (salen bytes, copied at entry), with getnameinfo's NI_*
 * flags.  Either buffer may be NULL (or its length 0) if not wanted, not
 * both.  With NI_NUMERICHOST and NI_NUMERICSERV (for the parts asked) no
 * lookup is made.  The buffers are written only on success, when the task
 * has resumed.  Callable from a task only.
 * Errors: -ENOENT (NI_NAMEREQD and the address has no name), -EAGAIN,
 * -EIO, -ENOMEM, -EAFNOSUPPORT (sa's family), -ENOSPC (a buffer too
 * small), -EINVAL (sa NULL, salen 0 or above sizeof(struct
 * sockaddr_storage), no buffer, bad flags), -EPERM, -ECANCELED,
 * -ETIMEDOUT.
 */
int weft_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
                     size_t hostlen, char *serv, size_t servlen, int flags);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_NET_H */

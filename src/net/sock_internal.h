/*
 * sock_internal.h - what the socket files share: sock.c (sockets, options),
 * connect.c (connecting, Happy Eyeballs) and dns.c (name resolution).
 */
#ifndef WEFT_SOCK_INTERNAL_H
#define WEFT_SOCK_INTERNAL_H

#include "fd_internal.h"

#include "weft/net.h"

#include <netdb.h>

/* A new non-blocking, close-on-exec socket of `family` and `type`
 * (SOCK_STREAM, SOCK_DGRAM), registered with `kind` (WEFT__FD_*); TCP
 * sockets get TCP_NODELAY.  *fdp: its number. */
int weft__sock_new(weft__loop *L, int family, int type, unsigned kind,
                   int *fdp, weft_fd **out);

/* The calling task's loop: 0, -EPERM (not in a task), or the task's
 * cancellation (-ECANCELED / -ETIMEDOUT). */
int weft__sock_task_loop(weft__loop **Lp);

/* host:port for a stream socket (getaddrinfo's rules, AI_NUMERICSERV
 * added): weft_getaddrinfo with the name checks.  Free with
 * weft_freeaddrinfo. */
int weft__sock_resolve(const char *host, int port, int ai_flags,
                       struct addrinfo **res);

/* The lookups busy on a loop's pool at once (half its default size, at
 * least 1). */
unsigned weft__dns_limit(void);

/* Tests only: if set, called on the resolver thread before each lookup
 * that goes to the pool (to simulate a resolver that hangs). */
extern void (*weft__dns_test_hook)(void);

/* A stream socket of kind (WEFT__FD_*) connected to sa; nothing is left
 * open on failure.  connect.c. */
int weft__sock_connect_to(weft__loop *L, const struct sockaddr *sa,
                          socklen_t len, unsigned kind, weft_fd **out);

/* Connects to each address of `list` in turn - or, with
 * WEFT_CONNECT_HAPPY_EYEBALLS, as RFC 8305 says - as weft_tcp_connect_ex
 * does after its lookup.  The list stays the caller's.  Tests reach it to
 * connect to addresses of their choosing. */
int weft__tcp_connect_list(const struct addrinfo *list,
                           const weft_connect_opts *opts, weft_fd **conn);

#endif

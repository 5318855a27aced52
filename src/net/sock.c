/*
 * sock.c - sockets over the fd registry: TCP listeners, UDP, Unix stream
 * and datagram sockets, and socket options.  Connecting is connect.c's,
 * name resolution dns.c's.
 *
 * Every socket is made non-blocking and close-on-exec in socket(2) itself
 * (no window where an exec could inherit it), registered at once, and
 * closed through the registry on every failure path after that.
 */
#define _GNU_SOURCE
#include "sock_internal.h"

#include "../alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- sockets ---- */

int weft__sock_new(weft__loop *L, int family, int type, unsigned kind,
                   int *fdp, weft_fd **out)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (kind & WEFT__FD_TCP) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    int rc = weft__fd_register(L, fd, kind, out);
    if (rc) {
        close(fd);
        return rc;
    }
    *fdp = fd;
    return 0;
}

/* A bound socket to make: a listener, or a datagram socket. */
typedef struct bind_spec {
    unsigned kind;   /* WEFT__FD_* */
    int type;        /* SOCK_STREAM, SOCK_DGRAM */
    bool listen;
    int backlog;     /* <= 0: the system's maximum */
    unsigned lflags; /* WEFT_LISTEN_* */
} bind_spec;

/* One socket bound to sa (dual: an IPv6 socket that takes IPv4 too). */
static int bind_one(weft__loop *L, const struct sockaddr *sa, socklen_t len,
                    bool dual, const bind_spec *b, weft_fd **out)
{
    int fd;
    weft_fd *h;
    int rc = weft__sock_new(L, sa->sa_family, b->type, b->kind, &fd, &h);
    if (rc)
        return rc;
    int one = 1, zero = 0;
    if (b->kind & WEFT__FD_TCP)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (dual)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (((b->lflags & WEFT_LISTEN_REUSEPORT) &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) ||
        bind(fd, sa, len) ||
        (b->listen && listen(fd, b->backlog > 0 ? b->backlog : SOMAXCONN))) {
        rc = -errno;
        weft_fd_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

/* host:port for a bound socket.  host NULL, "" or "::": every address,
 * dual-stack where the system has IPv6 (unless WEFT_LISTEN_V6ONLY), else
 * every IPv4 address; a name: the first of its addresses that works. */
static int bind_host(weft__loop *L, const char *host, int port,
                     const bind_spec *b, weft_fd **out)
{
    int rc;
    if (!host || !*host || strcmp(host, "::") == 0) {
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
                                  .sin6_port = htons((uint16_t)port),
                                  .sin6_addr = IN6ADDR_ANY_INIT};
        bool dual = !(b->lflags & WEFT_LISTEN_V6ONLY);
        rc = bind_one(L, (struct sockaddr *)&a6, sizeof a6, dual, b, out);
        if (!dual || (rc != -EAFNOSUPPORT && rc != -EADDRNOTAVAIL))
            return rc;
        struct sockaddr_in a4 = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_ANY)};
        return bind_one(L, (struct sockaddr *)&a4, sizeof a4, false, b, out);
    }
    struct addrinfo *res;
    if ((rc = weft__sock_resolve(host, port, AI_PASSIVE, &res)))
        return rc;
    rc = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai && rc; ai = ai->ai_next)
        rc = bind_one(L, ai->ai_addr, ai->ai_addrlen, false, b, out);
    weft_freeaddrinfo(res);
    return rc;
}

int weft__sock_task_loop(weft__loop **Lp)
{
    weft__loop *L = weft__tls_loop;
    if (!L || !L->cur)
        return -EPERM;
    *Lp = L;
    return weft__check(L, L->cur);
}

int weft_tcp_listen_ex(const char *host, int port,
                       const weft_listen_opts *opts, weft_fd **listener)
{
    bind_spec b = {.kind = WEFT__FD_SOCKET | WEFT__FD_TCP,
                   .type = SOCK_STREAM,
                   .listen = true,
                   .backlog = opts ? opts->backlog : 0,
                   .lflags = opts ? opts->flags : 0};
    if (!listener || port < 0 || port > 65535 ||
        (b.lflags & ~(WEFT_LISTEN_REUSEPORT | WEFT_LISTEN_V6ONLY)))
        return -EINVAL;
    weft__loop *L;
    int rc = weft__sock_task_loop(&L);
    if (rc)
        return rc;
    return bind_host(L, host, port, &b, listener);
}

int weft_tcp_listen(const char *host, int port, int backlog,
                    weft_fd **listener)
{
    weft_listen_opts o = {.backlog = backlog};
    return weft_tcp_listen_ex(host, port, &o, listener);
}

int weft_udp_open(const char *host, int port, weft_fd **sock)
{
    if (!sock || port < 0 || port > 65535)
        return -EINVAL;
    weft__loop *L;
    int rc = weft__sock_task_loop(&L);
    if (rc)
        return rc;
    bind_spec b = {.kind = WEFT__FD_SOCKET, .type = SOCK_DGRAM};
    return bind_host(L, host, port, &b, sock);
}

int weft_unix_addr(const char *path, struct sockaddr_un *addr,
                   socklen_t *addrlen)
{
    if (!path || !*path || !addr || !addrlen)
        return -EINVAL;
    size_t n = strlen(path);
    bool abstract = path[0] == '@';
    /* A path needs its NUL inside sun_path; an abstract name does not
     * (its length is in addrlen), and its '@' becomes the leading NUL. */
    if (n > sizeof addr->sun_path - !abstract)
        return -ENAMETOOLONG;
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, path, n);
    if (abstract)
        addr->sun_path[0] = '\0';
    *addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                           !abstract);
    return 0;
}

int weft_unix_listen(const char *path, int backlog, weft_fd **listener)
{
    if (!listener)
        return -EINVAL;
    struct sockaddr_un sun;
    socklen_t len;
    int rc = weft_unix_addr(path, &sun, &len);
    weft__loop *L;
    if (rc || (rc = weft__sock_task_loop(&L)))
        return rc;
    bind_spec spec = {.kind = WEFT__FD_SOCKET, .type = SOCK_STREAM,
                      .listen = true, .backlog = backlog};
    return bind_one(L, (struct sockaddr *)&sun, len, false, &spec, listener);
}

int weft_unix_connect(const char *path, weft_fd **conn)
{
    if (!conn)
        return -EINVAL;
    struct sockaddr_un sun;
    socklen_t len;
    int rc = weft_unix_addr(path, &sun, &len);
    weft__loop *L;
    if (rc || (rc = weft__sock_task_loop(&L)))
        return rc;
    return weft__sock_connect_to(L, (struct sockaddr *)&sun, len,
                                 WEFT__FD_SOCKET | WEFT__FD_STREAM, conn);
}

int weft_unix_dgram_open(const char *path, weft_fd **sock)
{
    if (!sock)
        return -EINVAL;
    struct sockaddr_un sun;
    socklen_t len;
    int rc = path ? weft_unix_addr(path, &sun, &len) : 0;
    weft__loop *L;
    if (rc || (rc = weft__sock_task_loop(&L)))
        return rc;
    bind_spec spec = {.kind = WEFT__FD_SOCKET, .type = SOCK_DGRAM};
    if (path)
        return bind_one(L, (struct sockaddr *)&sun, len, false, &spec, sock);
    int fd;
    return weft__sock_new(L, AF_UNIX, SOCK_DGRAM, spec.kind, &fd, sock);
}

/* ---- options ---- */

/* The descriptor of a socket handle, from the loop's thread. */
static int sock_fd(weft_fd *fdh)
{
    return weft_fd_fileno(fdh);
}

static int setopt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value) ? -errno : 0;
}

int weft_sock_nodelay(weft_fd *fdh, int on)
{
    int fd = sock_fd(fdh);
    if (fd < 0)
        return fd;
    return setopt(fd, IPPROTO_TCP, TCP_NODELAY, on != 0);
}

int weft_sock_keepalive(weft_fd *fdh, int on, int idle, int interval,
                        int count)
{
    int fd = sock_fd(fdh);
    if (fd < 0)
        return fd;
    if (idle < 0 || interval < 0 || count < 0 || idle > 32767 ||
        interval > 32767 || count > 127)
        return -EINVAL;
    int rc = setopt(fd, SOL_SOCKET, SO_KEEPALIVE, on != 0);
    if (rc || !on)
        return rc;
    /* The TCP knobs; 0 keeps the system's value.  Set after SO_KEEPALIVE
     * so that a socket that is not TCP fails before any change but that
     * one (which it accepts and ignores). */
    if (idle && (rc = setopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle)))
        return rc;
    if (interval && (rc = setopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval)))
        return rc;
    if (count && (rc = setopt(fd, IPPROTO_TCP, TCP_KEEPCNT, count)))
        return rc;
    return 0;
}

int weft_sock_linger(weft_fd *fdh, int on, int seconds)
{
    int fd = sock_fd(fdh);
    if (fd < 0)
        return fd;
    if (seconds < 0 || seconds > 3600)
        return -EINVAL;
    struct linger l = {.l_onoff = on != 0, .l_linger = on ? seconds : 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) ? -errno : 0;
}

int weft_sock_port(weft_fd *fdh)
{
    int fd = weft_fd_fileno(fdh);
    if (fd < 0)
        return fd;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len))
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EINVAL;
}

/*
 * sock.c - TCP and Unix stream sockets over the fd registry: listen,
 * connect, and name resolution on the thread pool.
 *
 * A lookup is a job of the loop's pool (getaddrinfo blocks).  It owns its
 * copy of the name and its result: if the asking task is cancelled while
 * the lookup runs, the task leaves at once (weft_to_thread_detachable) and
 * the job's drop callback frees everything when getaddrinfo returns; if the
 * job was still queued it is withdrawn and the task frees it.  Numeric
 * addresses skip the pool.
 */
#define _GNU_SOURCE
#include "fd_internal.h"

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

#define NAME_MAX_LEN 253
#define LABEL_MAX_LEN 63

typedef struct lookup {
    char name[NAME_MAX_LEN + 1];
    char port[8];
    int flags; /* AI_* */
    struct addrinfo *res;
    int gai_err;
    int sys_err;
} lookup;

static bool name_ok(const char *name)
{
    size_t len = strlen(name), label = 0;
    if (len == 0 || len > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '.')
            label = 0;
        else if (++label > LABEL_MAX_LEN)
            return false;
    }
    return true;
}

static void *lookup_job(void *arg)
{
    lookup *lk = arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = lk->flags | AI_ADDRCONFIG};
    lk->gai_err = getaddrinfo(lk->name, lk->port, &hints, &lk->res);
    lk->sys_err = lk->gai_err == EAI_SYSTEM ? errno : 0;
    return lk;
}

static void lookup_free(lookup *lk)
{
    if (lk->res)
        freeaddrinfo(lk->res);
    weft__free(lk);
}

static void lookup_drop(void *result)
{
    lookup_free(result);
}

static int gai_to_errno(int gai, int sys)
{
    switch (gai) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -ENOENT;
    case EAI_AGAIN:
        return -EAGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return sys ? -sys : -EIO;
    default:
        return -EINVAL;
    }
}

/* Resolves host:port (a numeric host without the pool).  On success *out
 * owns the result (lookup_free). */
static int resolve(const char *host, int port, int ai_flags, lookup **out)
{
    if (!name_ok(host))
        return -EINVAL;
    lookup *lk = weft__calloc(1, sizeof *lk);
    if (!lk)
        return -ENOMEM;
    memcpy(lk->name, host, strlen(host) + 1);
    snprintf(lk->port, sizeof lk->port, "%d", port);
    lk->flags = ai_flags | AI_NUMERICSERV;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = lk->flags | AI_NUMERICHOST};
    int gai = getaddrinfo(lk->name, lk->port, &hints, &lk->res);
    if (gai == EAI_NONAME) {
        /* Not numeric: ask the resolver, on the pool.  Who frees lk: the
         * job's drop if the job was left running (the call then leaves
         * `res` untouched), else this task - the job finished, was
         * withdrawn (res NULL), or never started (refused at entry: the
         * same check as the call's own, with no suspension between). */
        weft__loop *L = weft__tls_loop;
        int rc = weft__check(L, L->cur);
        if (rc) {
            lookup_free(lk);
            return rc;
        }
        void *res = lk;
        rc = weft_to_thread_detachable(lookup_job, lk, lookup_drop, &res);
        if (rc) {
            if (res != lk || rc == -ENOMEM || rc == -EAGAIN)
                lookup_free(lk);
            return rc;
        }
        gai = lk->gai_err;
    }
    if (gai) {
        int rc = gai_to_errno(gai, lk->sys_err);
        lookup_free(lk);
        return rc;
    }
    *out = lk;
    return 0;
}

/* ---- sockets ---- */

static int new_socket(weft__loop *L, int family, unsigned kind, int *fdp,
                      weft_fd **out)
{
    int type = (kind & WEFT__FD_STREAM) || (kind & WEFT__FD_TCP) ||
                       family == AF_UNIX
                   ? SOCK_STREAM
                   : SOCK_DGRAM;
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
    int rc = new_socket(L, sa->sa_family, b->kind, &fd, &h);
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
    lookup *lk;
    if ((rc = resolve(host, port, AI_PASSIVE, &lk)))
        return rc;
    rc = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = lk->res; ai && rc; ai = ai->ai_next)
        rc = bind_one(L, ai->ai_addr, ai->ai_addrlen, false, b, out);
    lookup_free(lk);
    return rc;
}

static int task_loop(weft__loop **Lp)
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
                   .listen = true,
                   .backlog = opts ? opts->backlog : 0,
                   .lflags = opts ? opts->flags : 0};
    if (!listener || port < 0 || port > 65535 ||
        (b.lflags & ~(WEFT_LISTEN_REUSEPORT | WEFT_LISTEN_V6ONLY)))
        return -EINVAL;
    weft__loop *L;
    int rc = task_loop(&L);
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

static int connect_to(weft__loop *L, const struct sockaddr *sa,
                      socklen_t len, unsigned kind, weft_fd **out)
{
    int fd;
    weft_fd *h;
    int rc = new_socket(L, sa->sa_family, kind, &fd, &h);
    if (rc)
        return rc;
    if ((rc = weft_fd_connect(h, sa, len))) {
        weft_fd_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

int weft_udp_open(const char *host, int port, weft_fd **sock)
{
    if (!sock || port < 0 || port > 65535)
        return -EINVAL;
    weft__loop *L;
    int rc = task_loop(&L);
    if (rc)
        return rc;
    bind_spec b = {.kind = WEFT__FD_SOCKET};
    return bind_host(L, host, port, &b, sock);
}

int weft_tcp_connect(const char *host, int port, weft_fd **conn)
{
    if (!host || !conn || port < 1 || port > 65535)
        return -EINVAL;
    weft__loop *L;
    int rc = task_loop(&L);
    if (rc)
        return rc;
    lookup *lk;
    if ((rc = resolve(host, port, 0, &lk)))
        return rc;
    rc = -EHOSTUNREACH;
    for (struct addrinfo *ai = lk->res; ai; ai = ai->ai_next) {
        rc = connect_to(L, ai->ai_addr, ai->ai_addrlen,
                        WEFT__FD_SOCKET | WEFT__FD_STREAM | WEFT__FD_TCP,
                        conn);
        /* The next address only for reasons of this one. */
        if (rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT ||
            rc == -ENOMEM || rc == -EMFILE || rc == -ENFILE)
            break;
    }
    lookup_free(lk);
    return rc;
}

static int unix_addr(const char *path, struct sockaddr_un *sun,
                     socklen_t *len)
{
    if (!path || !*path)
        return -EINVAL;
    size_t n = strlen(path);
    if (n >= sizeof sun->sun_path)
        return -ENAMETOOLONG;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int weft_unix_listen(const char *path, int backlog, weft_fd **listener)
{
    if (!listener)
        return -EINVAL;
    struct sockaddr_un sun;
    socklen_t len;
    int rc = unix_addr(path, &sun, &len);
    weft__loop *L;
    if (rc || (rc = task_loop(&L)))
        return rc;
    bind_spec spec = {.kind = WEFT__FD_SOCKET, .listen = true,
                      .backlog = backlog};
    return bind_one(L, (struct sockaddr *)&sun, len, false, &spec, listener);
}

int weft_unix_connect(const char *path, weft_fd **conn)
{
    if (!conn)
        return -EINVAL;
    struct sockaddr_un sun;
    socklen_t len;
    int rc = unix_addr(path, &sun, &len);
    weft__loop *L;
    if (rc || (rc = task_loop(&L)))
        return rc;
    return connect_to(L, (struct sockaddr *)&sun, len,
                      WEFT__FD_SOCKET | WEFT__FD_STREAM, conn);
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

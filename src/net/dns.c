/*
 * dns.c - name resolution off the loop: weft_getaddrinfo and
 * weft_getnameinfo (and, through them, every name sock.c and connect.c
 * look up).
 *
 * A numeric address (and a numeric port) is converted on the spot.  Any
 * other lookup is a record (`lookup`) shared by three parties, counted by
 * `refs` under the record's mutex:
 * - the resolver thread, a detached thread started for the lookup, which
 *   calls getaddrinfo / getnameinfo - a call that may take as long as the
 *   resolver's timeouts, or hang for ever in a stuck NSS module;
 * - the pool job, which starts that thread and waits for it - until it is
 *   done, or until the asking task gives up (`abandoned`);
 * - the asking task, waiting for the job with weft_to_thread_detachable.
 * Why a thread of its own behind a pool job: a pool thread cannot be taken
 * back from a hung getaddrinfo, and the loop joins its pool when it closes.
 * So the job only waits, and leaves as soon as the task does: a cancelled
 * task (Ctrl-C, a deadline, the loop's shutdown) returns at once, the loop
 * closes without waiting for the resolver, and the resolver thread, when
 * the system call finally returns, drops the last reference and frees the
 * record.  Nothing but the record is ever written by the resolver; the
 * task copies the answer out when it resumes.
 *
 * The gate (libuv's lesson: slow lookups must not fill the pool): at most
 * weft__dns_limit() lookup jobs of a loop on its pool at once.  A slot is
 * taken before the job is submitted and given back when the job has
 * finished - by the task, or by the job's drop callback when the task left
 * first - and handed straight to the first waiting task (FIFO; a waiter may
 * be cancelled).  The gate is a loop service registered on first use.
 */
#define _GNU_SOURCE
#include "sock_internal.h"

#include "../alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NAME_MAX_LEN 253 /* RFC 1035's 255 octets, written out */
#define LABEL_MAX_LEN 63

void (*weft__dns_test_hook)(void);

/* ---- the gate ---- */

typedef struct dns_gate {
    weft__service svc; /* first: the loop's service list points at it */
    unsigned busy;     /* lookup jobs submitted and not finished */
    weft__waitq waiters;
} dns_gate;

static void gate_close(weft__loop *L, weft__service *sv)
{
    (void)L;
    weft__free(sv); /* no task is left, so nobody waits */
}

static const weft__service_ops gate_ops = {.close = gate_close};

static const weft__wait_kind gate_wait = {.leave = weft__waitq_leave,
                                          .describe = weft__waitq_describe,
                                          .name = "a name lookup slot"};

/* The pool's default size, as pool.c computes it: min(32, ncpu + 4).  (A
 * pool lowered with weft_pool_limit is not seen: the pool keeps its size
 * to itself.) */
unsigned weft__dns_limit(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    unsigned pool = n + 4 < 32 ? (unsigned)n + 4 : 32;
    return pool / 2 ? pool / 2 : 1;
}

/* Takes a slot, waiting in line if none is free: 0 (a slot is the
 * caller's), -ENOMEM, -ECANCELED, -ETIMEDOUT (then it has none). */
static int gate_enter(weft__loop *L)
{
    dns_gate *g = (dns_gate *)weft__service_get(L, &gate_ops, sizeof *g);
    if (!g)
        return -ENOMEM;
    if (g->busy < weft__dns_limit() && !g->waiters.head) {
        g->busy++;
        return 0;
    }
    /* 0 when a leaving lookup handed us its slot (busy unchanged). */
    return weft__waitq_wait(L, &g->waiters, &gate_wait, WEFT__NO_DEADLINE);
}

/* Gives a slot back: to the first waiter, or to the count.  On the loop's
 * thread, from a task or from the pool's reaping (a drop callback). */
static void gate_leave(weft__loop *L)
{
    dns_gate *g = (dns_gate *)weft__service_find(L, &gate_ops);
    if (!g)
        return;
    if (!weft__waitq_wake_one(L, &g->waiters, NULL))
        g->busy--;
}

/* ---- the lookup record ---- */

enum { LK_ADDRINFO, LK_NAMEINFO };

typedef struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;       /* under mu */
    bool done;      /* the resolver has finished (under mu) */
    bool abandoned; /* the task left: the job need not wait (under mu) */
    int kind;       /* LK_* */
    /* getaddrinfo: the name and service asked; getnameinfo: the answer. */
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    bool has_host, has_serv;
    struct addrinfo hints;
    struct sockaddr_storage sa; /* getnameinfo */
    socklen_t salen;
    int ni_flags;
    /* Written by the resolver before `done`. */
    struct addrinfo *res;
    int gai_err, sys_err;
} lookup;

static lookup *lookup_new(int kind)
{
    lookup *lk = weft__calloc(1, sizeof *lk);
    if (!lk)
        return NULL;
    pthread_mutex_init(&lk->mu, NULL);
    pthread_cond_init(&lk->cv, NULL);
    lk->refs = 1;
    lk->kind = kind;
    return lk;
}

static void lookup_unref(lookup *lk)
{
    pthread_mutex_lock(&lk->mu);
    bool last = --lk->refs == 0;
    pthread_mutex_unlock(&lk->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&lk->mu);
    pthread_cond_destroy(&lk->cv);
    if (lk->res)
        freeaddrinfo(lk->res);
    weft__free(lk);
}

static void run_lookup(lookup *lk)
{
    if (lk->kind == LK_ADDRINFO) {
        lk->gai_err = getaddrinfo(lk->has_host ? lk->host : NULL,
                                  lk->has_serv ? lk->serv : NULL, &lk->hints,
                                  &lk->res);
    } else {
        lk->gai_err = getnameinfo(
            (struct sockaddr *)&lk->sa, lk->salen,
            lk->has_host ? lk->host : NULL, lk->has_host ? sizeof lk->host : 0,
            lk->has_serv ? lk->serv : NULL, lk->has_serv ? sizeof lk->serv : 0,
            lk->ni_flags);
    }
    lk->sys_err = lk->gai_err == EAI_SYSTEM ? errno : 0;
}

/* The resolver thread (detached; it inherits the pool thread's blocked
 * signals). */
static void *resolver(void *arg)
{
    lookup *lk = arg;
    if (weft__dns_test_hook)
        weft__dns_test_hook();
    run_lookup(lk);
    pthread_mutex_lock(&lk->mu);
    lk->done = true;
    pthread_cond_signal(&lk->cv);
    pthread_mutex_unlock(&lk->mu);
    lookup_unref(lk);
    return NULL;
}

/* The pool job: starts the resolver and waits for it, or for the task to
 * give up.  Returns lk (its reference goes to the task, or to drop). */
static void *lookup_job(void *arg)
{
    lookup *lk = arg;
    pthread_mutex_lock(&lk->mu);
    if (lk->abandoned) {
        pthread_mutex_unlock(&lk->mu);
        return lk;
    }
    lk->refs++; /* the resolver's */
    pthread_mutex_unlock(&lk->mu);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = weft__alloc_should_fail()
                 ? EAGAIN
                 : pthread_create(&t, &attr, resolver, lk);
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&lk->mu);
    if (rc) {
        lk->refs--;
        lk->gai_err = EAI_SYSTEM;
        lk->sys_err = EAGAIN;
        lk->done = true;
    }
    while (!lk->done && !lk->abandoned)
        pthread_cond_wait(&lk->cv, &lk->mu);
    pthread_mutex_unlock(&lk->mu);
    return lk;
}

/* The job finished after its task left: give the slot back, drop the
 * job's reference (the resolver may still hold one). */
static void lookup_drop(void *result)
{
    weft__loop *L = weft__tls_loop;
    if (L)
        gate_leave(L);
    if (result)
        lookup_unref(result);
}

/* Runs lk on the pool through the gate.  0: lk is done and the caller's
 * (one reference).  Otherwise the error, and lk is no longer the caller's
 * (freed, or left to the job and the resolver). */
static int dns_run(weft__loop *L, lookup *lk)
{
    int rc = gate_enter(L);
    if (rc) {
        lookup_unref(lk);
        return rc;
    }
    /* A slot handed to a task cancelled meanwhile; and the same check as
     * the call's own, with no suspension between: a refusal at its entry
     * cannot be mistaken for a job left running. */
    if ((rc = weft__check(L, L->cur))) {
        gate_leave(L);
        lookup_unref(lk);
        return rc;
    }
    void *res = lk;
    rc = weft_to_thread_detachable(lookup_job, lk, lookup_drop, &res);
    if (rc && res == lk && rc != -ENOMEM && rc != -EAGAIN) {
        /* Left running: tell the job it may go.  Its drop, on this thread
         * once it has returned, gives the slot back. */
        pthread_mutex_lock(&lk->mu);
        lk->abandoned = true;
        pthread_cond_signal(&lk->cv);
        pthread_mutex_unlock(&lk->mu);
        return rc;
    }
    /* Finished, withdrawn while queued (res NULL), or never submitted. */
    gate_leave(L);
    if (rc)
        lookup_unref(lk);
    return rc;
}

/* ---- names and errors ---- */

/* A host name the resolver may be asked: 1..253 bytes (254 with a final
 * dot), no label over 63. */
static bool name_ok(const char *name)
{
    size_t len = strlen(name), label = 0;
    if (len > 0 && name[len - 1] == '.')
        len--;
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

static int gai_to_errno(int gai, int sys)
{
    switch (gai) {
    case 0:
        return 0;
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
    case EAI_FAIL:
        return -EIO;
    case EAI_FAMILY:
        return -EAFNOSUPPORT;
    case EAI_OVERFLOW:
        return -ENOSPC;
    case EAI_SYSTEM:
        return sys ? -sys : -EIO;
    default: /* EAI_SERVICE, EAI_SOCKTYPE, EAI_BADFLAGS */
        return -EINVAL;
    }
}

static int task_check(weft__loop **Lp)
{
    weft__loop *L = weft__tls_loop;
    if (!L || !L->cur)
        return -EPERM;
    *Lp = L;
    return weft__check(L, L->cur);
}

/* ---- public ---- */

int weft_getaddrinfo(const char *host, const char *service,
                     const struct addrinfo *hints, struct addrinfo **res)
{
    if (!res || (!host && !service) ||
        (service && strlen(service) >= NI_MAXSERV))
        return -EINVAL;
    weft__loop *L;
    int rc = task_check(&L);
    if (rc)
        return rc;
    struct addrinfo h = {0};
    if (hints) {
        h.ai_flags = hints->ai_flags;
        h.ai_family = hints->ai_family;
        h.ai_socktype = hints->ai_socktype;
        h.ai_protocol = hints->ai_protocol;
    }
    /* Numeric first: nothing to look up, no pool.  AI_ADDRCONFIG is for
     * names: a numeric address is used as given. */
    struct addrinfo nh = h;
    nh.ai_flags = (h.ai_flags & ~AI_ADDRCONFIG) | AI_NUMERICHOST |
                  AI_NUMERICSERV;
    int gai = getaddrinfo(host, service, &nh, res);
    int sys = errno;
    bool numeric_only = (!host || (h.ai_flags & AI_NUMERICHOST)) &&
                        (!service || (h.ai_flags & AI_NUMERICSERV));
    if (gai != EAI_NONAME || numeric_only)
        return gai_to_errno(gai, sys);
    if (host && !name_ok(host))
        return -EINVAL;
    lookup *lk = lookup_new(LK_ADDRINFO);
    if (!lk)
        return -ENOMEM;
    if ((lk->has_host = host != NULL))
        memcpy(lk->host, host, strlen(host) + 1);
    if ((lk->has_serv = service != NULL))
        memcpy(lk->serv, service, strlen(service) + 1);
    lk->hints = h;
    if ((rc = dns_run(L, lk)))
        return rc;
    rc = gai_to_errno(lk->gai_err, lk->sys_err);
    if (rc == 0) {
        *res = lk->res;
        lk->res = NULL;
    }
    lookup_unref(lk);
    return rc;
}

void weft_freeaddrinfo(struct addrinfo *res)
{
    if (res)
        freeaddrinfo(res);
}

/* Copies a NUL-terminated answer into the caller's buffer. */
static int copy_out(char *dst, size_t cap, const char *src)
{
    if (!dst || !cap)
        return 0;
    size_t n = strlen(src);
    if (n >= cap)
        return -ENOSPC;
    memcpy(dst, src, n + 1);
    return 0;
}

int weft_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
                     size_t hostlen, char *serv, size_t servlen, int flags)
{
    bool want_host = host && hostlen, want_serv = serv && servlen;
    if (!sa || salen <= 0 || (size_t)salen > sizeof(struct sockaddr_storage) ||
        (!want_host && !want_serv))
        return -EINVAL;
    weft__loop *L;
    int rc = task_check(&L);
    if (rc)
        return rc;
    lookup *lk = lookup_new(LK_NAMEINFO);
    if (!lk)
        return -ENOMEM;
    memcpy(&lk->sa, sa, (size_t)salen);
    lk->salen = salen;
    lk->ni_flags = flags;
    lk->has_host = want_host;
    lk->has_serv = want_serv;
    if ((!want_host || (flags & NI_NUMERICHOST)) &&
        (!want_serv || (flags & NI_NUMERICSERV))) {
        run_lookup(lk); /* numeric: no lookup, no pool */
    } else if ((rc = dns_run(L, lk))) {
        return rc;
    }
    rc = gai_to_errno(lk->gai_err, lk->sys_err);
    if (rc == 0 && want_host)
        rc = copy_out(host, hostlen, lk->host);
    if (rc == 0 && want_serv)
        rc = copy_out(serv, servlen, lk->serv);
    lookup_unref(lk);
    return rc;
}

int weft__sock_resolve(const char *host, int port, int ai_flags,
                       struct addrinfo **res)
{
    char svc[8];
    snprintf(svc, sizeof svc, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = ai_flags | AI_NUMERICSERV |
                                         AI_ADDRCONFIG};
    return weft_getaddrinfo(host, svc, &hints, res);
}

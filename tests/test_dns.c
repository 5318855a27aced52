/*
 * test_dns.c - weft_getaddrinfo and weft_getnameinfo: numeric addresses
 * without the pool, names through it, the name checks, at most half the
 * pool busy with lookups (the rest waiting in line, cancellable), and a
 * lookup stuck in the resolver - simulated by a hook that blocks the
 * resolver thread on a pipe - left at once by cancellation, by the loop's
 * shutdown and by Ctrl-C, without a write into the caller's memory, the
 * stuck thread freeing the lookup when it is released.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"
#include "net/sock_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* ---- the stuck resolver ---- */

static int gate_pipe[2];
static int entered, released; /* atomics: resolver threads in the hook */

static void blocking_hook(void)
{
    __atomic_fetch_add(&entered, 1, __ATOMIC_SEQ_CST);
    char c;
    while (read(gate_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    __atomic_fetch_add(&released, 1, __ATOMIC_SEQ_CST);
}

static int hook_entered(void)
{
    return __atomic_load_n(&entered, __ATOMIC_SEQ_CST);
}

/* Resolver threads of earlier cases finish on their own after their
 * callers left (they free their lookup then): wait for that before a
 * case counts allocations and threads, or it counts theirs. */
static void settle_earlier_lookups(void)
{
    for (int i = 0; i < 3000; i++) {
        if (__atomic_load_n(&weft__alloc_live, __ATOMIC_SEQ_CST) == 0)
            break;
        usleep(1000);
    }
}

static void hook_arm(void)
{
    REQUIRE(pipe(gate_pipe) == 0);
    entered = released = 0;
    weft__dns_test_hook = blocking_hook;
}

/* Releases n blocked resolvers. */
static void hook_release(int n)
{
    for (int i = 0; i < n; i++)
        REQUIRE(write(gate_pipe[1], "x", 1) == 1);
}

/* After the last release: the resolver threads finish, free their lookups
 * and exit - the accounting a caller that left early sees. */
static void hook_disarm_and_settle(long alloc0, int threads0)
{
    /* Every hook has read its byte (and the pipe may be closed). */
    for (int i = 0; i < 3000; i++) {
        if (__atomic_load_n(&released, __ATOMIC_SEQ_CST) == hook_entered())
            break;
        usleep(1000);
    }
    for (int i = 0; i < 3000; i++) {
        if (__atomic_load_n(&weft__alloc_live, __ATOMIC_SEQ_CST) == alloc0 &&
            (!check_threads_reliable() || check_count_threads() <= threads0))
            break;
        usleep(1000);
    }
    CHECK_EQ(__atomic_load_n(&weft__alloc_live, __ATOMIC_SEQ_CST), alloc0);
    if (check_threads_reliable())
        CHECK(check_count_threads() <= threads0);
    weft__dns_test_hook = NULL;
    close(gate_pipe[0]);
    close(gate_pipe[1]);
}

/* ---- plain lookups ---- */

static void *numeric(void *arg)
{
    (void)arg;
    struct addrinfo *res = NULL;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    REQUIRE(weft_getaddrinfo("127.0.0.1", "8080", &hints, &res) == 0);
    CHECK_EQ(res->ai_family, AF_INET);
    CHECK_EQ(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), 8080);
    weft_freeaddrinfo(res);
    REQUIRE(weft_getaddrinfo("::1", NULL, &hints, &res) == 0);
    CHECK_EQ(res->ai_family, AF_INET6);
    weft_freeaddrinfo(res);
    /* AI_NUMERICHOST on a name: no lookup, no such name. */
    hints.ai_flags = AI_NUMERICHOST;
    CHECK_EQ(weft_getaddrinfo("localhost", "80", &hints, &res), -ENOENT);
    weft_freeaddrinfo(NULL);
    return NULL;
}

static void *localhost(void *arg)
{
    (void)arg;
    struct addrinfo *res = NULL;
    struct addrinfo hints = {.ai_family = AF_INET,
                             .ai_socktype = SOCK_STREAM};
    REQUIRE(weft_getaddrinfo("localhost", "80", &hints, &res) == 0);
    CHECK_EQ(res->ai_family, AF_INET);
    struct sockaddr_in *a = (struct sockaddr_in *)res->ai_addr;
    CHECK_EQ(ntohl(a->sin_addr.s_addr), INADDR_LOOPBACK);
    CHECK_EQ(ntohs(a->sin_port), 80);
    weft_freeaddrinfo(res);
    return NULL;
}

static void *nameinfo(void *arg)
{
    (void)arg;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(8080),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host,
                              sizeof host, serv, sizeof serv,
                              NI_NUMERICHOST | NI_NUMERICSERV), 0);
    CHECK(check_streq(host, "127.0.0.1"));
    CHECK(check_streq(serv, "8080"));
    /* A reverse lookup, through the pool: /etc/hosts names 127.0.0.1, or
     * the numeric form comes back. */
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host,
                              sizeof host, NULL, 0, 0), 0);
    CHECK(host[0] != '\0');
    char tiny[4] = "abc";
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, tiny,
                              sizeof tiny, NULL, 0, NI_NUMERICHOST),
             -ENOSPC);
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, NULL, 0,
                              NULL, 0, 0), -EINVAL);
    CHECK_EQ(weft_getnameinfo(NULL, sizeof a, host, sizeof host, NULL, 0, 0),
             -EINVAL);
    return NULL;
}

static void *bad_names(void *arg)
{
    (void)arg;
    struct addrinfo *res = (struct addrinfo *)&res; /* untouched on error */
    char name[300];
    memset(name, 'a', 256);
    name[256] = '\0';
    CHECK_EQ(weft_getaddrinfo(name, "80", NULL, &res), -EINVAL);
    name[254] = '\0'; /* 254 bytes, no final dot */
    CHECK_EQ(weft_getaddrinfo(name, "80", NULL, &res), -EINVAL);
    memset(name, 'b', 64);
    strcpy(name + 64, ".example");
    CHECK_EQ(weft_getaddrinfo(name, "80", NULL, &res), -EINVAL);
    weft_fd *c = NULL;
    CHECK_EQ(weft_tcp_connect(name, 80, &c), -EINVAL);
    CHECK(c == NULL);
    CHECK_EQ(weft_getaddrinfo(NULL, NULL, NULL, &res), -EINVAL);
    CHECK_EQ(weft_getaddrinfo("localhost", "80", NULL, NULL), -EINVAL);
    char svc[40];
    memset(svc, '1', sizeof svc - 1);
    svc[sizeof svc - 1] = '\0';
    CHECK_EQ(weft_getaddrinfo("localhost", svc, NULL, &res), -EINVAL);
    CHECK(res == (struct addrinfo *)&res);
    return NULL;
}

static void case_outside_task(void)
{
    struct addrinfo *res;
    CHECK_EQ(weft_getaddrinfo("127.0.0.1", "80", NULL, &res), -EPERM);
    struct sockaddr_in a = {.sin_family = AF_INET};
    char host[64];
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host,
                              sizeof host, NULL, 0, NI_NUMERICHOST), -EPERM);
    printf("ok   outside_a_task\n");
}

/* ---- the gate: at most half the pool ---- */

/* A lookup into a heap record whose result field starts as a canary. */
typedef struct req {
    struct addrinfo *res;
    int rc;
} req;

#define CANARY ((struct addrinfo *)(uintptr_t)0x5a5a5a5a)

static void *lookup_task(void *arg)
{
    req *r = arg;
    /* r is the test's heap record, never freed before the lookup is over:
     * the canary in r->res shows whether anything wrote it late. */
    r->rc = weft_getaddrinfo("localhost", "80", NULL, &r->res);
    return NULL;
}

static void *half_the_pool(void *arg)
{
    (void)arg;
    unsigned limit = weft__dns_limit();
    enum { EXTRA = 3 };
    unsigned n = limit + EXTRA;
    req *r = calloc(n, sizeof *r);
    weft_task **t = calloc(n, sizeof *t);
    REQUIRE(r && t);
    for (unsigned i = 0; i < n; i++) {
        r[i].res = CANARY;
        REQUIRE(weft_spawn(lookup_task, &r[i], &t[i]) == 0);
    }
    CHECK_SLEEP_UNTIL(hook_entered() == (int)limit);
    REQUIRE(weft_sleep(0.05) == 0);
    CHECK_EQ(hook_entered(), (int)limit); /* the others wait in line */
    /* A waiter in line is cancelled: it leaves at once, never enters. */
    CHECK_EQ(weft_task_cancel(t[n - 1]), 0);
    CHECK_EQ(weft_await(t[n - 1], NULL), -ECANCELED);
    CHECK_EQ(r[n - 1].rc, -ECANCELED);
    CHECK(r[n - 1].res == CANARY);
    /* Free one slot: exactly the next in line gets it. */
    hook_release(1);
    CHECK_SLEEP_UNTIL(hook_entered() == (int)limit + 1);
    REQUIRE(weft_sleep(0.02) == 0);
    CHECK_EQ(hook_entered(), (int)limit + 1);
    hook_release((int)n - 2);
    for (unsigned i = 0; i + 1 < n; i++) {
        CHECK_EQ(weft_await(t[i], NULL), 0);
        CHECK_EQ(r[i].rc, 0);
        if (r[i].rc == 0)
            weft_freeaddrinfo(r[i].res);
    }
    CHECK_EQ(hook_entered(), (int)n - 1);
    free(r);
    free(t);
    return NULL;
}

/* ---- a stuck lookup ---- */

static void *cancel_stuck(void *arg)
{
    (void)arg;
    req *r = calloc(1, sizeof *r);
    REQUIRE(r);
    r->res = CANARY;
    weft_task *t;
    REQUIRE(weft_spawn(lookup_task, r, &t) == 0);
    CHECK_SLEEP_UNTIL(hook_entered() == 1);
    double t0 = weft_now();
    weft_task_cancel(t);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK(weft_now() - t0 < 0.1); /* at once, the resolver still stuck */
    CHECK_EQ(__atomic_load_n(&released, __ATOMIC_SEQ_CST), 0);
    /* A deadline does the same. */
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.02, &sc) == 0);
    struct addrinfo *res = CANARY;
    CHECK_EQ(weft_getaddrinfo("localhost", "80", NULL, &res), -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK(res == CANARY);
    CHECK_EQ(hook_entered(), 2);
    hook_release(2);
    /* Released, the resolvers write nothing of the callers'. */
    CHECK_SLEEP_UNTIL(__atomic_load_n(&released, __ATOMIC_SEQ_CST) == 2);
    REQUIRE(weft_sleep(0.02) == 0);
    CHECK(r->res == CANARY);
    CHECK_EQ(r->rc, -ECANCELED);
    CHECK(res == CANARY);
    free(r);
    return NULL;
}

static req *shutdown_req;
static double main_left;

static void *leave_a_lookup_behind(void *arg)
{
    (void)arg;
    weft_task *t;
    REQUIRE(weft_spawn(lookup_task, shutdown_req, &t) == 0);
    CHECK_SLEEP_UNTIL(hook_entered() == 1);
    REQUIRE(weft_task_detach(t) == 0);
    main_left = weft_now();
    return NULL; /* shutdown cancels the lookup task */
}

static void *ctrl_c_during_lookup(void *arg)
{
    (void)arg;
    weft_task *t;
    REQUIRE(weft_spawn(lookup_task, shutdown_req, &t) == 0);
    CHECK_SLEEP_UNTIL(hook_entered() == 1);
    main_left = weft_now();
    raise(SIGINT); /* as a Ctrl-C: cancels this main task */
    weft_await(t, NULL); /* cancelled: cancels the lookup, waits for it */
    return NULL;
}

/* weft_run returns while the resolver is stuck; the lookup is freed once
 * it is released, and never writes the caller's record. */
static void case_stuck_at_exit(const char *name, weft_fn fn, int want)
{
    check_case_name = name;
    int before = check_failures;
    settle_earlier_lookups();
    long alloc0 = __atomic_load_n(&weft__alloc_live, __ATOMIC_SEQ_CST);
    int threads0 = check_count_threads();
    hook_arm();
    shutdown_req = calloc(1, sizeof *shutdown_req);
    REQUIRE(shutdown_req);
    shutdown_req->res = CANARY;
    alarm(CHECK_CASE_ALARM);
    CHECK_EQ(weft_run(fn, NULL, NULL), want);
    double took = weft_now() - main_left;
    CHECK(took < 0.5);
    /* Still stuck: one resolver thread and its lookup outlive the loop. */
    CHECK_EQ(__atomic_load_n(&released, __ATOMIC_SEQ_CST), 0);
    CHECK_EQ(__atomic_load_n(&weft__alloc_live, __ATOMIC_SEQ_CST),
             alloc0 + 1);
    if (check_threads_reliable())
        CHECK_EQ(check_count_threads(), threads0 + 1);
    hook_release(1);
    hook_disarm_and_settle(alloc0, threads0);
    alarm(0);
    CHECK(shutdown_req->res == CANARY);
    CHECK_EQ(shutdown_req->rc, -ECANCELED);
    free(shutdown_req);
    if (check_failures != before)
        fprintf(stderr, "case %s: FAILED\n", name);
    else
        printf("ok   %-30s loop closed %.3f s after main\n", name, took);
}

static void case_gate(void)
{
    settle_earlier_lookups();
    long alloc0 = __atomic_load_n(&weft__alloc_live, __ATOMIC_SEQ_CST);
    int threads0 = check_count_threads();
    hook_arm();
    check_case("at_most_half_the_pool_fifo", half_the_pool, NULL, 0);
    hook_disarm_and_settle(alloc0, threads0);
}

static void case_cancel(void)
{
    settle_earlier_lookups();
    long alloc0 = __atomic_load_n(&weft__alloc_live, __ATOMIC_SEQ_CST);
    int threads0 = check_count_threads();
    hook_arm();
    check_case("cancel_and_deadline_while_stuck", cancel_stuck, NULL, 0);
    hook_disarm_and_settle(alloc0, threads0);
}

int main(void)
{
    check_begin();
    check_allow_maps(64); /* resolver and pool thread stacks, cached */
    check_case_alarm_install();
    check_case("numeric_without_pool", numeric, NULL, 0);
    check_case("localhost_through_pool", localhost, NULL, 0);
    check_case("getnameinfo", nameinfo, NULL, 0);
    check_case("bad_names_einval_before_lookup", bad_names, NULL, 0);
    case_outside_task();
    case_gate();
    case_cancel();
    case_stuck_at_exit("loop_close_while_stuck", leave_a_lookup_behind, 0);
    case_stuck_at_exit("ctrl_c_while_stuck", ctrl_c_during_lookup, -EINTR);
    return check_end();
}

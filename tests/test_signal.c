/*
 * test_signal.c - signals as awaitable events (weft/signal.h) and Ctrl-C
 * handling in weft_run / weft_run_ex.
 *
 * Watchers: a delivery from a task, from another thread, to two loops at
 * once; two signals on one watcher; coalescing; cancellation and scope
 * deadlines at entry and while waiting; misuse (bad signals, closed or
 * unknown pointers, another loop's watcher); dispositions restored when the
 * last user leaves; a program only waiting for a signal is not a deadlock.
 * Ctrl-C: each case that delivers SIGINT runs in a forked child, whose
 * death or exit status the parent checks, so a mistake cannot kill the
 * test program itself.
 */
#define _GNU_SOURCE
#include "check.h"
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void (*handler_of(int signo))(int)
{
    struct sigaction sa;
    REQUIRE(sigaction(signo, NULL, &sa) == 0);
    return sa.sa_handler;
}

static void set_handler(int signo, void (*h)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    REQUIRE(sigaction(signo, &sa, NULL) == 0);
}

/* ---- deliveries ---- */

static void *kill_self(void *arg)
{
    weft_sleep(0.01);
    CHECK_EQ(kill(getpid(), (int)P2I(arg)), 0);
    return NULL;
}

/* arg 0: kill(2) from another task; 1: raise(3) from the waiting task
 * itself before it waits. */
static void *case_from_task(void *arg)
{
    int sigs[] = {SIGUSR1};
    weft_sigwatch *w;
    REQUIRE(weft_signal_watch(sigs, 1, &w) == 0);
    CHECK(handler_of(SIGUSR1) != SIG_DFL);
    weft_task *t = NULL;
    if (P2I(arg) == 0)
        REQUIRE(weft_spawn(kill_self, I2P(SIGUSR1), &t) == 0);
    else
        CHECK_EQ(raise(SIGUSR1), 0);
    int signo = 0;
    CHECK_EQ(weft_sigwatch_next(w, &signo), 0);
    CHECK_EQ(signo, SIGUSR1);
    if (t)
        CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    CHECK(handler_of(SIGUSR1) == SIG_DFL);
    return NULL;
}

typedef struct sender {
    pthread_t thread;
    pthread_t target; /* for pthread_kill, if by_thread */
    int signo;
    int delay_ms;
    bool by_thread;
} sender;

static void *send_main(void *arg)
{
    sender *s = arg;
    nap_ms(s->delay_ms);
    if (s->by_thread)
        CHECK_EQ(pthread_kill(s->target, s->signo), 0);
    else
        CHECK_EQ(kill(getpid(), s->signo), 0);
    return NULL;
}

static void sender_start(sender *s, int signo, int delay_ms, bool by_thread)
{
    *s = (sender){.target = pthread_self(),
                  .signo = signo,
                  .delay_ms = delay_ms,
                  .by_thread = by_thread};
    REQUIRE(pthread_create(&s->thread, NULL, send_main, s) == 0);
}

/* Another thread sends: arg 0 kill(2) to the process, 1 pthread_kill(3) to
 * the loop's thread. */
static void *case_from_thread(void *arg)
{
    weft_sigwatch *w;
    int sigs[] = {SIGUSR1};
    REQUIRE(weft_signal_watch(sigs, 1, &w) == 0);
    sender s;
    sender_start(&s, SIGUSR1, 20, P2I(arg) != 0);
    int signo = 0;
    CHECK_EQ(weft_sigwatch_next(w, &signo), 0);
    CHECK_EQ(signo, SIGUSR1);
    pthread_join(s.thread, NULL);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    return NULL;
}

/* weft_signal_wait(SIGTERM), the signal sent by another task. */
static void *case_sigterm(void *arg)
{
    (void)arg;
    weft_task *t;
    REQUIRE(weft_spawn(kill_self, I2P(SIGTERM), &t) == 0);
    CHECK_EQ(weft_signal_wait(SIGTERM), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK(handler_of(SIGTERM) == SIG_DFL);
    return NULL;
}

/* One watcher, two signals (one listed twice): both are returned, once
 * each, whichever arrived first. */
static void *case_two_signals(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1, SIGUSR2, SIGUSR1};
    weft_sigwatch *w;
    REQUIRE(weft_signal_watch(sigs, 3, &w) == 0);
    CHECK_EQ(raise(SIGUSR2), 0);
    CHECK_EQ(raise(SIGUSR1), 0);
    int a = 0, b = 0;
    CHECK_EQ(weft_sigwatch_next(w, &a), 0);
    CHECK_EQ(weft_sigwatch_next(w, &b), 0);
    CHECK((a == SIGUSR1 && b == SIGUSR2) || (a == SIGUSR2 && b == SIGUSR1));
    /* Nothing more is pending. */
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.02, &sc) == 0);
    CHECK_EQ(weft_sigwatch_next(w, &a), -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    return NULL;
}

/* Three deliveries nobody took coalesce into one; a later one is
 * returned again. */
static void *case_coalesce(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    weft_sigwatch *w;
    REQUIRE(weft_signal_watch(sigs, 1, &w) == 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(raise(SIGUSR1), 0);
    int signo = 0;
    CHECK_EQ(weft_sigwatch_next(w, &signo), 0);
    CHECK_EQ(signo, SIGUSR1);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.02, &sc) == 0);
    CHECK_EQ(weft_sigwatch_next(w, &signo), -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(raise(SIGUSR1), 0);
    signo = 0;
    CHECK_EQ(weft_sigwatch_next(w, &signo), 0);
    CHECK_EQ(signo, SIGUSR1);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    return NULL;
}

/* ---- cancellation ---- */

static atomic_int waiter_rc;

static void *wait_usr2(void *arg)
{
    weft_sigwatch *w = arg;
    atomic_store(&waiter_rc, weft_sigwatch_next(w, NULL));
    return NULL;
}

/* A task waiting in next: cancelled (-ECANCELED); under a scope that
 * expires (-ETIMEDOUT); entered with a cancelled scope and a delivery
 * waiting (-ETIMEDOUT at entry, the delivery kept).  Dispositions are
 * restored after each close. */
static void *case_cancel(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR2};
    weft_sigwatch *w;
    REQUIRE(weft_signal_watch(sigs, 1, &w) == 0);
    weft_task *t;
    REQUIRE(weft_spawn(wait_usr2, w, &t) == 0);
    CHECK_EQ(weft_sleep(0.01), 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&waiter_rc), -ECANCELED);
    /* The watcher is still usable: the next waiter gets -EBUSY only while
     * another waits. */
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.02, &sc) == 0);
    double t0 = weft_now();
    CHECK_EQ(weft_sigwatch_next(w, NULL), -ETIMEDOUT);
    CHECK(weft_now() - t0 >= 0.019);
    CHECK_EQ(weft_scope_close(sc), 1);
    /* Checked at entry, before a waiting delivery is taken. */
    CHECK_EQ(raise(SIGUSR2), 0);
    REQUIRE(weft_scope_open(0, &sc) == 0);
    CHECK_EQ(weft_sigwatch_next(w, NULL), -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    int signo = 0;
    CHECK_EQ(weft_sigwatch_next(w, &signo), 0);
    CHECK_EQ(signo, SIGUSR2);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    CHECK(handler_of(SIGUSR2) == SIG_DFL);
    /* weft_signal_wait under a scope: -ETIMEDOUT, nothing left installed. */
    REQUIRE(weft_scope_open(0.01, &sc) == 0);
    CHECK_EQ(weft_signal_wait(SIGUSR2), -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK(handler_of(SIGUSR2) == SIG_DFL);
    return NULL;
}

/* Closing a watcher wakes its waiter with -EBADF; a second waiter is
 * -EBUSY meanwhile. */
static void *case_close_wakes(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR2};
    weft_sigwatch *w;
    REQUIRE(weft_signal_watch(sigs, 1, &w) == 0);
    weft_task *t;
    REQUIRE(weft_spawn(wait_usr2, w, &t) == 0);
    CHECK_EQ(weft_sleep(0.005), 0);
    CHECK_EQ(weft_sigwatch_next(w, NULL), -EBUSY);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(atomic_load(&waiter_rc), -EBADF);
    CHECK(handler_of(SIGUSR2) == SIG_DFL);
    return NULL;
}

/* ---- misuse ---- */

static void *case_bad_signals(void *arg)
{
    (void)arg;
    weft_sigwatch *w = NULL;
    int bad[] = {0,       -1,     NSIG,   1000,   SIGKILL, SIGSTOP,
                 SIGSEGV, SIGBUS, SIGFPE, SIGILL, 32,      SIGRTMIN - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(weft_signal_watch(&bad[i], 1, &w), -EINVAL);
        CHECK_EQ(weft_signal_wait(bad[i]), -EINVAL);
    }
    /* A bad one among good ones: nothing is installed. */
    int mixed[] = {SIGUSR1, SIGKILL};
    CHECK_EQ(weft_signal_watch(mixed, 2, &w), -EINVAL);
    CHECK(handler_of(SIGUSR1) == SIG_DFL);
    int ok[] = {SIGUSR1};
    CHECK_EQ(weft_signal_watch(NULL, 1, &w), -EINVAL);
    CHECK_EQ(weft_signal_watch(ok, 1, NULL), -EINVAL);
    CHECK_EQ(weft_signal_watch(ok, 0, &w), -EINVAL);
    CHECK_EQ(weft_signal_watch(ok, WEFT_SIGWATCH_MAX + 1, &w), -EINVAL);
    CHECK(w == NULL);
    /* A real-time signal is fine. */
    int rt[] = {SIGRTMIN + 1};
    REQUIRE(weft_signal_watch(rt, 1, &w) == 0);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    return NULL;
}

static void *case_double_close(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    weft_sigwatch *w;
    REQUIRE(weft_signal_watch(sigs, 1, &w) == 0);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    CHECK_EQ(weft_sigwatch_close(w), -EINVAL);
    CHECK_EQ(weft_sigwatch_next(w, NULL), -EINVAL);
    CHECK_EQ(weft_sigwatch_close(NULL), -EINVAL);
    CHECK_EQ(weft_sigwatch_next(NULL, NULL), -EINVAL);
    /* Pointers weft never gave. */
    static char junk[256];
    CHECK_EQ(weft_sigwatch_close((weft_sigwatch *)(void *)junk), -EINVAL);
    CHECK_EQ(weft_sigwatch_next((weft_sigwatch *)(void *)junk, NULL), -EINVAL);
    CHECK_EQ(weft_sigwatch_close((weft_sigwatch *)(uintptr_t)0x10), -EINVAL);
    return NULL;
}

/* A watcher left open by its task is closed when the loop closes. */
static void *case_left_open(void *arg)
{
    weft_sigwatch **out = arg;
    int sigs[] = {SIGUSR1, SIGTERM};
    REQUIRE(weft_signal_watch(sigs, 2, out) == 0);
    return NULL;
}

/* ---- another loop ---- */

static weft_sigwatch *foreign;
static atomic_int foreign_step;
static int foreign_rc[2];

static void *other_loop_main(void *arg)
{
    (void)arg;
    foreign_rc[0] = weft_sigwatch_next(foreign, NULL);
    foreign_rc[1] = weft_sigwatch_close(foreign);
    return NULL;
}

static void *other_loop_thread(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_run(other_loop_main, NULL, NULL), 0);
    atomic_store(&foreign_step, 1);
    return NULL;
}

static void *case_other_loop(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    REQUIRE(weft_signal_watch(sigs, 1, &foreign) == 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, other_loop_thread, NULL) == 0);
    CHECK_SLEEP_UNTIL(atomic_load(&foreign_step));
    pthread_join(th, NULL);
    CHECK_EQ(foreign_rc[0], -EPERM);
    CHECK_EQ(foreign_rc[1], -EPERM);
    CHECK_EQ(weft_sigwatch_close(foreign), 0);
    return NULL;
}

/* ---- dispositions ---- */

static atomic_int user_hits;

static void user_handler(int signo)
{
    (void)signo;
    atomic_fetch_add(&user_hits, 1);
}

/* The disposition found by the first user (SIG_DFL, SIG_IGN, the
 * program's handler) is back once the last of two watchers closed, and
 * not before. */
static void *case_dispositions(void *arg)
{
    (void)arg;
    void (*found[])(int) = {SIG_DFL, SIG_IGN, user_handler};
    for (int k = 0; k < 3; k++) {
        set_handler(SIGUSR1, found[k]);
        int sigs[] = {SIGUSR1};
        weft_sigwatch *a, *b;
        REQUIRE(weft_signal_watch(sigs, 1, &a) == 0);
        void (*ours)(int) = handler_of(SIGUSR1);
        CHECK(ours != found[k] && ours != SIG_DFL && ours != SIG_IGN);
        REQUIRE(weft_signal_watch(sigs, 1, &b) == 0);
        CHECK(handler_of(SIGUSR1) == ours);
        CHECK_EQ(weft_sigwatch_close(a), 0);
        CHECK(handler_of(SIGUSR1) == ours);
        CHECK_EQ(weft_sigwatch_close(b), 0);
        CHECK(handler_of(SIGUSR1) == found[k]);
    }
    CHECK_EQ(atomic_load(&user_hits), 0);
    set_handler(SIGUSR1, SIG_DFL);
    return NULL;
}

/* ---- two loops ---- */

static atomic_int loops_ready, loops_got;

static void *usr2_loop_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR2};
    weft_sigwatch *w;
    REQUIRE(weft_signal_watch(sigs, 1, &w) == 0);
    atomic_fetch_add(&loops_ready, 1);
    int signo = 0;
    weft_scope *sc;
    REQUIRE(weft_scope_open(5.0, &sc) == 0);
    CHECK_EQ(weft_sigwatch_next(w, &signo), 0);
    weft_scope_close(sc);
    CHECK_EQ(signo, SIGUSR2);
    atomic_fetch_add(&loops_got, 1);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    return NULL;
}

static void *usr2_loop_thread(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_run(usr2_loop_main, NULL, NULL), 0);
    return NULL;
}

static void *case_two_loops(void *arg)
{
    (void)arg;
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&th[i], NULL, usr2_loop_thread, NULL) == 0);
    CHECK_SLEEP_UNTIL(atomic_load(&loops_ready) == 2);
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    CHECK_SLEEP_UNTIL(atomic_load(&loops_got) == 2);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK(handler_of(SIGUSR2) == SIG_DFL);
    return NULL;
}

/* ---- deadlock detection ---- */

/* The main task only waits for a signal another thread sends 50 ms later:
 * not a deadlock (weft_run would return -EDEADLK). */
static void *case_not_deadlock(void *arg)
{
    (void)arg;
    sender s;
    sender_start(&s, SIGTERM, 50, false);
    CHECK_EQ(weft_signal_wait(SIGTERM), 0);
    pthread_join(s.thread, NULL);
    return NULL;
}

/* Reports name the signals a task waits for. */
static void *case_describe(void *arg)
{
    (void)arg;
    int sigs[] = {SIGTERM, SIGUSR2};
    weft_sigwatch *w;
    REQUIRE(weft_signal_watch(sigs, 2, &w) == 0);
    weft_task *t;
    REQUIRE(weft_spawn(wait_usr2, w, &t) == 0);
    CHECK_EQ(weft_sleep(0.005), 0);
    weft__loop *L;
    uint32_t idx;
    REQUIRE(weft__decode(t, false, &L, &idx) == 0);
    weft__record *r = L->slots[idx].a.rec;
    REQUIRE(r->wait == WEFT__WAIT_BLOCKED && r->kind->describe);
    char buf[96];
    r->kind->describe(L, r, buf, sizeof buf);
    CHECK(check_streq(buf, "waiting for signals SIGTERM, SIGUSR2"));
    if (!check_streq(buf, "waiting for signals SIGTERM, SIGUSR2"))
        fprintf(stderr, "described as: %s\n", buf);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(weft_sigwatch_close(w), 0);
    return NULL;
}

/* ---- Ctrl-C (weft_run's SIGINT), in forked children ---- */

#define FAIL_IF(cond)                                                          \
    do {                                                                       \
        if (cond) {                                                            \
            fprintf(stderr, "%s:%d: child: %s\n", __FILE__, __LINE__, #cond);  \
            _exit(1);                                                          \
        }                                                                      \
    } while (0)

static bool cleanup_ran;

/* Sends itself SIGINT, then sleeps: cancelled, its shielded cleanup still
 * awaits.  arg 1: a second SIGINT during the cleanup. */
static void *interrupted_main(void *arg)
{
    FAIL_IF(handler_of(SIGINT) == SIG_DFL); /* installed */
    FAIL_IF(raise(SIGINT) != 0);
    int rc = weft_sleep(5.0);
    FAIL_IF(rc != -ECANCELED);
    FAIL_IF(handler_of(SIGINT) != SIG_DFL); /* the handler reset it */
    weft_shield_begin();
    FAIL_IF(weft_sleep(0.01) != 0);
    fprintf(stderr, "cleanup ran\n");
    if (P2I(arg) == 1) {
        raise(SIGINT); /* the default action: dies here */
        fprintf(stderr, "survived a second SIGINT\n");
    }
    weft_shield_end();
    cleanup_ran = true;
    return I2P(7);
}

static void *other_task(void *arg)
{
    (void)arg;
    int rc = weft_sleep(5.0); /* cancelled by shutdown */
    return I2P(rc);
}

static void child_ctrl_c(void *arg)
{
    unsigned flags = (unsigned)P2I(arg);
    weft_run_opts o = {.flags = flags & 3};
    void *res = NULL;
    int rc = weft_run_ex(interrupted_main, I2P(flags >> 2), &o, &res);
    FAIL_IF(rc != -EINTR);
    FAIL_IF(!cleanup_ran);
    FAIL_IF(P2I(res) != 7);
    FAIL_IF(handler_of(SIGINT) != SIG_DFL);
    /* A later run installs it again. */
    cleanup_ran = false;
    FAIL_IF(weft_run(interrupted_main, NULL, NULL) != -EINTR);
    FAIL_IF(!cleanup_ran);
    FAIL_IF(handler_of(SIGINT) != SIG_DFL);
}

/* The main task awaits a sleeping task when SIGINT comes from another
 * thread: both are cancelled. */
static void *await_main(void *arg)
{
    (void)arg;
    weft_task *t;
    FAIL_IF(weft_spawn(other_task, NULL, &t) != 0);
    sender s;
    sender_start(&s, SIGINT, 20, false);
    void *r = NULL;
    int rc = weft_await(t, &r);
    pthread_join(s.thread, NULL);
    FAIL_IF(rc != -ECANCELED || P2I(r) != -ECANCELED);
    return NULL;
}

static void child_ctrl_c_thread(void *arg)
{
    (void)arg;
    FAIL_IF(weft_run(await_main, NULL, NULL) != -EINTR);
}

/* A task watching SIGINT takes it over: the main task is not cancelled. */
static void *watch_sigint_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGINT};
    weft_sigwatch *w;
    FAIL_IF(weft_signal_watch(sigs, 1, &w) != 0);
    FAIL_IF(raise(SIGINT) != 0);
    int signo = 0;
    FAIL_IF(weft_sigwatch_next(w, &signo) != 0 || signo != SIGINT);
    FAIL_IF(weft_sleep(0.01) != 0); /* not cancelled */
    FAIL_IF(weft_sigwatch_close(w) != 0);
    FAIL_IF(handler_of(SIGINT) == SIG_DFL); /* weft_run's is back in use */
    return NULL;
}

static void child_watch_sigint(void *arg)
{
    (void)arg;
    FAIL_IF(weft_run(watch_sigint_main, NULL, NULL) != 0);
    FAIL_IF(handler_of(SIGINT) != SIG_DFL);
}

typedef struct child_fn {
    void (*fn)(void *);
    void *arg;
} child_fn;

/* In the child: bounded by an alarm of its own (fork clears the parent's;
 * the inherited handler names the case and exits 1). */
static void child_trampoline(void *arg)
{
    child_fn *c = arg;
    alarm(CHECK_CASE_ALARM);
    c->fn(c->arg);
}

/* A Ctrl-C child: wants exit 0, or death by SIGINT with `marker` on its
 * stderr. */
typedef struct ctrl_c {
    void (*fn)(void *);
    void *arg;
    bool dies;
    const char *marker;
} ctrl_c;

static void ctrl_c_case(void *arg)
{
    const ctrl_c *k = arg;
    char *out = NULL;
    child_fn c = {k->fn, k->arg};
    int st = check_fork(child_trampoline, &c, &out);
    bool ok = k->dies ? WIFSIGNALED(st) && WTERMSIG(st) == SIGINT
                      : WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (k->marker && (!out || !strstr(out, k->marker)))
        ok = false;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "status %#x, its stderr:\n%s\n", st, out ? out : "");
    free(out);
}

static const ctrl_c ctrl_c_main = {child_ctrl_c, I2P(0), false, NULL};
static const ctrl_c ctrl_c_thread = {child_ctrl_c_thread, NULL, false, NULL};
static const ctrl_c ctrl_c_reraise = {
    child_ctrl_c, I2P(WEFT_RUN_RERAISE_SIGINT), true, "cleanup ran"};
static const ctrl_c ctrl_c_twice = {child_ctrl_c, I2P(1 << 2), true,
                                    "cleanup ran"};
static const ctrl_c ctrl_c_watcher = {child_watch_sigint, NULL, false, NULL};

/* WEFT_RUN_NO_SIGINT, SIG_IGN or a handler of the program at entry, a
 * thread other than the main one: nothing installed, SIGINT unchanged. */
static void *expect_sigint(void *arg)
{
    CHECK(handler_of(SIGINT) == (void (*)(int))arg);
    return NULL;
}

static void *run_on_thread(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_run(expect_sigint, (void *)SIG_DFL, NULL), 0);
    return NULL;
}

static void *ignored_sigint_main(void *arg)
{
    (void)arg;
    CHECK_EQ(raise(SIGINT), 0);
    CHECK_EQ(weft_sleep(0.005), 0); /* not cancelled */
    return NULL;
}

static void no_sigint_flag(void *arg)
{
    (void)arg;
    weft_run_opts o = {.flags = WEFT_RUN_NO_SIGINT};
    CHECK_EQ(weft_run_ex(expect_sigint, (void *)SIG_DFL, &o, NULL), 0);
    o.flags = 4;
    CHECK_EQ(weft_run_ex(expect_sigint, (void *)SIG_DFL, &o, NULL), -EINVAL);
    CHECK_EQ(weft_run_ex(NULL, NULL, NULL, NULL), -EINVAL);
}

static void sigint_ignored_at_entry(void *arg)
{
    (void)arg;
    set_handler(SIGINT, SIG_IGN);
    CHECK_EQ(weft_run(expect_sigint, (void *)SIG_IGN, NULL), 0);
    CHECK_EQ(weft_run(ignored_sigint_main, NULL, NULL), 0);
    CHECK(handler_of(SIGINT) == SIG_IGN);
    set_handler(SIGINT, SIG_DFL);
}

static void sigint_user_handler_at_entry(void *arg)
{
    (void)arg;
    set_handler(SIGINT, user_handler);
    atomic_store(&user_hits, 0);
    CHECK_EQ(weft_run(expect_sigint, (void *)user_handler, NULL), 0);
    CHECK_EQ(weft_run(ignored_sigint_main, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&user_hits), 1);
    CHECK(handler_of(SIGINT) == user_handler);
    set_handler(SIGINT, SIG_DFL);
}

static void sigint_not_main_thread(void *arg)
{
    (void)arg;
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, run_on_thread, NULL) == 0);
    pthread_join(th, NULL);
    CHECK(handler_of(SIGINT) == SIG_DFL);
}

/* Outside a task. */
static void outside_a_task(void *arg)
{
    (void)arg;
    int usr1 = SIGUSR1;
    weft_sigwatch *w = NULL;
    CHECK_EQ(weft_signal_watch(&usr1, 1, &w), -EPERM);
    CHECK_EQ(weft_signal_wait(SIGUSR1), -EPERM);
    CHECK_EQ(weft_sigwatch_close(NULL), -EINVAL);
}

/* A watcher left open is closed by its loop: its handle is stale after,
 * and the dispositions are back. */
static void left_open(void *arg)
{
    (void)arg;
    weft_sigwatch *left = NULL;
    CHECK_EQ(weft_run(case_left_open, &left, NULL), 0);
    CHECK(left != NULL);
    CHECK_EQ(weft_sigwatch_close(left), -EINVAL);
    CHECK(handler_of(SIGUSR1) == SIG_DFL && handler_of(SIGTERM) == SIG_DFL);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_a_task", outside_a_task, NULL),
    {"from_task_kill", case_from_task, NULL, I2P(0), 0, 0, CHECK_CASE_ALARM},
    {"from_task_raise", case_from_task, NULL, I2P(1), 0, 0, CHECK_CASE_ALARM},
    {"from_thread_kill", case_from_thread, NULL, I2P(0), 0, 0,
     CHECK_CASE_ALARM},
    {"from_thread_pthread_kill", case_from_thread, NULL, I2P(1), 0, 0,
     CHECK_CASE_ALARM},
    CHECK_TASK("sigterm_wait", case_sigterm, NULL),
    CHECK_TASK("two_signals", case_two_signals, NULL),
    CHECK_TASK("coalesce", case_coalesce, NULL),
    CHECK_TASK("cancel_and_timeout", case_cancel, NULL),
    CHECK_TASK("close_wakes_waiter", case_close_wakes, NULL),
    CHECK_TASK("bad_signals", case_bad_signals, NULL),
    CHECK_TASK("double_close", case_double_close, NULL),
    CHECK_TASK("other_loop", case_other_loop, NULL),
    CHECK_TASK("dispositions_restored", case_dispositions, NULL),
    CHECK_TASK("two_loops", case_two_loops, NULL),
    CHECK_TASK("not_a_deadlock", case_not_deadlock, NULL),
    CHECK_TASK("describe", case_describe, NULL),
    CHECK_PLAIN("left_open_closed_by_loop", left_open, NULL),
    CHECK_PLAIN("ctrl_c_cancels_main", ctrl_c_case, (void *)&ctrl_c_main),
    CHECK_PLAIN("ctrl_c_from_thread", ctrl_c_case, (void *)&ctrl_c_thread),
    CHECK_PLAIN("ctrl_c_reraise", ctrl_c_case, (void *)&ctrl_c_reraise),
    CHECK_PLAIN("ctrl_c_twice_kills", ctrl_c_case, (void *)&ctrl_c_twice),
    CHECK_PLAIN("ctrl_c_watcher_takes_over", ctrl_c_case,
                (void *)&ctrl_c_watcher),
    CHECK_PLAIN("no_sigint_flag", no_sigint_flag, NULL),
    CHECK_PLAIN("sigint_ignored_at_entry", sigint_ignored_at_entry, NULL),
    CHECK_PLAIN("sigint_user_handler_at_entry", sigint_user_handler_at_entry,
                NULL),
    CHECK_PLAIN("sigint_not_main_thread", sigint_not_main_thread, NULL),
};

int main(void)
{
    check_allow_maps(16); /* threads' stacks and arenas */
    return CHECK_MAIN(cases);
}

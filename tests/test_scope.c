/*
 * test_scope.c - cancel scopes (weft/cancel.h) against every suspending
 * call.
 *
 * Each case is a function run in a fresh loop (weft_run), under a watchdog
 * task that cancels it if it runs too long and an alarm() that ends the
 * program (naming the case) if even that does not help; helpers' waits are
 * bounded (LONG_), so a scope that fails to fire shows as a failed check,
 * not a hang.  A failing case prints "FAIL <name>"; every failed check
 * names its case.  WEFT_SCOPE_VERBOSE=1 lists every case with its time.
 *
 * The matrix: every suspending call - weft_sleep, weft_yield, weft_await,
 * weft_gather, weft_map, weft_lock_acquire, weft_sem_acquire,
 * weft_cond_wait, weft_event_wait, weft_queue_get / put / join,
 * weft_gen_next, weft_io_wait, weft_to_thread, weft_barrier_wait - in each
 * of these situations (case "<situation>/<call>"):
 * - expire: the deadline passes while the call waits: -ETIMEDOUT, never
 *   before the deadline, promptly after it; sticky until close; close 1;
 *   nothing taken (a lock, a permit, an item), the tasks it waited for
 *   cancelled and joined (their results still delivered), a running thread
 *   job waited for;
 * - entry_open0, entry_open_at_past: the deadline passed before the call
 *   (weft_scope_open(0), weft_scope_open_at(past)): -ETIMEDOUT at entry,
 *   without suspending, even where the call would not have waited, and
 *   without taking anything;
 * - task_cancel_same_turn: the task is cancelled in the turn its deadline
 *   is due (the canceller runs after the deadline passed, before the loop
 *   noticed): the task's cancellation wins, -ECANCELED, close 0;
 * - task_cancel_timer_same_turn: both the canceller's timer and the scope's
 *   deadline are due in one loop turn (the canceller's first): the same
 *   rule;
 * - nested_outer_expires, nested_outer_cancelled (weft_scope_cancel from
 *   another task), nested_inner_expires: the outer scope's failure is the
 *   outer's (inner close 0, outer close 1); the inner's leaves the outer
 *   untouched (inner close 1, outer close 0);
 * - shielded: an expired outer scope is hidden by a shield, a scope opened
 *   inside the shield is not (it fires on its own deadline);
 * - grant_in_expiry_turn (lock, sem, cond, event, queue get/put/join,
 *   generator, barrier): what is handed to a waiter in the turn its scope
 *   expires is kept - the call returns 0 (the barrier, whose release is not
 *   a grant, -ETIMEDOUT) and the next call fails; nothing lost or granted
 *   twice.
 * Then the rest: sleep's own timeout inside a scope, timers never early,
 * stickiness over every call, deadline / cancelled values, the first cause
 * sticks, rescheduling from another task (later, earlier, past, INFINITY),
 * cancelling from another task, nesting rules, shields, misuse (-EBUSY,
 * -EPERM, -EINVAL, -EOVERFLOW, NaN), tasks returning with scopes open, and
 * the first scope's allocation failing.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Timing                                                                  */
/* ---------------------------------------------------------------------- */

static double U;        /* the deadline most cases use */
static double SLACK;    /* how late after its deadline a wake-up may be */
static double LONG_;    /* helpers' bounded "forever" */
static double WATCHDOG; /* a case running longer is cancelled */
/* weft_now() is a double: rounding only, not lateness of the timer. */
#define EARLY_TOL 1e-7

/* ---------------------------------------------------------------------- */
/* Cases and checks                                                        */
/* ---------------------------------------------------------------------- */

static const char *cur_case = "";
static long n_cases, n_failed;
static int verbose;
static int case_f0;
static double case_t0;
static long case_live0, case_maps0;

#define EXPECT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__,        \
                    __LINE__, cur_case, #cond);                                \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

#define EXPECT_EQ(a, b)                                                        \
    do {                                                                       \
        long long e_a_ = (long long)(a), e_b_ = (long long)(b);                \
        if (e_a_ != e_b_) {                                                    \
            fprintf(stderr,                                                    \
                    "%s:%d: [%s] CHECK_EQ failed: %s == %lld, %s == %lld\n",   \
                    __FILE__, __LINE__, cur_case, #a, e_a_, #b, e_b_);         \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

/* Times (seconds). */
#define EXPECT_GE(a, b)                                                        \
    do {                                                                       \
        double e_a_ = (a), e_b_ = (b);                                         \
        if (!(e_a_ >= e_b_)) {                                                 \
            fprintf(stderr, "%s:%d: [%s] expected %s >= %s: %.6f < %.6f\n",    \
                    __FILE__, __LINE__, cur_case, #a, #b, e_a_, e_b_);         \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

#define EXPECT_LT(a, b)                                                        \
    do {                                                                       \
        double e_a_ = (a), e_b_ = (b);                                         \
        if (!(e_a_ < e_b_)) {                                                  \
            fprintf(stderr, "%s:%d: [%s] expected %s < %s: %.6f >= %.6f\n",    \
                    __FILE__, __LINE__, cur_case, #a, #b, e_a_, e_b_);         \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "test_scope: timed out (alarm) in case ";
    ssize_t n = write(2, m, sizeof m - 1);
    n += write(2, cur_case, strlen(cur_case));
    n += write(2, "\n", 1);
    (void)n;
    _exit(1);
}

static void case_begin(const char *name)
{
    cur_case = name;
    case_f0 = check_failures;
    case_t0 = weft_now();
    case_live0 = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
    case_maps0 = __atomic_load_n(&weft__map_live, __ATOMIC_RELAXED);
    alarm((unsigned)(WATCHDOG * 3) + 5);
}

static void case_end(void)
{
    alarm(0);
    long live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
    long maps = __atomic_load_n(&weft__map_live, __ATOMIC_RELAXED);
    if (live != case_live0 || maps != case_maps0) {
        fprintf(stderr,
                "[%s] leak: %ld weft allocations and %ld mappings "
                "live after the case (%ld and %ld before)\n",
                cur_case, live, maps, case_live0, case_maps0);
        check_failures++;
    }
    n_cases++;
    if (check_failures != case_f0) {
        n_failed++;
        fprintf(stderr, "FAIL %s (%d check(s))\n", cur_case,
                check_failures - case_f0);
        printf("FAIL %s\n", cur_case);
    } else if (verbose) {
        printf("ok   %s (%.3f s)\n", cur_case, weft_now() - case_t0);
    }
    cur_case = "";
}

/* Each case runs as a task of its own under a watchdog. */
typedef struct watch {
    weft_fn fn;
    void *arg;
    weft_task *body;
    int fired;
} watch;

static void *watchdog(void *arg)
{
    watch *w = arg;
    if (weft_sleep(WATCHDOG) == 0) {
        w->fired = 1;
        fprintf(stderr,
                "[%s] watchdog: still running after %.1f s: "
                "cancelling it\n",
                cur_case, WATCHDOG);
        check_failures++;
        weft_task_cancel(w->body);
    }
    return NULL;
}

static void *case_main(void *arg)
{
    watch *w = arg;
    weft_task *wd;
    REQUIRE(weft_spawn(w->fn, w->arg, &w->body) == 0);
    REQUIRE(weft_spawn(watchdog, w, &wd) == 0);
    int rc = weft_await(w->body, NULL);
    if (rc != 0 && !w->fired) {
        fprintf(stderr, "[%s] the case's task ended with %s (%s)\n", cur_case,
                weft_strerror(rc), weft_errmsg() ? weft_errmsg() : "");
        check_failures++;
    }
    weft_task_cancel(wd);
    weft_await(wd, NULL);
    return NULL;
}

/* A case of check.c's runner (which names it, filters it, forks it): the
 * bookkeeping above around a task run under the watchdog, or around a
 * plain function. */
typedef struct scope_case {
    weft_fn fn;
    void *arg;
    void (*plain)(void);
} scope_case;

static void scope_case_run(void *arg)
{
    const scope_case *sc = arg;
    case_begin(check_case_name);
    if (sc->plain) {
        sc->plain();
    } else {
        watch w = {.fn = sc->fn, .arg = sc->arg};
        int rc = weft_run(case_main, &w, NULL);
        if (rc != 0) {
            fprintf(stderr, "[%s] weft_run returned %s (%s)\n", cur_case,
                    weft_strerror(rc), weft_errmsg() ? weft_errmsg() : "");
            check_failures++;
        }
    }
    case_end();
}

static void run_scope_case(const char *name, const scope_case *sc)
{
    struct check_case_def c = {name, NULL, scope_case_run,          (void *)sc,
                               0,    0,    (int)(WATCHDOG * 3) + 10};
    check_run_case(&c);
}

static void run_case(const char *name, weft_fn fn, void *arg)
{
    scope_case sc = {.fn = fn, .arg = arg};
    run_scope_case(name, &sc);
}

static void run_plain(const char *name, void (*fn)(void))
{
    scope_case sc = {.plain = fn};
    run_scope_case(name, &sc);
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

/* Lets the other tasks run until *flag is set (bounded). */
static void wait_flag(const volatile int *flag)
{
    for (long i = 0; !*flag && i < 200000; i++)
        weft_yield();
    EXPECT(*flag);
}

/* A few turns for the other tasks to reach their waits. */
static void settle(void)
{
    for (int i = 0; i < 8; i++)
        weft_yield();
}

/* Counts its turns: a call that suspends lets it tick. */
static volatile long ticks;
static volatile int ticker_stop;

static void *ticker(void *arg)
{
    (void)arg;
    while (!ticker_stop && ticks < 100000000)
        if (ticks++, weft_yield() != 0)
            break;
    return NULL;
}

static weft_task *ticker_start(void)
{
    ticks = 0;
    ticker_stop = 0;
    weft_task *t;
    REQUIRE(weft_spawn(ticker, NULL, &t) == 0);
    return t;
}

static void ticker_end(weft_task *t)
{
    ticker_stop = 1;
    EXPECT_EQ(weft_await(t, NULL), 0);
}

static void sleep_ms(double ms)
{
    struct timespec ts = {0, (long)(ms * 1e6)};
    nanosleep(&ts, NULL);
}

#define ITEM_A I2P(0xA1)
#define ITEM_B I2P(0xB2)
#define ITEM_X I2P(0x5C)

/* ---------------------------------------------------------------------- */
/* The shared state of one case                                            */
/* ---------------------------------------------------------------------- */

enum { BLOCK, READY };

typedef struct child_state {
    int started, sleep_rc, cleanup;
} child_state;

static struct ctx {
    int mode;
    weft_lock lock;
    weft_semaphore sem;
    weft_event ev;
    weft_lock clk; /* the condition's lock */
    weft_cond cond;
    weft_queue *q;
    weft_barrier bar;
    int pfd[2];
    /* generator */
    weft_gen *gen;
    weft_event gen_ev;
    int prod_started, prod_wait_rc, prod_cleanup, prod_yield2_rc;
    /* awaited tasks */
    weft_task *child[3];
    child_state cs[3];
    int cleanup_seen[3];
    void *results[4];
    int errors[4];
    void *result;
    void *item;
    /* map */
    void *items[4];
    int map_started, map_active, map_active_seen, map_rc[4];
    /* thread jobs */
    atomic_int job_started, job_saw_cancel, job_returned;
    int job_returned_seen;
    /* the caller's own cleanup, and the granting side */
    int post_rc;
    int grant_rc;
    void *main_got;
} C;

static void ctx_reset(void)
{
    memset(&C, 0, sizeof C);
    C.lock = (weft_lock)WEFT_LOCK_INIT;
    C.sem = (weft_semaphore)WEFT_SEMAPHORE_INIT(0);
    C.ev = (weft_event)WEFT_EVENT_INIT;
    C.clk = (weft_lock)WEFT_LOCK_INIT;
    C.cond = (weft_cond)WEFT_COND_INIT(&C.clk);
    C.gen_ev = (weft_event)WEFT_EVENT_INIT;
    C.pfd[0] = C.pfd[1] = -1;
    C.post_rc = 12345;
    C.grant_rc = 12345;
    atomic_store(&C.job_started, 0);
    atomic_store(&C.job_saw_cancel, 0);
    atomic_store(&C.job_returned, 0);
    for (int i = 0; i < 4; i++) {
        C.results[i] = I2P(-1);
        C.errors[i] = 12345;
        C.map_rc[i] = 12345;
        C.items[i] = I2P(i);
    }
}

/* A task that sleeps (bounded), then cleans up under a shield. */
static void *child_sleeper(void *arg)
{
    child_state *s = arg;
    s->started = 1;
    s->sleep_rc = weft_sleep(LONG_);
    weft_shield_begin();
    weft_sleep(0.003);
    weft_shield_end();
    s->cleanup = 1;
    return I2P(42);
}

/* ---------------------------------------------------------------------- */
/* The suspending calls                                                    */
/* ---------------------------------------------------------------------- */

/*
 * setup (the case's task, before the caller starts): BLOCK, a state in
 * which the call waits; READY, one in which it would return at once.  The
 * case's task is the other side (it holds the lock, it grants).
 * pre / post: the caller, before opening its scopes / after closing them.
 * call: inside the scopes.  grant: the other side, in the expiry turn.
 * check: after the caller finished - nothing taken, or the grant kept.
 */
typedef struct op {
    const char *name;
    int can_grant;
    int grant_rc; /* what the call returns when granted in the expiry turn */
    void (*setup)(int mode);
    void (*pre)(int mode);
    int (*call)(int mode);
    void (*post)(int rc);
    void (*grant)(void);
    void (*check)(int mode, int rc, int granted);
    void (*teardown)(void);
} op;

/* ---- weft_sleep ---- */

static void nop_setup(int mode)
{
    C.mode = mode;
}

static int sleep_call(int mode)
{
    return mode == READY ? weft_sleep(0) : weft_sleep(LONG_);
}

static void nop_check(int mode, int rc, int granted)
{
    (void)mode;
    (void)rc;
    (void)granted;
}

/* ---- weft_yield: never waits; "waiting" is yielding until it fails ---- */

static int yield_call(int mode)
{
    if (mode == READY)
        return weft_yield();
    double end = weft_now() + LONG_;
    int rc;
    while ((rc = weft_yield()) == 0 && weft_now() < end) {
    }
    return rc;
}

/* ---- weft_await ---- */

static void await_setup(int mode)
{
    C.mode = mode;
    if (mode == BLOCK)
        REQUIRE(weft_spawn(child_sleeper, &C.cs[0], &C.child[0]) == 0);
    else
        REQUIRE(weft_task_completed(I2P(43), &C.child[0]) == 0);
}

static int await_call(int mode)
{
    (void)mode;
    C.result = I2P(-1);
    int rc = weft_await(C.child[0], &C.result);
    C.cleanup_seen[0] = C.cs[0].cleanup;
    return rc;
}

static void await_check(int mode, int rc, int granted)
{
    (void)rc;
    (void)granted;
    if (mode == BLOCK) {
        EXPECT_EQ(C.cs[0].sleep_rc, -ECANCELED); /* the child was cancelled */
        EXPECT_EQ(C.cleanup_seen[0], 1);         /* and joined */
        EXPECT_EQ(P2I(C.result), 42);            /* its result delivered */
    } else {
        EXPECT_EQ(P2I(C.result), 43);
    }
    EXPECT_EQ(weft_task_done(C.child[0]), -EINVAL); /* consumed */
}

/* ---- weft_gather ---- */

static void gather_setup(int mode)
{
    C.mode = mode;
    if (mode == BLOCK) {
        REQUIRE(weft_spawn(child_sleeper, &C.cs[0], &C.child[0]) == 0);
        REQUIRE(weft_spawn(child_sleeper, &C.cs[1], &C.child[1]) == 0);
        REQUIRE(weft_task_completed(I2P(7), &C.child[2]) == 0);
    } else {
        for (int i = 0; i < 3; i++)
            REQUIRE(weft_task_completed(I2P(7 + i), &C.child[i]) == 0);
    }
}

static int gather_call(int mode)
{
    (void)mode;
    int rc = weft_gather(C.child, 3, C.results, C.errors, 0);
    C.cleanup_seen[0] = C.cs[0].cleanup;
    C.cleanup_seen[1] = C.cs[1].cleanup;
    return rc;
}

static void gather_check(int mode, int rc, int granted)
{
    (void)rc;
    (void)granted;
    if (mode == BLOCK) {
        for (int i = 0; i < 2; i++) {
            EXPECT_EQ(C.cs[i].sleep_rc, -ECANCELED);
            EXPECT_EQ(C.cleanup_seen[i], 1);
            EXPECT_EQ(C.errors[i], -ECANCELED);
            EXPECT_EQ(P2I(C.results[i]), 42);
        }
        EXPECT_EQ(C.errors[2], 0);
        EXPECT_EQ(P2I(C.results[2]), 7);
    } else {
        for (int i = 0; i < 3; i++) {
            EXPECT_EQ(C.errors[i], 0);
            EXPECT_EQ(P2I(C.results[i]), 7 + i);
        }
    }
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(weft_task_done(C.child[i]), -EINVAL);
}

/* ---- weft_map ---- */

static void *map_fn(void *arg)
{
    long i = (long)P2I(arg);
    C.map_started++;
    C.map_active++;
    C.map_rc[i] = C.mode == READY ? 0 : weft_sleep(LONG_);
    C.map_active--;
    return I2P(100 + i);
}

static int map_call(int mode)
{
    (void)mode;
    int rc = weft_map(map_fn, C.items, 4, 2, C.results, C.errors, 0);
    C.map_active_seen = C.map_active;
    return rc;
}

static void map_check(int mode, int rc, int granted)
{
    (void)rc;
    (void)granted;
    if (mode == READY) {
        EXPECT_EQ(C.map_started, 0); /* nothing ran */
        return;
    }
    EXPECT_EQ(C.map_started, 2);     /* limit 2: two items started */
    EXPECT_EQ(C.map_active_seen, 0); /* both finished before map returned */
    for (int i = 0; i < 2; i++) {
        EXPECT_EQ(C.map_rc[i], -ECANCELED);
        EXPECT_EQ(C.errors[i], -ECANCELED);
        EXPECT_EQ(P2I(C.results[i]), 100 + i);
    }
    for (int i = 2; i < 4; i++) { /* never ran */
        EXPECT_EQ(C.errors[i], -ECANCELED);
        EXPECT(C.results[i] == NULL);
    }
}

/* ---- weft_lock_acquire: the case's task holds the lock ---- */

static void lock_setup(int mode)
{
    C.mode = mode;
    if (mode == BLOCK)
        EXPECT_EQ(weft_lock_acquire(&C.lock), 0);
}

static int lock_call(int mode)
{
    (void)mode;
    return weft_lock_acquire(&C.lock);
}

static void lock_post(int rc)
{
    if (rc == 0)
        C.post_rc = weft_lock_release(&C.lock);
}

static void lock_grant(void)
{
    EXPECT_EQ(weft_lock_release(&C.lock), 0); /* handed to the waiter */
}

static void lock_check(int mode, int rc, int granted)
{
    if (granted) {
        EXPECT_EQ(rc, 0);
        EXPECT_EQ(C.post_rc, 0); /* the caller held it */
    } else if (mode == BLOCK) {
        EXPECT_EQ(weft_lock_locked(&C.lock), 1);
        EXPECT_EQ(weft_lock_release(&C.lock), 0); /* still ours */
    }
    EXPECT_EQ(weft_lock_locked(&C.lock), 0); /* nobody else got it */
}

/* ---- weft_sem_acquire ---- */

static void sem_setup(int mode)
{
    C.mode = mode;
    C.sem = (weft_semaphore)WEFT_SEMAPHORE_INIT(mode == READY ? 1 : 0);
}

static int sem_call(int mode)
{
    (void)mode;
    return weft_sem_acquire(&C.sem);
}

static void sem_post(int rc)
{
    if (rc == 0)
        C.post_rc = weft_sem_release(&C.sem);
}

static void sem_grant(void)
{
    EXPECT_EQ(weft_sem_release(&C.sem), 0);
}

static void sem_check(int mode, int rc, int granted)
{
    if (granted) {
        EXPECT_EQ(rc, 0);
        EXPECT_EQ(C.post_rc, 0);
        EXPECT_EQ(weft_sem_value(&C.sem), 1); /* the one permit, back */
    } else if (mode == BLOCK) {
        EXPECT_EQ(weft_sem_value(&C.sem), 0);
        EXPECT_EQ(weft_sem_release(&C.sem), 0);
        EXPECT_EQ(weft_sem_value(&C.sem), 1); /* not handed to anyone */
    } else {
        EXPECT_EQ(weft_sem_value(&C.sem), 1); /* not taken */
    }
}

/* ---- weft_cond_wait: the caller holds the condition's lock ---- */

static void cond_pre(int mode)
{
    (void)mode;
    EXPECT_EQ(weft_lock_acquire(&C.clk), 0);
}

static int cond_call(int mode)
{
    (void)mode;
    return weft_cond_wait(&C.cond);
}

static void cond_post(int rc)
{
    (void)rc;
    /* Held again whatever the wait returned. */
    C.post_rc = weft_lock_release(&C.clk);
}

static void cond_grant(void)
{
    EXPECT_EQ(weft_lock_acquire(&C.clk), 0); /* the waiter let it go */
    EXPECT_EQ(weft_cond_notify(&C.cond, 1), 1);
    EXPECT_EQ(weft_lock_release(&C.clk), 0);
}

static void cond_check(int mode, int rc, int granted)
{
    (void)mode;
    if (granted)
        EXPECT_EQ(rc, 0);
    EXPECT_EQ(C.post_rc, 0);
    EXPECT_EQ(weft_lock_locked(&C.clk), 0);
}

/* ---- weft_event_wait ---- */

static void event_setup(int mode)
{
    C.mode = mode;
    if (mode == READY)
        EXPECT_EQ(weft_event_set(&C.ev), 0);
}

static int event_call(int mode)
{
    (void)mode;
    return weft_event_wait(&C.ev);
}

static void event_grant(void)
{
    EXPECT_EQ(weft_event_set(&C.ev), 0);
}

static void event_check(int mode, int rc, int granted)
{
    if (granted)
        EXPECT_EQ(rc, 0);
    else
        EXPECT_EQ(weft_event_is_set(&C.ev), mode == READY);
}

/* ---- weft_queue_get ---- */

static void qget_setup(int mode)
{
    C.mode = mode;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 2, NULL, &C.q) == 0);
    if (mode == READY)
        EXPECT_EQ(weft_queue_try_put(C.q, ITEM_X), 0);
}

static int qget_call(int mode)
{
    (void)mode;
    return weft_queue_get(C.q, &C.item);
}

static void qget_grant(void)
{
    /* A getter waits: the item goes straight to it. */
    EXPECT_EQ(weft_queue_try_put(C.q, ITEM_X), 0);
}

static void queue_free(void)
{
    EXPECT_EQ(weft_queue_free(C.q), 0); /* nobody waits on it any more */
    C.q = NULL;
}

static void qget_check(int mode, int rc, int granted)
{
    void *v = NULL;
    if (granted) {
        EXPECT_EQ(rc, 0);
        EXPECT(C.item == ITEM_X);
        EXPECT_EQ(weft_queue_size(C.q), 0);
        EXPECT_EQ(weft_queue_task_done(C.q), 0);
        return;
    }
    if (mode == BLOCK) {
        /* The getter left: a later item stays in the queue. */
        EXPECT_EQ(weft_queue_size(C.q), 0);
        EXPECT_EQ(weft_queue_try_put(C.q, ITEM_X), 0);
    }
    EXPECT_EQ(weft_queue_size(C.q), 1);
    EXPECT_EQ(weft_queue_try_get(C.q, &v), 0);
    EXPECT(v == ITEM_X);
    EXPECT_EQ(weft_queue_task_done(C.q), 0);
}

/* ---- weft_queue_put ---- */

static void qput_setup(int mode)
{
    C.mode = mode;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 1, NULL, &C.q) == 0);
    if (mode == BLOCK)
        EXPECT_EQ(weft_queue_try_put(C.q, ITEM_A), 0); /* full */
}

static int qput_call(int mode)
{
    (void)mode;
    return weft_queue_put(C.q, ITEM_B);
}

static void qput_grant(void)
{
    /* Room now: the waiting putter's item goes in in the same step. */
    EXPECT_EQ(weft_queue_try_get(C.q, &C.main_got), 0);
}

static void qput_check(int mode, int rc, int granted)
{
    void *v = NULL;
    if (granted) {
        EXPECT_EQ(rc, 0);
        EXPECT(C.main_got == ITEM_A);
        EXPECT_EQ(weft_queue_size(C.q), 1);
        EXPECT_EQ(weft_queue_try_get(C.q, &v), 0);
        EXPECT(v == ITEM_B);
    } else if (mode == BLOCK) {
        EXPECT_EQ(weft_queue_size(C.q), 1);
        EXPECT_EQ(weft_queue_try_get(C.q, &v), 0);
        EXPECT(v == ITEM_A);
        EXPECT_EQ(weft_queue_try_get(C.q, &v), -EAGAIN); /* B never landed */
    } else {
        EXPECT_EQ(weft_queue_size(C.q), 0);
    }
}

/* ---- weft_queue_join ---- */

static void qjoin_setup(int mode)
{
    C.mode = mode;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &C.q) == 0);
    if (mode == BLOCK) {
        void *v;
        EXPECT_EQ(weft_queue_try_put(C.q, ITEM_A), 0);
        EXPECT_EQ(weft_queue_try_get(C.q, &v), 0); /* one unfinished */
    }
}

static int qjoin_call(int mode)
{
    (void)mode;
    return weft_queue_join(C.q);
}

static void qjoin_grant(void)
{
    EXPECT_EQ(weft_queue_task_done(C.q), 0);
}

static void qjoin_check(int mode, int rc, int granted)
{
    if (granted) {
        EXPECT_EQ(rc, 0);
    } else if (mode == BLOCK) {
        EXPECT_EQ(weft_queue_task_done(C.q), 0);
        EXPECT_EQ(weft_queue_join(C.q), 0);
    }
}

/* ---- weft_gen_next ---- */

/* Yields 1; then waits (bounded, in a scope of its own) for gen_ev and
 * yields 2, or, cancelled, cleans up under a shield. */
static void *producer(void *arg)
{
    (void)arg;
    C.prod_started = 1;
    if (weft_gen_yield(I2P(1)) != 0)
        return NULL;
    weft_scope *s;
    int orc = weft_scope_open(LONG_, &s);
    C.prod_wait_rc = weft_event_wait(&C.gen_ev);
    if (orc == 0)
        weft_scope_close(s);
    if (C.prod_wait_rc == 0) {
        C.prod_yield2_rc = weft_gen_yield(I2P(2));
        return I2P(77);
    }
    weft_shield_begin();
    weft_sleep(0.003);
    weft_shield_end();
    C.prod_cleanup = 1;
    return I2P(77);
}

static void gen_setup(int mode)
{
    C.mode = mode;
    REQUIRE(weft_gen_new(producer, NULL, &C.gen) == 0);
}

static void gen_pre(int mode)
{
    if (mode == BLOCK) {
        void *v = NULL;
        EXPECT_EQ(weft_gen_next(C.gen, &v), 1);
        EXPECT_EQ(P2I(v), 1);
    }
}

static int gen_call(int mode)
{
    (void)mode;
    int rc = weft_gen_next(C.gen, &C.item);
    C.cleanup_seen[0] = C.prod_cleanup;
    return rc;
}

static void gen_grant(void)
{
    EXPECT_EQ(weft_event_set(&C.gen_ev), 0);
}

static void gen_check(int mode, int rc, int granted)
{
    void *v;
    if (granted) {
        EXPECT_EQ(rc, 1);
        EXPECT_EQ(P2I(C.item), 2);
    } else if (mode == BLOCK) {
        EXPECT_EQ(C.prod_wait_rc, -ECANCELED);  /* the producer cancelled */
        EXPECT_EQ(C.cleanup_seen[0], 1);        /* and joined */
        EXPECT_EQ(weft_gen_next(C.gen, &v), 0); /* exhausted */
    } else {
        EXPECT_EQ(C.prod_started, 0); /* never started */
    }
}

static void gen_teardown(void)
{
    EXPECT_EQ(weft_gen_close(C.gen), 0);
    C.gen = NULL;
}

/* ---- weft_io_wait ---- */

static void io_setup(int mode)
{
    C.mode = mode;
    REQUIRE(pipe2(C.pfd, O_CLOEXEC | O_NONBLOCK) == 0);
    if (mode == READY)
        REQUIRE(write(C.pfd[1], "x", 1) == 1);
}

static int io_call(int mode)
{
    (void)mode;
    return weft_io_wait(C.pfd[0], WEFT_READABLE, -1);
}

static void io_check(int mode, int rc, int granted)
{
    (void)rc;
    (void)granted;
    if (mode == BLOCK) {
        /* The fd left the poller: it can be waited on again. */
        EXPECT_EQ(weft_io_wait(C.pfd[0], WEFT_READABLE, 0), -ETIMEDOUT);
    } else {
        char b;
        EXPECT_EQ(read(C.pfd[0], &b, 1), 1);
    }
}

static void io_teardown(void)
{
    close(C.pfd[0]);
    close(C.pfd[1]);
    C.pfd[0] = C.pfd[1] = -1;
}

/* ---- weft_to_thread ---- */

/* Runs until its task is cancelled (bounded), polling. */
static void *job_poll(void *arg)
{
    (void)arg;
    atomic_store(&C.job_started, 1);
    double end = weft_now() + LONG_;
    while (weft_now() < end) {
        if (weft_thread_cancelled() == 1) {
            atomic_store(&C.job_saw_cancel, 1);
            break;
        }
        sleep_ms(0.5);
    }
    atomic_store(&C.job_returned, 1);
    return I2P(99);
}

static void *job_quick(void *arg)
{
    (void)arg;
    atomic_store(&C.job_started, 1);
    return I2P(98);
}

static int thread_call(int mode)
{
    C.result = I2P(-1);
    int rc =
        weft_to_thread(mode == READY ? job_quick : job_poll, NULL, &C.result);
    C.job_returned_seen = atomic_load(&C.job_returned);
    return rc;
}

static void thread_check(int mode, int rc, int granted)
{
    (void)rc;
    (void)granted;
    if (mode == BLOCK && atomic_load(&C.job_started)) {
        EXPECT_EQ(atomic_load(&C.job_saw_cancel), 1);
        EXPECT_EQ(C.job_returned_seen, 1); /* returned after the job did */
        EXPECT_EQ(P2I(C.result), 99);
    } else if (mode == BLOCK) {
        /* A loaded machine gave the pool thread no CPU before the deadline:
         * the job was taken off the queue and never runs. */
        EXPECT_EQ(P2I(C.result), -1);
        EXPECT_EQ(weft_sleep(0.005), 0);
        EXPECT_EQ(atomic_load(&C.job_started), 0);
    } else {
        EXPECT_EQ(weft_sleep(0.005), 0);
        EXPECT_EQ(atomic_load(&C.job_started), 0); /* never ran */
    }
}

/* ---- weft_barrier_wait ---- */

static void barrier_setup(int mode)
{
    C.mode = mode;
    EXPECT_EQ(weft_barrier_init(&C.bar, mode == READY ? 1 : 2), 0);
}

static int barrier_call(int mode)
{
    (void)mode;
    return weft_barrier_wait(&C.bar);
}

static void barrier_grant(void)
{
    C.grant_rc = weft_barrier_wait(&C.bar); /* the last arrival */
}

static void *barrier_peer(void *arg)
{
    (void)arg;
    return I2P(weft_barrier_wait(&C.bar));
}

/* One more cycle of two goes through. */
static void barrier_full_cycle(void)
{
    weft_task *t;
    REQUIRE(weft_spawn(barrier_peer, NULL, &t) == 0);
    for (int i = 0; i < 1000 && weft_barrier_n_waiting(&C.bar) < 1; i++)
        weft_yield();
    EXPECT_EQ(weft_barrier_n_waiting(&C.bar), 1);
    EXPECT_EQ(weft_barrier_wait(&C.bar), 1);
    void *r = I2P(-1);
    EXPECT_EQ(weft_await(t, &r), 0);
    EXPECT_EQ(P2I(r), 0);
}

static void barrier_check(int mode, int rc, int granted)
{
    (void)rc;
    if (mode == READY) {
        EXPECT_EQ(weft_barrier_n_waiting(&C.bar), 0);
        return;
    }
    if (granted)
        EXPECT_EQ(C.grant_rc, 1);
    EXPECT_EQ(weft_barrier_n_waiting(&C.bar), 0); /* it left the cycle */
    EXPECT_EQ(weft_barrier_broken(&C.bar), 0);
    barrier_full_cycle();
}

/* ---- the table ---- */

static const op OPS[] = {
    {.name = "sleep",
     .setup = nop_setup,
     .call = sleep_call,
     .check = nop_check},
    {.name = "yield",
     .setup = nop_setup,
     .call = yield_call,
     .check = nop_check},
    {.name = "await",
     .setup = await_setup,
     .call = await_call,
     .check = await_check},
    {.name = "gather",
     .setup = gather_setup,
     .call = gather_call,
     .check = gather_check},
    {.name = "map", .setup = nop_setup, .call = map_call, .check = map_check},
    {.name = "lock_acquire",
     .can_grant = 1,
     .grant_rc = 0,
     .setup = lock_setup,
     .call = lock_call,
     .post = lock_post,
     .grant = lock_grant,
     .check = lock_check},
    {.name = "sem_acquire",
     .can_grant = 1,
     .grant_rc = 0,
     .setup = sem_setup,
     .call = sem_call,
     .post = sem_post,
     .grant = sem_grant,
     .check = sem_check},
    {.name = "cond_wait",
     .can_grant = 1,
     .grant_rc = 0,
     .setup = nop_setup,
     .pre = cond_pre,
     .call = cond_call,
     .post = cond_post,
     .grant = cond_grant,
     .check = cond_check},
    {.name = "event_wait",
     .can_grant = 1,
     .grant_rc = 0,
     .setup = event_setup,
     .call = event_call,
     .grant = event_grant,
     .check = event_check},
    {.name = "queue_get",
     .can_grant = 1,
     .grant_rc = 0,
     .setup = qget_setup,
     .call = qget_call,
     .grant = qget_grant,
     .check = qget_check,
     .teardown = queue_free},
    {.name = "queue_put",
     .can_grant = 1,
     .grant_rc = 0,
     .setup = qput_setup,
     .call = qput_call,
     .grant = qput_grant,
     .check = qput_check,
     .teardown = queue_free},
    {.name = "queue_join",
     .can_grant = 1,
     .grant_rc = 0,
     .setup = qjoin_setup,
     .call = qjoin_call,
     .grant = qjoin_grant,
     .check = qjoin_check,
     .teardown = queue_free},
    {.name = "gen_next",
     .can_grant = 1,
     .grant_rc = 1,
     .setup = gen_setup,
     .pre = gen_pre,
     .call = gen_call,
     .grant = gen_grant,
     .check = gen_check,
     .teardown = gen_teardown},
    {.name = "io_wait",
     .setup = io_setup,
     .call = io_call,
     .check = io_check,
     .teardown = io_teardown},
    {.name = "to_thread",
     .setup = nop_setup,
     .call = thread_call,
     .check = thread_check},
    /* weft/sync.h: release is not a grant - a released task whose deadline
     * passed before it resumed returns -ETIMEDOUT. */
    {.name = "barrier_wait",
     .can_grant = 1,
     .grant_rc = -ETIMEDOUT,
     .setup = barrier_setup,
     .call = barrier_call,
     .grant = barrier_grant,
     .check = barrier_check},
};
#define NOPS (sizeof OPS / sizeof OPS[0])

static void op_pre(const op *o, int mode)
{
    if (o->pre)
        o->pre(mode);
}

static void op_post(const op *o, int rc)
{
    if (o->post)
        o->post(rc);
}

static void op_teardown(const op *o)
{
    if (o->teardown)
        o->teardown();
}

/* ---------------------------------------------------------------------- */
/* The situations, for every call                                          */
/* ---------------------------------------------------------------------- */

typedef struct wrun {
    const op *o;
    int form; /* entry: how the passed deadline is given */
    double D; /* an absolute deadline */
    volatile int reached;
    int rc, sc, next, next2, after, close_in, close_out, shield_rc;
    int in_sc, out_sc;
    double t0, t1, t_next;
    weft_scope *outer, *inner;
    long ticks0, ticks1;
} wrun;

static weft_task *spawn_w(weft_fn fn, wrun *w)
{
    weft_task *t;
    REQUIRE(weft_spawn(fn, w, &t) == 0);
    return t;
}

/* ---- expire: the deadline passes while the call waits ---- */

static void *w_expire(void *arg)
{
    wrun *w = arg;
    weft_scope *s;
    op_pre(w->o, BLOCK);
    w->t0 = weft_now();
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    w->reached = 1;
    w->rc = w->o->call(BLOCK);
    w->t1 = weft_now();
    w->sc = weft_scope_cancelled(s);
    w->next = weft_yield();
    w->next2 = weft_sleep(0.001);
    w->close_out = weft_scope_close(s);
    w->after = weft_yield();
    op_post(w->o, w->rc);
    return NULL;
}

static void *sc_expire(void *arg)
{
    const op *o = arg;
    ctx_reset();
    o->setup(BLOCK);
    wrun w = {.o = o};
    EXPECT_EQ(weft_await(spawn_w(w_expire, &w), NULL), 0);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_GE(w.t1 - w.t0, U - EARLY_TOL); /* never early */
    EXPECT_LT(w.t1 - w.t0, U + SLACK);     /* promptly */
    EXPECT_EQ(w.sc, -ETIMEDOUT);
    EXPECT_EQ(w.next, -ETIMEDOUT); /* sticky */
    EXPECT_EQ(w.next2, -ETIMEDOUT);
    EXPECT_EQ(w.close_out, 1);
    EXPECT_EQ(w.after, 0); /* closed: calls work again */
    o->check(BLOCK, w.rc, 0);
    op_teardown(o);
    return NULL;
}

/* ---- entry: the deadline passed before the call ---- */

enum { F_OPEN0, F_OPEN_AT_PAST };

static void *w_entry(void *arg)
{
    wrun *w = arg;
    weft_scope *s = NULL;
    op_pre(w->o, READY);
    w->reached = 1;
    int orc = w->form == F_OPEN0 ? weft_scope_open(0, &s)
                                 : weft_scope_open_at(weft_now() - 1.0, &s);
    EXPECT_EQ(orc, 0);
    w->ticks0 = ticks;
    w->t0 = weft_now();
    w->rc = w->o->call(READY);
    w->t1 = weft_now();
    w->ticks1 = ticks;
    w->sc = weft_scope_cancelled(s);
    w->close_out = weft_scope_close(s);
    w->after = weft_yield();
    op_post(w->o, w->rc);
    return NULL;
}

static void sc_entry(const op *o, int form)
{
    ctx_reset();
    o->setup(READY);
    weft_task *tk = ticker_start();
    wrun w = {.o = o, .form = form};
    EXPECT_EQ(weft_await(spawn_w(w_entry, &w), NULL), 0);
    ticker_end(tk);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_EQ(w.ticks1 - w.ticks0, 0); /* did not suspend */
    EXPECT_LT(w.t1 - w.t0, SLACK);
    EXPECT_EQ(w.sc, -ETIMEDOUT);
    EXPECT_EQ(w.close_out, 1);
    EXPECT_EQ(w.after, 0);
    o->check(READY, w.rc, 0);
    op_teardown(o);
}

static void *sc_entry_open0(void *arg)
{
    sc_entry(arg, F_OPEN0);
    return NULL;
}

static void *sc_entry_open_at_past(void *arg)
{
    sc_entry(arg, F_OPEN_AT_PAST);
    return NULL;
}

/* ---- the task cancelled in the turn its deadline is due ---- */

static void *w_deadline(void *arg)
{
    wrun *w = arg;
    weft_scope *s;
    op_pre(w->o, BLOCK);
    EXPECT_EQ(weft_scope_open_at(w->D, &s), 0);
    w->outer = s;
    w->reached = 1;
    w->t0 = weft_now();
    w->rc = w->o->call(BLOCK);
    w->t1 = weft_now();
    w->sc = weft_scope_cancelled(s);
    w->next = weft_yield();
    /* A call that arms a timer: sees the passed deadline at the latest on
     * the next turn. */
    w->next2 = weft_sleep(LONG_);
    w->t_next = weft_now();
    w->close_out = weft_scope_close(s);
    w->after = weft_yield();
    op_post(w->o, w->rc);
    return NULL;
}

static void same_turn_checks(const op *o, const wrun *w)
{
    EXPECT_EQ(w->rc, -ECANCELED); /* the task's cancellation wins */
    EXPECT_EQ(w->next, -ECANCELED);
    EXPECT_EQ(w->next2, -ECANCELED);
    EXPECT_EQ(w->close_out, 0); /* not the scope's doing */
    EXPECT_EQ(w->after, -ECANCELED);
    o->check(BLOCK, w->rc, 0);
}

/* The canceller runs after the deadline passed and before the loop
 * noticed. */
static void *sc_cancel_same_turn(void *arg)
{
    const op *o = arg;
    ctx_reset();
    o->setup(BLOCK);
    wrun w = {.o = o, .D = weft_now() + U};
    weft_task *t = spawn_w(w_deadline, &w);
    wait_flag(&w.reached);
    settle();
    check_spin_until(w.D + U / 4);
    EXPECT_EQ(weft_task_cancel(t), 0);
    EXPECT_EQ(weft_await(t, NULL), -ECANCELED);
    same_turn_checks(o, &w);
    op_teardown(o);
    return NULL;
}

typedef struct canceller {
    weft_task *victim;
    double at;
    int rc;
} canceller;

static void *cancel_at(void *arg)
{
    canceller *c = arg;
    EXPECT_EQ(weft_sleep(c->at - weft_now()), 0);
    c->rc = weft_task_cancel(c->victim);
    return NULL;
}

static void *spin_task(void *arg)
{
    check_spin_until(*(double *)arg);
    return NULL;
}

/* Both the canceller's timer and the scope's deadline fall due while a
 * third task keeps the loop busy: one turn processes both, the
 * canceller's first. */
static void *sc_cancel_timer_same_turn(void *arg)
{
    const op *o = arg;
    ctx_reset();
    o->setup(BLOCK);
    wrun w = {.o = o, .D = weft_now() + 2 * U};
    weft_task *t = spawn_w(w_deadline, &w);
    canceller c = {.victim = t, .at = w.D - U / 2};
    double busy_until = w.D + U / 2;
    weft_task *ct, *bt;
    REQUIRE(weft_spawn(cancel_at, &c, &ct) == 0);
    REQUIRE(weft_spawn(spin_task, &busy_until, &bt) == 0);
    EXPECT_EQ(weft_await(t, NULL), -ECANCELED);
    EXPECT_EQ(weft_await(ct, NULL), 0);
    EXPECT_EQ(weft_await(bt, NULL), 0);
    EXPECT_EQ(c.rc, 0);
    same_turn_checks(o, &w);
    op_teardown(o);
    return NULL;
}

/* ---- nesting ---- */

/* The outer scope expires; the inner's deadline is far. */
static void *w_outer_expires(void *arg)
{
    wrun *w = arg;
    op_pre(w->o, BLOCK);
    w->t0 = weft_now();
    EXPECT_EQ(weft_scope_open(U, &w->outer), 0);
    EXPECT_EQ(weft_scope_open(10.0, &w->inner), 0);
    w->reached = 1;
    w->rc = w->o->call(BLOCK);
    w->t1 = weft_now();
    w->in_sc = weft_scope_cancelled(w->inner);
    w->next = weft_yield();
    w->close_in = weft_scope_close(w->inner);
    w->next2 = weft_yield(); /* still inside the outer */
    w->close_out = weft_scope_close(w->outer);
    w->after = weft_yield();
    op_post(w->o, w->rc);
    return NULL;
}

static void *sc_nested_outer_expires(void *arg)
{
    const op *o = arg;
    ctx_reset();
    o->setup(BLOCK);
    wrun w = {.o = o};
    EXPECT_EQ(weft_await(spawn_w(w_outer_expires, &w), NULL), 0);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_GE(w.t1 - w.t0, U - EARLY_TOL);
    EXPECT_LT(w.t1 - w.t0, U + SLACK);
    EXPECT_EQ(w.in_sc, 0); /* the inner itself is not cancelled */
    EXPECT_EQ(w.next, -ETIMEDOUT);
    EXPECT_EQ(w.close_in, 0);
    EXPECT_EQ(w.next2, -ETIMEDOUT);
    EXPECT_EQ(w.close_out, 1);
    EXPECT_EQ(w.after, 0);
    o->check(BLOCK, w.rc, 0);
    op_teardown(o);
    return NULL;
}

/* The outer scope is cancelled by another task (the watcher pattern). */
static void *w_outer_cancelled(void *arg)
{
    wrun *w = arg;
    op_pre(w->o, BLOCK);
    EXPECT_EQ(weft_scope_open(INFINITY, &w->outer), 0);
    EXPECT_EQ(weft_scope_open(10.0, &w->inner), 0);
    w->reached = 1;
    w->rc = w->o->call(BLOCK);
    w->t1 = weft_now();
    w->next = weft_yield();
    w->close_in = weft_scope_close(w->inner);
    w->next2 = weft_yield();
    w->close_out = weft_scope_close(w->outer);
    w->after = weft_yield();
    op_post(w->o, w->rc);
    return NULL;
}

static void *sc_nested_outer_cancelled(void *arg)
{
    const op *o = arg;
    ctx_reset();
    o->setup(BLOCK);
    wrun w = {.o = o};
    weft_task *t = spawn_w(w_outer_cancelled, &w);
    wait_flag(&w.reached);
    settle();
    EXPECT_EQ(weft_sleep(U), 0);
    EXPECT_EQ(weft_task_done(t), 0); /* still waiting */
    double tc = weft_now();
    EXPECT_EQ(weft_scope_cancel(w.outer), 0);
    EXPECT_EQ(weft_scope_cancelled(w.outer), -ECANCELED);
    EXPECT_EQ(weft_scope_cancelled(w.inner), 0);
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, -ECANCELED);
    EXPECT_LT(w.t1 - tc, SLACK); /* woken by the cancellation */
    EXPECT_EQ(w.next, -ECANCELED);
    EXPECT_EQ(w.close_in, 0);
    EXPECT_EQ(w.next2, -ECANCELED);
    EXPECT_EQ(w.close_out, 1);
    EXPECT_EQ(w.after, 0);
    o->check(BLOCK, w.rc, 0);
    op_teardown(o);
    return NULL;
}

/* The inner scope expires first: the outer is untouched. */
static void *w_inner_expires(void *arg)
{
    wrun *w = arg;
    op_pre(w->o, BLOCK);
    w->t0 = weft_now();
    EXPECT_EQ(weft_scope_open(10.0, &w->outer), 0);
    EXPECT_EQ(weft_scope_open(U, &w->inner), 0);
    w->rc = w->o->call(BLOCK);
    w->t1 = weft_now();
    w->next = weft_yield();
    w->close_in = weft_scope_close(w->inner);
    w->next2 = weft_yield();
    w->out_sc = weft_scope_cancelled(w->outer);
    w->close_out = weft_scope_close(w->outer);
    op_post(w->o, w->rc);
    return NULL;
}

static void *sc_nested_inner_expires(void *arg)
{
    const op *o = arg;
    ctx_reset();
    o->setup(BLOCK);
    wrun w = {.o = o};
    EXPECT_EQ(weft_await(spawn_w(w_inner_expires, &w), NULL), 0);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_GE(w.t1 - w.t0, U - EARLY_TOL);
    EXPECT_LT(w.t1 - w.t0, U + SLACK);
    EXPECT_EQ(w.next, -ETIMEDOUT);
    EXPECT_EQ(w.close_in, 1);
    EXPECT_EQ(w.next2, 0); /* the outer is fine */
    EXPECT_EQ(w.out_sc, 0);
    EXPECT_EQ(w.close_out, 0);
    o->check(BLOCK, w.rc, 0);
    op_teardown(o);
    return NULL;
}

/* ---- shielded: an expired outer scope hidden, an inner one not ---- */

static void *w_shielded(void *arg)
{
    wrun *w = arg;
    op_pre(w->o, BLOCK);
    EXPECT_EQ(weft_scope_open(0, &w->outer), 0); /* expired */
    EXPECT_EQ(weft_shield_begin(), 0);
    w->t0 = weft_now();
    EXPECT_EQ(weft_scope_open(U, &w->inner), 0);
    w->rc = w->o->call(BLOCK);
    w->t1 = weft_now();
    w->next = weft_yield();
    w->close_in = weft_scope_close(w->inner);
    w->shield_rc = weft_shield_end();
    w->next2 = weft_yield(); /* the outer applies again */
    w->close_out = weft_scope_close(w->outer);
    w->after = weft_yield();
    op_post(w->o, w->rc);
    return NULL;
}

static void *sc_shielded(void *arg)
{
    const op *o = arg;
    ctx_reset();
    o->setup(BLOCK);
    wrun w = {.o = o};
    EXPECT_EQ(weft_await(spawn_w(w_shielded, &w), NULL), 0);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_GE(w.t1 - w.t0, U - EARLY_TOL); /* the inner's, not the outer's */
    EXPECT_LT(w.t1 - w.t0, U + SLACK);
    EXPECT_EQ(w.next, -ETIMEDOUT);
    EXPECT_EQ(w.close_in, 1);
    EXPECT_EQ(w.shield_rc, 0);
    EXPECT_EQ(w.next2, -ETIMEDOUT);
    EXPECT_EQ(w.close_out, 1);
    EXPECT_EQ(w.after, 0);
    o->check(BLOCK, w.rc, 0);
    op_teardown(o);
    return NULL;
}

/* ---- grant in the expiry turn ---- */

static void *sc_grant(void *arg)
{
    const op *o = arg;
    ctx_reset();
    o->setup(BLOCK);
    wrun w = {.o = o, .D = weft_now() + U};
    weft_task *t = spawn_w(w_deadline, &w);
    wait_flag(&w.reached);
    settle();
    EXPECT_EQ(weft_task_done(t), 0);
    check_spin_until(w.D + U / 4); /* the deadline passed; nobody noticed yet */
    o->grant();
    double tg = weft_now();
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, o->grant_rc); /* the grant is kept */
    /* The next call fails; weft_yield strictly so (the loop's clock may
     * lag: see grant_next_yield_fails), a call that arms a timer at once. */
    EXPECT(w.next == 0 || w.next == -ETIMEDOUT);
    EXPECT_EQ(w.next2, -ETIMEDOUT);
    EXPECT_LT(w.t_next - tg, SLACK);
    EXPECT_EQ(w.close_out, 1);
    EXPECT_EQ(w.after, 0);
    o->check(BLOCK, w.rc, 1);
    op_teardown(o);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Misc cases                                                              */
/* ---------------------------------------------------------------------- */

/* Deadline and cancelled values. */
static void *case_values(void *arg)
{
    (void)arg;
    weft_scope *s, *s2;
    double d = 0;
    double t0 = weft_now();
    EXPECT_EQ(weft_scope_open(5.0, &s), 0);
    double t1 = weft_now();
    EXPECT_EQ(weft_scope_deadline(s, &d), 0);
    EXPECT_GE(d, t0 + 5.0 - EARLY_TOL); /* relative to the opening */
    EXPECT_LT(d, t1 + 5.0 + 1e-6);
    EXPECT_EQ(weft_scope_cancelled(s), 0);
    EXPECT_EQ(weft_scope_close(s), 0);

    /* After a delay: computed when opened. */
    EXPECT_EQ(weft_sleep(U), 0);
    t0 = weft_now();
    EXPECT_EQ(weft_scope_open(5.0, &s), 0);
    EXPECT_EQ(weft_scope_deadline(s, &d), 0);
    EXPECT_GE(d, t0 + 5.0 - EARLY_TOL);
    EXPECT_EQ(weft_scope_close(s), 0);

    double D = weft_now() + 3.0;
    EXPECT_EQ(weft_scope_open_at(D, &s), 0);
    EXPECT_EQ(weft_scope_deadline(s, &d), 0);
    EXPECT_LT(fabs(d - D), 2e-9);
    EXPECT_EQ(weft_scope_cancelled(s), 0);

    /* No deadline. */
    EXPECT_EQ(weft_scope_open(INFINITY, &s2), 0);
    EXPECT_EQ(weft_scope_deadline(s2, &d), 0);
    EXPECT(isinf(d) && d > 0);
    EXPECT_EQ(weft_scope_close(s2), 0);
    EXPECT_EQ(weft_scope_open_at(INFINITY, &s2), 0);
    EXPECT_EQ(weft_scope_deadline(s2, &d), 0);
    EXPECT(isinf(d) && d > 0);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_scope_close(s2), 0);
    EXPECT_EQ(weft_scope_open(1e300, &s2), 0);
    EXPECT_EQ(weft_scope_deadline(s2, &d), 0);
    EXPECT(isinf(d) && d > 0);
    EXPECT_EQ(weft_scope_close(s2), 0);

    /* Reschedule moves it; INFINITY removes it. */
    EXPECT_EQ(weft_scope_reschedule(s, D + 1.0), 0);
    EXPECT_EQ(weft_scope_deadline(s, &d), 0);
    EXPECT_LT(fabs(d - (D + 1.0)), 2e-9);
    EXPECT_EQ(weft_scope_reschedule(s, INFINITY), 0);
    EXPECT_EQ(weft_scope_deadline(s, &d), 0);
    EXPECT(isinf(d) && d > 0);
    EXPECT_EQ(weft_scope_cancelled(s), 0);

    /* Cancelled: -ECANCELED; again: no change. */
    EXPECT_EQ(weft_scope_cancel(s), 0);
    EXPECT_EQ(weft_scope_cancelled(s), -ECANCELED);
    EXPECT_EQ(weft_scope_cancel(s), 0);
    EXPECT_EQ(weft_scope_cancelled(s), -ECANCELED);
    EXPECT_EQ(weft_scope_close(s), 0); /* no call failed */

    /* A passed deadline: -ETIMEDOUT (once the loop's clock has passed it). */
    EXPECT_EQ(weft_scope_open(0, &s), 0);
    EXPECT_EQ(weft_scope_cancelled(s), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_deadline(s, &d), 0);
    EXPECT(d <= weft_now());
    EXPECT_EQ(weft_scope_close(s), 0);
    EXPECT_EQ(weft_scope_open_at(weft_now() - 5.0, &s), 0);
    EXPECT_EQ(weft_scope_cancelled(s), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s), 0);
    return NULL;
}

/* The first cause decides the code for the scope's lifetime. */
static void *case_first_cause_sticks(void *arg)
{
    (void)arg;
    weft_scope *s;
    /* Cancelled, then the deadline moved into the past. */
    EXPECT_EQ(weft_scope_open(INFINITY, &s), 0);
    EXPECT_EQ(weft_scope_cancel(s), 0);
    EXPECT_EQ(weft_scope_reschedule(s, weft_now() - 1.0), 0);
    EXPECT_EQ(weft_scope_cancelled(s), -ECANCELED);
    EXPECT_EQ(weft_yield(), -ECANCELED);
    EXPECT_EQ(weft_sleep(U), -ECANCELED);
    EXPECT_EQ(weft_scope_close(s), 1);

    /* Expired, then cancelled. */
    EXPECT_EQ(weft_scope_open(INFINITY, &s), 0);
    EXPECT_EQ(weft_scope_reschedule(s, weft_now() - 1.0), 0);
    EXPECT_EQ(weft_scope_cancelled(s), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_cancel(s), 0);
    EXPECT_EQ(weft_scope_cancelled(s), -ETIMEDOUT);
    EXPECT_EQ(weft_yield(), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s), 1);

    /* Expired, then the deadline moved later: still expired. */
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    EXPECT_EQ(weft_sleep(LONG_), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_reschedule(s, weft_now() + 10.0), 0);
    EXPECT_EQ(weft_scope_cancelled(s), -ETIMEDOUT);
    EXPECT_EQ(weft_yield(), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_reschedule(s, INFINITY), 0);
    EXPECT_EQ(weft_scope_cancelled(s), -ETIMEDOUT);
    EXPECT_EQ(weft_sleep(0.001), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s), 1);
    EXPECT_EQ(weft_yield(), 0);
    return NULL;
}

/* A scope cancelled or expired that no call saw: close 0, nothing left. */
static void *case_pending_never_observed(void *arg)
{
    (void)arg;
    weft_scope *s;
    EXPECT_EQ(weft_scope_open(INFINITY, &s), 0);
    EXPECT_EQ(weft_scope_cancel(s), 0);
    EXPECT_EQ(weft_scope_close(s), 0);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_sleep(0.001), 0);

    EXPECT_EQ(weft_scope_open(0, &s), 0);
    EXPECT_EQ(weft_scope_close(s), 0);
    EXPECT_EQ(weft_yield(), 0);

    /* Its deadline passes while the task runs, no call inside. */
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    check_spin_until(weft_now() + U + U / 4);
    EXPECT_EQ(weft_scope_close(s), 0);
    EXPECT_EQ(weft_yield(), 0);
    double t0 = weft_now();
    EXPECT_EQ(weft_sleep(U), 0); /* no stale timer */
    EXPECT_GE(weft_now() - t0, U - EARLY_TOL);

    /* A deadline that would pass only after the close has no effect. */
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    EXPECT_EQ(weft_sleep(U / 4), 0);
    EXPECT_EQ(weft_scope_close(s), 0);
    t0 = weft_now();
    EXPECT_EQ(weft_sleep(2 * U), 0);
    EXPECT_GE(weft_now() - t0, 2 * U - EARLY_TOL);
    return NULL;
}

/* The call's own timeout inside a scope with a later deadline. */
static void *case_own_timeout_in_scope(void *arg)
{
    (void)arg;
    weft_scope *s;
    EXPECT_EQ(weft_scope_open(10.0, &s), 0);
    double t0 = weft_now();
    EXPECT_EQ(weft_sleep(U), 0);
    EXPECT_GE(weft_now() - t0, U - EARLY_TOL);
    EXPECT_EQ(weft_scope_cancelled(s), 0);
    EXPECT_EQ(weft_scope_close(s), 0);

    EXPECT_EQ(weft_scope_open(3 * U, &s), 0);
    EXPECT_EQ(weft_sleep(U), 0);
    EXPECT_EQ(weft_scope_close(s), 0);

    /* weft_io_wait's own timeout is -ETIMEDOUT too, but not the scope's. */
    int pfd[2];
    REQUIRE(pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0);
    EXPECT_EQ(weft_scope_open(10.0, &s), 0);
    t0 = weft_now();
    EXPECT_EQ(weft_io_wait(pfd[0], WEFT_READABLE, U), -ETIMEDOUT);
    EXPECT_GE(weft_now() - t0, U - EARLY_TOL);
    EXPECT_EQ(weft_scope_cancelled(s), 0);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_scope_close(s), 0);
    /* ... and the scope's, earlier than the call's own. */
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    t0 = weft_now();
    EXPECT_EQ(weft_io_wait(pfd[0], WEFT_READABLE, 10.0), -ETIMEDOUT);
    EXPECT_LT(weft_now() - t0, U + SLACK);
    EXPECT_EQ(weft_scope_cancelled(s), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s), 1);
    close(pfd[0]);
    close(pfd[1]);

    return NULL;
}

/* The sleep's own deadline and the scope's (a little earlier) both pass
 * while another task keeps the loop busy, so one turn sees both.  Either
 * outcome may be chosen, but consistently: a sleep that returned 0 did
 * not fail because of the scope, so a close right after it says 0. */
static void *case_sleep_own_deadline_same_turn(void *arg)
{
    (void)arg;
    for (int next_call = 0; next_call < 2; next_call++) {
        weft_scope *s;
        double busy_until = weft_now() + 3 * U;
        weft_task *b;
        REQUIRE(weft_spawn(spin_task, &busy_until, &b) == 0);
        EXPECT_EQ(weft_scope_open(U, &s), 0);
        int rc = weft_sleep(U); /* its deadline: just after the scope's */
        EXPECT(rc == 0 || rc == -ETIMEDOUT);
        int next = next_call ? weft_yield() : 0;
        int cl = weft_scope_close(s);
        if (verbose)
            printf("     (sleep %d, next %d, close %d)\n", rc, next, cl);
        if (rc == -ETIMEDOUT || next_call) {
            if (next_call)
                EXPECT_EQ(next, -ETIMEDOUT);
            EXPECT_EQ(cl, 1);
        } else {
            EXPECT_EQ(cl, 0);
        }
        EXPECT_EQ(weft_await(b, NULL), 0);
    }
    return NULL;
}

/* A timer never fires early: by weft_now(), no scope of t expires before
 * t has passed. */
static void *case_never_early(void *arg)
{
    (void)arg;
    weft_scope *s;
    double t0 = weft_now();
    EXPECT_EQ(weft_scope_open(0.05, &s), 0);
    EXPECT_EQ(weft_sleep(INFINITY), -ETIMEDOUT);
    EXPECT_GE(weft_now() - t0, 0.05 - EARLY_TOL);
    EXPECT_EQ(weft_scope_close(s), 1);

    /* Polled: whenever the scope says it expired, its time has come. */
    t0 = weft_now();
    EXPECT_EQ(weft_scope_open(0.05, &s), 0);
    int rc = 0;
    for (long i = 0; i < 100000000 && rc == 0; i++) {
        int c = weft_scope_cancelled(s);
        if (c != 0)
            EXPECT_GE(weft_now() - t0, 0.05 - EARLY_TOL);
        rc = weft_yield();
        if (rc != 0)
            EXPECT_GE(weft_now() - t0, 0.05 - EARLY_TOL);
        if (weft_now() - t0 > LONG_)
            break;
    }
    EXPECT_EQ(rc, -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s), 1);

    /* Absolute deadlines, and short ones (rounding to ns). */
    for (int k = 1; k <= 5; k++) {
        double D = weft_now() + 0.001 * k;
        EXPECT_EQ(weft_scope_open_at(D, &s), 0);
        EXPECT_EQ(weft_sleep(INFINITY), -ETIMEDOUT);
        EXPECT_GE(weft_now(), D - EARLY_TOL);
        EXPECT_EQ(weft_scope_close(s), 1);
        t0 = weft_now();
        EXPECT_EQ(weft_scope_open(0.0005 * k, &s), 0);
        EXPECT_EQ(weft_sleep(INFINITY), -ETIMEDOUT);
        EXPECT_GE(weft_now() - t0, 0.0005 * k - EARLY_TOL);
        EXPECT_EQ(weft_scope_close(s), 1);
    }

    /* A lock wait and an fd wait. */
    weft_lock l = WEFT_LOCK_INIT;
    EXPECT_EQ(weft_lock_acquire(&l), 0);
    int pfd[2];
    REQUIRE(pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0);
    double D = weft_now() + 0.05;
    EXPECT_EQ(weft_scope_open_at(D, &s), 0);
    EXPECT_EQ(weft_io_wait(pfd[0], WEFT_READABLE, -1), -ETIMEDOUT);
    EXPECT_GE(weft_now(), D - EARLY_TOL);
    EXPECT_EQ(weft_scope_close(s), 1);
    close(pfd[0]);
    close(pfd[1]);
    EXPECT_EQ(weft_lock_release(&l), 0);
    return NULL;
}

/* Other ways to give a deadline that has passed. */
static void *case_entry_forms(void *arg)
{
    (void)arg;
    weft_scope *s;
    weft_lock l = WEFT_LOCK_INIT;
    for (int form = 0; form < 4; form++) {
        int rc;
        switch (form) {
        case 0:
            rc = weft_scope_open(-1.0, &s);
            break;
        case 1:
            rc = weft_scope_open(-INFINITY, &s);
            break;
        case 2:
            rc = weft_scope_open_at(0, &s);
            break;
        default:
            rc = weft_scope_open_at(-INFINITY, &s);
            break;
        }
        EXPECT_EQ(rc, 0);
        if (rc)
            continue;
        int f0 = check_failures;
        EXPECT_EQ(weft_scope_cancelled(s), -ETIMEDOUT);
        EXPECT_EQ(weft_yield(), -ETIMEDOUT);
        EXPECT_EQ(weft_sleep(0), -ETIMEDOUT);
        EXPECT_EQ(weft_lock_acquire(&l), -ETIMEDOUT);
        EXPECT_EQ(weft_lock_locked(&l), 0);
        EXPECT_EQ(weft_scope_close(s), 1);
        EXPECT_EQ(weft_yield(), 0);
        if (check_failures != f0)
            fprintf(stderr, "[%s] ... with form %d\n", cur_case, form);
    }

    /* open_at(weft_now()): due now, but weft_scope_open_at reads no clock
     * (weft/cancel.h), so it counts once the loop notices - at the latest
     * on the next turn. */
    EXPECT_EQ(weft_scope_open_at(weft_now(), &s), 0);
    int c = weft_scope_cancelled(s);
    EXPECT(c == 0 || c == -ETIMEDOUT);
    int rc;
    long n = 0;
    while ((rc = weft_yield()) == 0 && n < 100000)
        n++;
    EXPECT_EQ(rc, -ETIMEDOUT);
    EXPECT(n < 1000);
    EXPECT_EQ(weft_scope_close(s), 1);
    EXPECT_EQ(weft_scope_open_at(weft_now(), &s), 0);
    double t0 = weft_now();
    EXPECT_EQ(weft_lock_acquire(&l), 0); /* free: taken, no wait */
    EXPECT_EQ(weft_sleep(LONG_), -ETIMEDOUT);
    EXPECT_LT(weft_now() - t0, SLACK);
    EXPECT_EQ(weft_scope_close(s), 1);
    EXPECT_EQ(weft_lock_release(&l), 0);
    return NULL;
}

/* Sticky: after the deadline passed in a wait, every call fails, at entry,
 * whether or not it would have waited, and takes nothing, until close. */
static void *quick(void *arg)
{
    return arg;
}

static void *mark_ran(void *arg)
{
    *(int *)arg = 1;
    return arg;
}

static void *count_to_two(void *arg)
{
    (void)arg;
    C.prod_started = 1;
    weft_gen_yield(I2P(1));
    return NULL;
}

static void *case_sticky_every_call(void *arg)
{
    (void)arg;
    ctx_reset();
    weft_task *tk = ticker_start();
    int pfd[2];
    REQUIRE(pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0);
    REQUIRE(write(pfd[1], "x", 1) == 1); /* readable, and writable */
    weft_queue *q, *qfull, *qj;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &q) == 0);
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 1, NULL, &qfull) == 0);
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &qj) == 0);
    EXPECT_EQ(weft_queue_try_put(q, ITEM_A), 0);
    EXPECT_EQ(weft_event_set(&C.ev), 0);
    C.sem = (weft_semaphore)WEFT_SEMAPHORE_INIT(1);
    weft_barrier b1 = WEFT_BARRIER_INIT(1);
    weft_gen *g;
    REQUIRE(weft_gen_new(count_to_two, NULL, &g) == 0);
    weft_task *done, *running, *pending, *gt[2];
    weft_spawn_opts eager = {.flags = WEFT_SPAWN_EAGER};
    REQUIRE(weft_task_completed(I2P(5), &done) == 0);
    REQUIRE(weft_spawn_ex(child_sleeper, &C.cs[0], &eager, &running) == 0);
    int pending_ran = 0;
    REQUIRE(weft_task_completed(I2P(8), &gt[0]) == 0);
    REQUIRE(weft_task_completed(I2P(9), &gt[1]) == 0);
    EXPECT_EQ(weft_lock_acquire(&C.clk), 0);

    weft_scope *s;
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    EXPECT_EQ(weft_sleep(INFINITY), -ETIMEDOUT);
    long t0 = ticks;
    EXPECT_EQ(weft_sleep(0), -ETIMEDOUT);
    EXPECT_EQ(weft_sleep(-1.0), -ETIMEDOUT);
    EXPECT_EQ(weft_sleep(1.0), -ETIMEDOUT);
    EXPECT_EQ(weft_sleep(INFINITY), -ETIMEDOUT);
    EXPECT_EQ(weft_yield(), -ETIMEDOUT);
    EXPECT_EQ(weft_io_wait(pfd[0], WEFT_READABLE, -1), -ETIMEDOUT);
    EXPECT_EQ(weft_io_wait(pfd[1], WEFT_WRITABLE, 0), -ETIMEDOUT);
    EXPECT_EQ(weft_lock_acquire(&C.lock), -ETIMEDOUT);
    EXPECT_EQ(weft_sem_acquire(&C.sem), -ETIMEDOUT);
    EXPECT_EQ(weft_event_wait(&C.ev), -ETIMEDOUT);
    EXPECT_EQ(weft_cond_wait(&C.cond), -ETIMEDOUT);
    void *v = NULL;
    EXPECT_EQ(weft_queue_get(q, &v), -ETIMEDOUT);
    EXPECT_EQ(weft_queue_put(qfull, ITEM_B), -ETIMEDOUT);
    EXPECT_EQ(weft_queue_join(qj), -ETIMEDOUT);
    EXPECT_EQ(weft_barrier_wait(&b1), -ETIMEDOUT);
    EXPECT_EQ(weft_gen_next(g, &v), -ETIMEDOUT);
    EXPECT_EQ(weft_to_thread(job_quick, NULL, NULL), -ETIMEDOUT);
    EXPECT_EQ(weft_gather(NULL, 0, NULL, NULL, 0), -ETIMEDOUT);
    EXPECT_EQ(weft_map(map_fn, C.items, 4, 2, C.results, C.errors, 0),
              -ETIMEDOUT);
    /* Awaiting a finished task: its result, and -ETIMEDOUT. */
    void *r = NULL;
    EXPECT_EQ(weft_await(done, &r), -ETIMEDOUT);
    EXPECT_EQ(P2I(r), 5);
    EXPECT_EQ(ticks, t0); /* none of them suspended */
    /* Gathering finished tasks: results filled. */
    EXPECT_EQ(weft_gather(gt, 2, C.results, C.errors, 0), -ETIMEDOUT);
    EXPECT_EQ(P2I(C.results[0]), 8);
    EXPECT_EQ(P2I(C.results[1]), 9);
    EXPECT_EQ(C.errors[0], 0);
    EXPECT_EQ(C.errors[1], 0);
    /* A running task: cancelled, joined, result delivered. */
    r = NULL;
    EXPECT_EQ(weft_await(running, &r), -ETIMEDOUT);
    EXPECT_EQ(P2I(r), 42);
    EXPECT_EQ(C.cs[0].cleanup, 1);
    EXPECT_EQ(C.cs[0].sleep_rc, -ECANCELED);
    /* One that had not started: never runs.  (Spawning does not
     * suspend.) */
    REQUIRE(weft_spawn(mark_ran, &pending_ran, &pending) == 0);
    r = I2P(1);
    EXPECT_EQ(weft_await(pending, &r), -ETIMEDOUT);
    EXPECT(r == NULL);
    EXPECT_EQ(pending_ran, 0);
    EXPECT_EQ(weft_yield(), -ETIMEDOUT); /* still */
    EXPECT_EQ(weft_scope_close(s), 1);

    /* Nothing was taken. */
    EXPECT_EQ(weft_lock_locked(&C.lock), 0);
    EXPECT_EQ(weft_sem_value(&C.sem), 1);
    EXPECT_EQ(weft_event_is_set(&C.ev), 1);
    EXPECT_EQ(weft_queue_size(q), 1);
    EXPECT_EQ(weft_queue_size(qfull), 0);
    EXPECT_EQ(C.prod_started, 0);
    EXPECT_EQ(C.map_started, 0);
    EXPECT_EQ(atomic_load(&C.job_started), 0);
    EXPECT_EQ(weft_lock_release(&C.clk), 0); /* cond_wait kept the lock */

    /* And after the close, the same calls succeed. */
    EXPECT_EQ(weft_lock_acquire(&C.clk), 0);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_io_wait(pfd[0], WEFT_READABLE, -1), WEFT_READABLE);
    EXPECT_EQ(weft_lock_acquire(&C.lock), 0);
    EXPECT_EQ(weft_lock_release(&C.lock), 0);
    EXPECT_EQ(weft_sem_acquire(&C.sem), 0);
    EXPECT_EQ(weft_event_wait(&C.ev), 0);
    EXPECT_EQ(weft_queue_get(q, &v), 0);
    EXPECT(v == ITEM_A);
    EXPECT_EQ(weft_queue_put(qfull, ITEM_B), 0);
    EXPECT_EQ(weft_queue_join(qj), 0);
    EXPECT_EQ(weft_barrier_wait(&b1), 0);
    EXPECT_EQ(weft_gen_next(g, &v), 1);
    EXPECT_EQ(weft_to_thread(job_quick, NULL, &v), 0);
    EXPECT_EQ(P2I(v), 98);
    EXPECT_EQ(weft_lock_release(&C.clk), 0);

    EXPECT_EQ(weft_gen_close(g), 0);
    EXPECT_EQ(weft_queue_free(q), 0);
    EXPECT_EQ(weft_queue_free(qfull), 0);
    EXPECT_EQ(weft_queue_free(qj), 0);
    close(pfd[0]);
    close(pfd[1]);
    ticker_end(tk);
    return NULL;
}

/* weft/cancel.h: every suspending call inside a cancelled scope fails at
 * entry, whether or not it would have suspended: also next on a generator
 * that is already exhausted (which would return 0 at once). */
static void *case_sticky_gen_next_exhausted(void *arg)
{
    (void)arg;
    ctx_reset();
    weft_gen *g;
    void *v;
    REQUIRE(weft_gen_new(count_to_two, NULL, &g) == 0);
    EXPECT_EQ(weft_gen_next(g, &v), 1);
    EXPECT_EQ(weft_gen_next(g, &v), 0); /* exhausted */
    weft_scope *s;
    EXPECT_EQ(weft_scope_open(0, &s), 0);
    EXPECT_EQ(weft_gen_next(g, &v), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s), 1);
    EXPECT_EQ(weft_gen_next(g, &v), 0);
    EXPECT_EQ(weft_gen_close(g), 0);
    return NULL;
}

/* weft_map failing at entry: weft/gather.h says results and errors
 * receive each item's outcome, NULL and -ECANCELED for an item that never
 * ran. */
static void *case_map_entry_outputs(void *arg)
{
    (void)arg;
    ctx_reset();
    C.mode = READY;
    weft_scope *s;
    EXPECT_EQ(weft_scope_open(0, &s), 0);
    EXPECT_EQ(weft_map(map_fn, C.items, 4, 2, C.results, C.errors, 0),
              -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s), 1);
    EXPECT_EQ(C.map_started, 0);
    for (int i = 0; i < 4; i++) {
        EXPECT(C.results[i] == NULL);
        EXPECT_EQ(C.errors[i], -ECANCELED);
    }
    return NULL;
}

/* The deadline passes while the task runs (no call inside): the loop's
 * clock may lag, but a call that suspends makes the loop notice. */
static void *case_deadline_passed_while_running(void *arg)
{
    (void)arg;
    weft_scope *s;
    double D = weft_now() + U;
    EXPECT_EQ(weft_scope_open_at(D, &s), 0);
    check_spin_until(D + U / 4);
    int c = weft_scope_cancelled(s);
    EXPECT(c == 0 || c == -ETIMEDOUT); /* as of the loop's clock */
    long n = 0;
    int rc;
    while ((rc = weft_yield()) == 0 && n < 100000)
        n++;
    EXPECT_EQ(rc, -ETIMEDOUT);
    EXPECT(n < 1000);
    if (verbose)
        printf("     (%ld yields succeeded after the deadline)\n", n);
    EXPECT_EQ(weft_scope_close(s), 1);

    /* A call that arms a timer fails on the next turn at the latest. */
    D = weft_now() + U;
    EXPECT_EQ(weft_scope_open_at(D, &s), 0);
    check_spin_until(D + U / 4);
    double t0 = weft_now();
    EXPECT_EQ(weft_sleep(LONG_), -ETIMEDOUT);
    EXPECT_LT(weft_now() - t0, SLACK);
    EXPECT_EQ(weft_scope_close(s), 1);
    return NULL;
}

/* The brief, strictly: a lock granted in the turn the waiter's scope
 * expires is kept (0), and the very next call fails - here a weft_yield,
 * with nothing else ready. */
static void *w_grant_next_yield(void *arg)
{
    wrun *w = arg;
    weft_scope *s;
    EXPECT_EQ(weft_scope_open_at(w->D, &s), 0);
    w->reached = 1;
    w->rc = weft_lock_acquire(&C.lock);
    w->sc = weft_scope_cancelled(s);
    w->next = weft_yield();
    w->close_out = weft_scope_close(s);
    if (w->rc == 0)
        C.post_rc = weft_lock_release(&C.lock);
    return NULL;
}

static void *case_grant_next_yield_fails(void *arg)
{
    (void)arg;
    ctx_reset();
    EXPECT_EQ(weft_lock_acquire(&C.lock), 0);
    wrun w = {.D = weft_now() + U};
    weft_task *t = spawn_w(w_grant_next_yield, &w);
    wait_flag(&w.reached);
    settle();
    check_spin_until(w.D + U / 4);
    EXPECT_EQ(weft_lock_release(&C.lock), 0);
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, 0);
    EXPECT_EQ(w.sc, -ETIMEDOUT);
    EXPECT_EQ(w.next, -ETIMEDOUT);
    EXPECT_EQ(w.close_out, 1);
    EXPECT_EQ(C.post_rc, 0);
    EXPECT_EQ(weft_lock_locked(&C.lock), 0);
    return NULL;
}

/* An awaited task finishing in the turn the awaiter's deadline passed:
 * its result is delivered, and the deadline is not lost. */
static void *await_event_child(void *arg)
{
    (void)arg;
    weft_scope *s;
    int orc = weft_scope_open(LONG_, &s);
    C.prod_wait_rc = weft_event_wait(&C.gen_ev);
    if (orc == 0)
        weft_scope_close(s);
    return I2P(42);
}

static void *w_await_turn(void *arg)
{
    wrun *w = arg;
    weft_scope *s;
    EXPECT_EQ(weft_scope_open_at(w->D, &s), 0);
    w->reached = 1;
    C.result = I2P(-1);
    w->rc = weft_await(C.child[0], &C.result);
    w->next2 = weft_sleep(LONG_);
    w->close_out = weft_scope_close(s);
    return NULL;
}

static void *case_await_result_in_expiry_turn(void *arg)
{
    (void)arg;
    ctx_reset();
    REQUIRE(weft_spawn(await_event_child, NULL, &C.child[0]) == 0);
    wrun w = {.D = weft_now() + U};
    weft_task *t = spawn_w(w_await_turn, &w);
    wait_flag(&w.reached);
    settle();
    check_spin_until(w.D + U / 4);
    EXPECT_EQ(weft_event_set(&C.gen_ev), 0);
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(C.prod_wait_rc, 0); /* the child finished on its own */
    EXPECT(w.rc == 0 || w.rc == -ETIMEDOUT);
    EXPECT_EQ(P2I(C.result), 42);
    EXPECT_EQ(w.next2, -ETIMEDOUT);
    EXPECT_EQ(w.close_out, 1);
    if (verbose)
        printf("     (the await returned %d)\n", w.rc);
    return NULL;
}

/* weft_cond_wait returns with the lock held even when its scope expired
 * while another task held the lock: it waits for the lock. */
static void *w_cond_locked(void *arg)
{
    wrun *w = arg;
    weft_scope *s;
    EXPECT_EQ(weft_lock_acquire(&C.clk), 0);
    w->t0 = weft_now();
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    w->reached = 1;
    w->rc = weft_cond_wait(&C.cond);
    w->t1 = weft_now();
    w->close_out = weft_scope_close(s);
    C.post_rc = weft_lock_release(&C.clk);
    return NULL;
}

static void *case_cond_expiry_waits_for_lock(void *arg)
{
    (void)arg;
    ctx_reset();
    wrun w = {0};
    weft_task *t = spawn_w(w_cond_locked, &w);
    wait_flag(&w.reached);
    settle();
    EXPECT_EQ(weft_lock_acquire(&C.clk), 0); /* released by the wait */
    EXPECT_EQ(weft_sleep(3 * U), 0);         /* the waiter's scope expires */
    EXPECT_EQ(weft_task_done(t), 0);         /* it waits for the lock */
    double tr = weft_now();
    EXPECT_EQ(weft_lock_release(&C.clk), 0);
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_GE(w.t1, tr);
    EXPECT_EQ(w.close_out, 1);
    EXPECT_EQ(C.post_rc, 0); /* it held the lock */
    EXPECT_EQ(weft_lock_locked(&C.clk), 0);
    return NULL;
}

/* A thread job still queued is withdrawn at once; the job running ahead of
 * it is not disturbed. */
static atomic_int blocker_go, blocker_done;

static void *job_blocker(void *arg)
{
    (void)arg;
    atomic_store(&C.job_started, 1);
    double end = weft_now() + LONG_;
    while (!atomic_load(&blocker_go) && weft_now() < end)
        sleep_ms(0.5);
    atomic_store(&blocker_done, 1);
    return I2P(11);
}

static void *job_mark(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

static void *case_to_thread_queued_withdrawn(void *arg)
{
    (void)arg;
    ctx_reset();
    atomic_store(&blocker_go, 0);
    atomic_store(&blocker_done, 0);
    EXPECT_EQ(weft_pool_limit(1), 0);
    weft_task *b;
    REQUIRE(weft_spawn_blocking(job_blocker, NULL, &b) == 0);
    double until = weft_now() + LONG_;
    while (!atomic_load(&C.job_started) && weft_now() < until)
        weft_sleep(0.0005);
    EXPECT_EQ(atomic_load(&C.job_started), 1);
    atomic_int ran;
    atomic_store(&ran, 0);
    weft_scope *s;
    double t0 = weft_now();
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    EXPECT_EQ(weft_to_thread(job_mark, &ran, NULL), -ETIMEDOUT);
    double el = weft_now() - t0;
    EXPECT_GE(el, U - EARLY_TOL);
    EXPECT_LT(el, U + SLACK);
    EXPECT_EQ(atomic_load(&blocker_done), 0); /* did not wait for it */
    EXPECT_EQ(weft_scope_close(s), 1);
    atomic_store(&blocker_go, 1);
    void *r = NULL;
    EXPECT_EQ(weft_await(b, &r), 0);
    EXPECT_EQ(P2I(r), 11);
    EXPECT_EQ(weft_to_thread(job_quick, NULL, NULL), 0); /* the pool works */
    EXPECT_EQ(atomic_load(&ran), 0);                     /* never ran */
    return NULL;
}

/* ---- nesting rules ---- */

static void *case_nested_same_deadline(void *arg)
{
    (void)arg;
    weft_scope *o, *i;
    double D = weft_now() + U;
    EXPECT_EQ(weft_scope_open_at(D, &o), 0);
    EXPECT_EQ(weft_scope_open_at(D, &i), 0);
    EXPECT_EQ(weft_sleep(INFINITY), -ETIMEDOUT);
    EXPECT_GE(weft_now(), D - EARLY_TOL);
    EXPECT_EQ(weft_scope_cancelled(i), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_cancelled(o), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(i), 0); /* the outer's failure */
    EXPECT_EQ(weft_scope_close(o), 1);

    /* The outer's deadline earlier than the inner's, both passed. */
    EXPECT_EQ(weft_scope_open(U, &o), 0);
    EXPECT_EQ(weft_scope_open(2 * U, &i), 0);
    check_spin_until(weft_now() + 3 * U);
    EXPECT_EQ(weft_sleep(LONG_), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(i), 0);
    EXPECT_EQ(weft_scope_close(o), 1);
    return NULL;
}

static void *case_nested_cancel_rules(void *arg)
{
    (void)arg;
    weft_scope *o, *i;
    /* Both cancelled: the outermost is the cause. */
    EXPECT_EQ(weft_scope_open(INFINITY, &o), 0);
    EXPECT_EQ(weft_scope_open(INFINITY, &i), 0);
    EXPECT_EQ(weft_scope_cancel(i), 0);
    EXPECT_EQ(weft_scope_cancel(o), 0);
    EXPECT_EQ(weft_yield(), -ECANCELED);
    EXPECT_EQ(weft_scope_close(i), 0);
    EXPECT_EQ(weft_yield(), -ECANCELED);
    EXPECT_EQ(weft_scope_close(o), 1);

    /* Outer expired, inner cancelled: the outer's code and attribution. */
    EXPECT_EQ(weft_scope_open(0, &o), 0);
    EXPECT_EQ(weft_scope_open(INFINITY, &i), 0);
    EXPECT_EQ(weft_scope_cancel(i), 0);
    EXPECT_EQ(weft_yield(), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(i), 0);
    EXPECT_EQ(weft_scope_close(o), 1);

    /* Only the inner cancelled: the outer untouched. */
    EXPECT_EQ(weft_scope_open(INFINITY, &o), 0);
    EXPECT_EQ(weft_scope_open(INFINITY, &i), 0);
    EXPECT_EQ(weft_scope_cancel(i), 0);
    EXPECT_EQ(weft_sleep(LONG_), -ECANCELED);
    EXPECT_EQ(weft_scope_close(i), 1);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_scope_close(o), 0);

    /* A new scope opened inside an expired one fails at once, because of
     * the outer (the cleanup idiom needs a shield). */
    EXPECT_EQ(weft_scope_open(0, &o), 0);
    EXPECT_EQ(weft_scope_open(10.0, &i), 0);
    EXPECT_EQ(weft_yield(), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(i), 0);
    EXPECT_EQ(weft_scope_close(o), 1);

    /* The attribution is fixed when the call fails (R10). */
    EXPECT_EQ(weft_scope_open(INFINITY, &o), 0);
    EXPECT_EQ(weft_scope_open(INFINITY, &i), 0);
    EXPECT_EQ(weft_scope_cancel(o), 0);
    EXPECT_EQ(weft_yield(), -ECANCELED);
    EXPECT_EQ(weft_shield_begin(), 0);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_shield_end(), 0);
    EXPECT_EQ(weft_scope_close(i), 0);
    EXPECT_EQ(weft_scope_close(o), 1);
    return NULL;
}

/* WEFT_SCOPE_MAX nested; the outermost cancelled. */
static void *case_deep_nesting(void *arg)
{
    (void)arg;
    weft_scope *s[WEFT_SCOPE_MAX];
    for (int i = 0; i < WEFT_SCOPE_MAX; i++)
        EXPECT_EQ(weft_scope_open(i == 0 ? INFINITY : 10.0 + i, &s[i]), 0);
    EXPECT_EQ(weft_scope_cancel(s[0]), 0);
    EXPECT_EQ(weft_sleep(LONG_), -ECANCELED);
    for (int i = WEFT_SCOPE_MAX - 1; i > 0; i--) {
        EXPECT_EQ(weft_scope_close(s[i]), 0);
        EXPECT_EQ(weft_yield(), -ECANCELED);
    }
    EXPECT_EQ(weft_scope_close(s[0]), 1);
    EXPECT_EQ(weft_yield(), 0);

    /* The innermost expires: only it reports. */
    for (int i = 0; i < WEFT_SCOPE_MAX; i++)
        EXPECT_EQ(weft_scope_open(i == WEFT_SCOPE_MAX - 1 ? U : 10.0, &s[i]),
                  0);
    EXPECT_EQ(weft_sleep(LONG_), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s[WEFT_SCOPE_MAX - 1]), 1);
    for (int i = WEFT_SCOPE_MAX - 2; i >= 0; i--) {
        EXPECT_EQ(weft_yield(), 0);
        EXPECT_EQ(weft_scope_close(s[i]), 0);
    }
    return NULL;
}

/* ---- shields ---- */

static void *case_shield_walkthrough(void *arg)
{
    (void)arg;
    weft_scope *o, *i, *x;
    EXPECT_EQ(weft_scope_open(INFINITY, &o), 0);
    EXPECT_EQ(weft_scope_open(INFINITY, &i), 0);
    EXPECT_EQ(weft_scope_cancel(o), 0);
    EXPECT_EQ(weft_yield(), -ECANCELED);
    EXPECT_EQ(weft_shield_begin(), 0);
    EXPECT_EQ(weft_yield(), 0);
    double t0 = weft_now();
    EXPECT_EQ(weft_sleep(U), 0); /* runs its full time */
    EXPECT_GE(weft_now() - t0, U - EARLY_TOL);
    EXPECT_EQ(weft_scope_open(INFINITY, &x), 0);
    EXPECT_EQ(weft_scope_cancel(x), 0);
    EXPECT_EQ(weft_yield(), -ECANCELED); /* a scope inside the shield */
    EXPECT_EQ(weft_scope_close(x), 1);
    EXPECT_EQ(weft_yield(), 0);
    /* Nested shields. */
    EXPECT_EQ(weft_shield_begin(), 0);
    EXPECT_EQ(weft_scope_open(0, &x), 0);
    EXPECT_EQ(weft_yield(), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(x), 1);
    EXPECT_EQ(weft_shield_end(), 0);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_shield_end(), 0);
    EXPECT_EQ(weft_yield(), -ECANCELED);
    EXPECT_EQ(weft_scope_close(i), 0);
    EXPECT_EQ(weft_scope_close(o), 1);
    return NULL;
}

/* A shield hides the task's own cancellation too, but not a scope opened
 * inside it: cleanup can bound itself. */
static void *w_shield_task_cancel(void *arg)
{
    wrun *w = arg;
    weft_scope *s;
    EXPECT_EQ(weft_task_cancel(weft_current()), 0);
    EXPECT_EQ(weft_yield(), -ECANCELED);
    EXPECT_EQ(weft_shield_begin(), 0);
    w->t0 = weft_now();
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    w->rc = weft_sleep(INFINITY);
    w->t1 = weft_now();
    w->close_in = weft_scope_close(s);
    w->next = weft_yield();
    w->shield_rc = weft_shield_end();
    w->next2 = weft_yield();
    return NULL;
}

static void *case_shield_task_cancel_inner_scope(void *arg)
{
    (void)arg;
    wrun w = {0};
    EXPECT_EQ(weft_await(spawn_w(w_shield_task_cancel, &w), NULL), -ECANCELED);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_GE(w.t1 - w.t0, U - EARLY_TOL);
    EXPECT_LT(w.t1 - w.t0, U + SLACK);
    EXPECT_EQ(w.close_in, 1);
    EXPECT_EQ(w.next, 0);
    EXPECT_EQ(w.shield_rc, 0);
    EXPECT_EQ(w.next2, -ECANCELED);
    return NULL;
}

/* ---- the task's cancellation beats any scope ---- */

static void *w_task_cancel_beats(void *arg)
{
    wrun *w = arg;
    weft_scope *s;
    EXPECT_EQ(weft_scope_open(10.0, &s), 0);
    EXPECT_EQ(weft_task_cancel(weft_current()), 0);
    w->rc = weft_yield();
    w->close_in = weft_scope_close(s);
    w->next = weft_yield(); /* persists after the close */
    /* With an expired scope too. */
    EXPECT_EQ(weft_scope_open(0, &s), 0);
    w->next2 = weft_sleep(LONG_);
    w->sc = weft_scope_cancelled(s);
    w->close_out = weft_scope_close(s);
    return NULL;
}

static void *case_task_cancel_beats_scope(void *arg)
{
    (void)arg;
    wrun w = {0};
    EXPECT_EQ(weft_await(spawn_w(w_task_cancel_beats, &w), NULL), -ECANCELED);
    EXPECT_EQ(w.rc, -ECANCELED);
    EXPECT_EQ(w.close_in, 0);
    EXPECT_EQ(w.next, -ECANCELED);
    EXPECT_EQ(w.next2, -ECANCELED);
    EXPECT_EQ(w.sc, -ETIMEDOUT); /* the scope's own state */
    EXPECT_EQ(w.close_out, 0);
    return NULL;
}

/* ---- weft_scope_cancel from another task ---- */

static void *w_sleep_in_scope(void *arg)
{
    wrun *w = arg;
    EXPECT_EQ(weft_scope_open(w->D, &w->outer), 0); /* D: the timeout */
    w->t0 = weft_now();
    w->reached = 1;
    w->rc = weft_sleep(INFINITY);
    w->t1 = weft_now();
    w->sc = weft_scope_cancelled(w->outer);
    w->close_out = weft_scope_close(w->outer);
    return NULL;
}

static void *w_yield_in_scope(void *arg)
{
    wrun *w = arg;
    EXPECT_EQ(weft_scope_open(INFINITY, &w->outer), 0);
    w->reached = 1;
    double end = weft_now() + LONG_;
    while ((w->rc = weft_yield()) == 0 && weft_now() < end) {
    }
    w->t1 = weft_now();
    w->close_out = weft_scope_close(w->outer);
    return NULL;
}

static void *case_watcher_cancel(void *arg)
{
    (void)arg;
    /* The owner is blocked: woken at once. */
    wrun w = {.D = INFINITY};
    weft_task *t = spawn_w(w_sleep_in_scope, &w);
    wait_flag(&w.reached);
    EXPECT_EQ(weft_sleep(U), 0);
    EXPECT_EQ(weft_task_done(t), 0);
    EXPECT_EQ(weft_scope_cancelled(w.outer), 0);
    double tc = weft_now();
    EXPECT_EQ(weft_scope_cancel(w.outer), 0);
    EXPECT_EQ(weft_scope_cancel(w.outer), 0); /* twice: no change */
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, -ECANCELED);
    EXPECT_LT(w.t1 - tc, SLACK);
    EXPECT_EQ(w.sc, -ECANCELED);
    EXPECT_EQ(w.close_out, 1);

    /* The owner is running (ready): its next call fails. */
    wrun y = {0};
    t = spawn_w(w_yield_in_scope, &y);
    wait_flag(&y.reached);
    settle();
    EXPECT_EQ(weft_scope_cancel(y.outer), 0);
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(y.rc, -ECANCELED);
    EXPECT_EQ(y.close_out, 1);

    /* The canceller is not affected: its own calls work. */
    EXPECT_EQ(weft_yield(), 0);
    return NULL;
}

/* ---- rescheduling from another task while the owner sleeps ---- */

static void *case_reschedule_later(void *arg)
{
    (void)arg;
    wrun w = {.D = 2 * U};
    weft_task *t = spawn_w(w_sleep_in_scope, &w);
    wait_flag(&w.reached);
    EXPECT_EQ(weft_sleep(U), 0);
    double nd = weft_now() + 4 * U;
    EXPECT_EQ(weft_scope_reschedule(w.outer, nd), 0);
    double d;
    EXPECT_EQ(weft_scope_deadline(w.outer, &d), 0);
    EXPECT_LT(fabs(d - nd), 2e-9);
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_GE(w.t1, nd - EARLY_TOL); /* not at the old deadline */
    EXPECT_LT(w.t1 - nd, SLACK);
    EXPECT_EQ(w.close_out, 1);
    return NULL;
}

static void *case_reschedule_earlier(void *arg)
{
    (void)arg;
    wrun w = {.D = 10.0};
    weft_task *t = spawn_w(w_sleep_in_scope, &w);
    wait_flag(&w.reached);
    EXPECT_EQ(weft_sleep(U), 0);
    double nd = weft_now() + U;
    EXPECT_EQ(weft_scope_reschedule(w.outer, nd), 0);
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_GE(w.t1, nd - EARLY_TOL);
    EXPECT_LT(w.t1 - nd, SLACK);
    EXPECT_EQ(w.close_out, 1);
    return NULL;
}

static void *case_reschedule_past(void *arg)
{
    (void)arg;
    wrun w = {.D = 10.0};
    weft_task *t = spawn_w(w_sleep_in_scope, &w);
    wait_flag(&w.reached);
    EXPECT_EQ(weft_sleep(U), 0);
    double tr = weft_now();
    EXPECT_EQ(weft_scope_reschedule(w.outer, tr - 1.0), 0);
    EXPECT_EQ(weft_scope_cancelled(w.outer), -ETIMEDOUT); /* at once */
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_LT(w.t1 - tr, SLACK); /* woken now */
    EXPECT_EQ(w.close_out, 1);
    return NULL;
}

static void *case_reschedule_infinity(void *arg)
{
    (void)arg;
    wrun w = {.D = 2 * U};
    weft_task *t = spawn_w(w_sleep_in_scope, &w);
    wait_flag(&w.reached);
    EXPECT_EQ(weft_sleep(U), 0);
    EXPECT_EQ(weft_scope_reschedule(w.outer, INFINITY), 0);
    EXPECT_EQ(weft_sleep(4 * U), 0); /* well past the old deadline */
    EXPECT_EQ(weft_task_done(t), 0); /* never times out */
    EXPECT_EQ(weft_scope_cancelled(w.outer), 0);
    double d = 0;
    EXPECT_EQ(weft_scope_deadline(w.outer, &d), 0);
    EXPECT(isinf(d) && d > 0);
    EXPECT_EQ(weft_scope_cancel(w.outer), 0);
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, -ECANCELED);
    EXPECT_EQ(w.close_out, 1);
    return NULL;
}

/* Many moves while the owner waits: the last one counts, nothing leaks. */
static void *case_reschedule_many(void *arg)
{
    (void)arg;
    wrun w = {.D = 10.0};
    weft_task *t = spawn_w(w_sleep_in_scope, &w);
    wait_flag(&w.reached);
    double base = weft_now();
    for (int i = 0; i < 5000; i++)
        EXPECT_EQ(weft_scope_reschedule(w.outer, base + 5.0 + 0.001 * (i % 37)),
                  0);
    EXPECT_EQ(weft_sleep(U), 0);
    EXPECT_EQ(weft_task_done(t), 0);
    double nd = weft_now() + U;
    EXPECT_EQ(weft_scope_reschedule(w.outer, nd), 0);
    EXPECT_EQ(weft_await(t, NULL), 0);
    EXPECT_EQ(w.rc, -ETIMEDOUT);
    EXPECT_GE(w.t1, nd - EARLY_TOL);
    EXPECT_LT(w.t1 - nd, SLACK);
    EXPECT_EQ(w.close_out, 1);
    return NULL;
}

/* The owner moves its own deadline. */
static void *case_reschedule_self(void *arg)
{
    (void)arg;
    weft_scope *s;
    EXPECT_EQ(weft_scope_open(10.0, &s), 0);
    double nd = weft_now() + U;
    EXPECT_EQ(weft_scope_reschedule(s, nd), 0);
    EXPECT_EQ(weft_sleep(INFINITY), -ETIMEDOUT);
    EXPECT_GE(weft_now(), nd - EARLY_TOL);
    EXPECT_EQ(weft_scope_close(s), 1);

    EXPECT_EQ(weft_scope_open(U, &s), 0);
    EXPECT_EQ(weft_scope_reschedule(s, weft_now() + 3 * U), 0);
    double t0 = weft_now();
    EXPECT_EQ(weft_sleep(2 * U), 0); /* the old deadline does not fire */
    EXPECT_GE(weft_now() - t0, 2 * U - EARLY_TOL);
    EXPECT_EQ(weft_scope_close(s), 0);
    return NULL;
}

/* ---- scopes belong to their task ---- */

static void *sleeper_3u(void *arg)
{
    (void)arg;
    return I2P(weft_sleep(3 * U));
}

static void *case_scope_not_inherited(void *arg)
{
    (void)arg;
    weft_scope *s;
    weft_task *c;
    EXPECT_EQ(weft_scope_open(U, &s), 0);
    REQUIRE(weft_spawn(sleeper_3u, NULL, &c) == 0);
    EXPECT_EQ(weft_sleep(INFINITY), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s), 1);
    void *r = I2P(1);
    EXPECT_EQ(weft_await(c, &r), 0);
    EXPECT_EQ(P2I(r), 0); /* its sleep ran to its end */
    return NULL;
}

static void *w_two_scopes(void *arg)
{
    wrun *w = arg;
    EXPECT_EQ(weft_scope_open(INFINITY, &w->outer), 0);
    w->reached = 1;
    w->rc = weft_sleep(4 * U);
    w->close_out = weft_scope_close(w->outer);
    return NULL;
}

static void *case_scopes_per_task(void *arg)
{
    (void)arg;
    wrun a = {0}, b = {0};
    weft_task *ta = spawn_w(w_two_scopes, &a);
    weft_task *tb = spawn_w(w_two_scopes, &b);
    wait_flag(&a.reached);
    wait_flag(&b.reached);
    EXPECT_EQ(weft_scope_cancel(a.outer), 0);
    EXPECT_EQ(weft_scope_cancelled(b.outer), 0);
    EXPECT_EQ(weft_await(ta, NULL), 0);
    EXPECT_EQ(weft_await(tb, NULL), 0);
    EXPECT_EQ(a.rc, -ECANCELED);
    EXPECT_EQ(a.close_out, 1);
    EXPECT_EQ(b.rc, 0);
    EXPECT_EQ(b.close_out, 0);
    return NULL;
}

/* ---- misuse ---- */

static void *case_close_out_of_order(void *arg)
{
    (void)arg;
    weft_scope *o, *i;
    double d0, d1, d;
    EXPECT_EQ(weft_scope_open(5.0, &o), 0);
    EXPECT_EQ(weft_scope_open(6.0, &i), 0);
    EXPECT_EQ(weft_scope_deadline(o, &d0), 0);
    EXPECT_EQ(weft_scope_deadline(i, &d1), 0);
    EXPECT_EQ(weft_scope_close(o), -EBUSY);
    /* Nothing changed: both open, same state. */
    EXPECT_EQ(weft_scope_deadline(o, &d), 0);
    EXPECT(d == d0);
    EXPECT_EQ(weft_scope_deadline(i, &d), 0);
    EXPECT(d == d1);
    EXPECT_EQ(weft_scope_cancelled(o), 0);
    EXPECT_EQ(weft_scope_cancelled(i), 0);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_scope_cancel(o), 0); /* the outer still works */
    EXPECT_EQ(weft_yield(), -ECANCELED);
    EXPECT_EQ(weft_scope_close(o), -EBUSY);
    EXPECT_EQ(weft_scope_close(i), 0);
    EXPECT_EQ(weft_scope_close(o), 1);
    EXPECT_EQ(weft_yield(), 0);

    /* A shield opened inside the scope is still open. */
    EXPECT_EQ(weft_scope_open(5.0, &o), 0);
    EXPECT_EQ(weft_shield_begin(), 0);
    EXPECT_EQ(weft_scope_close(o), -EBUSY);
    EXPECT_EQ(weft_shield_end(), 0);
    EXPECT_EQ(weft_scope_close(o), 0);

    /* shield_end while a scope opened inside the shield is open. */
    EXPECT_EQ(weft_shield_begin(), 0);
    EXPECT_EQ(weft_scope_open(5.0, &i), 0);
    EXPECT_EQ(weft_shield_end(), -EBUSY);
    EXPECT_EQ(weft_scope_cancel(i), 0);
    EXPECT_EQ(weft_yield(), -ECANCELED); /* still shielded, still open */
    EXPECT_EQ(weft_scope_close(i), 1);
    EXPECT_EQ(weft_shield_end(), 0);
    EXPECT_EQ(weft_shield_end(), -EINVAL);

    /* A scope opened before the shield does not stop its end. */
    EXPECT_EQ(weft_scope_open(5.0, &o), 0);
    EXPECT_EQ(weft_shield_begin(), 0);
    EXPECT_EQ(weft_shield_end(), 0);
    EXPECT_EQ(weft_scope_close(o), 0);
    return NULL;
}

typedef struct other_args {
    weft_scope *s;
    int close_rc, cancel_rc, resched_rc, deadline_rc, cancelled_rc;
    double d;
    volatile int done;
} other_args;

static void *other_task(void *arg)
{
    other_args *a = arg;
    a->close_rc = weft_scope_close(a->s);
    a->deadline_rc = weft_scope_deadline(a->s, &a->d);
    a->resched_rc = weft_scope_reschedule(a->s, weft_now() + 7.0);
    a->cancelled_rc = weft_scope_cancelled(a->s);
    a->cancel_rc = weft_scope_cancel(a->s);
    a->done = 1;
    return NULL;
}

static void *case_close_from_other_task(void *arg)
{
    (void)arg;
    other_args a = {0};
    EXPECT_EQ(weft_scope_open(5.0, &a.s), 0);
    weft_task *t;
    REQUIRE(weft_spawn(other_task, &a, &t) == 0);
    /* Not an await inside the scope: the cancellation would end it. */
    wait_flag(&a.done);
    EXPECT_EQ(a.close_rc, -EPERM);
    EXPECT_EQ(a.deadline_rc, 0);
    EXPECT_EQ(a.resched_rc, 0);
    EXPECT_EQ(a.cancelled_rc, 0);
    EXPECT_EQ(a.cancel_rc, 0);
    /* The close did nothing; the rest did what it says. */
    EXPECT_EQ(weft_scope_cancelled(a.s), -ECANCELED);
    EXPECT_EQ(weft_yield(), -ECANCELED);
    EXPECT_EQ(weft_scope_close(a.s), 1);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_await(t, NULL), 0);
    return NULL;
}

static void *case_stale_handles(void *arg)
{
    (void)arg;
    weft_scope *s, *s2;
    double d = 0;
    EXPECT_EQ(weft_scope_open(5.0, &s), 0);
    EXPECT_EQ(weft_scope_close(s), 0);
    EXPECT_EQ(weft_scope_close(s), -EINVAL); /* twice */
    EXPECT_EQ(weft_scope_cancel(s), -EINVAL);
    EXPECT_EQ(weft_scope_reschedule(s, 1.0), -EINVAL);
    EXPECT_EQ(weft_scope_deadline(s, &d), -EINVAL);
    EXPECT_EQ(weft_scope_cancelled(s), -EINVAL);
    /* A new scope at the same depth: the old handle does not reach it. */
    EXPECT_EQ(weft_scope_open(INFINITY, &s2), 0);
    EXPECT(s2 != s);
    EXPECT_EQ(weft_scope_cancel(s), -EINVAL);
    EXPECT_EQ(weft_scope_reschedule(s, 0), -EINVAL);
    EXPECT_EQ(weft_scope_close(s), -EINVAL);
    EXPECT_EQ(weft_scope_cancelled(s2), 0);
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_scope_close(s2), 0);
    return NULL;
}

static void *case_null_and_nan(void *arg)
{
    (void)arg;
    weft_scope *s = (weft_scope *)(uintptr_t)0x5e5e;
    double d = 0;
    EXPECT_EQ(weft_scope_open(1.0, NULL), -EINVAL);
    EXPECT_EQ(weft_scope_open_at(1.0, NULL), -EINVAL);
    EXPECT_EQ(weft_scope_close(NULL), -EINVAL);
    EXPECT_EQ(weft_scope_cancel(NULL), -EINVAL);
    EXPECT_EQ(weft_scope_reschedule(NULL, 1.0), -EINVAL);
    EXPECT_EQ(weft_scope_deadline(NULL, &d), -EINVAL);
    EXPECT_EQ(weft_scope_cancelled(NULL), -EINVAL);
    EXPECT_EQ(weft_scope_open(NAN, &s), -EINVAL);
    EXPECT_EQ(weft_scope_open(-NAN, &s), -EINVAL);
    EXPECT_EQ(weft_scope_open_at(NAN, &s), -EINVAL);
    EXPECT(s == (weft_scope *)(uintptr_t)0x5e5e); /* untouched */
    EXPECT_EQ(weft_scope_open(5.0, &s), 0);
    double d0;
    EXPECT_EQ(weft_scope_deadline(s, &d0), 0);
    EXPECT_EQ(weft_scope_deadline(s, NULL), -EINVAL);
    EXPECT_EQ(weft_scope_reschedule(s, NAN), -EINVAL);
    EXPECT_EQ(weft_scope_deadline(s, &d), 0);
    EXPECT(d == d0); /* unchanged */
    EXPECT_EQ(weft_scope_cancelled(s), 0);
    EXPECT_EQ(weft_scope_close(s), 0);
    /* Nothing was left open. */
    EXPECT_EQ(weft_shield_end(), -EINVAL);
    return NULL;
}

static void *case_overflow(void *arg)
{
    (void)arg;
    weft_scope *s[WEFT_SCOPE_MAX], *x = (weft_scope *)(uintptr_t)0x5e5e;
    for (int i = 0; i < WEFT_SCOPE_MAX; i++)
        EXPECT_EQ(weft_scope_open(10.0, &s[i]), 0);
    EXPECT_EQ(weft_scope_open(10.0, &x), -EOVERFLOW);
    EXPECT_EQ(weft_scope_open_at(INFINITY, &x), -EOVERFLOW);
    EXPECT_EQ(weft_scope_open(NAN, &x), -EINVAL);
    EXPECT(x == (weft_scope *)(uintptr_t)0x5e5e);
    EXPECT_EQ(weft_yield(), 0);
    for (int i = WEFT_SCOPE_MAX - 1; i >= 0; i--)
        EXPECT_EQ(weft_scope_close(s[i]), 0);
    EXPECT_EQ(weft_scope_open(10.0, &x), 0); /* room again */
    EXPECT_EQ(weft_scope_close(x), 0);
    return NULL;
}

/* A task that returns with scopes open fails with -EINVAL and says so. */
static weft_scope *left_handle;

static void *leaves_two_open(void *arg)
{
    weft_scope *a, *b;
    EXPECT_EQ(weft_scope_open(10.0, &a), 0);
    EXPECT_EQ(weft_scope_open(INFINITY, &b), 0);
    left_handle = b;
    return arg;
}

static void *leaves_one_failed(void *arg)
{
    weft_scope *a;
    EXPECT_EQ(weft_scope_open(10.0, &a), 0);
    (void)arg;
    return weft_fail(-EIO, "failed on its own");
}

static void *leaves_expired(void *arg)
{
    weft_scope *a;
    EXPECT_EQ(weft_scope_open(0, &a), 0);
    EXPECT_EQ(weft_yield(), -ETIMEDOUT);
    return arg;
}

static void *case_task_returns_with_scopes_open(void *arg)
{
    (void)arg;
    weft_task *t;
    void *r = NULL;
    REQUIRE(weft_spawn(leaves_two_open, I2P(5), &t) == 0);
    EXPECT_EQ(weft_await(t, &r), -EINVAL);
    EXPECT_EQ(P2I(r), 5);
    const char *m = weft_errmsg();
    EXPECT(m != NULL && strstr(m, "returned with") &&
           strstr(m, "2 cancel scope(s) open"));
    if (verbose && m)
        printf("     (message: %s)\n", m);
    /* Its handles died with it. */
    EXPECT_EQ(weft_scope_cancel(left_handle), -EINVAL);
    EXPECT_EQ(weft_scope_cancelled(left_handle), -EINVAL);
    EXPECT_EQ(weft_scope_close(left_handle), -EINVAL);

    /* A task that failed already keeps its error. */
    REQUIRE(weft_spawn(leaves_one_failed, NULL, &t) == 0);
    EXPECT_EQ(weft_await(t, NULL), -EIO);
    m = weft_errmsg();
    EXPECT(m != NULL && strcmp(m, "failed on its own") == 0);

    /* An expired scope left open: -EINVAL as well. */
    REQUIRE(weft_spawn(leaves_expired, I2P(6), &t) == 0);
    r = NULL;
    EXPECT_EQ(weft_await(t, &r), -EINVAL);
    EXPECT_EQ(P2I(r), 6);
    m = weft_errmsg();
    EXPECT(m != NULL && strstr(m, "returned with") &&
           strstr(m, "1 cancel scope(s) open"));

    /* The record is reused cleanly: a new task starts with no scope. */
    REQUIRE(weft_spawn(quick, I2P(3), &t) == 0);
    EXPECT_EQ(weft_await(t, &r), 0);
    return NULL;
}

static void *main_leaves_scope(void *arg)
{
    weft_scope *s;
    EXPECT_EQ(weft_scope_open(10.0, &s), 0);
    return arg;
}

/* From a pool thread (not a task of any loop): -EPERM. */
typedef struct thread_calls {
    weft_scope *s;
    int rc[10];
} thread_calls;

static void *job_scope_calls(void *arg)
{
    thread_calls *a = arg;
    weft_scope *s = (weft_scope *)(uintptr_t)0x5e5e;
    double d;
    a->rc[0] = weft_scope_open(1.0, &s);
    a->rc[1] = weft_scope_open_at(1.0, &s);
    a->rc[2] = weft_scope_close(a->s);
    a->rc[3] = weft_scope_cancel(a->s);
    a->rc[4] = weft_scope_reschedule(a->s, 1.0);
    a->rc[5] = weft_scope_deadline(a->s, &d);
    a->rc[6] = weft_scope_cancelled(a->s);
    a->rc[7] = weft_shield_begin();
    a->rc[8] = s == (weft_scope *)(uintptr_t)0x5e5e ? 0 : 1;
    return NULL;
}

static weft_scope *old_loop_handle;

static void *case_from_pool_thread(void *arg)
{
    (void)arg;
    thread_calls a = {0};
    EXPECT_EQ(weft_scope_open(5.0, &a.s), 0);
    EXPECT_EQ(weft_to_thread(job_scope_calls, &a, NULL), 0);
    for (int i = 0; i < 8; i++)
        EXPECT_EQ(a.rc[i], -EPERM);
    EXPECT_EQ(a.rc[8], 0);
    EXPECT_EQ(weft_scope_cancelled(a.s), 0); /* untouched */
    old_loop_handle = a.s;
    EXPECT_EQ(weft_scope_close(a.s), 0);
    return NULL;
}

/* A handle of a loop that is gone, in another loop: -EPERM. */
static void *case_other_loop_handle(void *arg)
{
    (void)arg;
    weft_scope *s;
    double d;
    EXPECT_EQ(weft_scope_open(5.0, &s), 0); /* the same slot, maybe */
    EXPECT_EQ(weft_scope_close(old_loop_handle), -EPERM);
    EXPECT_EQ(weft_scope_cancel(old_loop_handle), -EPERM);
    EXPECT_EQ(weft_scope_reschedule(old_loop_handle, 0), -EPERM);
    EXPECT_EQ(weft_scope_deadline(old_loop_handle, &d), -EPERM);
    EXPECT_EQ(weft_scope_cancelled(old_loop_handle), -EPERM);
    EXPECT_EQ(weft_scope_cancelled(s), 0);
    EXPECT_EQ(weft_scope_close(s), 0);
    return NULL;
}

/* Leaves old_loop_handle for other_loop_handle run alone (by name, or in
 * a child of its own), when from_pool_thread has not run before it. */
static void *leave_old_handle(void *arg)
{
    (void)arg;
    EXPECT_EQ(weft_scope_open(5.0, &old_loop_handle), 0);
    EXPECT_EQ(weft_scope_close(old_loop_handle), 0);
    return NULL;
}

static void case_other_loop_handle_alone(void)
{
    if (!old_loop_handle)
        EXPECT_EQ(weft_run(leave_old_handle, NULL, NULL), 0);
    watch w = {.fn = case_other_loop_handle};
    int rc = weft_run(case_main, &w, NULL);
    if (rc != 0) {
        fprintf(stderr, "[%s] weft_run returned %s (%s)\n", cur_case,
                weft_strerror(rc), weft_errmsg() ? weft_errmsg() : "");
        check_failures++;
    }
}

/* The first scope of a task allocates; failing, it is -ENOMEM, cleanly. */
static void set_countdown(long n)
{
    __atomic_store_n(&weft__alloc_fail_countdown, n, __ATOMIC_RELAXED);
}

static long countdown(void)
{
    return __atomic_load_n(&weft__alloc_fail_countdown, __ATOMIC_RELAXED);
}

static void *first_scope_oom(void *arg)
{
    (void)arg;
    weft_scope *s = (weft_scope *)(uintptr_t)0x5e5e;
    set_countdown(1);
    int rc = weft_scope_open(1.0, &s);
    long left = countdown();
    set_countdown(0);
    EXPECT_EQ(rc, -ENOMEM);
    EXPECT_EQ(left, 0); /* the failure injected was this one */
    EXPECT(s == (weft_scope *)(uintptr_t)0x5e5e);
    set_countdown(1);
    rc = weft_scope_open_at(INFINITY, &s);
    left = countdown();
    set_countdown(0);
    EXPECT_EQ(rc, -ENOMEM);
    EXPECT_EQ(left, 0);
    /* Nothing half-done: calls work, a close has nothing to close. */
    EXPECT_EQ(weft_yield(), 0);
    EXPECT_EQ(weft_sleep(0.001), 0);
    EXPECT_EQ(weft_shield_begin(), 0);
    EXPECT_EQ(weft_shield_end(), 0);
    /* Memory again: it works. */
    EXPECT_EQ(weft_scope_open(0, &s), 0);
    EXPECT_EQ(weft_yield(), -ETIMEDOUT);
    EXPECT_EQ(weft_scope_close(s), 1);
    return I2P(9);
}

static void *case_first_scope_enomem(void *arg)
{
    (void)arg;
    weft_task *t;
    void *r = NULL;
    REQUIRE(weft_spawn(first_scope_oom, NULL, &t) == 0);
    EXPECT_EQ(weft_await(t, &r), 0);
    EXPECT_EQ(P2I(r), 9);
    return NULL;
}

/* ---------------------------------------------------------------------- */

static void *noop_thread(void *arg)
{
    return arg;
}

typedef struct matrix {
    const char *prefix;
    weft_fn fn;
    int grant_only;
    int skip_yield; /* yield never waits: no timer of its own to race */
} matrix;

static const matrix MATRIX[] = {
    {"expire", sc_expire, 0, 0},
    {"entry_open0", sc_entry_open0, 0, 0},
    {"entry_open_at_past", sc_entry_open_at_past, 0, 0},
    {"task_cancel_same_turn", sc_cancel_same_turn, 0, 0},
    {"task_cancel_timer_same_turn", sc_cancel_timer_same_turn, 0, 1},
    {"nested_outer_expires", sc_nested_outer_expires, 0, 0},
    {"nested_outer_cancelled", sc_nested_outer_cancelled, 0, 0},
    {"nested_inner_expires", sc_nested_inner_expires, 0, 0},
    {"shielded", sc_shielded, 0, 0},
    {"grant_in_expiry_turn", sc_grant, 1, 0},
};

static char names[256][80];
static int n_names;

/* Outside a task (no loop on this thread). */
static void case_outside_a_task(void)
{
    weft_scope *s = (weft_scope *)(uintptr_t)0x5e5e;
    double d;
    EXPECT_EQ(weft_scope_open(1.0, &s), -EPERM);
    EXPECT_EQ(weft_scope_open_at(1.0, &s), -EPERM);
    EXPECT(s == (weft_scope *)(uintptr_t)0x5e5e);
    EXPECT_EQ(weft_scope_open(NAN, &s), -EINVAL);
    EXPECT_EQ(weft_scope_close(s), -EPERM);
    EXPECT_EQ(weft_scope_cancel(s), -EPERM);
    EXPECT_EQ(weft_scope_reschedule(s, 1.0), -EPERM);
    EXPECT_EQ(weft_scope_deadline(s, &d), -EPERM);
    EXPECT_EQ(weft_scope_cancelled(s), -EPERM);
    EXPECT_EQ(weft_scope_close(NULL), -EINVAL);
}

/* The main task itself returns with a scope open. */
static void case_main_returns_scope_open(void)
{
    void *r = NULL;
    EXPECT_EQ(weft_run(main_leaves_scope, I2P(4), &r), -EINVAL);
    EXPECT_EQ(P2I(r), 4);
    const char *m = weft_errmsg();
    EXPECT(m != NULL && strstr(m, "returned with") &&
           strstr(m, "1 cancel scope(s) open"));
}

int main(void)
{
    /* Start (and join) one thread first: a sanitizer runtime may start a
     * helper thread of its own on the first pthread_create. */
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, noop_thread, NULL) == 0);
    pthread_join(th, NULL);
    check_begin();
    check_allow_maps(64); /* the pool's threads: cached stacks, arenas */
    verbose = getenv("WEFT_SCOPE_VERBOSE") != NULL;
    if (check_slow_env()) {
        U = 0.1;
        SLACK = 2.0;
        LONG_ = 5.0;
        WATCHDOG = 30.0;
    } else {
        U = 0.02;
        SLACK = 0.4;
        LONG_ = 1.0;
        WATCHDOG = 3.0;
    }
    signal(SIGALRM, on_alarm);
    double t_start = weft_now();

    run_plain("outside_a_task", case_outside_a_task);

    run_case("values", case_values, NULL);
    run_case("first_cause_sticks", case_first_cause_sticks, NULL);
    run_case("pending_never_observed", case_pending_never_observed, NULL);
    run_case("own_timeout_in_scope", case_own_timeout_in_scope, NULL);
    run_case("sleep_own_deadline_same_turn", case_sleep_own_deadline_same_turn,
             NULL);
    run_case("never_early", case_never_early, NULL);
    run_case("entry_forms", case_entry_forms, NULL);
    run_case("sticky_every_call", case_sticky_every_call, NULL);
    run_case("sticky_gen_next_exhausted", case_sticky_gen_next_exhausted, NULL);
    run_case("map_entry_outputs", case_map_entry_outputs, NULL);
    run_case("deadline_passed_while_running",
             case_deadline_passed_while_running, NULL);
    run_case("grant_next_yield_fails", case_grant_next_yield_fails, NULL);
    run_case("await_result_in_expiry_turn", case_await_result_in_expiry_turn,
             NULL);
    run_case("cond_expiry_waits_for_lock", case_cond_expiry_waits_for_lock,
             NULL);
    run_case("to_thread_queued_withdrawn", case_to_thread_queued_withdrawn,
             NULL);
    run_case("nested_same_deadline", case_nested_same_deadline, NULL);
    run_case("nested_cancel_rules", case_nested_cancel_rules, NULL);
    run_case("deep_nesting", case_deep_nesting, NULL);
    run_case("shield_walkthrough", case_shield_walkthrough, NULL);
    run_case("shield_task_cancel_inner_scope",
             case_shield_task_cancel_inner_scope, NULL);
    run_case("task_cancel_beats_scope", case_task_cancel_beats_scope, NULL);
    run_case("watcher_cancel", case_watcher_cancel, NULL);
    run_case("reschedule_later", case_reschedule_later, NULL);
    run_case("reschedule_earlier", case_reschedule_earlier, NULL);
    run_case("reschedule_past", case_reschedule_past, NULL);
    run_case("reschedule_infinity", case_reschedule_infinity, NULL);
    run_case("reschedule_many", case_reschedule_many, NULL);
    run_case("reschedule_self", case_reschedule_self, NULL);
    run_case("scope_not_inherited", case_scope_not_inherited, NULL);
    run_case("scopes_per_task", case_scopes_per_task, NULL);
    run_case("close_out_of_order", case_close_out_of_order, NULL);
    run_case("close_from_other_task", case_close_from_other_task, NULL);
    run_case("stale_handles", case_stale_handles, NULL);
    run_case("null_and_nan", case_null_and_nan, NULL);
    run_case("overflow", case_overflow, NULL);
    run_case("task_returns_with_scopes_open",
             case_task_returns_with_scopes_open, NULL);
    run_case("from_pool_thread", case_from_pool_thread, NULL);
    run_plain("other_loop_handle", case_other_loop_handle_alone);
    run_case("first_scope_enomem", case_first_scope_enomem, NULL);

    run_plain("main_returns_with_scope_open", case_main_returns_scope_open);

    /* Every call in every situation. */
    for (size_t k = 0; k < sizeof MATRIX / sizeof MATRIX[0]; k++) {
        for (size_t i = 0; i < NOPS; i++) {
            const op *o = &OPS[i];
            if (MATRIX[k].grant_only && !o->can_grant)
                continue;
            if (MATRIX[k].skip_yield && o->call == yield_call)
                continue;
            REQUIRE(n_names < 256);
            char *name = names[n_names++];
            snprintf(name, sizeof names[0], "%s/%s", MATRIX[k].prefix, o->name);
            run_case(name, MATRIX[k].fn, (void *)o);
        }
    }

    printf("%ld cases run here, %ld failed (%.2f s)\n", n_cases, n_failed,
           weft_now() - t_start);
    return check_end();
}

/*
 * test_sleep.c - weft_sleep, weft_yield and weft_now.
 *
 * Proves that:
 * - weft_sleep(0), weft_yield() and a negative sleep move the task to the
 *   back of the ready queue: tasks yielding in turn run round-robin
 *   (ABCABC...), and a lone task's yield returns at once;
 * - NaN is -EINVAL; outside a task (no loop, or another thread while a loop
 *   runs) the calls are -EPERM;
 * - timers fire in deadline order (30, 10, 20 ms wake 10, 20, 30), also
 *   with many timers of which some are cancelled (heap removals), and equal
 *   durations armed in a known order wake in that order;
 * - a sleep never ends early: weft_now() after minus before is at least the
 *   requested time, over many sleeps of 0.3, 1 and 7 ms in two tasks;
 * - weft_now is CLOCK_MONOTONIC in seconds, and monotonic;
 * - errno is preserved across sleeps and yields, even when other tasks
 *   change it meanwhile;
 * - a sleep of INFINITY (or of a time too large for a deadline) is ended
 *   only by cancellation, not by other tasks' timers or yields;
 * - timers are looked at even while tasks stay runnable: tasks yielding in a
 *   tight loop do not starve a sleeping task (bounded in iterations).
 * No check bounds lateness by less than several seconds.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------------- */
/* Round-robin                                                             */
/* ---------------------------------------------------------------------- */

/* Enough rounds to cross several visits of the host loop (whose switch
 * budget is a few hundred): the order holds across them. */
enum { RR_ROUNDS = 400, RR_TASKS = 3 };
static char rr_log[RR_ROUNDS * RR_TASKS + 1];
static int rr_len;
static int rr_mode; /* 0 sleep(0), 1 yield, 2 sleep(-1), 3 sleep(-INFINITY),
                       4 a mix */

static int rr_step(int i)
{
    switch (rr_mode == 4 ? i % 4 : rr_mode) {
    case 0:
        return weft_sleep(0);
    case 1:
        return weft_yield();
    case 2:
        return weft_sleep(-1.0);
    default:
        return weft_sleep(-INFINITY);
    }
}

static void *rr_task(void *arg)
{
    char name = (char)P2I(arg);
    for (int i = 0; i < RR_ROUNDS; i++) {
        rr_log[rr_len++] = name;
        CHECK_EQ(rr_step(i), 0);
    }
    return NULL;
}

static void *main_round_robin(void *arg)
{
    (void)arg;
    /* Alone: a yield comes straight back. */
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_sleep(0), 0);
    CHECK_EQ(weft_sleep(-5.0), 0);

    char want[sizeof rr_log];
    for (int i = 0; i < RR_ROUNDS * RR_TASKS; i++)
        want[i] = (char)('A' + i % RR_TASKS);
    want[RR_ROUNDS * RR_TASKS] = '\0';
    for (rr_mode = 0; rr_mode <= 4; rr_mode++) {
        memset(rr_log, 0, sizeof rr_log);
        rr_len = 0;
        weft_task *t[RR_TASKS];
        for (int i = 0; i < RR_TASKS; i++)
            REQUIRE(weft_spawn(rr_task, I2P('A' + i), &t[i]) == 0);
        for (int i = 0; i < RR_TASKS; i++)
            CHECK_EQ(weft_await(t[i], NULL), 0);
        CHECK_EQ(rr_len, RR_ROUNDS * RR_TASKS);
        for (int i = 0; i < RR_ROUNDS * RR_TASKS; i++)
            if (rr_log[i] != want[i]) {
                fprintf(stderr, "mode %d: at %d: %.12s..., want %.12s...\n",
                        rr_mode, i, rr_log + i, want + i);
                CHECK(rr_log[i] == want[i]);
                break;
            }
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

static int other_thread_rc[3];

static void *other_thread(void *arg)
{
    (void)arg;
    other_thread_rc[0] = weft_sleep(0.001);
    other_thread_rc[1] = weft_yield();
    double a = weft_now(), b = weft_now(); /* callable from any thread */
    other_thread_rc[2] = a > 0 && b >= a;
    return NULL;
}

static void *main_errors(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_sleep(NAN), -EINVAL);
    CHECK_EQ(weft_sleep(-NAN), -EINVAL);
    /* Still usable afterwards. */
    CHECK_EQ(weft_sleep(0.001), 0);

    /* Another thread, while this loop runs: it is not in a task. */
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, other_thread, NULL) == 0);
    pthread_join(th, NULL);
    CHECK_EQ(other_thread_rc[0], -EPERM);
    CHECK_EQ(other_thread_rc[1], -EPERM);
    CHECK_EQ(other_thread_rc[2], 1);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Deadline order                                                          */
/* ---------------------------------------------------------------------- */

typedef struct {
    double secs;
    double t0;      /* just before the sleep */
    int rc;
    int wake_pos;   /* order of waking, -1 if never */
    int cancel;     /* to be cancelled */
} timed;

static int wake_count;

static void *timed_sleep(void *arg)
{
    timed *p = arg;
    p->t0 = weft_now();
    p->rc = weft_sleep(p->secs);
    double t1 = weft_now();
    if (p->rc == 0) {
        p->wake_pos = wake_count++;
        CHECK(t1 - p->t0 >= p->secs);
    }
    return NULL;
}

/* Spawns one task per entry (in order), lets all of them arm their
 * timers, cancels those marked, and awaits all.  Returns the spread of the
 * arming times: every deadline was computed within it. */
static double run_timed(timed *p, int n)
{
    weft_task **t = calloc((size_t)n, sizeof *t);
    REQUIRE(t);
    wake_count = 0;
    for (int i = 0; i < n; i++) {
        p[i].wake_pos = -1;
        p[i].rc = 1;
        REQUIRE(weft_spawn(timed_sleep, &p[i], &t[i]) == 0);
    }
    double start = weft_now();
    /* Spawned tasks start in order, after the tasks already ready: one
     * yield runs each of them up to its sleep. */
    CHECK_EQ(weft_yield(), 0);
    double armed = weft_now();
    for (int i = 0; i < n; i++)
        if (p[i].cancel)
            CHECK_EQ(weft_task_cancel(t[i]), 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(weft_await(t[i], NULL), p[i].cancel ? -ECANCELED : 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(p[i].rc, p[i].cancel ? -ECANCELED : 0);
    free(t);
    return armed - start;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    return check_xorshift(&rng_state);
}

static void *main_order(void *arg)
{
    (void)arg;
    /* 30, 10, 20 ms wake 10, 20, 30.  The order is exact as long as the
     * three were armed within 10 ms of each other; on a machine too busy
     * for that, try again. */
    int tries = 0;
    for (; tries < 5; tries++) {
        timed p[3] = {{.secs = 0.03}, {.secs = 0.01}, {.secs = 0.02}};
        double spread = run_timed(p, 3);
        if (spread >= 0.009)
            continue;
        CHECK_EQ(p[1].wake_pos, 0);
        CHECK_EQ(p[2].wake_pos, 1);
        CHECK_EQ(p[0].wake_pos, 2);
        break;
    }
    if (tries == 5)
        fprintf(stderr, "note: 30/10/20 order not checked (busy machine)\n");

    /* Many timers, distinct durations 3 ms apart in a shuffled order, a
     * third of them cancelled: the rest wake in deadline order. */
    enum { N = 36 };
    for (tries = 0; tries < 5; tries++) {
        timed p[N];
        int perm[N];
        for (int i = 0; i < N; i++)
            perm[i] = i;
        for (int i = N - 1; i > 0; i--) {
            int j = (int)(rng() % (uint64_t)(i + 1));
            int x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        for (int i = 0; i < N; i++)
            p[i] = (timed){.secs = 0.003 * (perm[i] + 1),
                           .cancel = rng() % 3 == 0};
        double spread = run_timed(p, N);
        if (spread >= 0.0025)
            continue;
        int pos = 0;
        for (int k = 0; k < N; k++) { /* by increasing duration */
            int i = 0;
            while (perm[i] != k)
                i++;
            if (p[i].cancel) {
                CHECK_EQ(p[i].wake_pos, -1);
            } else {
                CHECK_EQ(p[i].wake_pos, pos);
                pos++;
            }
        }
        break;
    }
    if (tries == 5)
        fprintf(stderr, "note: heap order not checked (busy machine)\n");

    /* Equal durations: deadlines are computed from a fresh clock in arming
     * order, and equal deadlines fire in arming order, so tasks started in
     * a known order wake in that order. */
    long n = check_scaled(200);
    timed *q = calloc((size_t)n, sizeof *q);
    REQUIRE(q);
    for (long i = 0; i < n; i++)
        q[i].secs = 0.01;
    run_timed(q, (int)n);
    for (long i = 0; i < n; i++)
        if (q[i].wake_pos != i) {
            CHECK_EQ(q[i].wake_pos, i);
            break;
        }
    free(q);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Never early                                                             */
/* ---------------------------------------------------------------------- */

static long early_count, sleeps_done;

static void *never_early(void *arg)
{
    long n = check_scaled(200), shift = P2I(arg);
    for (long i = 0; i < n; i++) {
        double secs = 0.001;
        if ((i + shift) % 10 == 3)
            secs = 0.0003;
        else if ((i + shift) % 25 == 7)
            secs = 0.007;
        uint64_t n0 = mono_ns();
        double t0 = weft_now();
        int rc = weft_sleep(secs);
        double t1 = weft_now();
        uint64_t n1 = mono_ns();
        CHECK_EQ(rc, 0);
        if (t1 - t0 < secs || n1 - n0 < (uint64_t)(secs * 1e9)) {
            if (early_count++ < 5)
                fprintf(stderr, "sleep(%g) returned after %.9f s\n", secs,
                        t1 - t0);
        }
        sleeps_done++;
    }
    return NULL;
}

static void *main_never_early(void *arg)
{
    (void)arg;
    weft_task *a, *b;
    REQUIRE(weft_spawn(never_early, I2P(0), &a) == 0);
    REQUIRE(weft_spawn(never_early, I2P(5), &b) == 0);
    CHECK_EQ(weft_await(a, NULL), 0);
    CHECK_EQ(weft_await(b, NULL), 0);
    CHECK_EQ(sleeps_done, 2 * check_scaled(200));
    CHECK_EQ(early_count, 0);

    /* Longer ones, and ones below the clock's usual granularity. */
    const double secs[] = {0.05, 1e-9, 1e-7, 2.5e-5};
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        double t0 = weft_now();
        CHECK_EQ(weft_sleep(secs[i]), 0);
        CHECK(weft_now() - t0 >= secs[i]);
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* weft_now                                                                */
/* ---------------------------------------------------------------------- */

static void check_now(void)
{
    /* The same clock as CLOCK_MONOTONIC, in seconds. */
    for (int i = 0; i < 100; i++) {
        double a = mono_now();
        double w = weft_now();
        double b = mono_now();
        CHECK(w >= a - 1e-6 && w <= b + 1e-6);
    }
    /* Monotonic. */
    double prev = weft_now();
    for (int i = 0; i < 100000; i++) {
        double w = weft_now();
        if (w < prev) {
            CHECK(w >= prev);
            break;
        }
        prev = w;
    }
}

static void *main_now(void *arg)
{
    (void)arg;
    check_now();
    /* Seconds: a 20 ms sleep is 0.02 of them (and not 20). */
    double t0 = weft_now();
    CHECK_EQ(weft_sleep(0.02), 0);
    double d = weft_now() - t0;
    CHECK(d >= 0.02 && d < 5.0);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* errno                                                                   */
/* ---------------------------------------------------------------------- */

static int errno_stop;

static void *errno_clobber(void *arg)
{
    (void)arg;
    while (!errno_stop) {
        errno = EBADF;
        weft_sleep(0.0005);
        errno = ENOENT;
        weft_yield();
    }
    return NULL;
}

static void *main_errno(void *arg)
{
    (void)arg;
    weft_task *t;
    REQUIRE(weft_spawn(errno_clobber, NULL, &t) == 0);
    for (int i = 0; i < 20; i++) {
        errno = EILSEQ + i;
        CHECK_EQ(weft_sleep(0.001), 0);
        CHECK_EQ(errno, EILSEQ + i);
        errno = EDOM;
        CHECK_EQ(weft_yield(), 0);
        CHECK_EQ(errno, EDOM);
        errno = ERANGE;
        CHECK_EQ(weft_sleep(0), 0);
        CHECK_EQ(errno, ERANGE);
    }
    errno_stop = 1;
    CHECK_EQ(weft_await(t, NULL), 0);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Infinite sleeps                                                         */
/* ---------------------------------------------------------------------- */

typedef struct {
    double secs;
    int rc;
    int saved_errno;
} forever;

static void *sleep_forever(void *arg)
{
    forever *p = arg;
    errno = E2BIG;
    p->rc = weft_sleep(p->secs);
    p->saved_errno = errno;
    return NULL;
}

static int busy_stop;

static void *busy_timers(void *arg)
{
    (void)arg;
    /* Bounded, so that a sleep the cancellation fails to end shows as a
     * detected deadlock rather than a hang. */
    double t0 = weft_now();
    while (!busy_stop && weft_now() - t0 < 20.0) {
        weft_sleep(0.0002);
        weft_yield();
    }
    return NULL;
}

static void *main_forever(void *arg)
{
    (void)arg;
    weft_task *busy;
    REQUIRE(weft_spawn(busy_timers, NULL, &busy) == 0);
    const double secs[] = {INFINITY, 1e300, DBL_MAX, 1e12};
    enum { NF = sizeof secs / sizeof secs[0] };
    forever p[NF];
    weft_task *t[NF];
    for (int i = 0; i < NF; i++) {
        p[i] = (forever){.secs = secs[i], .rc = 1};
        REQUIRE(weft_spawn(sleep_forever, &p[i], &t[i]) == 0);
    }
    /* Other timers fire and other tasks run meanwhile. */
    CHECK_EQ(weft_sleep(0.05), 0);
    for (int i = 0; i < NF; i++) {
        CHECK_EQ(weft_task_done(t[i]), 0);
        CHECK_EQ(p[i].rc, 1);
    }
    for (int i = 0; i < NF; i++) {
        CHECK_EQ(weft_task_cancel(t[i]), 0);
        CHECK_EQ(weft_await(t[i], NULL), -ECANCELED);
        CHECK_EQ(p[i].rc, -ECANCELED);
        CHECK_EQ(p[i].saved_errno, E2BIG);
    }
    busy_stop = 1;
    CHECK_EQ(weft_await(busy, NULL), 0);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Timers are looked at while tasks stay runnable                           */
/* ---------------------------------------------------------------------- */

/* Generous: the sleeper's 5 ms pass in far fewer yields than this on any
 * machine, but a loop that never looked at timers while tasks stay ready
 * would hit it. */
#define SPIN_LIMIT 50000000L

static int flag_set;
static double flag_slept;
static long spin_iters[2];

static void *flag_sleeper(void *arg)
{
    (void)arg;
    double t0 = weft_now();
    CHECK_EQ(weft_sleep(0.005), 0);
    flag_slept = weft_now() - t0;
    flag_set = 1;
    return NULL;
}

static void *spinner(void *arg)
{
    long k = P2I(arg), i = 0;
    while (!flag_set && i < SPIN_LIMIT) {
        CHECK_EQ(weft_yield(), 0);
        i++;
    }
    spin_iters[k] = i;
    return NULL;
}

static void *main_starve(void *arg)
{
    (void)arg;
    weft_task *s, *a, *b;
    REQUIRE(weft_spawn(flag_sleeper, NULL, &s) == 0);
    REQUIRE(weft_spawn(spinner, I2P(0), &a) == 0);
    REQUIRE(weft_spawn(spinner, I2P(1), &b) == 0);
    CHECK_EQ(weft_await(a, NULL), 0);
    CHECK_EQ(weft_await(b, NULL), 0);
    CHECK_EQ(weft_await(s, NULL), 0);
    CHECK_EQ(flag_set, 1);
    CHECK(flag_slept >= 0.005);
    CHECK(spin_iters[0] < SPIN_LIMIT);
    CHECK(spin_iters[1] < SPIN_LIMIT);
    CHECK(spin_iters[0] > 0 && spin_iters[1] > 0);
    return NULL;
}

/* ---------------------------------------------------------------------- */

static void case_outside_task(void *arg)
{
    (void)arg;
    /* No loop at all. */
    CHECK_EQ(weft_sleep(0.001), -EPERM);
    CHECK_EQ(weft_sleep(0), -EPERM);
    CHECK_EQ(weft_sleep(NAN), -EPERM);
    CHECK_EQ(weft_yield(), -EPERM);
    check_now(); /* weft_now needs no loop */
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_task", case_outside_task, NULL),
    CHECK_TASK("round_robin", main_round_robin, NULL),
    CHECK_TASK("errors", main_errors, NULL),
    CHECK_TASK("order", main_order, NULL),
    CHECK_TASK("never_early", main_never_early, NULL),
    CHECK_TASK("now", main_now, NULL),
    CHECK_TASK("errno", main_errno, NULL),
    CHECK_TASK("forever", main_forever, NULL),
    CHECK_TASK("starve", main_starve, NULL),
};

int main(void)
{
    check_allow_maps(4); /* glibc's cached thread stack and arena */
    return CHECK_MAIN(cases);
}

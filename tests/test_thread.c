/*
 * test_thread.c - the thread pool: weft_to_thread, weft_spawn_blocking,
 * weft_thread_cancelled, weft_pool_limit.
 *
 * Proves that:
 * - a job runs on another thread and its result reaches the caller, while
 *   the loop keeps running other tasks (a ticker advances during a 50 ms
 *   blocking job);
 * - weft_fail inside a job gives the awaiter its error and message;
 * - many tasks using the pool at once get their own results (no data race
 *   under ThreadSanitizer);
 * - thousands of tasks each calling weft_to_thread at once get their
 *   results, and the loop wakes a worker at most a few times per turn, not
 *   once per job;
 * - jobs submitted together while the threads sleep all start together
 *   (each worker taking one wakes the next), and jobs held back by
 *   weft_pool_limit start when it is raised;
 * - check_scaled(100000) weft_spawn_blocking handles gather with the right
 *   results, reasonably fast;
 * - on a saturated pool, cancelled jobs that were still queued never run
 *   (and finish at once), running ones are waited out, and every job ends
 *   either completed or cancelled; a cancelled task whose job is queued gets
 *   -ECANCELED at once, also when it was cancelled before it awaited;
 * - awaiting a cancelled running job returns -ECANCELED only after the job
 *   function returned (it writes into the awaiter's stack after a delay);
 * - weft_thread_cancelled() is 1 inside a job whose task was cancelled (the
 *   job stops early), 0 otherwise, -EPERM outside a job;
 * - weft_pool_limit(n) bounds the jobs running at once to exactly n, also
 *   when lowered after threads exist and when raised again; 0 and values
 *   past 1024 are -EINVAL; misuse gives -EPERM / -EINVAL;
 * - a detached job still running when the loop closes is waited for, and a
 *   detached job still queued then never runs;
 * - weft_to_thread_detachable left by a scope's timeout while its job runs
 *   returns -ETIMEDOUT; the job, asked to hurry, fails later: drop gets
 *   its result and its failure is printed on stderr when the loop closes;
 * - once weft_run returns no pool thread is left, also with several loops
 *   on several threads each using its own pool;
 * - a job in flight is a wake source: no false deadlock while main awaits a
 *   100 ms job.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void atomic_max(atomic_int *m, int v)
{
    int old = atomic_load(m);
    while (v > old && !atomic_compare_exchange_weak(m, &old, v)) {
    }
}

/* Waits (at most 2 s of loop time) until *flag >= want, letting the loop
 * run. */
static void wait_for(atomic_int *flag, int want)
{
    double end = weft_now() + 2.0;
    while (atomic_load(flag) < want && weft_now() < end)
        weft_sleep(0.0005);
    CHECK(atomic_load(flag) >= want);
}

/* Threads once every thread that is going away has gone: the kernel drops
 * a joined thread from the count a moment after pthread_join returns. */
static int threads_settled(int want)
{
    int n = check_count_threads();
    for (int i = 0; i < 200 && n > want; i++) {
        msleep(5);
        n = check_count_threads();
    }
    return n;
}

static atomic_int jobs_run;

static void *job_double(void *arg)
{
    atomic_fetch_add(&jobs_run, 1);
    return I2P(P2I(arg) * 2);
}

static void *job_sleep_ms(void *arg)
{
    msleep(P2I(arg));
    return arg;
}

/* ---- results, misuse ---- */

static void *job_whoami(void *arg)
{
    *(pthread_t *)arg = pthread_self();
    CHECK_EQ(weft_thread_cancelled(), 0);
    return NULL;
}

static void *main_basic(void *arg)
{
    (void)arg;
    void *r = NULL;
    atomic_store(&jobs_run, 0);
    CHECK_EQ(weft_to_thread(job_double, I2P(21), &r), 0);
    CHECK_EQ(P2I(r), 42);
    CHECK_EQ(weft_to_thread(job_double, I2P(1), NULL), 0);
    pthread_t who = pthread_self();
    CHECK_EQ(weft_to_thread(job_whoami, &who, NULL), 0);
    CHECK(!pthread_equal(who, pthread_self()));

    weft_task *t = NULL;
    REQUIRE(weft_spawn_blocking(job_double, I2P(50), &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 100);
    CHECK_EQ(weft_await(t, &r), -EINVAL); /* consumed */

    CHECK_EQ(weft_to_thread(NULL, NULL, &r), -EINVAL);
    CHECK_EQ(weft_spawn_blocking(NULL, NULL, &t), -EINVAL);
    CHECK_EQ(weft_spawn_blocking(job_double, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_thread_cancelled(), -EPERM); /* a task is not a job */
    CHECK_EQ(atomic_load(&jobs_run), 3);
    return NULL;
}

static void *plain_thread(void *arg)
{
    *(int *)arg = weft_thread_cancelled();
    return NULL;
}

/* ---- the loop runs while a job blocks ---- */

static int tick_stop;
static atomic_int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    while (!tick_stop) {
        CHECK_EQ(weft_sleep(0.002), 0);
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

/* Blocks 50 ms, then waits (at most 2 s) until the ticker has advanced 5
 * times since the job started: it can only return 1 if the loop kept
 * running tasks while the job held its thread. */
static void *job_watch_ticks(void *arg)
{
    (void)arg;
    int start = atomic_load(&ticks);
    msleep(50);
    double end = weft_now() + 2.0;
    while (atomic_load(&ticks) - start < 5 && weft_now() < end)
        msleep(1);
    return I2P(atomic_load(&ticks) - start >= 5);
}

static void *main_ticker(void *arg)
{
    (void)arg;
    weft_task *t;
    tick_stop = 0;
    atomic_store(&ticks, 0);
    REQUIRE(weft_spawn(ticker, NULL, &t) == 0);
    CHECK_EQ(weft_yield(), 0); /* the ticker is sleeping */
    double t0 = weft_now();
    void *r = NULL;
    CHECK_EQ(weft_to_thread(job_watch_ticks, NULL, &r), 0);
    CHECK(weft_now() - t0 >= 0.05);
    CHECK_EQ(P2I(r), 1);
    tick_stop = 1;
    CHECK_EQ(weft_await(t, NULL), 0);
    return NULL;
}

/* ---- weft_fail in a job ---- */

static void *job_fail(void *arg)
{
    weft_fail(-EIO, "job failed: %d", (int)P2I(arg));
    return I2P(7);
}

static void *job_fail_twice(void *arg)
{
    (void)arg;
    weft_fail(-EIO, "first");
    return weft_fail(-EPIPE, "second");
}

static void *job_fail_nomsg(void *arg)
{
    (void)arg;
    return weft_fail(-ENOSPC, NULL);
}

static void *main_fail(void *arg)
{
    (void)arg;
    void *r = NULL;
    CHECK_EQ(weft_to_thread(job_fail, I2P(42), &r), -EIO);
    CHECK_EQ(P2I(r), 7);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "job failed: 42") == 0);

    CHECK_EQ(weft_to_thread(job_fail_twice, NULL, NULL), -EPIPE);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "second") == 0);

    CHECK_EQ(weft_to_thread(job_fail_nomsg, NULL, NULL), -ENOSPC);
    CHECK(weft_errmsg() == NULL);

    /* Through a handle: the outcome is readable before the await. */
    weft_task *t;
    REQUIRE(weft_spawn_blocking(job_fail, I2P(5), &t) == 0);
    double end = weft_now() + 2.0;
    while (weft_task_done(t) == 0 && weft_now() < end)
        weft_sleep(0.001);
    CHECK_EQ(weft_task_done(t), 1);
    CHECK_EQ(weft_task_result(t, &r), -EIO);
    CHECK_EQ(P2I(r), 7);
    REQUIRE(weft_task_message(t) != NULL);
    CHECK(strcmp(weft_task_message(t), "job failed: 5") == 0);
    CHECK_EQ(weft_await(t, NULL), -EIO);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "job failed: 5") == 0);
    return NULL;
}

/* A failing job gathered with a task that sleeps: the task is cancelled
 * and joined, the job's error and message win. */
static int gm_cleaned;

static void *gm_sleeper(void *arg)
{
    (void)arg;
    int rc = weft_sleep(10.0);
    gm_cleaned = rc == -ECANCELED;
    return NULL;
}

static void *main_gather_mixed(void *arg)
{
    (void)arg;
    weft_task *g[2];
    int err[2];
    gm_cleaned = 0;
    REQUIRE(weft_spawn(gm_sleeper, NULL, &g[0]) == 0);
    REQUIRE(weft_spawn_blocking(job_fail, I2P(6), &g[1]) == 0);
    CHECK_EQ(weft_gather(g, 2, NULL, err, 0), -EIO);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "job failed: 6") == 0);
    CHECK_EQ(err[0], -ECANCELED);
    CHECK_EQ(err[1], -EIO);
    CHECK_EQ(gm_cleaned, 1);
    return NULL;
}

/* ---- many tasks at once ---- */

#define MT_TASKS 64
#define MT_CALLS 20

static void *job_sum(void *arg)
{
    long *v = arg; /* on the calling task's stack */
    long s = 0;
    for (long i = 0; i <= v[0]; i++)
        s += i;
    v[1] = s;
    atomic_fetch_add(&jobs_run, 1);
    return I2P(v[0] + 1);
}

static void *mt_task(void *arg)
{
    long base = (long)P2I(arg);
    long bad = 0;
    for (long i = 0; i < MT_CALLS; i++) {
        long v[2] = {base + i, -1};
        void *r = NULL;
        if (weft_to_thread(job_sum, v, &r) != 0 || P2I(r) != v[0] + 1 ||
            v[1] != v[0] * (v[0] + 1) / 2)
            bad++;
        if (i % 4 == 0)
            weft_yield();
    }
    return I2P(bad);
}

static void *main_many_tasks(void *arg)
{
    (void)arg;
    weft_task *t[MT_TASKS];
    void *res[MT_TASKS];
    atomic_store(&jobs_run, 0);
    for (int i = 0; i < MT_TASKS; i++)
        REQUIRE(weft_spawn(mt_task, I2P(i * 1000), &t[i]) == 0);
    CHECK_EQ(weft_gather(t, MT_TASKS, res, NULL, 0), 0);
    for (int i = 0; i < MT_TASKS; i++)
        CHECK_EQ(P2I(res[i]), 0);
    CHECK_EQ(atomic_load(&jobs_run), MT_TASKS * MT_CALLS);
    return NULL;
}

/* ---- many handles gathered ---- */

static void *job_inc(void *arg)
{
    return I2P(P2I(arg) + 1);
}

static void *main_gather_jobs(void *arg)
{
    size_t n = (size_t)P2I(arg);
    weft_task **t = malloc(n * sizeof *t);
    void **res = malloc(n * sizeof *res);
    int *err = malloc(n * sizeof *err);
    REQUIRE(t && res && err);
    for (size_t i = 0; i < n; i++)
        REQUIRE(weft_spawn_blocking(job_inc, I2P(i), &t[i]) == 0);
    memset(err, 0x55, n * sizeof *err);
    CHECK_EQ(weft_gather(t, n, res, err, 0), 0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += P2I(res[i]) != (intptr_t)i + 1 || err[i] != 0;
    CHECK_EQ(bad, 0);
    free(t);
    free(res);
    free(err);
    return NULL;
}

/* ---- thousands of callers at once ---- */

static void *mc_task(void *arg)
{
    void *r = NULL;
    int rc = weft_to_thread(job_inc, arg, &r);
    return rc ? I2P(-1) : r;
}

static void *main_many_callers(void *arg)
{
    (void)arg;
    /* ThreadSanitizer gives every started task a fiber of its own, and
     * allows 8128 of them at once. */
    size_t n = (size_t)check_scaled(WEFT_TSAN ? 2000 : 4000);
    weft_task **t = malloc(n * sizeof *t);
    void **res = malloc(n * sizeof *res);
    REQUIRE(t && res);
    weft__pool_stats st0, st;
    weft__pool_stats_get(weft__tls_loop, &st0);
    for (size_t i = 0; i < n; i++)
        REQUIRE(weft_spawn(mc_task, I2P(i), &t[i]) == 0);
    CHECK_EQ(weft_gather(t, n, res, NULL, 0), 0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += P2I(res[i]) != (intptr_t)i + 1;
    CHECK_EQ(bad, 0);
    /* The tasks start in batches of a few hundred per turn of the loop,
     * and the loop wakes a worker at most twice a turn: at the first job
     * no awake worker will see, and at the turn's end if one is still
     * untaken.  One wake-up per job would be n. */
    weft__pool_stats_get(weft__tls_loop, &st);
    CHECK(st.loop_wakes - st0.loop_wakes <= n / 32 + 8);
    if (st.loop_wakes - st0.loop_wakes > n / 32 + 8)
        fprintf(stderr, "%zu callers: the loop woke workers %llu times\n", n,
                (unsigned long long)(st.loop_wakes - st0.loop_wakes));
    free(t);
    free(res);
    return NULL;
}

/* ---- saturation, half cancelled ---- */

#define SAT_N 20
static atomic_int sat_started, sat_gate;
static atomic_int sat_ran[SAT_N], sat_finished[SAT_N];

static void *job_sat(void *arg)
{
    intptr_t i = P2I(arg);
    atomic_fetch_add(&sat_started, 1);
    atomic_store(&sat_ran[i], 1);
    /* The first two hold the pool's two threads until the gate opens. */
    double end = weft_now() + 5.0;
    while (i < 2 && !atomic_load(&sat_gate) && weft_now() < end)
        msleep(1);
    msleep(2);
    atomic_store(&sat_finished[i], 1);
    return I2P(i + 1000);
}

static void *main_saturation(void *arg)
{
    (void)arg;
    weft_task *t[SAT_N];
    void *res[SAT_N];
    int err[SAT_N];
    atomic_store(&sat_started, 0);
    atomic_store(&sat_gate, 0);
    for (int i = 0; i < SAT_N; i++) {
        atomic_store(&sat_ran[i], 0);
        atomic_store(&sat_finished[i], 0);
    }
    CHECK_EQ(weft_pool_limit(2), 0);
    for (int i = 0; i < SAT_N; i++)
        REQUIRE(weft_spawn_blocking(job_sat, I2P(i), &t[i]) == 0);
    wait_for(&sat_started, 2); /* jobs 0 and 1 run, 2.. are queued */
    CHECK_EQ(atomic_load(&sat_started), 2);
    for (int i = 1; i < SAT_N; i += 2)
        CHECK_EQ(weft_task_cancel(t[i]), 0);
    /* The queued ones finished at once; the running one has not. */
    CHECK_EQ(weft_task_done(t[1]), 0);
    for (int i = 3; i < SAT_N; i += 2)
        CHECK_EQ(weft_task_done(t[i]), 1);
    atomic_store(&sat_gate, 1);
    CHECK_EQ(weft_gather(t, SAT_N, res, err, WEFT_GATHER_RETURN_ERRORS), 0);
    int completed = 0, cancelled = 0;
    for (int i = 0; i < SAT_N; i++) {
        if (err[i] == 0) {
            completed++;
            CHECK_EQ(P2I(res[i]), i + 1000);
            CHECK(i % 2 == 0);
        } else if (err[i] == -ECANCELED) {
            cancelled++;
            CHECK(i % 2 == 1);
        } else {
            CHECK_EQ(err[i], 0);
        }
    }
    CHECK_EQ(completed, SAT_N / 2);
    CHECK_EQ(cancelled, SAT_N / 2);
    CHECK_EQ(completed + cancelled, SAT_N);
    /* Running when cancelled: waited out.  Queued when cancelled: never
     * ran. */
    CHECK_EQ(atomic_load(&sat_ran[1]), 1);
    CHECK_EQ(atomic_load(&sat_finished[1]), 1);
    for (int i = 3; i < SAT_N; i += 2)
        CHECK_EQ(atomic_load(&sat_ran[i]), 0);
    CHECK_EQ(atomic_load(&sat_started), 2 + (SAT_N - 2) / 2);
    return NULL;
}

/* A task cancelled while its weft_to_thread job is queued behind a busy
 * pool: -ECANCELED at once, the job never runs. */
static atomic_int q_ran, gate_open, blk_started;

static void *job_mark(void *arg)
{
    atomic_store(&q_ran, 1);
    return arg;
}

/* Holds its pool thread until the gate opens, its task is cancelled, or
 * `arg` milliseconds have passed.  Returns whether the gate was open. */
static void *job_blocker(void *arg)
{
    atomic_store(&blk_started, 1);
    double end = weft_now() + (double)P2I(arg) / 1000.0;
    while (!atomic_load(&gate_open) && weft_thread_cancelled() == 0 &&
           weft_now() < end)
        msleep(1);
    return I2P(atomic_load(&gate_open));
}

static int qt_rc, qt_gate_at_return;

static void *qt_task(void *arg)
{
    (void)arg;
    qt_rc = weft_to_thread(job_mark, NULL, NULL);
    qt_gate_at_return = atomic_load(&gate_open);
    return NULL;
}

static void *main_queued_cancel(void *arg)
{
    (void)arg;
    weft_task *blocker, *t;
    void *r = NULL;
    atomic_store(&q_ran, 0);
    atomic_store(&gate_open, 0);
    atomic_store(&blk_started, 0);
    qt_rc = qt_gate_at_return = 12345;
    CHECK_EQ(weft_pool_limit(1), 0);
    REQUIRE(weft_spawn_blocking(job_blocker, I2P(5000), &blocker) == 0);
    wait_for(&blk_started, 1);
    REQUIRE(weft_spawn(qt_task, NULL, &t) == 0);
    CHECK_EQ(weft_yield(), 0); /* qt_task's job is queued behind it */
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(qt_rc, -ECANCELED);
    CHECK_EQ(qt_gate_at_return, 0); /* while the blocker held the thread */
    atomic_store(&gate_open, 1);
    CHECK_EQ(weft_await(blocker, &r), 0);
    CHECK_EQ(P2I(r), 1);
    CHECK_EQ(atomic_load(&q_ran), 0);

    /* Cancelled before it gathers a queued job (behind a running one, which
     * stops when it sees the cancellation). */
    weft_task *g[2];
    atomic_store(&gate_open, 0);
    atomic_store(&blk_started, 0);
    REQUIRE(weft_spawn_blocking(job_blocker, I2P(5000), &g[0]) == 0);
    REQUIRE(weft_spawn_blocking(job_mark, NULL, &g[1]) == 0);
    wait_for(&blk_started, 1);
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    int err[2];
    void *res[2];
    double t0 = weft_now();
    CHECK_EQ(weft_gather(g, 2, res, err, 0), -ECANCELED);
    CHECK(weft_now() - t0 < 2.0);
    CHECK_EQ(err[0], -ECANCELED);
    CHECK_EQ(err[1], -ECANCELED);
    CHECK_EQ(P2I(res[0]), 0);
    CHECK(res[1] == NULL);
    CHECK_EQ(atomic_load(&q_ran), 0);
    return NULL;
}

/* The same with weft_await: a task already cancelled awaits its queued job.
 * Run in a child: if the await missed the job's end, it would wait
 * forever. */
static int aq_rc, aq_gate_at_return;

static void *main_await_queued_cancelled(void *arg)
{
    (void)arg;
    weft_task *blocker, *q;
    CHECK_EQ(weft_pool_limit(1), 0);
    REQUIRE(weft_spawn_blocking(job_blocker, I2P(500), &blocker) == 0);
    REQUIRE(weft_spawn_blocking(job_mark, NULL, &q) == 0);
    wait_for(&blk_started, 1);
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    aq_rc = weft_await(q, NULL);
    aq_gate_at_return = atomic_load(&gate_open);
    CHECK_EQ(aq_rc, -ECANCELED);
    CHECK_EQ(aq_gate_at_return, 0); /* at once, not after the blocker */
    CHECK_EQ(atomic_load(&q_ran), 0);
    CHECK_EQ(weft_await(blocker, NULL), -ECANCELED);
    return NULL;
}

static void child_await_queued_cancelled(void *arg)
{
    (void)arg;
    check_failures = 0; /* the parent's count is not ours */
    atomic_store(&q_ran, 0);
    atomic_store(&gate_open, 0);
    atomic_store(&blk_started, 0);
    aq_rc = aq_gate_at_return = 12345;
    alarm(10);
    int rc = weft_run(main_await_queued_cancelled, NULL, NULL);
    fprintf(stderr, "run rc=%d await rc=%d\n", rc, aq_rc);
    _exit(rc == -ECANCELED && check_failures == 0 ? 0 : 1);
}

/* ---- a cancelled running job is waited out ---- */

typedef struct late_ctx {
    atomic_int started;
    int written; /* plain: on the awaiter's stack */
} late_ctx;

/* Runs until its task is cancelled (at most 5 s), then goes on for 30 ms
 * before it writes into the awaiter's memory. */
static void *job_write_late(void *arg)
{
    late_ctx *c = arg;
    atomic_store(&c->started, 1);
    double end = weft_now() + 5.0;
    while (weft_thread_cancelled() == 0 && weft_now() < end)
        msleep(1);
    msleep(30);
    c->written = 1;
    return I2P(9);
}

static late_ctx *_Atomic cr_ctx;
static int cr_rc, cr_written;
static void *cr_result;

static void *cr_task(void *arg)
{
    (void)arg;
    late_ctx c;
    atomic_init(&c.started, 0);
    c.written = 0;
    atomic_store(&cr_ctx, &c);
    cr_rc = weft_to_thread(job_write_late, &c, &cr_result);
    cr_written = c.written; /* the job finished writing before we got here */
    atomic_store(&cr_ctx, NULL);
    return NULL;
}

static void *main_cancel_running(void *arg)
{
    (void)arg;
    weft_task *t;
    atomic_store(&cr_ctx, NULL);
    cr_rc = 12345;
    cr_written = -1;
    REQUIRE(weft_spawn(cr_task, NULL, &t) == 0);
    CHECK_EQ(weft_yield(), 0);
    REQUIRE(atomic_load(&cr_ctx) != NULL);
    wait_for(&atomic_load(&cr_ctx)->started, 1);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(cr_rc, -ECANCELED);
    CHECK_EQ(cr_written, 1);
    CHECK_EQ(P2I(cr_result), 9);

    /* Through the job's own handle. */
    late_ctx c;
    atomic_init(&c.started, 0);
    c.written = 0;
    weft_task *j;
    REQUIRE(weft_spawn_blocking(job_write_late, &c, &j) == 0);
    wait_for(&c.started, 1);
    CHECK_EQ(weft_task_cancel(j), 0);
    CHECK_EQ(weft_task_done(j), 0); /* running: cannot be stopped */
    void *r = NULL;
    CHECK_EQ(weft_await(j, &r), -ECANCELED);
    CHECK_EQ(c.written, 1);
    CHECK_EQ(P2I(r), 9);
    return NULL;
}

/* ---- weft_thread_cancelled ---- */

static atomic_int poll_started;
static int poll_seen[2];

static void *job_poll_cancel(void *arg)
{
    (void)arg;
    poll_seen[0] = weft_thread_cancelled();
    atomic_store(&poll_started, 1);
    double end = weft_now() + 5.0;
    int c;
    while ((c = weft_thread_cancelled()) == 0 && weft_now() < end)
        msleep(1);
    poll_seen[1] = c;
    return I2P(c);
}

static int pc_rc;
static double pc_took;

static void *pc_task(void *arg)
{
    (void)arg;
    double t0 = weft_now();
    pc_rc = weft_to_thread(job_poll_cancel, NULL, NULL);
    pc_took = weft_now() - t0;
    return NULL;
}

static void *main_thread_cancelled(void *arg)
{
    (void)arg;
    weft_task *t;
    atomic_store(&poll_started, 0);
    poll_seen[0] = poll_seen[1] = 12345;
    REQUIRE(weft_spawn(pc_task, NULL, &t) == 0);
    wait_for(&poll_started, 1);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(pc_rc, -ECANCELED);
    CHECK_EQ(poll_seen[0], 0);
    CHECK_EQ(poll_seen[1], 1);
    CHECK(pc_took < 2.0); /* it stopped early, not after 5 s */

    /* Cancelling the job's handle directly. */
    atomic_store(&poll_started, 0);
    poll_seen[0] = poll_seen[1] = 12345;
    weft_task *j;
    REQUIRE(weft_spawn_blocking(job_poll_cancel, NULL, &j) == 0);
    wait_for(&poll_started, 1);
    double t0 = weft_now();
    CHECK_EQ(weft_task_cancel(j), 0);
    void *r = NULL;
    CHECK_EQ(weft_await(j, &r), -ECANCELED);
    CHECK(weft_now() - t0 < 2.0);
    CHECK_EQ(poll_seen[0], 0);
    CHECK_EQ(poll_seen[1], 1);
    CHECK_EQ(P2I(r), 1);
    return NULL;
}

/* ---- weft_pool_limit ---- */

static atomic_int g_cur, g_max, g_target, g_calls;

/* Counts how many run at once; waits (at most 2 s) until `g_target` have
 * been seen together, then lingers so that an excess one would show. */
static void *job_gated(void *arg)
{
    int c = atomic_fetch_add(&g_cur, 1) + 1;
    atomic_max(&g_max, c);
    atomic_fetch_add(&g_calls, 1);
    double end = weft_now() + 2.0;
    while (atomic_load(&g_max) < atomic_load(&g_target) && weft_now() < end)
        msleep(1);
    msleep(3);
    atomic_fetch_sub(&g_cur, 1);
    return arg;
}

/* Runs n gated jobs; returns the highest concurrency seen. */
static int run_gated(int n, int target)
{
    weft_task *t[64];
    REQUIRE(n <= 64);
    atomic_store(&g_cur, 0);
    atomic_store(&g_max, 0);
    atomic_store(&g_calls, 0);
    atomic_store(&g_target, target);
    for (int i = 0; i < n; i++)
        REQUIRE(weft_spawn_blocking(job_gated, I2P(i), &t[i]) == 0);
    void *res[64];
    CHECK_EQ(weft_gather(t, (size_t)n, res, NULL, 0), 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(P2I(res[i]), i);
    CHECK_EQ(atomic_load(&g_calls), n);
    return atomic_load(&g_max);
}

static void *main_limit(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_pool_limit(0), -EINVAL);
    CHECK_EQ(weft_pool_limit(2000), -EINVAL);
    CHECK_EQ(weft_pool_limit(1025), -EINVAL);
    CHECK_EQ(weft_pool_limit(1024), 0);
    CHECK_EQ(weft_pool_limit(1), 0);
    CHECK_EQ(run_gated(8, 1), 1);
    /* Raised: exactly that many at once. */
    CHECK_EQ(weft_pool_limit(3), 0);
    CHECK_EQ(run_gated(12, 3), 3);
    return NULL;
}

static void *main_limit_default(void *arg)
{
    (void)arg;
    /* Without a limit the same jobs do overlap (the default allows at
     * least 5 threads), so the counting above can see concurrency. */
    CHECK_EQ(run_gated(4, 4), 4);
    return NULL;
}

static void *main_limit_lowered(void *arg)
{
    (void)arg;
    CHECK_EQ(run_gated(4, 4), 4); /* four threads exist */
    CHECK_EQ(weft_pool_limit(1), 0);
    CHECK_EQ(run_gated(8, 1), 1);
    return NULL;
}

static void *main_burst_idle(void *arg)
{
    (void)arg;
    CHECK_EQ(run_gated(4, 4), 4); /* four threads exist */
    weft_sleep(0.1);              /* ... and all sleep, past their spin */
    /* Submitted in one turn: the loop wakes one, each taker the next. */
    CHECK_EQ(run_gated(4, 4), 4);
    return NULL;
}

static void *main_limit_raised_queued(void *arg)
{
    (void)arg;
    CHECK_EQ(run_gated(3, 3), 3); /* three threads exist */
    CHECK_EQ(weft_pool_limit(1), 0);
    weft_task *t[3];
    atomic_store(&g_cur, 0);
    atomic_store(&g_max, 0);
    atomic_store(&g_calls, 0);
    atomic_store(&g_target, 3);
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_spawn_blocking(job_gated, I2P(i), &t[i]) == 0);
    wait_for(&g_calls, 1); /* one runs, two are held back by the cap */
    weft_sleep(0.01);
    CHECK_EQ(atomic_load(&g_calls), 1);
    CHECK_EQ(weft_pool_limit(3), 0); /* they start now, not after it */
    CHECK_EQ(weft_gather(t, 3, NULL, NULL, 0), 0);
    CHECK_EQ(atomic_load(&g_max), 3);
    return NULL;
}

/* ---- detached jobs at loop close ---- */

static atomic_int det_started, det_done, det_ran2;

/* Runs until the closing loop cancels it (at most 2 s), then 20 ms more. */
static void *job_detached(void *arg)
{
    atomic_store(&det_started, 1);
    double end = weft_now() + 2.0;
    while (weft_thread_cancelled() == 0 && weft_now() < end)
        msleep(1);
    msleep(P2I(arg));
    atomic_store(&det_done, 1);
    return NULL;
}

static void *job_detached2(void *arg)
{
    atomic_store(&det_ran2, 1);
    return arg;
}

static void *main_detached(void *arg)
{
    weft_task *t;
    if (P2I(arg))
        CHECK_EQ(weft_pool_limit(1), 0);
    REQUIRE(weft_spawn_blocking(job_detached, I2P(20), &t) == 0);
    CHECK_EQ(weft_task_detach(t), 0);
    wait_for(&det_started, 1); /* running, not queued, when the loop closes */
    if (P2I(arg)) {
        /* Queued behind the first: never runs. */
        REQUIRE(weft_spawn_blocking(job_detached2, NULL, &t) == 0);
        CHECK_EQ(weft_task_detach(t), 0);
    }
    return I2P(3);
}

/* ---- a detachable job left by a timeout, failing afterwards ---- */

static atomic_int df_started, df_release, df_cancel_seen, df_dropped;
static atomic_intptr_t df_result;

/* Runs until the loop lets it go (at most 2 s), then fails. */
static void *job_fail_late(void *arg)
{
    (void)arg;
    atomic_store(&df_started, 1);
    double end = weft_now() + 2.0;
    while (!atomic_load(&df_release) && weft_now() < end)
        msleep(1);
    atomic_store(&df_cancel_seen, weft_thread_cancelled());
    weft_fail(-EIO, "detached job failed after its caller left");
    return I2P(5);
}

static void df_drop(void *result)
{
    atomic_store(&df_result, P2I(result));
    atomic_fetch_add(&df_dropped, 1);
}

/* Once the job runs, gives the caller's scope a deadline 5 ms away. */
static void *df_timeout(void *arg)
{
    weft_scope **sc = arg;
    wait_for(&df_started, 1);
    CHECK_EQ(weft_scope_reschedule(*sc, weft_now() + 0.005), 0);
    return NULL;
}

static void *main_detach_fail(void *arg)
{
    (void)arg;
    weft_scope *sc;
    REQUIRE(weft_scope_open(INFINITY, &sc) == 0);
    weft_task *t;
    REQUIRE(weft_spawn(df_timeout, &sc, &t) == 0);
    CHECK_EQ(weft_to_thread_detachable(job_fail_late, NULL, df_drop, NULL),
             -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(atomic_load(&df_dropped), 0); /* still running */
    atomic_store(&df_release, 1);
    wait_for(&df_dropped, 1);
    CHECK_EQ(atomic_load(&df_cancel_seen), 1); /* asked to hurry */
    return NULL;
}

/* The failure, the job's own and not a cancellation, is printed on stderr
 * when the loop closes; drop gets the job's result. */
static void child_detach_fail(void *arg)
{
    (void)arg;
    check_failures = 0; /* the parent's count is not ours */
    alarm(10);
    CHECK_EQ(weft_run(main_detach_fail, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&df_dropped), 1);
    CHECK_EQ(atomic_load(&df_result), 5);
    CHECK_EQ(weft__alloc_live, 0);
    fflush(stderr);
    _exit(check_failures ? 1 : 0);
}

/* ---- no thread left behind ---- */

static int threads_before;
static atomic_int threads_seen;

static void *job_count_threads(void *arg)
{
    atomic_max(&threads_seen, check_count_threads());
    msleep(5);
    return arg;
}

static void *main_pool_busy(void *arg)
{
    (void)arg;
    weft_task *t[8];
    void *res[8];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 8; i++)
            REQUIRE(weft_spawn_blocking(job_count_threads, I2P(i), &t[i]) ==
                    0);
        CHECK_EQ(weft_gather(t, 8, res, NULL, 0), 0);
        for (int i = 0; i < 8; i++)
            CHECK_EQ(P2I(res[i]), i);
        for (int i = 0; i < 20; i++) {
            void *r = NULL;
            CHECK_EQ(weft_to_thread(job_double, I2P(i), &r), 0);
            CHECK_EQ(P2I(r), 2 * i);
        }
    }
    return NULL;
}

static void *loop_thread(void *arg)
{
    *(int *)arg = weft_run(main_pool_busy, NULL, NULL);
    return NULL;
}

/* ---- no false deadlock while a job runs ---- */

static void *main_await_job(void *arg)
{
    (void)arg;
    weft_task *t;
    void *r = NULL;
    REQUIRE(weft_spawn_blocking(job_sleep_ms, I2P(100), &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 100);
    CHECK_EQ(weft_to_thread(job_sleep_ms, I2P(100), &r), 0);
    return r;
}

static void *noop_thread(void *arg)
{
    return arg;
}

/* Outside a task. */
static void case_outside_task(void *arg)
{
    (void)arg;
    atomic_store(&jobs_run, 0);
    void *r = NULL;
    weft_task *t;
    CHECK_EQ(weft_to_thread(job_double, NULL, &r), -EPERM);
    CHECK_EQ(weft_to_thread(NULL, NULL, &r), -EINVAL);
    CHECK_EQ(weft_spawn_blocking(job_double, NULL, &t), -EPERM);
    CHECK_EQ(weft_pool_limit(4), -EPERM);
    CHECK_EQ(weft_thread_cancelled(), -EPERM);
    CHECK_EQ(atomic_load(&jobs_run), 0);
    int plain_rc = 0;
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, plain_thread, &plain_rc) == 0);
    pthread_join(th, NULL);
    CHECK_EQ(plain_rc, -EPERM);
}

static void case_gather_jobs(void *arg)
{
    (void)arg;
    long n = check_scaled(100000);
    if (check_slow_env() && n > 10000)
        n = 10000;
    double t0 = weft_now();
    CHECK_EQ(weft_run(main_gather_jobs, I2P(n), NULL), 0);
    double took = weft_now() - t0;
    printf("gathered %ld blocking jobs in %.3f s (%.2f us/job)\n", n, took,
           took * 1e6 / (double)n);
    CHECK(took < (check_slow_env() ? 30.0 : 5.0) * (double)n / 100000.0 + 0.5);
}

/* A detached job running at close is waited for. */
static void case_detached_running(void *arg)
{
    (void)arg;
    atomic_store(&det_started, 0);
    atomic_store(&det_done, 0);
    void *r = NULL;
    CHECK_EQ(weft_run(main_detached, I2P(0), &r), 0);
    CHECK_EQ(P2I(r), 3);
    CHECK_EQ(atomic_load(&det_done), 1);
    CHECK(!check_threads_reliable() ||
          threads_settled(threads_before) <= threads_before);
}

/* ... and one still queued then never runs. */
static void case_detached_queued(void *arg)
{
    (void)arg;
    atomic_store(&det_started, 0);
    atomic_store(&det_done, 0);
    atomic_store(&det_ran2, 0);
    CHECK_EQ(weft_run(main_detached, I2P(1), NULL), 0);
    CHECK_EQ(atomic_load(&det_done), 1);
    CHECK_EQ(atomic_load(&det_ran2), 0);
}

/* No pool thread outlives its loop. */
static void case_pool_threads_end(void *arg)
{
    (void)arg;
    atomic_store(&threads_seen, 0);
    CHECK_EQ(weft_run(main_pool_busy, NULL, NULL), 0);
    CHECK(atomic_load(&threads_seen) > threads_before); /* there were some */
    CHECK(!check_threads_reliable() ||
          threads_settled(threads_before) <= threads_before);
    int rcs[3] = {1, 1, 1};
    pthread_t loops[3];
    atomic_store(&threads_seen, 0);
    for (int i = 0; i < 3; i++)
        REQUIRE(pthread_create(&loops[i], NULL, loop_thread, &rcs[i]) == 0);
    for (int i = 0; i < 3; i++)
        pthread_join(loops[i], NULL);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(rcs[i], 0);
    CHECK(atomic_load(&threads_seen) > threads_before + 3);
    CHECK(!check_threads_reliable() ||
          threads_settled(threads_before) <= threads_before);
}

/* A job in flight keeps the loop from declaring a deadlock. */
static void case_await_job(void *arg)
{
    (void)arg;
    void *r = NULL;
    CHECK_EQ(weft_run(main_await_job, NULL, &r), 0);
    CHECK_EQ(P2I(r), 100);
}

static void case_await_queued_cancelled(void *arg)
{
    (void)arg;
    char *out = NULL;
    int st = check_fork(child_await_queued_cancelled, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "--- await of a queued job (status %#x) said:\n%s", st,
                out);
    free(out);
}

static void case_detach_fail(void *arg)
{
    (void)arg;
    char *out = NULL;
    int st = check_fork(child_detach_fail, NULL, &out);
    bool df_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && out &&
                 strstr(out, "detached job failed after its caller left");
    CHECK(df_ok);
    if (!df_ok)
        fprintf(stderr,
                "--- detachable job failing after a timeout "
                "(status %#x) said:\n%s",
                st, out ? out : "");
    free(out);
}

/* After all the others: no thread left behind. */
static void case_threads_settled(void *arg)
{
    (void)arg;
    CHECK(!check_threads_reliable() ||
          threads_settled(threads_before) <= threads_before);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_task", case_outside_task, NULL),
    CHECK_TASK("basic", main_basic, NULL),
    CHECK_TASK("ticker", main_ticker, NULL),
    CHECK_TASK("fail", main_fail, NULL),
    CHECK_TASK("gather_mixed", main_gather_mixed, NULL),
    CHECK_TASK("many_tasks", main_many_tasks, NULL),
    CHECK_TASK("many_callers", main_many_callers, NULL),
    CHECK_PLAIN("gather_jobs", case_gather_jobs, NULL),
    CHECK_TASK("saturation", main_saturation, NULL),
    CHECK_TASK_WANT("queued_cancel", main_queued_cancel, NULL, -ECANCELED),
    CHECK_TASK("cancel_running", main_cancel_running, NULL),
    CHECK_TASK("thread_cancelled", main_thread_cancelled, NULL),
    CHECK_TASK("limit", main_limit, NULL),
    CHECK_TASK("limit_default", main_limit_default, NULL),
    CHECK_TASK("limit_lowered", main_limit_lowered, NULL),
    CHECK_TASK("burst_idle", main_burst_idle, NULL),
    CHECK_TASK("limit_raised_queued", main_limit_raised_queued, NULL),
    CHECK_PLAIN("detached_running", case_detached_running, NULL),
    CHECK_PLAIN("detached_queued", case_detached_queued, NULL),
    CHECK_PLAIN("pool_threads_end", case_pool_threads_end, NULL),
    CHECK_PLAIN("await_job", case_await_job, NULL),
    CHECK_PLAIN("await_queued_cancelled", case_await_queued_cancelled, NULL),
    CHECK_PLAIN("detach_fail", case_detach_fail, NULL),
    CHECK_PLAIN_SERIAL("threads_settled", case_threads_settled, NULL),
};

int main(void)
{
    /* Start (and join) one thread first: a sanitizer runtime may start a
     * helper thread of its own on the first pthread_create. */
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, noop_thread, NULL) == 0);
    pthread_join(th, NULL);
    check_allow_maps(64); /* glibc's cached thread stacks and arenas */
    threads_before = check_count_threads();
    return CHECK_MAIN(cases);
}

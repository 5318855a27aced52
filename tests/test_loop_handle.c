/*
 * test_loop_handle.c - the loop from outside (weft/loop.h): loop handles,
 * weft_call_soon from other threads, futures joined by plain threads, and
 * calls between two loops on two threads.
 *
 * Proves:
 * - a handle outlives its loop: a closed loop refuses work (-ESHUTDOWN)
 *   and the handle is released afterwards; over-release is -EINVAL;
 * - every accepted weft_call_soon runs exactly once or is dropped through
 *   its callback (also when submissions race the loop's shutdown: counted
 *   item by item), in FIFO order from one thread;
 * - a task waiting for work another thread will submit is not a deadlock
 *   while the handle is held, and is one once it is released;
 * - a future gives the task's result, error and message; a timed wait that
 *   expires, cancels and joins returns only once the task has finished;
 *   waiting on the loop's own thread is -EDEADLK;
 * - weft_call_on between two loops: results, failures with messages,
 *   cancellation and scope deadlines passing across (the remote task has
 *   finished when the caller's wait returns), gather over remote tasks,
 *   two loops calling each other recursively (completes), a closed target.
 * Runs under ThreadSanitizer in CI.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* ---- a second loop on its own thread ---- */

static weft_loop *loop_b;       /* published by B's main task */
static weft_event b_stop = WEFT_EVENT_INIT;
static pthread_t b_thread;
static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pub_cv = PTHREAD_COND_INITIALIZER;
static int b_rc;

static void *b_main(void *arg)
{
    (void)arg;
    weft_loop *h;
    REQUIRE(weft_loop_current(&h) == 0);
    pthread_mutex_lock(&pub_mu);
    loop_b = h;
    pthread_cond_broadcast(&pub_cv);
    pthread_mutex_unlock(&pub_mu);
    REQUIRE(weft_event_wait(&b_stop) == 0);
    weft_event_clear(&b_stop);
    return NULL;
}

static void *b_thread_main(void *arg)
{
    (void)arg;
    b_rc = weft_run(b_main, NULL, NULL);
    return NULL;
}

/* Starts loop B; returns once its handle is published (outside a loop). */
static void b_start(void)
{
    loop_b = NULL;
    REQUIRE(pthread_create(&b_thread, NULL, b_thread_main, NULL) == 0);
    pthread_mutex_lock(&pub_mu);
    while (!loop_b)
        pthread_cond_wait(&pub_cv, &pub_mu);
    pthread_mutex_unlock(&pub_mu);
}

static void *b_stop_fn(void *arg)
{
    (void)arg;
    weft_event_set(&b_stop);
    return NULL;
}

/* Stops loop B (from anywhere: a submission) and joins its thread. */
static void b_finish(void)
{
    weft_future *f;
    REQUIRE(weft_submit(loop_b, b_stop_fn, NULL, &f) == 0);
    CHECK_EQ(weft_future_join(f, NULL), 0);
    pthread_join(b_thread, NULL);
    CHECK_EQ(b_rc, 0);
    CHECK_EQ(weft_loop_closed(loop_b), 1);
    CHECK_EQ(weft_loop_release(loop_b), 0);
    loop_b = NULL;
}

/* ---- bodies ---- */

static void *add_one(void *arg)
{
    return I2P(P2I(arg) + 1);
}

static void *fail_io(void *arg)
{
    (void)arg;
    return weft_fail(-EIO, "disk %d on fire", 3);
}

static atomic_int sleeper_finished, sleeper_started;

static void *sleep_forever(void *arg)
{
    (void)arg;
    atomic_store(&sleeper_started, 1);
    int rc = weft_sleep(INFINITY);
    atomic_store(&sleeper_finished, 1);
    return I2P(rc);
}

/* ---- handles ---- */

static void *handle_basics(void *arg)
{
    (void)arg;
    weft_loop *h, *h2;
    CHECK_EQ(weft_loop_current(NULL), -EINVAL);
    REQUIRE(weft_loop_current(&h) == 0);
    REQUIRE(weft_loop_current(&h2) == 0);
    CHECK(h == h2);
    CHECK_EQ(weft_loop_closed(h), 0);
    CHECK_EQ(weft_loop_ref(h), 0);
    CHECK_EQ(weft_loop_release(h), 0);
    CHECK_EQ(weft_loop_release(h), 0);
    CHECK_EQ(weft_loop_release(h2), 0);
    CHECK_EQ(weft_loop_release(h), -EINVAL); /* more than taken */
    CHECK_EQ(weft_loop_release(NULL), 0);
    int junk[32] = {0};
    CHECK_EQ(weft_loop_ref((weft_loop *)(void *)junk), -EINVAL);
    CHECK_EQ(weft_call_soon((weft_loop *)(void *)junk, add_one, NULL, NULL),
             -EINVAL);
    CHECK_EQ(weft_call_soon(NULL, add_one, NULL, NULL), -EINVAL);
    return NULL;
}

static weft_loop *kept;

static void *keep_handle(void *arg)
{
    (void)arg;
    REQUIRE(weft_loop_current(&kept) == 0);
    return NULL;
}

static void case_outlives_loop(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_loop_current(&kept), -EPERM);
    CHECK_EQ(weft_run(keep_handle, NULL, NULL), 0);
    CHECK_EQ(weft_loop_closed(kept), 1);
    CHECK_EQ(weft_call_soon(kept, add_one, NULL, NULL), -ESHUTDOWN);
    weft_future *f = (weft_future *)1;
    CHECK_EQ(weft_submit(kept, add_one, NULL, &f), -ESHUTDOWN);
    CHECK(f == (weft_future *)1);
    CHECK_EQ(weft_loop_release(kept), 0);
}

/* ---- call_soon ---- */

#define ORDER_N 1000
static int order[ORDER_N];
static int order_len;
static weft_event order_done = WEFT_EVENT_INIT;

static void *record_order(void *arg)
{
    order[order_len++] = (int)P2I(arg);
    if (order_len == ORDER_N)
        weft_event_set(&order_done);
    return NULL;
}

static void *submit_in_order(void *arg)
{
    weft_loop *h = arg;
    for (int i = 0; i < ORDER_N; i++)
        REQUIRE(weft_call_soon(h, record_order, I2P(i), NULL) == 0);
    weft_loop_release(h);
    return NULL;
}

static void *call_soon_fifo(void *arg)
{
    (void)arg;
    weft_loop *h;
    REQUIRE(weft_loop_current(&h) == 0);
    order_len = 0;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, submit_in_order, h) == 0);
    /* Waits on an event only a submission sets: not a deadlock, the
     * thread holds the handle. */
    CHECK_EQ(weft_event_wait(&order_done), 0);
    weft_event_clear(&order_done);
    pthread_join(t, NULL);
    for (int i = 0; i < ORDER_N; i++)
        CHECK_EQ(order[i], i);
    return NULL;
}

/* Submissions racing shutdown: each item runs once, is dropped once, or is
 * refused - never two of these, never none. */
#define RACE_N 20000
static atomic_int race_ran[RACE_N], race_dropped[RACE_N],
    race_refused[RACE_N];

static void *race_run(void *arg)
{
    atomic_fetch_add(&race_ran[P2I(arg)], 1);
    return NULL;
}

static void race_drop(void *arg)
{
    atomic_fetch_add(&race_dropped[P2I(arg)], 1);
}

static atomic_int race_submitted;

static void *race_submitter(void *arg)
{
    weft_loop *h = arg;
    for (int i = 0; i < RACE_N; i++) {
        if (weft_call_soon(h, race_run, I2P(i), race_drop) == -ESHUTDOWN)
            atomic_fetch_add(&race_refused[i], 1);
        atomic_fetch_add(&race_submitted, 1);
    }
    weft_loop_release(h);
    return NULL;
}

static pthread_t race_thread;

static void *race_main(void *arg)
{
    int until = (int)P2I(arg);
    weft_loop *h;
    REQUIRE(weft_loop_current(&h) == 0);
    atomic_store(&race_submitted, 0);
    REQUIRE(pthread_create(&race_thread, NULL, race_submitter, h) == 0);
    /* Let some through (bounded), then end while more come. */
    for (int i = 0; i < 30000 && atomic_load(&race_submitted) < until; i++)
        weft_sleep(i < 1000 ? 0 : 0.0001);
    return NULL; /* shutdown races the submitter */
}

static void case_race_close(void *arg)
{
    (void)arg;
    long ran = 0, dropped = 0, refused = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < RACE_N; i++) {
            atomic_store(&race_ran[i], 0);
            atomic_store(&race_dropped[i], 0);
            atomic_store(&race_refused[i], 0);
        }
        CHECK_EQ(weft_run(race_main, I2P(1 + round * RACE_N / 4), NULL), 0);
        pthread_join(race_thread, NULL);
        for (int i = 0; i < RACE_N; i++) {
            int r = atomic_load(&race_ran[i]), d = atomic_load(&race_dropped[i]),
                f = atomic_load(&race_refused[i]);
            if (r + d + f != 1) {
                fprintf(stderr, "item %d: ran %d dropped %d refused %d\n", i,
                        r, d, f);
                check_failures++;
                break;
            }
            ran += r;
            dropped += d;
            refused += f;
        }
    }
    printf("     ran %ld, dropped %ld, refused %ld\n", ran, dropped, refused);
}

/* Dropped at shutdown: submitted to the own loop, which ends first. */
static atomic_int own_dropped;
static void own_drop(void *arg)
{
    (void)arg;
    atomic_fetch_add(&own_dropped, 1);
}

static void *submit_then_return(void *arg)
{
    (void)arg;
    weft_loop *h;
    REQUIRE(weft_loop_current(&h) == 0);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(weft_call_soon(h, add_one, NULL, own_drop), 0);
    weft_loop_release(h);
    return NULL;
}

static void *failing_submitted(void *arg)
{
    (void)arg;
    weft_loop *h;
    REQUIRE(weft_loop_current(&h) == 0);
    CHECK_EQ(weft_call_soon(h, fail_io, NULL, NULL), 0);
    CHECK_EQ(weft_call_soon(h, fail_io, NULL, own_drop), 0);
    weft_loop_release(h);
    return weft_sleep(0.01) == 0 ? NULL : I2P(1);
}

static void run_failing_submitted(void *arg)
{
    (void)arg;
    int rc = weft_run(failing_submitted, NULL, NULL);
    exit(rc == 0 ? 0 : 1);
}

static void case_failure_reported(void *arg)
{
    (void)arg;
    char *err = NULL;
    int st = check_fork(run_failing_submitted, NULL, &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Without a drop callback it is a plain detached task; with one, a
     * task the inbox watches: both failures are reported. */
    CHECK(err && strstr(err, "(detached) failed") &&
          strstr(err, "(submitted to the loop) failed") &&
          strstr(err, "disk 3 on fire"));
    free(err);
}

/* ---- deadlock detection with a handle held ---- */

static weft_event never = WEFT_EVENT_INIT;

static void *hold_then_release(void *arg)
{
    usleep(50000);
    weft_loop_release(arg);
    return NULL;
}

static void *wait_on_held_loop(void *arg)
{
    (void)arg;
    weft_loop *h;
    REQUIRE(weft_loop_current(&h) == 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, hold_then_release, h) == 0);
    double t0 = weft_now();
    int rc = weft_event_wait(&never); /* cancelled by deadlock shutdown */
    double waited = weft_now() - t0;
    pthread_join(t, NULL);
    return I2P(rc == -ECANCELED && waited >= 0.04);
}

static void run_deadlock_after_release(void *arg)
{
    (void)arg;
    void *ok = NULL;
    int rc = weft_run(wait_on_held_loop, NULL, &ok);
    exit(rc == -EDEADLK && ok ? 0 : 1);
}

static void case_deadlock_after_release(void *arg)
{
    (void)arg;
    char *err = NULL;
    int st = check_fork(run_deadlock_after_release, NULL, &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(err && strstr(err, "deadlock"));
    free(err);
}

/* ---- futures from a plain thread ---- */

typedef struct fut_case {
    weft_loop *h;
    int which;
    int ok;
    int bad_line; /* the first check that failed */
} fut_case;

/* In the submitting thread: note the first failed check's line. */
#define FUT_OK(cond)                                                          \
    do {                                                                      \
        if (!(cond) && ok) {                                                  \
            ok = 0;                                                           \
            fc->bad_line = __LINE__;                                          \
        }                                                                     \
    } while (0)

static void *future_thread(void *arg)
{
    fut_case *fc = arg;
    weft_future *f;
    void *res = I2P(-1);
    int ok = 1;
    switch (fc->which) {
    case 0: /* a result */
        REQUIRE(weft_submit(fc->h, add_one, I2P(41), &f) == 0);
        FUT_OK(weft_future_wait(f, 5.0) == 0);
        FUT_OK(weft_future_done(f) == 1);
        FUT_OK(weft_future_message(f) == NULL);
        FUT_OK(weft_future_join(f, &res) == 0 && P2I(res) == 42);
        break;
    case 1: /* an error with its message */
        REQUIRE(weft_submit(fc->h, fail_io, NULL, &f) == 0);
        FUT_OK(weft_future_wait_at(f, weft_now() + 5.0) == 0);
        FUT_OK(check_streq(weft_future_message(f), "disk 3 on fire"));
        FUT_OK(weft_future_cancel(f) == 1); /* finished: nothing to do */
        FUT_OK(weft_future_join(f, NULL) == -EIO);
        break;
    case 2: /* a timed wait expires: cancel, then join */
        atomic_store(&sleeper_finished, 0);
        atomic_store(&sleeper_started, 0);
        REQUIRE(weft_submit(fc->h, sleep_forever, NULL, &f) == 0);
        /* Running first (an emulator may take a while to start it): the
         * cancellation below must reach a running task. */
        for (int i = 0; i < 5000 && !atomic_load(&sleeper_started); i++)
            usleep(1000);
        FUT_OK(weft_future_wait(f, 0.05) == -ETIMEDOUT);
        FUT_OK(weft_future_wait(f, 0) == -ETIMEDOUT);
        FUT_OK(weft_future_done(f) == 0);
        FUT_OK(weft_future_cancel(f) == 0);
        /* Again: still requested (0), or the loop's thread has acted on
         * the first one and the task has finished meanwhile (1). */
        int again = weft_future_cancel(f);
        FUT_OK(again == 0 || again == 1);
        FUT_OK(weft_future_join(f, &res) == -ECANCELED);
        FUT_OK(atomic_load(&sleeper_finished) == 1); /* it ended first */
        FUT_OK(P2I(res) == -ECANCELED);              /* its own return */
        break;
    default: /* bad input */
        FUT_OK(weft_submit(fc->h, NULL, NULL, &f) == -EINVAL);
        FUT_OK(weft_submit(fc->h, add_one, NULL, NULL) == -EINVAL);
        FUT_OK(weft_future_wait(NULL, 1) == -EINVAL);
        FUT_OK(weft_future_join(NULL, NULL) == -EINVAL);
        int junk[64] = {0};
        FUT_OK(weft_future_join((weft_future *)(void *)junk, NULL) == -EINVAL);
        REQUIRE(weft_submit(fc->h, add_one, NULL, &f) == 0);
        FUT_OK(weft_future_wait(f, NAN) == -EINVAL);
        FUT_OK(weft_future_join(f, NULL) == 0);
        break;
    }
    fc->ok = ok;
    return NULL;
}

static void *futures_main(void *arg)
{
    weft_loop *h;
    REQUIRE(weft_loop_current(&h) == 0);
    fut_case fc = {.h = h, .which = (int)P2I(arg)};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, future_thread, &fc) == 0);
    /* Keep the loop alive (and responsive) until the thread is done. */
    weft_future *probe;
    CHECK_EQ(weft_submit(h, add_one, NULL, &probe), 0);
    CHECK_EQ(weft_future_wait(probe, 1.0), -EDEADLK);
    CHECK_EQ(weft_future_join(probe, NULL), -EDEADLK);
    CHECK_SLEEP_UNTIL(weft_future_done(probe) == 1);
    CHECK_EQ(weft_future_join(probe, NULL), 0);
    for (int i = 0; i < 5000; i++) {
        if (pthread_tryjoin_np(t, NULL) == 0)
            break;
        REQUIRE(i < 4999);
        weft_sleep(0.001);
    }
    weft_loop_release(h);
    CHECK(fc.ok);
    if (!fc.ok)
        fprintf(stderr, "  (the check at line %d)\n", fc.bad_line);
    return NULL;
}

/* A future whose loop shuts down before its task ran: -ECANCELED. */
static weft_future *late_future;

static void *submit_future_then_return(void *arg)
{
    (void)arg;
    weft_loop *h;
    REQUIRE(weft_loop_current(&h) == 0);
    CHECK_EQ(weft_submit(h, add_one, I2P(1), &late_future), 0);
    weft_loop_release(h);
    return NULL;
}

static void case_future_dropped(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_run(submit_future_then_return, NULL, NULL), 0);
    void *res = I2P(7);
    CHECK_EQ(weft_future_join(late_future, &res), -ECANCELED);
    CHECK(res == NULL);
}

/* ---- two loops ---- */

static void *call_b_add(void *arg)
{
    (void)arg;
    void *res;
    CHECK_EQ(weft_call_on(loop_b, add_one, I2P(1), &res), 0);
    CHECK_EQ(P2I(res), 2);
    CHECK_EQ(weft_call_on(loop_b, fail_io, NULL, &res), -EIO);
    CHECK(check_streq(weft_errmsg(), "disk 3 on fire"));
    CHECK_EQ(weft_call_on(NULL, add_one, NULL, &res), -EINVAL);
    /* The own loop works too. */
    weft_loop *self;
    REQUIRE(weft_loop_current(&self) == 0);
    CHECK_EQ(weft_call_on(self, add_one, I2P(9), &res), 0);
    CHECK_EQ(P2I(res), 10);
    weft_loop_release(self);
    return NULL;
}

static void *call_b_cancelled(void *arg)
{
    (void)arg;
    /* A scope's deadline passes across: the remote task is cancelled and
     * has finished by the time the call returns. */
    atomic_store(&sleeper_finished, 0);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.05, &sc) == 0);
    void *res = NULL;
    CHECK_EQ(weft_call_on(loop_b, sleep_forever, NULL, &res), -ETIMEDOUT);
    CHECK_EQ(atomic_load(&sleeper_finished), 1);
    CHECK_EQ(P2I(res), -ECANCELED);
    CHECK_EQ(weft_scope_close(sc), 1);
    /* Cancelling the stand-in handle directly. */
    atomic_store(&sleeper_finished, 0);
    weft_task *t;
    REQUIRE(weft_spawn_on(loop_b, sleep_forever, NULL, &t) == 0);
    weft_sleep(0.01);
    CHECK_EQ(weft_task_done(t), 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&sleeper_finished), 1);
    /* wait_for over a remote task. */
    REQUIRE(weft_spawn_on(loop_b, sleep_forever, NULL, &t) == 0);
    CHECK_EQ(weft_wait_for(t, 0.02, NULL), -ETIMEDOUT);
    return NULL;
}

static void *call_b_gather(void *arg)
{
    (void)arg;
    weft_task *t[8];
    for (int i = 0; i < 8; i++)
        REQUIRE(weft_spawn_on(loop_b, add_one, I2P(i), &t[i]) == 0);
    void *res[8];
    int errs[8];
    CHECK_EQ(weft_gather(t, 8, res, errs, 0), 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(P2I(res[i]), i + 1);
    return NULL;
}

/* Two loops calling each other, depth deep. */
static weft_loop *loop_a;

static void *ping(void *arg)
{
    long depth = P2I(arg);
    if (depth == 0)
        return I2P(0);
    weft_loop *here;
    REQUIRE(weft_loop_current(&here) == 0);
    weft_loop *other = here == loop_a ? loop_b : loop_a;
    weft_loop_release(here);
    void *res;
    int rc = weft_call_on(other, ping, I2P(depth - 1), &res);
    return rc ? I2P(-1000) : I2P(P2I(res) + 1);
}

static void *call_cycle(void *arg)
{
    (void)arg;
    REQUIRE(weft_loop_current(&loop_a) == 0);
    weft_task *t[4];
    for (int i = 0; i < 4; i++)
        REQUIRE(weft_spawn(ping, I2P(40), &t[i]) == 0);
    for (int i = 0; i < 4; i++) {
        void *res;
        CHECK_EQ(weft_await(t[i], &res), 0);
        CHECK_EQ(P2I(res), 40);
    }
    weft_loop_release(loop_a);
    loop_a = NULL;
    return NULL;
}

/* A case of two loops: loop B on a thread of its own, fn on this one. */
static void two_loops_case(void *arg)
{
    weft_fn fn = *(const weft_fn *)arg;
    b_start();
    CHECK_EQ(weft_run(fn, NULL, NULL), 0);
    b_finish();
}

static void two_loops(const char *name, weft_fn fn)
{
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        name, two_loops_case, (void *)&fn));
}

static void *call_closed_target(void *arg)
{
    (void)arg;
    void *res;
    CHECK_EQ(weft_call_on(loop_b, add_one, NULL, &res), -ESHUTDOWN);
    weft_task *t = NULL;
    CHECK_EQ(weft_spawn_on(loop_b, add_one, NULL, &t), -ESHUTDOWN);
    CHECK(t == NULL);
    return NULL;
}

static void case_closed_target(void *arg)
{
    (void)arg;
    b_start();
    weft_loop *b = loop_b;
    REQUIRE(weft_loop_ref(b) == 0);
    b_finish();
    loop_b = b;
    CHECK_EQ(weft_run(call_closed_target, NULL, NULL), 0);
    CHECK_EQ(weft_loop_release(b), 0);
    loop_b = NULL;
}

/* ---- many threads submitting at once ---- */

#define MT_THREADS 4
#define MT_EACH 5000
static atomic_int mt_ran[MT_THREADS * MT_EACH];
static long mt_count;
static weft_event mt_done = WEFT_EVENT_INIT;

static void *mt_run(void *arg)
{
    atomic_fetch_add(&mt_ran[P2I(arg)], 1);
    if (++mt_count == MT_THREADS * MT_EACH)
        weft_event_set(&mt_done);
    return NULL;
}

typedef struct mt_arg {
    weft_loop *h;
    int base;
} mt_arg;

static void *mt_submitter(void *arg)
{
    mt_arg *a = arg;
    for (int i = 0; i < MT_EACH; i++)
        REQUIRE(weft_call_soon(a->h, mt_run, I2P(a->base + i), NULL) == 0);
    weft_loop_release(a->h);
    return NULL;
}

static void *many_submitters(void *arg)
{
    (void)arg;
    pthread_t t[MT_THREADS];
    mt_arg a[MT_THREADS];
    mt_count = 0;
    for (int i = 0; i < MT_THREADS; i++) {
        REQUIRE(weft_loop_current(&a[i].h) == 0);
        a[i].base = i * MT_EACH;
        REQUIRE(pthread_create(&t[i], NULL, mt_submitter, &a[i]) == 0);
    }
    CHECK_EQ(weft_event_wait(&mt_done), 0);
    weft_event_clear(&mt_done);
    for (int i = 0; i < MT_THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < MT_THREADS * MT_EACH; i++)
        if (atomic_load(&mt_ran[i]) != 1) {
            fprintf(stderr, "item %d ran %d times\n", i,
                    atomic_load(&mt_ran[i]));
            check_failures++;
            break;
        }
    return NULL;
}

/* A future cancelled before its task started: the task never runs. */
static atomic_int never_ran;

static void *must_not_run(void *arg)
{
    (void)arg;
    atomic_store(&never_ran, 1);
    return NULL;
}

static void *future_cancel_before_start(void *arg)
{
    (void)arg;
    weft_loop *h;
    REQUIRE(weft_loop_current(&h) == 0);
    weft_future *f;
    /* Posted and cancelled while this task runs: the loop takes both in
     * one turn, the start first, then the cancellation before the task's
     * first turn. */
    REQUIRE(weft_submit(h, must_not_run, NULL, &f) == 0);
    CHECK_EQ(weft_future_cancel(f), 0);
    CHECK_SLEEP_UNTIL(weft_future_done(f) == 1);
    CHECK_EQ(weft_future_join(f, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&never_ran), 0);
    weft_loop_release(h);
    return NULL;
}

/* ---- running out of memory ---- */

typedef struct oom_item {
    int ran, dropped, refused;
} oom_item;
static oom_item oom_items[4];

static void *oom_mark_ran(void *arg)
{
    ((oom_item *)arg)->ran++;
    return NULL;
}

static void oom_mark_drop(void *arg)
{
    ((oom_item *)arg)->dropped++;
}

static void *oom_scenario(void *arg)
{
    (void)arg;
    weft_loop *h;
    int rc = weft_loop_current(&h);
    if (rc) {
        CHECK_EQ(rc, -ENOMEM);
        for (int i = 0; i < 4; i++)
            oom_items[i].refused = 1;
        return NULL;
    }
    for (int i = 0; i < 4; i++) {
        rc = weft_call_soon(h, oom_mark_ran, &oom_items[i], oom_mark_drop);
        if (rc) {
            CHECK_EQ(rc, -ENOMEM);
            oom_items[i].refused = 1;
        }
    }
    weft_task *t;
    void *res = NULL;
    rc = weft_spawn_on(h, add_one, I2P(1), &t);
    if (rc == 0) {
        rc = weft_await(t, &res);
        CHECK(rc == -ENOMEM || (rc == 0 && P2I(res) == 2));
    } else {
        CHECK_EQ(rc, -ENOMEM);
    }
    weft_future *f;
    rc = weft_submit(h, add_one, I2P(5), &f);
    if (rc == 0) {
        CHECK_SLEEP_UNTIL(weft_future_done(f) == 1);
        rc = weft_future_join(f, &res);
        CHECK(rc == -ENOMEM || (rc == 0 && P2I(res) == 6));
    } else {
        CHECK_EQ(rc, -ENOMEM);
    }
    for (int i = 0; i < 10; i++)
        weft_yield();
    weft_loop_release(h);
    return NULL;
}

static void case_oom(void *arg)
{
    (void)arg;
    long base = weft__alloc_live;
    long n;
    for (n = 1; n < 1000; n++) {
        memset(oom_items, 0, sizeof oom_items);
        weft__alloc_fail_countdown = n;
        int rc = weft_run(oom_scenario, NULL, NULL);
        bool reached = weft__alloc_fail_countdown == 0;
        weft__alloc_fail_countdown = 0;
        CHECK(rc == 0 || rc == -ENOMEM);
        if (rc == 0)
            for (int i = 0; i < 4; i++) {
                oom_item *it = &oom_items[i];
                if (it->ran + it->dropped + it->refused != 1) {
                    fprintf(stderr, "N=%ld item %d: ran %d dropped %d "
                            "refused %d\n", n, i, it->ran, it->dropped,
                            it->refused);
                    check_failures++;
                }
            }
        if (weft__alloc_live != base) {
            fprintf(stderr, "N=%ld: %ld allocations leaked\n", n,
                    weft__alloc_live - base);
            check_failures++;
            break;
        }
        if (!reached)
            break;
    }
    printf("     %ld failure points\n", n - 1);
}

/* Submitted to its own loop, which ends first: every call is dropped. */
static void case_dropped(void *arg)
{
    (void)arg;
    own_dropped = 0;
    CHECK_EQ(weft_run(submit_then_return, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&own_dropped), 10);
}

int main(void)
{
    check_begin();
    check_allow_maps(16);
    check_case_alarm_install();
    check_case("handle_basics", handle_basics, NULL, 0);
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "handle_outlives_loop", case_outlives_loop, NULL));
    check_case("call_soon_fifo_from_thread", call_soon_fifo, NULL, 0);
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "call_soon_races_close", case_race_close, NULL));
    check_run_case(&(const struct check_case_def){
        .name = "call_soon_dropped_at_shutdown", .plain = case_dropped,
        .flags = CHECK_SERIAL});
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "call_soon_failure_reported", case_failure_reported, NULL));
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "deadlock_only_after_release", case_deadlock_after_release, NULL));
    check_case("future_result", futures_main, I2P(0), 0);
    check_case("future_error_and_message", futures_main, I2P(1), 0);
    check_case("future_timeout_cancel_join", futures_main, I2P(2), 0);
    check_case("future_bad_input", futures_main, I2P(3), 0);
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "future_loop_closed_before_start", case_future_dropped, NULL));
    two_loops("call_on_results_and_errors", call_b_add);
    two_loops("call_on_cancel_and_deadline", call_b_cancelled);
    two_loops("spawn_on_gather", call_b_gather);
    two_loops("call_on_cycle_between_loops", call_cycle);
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "call_on_closed_loop", case_closed_target, NULL));
    check_case("many_threads_submit_at_once", many_submitters, NULL, 0);
    check_case("future_cancelled_before_start", future_cancel_before_start,
               NULL, 0);
    check_run_case(&(const struct check_case_def){
        .name = "out_of_memory_everywhere", .plain = case_oom, .timeout = 60});
    return check_end();
}

/*
 * test_spawn.c - weft_spawn and weft_spawn_ex.
 *
 * Proves that:
 * - a default spawn never runs the new task before the spawner suspends; new
 *   tasks start on a later turn, in spawn (FIFO) order, after the tasks that
 *   were already waiting to run;
 * - WEFT_SPAWN_EAGER runs the child at once, inside the spawn call, until it
 *   first suspends or finishes, and the spawner then continues before every
 *   other ready task (also for an eager child that finishes without
 *   suspending and for an eager child that spawns eagerly in turn);
 * - names are copied (at most 31 bytes kept) and reported by
 *   weft_task_name(), also through weft_current();
 * - the stack_size option gives a task the stack it asked for (1 MiB holds
 *   900 KiB of locals), and bad sizes, unknown flags, a NULL function or a
 *   NULL handle pointer are -EINVAL with nothing started and *task
 *   untouched; spawning outside a loop is -EPERM;
 * - when main returns, tasks still running are cancelled and joined before
 *   weft_run returns, and tasks they spawn during that shutdown are born
 *   cancelled and never run;
 * - a hundred thousand tasks can be spawned, then awaited for their results.
 */
#include "check.h"

#include <errno.h>
#include <string.h>

/* ---- a trace of who ran when ------------------------------------------- */

static char trace[256];
static size_t ntrace;

static void trace_reset(void)
{
    ntrace = 0;
    trace[0] = '\0';
}

static void mark(char c)
{
    if (ntrace + 1 < sizeof trace) {
        trace[ntrace++] = c;
        trace[ntrace] = '\0';
    }
}

#define CHECK_TRACE(expected)                                                  \
    do {                                                                       \
        if (strcmp(trace, (expected)) != 0) {                                  \
            fprintf(stderr, "%s:%d: trace is \"%s\", expected \"%s\"\n",       \
                    __FILE__, __LINE__, trace, (expected));                    \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

static void *ret_arg(void *arg)
{
    return arg;
}

/* Marks its argument (a char) and returns it. */
static void *mark_arg(void *arg)
{
    mark((char)P2I(arg));
    return arg;
}

/* ---- default spawn: later turn, FIFO ------------------------------------ */

#define FIFO_N 1000

static int order[FIFO_N];
static int norder;

static void *record_start(void *arg)
{
    if (norder < FIFO_N)
        order[norder++] = (int)P2I(arg);
    return I2P(P2I(arg) * 3);
}

static void *main_fifo(void *arg)
{
    (void)arg;
    /* Move the ready ring along first, so that the spawns below wrap around
     * it and make it grow while it is not at its start. */
    for (int round = 0; round < 3; round++) {
        weft_task *w[37];
        for (int i = 0; i < 37; i++)
            REQUIRE(weft_spawn(ret_arg, NULL, &w[i]) == 0);
        for (int i = 0; i < 37; i++)
            CHECK_EQ(weft_await(w[i], NULL), 0);
    }

    static weft_task *t[FIFO_N];
    norder = 0;
    for (int i = 0; i < FIFO_N; i++)
        REQUIRE(weft_spawn(record_start, I2P(i), &t[i]) == 0);
    /* Nothing has run: the spawner has not suspended.  Calls that do not
     * suspend do not let them run either. */
    CHECK_EQ(norder, 0);
    for (int i = 0; i < FIFO_N; i++)
        CHECK_EQ(weft_task_done(t[i]), 0);
    void *r = I2P(-1);
    CHECK_EQ(weft_task_result(t[0], &r), -EAGAIN);
    CHECK_EQ(weft_cancelled(), 0);
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_shield_end(), 0);
    (void)weft_now();
    CHECK(weft_current() != NULL);
    CHECK_EQ(norder, 0);

    /* One yield: the spawner goes to the back of the line, behind every
     * new task, and they all run (none suspends) in spawn order. */
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(norder, FIFO_N);
    int in_order = 1;
    for (int i = 0; i < norder; i++)
        if (order[i] != i) {
            fprintf(stderr, "start %d was task %d\n", i, order[i]);
            in_order = 0;
            break;
        }
    CHECK(in_order);
    for (int i = 0; i < FIFO_N; i++) {
        r = NULL;
        CHECK_EQ(weft_await(t[i], &r), 0);
        CHECK_EQ(P2I(r), i * 3);
    }
    return NULL;
}

/* A task that was already waiting to run goes before a task spawned later:
 * 'A' runs, yields; main spawns B; then A's second half ('a') runs before
 * B. */
static void *a_twice(void *arg)
{
    (void)arg;
    mark('A');
    CHECK_EQ(weft_yield(), 0);
    mark('a');
    return NULL;
}

static void *main_queue_behind(void *arg)
{
    (void)arg;
    trace_reset();
    weft_task *a, *b;
    REQUIRE(weft_spawn(a_twice, NULL, &a) == 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_TRACE("A");
    REQUIRE(weft_spawn(mark_arg, I2P('B'), &b) == 0);
    CHECK_TRACE("A");
    CHECK_EQ(weft_yield(), 0);
    CHECK_TRACE("AaB");
    CHECK_EQ(weft_await(a, NULL), 0);
    CHECK_EQ(weft_await(b, NULL), 0);
    return NULL;
}

/* ---- eager start -------------------------------------------------------- */

static const weft_spawn_opts eager_opts = {.flags = WEFT_SPAWN_EAGER};

/* Marks '1', yields, marks '2'. */
static void *eager_yields(void *arg)
{
    (void)arg;
    mark('1');
    CHECK_EQ(weft_yield(), 0);
    mark('2');
    return I2P(12);
}

static void *main_eager(void *arg)
{
    (void)arg;
    trace_reset();
    weft_task *x, *e;
    /* X is ready (waiting for its turn) when E is spawned eagerly. */
    REQUIRE(weft_spawn(mark_arg, I2P('X'), &x) == 0);
    REQUIRE(weft_spawn_ex(eager_yields, NULL, &eager_opts, &e) == 0);
    /* E ran inside the spawn up to its yield; X has not run yet. */
    CHECK_TRACE("1");
    CHECK_EQ(weft_task_done(e), 0);
    CHECK_EQ(weft_task_done(x), 0);
    mark('M');
    CHECK_EQ(weft_yield(), 0);
    /* Then the queue in order: X, then E (which yielded after X was
     * queued), then us. */
    CHECK_TRACE("1MX2");
    void *r = NULL;
    CHECK_EQ(weft_await(e, &r), 0);
    CHECK_EQ(P2I(r), 12);
    CHECK_EQ(weft_await(x, &r), 0);
    CHECK_EQ(P2I(r), 'X');
    CHECK_TRACE("1MX2");
    return NULL;
}

/* An eager child that finishes without suspending: done when the spawn
 * returns, and nothing else ran in between. */
static void *main_eager_finishes(void *arg)
{
    (void)arg;
    trace_reset();
    weft_task *x, *f;
    REQUIRE(weft_spawn(mark_arg, I2P('X'), &x) == 0);
    REQUIRE(weft_spawn_ex(mark_arg, I2P('F'), &eager_opts, &f) == 0);
    CHECK_TRACE("F");
    CHECK_EQ(weft_task_done(f), 1);
    void *r = NULL;
    CHECK_EQ(weft_task_result(f, &r), 0);
    CHECK_EQ(P2I(r), 'F');
    CHECK_EQ(weft_task_done(x), 0);
    mark('M');
    CHECK_EQ(weft_yield(), 0);
    CHECK_TRACE("FMX");
    r = NULL;
    CHECK_EQ(weft_await(f, &r), 0);
    CHECK_EQ(P2I(r), 'F');
    CHECK_EQ(weft_await(x, NULL), 0);
    return NULL;
}

/* Eager inside eager: A ('a') spawns B eagerly; B marks 'b' and yields; A
 * continues ('c') and yields; then main continues ('M').  Main yields: the
 * queue is X, B, A, main. */
static void *eager_inner(void *arg)
{
    (void)arg;
    mark('b');
    CHECK_EQ(weft_yield(), 0);
    mark('B');
    return I2P('B');
}

static void *eager_outer(void *arg)
{
    (void)arg;
    mark('a');
    weft_task *b;
    REQUIRE(weft_spawn_ex(eager_inner, NULL, &eager_opts, &b) == 0);
    CHECK_TRACE("ab");
    mark('c');
    CHECK_EQ(weft_yield(), 0);
    mark('C');
    void *r = NULL;
    CHECK_EQ(weft_await(b, &r), 0);
    CHECK_EQ(P2I(r), 'B');
    return I2P('A');
}

static void *main_eager_nested(void *arg)
{
    (void)arg;
    trace_reset();
    weft_task *x, *a;
    REQUIRE(weft_spawn(mark_arg, I2P('X'), &x) == 0);
    REQUIRE(weft_spawn_ex(eager_outer, NULL, &eager_opts, &a) == 0);
    CHECK_TRACE("abc");
    mark('M');
    CHECK_EQ(weft_yield(), 0);
    CHECK_TRACE("abcMXBC");
    void *r = NULL;
    CHECK_EQ(weft_await(a, &r), 0);
    CHECK_EQ(P2I(r), 'A');
    CHECK_EQ(weft_await(x, NULL), 0);
    CHECK_TRACE("abcMXBC");
    return NULL;
}

/* An eager child that sleeps: the spawner continues at once, without
 * waiting for the timer. */
static void *eager_sleeps(void *arg)
{
    (void)arg;
    mark('s');
    CHECK_EQ(weft_sleep(0.005), 0);
    mark('S');
    return NULL;
}

static void *main_eager_sleep(void *arg)
{
    (void)arg;
    trace_reset();
    weft_task *e;
    REQUIRE(weft_spawn_ex(eager_sleeps, NULL, &eager_opts, &e) == 0);
    CHECK_TRACE("s");
    CHECK_EQ(weft_task_done(e), 0);
    mark('M');
    CHECK_EQ(weft_await(e, NULL), 0);
    CHECK_TRACE("sMS");
    return NULL;
}

/* ---- names --------------------------------------------------------------- */

static const char *const name31 = "abcdefghijklmnopqrstuvwxyz01234"; /* 31 */
static const char *const name40 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789wxyz";

/* Checks its own name (through weft_current) against arg. */
static void *check_own_name(void *arg)
{
    const char *want = arg;
    const char *got = weft_task_name(weft_current());
    REQUIRE(got != NULL);
    CHECK(strcmp(got, want) == 0);
    CHECK_EQ(weft_yield(), 0); /* still the same after a switch */
    got = weft_task_name(weft_current());
    REQUIRE(got != NULL);
    CHECK(strcmp(got, want) == 0);
    return NULL;
}

static void *main_names(void *arg)
{
    (void)arg;
    /* The main task is called "main". */
    const char *mine = weft_task_name(weft_current());
    REQUIRE(mine != NULL);
    CHECK(strcmp(mine, "main") == 0);

    /* The name is copied: the caller's buffer may change at once. */
    char buf[64];
    snprintf(buf, sizeof buf, "%s", "worker-1");
    weft_spawn_opts o = {.name = buf};
    weft_task *t1;
    REQUIRE(weft_spawn_ex(check_own_name, (void *)"worker-1", &o, &t1) == 0);
    memset(buf, 'x', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    const char *n = weft_task_name(t1);
    REQUIRE(n != NULL);
    CHECK(strcmp(n, "worker-1") == 0);
    CHECK(n != buf);

    /* Longer than 31 bytes: the first 31 are kept. */
    snprintf(buf, sizeof buf, "%s", name40);
    o.name = buf;
    weft_task *t2;
    char want40[32];
    memcpy(want40, name40, 31);
    want40[31] = '\0';
    REQUIRE(weft_spawn_ex(check_own_name, want40, &o, &t2) == 0);
    memset(buf, 'y', sizeof buf - 1);
    n = weft_task_name(t2);
    REQUIRE(n != NULL);
    CHECK_EQ(strlen(n), 31);
    CHECK(strcmp(n, want40) == 0);

    /* Exactly 31 bytes: kept whole. */
    o.name = name31;
    weft_task *t3;
    REQUIRE(weft_spawn_ex(check_own_name, (void *)name31, &o, &t3) == 0);
    n = weft_task_name(t3);
    REQUIRE(n != NULL);
    CHECK(strcmp(n, name31) == 0);

    /* No name: the empty string, with NULL opts, a NULL name, or "". */
    weft_task *t4, *t5, *t6;
    REQUIRE(weft_spawn(check_own_name, (void *)"", &t4) == 0);
    weft_spawn_opts none = {0};
    REQUIRE(weft_spawn_ex(check_own_name, (void *)"", &none, &t5) == 0);
    weft_spawn_opts empty = {.name = ""};
    REQUIRE(weft_spawn_ex(check_own_name, (void *)"", &empty, &t6) == 0);
    n = weft_task_name(t4);
    CHECK(n != NULL && n[0] == '\0');
    n = weft_task_name(t5);
    CHECK(n != NULL && n[0] == '\0');
    n = weft_task_name(t6);
    CHECK(n != NULL && n[0] == '\0');

    /* An eager task sees its name while it runs inside the spawn. */
    weft_spawn_opts eo = {.name = "eager-one", .flags = WEFT_SPAWN_EAGER};
    weft_task *t7;
    REQUIRE(weft_spawn_ex(check_own_name, (void *)"eager-one", &eo, &t7) == 0);
    n = weft_task_name(t7);
    REQUIRE(n != NULL);
    CHECK(strcmp(n, "eager-one") == 0);

    /* While they run the names stay; once finished a task's name is the
     * empty string (documented), still not NULL for a live handle. */
    CHECK_EQ(weft_sleep(0.002), 0);
    weft_task *all[] = {t1, t2, t3, t4, t5, t6, t7};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        CHECK_EQ(weft_task_done(all[i]), 1);
        n = weft_task_name(all[i]);
        CHECK(n != NULL && n[0] == '\0');
        CHECK_EQ(weft_await(all[i], NULL), 0);
    }
    return NULL;
}

/* weft_current() in a task: a handle to the running task. */
static void *current_checks(void *arg)
{
    (void)arg;
    weft_task *me = weft_current();
    REQUIRE(me != NULL);
    CHECK_EQ(weft_task_done(me), 0);
    void *r = I2P(5);
    CHECK_EQ(weft_task_result(me, &r), -EAGAIN);
    CHECK(weft_task_message(me) == NULL);
    const char *n = weft_task_name(me);
    REQUIRE(n != NULL);
    CHECK(strcmp(n, "current-test") == 0);
    /* Every call gives the same handle value. */
    CHECK(weft_current() == me);
    return I2P(1);
}

static void *main_current(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "current-test"};
    weft_task *t;
    REQUIRE(weft_spawn_ex(current_checks, NULL, &o, &t) == 0);
    /* The spawner's current handle is its own, not the new task's. */
    const char *n = weft_task_name(weft_current());
    REQUIRE(n != NULL);
    CHECK(strcmp(n, "main") == 0);
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 1);
    return NULL;
}

/* ---- stack size and invalid arguments ------------------------------------ */

#define BIG_LOCALS ((size_t)900 * 1024)

static void *use_big_stack(void *arg)
{
    (void)arg;
    volatile unsigned char buf[BIG_LOCALS];
    for (size_t i = 0; i < sizeof buf; i += 256)
        buf[i] = (unsigned char)(i >> 8);
    buf[sizeof buf - 1] = 0xa5;
    CHECK_EQ(weft_yield(), 0); /* the locals survive a switch */
    size_t bad = 0;
    for (size_t i = 0; i < sizeof buf - 1; i += 256)
        if (buf[i] != (unsigned char)(i >> 8))
            bad++;
    if (buf[sizeof buf - 1] != 0xa5)
        bad++;
    return I2P(bad == 0 ? 1 : -1);
}

static int ran_count;

static void *count_run(void *arg)
{
    ran_count++;
    return arg;
}

static void *main_stack_and_args(void *arg)
{
    (void)arg;
    /* 1 MiB stack: 900 KiB of locals fit. */
    weft_spawn_opts big = {.name = "big", .stack_size = (size_t)1 << 20};
    weft_task *t;
    REQUIRE(weft_spawn_ex(use_big_stack, NULL, &big, &t) == 0);
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 1);
    /* Eagerly started, too. */
    big.flags = WEFT_SPAWN_EAGER;
    REQUIRE(weft_spawn_ex(use_big_stack, NULL, &big, &t) == 0);
    r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 1);

    /* The limits themselves are valid, and a size that is not a multiple
     * of the page size is rounded up. */
    size_t good[] = {WEFT_STACK_MIN, WEFT_STACK_MIN + 1, WEFT_STACK_DEFAULT,
                     WEFT_STACK_MAX};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        weft_spawn_opts o = {.stack_size = good[i]};
        REQUIRE(weft_spawn_ex(count_run, I2P(i + 1), &o, &t) == 0);
        r = NULL;
        CHECK_EQ(weft_await(t, &r), 0);
        CHECK_EQ(P2I(r), (intptr_t)i + 1);
    }

    /* Invalid: nothing is started and *task is untouched. */
    weft_task *const sentinel = (weft_task *)(uintptr_t)0x5a5a5a5a;
    ran_count = 0;
    size_t bad_sizes[] = {1, WEFT_STACK_MIN - 1, WEFT_STACK_MAX + 1,
                          WEFT_STACK_MAX + 4096, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        weft_spawn_opts o = {.stack_size = bad_sizes[i]};
        t = sentinel;
        CHECK_EQ(weft_spawn_ex(count_run, NULL, &o, &t), -EINVAL);
        CHECK(t == sentinel);
        o.flags = WEFT_SPAWN_EAGER;
        CHECK_EQ(weft_spawn_ex(count_run, NULL, &o, &t), -EINVAL);
        CHECK(t == sentinel);
    }
    unsigned bad_flags[] = {4u, 8u, WEFT_SPAWN_EAGER | 4u,
                            WEFT_SPAWN_COMPACT | 4u, 0x80000000u, ~0u};
    for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++) {
        weft_spawn_opts o = {.flags = bad_flags[i], .name = "flagged"};
        t = sentinel;
        CHECK_EQ(weft_spawn_ex(count_run, NULL, &o, &t), -EINVAL);
        CHECK(t == sentinel);
    }
    t = sentinel;
    CHECK_EQ(weft_spawn(NULL, NULL, &t), -EINVAL);
    CHECK(t == sentinel);
    CHECK_EQ(weft_spawn_ex(NULL, NULL, NULL, &t), -EINVAL);
    CHECK(t == sentinel);
    CHECK_EQ(weft_spawn_ex(NULL, NULL, &eager_opts, &t), -EINVAL);
    CHECK(t == sentinel);
    CHECK_EQ(weft_spawn(count_run, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_spawn_ex(count_run, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_spawn_ex(count_run, NULL, &eager_opts, NULL), -EINVAL);
    /* None of them ran, now or later. */
    CHECK_EQ(ran_count, 0);
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(ran_count, 0);
    return NULL;
}

/* ---- shutdown -------------------------------------------------------------
 */

/* A detached task still sleeping when main returns is cancelled, and joined
 * before weft_run returns: it writes into the caller's frame. */
struct detached_out {
    int sleep_rc;
    int late_rc;
    double elapsed;
    int finished;
};

static void *sleeps_long(void *arg)
{
    struct detached_out *o = arg;
    double t0 = weft_now();
    o->sleep_rc = weft_sleep(30.0);
    o->elapsed = weft_now() - t0;
    /* Still joined after waiting some more, shielded. */
    CHECK_EQ(weft_shield_begin(), 0);
    o->late_rc = weft_sleep(0.002);
    CHECK_EQ(weft_shield_end(), 0);
    o->finished = 1;
    return NULL;
}

static void *main_leaves_children(void *arg)
{
    struct detached_out *o = arg;
    weft_task *d, *owned;
    weft_spawn_opts opt = {.name = "detached-sleeper"};
    REQUIRE(weft_spawn_ex(sleeps_long, &o[0], &opt, &d) == 0);
    CHECK_EQ(weft_task_detach(d), 0);
    /* An owned task nobody awaits is cancelled and joined the same way. */
    REQUIRE(weft_spawn(sleeps_long, &o[1], &owned) == 0);
    CHECK_EQ(weft_yield(), 0); /* both start and go to sleep */
    CHECK_EQ(o[0].sleep_rc, 1);
    CHECK_EQ(o[1].sleep_rc, 1);
    return I2P(11);
}

static void case_leftover_children(void *arg)
{
    (void)arg;
    struct detached_out out[2] = {{1, 1, -1.0, 0}, {1, 1, -1.0, 0}};
    void *r = NULL;
    double t0 = weft_now();
    CHECK_EQ(weft_run(main_leaves_children, out, &r), 0);
    CHECK(weft_now() - t0 < 10.0);
    CHECK_EQ(P2I(r), 11);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(out[i].sleep_rc, -ECANCELED);
        CHECK_EQ(out[i].late_rc, 0);
        CHECK_EQ(out[i].finished, 1);
        CHECK(out[i].elapsed >= 0.0 && out[i].elapsed < 10.0);
    }
}

/* Tasks spawned by a task that is being shut down are born cancelled: they
 * never run and finish as -ECANCELED with a NULL result. */
static struct {
    int main_returned;
    int main_returned_seen;
    int sleep_rc;
    int cancelled;
    int ran;
    int spawn_rc, spawn_eager_rc;
    int ran_after_spawns;
    int yield_rc;
    int done_rc;
    int result_rc;
    void *result;
    int await_rc, await_eager_rc;
    void *await_r, *await_eager_r;
    int spawn_plain_rc, await_plain_rc;
    int finished;
} sd;

static void *shutdown_body(void *arg)
{
    sd.ran++;
    return arg;
}

static void *shutdown_victim(void *arg)
{
    (void)arg;
    sd.sleep_rc = weft_sleep(30.0);
    sd.main_returned_seen = sd.main_returned;
    sd.cancelled = weft_cancelled();
    weft_task *c = NULL, *e = NULL, *p = NULL;
    weft_spawn_opts eo = {.flags = WEFT_SPAWN_EAGER, .name = "late-eager"};
    sd.spawn_rc = weft_spawn(shutdown_body, I2P(1), &c);
    sd.spawn_eager_rc = weft_spawn_ex(shutdown_body, I2P(2), &eo, &e);
    sd.ran_after_spawns = sd.ran;
    if (sd.spawn_rc || sd.spawn_eager_rc)
        return NULL;
    /* Shielded, so that our own waits really wait: c's turn comes. */
    weft_shield_begin();
    sd.yield_rc = weft_yield();
    sd.done_rc = weft_task_done(c);
    sd.result_rc = weft_task_result(c, &sd.result);
    sd.await_rc = weft_await(c, &sd.await_r);
    sd.await_eager_rc = weft_await(e, &sd.await_eager_r);
    weft_shield_end();
    /* Unshielded: spawning still works, awaiting is cancelled. */
    sd.spawn_plain_rc = weft_spawn(shutdown_body, I2P(3), &p);
    if (sd.spawn_plain_rc == 0)
        sd.await_plain_rc = weft_await(p, NULL);
    sd.finished = 1;
    return NULL;
}

static void *main_shutdown_spawns(void *arg)
{
    (void)arg;
    weft_task *v;
    REQUIRE(weft_spawn(shutdown_victim, NULL, &v) == 0);
    CHECK_EQ(weft_task_detach(v), 0);
    CHECK_EQ(weft_yield(), 0); /* the victim is asleep now */
    sd.main_returned = 1;
    return I2P(77);
}

static void case_shutdown_spawns(void *arg)
{
    (void)arg;
    memset(&sd, 0, sizeof sd);
    sd.result = sd.await_r = sd.await_eager_r = I2P(-1);
    sd.yield_rc = sd.done_rc = sd.result_rc = sd.await_rc = 1;
    sd.await_eager_rc = sd.spawn_plain_rc = sd.await_plain_rc = 1;
    void *r = NULL;
    CHECK_EQ(weft_run(main_shutdown_spawns, NULL, &r), 0);
    CHECK_EQ(P2I(r), 77); /* main's outcome, whatever the late tasks did */
    CHECK_EQ(sd.sleep_rc, -ECANCELED);
    CHECK_EQ(sd.main_returned_seen, 1);
    CHECK_EQ(sd.cancelled, 1);
    CHECK_EQ(sd.spawn_rc, 0);
    CHECK_EQ(sd.spawn_eager_rc, 0);
    CHECK_EQ(sd.ran_after_spawns, 0); /* not even the eager one */
    CHECK_EQ(sd.yield_rc, 0);
    CHECK_EQ(sd.done_rc, 1);
    CHECK_EQ(sd.result_rc, -ECANCELED);
    CHECK(sd.result == NULL);
    CHECK_EQ(sd.await_rc, -ECANCELED);
    CHECK(sd.await_r == NULL);
    CHECK_EQ(sd.await_eager_rc, -ECANCELED);
    CHECK(sd.await_eager_r == NULL);
    CHECK_EQ(sd.spawn_plain_rc, 0);
    CHECK_EQ(sd.await_plain_rc, -ECANCELED);
    CHECK_EQ(sd.finished, 1);
    CHECK_EQ(sd.ran, 0);
}

/* The smallest form of the above: one task spawned (and detached) during
 * shutdown, never awaited.  weft_run still returns the main task's outcome,
 * and the late task never runs.  (The main task's slot is free by then, so
 * a late task may well take it: it must never be taken for main.) */
static int late_ran;

static void *late_body(void *arg)
{
    late_ran++;
    return arg;
}

static void *late_spawner(void *arg)
{
    (void)arg;
    int rc = weft_sleep(30.0);
    CHECK_EQ(rc, -ECANCELED);
    weft_task *t;
    CHECK_EQ(weft_spawn(late_body, I2P(3), &t), 0);
    CHECK_EQ(weft_task_detach(t), 0);
    return NULL;
}

static void *main_one_late_spawn(void *arg)
{
    (void)arg;
    weft_task *v;
    REQUIRE(weft_spawn(late_spawner, NULL, &v) == 0);
    CHECK_EQ(weft_task_detach(v), 0);
    CHECK_EQ(weft_yield(), 0);
    return I2P(77);
}

static void case_shutdown_keeps_main_result(void *arg)
{
    (void)arg;
    late_ran = 0;
    void *r = NULL;
    CHECK_EQ(weft_run(main_one_late_spawn, NULL, &r), 0);
    CHECK_EQ(P2I(r), 77);
    CHECK_EQ(late_ran, 0);
}

/* ---- many tasks ------------------------------------------------------------
 */

static void *times_two(void *arg)
{
    return I2P(P2I(arg) * 2);
}

static void *main_many(void *arg)
{
    long n = P2I(arg);
    weft_task **t = malloc((size_t)n * sizeof *t);
    REQUIRE(t != NULL);
    for (long i = 0; i < n; i++)
        REQUIRE(weft_spawn(times_two, I2P(i), &t[i]) == 0);
    long bad = 0;
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        if (weft_await(t[i], &r) != 0 || P2I(r) != i * 2)
            bad++;
    }
    CHECK_EQ(bad, 0);
    free(t);
    return I2P(n);
}

/* Many tasks one after another: each starts once the one before has
 * finished, so two records carry them all.  (Under ThreadSanitizer each
 * record has a fiber whose call stack keeps every task's entry frame: a
 * fiber that carried 100,000 tasks crashed it.) */
static void *main_in_turn(void *arg)
{
    long n = P2I(arg), bad = 0;
    for (long i = 0; i < n; i++) {
        weft_task *t;
        void *r = NULL;
        REQUIRE(weft_spawn(times_two, I2P(i), &t) == 0);
        if (weft_await(t, &r) != 0 || P2I(r) != i * 2)
            bad++;
    }
    CHECK_EQ(bad, 0);
    return NULL;
}

static void case_many_in_turn(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_run(main_in_turn, I2P(check_scaled(150000)), NULL), 0);
}

/* ---- outside a loop --------------------------------------------------------
 */

static void case_outside_loop(void *arg)
{
    (void)arg;
    weft_task *const sentinel = (weft_task *)(uintptr_t)0x5a5a5a5a;
    weft_task *t = sentinel;
    CHECK_EQ(weft_spawn(count_run, NULL, &t), -EPERM);
    CHECK(t == sentinel);
    weft_spawn_opts o = {.name = "outside"};
    CHECK_EQ(weft_spawn_ex(count_run, NULL, &o, &t), -EPERM);
    CHECK(t == sentinel);
    CHECK_EQ(weft_spawn_ex(count_run, NULL, &eager_opts, &t), -EPERM);
    CHECK(t == sentinel);
    CHECK_EQ(weft_spawn_ex(count_run, NULL, NULL, &t), -EPERM);
    CHECK(t == sentinel);
    CHECK(weft_current() == NULL);
}

static void case_many(void *arg)
{
    (void)arg;
    long n = check_scaled(100000);
    void *r = NULL;
    CHECK_EQ(weft_run(main_many, I2P(n), &r), 0);
    CHECK_EQ(P2I(r), n);
}

/* outside_loop_again: once loops have come and gone. */
static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_loop", case_outside_loop, NULL),
    CHECK_TASK("fifo", main_fifo, NULL),
    CHECK_TASK("queue_behind", main_queue_behind, NULL),
    CHECK_TASK("eager", main_eager, NULL),
    CHECK_TASK("eager_finishes", main_eager_finishes, NULL),
    CHECK_TASK("eager_nested", main_eager_nested, NULL),
    CHECK_TASK("eager_sleep", main_eager_sleep, NULL),
    CHECK_TASK("names", main_names, NULL),
    CHECK_TASK("current", main_current, NULL),
    CHECK_TASK("stack_and_args", main_stack_and_args, NULL),
    CHECK_PLAIN("leftover_children", case_leftover_children, NULL),
    CHECK_PLAIN("shutdown_keeps_main_result", case_shutdown_keeps_main_result,
                NULL),
    CHECK_PLAIN("shutdown_spawns", case_shutdown_spawns, NULL),
    CHECK_PLAIN("many", case_many, NULL),
    CHECK_PLAIN("many_in_turn", case_many_in_turn, NULL),
    CHECK_PLAIN_SERIAL("outside_loop_again", case_outside_loop, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

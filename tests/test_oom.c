/*
 * test_oom.c - running out of memory is an error code, never an abort and
 * never a leak.
 *
 * One scenario touches every place weft allocates or maps memory: creating
 * the loop, spawning with and without options (name, stack size, eager
 * start), starting tasks (record and stack), awaiting a task that has not
 * started (its record is allocated then), weft_fail messages, reports of
 * failed detached and never-awaited tasks, and enough tasks at once (a
 * chain of awaits, then a few thousand yielding tasks) to grow the arenas
 * and the stack pool several times.
 *
 * The scenario runs once for every N = 1, 2, 3, ... with the N-th
 * allocation or mapping failing, until a run no longer reaches an N-th one.
 * For every N: weft_run returns 0 or -ENOMEM, the outcomes the scenario
 * sees are the documented ones (spawn fails with -ENOMEM and starts
 * nothing, a task whose stack could not be allocated finishes -ENOMEM, a
 * lost message is NULL, an await that returned has consumed its handle),
 * and right after the run no weft allocation, mapping or file descriptor
 * is left.  A second pass injects the failure from inside the running main
 * task, in a loop that is already warm (pools and free lists populated).
 * A separate case makes sure the one allocation weft_await can make (the
 * record of a task that has not started) is among those that fail, at a
 * point where nothing else can: the await returns -ENOMEM, and like any
 * await that returned it has consumed the handle and the task never runs.
 *
 * Reports of failed tasks go to stderr, which is sent to /dev/null during
 * the passes (set WEFT_OOM_VERBOSE=1 to keep it); failures of this test are
 * written to the real stderr, each with the N it happened at.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"
#include "coro/sanitize.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

static int real_err = 2; /* this test's own messages */
static const char *pass_name = "";
static long cur_n;

#define EXPECT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            dprintf(real_err, "%s:%d: [%s, N=%ld] EXPECT failed: %s\n",        \
                    __FILE__, __LINE__, pass_name, cur_n, #cond);              \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

/* An outcome that is either the expected one or -ENOMEM. */
#define EXPECT_OR_ENOMEM(rc, expect)                                           \
    do {                                                                       \
        long long e_rc_ = (rc), e_ex_ = (expect);                              \
        if (e_rc_ != e_ex_ && e_rc_ != -ENOMEM) {                              \
            dprintf(real_err,                                                  \
                    "%s:%d: [%s, N=%ld] %s == %lld, expected %lld or "         \
                    "-ENOMEM\n",                                               \
                    __FILE__, __LINE__, pass_name, cur_n, #rc, e_rc_, e_ex_);  \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

#define SENTINEL ((weft_task *)(uintptr_t)0x5e5e5e5e)
#define MAIN_DONE I2P(0x600d)

static long chain_depth = 700; /* records and stacks alive at once */
static long many = 4500;       /* yielding tasks alive at once */
static weft_task **handles;

/* Counts for the summary (all passes). */
static long n_spawn_enomem, n_task_enomem, n_lost_msg;

/* ---- task bodies (they touch only their argument and globals: after a
 * failure the main task returns at once and leaves them to shutdown) ---- */

static void *ret_arg(void *arg)
{
    return arg;
}

static void *yield_twice(void *arg)
{
    weft_yield();
    weft_yield();
    return arg;
}

static volatile int eager_ran;

static void *eager_body(void *arg)
{
    eager_ran = 1;
    weft_yield();
    return arg;
}

static __attribute__((noinline)) long touch_stack(long n)
{
    char buf[8192];
    memset(buf, (int)n, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    return buf[n & 1023] + n;
}

static void *stack_user(void *arg)
{
    weft_yield();
    return I2P(touch_stack(P2I(arg)) - (P2I(arg) & 0xff));
}

static void *fail_io(void *arg)
{
    weft_yield();
    return weft_fail(-EIO, "child %ld failed", (long)P2I(arg));
}

static void *fail_now(void *arg)
{
    return weft_fail(-EPIPE, "failed at once (%ld)", (long)P2I(arg));
}

/* ---- helpers ---- */

/* weft_await, and the contract around it: when it returns (other than
 * -EDEADLK, -EINVAL, -EPERM) the task has finished and the handle is
 * consumed.  If an await returns -ENOMEM and leaves the handle alive, that
 * is reported, and the task is awaited again so the run stays clean. */
static int await_checked(weft_task *t, void **r)
{
    int rc = weft_await(t, r);
    int tries = 0;
    while (rc == -ENOMEM && weft_task_done(t) >= 0 && tries++ < 4) {
        dprintf(real_err,
                "[%s, N=%ld] weft_await returned -ENOMEM but the handle "
                "was not consumed (the task %s)\n",
                pass_name, cur_n,
                weft_task_done(t) ? "had finished" : "had not finished");
        check_failures++;
        rc = weft_await(t, r);
    }
    EXPECT(weft_task_done(t) == -EINVAL);
    return rc;
}

/* Spawns; on failure checks the contract and returns the error. */
static int spawn_checked(weft_fn fn, void *arg, const weft_spawn_opts *o,
                         weft_task **t)
{
    *t = SENTINEL;
    int rc = weft_spawn_ex(fn, arg, o, t);
    if (rc) {
        EXPECT(rc == -ENOMEM);
        EXPECT(*t == SENTINEL); /* untouched on error */
        n_spawn_enomem++;
    } else {
        EXPECT(*t != SENTINEL && *t != NULL);
    }
    return rc;
}

/* Records a task outcome that may be -ENOMEM (its stack or record could not
 * be had); returns 0 or -ENOMEM. */
static int outcome(int rc, int expect)
{
    EXPECT_OR_ENOMEM(rc, expect);
    if (rc == -ENOMEM) {
        n_task_enomem++;
        return -ENOMEM;
    }
    return 0;
}

/* Each link spawns the next and awaits it before it has started (so the
 * await gives it its record); the whole chain is alive at once. */
static void *chain_link(void *arg)
{
    long depth = (long)P2I(arg);
    if (depth == 0)
        return I2P(0);
    weft_task *t;
    int rc = spawn_checked(chain_link, I2P(depth - 1), NULL, &t);
    if (rc)
        return weft_fail(rc, NULL);
    void *r = NULL;
    rc = await_checked(t, &r);
    if (rc) {
        EXPECT(rc == -ENOMEM);
        return weft_fail(rc, NULL);
    }
    EXPECT(P2I(r) == depth - 1);
    return I2P(depth);
}

#define TRY(expr)                                                              \
    do {                                                                       \
        int try_rc_ = (expr);                                                  \
        if (try_rc_)                                                           \
            return try_rc_;                                                    \
    } while (0)

/* The scenario.  Returns 0, or -ENOMEM as soon as a spawn fails or after a
 * task finished -ENOMEM (what is left is for weft_run's shutdown). */
static int scenario(void)
{
    weft_task *t;
    void *r;
    int rc, err = 0;

    /* A plain task that starts before it is awaited. */
    TRY(spawn_checked(ret_arg, I2P(11), NULL, &t));
    weft_yield();
    r = NULL;
    rc = await_checked(t, &r);
    if (!outcome(rc, 0))
        EXPECT(P2I(r) == 11);
    else
        err = rc;

    /* Awaited before it started: the await allocates its record. */
    TRY(spawn_checked(ret_arg, I2P(12), NULL, &t));
    r = NULL;
    rc = await_checked(t, &r);
    if (!outcome(rc, 0))
        EXPECT(P2I(r) == 12);
    else
        err = rc;

    /* Named. */
    weft_spawn_opts named = {.name = "a-name-longer-than-thirty-one-bytes"};
    TRY(spawn_checked(ret_arg, I2P(13), &named, &t));
    const char *name = weft_task_name(t);
    EXPECT(name && strcmp(name, "a-name-longer-than-thirty-one-b") == 0);
    r = NULL;
    rc = await_checked(t, &r);
    if (!outcome(rc, 0))
        EXPECT(P2I(r) == 13);
    else
        err = rc;

    /* Stack sizes of their own (a mapping each), two alive at once. */
    weft_spawn_opts sized = {.stack_size = 64 * 1024};
    weft_task *t2;
    TRY(spawn_checked(stack_user, I2P(14), &sized, &t));
    sized.stack_size = 3 * WEFT_STACK_MIN;
    TRY(spawn_checked(stack_user, I2P(15), &sized, &t2));
    r = NULL;
    rc = await_checked(t, &r);
    if (!outcome(rc, 0))
        EXPECT(P2I(r) == 14);
    else
        err = rc;
    r = NULL;
    rc = await_checked(t2, &r);
    if (!outcome(rc, 0))
        EXPECT(P2I(r) == 15);
    else
        err = rc;

    /* Eager: runs inside the spawn until it yields (unless it could not
     * get a stack, in which case it has finished -ENOMEM). */
    weft_spawn_opts eager = {.flags = WEFT_SPAWN_EAGER};
    eager_ran = 0;
    TRY(spawn_checked(eager_body, I2P(16), &eager, &t));
    int ran = eager_ran;
    r = NULL;
    rc = await_checked(t, &r);
    if (!outcome(rc, 0)) {
        EXPECT(ran);
        EXPECT(P2I(r) == 16);
    } else {
        EXPECT(!ran);
        err = rc;
    }

    /* Everything at once: eager, named, own stack size. */
    weft_spawn_opts all = {.name = "everything",
                           .stack_size = WEFT_STACK_MIN,
                           .flags = WEFT_SPAWN_EAGER};
    eager_ran = 0;
    TRY(spawn_checked(eager_body, I2P(17), &all, &t));
    ran = eager_ran;
    /* A finished task has no name any more: it finished at once if it
     * could not get its stack. */
    EXPECT(weft_task_name(t) &&
           !strcmp(weft_task_name(t), ran ? "everything" : ""));
    r = NULL;
    rc = await_checked(t, &r);
    if (!outcome(rc, 0)) {
        EXPECT(ran);
        EXPECT(P2I(r) == 17);
    } else {
        EXPECT(!ran);
        err = rc;
    }

    /* A failing task: its error, and its message unless that could not be
     * allocated. */
    TRY(spawn_checked(fail_io, I2P(18), NULL, &t));
    rc = await_checked(t, NULL);
    if (!outcome(rc, -EIO)) {
        const char *m = weft_errmsg();
        if (m)
            EXPECT(strcmp(m, "child 18 failed") == 0);
        else
            n_lost_msg++;
    } else {
        err = rc;
    }

    /* Detached failing tasks: reported when they finish (one finishes
     * before it is detached, so the detach reports it). */
    for (int i = 0; i < 3; i++) {
        TRY(spawn_checked(fail_io, I2P(20 + i), NULL, &t));
        EXPECT(weft_task_detach(t) == 0);
    }
    TRY(spawn_checked(fail_now, I2P(23), NULL, &t));
    weft_yield();
    EXPECT(weft_task_done(t) == 1);
    EXPECT(weft_task_detach(t) == 0);

    /* A failed task nobody awaits: reported when the loop closes. */
    TRY(spawn_checked(fail_now, I2P(24), NULL, &t));

    /* A chain of awaits: hundreds of records and stacks alive at once, each
     * record allocated by an await. */
    TRY(spawn_checked(chain_link, I2P(chain_depth), NULL, &t));
    r = NULL;
    rc = await_checked(t, &r);
    if (!outcome(rc, 0))
        EXPECT(P2I(r) == chain_depth);
    else
        err = rc;

    /* Thousands of tasks alive at once: the slot, record and timer arenas
     * and the stack pool all grow. */
    for (long i = 0; i < many; i++)
        TRY(spawn_checked(yield_twice, I2P(i), NULL, &handles[i]));
    for (long i = 0; i < many; i++) {
        r = NULL;
        rc = await_checked(handles[i], &r);
        if (!outcome(rc, 0))
            EXPECT(P2I(r) == i);
        else
            err = rc;
    }
    return err;
}

/* ---- the passes ---- */

static long warm_n; /* pass 2: the countdown main sets once the loop is warm */

static void *main_cold(void *arg)
{
    (void)arg;
    int rc = scenario();
    if (rc)
        return weft_fail(rc, "scenario: %s", weft_strerror(rc));
    return MAIN_DONE;
}

static void *main_warm(void *arg)
{
    (void)arg;
    /* Warm up without injection: pools, free lists and arenas fill. */
    int rc = scenario();
    EXPECT(rc == 0);
    if (rc)
        return weft_fail(rc, "warm-up: %s", weft_strerror(rc));
    __atomic_store_n(&weft__alloc_fail_countdown, warm_n, __ATOMIC_RELAXED);
    rc = scenario();
    if (rc)
        return weft_fail(rc, "scenario: %s", weft_strerror(rc));
    return MAIN_DONE;
}

static long countdown(void)
{
    return __atomic_load_n(&weft__alloc_fail_countdown, __ATOMIC_RELAXED);
}

static void set_countdown(long n)
{
    __atomic_store_n(&weft__alloc_fail_countdown, n, __ATOMIC_RELAXED);
}

/* Runs one pass; returns the number of failing runs. */
static long run_pass(const char *name, bool warm, int fds0)
{
    pass_name = name;
    long n, ok = 0, enomem = 0;
    double t0 = weft_now();
    for (n = 1;; n++) {
        REQUIRE(n < 100000); /* the scenario has far fewer allocations */
        cur_n = n;
        void *res = NULL;
        int rc;
        if (warm) {
            warm_n = n;
            rc = weft_run(main_warm, NULL, &res);
        } else {
            set_countdown(n);
            rc = weft_run(main_cold, NULL, &res);
        }
        bool injected = countdown() == 0;
        set_countdown(0);

        EXPECT(rc == 0 || rc == -ENOMEM);
        if (rc == 0) {
            EXPECT(res == MAIN_DONE);
            ok++;
        } else {
            enomem++;
        }
        long live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
        long maps = __atomic_load_n(&weft__map_live, __ATOMIC_RELAXED);
        if (live || maps) {
            dprintf(real_err,
                    "[%s, N=%ld] leak after the run: %ld allocations, %ld "
                    "mappings (weft_run returned %d)\n",
                    name, n, live, maps, rc);
            check_failures++;
            /* Later runs would only repeat it. */
            __atomic_store_n(&weft__alloc_live, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&weft__map_live, 0, __ATOMIC_RELAXED);
        }
        int fds = check_count_fds();
        if (fds != fds0) {
            dprintf(real_err,
                    "[%s, N=%ld] %d fds open after the run, %d "
                    "before\n",
                    name, n, fds, fds0);
            check_failures++;
        }
        if (!injected) {
            /* Nothing failed: a clean run, which must succeed. */
            EXPECT(rc == 0);
            break;
        }
    }
    printf("%s: %ld runs with an injected failure (%ld returned 0, %ld "
           "-ENOMEM), then a clean run: %.2f s\n",
           name, n - 1, ok - 1, enomem, weft_now() - t0);
    return n - 1;
}

/* ---- an await that needs memory ----
 *
 * Awaiting a task that has not started gives it its record, which may need
 * the record arena to grow.  Tasks with records of their own pile up, one
 * more each round, until that growth is where the injected failure lands.
 * If the await returns -ENOMEM, the contract is that of any await that
 * returned: the task has finished and the handle is consumed - the caller
 * is free to let go of whatever the task's argument points to. */

static int promoted_ran;

static void *mark_ran(void *arg)
{
    promoted_ran = 1;
    return arg;
}

static void *sleep_long(void *arg)
{
    weft_sleep(3600);
    return arg;
}

static void *main_await_oom(void *arg)
{
    (void)arg;
    enum { MAX_ROUNDS = 5000 };
    weft_task **sleepers = calloc(MAX_ROUNDS, sizeof *sleepers);
    REQUIRE(sleepers);
    /* Sleepers get stacks of their own size, so that the pool keeps a free
     * default stack for the awaited task: its record is the only thing the
     * await may allocate. */
    weft_spawn_opts own = {.stack_size = 2 * WEFT_STACK_MIN};
    weft_task *t;
    REQUIRE(weft_spawn(ret_arg, NULL, &t) == 0);
    REQUIRE(weft_await(t, NULL) == 0);
    int n, hit = 0;
    for (n = 0; n < MAX_ROUNDS && !hit; n++) {
        REQUIRE(weft_spawn_ex(sleep_long, NULL, &own, &sleepers[n]) == 0);
        weft_yield(); /* it starts: one more record in use */
        REQUIRE(weft_spawn(mark_ran, I2P(n), &t) == 0);
        promoted_ran = 0;
        set_countdown(1);
        void *r = NULL;
        int rc = weft_await(t, &r);
        bool injected = countdown() == 0;
        set_countdown(0);
        if (!injected) {
            CHECK_EQ(rc, 0);
            CHECK_EQ(P2I(r), n);
            continue;
        }
        hit = 1;
        CHECK_EQ(rc, -ENOMEM);
        /* The handle is consumed and the task is over: it never runs. */
        CHECK_EQ(weft_task_done(t), -EINVAL);
        weft_yield();
        CHECK_EQ(promoted_ran, 0);
        if (weft_task_done(t) >= 0)
            weft_await(t, NULL); /* keep the rest of the run clean */
    }
    if (!hit)
        printf("weft_await never needed memory in %d rounds\n", n);
    for (int i = 0; i < n; i++) {
        weft_task_cancel(sleepers[i]);
        CHECK_EQ(weft_await(sleepers[i], NULL), -ECANCELED);
    }
    free(sleepers);
    return NULL;
}

/* How many allocations the cold scenario makes. */
static long count_allocations(void)
{
    long big = LONG_MAX / 4;
    set_countdown(big);
    cur_n = 0;
    pass_name = "count";
    void *res = NULL;
    int rc = weft_run(main_cold, NULL, &res);
    long used = big - countdown();
    set_countdown(0);
    CHECK_EQ(rc, 0);
    CHECK(res == MAIN_DONE);
    return used;
}

static void case_await_oom(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_run(main_await_oom, NULL, NULL), 0);
    CHECK_EQ(weft__alloc_live, 0);
    CHECK_EQ(weft__map_live, 0);
}

/* A clean run first: the scenario itself passes. */
static void case_clean_run(void *arg)
{
    (void)arg;
    void *res = NULL;
    CHECK_EQ(weft_run(main_cold, NULL, &res), 0);
    CHECK(res == MAIN_DONE);
    CHECK_EQ(weft__alloc_live, 0);
    CHECK_EQ(weft__map_live, 0);
}

/* The scenario with each allocation failing in turn, in a cold loop and
 * in a warm one. */
static void case_each_allocation_fails(void *arg)
{
    (void)arg;
    bool verbose = getenv("WEFT_OOM_VERBOSE") != NULL;
    if (!verbose) {
        fflush(stderr);
        real_err = dup(2);
        REQUIRE(real_err >= 0);
        int dn = open("/dev/null", O_WRONLY | O_CLOEXEC);
        REQUIRE(dn >= 0);
        REQUIRE(dup2(dn, 2) == 2);
        close(dn);
    }
    int fds0 = check_count_fds();

    long allocs = count_allocations();
    long cold = run_pass("cold", false, fds0);
    long warm = run_pass("warm", true, fds0);

    if (!verbose) {
        fflush(stderr);
        REQUIRE(dup2(real_err, 2) == 2);
        close(real_err);
        real_err = 2;
    }
    printf("the scenario allocates %ld times; spawn gave -ENOMEM %ld times, "
           "tasks finished -ENOMEM %ld times, %ld messages were lost\n",
           allocs, n_spawn_enomem, n_task_enomem, n_lost_msg);

    /* Every allocation point was failed once, and the scenario really
     * reaches the places it means to (a few dozen in a cold loop). */
    CHECK_EQ(cold, allocs);
    CHECK(cold >= (WEFT_TSAN ? 25 : 40));
    CHECK(warm >= 5);
    CHECK(n_spawn_enomem > 0);
    CHECK(n_task_enomem > 0);
    CHECK(n_lost_msg > 0);
    CHECK_EQ(countdown(), 0);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("await_oom", case_await_oom, NULL),
    CHECK_PLAIN("clean_run", case_clean_run, NULL),
    CHECK_PLAIN("each_allocation_fails", case_each_allocation_fails, NULL),
};

int main(void)
{
    if (WEFT_TSAN) {
        /* ThreadSanitizer makes a fiber of its own for every task record,
         * at a high price: fewer tasks, still enough to grow the stack
         * pool. */
        chain_depth = 50;
        many = 250;
    } else if (check_slow_env()) {
        chain_depth = 400;
        many = 3000;
    }
    chain_depth = check_scaled(chain_depth);
    many = check_scaled(many);
    handles = calloc((size_t)many, sizeof *handles);
    REQUIRE(handles);
    int rc = CHECK_MAIN(cases);
    free(handles);
    return rc;
}

/*
 * test_handles.c - misusing a task handle is an error code, never a stray
 * read or write of some task's memory.
 *
 * Proves that:
 * - a consumed handle (after weft_await or weft_task_detach) is -EINVAL for
 *   every call (NULL for name and message), also once its slot has been
 *   reused by a newer task, which the stale handle leaves untouched;
 * - detaching twice is -EINVAL; a NULL handle is -EINVAL everywhere; a
 *   garbage handle value is -EINVAL or -EPERM and disturbs no task;
 * - the handle from weft_current() is borrowed: it cannot be consumed, so
 *   weft_await(weft_current()) and weft_task_detach(weft_current()) are
 *   -EINVAL (refused as a consume of a borrowed handle, before any check
 *   for awaiting oneself); awaiting oneself through an owned handle is
 *   -EDEADLK and leaves the handle usable;
 * - awaiting a task that is (directly or through others) awaiting the
 *   caller is -EDEADLK for the awaiter closing the cycle, without consuming
 *   its handle;
 * - a handle is only valid on its own loop: on another thread's live loop,
 *   on a thread without a loop, and on the same thread after weft_run has
 *   returned, every call is -EPERM (NULL for name and message) and the
 *   task is untouched.
 */
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

/* Waits (yielding) until cond holds; a failed yield (the task was
 * cancelled) ends the wait as a failure, so a broken case cannot spin. */
#define YIELD_UNTIL(cond)                                                      \
    do {                                                                       \
        while (!(cond)) {                                                      \
            int yu_rc_ = weft_yield();                                         \
            if (yu_rc_ != 0) {                                                 \
                CHECK_EQ(yu_rc_, 0);                                           \
                break;                                                         \
            }                                                                  \
        }                                                                      \
    } while (0)

/* The same, sleeping between looks (for flags set by timers or by other
 * threads). */
#define SLEEP_UNTIL(cond)                                                      \
    do {                                                                       \
        while (!(cond)) {                                                      \
            int su_rc_ = weft_sleep(0.0005);                                   \
            if (su_rc_ != 0) {                                                 \
                CHECK_EQ(su_rc_, 0);                                           \
                break;                                                         \
            }                                                                  \
        }                                                                      \
    } while (0)

static void *ret_arg(void *arg)
{
    return arg;
}

#define SENTINEL ((void *)(uintptr_t)0x5eed5eedu)

/* Every call on handle h must fail with `want` (name and message: NULL),
 * without writing through the result pointers.  `consume_too`: also try
 * await and detach (never on a handle that might still be valid). */
#define CHECK_ALL_FAIL(h, want, consume_too)                                   \
    do {                                                                       \
        weft_task *h_ = (h);                                                   \
        void *r_ = SENTINEL;                                                   \
        CHECK_EQ(weft_task_done(h_), (want));                                  \
        CHECK_EQ(weft_task_result(h_, &r_), (want));                           \
        CHECK_EQ(weft_task_result(h_, NULL), (want));                          \
        CHECK_EQ(weft_task_cancel(h_), (want));                                \
        CHECK(weft_task_name(h_) == NULL);                                     \
        CHECK(weft_task_message(h_) == NULL);                                  \
        if (consume_too) {                                                     \
            CHECK_EQ(weft_await(h_, &r_), (want));                             \
            CHECK_EQ(weft_await(h_, NULL), (want));                            \
            CHECK_EQ(weft_task_detach(h_), (want));                            \
        }                                                                      \
        CHECK(r_ == SENTINEL);                                                 \
    } while (0)

/* The same, accepting -EINVAL or -EPERM (garbage values). */
static int bad_rc(int rc)
{
    return rc == -EINVAL || rc == -EPERM;
}

static void check_garbage(weft_task *h)
{
    void *r = SENTINEL;
    CHECK(bad_rc(weft_task_done(h)));
    CHECK(bad_rc(weft_task_result(h, &r)));
    CHECK(bad_rc(weft_task_cancel(h)));
    CHECK(weft_task_name(h) == NULL);
    CHECK(weft_task_message(h) == NULL);
    CHECK(bad_rc(weft_await(h, &r)));
    CHECK(bad_rc(weft_task_detach(h)));
    CHECK(r == SENTINEL);
}

static void *fail_io(void *arg)
{
    weft_fail(-EIO, "failed %d", (int)P2I(arg));
    return arg;
}

/* ---- consumed handles ------------------------------------------------------
 */

static int gate;

static void *wait_gate(void *arg)
{
    YIELD_UNTIL(gate);
    /* A stray cancel through a stale handle would show here. */
    CHECK_EQ(weft_cancelled(), 0);
    return arg;
}

static void *main_consumed(void *arg)
{
    (void)arg;
    weft_task *t, *d;

    /* After await. */
    REQUIRE(weft_spawn(ret_arg, I2P(1), &t) == 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_ALL_FAIL(t, -EINVAL, 1);
    /* A refused await says why in words. */
    CHECK_EQ(weft_await(t, NULL), -EINVAL);
    CHECK(weft_errmsg() != NULL &&
          strstr(weft_errmsg(), "already awaited or detached") != NULL);
    CHECK_EQ(weft_await(weft_current(), NULL), -EINVAL);
    CHECK(weft_errmsg() != NULL);

    /* After detach, of a finished task and of a running one. */
    REQUIRE(weft_spawn(ret_arg, I2P(2), &d) == 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_task_done(d), 1);
    CHECK_EQ(weft_task_detach(d), 0);
    CHECK_EQ(weft_task_detach(d), -EINVAL); /* twice */
    CHECK_ALL_FAIL(d, -EINVAL, 1);

    gate = 0;
    REQUIRE(weft_spawn(wait_gate, I2P(3), &d) == 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_task_done(d), 0);
    CHECK_EQ(weft_task_detach(d), 0);
    CHECK_EQ(weft_task_detach(d), -EINVAL);
    CHECK_ALL_FAIL(d, -EINVAL, 1);
    /* Detach of a task not started yet, then twice. */
    REQUIRE(weft_spawn(wait_gate, I2P(4), &d) == 0);
    CHECK_EQ(weft_task_detach(d), 0);
    CHECK_EQ(weft_task_detach(d), -EINVAL);
    CHECK_ALL_FAIL(d, -EINVAL, 1);
    gate = 1;
    CHECK_EQ(weft_sleep(0.001), 0);

    /* Await of a failed task: consumed as well (its message was handed
     * over, the handle gives nothing more). */
    REQUIRE(weft_spawn(fail_io, I2P(5), &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -EIO);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "failed 5") == 0);
    CHECK_ALL_FAIL(t, -EINVAL, 1);
    CHECK_EQ(weft_yield(), 0);
    CHECK_ALL_FAIL(t, -EINVAL, 1);
    /* The refused awaits replaced it with why they were refused. */
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strstr(weft_errmsg(), "already awaited") != NULL);
    return NULL;
}

/* Stale handles whose slot a newer task now holds. */
static void *main_stale(void *arg)
{
    (void)arg;
    weft_task *stale[8];
    /* Spawn and await in a loop: each new task takes a freed slot. */
    for (int round = 0; round < 100; round++) {
        weft_task *t;
        REQUIRE(weft_spawn(ret_arg, I2P(round), &t) == 0);
        void *r = NULL;
        CHECK_EQ(weft_await(t, &r), 0);
        CHECK_EQ(P2I(r), round);
        if (round < 8)
            stale[round] = t;
    }
    /* Detached ones go stale too. */
    weft_task *stale_detached;
    REQUIRE(weft_spawn(ret_arg, NULL, &stale_detached) == 0);
    CHECK_EQ(weft_task_detach(stale_detached), 0);
    CHECK_EQ(weft_yield(), 0);

    /* Newer tasks, alive (waiting at a gate) and named, fill the freed
     * slots. */
    gate = 0;
    enum { NEWER = 16 };
    weft_task *newer[NEWER];
    weft_spawn_opts o = {.name = "newer"};
    for (int i = 0; i < NEWER; i++)
        REQUIRE(weft_spawn_ex(wait_gate, I2P(100 + i), &o, &newer[i]) == 0);
    CHECK_EQ(weft_yield(), 0); /* they are running now */

    /* The slots really are shared: a handle's low 24 bits are its slot
     * (src/task.c), and the first stale handle's slot is among the newer
     * tasks'.  (A sanity check of the setup, not of the contract.) */
    int shared = 0;
    for (int i = 0; i < NEWER; i++)
        if (((uintptr_t)newer[i] & 0xffffff) ==
            ((uintptr_t)stale[0] & 0xffffff))
            shared = 1;
    CHECK(shared);

    for (int i = 0; i < 8; i++)
        CHECK_ALL_FAIL(stale[i], -EINVAL, 1);
    CHECK_ALL_FAIL(stale_detached, -EINVAL, 1);

    /* The newer tasks are untouched: not cancelled, not detached, not
     * consumed, still running, still named. */
    for (int i = 0; i < NEWER; i++) {
        CHECK_EQ(weft_task_done(newer[i]), 0);
        const char *n = weft_task_name(newer[i]);
        REQUIRE(n != NULL);
        CHECK(strcmp(n, "newer") == 0);
    }
    gate = 1;
    for (int i = 0; i < NEWER; i++) {
        void *r = NULL;
        CHECK_EQ(weft_await(newer[i], &r), 0);
        CHECK_EQ(P2I(r), 100 + i);
    }
    /* And now these are stale in turn, including for tasks that finished
     * and whose slots were taken again. */
    weft_task *t;
    REQUIRE(weft_spawn(ret_arg, I2P(7), &t) == 0);
    for (int i = 0; i < NEWER; i++)
        CHECK_ALL_FAIL(newer[i], -EINVAL, 1);
    void *r = NULL;
    CHECK_EQ(weft_task_done(t), 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 7);
    return NULL;
}

/* ---- NULL and garbage values ----------------------------------------------
 */

static void *main_null_garbage(void *arg)
{
    (void)arg;
    CHECK_ALL_FAIL(NULL, -EINVAL, 1);

    /* Many live tasks, so that the slots garbage values point at exist:
     * some running (waiting at the gate), the rest not started yet. */
    enum { LIVE = 5000, RUNNING = 100 };
    static weft_task *live[LIVE];
    gate = 0;
    for (int i = 0; i < RUNNING; i++)
        REQUIRE(weft_spawn(wait_gate, I2P(i), &live[i]) == 0);
    CHECK_EQ(weft_yield(), 0); /* these are running, at the gate */
    for (int i = RUNNING; i < LIVE; i++)
        REQUIRE(weft_spawn(wait_gate, I2P(i), &live[i]) == 0);

    weft_task *garbage[] = {
        (weft_task *)(uintptr_t)0x1234,
        (weft_task *)~(uintptr_t)0,
        (weft_task *)(uintptr_t)1,
        (weft_task *)(uintptr_t)0xdeadbeef,
        (weft_task *)(uintptr_t)0x7fffffffffffffffull,
        (weft_task *)(uintptr_t)0x8000000000000000ull,
        (weft_task *)&gate,
        /* Near misses: a live handle with a high bit flipped. */
        (weft_task *)((uintptr_t)live[100] ^ ((uintptr_t)1 << 63)),
        (weft_task *)((uintptr_t)live[100] ^ ((uintptr_t)1 << 50)),
        (weft_task *)((uintptr_t)live[0x1234] ^ ((uintptr_t)1 << 40)),
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        check_garbage(garbage[i]);

    /* Nobody was disturbed. */
    gate = 1;
    long bad = 0;
    for (int i = 0; i < LIVE; i++) {
        void *r = NULL;
        if (weft_await(live[i], &r) != 0 || P2I(r) != i)
            bad++;
    }
    CHECK_EQ(bad, 0);
    return NULL;
}

/* ---- borrowed handles and awaiting oneself ----------------------------------
 */

static weft_task *published;
static int self_tried;

static void *await_self_owned(void *arg)
{
    (void)arg;
    /* The owner published our own (owned) handle: awaiting it would wait
     * forever. */
    YIELD_UNTIL(published);
    void *r = SENTINEL;
    CHECK_EQ(weft_await(published, &r), -EDEADLK);
    CHECK(r == SENTINEL);
    CHECK_EQ(weft_task_done(published), 0); /* not consumed */
    self_tried = 1;
    return I2P(31);
}

static void *main_self(void *arg)
{
    (void)arg;
    weft_task *me = weft_current();
    REQUIRE(me != NULL);

    /* weft_current() gives a borrowed handle: it cannot be consumed.  The
     * header lists awaiting oneself as -EDEADLK, but with a borrowed handle
     * the refusal comes first: -EINVAL, as for any consume of a handle one
     * does not own. */
    void *r = SENTINEL;
    CHECK_EQ(weft_await(me, &r), -EINVAL);
    CHECK_EQ(weft_await(weft_current(), NULL), -EINVAL);
    CHECK_EQ(weft_task_detach(me), -EINVAL);
    CHECK(r == SENTINEL);
    /* Not consumed or changed: the non-consuming calls still work. */
    CHECK_EQ(weft_task_done(me), 0);
    CHECK_EQ(weft_task_result(me, &r), -EAGAIN);
    CHECK(r == SENTINEL);
    CHECK(weft_task_message(me) == NULL);
    const char *n = weft_task_name(me);
    REQUIRE(n != NULL);
    CHECK(strcmp(n, "main") == 0);
    CHECK_EQ(weft_cancelled(), 0);
    CHECK_EQ(weft_yield(), 0);

    /* The same from a task of our own. */
    published = NULL;
    self_tried = 0;
    weft_task *t;
    REQUIRE(weft_spawn(await_self_owned, NULL, &t) == 0);
    published = t;
    /* Our await would consume the handle: wait until the task has tried. */
    YIELD_UNTIL(self_tried);
    r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 31);
    published = NULL;
    return NULL;
}

/* A borrowed handle of a task that has finished, then whose slot was
 * reused: refused. */
static weft_task *borrowed_out;

static void *leak_borrowed(void *arg)
{
    (void)arg;
    borrowed_out = weft_current();
    return NULL;
}

static void *main_borrowed_stale(void *arg)
{
    (void)arg;
    weft_task *t, *u;
    REQUIRE(weft_spawn(leak_borrowed, NULL, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    REQUIRE(borrowed_out != NULL);
    gate = 0;
    REQUIRE(weft_spawn(wait_gate, I2P(8), &u) == 0); /* takes the slot */
    CHECK_EQ(weft_yield(), 0);
    CHECK_ALL_FAIL(borrowed_out, -EINVAL, 1);
    CHECK_EQ(weft_task_done(u), 0);
    gate = 1;
    void *r = NULL;
    CHECK_EQ(weft_await(u, &r), 0);
    CHECK_EQ(P2I(r), 8);
    return NULL;
}

/* ---- await cycles
 * ------------------------------------------------------------ */

/* Each member of a cycle awaits the next one's handle; the last member
 * awaits the first, closing the cycle. */
#define CYCLE_MAX 4

struct cycle {
    int n;
    weft_task *h[CYCLE_MAX];
    int ready;     /* handles published */
    int awaiting;  /* members now inside weft_await */
    int last_rc;   /* the closing await's return */
    int last_done; /* the last member after its failed await */
    void *last_r;
};

static struct cycle cyc;

static void *cycle_member(void *arg)
{
    int i = (int)P2I(arg);
    YIELD_UNTIL(cyc.ready);
    if (i < cyc.n - 1) {
        /* Wait for the members after us to be inside their awaits, so that
         * the chain is complete when the last one closes it. */
        cyc.awaiting++;
        void *r = NULL;
        int rc = weft_await(cyc.h[i + 1], &r);
        CHECK_EQ(rc, 0);
        CHECK_EQ(P2I(r), 1000 + i + 1);
        return I2P(1000 + i);
    }
    /* The last one: everybody else is waiting (a yield lets the last of
     * them enter its await). */
    YIELD_UNTIL(cyc.awaiting >= cyc.n - 1);
    CHECK_EQ(weft_yield(), 0);
    cyc.last_r = SENTINEL;
    cyc.last_rc = weft_await(cyc.h[0], &cyc.last_r);
    /* The handle was not consumed: still usable. */
    cyc.last_done = weft_task_done(cyc.h[0]);
    return I2P(1000 + i);
}

static void *main_cycle(void *arg)
{
    int n = (int)P2I(arg);
    memset(&cyc, 0, sizeof cyc);
    cyc.n = n;
    cyc.last_rc = 1;
    cyc.last_done = -1;
    for (int i = 0; i < n; i++)
        REQUIRE(weft_spawn(cycle_member, I2P(i), &cyc.h[i]) == 0);
    /* Members 0..n-2 consume h[1..n-1]; the last member uses h[0], which
     * stays ours: we await it once the cycle has been broken. */
    cyc.ready = 1;
    for (int i = 0; i < 1000 && weft_task_done(cyc.h[0]) != 1; i++)
        CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(cyc.last_rc, -EDEADLK);
    CHECK(cyc.last_r == SENTINEL);
    CHECK_EQ(cyc.last_done, 0);
    void *r = NULL;
    CHECK_EQ(weft_await(cyc.h[0], &r), 0); /* B's failed await left it ours */
    CHECK_EQ(P2I(r), 1000);
    return NULL;
}

/* ---- other threads --------------------------------------------------------
 */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static weft_task *xh; /* the handle passed between the loops */
static int xstage;    /* 0 nothing, 1 handle published, 2 checks done */
static int xrelease;  /* loop 1's own flag for its task */

static int get_stage(void)
{
    pthread_mutex_lock(&mu);
    int s = xstage;
    pthread_mutex_unlock(&mu);
    return s;
}

static void set_stage(int s)
{
    pthread_mutex_lock(&mu);
    xstage = s;
    pthread_mutex_unlock(&mu);
}

/* Waits (letting the loop run) until the stage is reached; false after
 * 20 seconds. */
static int wait_stage(int s)
{
    double end = weft_now() + 20.0;
    while (get_stage() < s) {
        if (weft_now() > end || weft_sleep(0.0005) != 0)
            return 0;
    }
    return 1;
}

static void *held_task(void *arg)
{
    SLEEP_UNTIL(xrelease);
    CHECK_EQ(weft_cancelled(), 0);
    return arg;
}

/* Loop 1: owns a task, lends its handle to loop 2, then awaits it. */
static void *loop1_main(void *arg)
{
    (void)arg;
    xrelease = 0;
    weft_task *t;
    weft_spawn_opts o = {.name = "held"};
    REQUIRE(weft_spawn_ex(held_task, I2P(55), &o, &t) == 0);
    CHECK_EQ(weft_yield(), 0);
    pthread_mutex_lock(&mu);
    xh = t;
    xstage = 1;
    pthread_mutex_unlock(&mu);
    REQUIRE(wait_stage(2));
    /* Loop 2's attempts changed nothing. */
    CHECK_EQ(weft_task_done(t), 0);
    const char *n = weft_task_name(t);
    REQUIRE(n != NULL);
    CHECK(strcmp(n, "held") == 0);
    xrelease = 1;
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 55);
    return NULL;
}

static int other_gate;

static void *other_wait(void *arg)
{
    SLEEP_UNTIL(other_gate);
    CHECK_EQ(weft_cancelled(), 0);
    return arg;
}

/* Loop 2: has a task of its own in the same slot as loop 1's task, then
 * tries loop 1's handle. */
static void *loop2_main(void *arg)
{
    (void)arg;
    other_gate = 0;
    weft_task *mine;
    REQUIRE(weft_spawn(other_wait, I2P(66), &mine) == 0);
    CHECK_EQ(weft_yield(), 0);
    REQUIRE(wait_stage(1));
    pthread_mutex_lock(&mu);
    weft_task *h = xh;
    pthread_mutex_unlock(&mu);
    CHECK_ALL_FAIL(h, -EPERM, 1);
    CHECK_EQ(weft_task_done(mine), 0);
    set_stage(2);
    other_gate = 1;
    void *r = NULL;
    CHECK_EQ(weft_await(mine, &r), 0);
    CHECK_EQ(P2I(r), 66);
    return NULL;
}

static void *run_loop_thread(void *arg)
{
    CHECK_EQ(weft_run(P2I(arg) == 1 ? loop1_main : loop2_main, NULL, NULL), 0);
    return NULL;
}

static void case_two_loops(void *arg)
{
    (void)arg;
    xh = NULL;
    xstage = 0;
    pthread_t a, b;
    REQUIRE(pthread_create(&a, NULL, run_loop_thread, I2P(1)) == 0);
    REQUIRE(pthread_create(&b, NULL, run_loop_thread, I2P(2)) == 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_EQ(xstage, 2);
}

/* A plain thread (no loop) given a live handle. */
static void *plain_thread(void *arg)
{
    weft_task *h = arg;
    CHECK_ALL_FAIL(h, -EPERM, 1);
    CHECK(weft_current() == NULL);
    return NULL;
}

static void *main_plain_thread(void *arg)
{
    (void)arg;
    gate = 0;
    weft_task *t;
    REQUIRE(weft_spawn(wait_gate, I2P(77), &t) == 0);
    CHECK_EQ(weft_yield(), 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, plain_thread, t) == 0);
    pthread_join(th, NULL);
    CHECK_EQ(weft_task_done(t), 0);
    gate = 1;
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 77);
    return NULL;
}

/* ---- after the loop is gone
 * ---------------------------------------------------- */

static weft_task *old_live;    /* never consumed */
static weft_task *old_awaited; /* consumed */

static void *main_leave_handles(void *arg)
{
    (void)arg;
    REQUIRE(weft_spawn(ret_arg, I2P(1), &old_live) == 0);
    REQUIRE(weft_spawn(ret_arg, I2P(2), &old_awaited) == 0);
    CHECK_EQ(weft_await(old_awaited, NULL), 0);
    return NULL;
}

/* A later loop on the same thread: the old handles are not its own. */
static void *main_reuse_old(void *arg)
{
    (void)arg;
    gate = 0;
    weft_task *t;
    REQUIRE(weft_spawn(wait_gate, I2P(9), &t) == 0);
    CHECK_EQ(weft_yield(), 0);
    check_garbage(old_live);
    check_garbage(old_awaited);
    CHECK_EQ(weft_task_done(t), 0);
    gate = 1;
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 9);
    return NULL;
}

static void case_after_run(void *arg)
{
    (void)arg;
    old_live = old_awaited = NULL;
    CHECK_EQ(weft_run(main_leave_handles, NULL, NULL), 0);
    REQUIRE(old_live != NULL && old_awaited != NULL);
    /* No loop on this thread any more. */
    CHECK_EQ(weft_task_done(old_live), -EPERM);
    CHECK_ALL_FAIL(old_live, -EPERM, 1);
    CHECK_ALL_FAIL(old_awaited, -EPERM, 1);
    CHECK_EQ(weft_run(main_reuse_old, NULL, NULL), 0);
}

/* No loop at all: NULL is -EINVAL or -EPERM, garbage the same. */
static void case_no_loop_garbage(void *arg)
{
    (void)arg;
    check_garbage(NULL);
    check_garbage((weft_task *)(uintptr_t)0x1234);
    check_garbage((weft_task *)~(uintptr_t)0);
}

/* null_garbage first, so that its loop is the process's first: garbage
 * values with small numbers then look most like its own handles. */
static const struct check_case_def cases[] = {
    CHECK_PLAIN("no_loop_garbage", case_no_loop_garbage, NULL),
    CHECK_TASK("null_garbage", main_null_garbage, NULL),
    CHECK_TASK("consumed", main_consumed, NULL),
    CHECK_TASK("stale", main_stale, NULL),
    CHECK_TASK("self", main_self, NULL),
    CHECK_TASK("borrowed_stale", main_borrowed_stale, NULL),
    CHECK_TASK("cycle_2", main_cycle, I2P(2)),
    CHECK_TASK("cycle_3", main_cycle, I2P(3)),
    CHECK_TASK("cycle_4", main_cycle, I2P(4)),
    CHECK_PLAIN("two_loops", case_two_loops, NULL),
    CHECK_TASK("plain_thread", main_plain_thread, NULL),
    CHECK_PLAIN("after_run", case_after_run, NULL),
};

int main(void)
{
    check_allow_maps(4 * 4); /* glibc's cached thread stacks and arenas */
    return CHECK_MAIN(cases);
}

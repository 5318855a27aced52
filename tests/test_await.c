/*
 * test_await.c - weft_await, the outcome accessors and weft_fail.
 *
 * Proves that:
 * - weft_await returns the body's result, for a task that has not started
 *   yet, one that is running, one already finished (returning at once,
 *   without letting any other task run) and one at the head of a long chain
 *   of tasks each awaiting the next;
 * - a failed task's await returns its weft_fail code, still hands over what
 *   the body returned (an allocation the awaiter frees), and leaves its
 *   message in weft_errmsg() - valid until the caller's next await, private
 *   to the caller, NULL after an await of a task that succeeded;
 * - weft_task_done / weft_task_result / weft_task_message report the
 *   outcome before (0, -EAGAIN, NULL) and after the task finishes, as often
 *   as asked, without consuming the handle;
 * - errno is each task's own across weft_await and weft_sleep;
 * - weft_fail records out-of-range codes as -EINVAL, a NULL fmt as no
 *   message, and a second call replaces the first.
 */
#include "check.h"

#include "coro/sanitize.h"

#include <errno.h>
#include <limits.h>
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

static void *ret_arg(void *arg)
{
    return arg;
}

/* ---- results --------------------------------------------------------------
 */

static void *sleep_then_ret(void *arg)
{
    CHECK_EQ(weft_sleep(0.002), 0);
    return arg;
}

static int started;

static void *note_start(void *arg)
{
    started = 1;
    return arg;
}

static void *main_results(void *arg)
{
    (void)arg;
    weft_task *t;
    void *r = NULL;

    /* A task that suspends on the way. */
    REQUIRE(weft_spawn(sleep_then_ret, I2P(42), &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 42);
    CHECK(weft_errmsg() == NULL);

    /* result may be NULL. */
    REQUIRE(weft_spawn(ret_arg, I2P(1), &t) == 0);
    CHECK_EQ(weft_await(t, NULL), 0);

    /* A NULL result is a result. */
    r = I2P(5);
    REQUIRE(weft_spawn(ret_arg, NULL, &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK(r == NULL);

    /* Not started yet when awaited. */
    started = 0;
    REQUIRE(weft_spawn(note_start, I2P(7), &t) == 0);
    CHECK_EQ(started, 0);
    r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(started, 1);
    CHECK_EQ(P2I(r), 7);

    /* Not started, with a name (it has a record from the start). */
    started = 0;
    weft_spawn_opts o = {.name = "named"};
    REQUIRE(weft_spawn_ex(note_start, I2P(8), &o, &t) == 0);
    CHECK_EQ(started, 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 8);

    /* A pointer result comes back as is. */
    static int cell;
    REQUIRE(weft_spawn(ret_arg, &cell, &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK(r == &cell);
    return NULL;
}

/* ---- failures and messages
 * --------------------------------------------------- */

/* Returns a malloc'd payload and fails. */
static void *fail_with_payload(void *arg)
{
    char *p = malloc(16);
    REQUIRE(p != NULL);
    snprintf(p, 16, "payload-%d", (int)P2I(arg));
    CHECK(weft_fail(-EIO, "bad block %d", (int)P2I(arg)) == NULL);
    return p;
}

static void *fail_plain(void *arg)
{
    return weft_fail((int)P2I(arg), "failed with %d", (int)P2I(arg));
}

static void *fail_no_message(void *arg)
{
    (void)arg;
    weft_fail(-ENOENT, NULL);
    return I2P(9);
}

/* Keeps awaiting failing tasks of its own, so that its messages come and go
 * while main holds on to its own message. */
static void *await_failures(void *arg)
{
    int n = (int)P2I(arg);
    for (int i = 0; i < n; i++) {
        weft_task *t;
        REQUIRE(weft_spawn(fail_plain, I2P(-EPIPE), &t) == 0);
        CHECK_EQ(weft_await(t, NULL), -EPIPE);
        const char *m = weft_errmsg();
        REQUIRE(m != NULL);
        CHECK(strcmp(m, "failed with -32") == 0);
        CHECK_EQ(weft_yield(), 0);
    }
    return NULL;
}

static void *main_failures(void *arg)
{
    (void)arg;
    CHECK(weft_errmsg() == NULL); /* nothing awaited yet */

    weft_task *t, *other;
    REQUIRE(weft_spawn(fail_with_payload, I2P(3), &t) == 0);
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), -EIO);
    REQUIRE(r != NULL);
    CHECK(strcmp(r, "payload-3") == 0);
    free(r);
    const char *m = weft_errmsg();
    REQUIRE(m != NULL);
    CHECK(strcmp(m, "bad block 3") == 0);

    /* Still valid (the same string) while other tasks run and await and
     * fail, until our own next await. */
    REQUIRE(weft_spawn(await_failures, I2P(5), &other) == 0);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(weft_yield(), 0);
        CHECK(weft_errmsg() == m);
        CHECK(strcmp(m, "bad block 3") == 0);
    }
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK(weft_errmsg() == m);
    CHECK(strcmp(m, "bad block 3") == 0);

    /* Our next await replaces it: another failure's message... */
    CHECK_EQ(weft_await(other, NULL), 0); /* succeeded: no message */
    CHECK(weft_errmsg() == NULL);
    REQUIRE(weft_spawn(fail_plain, I2P(-EACCES), &t) == 0);
    CHECK_EQ(weft_await(t, &r), -EACCES);
    CHECK(r == NULL);
    m = weft_errmsg();
    REQUIRE(m != NULL);
    CHECK(strcmp(m, "failed with -13") == 0);

    /* ...a failure without a message gives none... */
    REQUIRE(weft_spawn(fail_no_message, NULL, &t) == 0);
    CHECK_EQ(weft_await(t, &r), -ENOENT);
    CHECK_EQ(P2I(r), 9);
    CHECK(weft_errmsg() == NULL);

    /* ...and a success clears it. */
    REQUIRE(weft_spawn(fail_plain, I2P(-EIO), &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -EIO);
    CHECK(weft_errmsg() != NULL);
    REQUIRE(weft_spawn(ret_arg, I2P(1), &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 1);
    CHECK(weft_errmsg() == NULL);

    /* An await of an already finished failed task gives its message too. */
    REQUIRE(weft_spawn(fail_plain, I2P(-EROFS), &t) == 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_task_done(t), 1);
    CHECK_EQ(weft_await(t, NULL), -EROFS);
    m = weft_errmsg();
    REQUIRE(m != NULL);
    CHECK(strcmp(m, "failed with -30") == 0);
    return NULL;
}

/* ---- await of an already finished task returns at once --------------------
 */

static long progress;
static int stop_progress;

static void *make_progress(void *arg)
{
    (void)arg;
    while (!stop_progress) {
        progress++;
        int rc = weft_yield();
        if (rc) {
            CHECK_EQ(rc, 0);
            break;
        }
    }
    return NULL;
}

static void *main_await_done(void *arg)
{
    (void)arg;
    progress = 0;
    stop_progress = 0;
    weft_task *p, *t;
    REQUIRE(weft_spawn(make_progress, NULL, &p) == 0);
    REQUIRE(weft_spawn(ret_arg, I2P(21), &t) == 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK(progress >= 1);
    CHECK_EQ(weft_task_done(t), 1);

    long before = progress;
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 21);
    CHECK_EQ(progress, before); /* nobody else ran: we did not suspend */

    /* The same for a finished task that failed, and for an eager task that
     * finished inside its spawn. */
    REQUIRE(weft_spawn(fail_plain, I2P(-EIO), &t) == 0);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_task_done(t), 1);
    before = progress;
    CHECK_EQ(weft_await(t, NULL), -EIO);
    CHECK_EQ(progress, before);

    weft_spawn_opts eager = {.flags = WEFT_SPAWN_EAGER};
    before = progress;
    REQUIRE(weft_spawn_ex(ret_arg, I2P(22), &eager, &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 22);
    CHECK_EQ(progress, before);

    /* By contrast, awaiting an unfinished task lets the others run. */
    REQUIRE(weft_spawn(ret_arg, I2P(23), &t) == 0);
    before = progress;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 23);
    CHECK(progress > before);

    stop_progress = 1;
    CHECK_EQ(weft_await(p, NULL), 0);
    return NULL;
}

/* ---- chains: a task awaiting a task that is awaiting another ---------------
 */

static long chain_started;
static int chain_release;

static void *chain_link(void *arg)
{
    long depth = P2I(arg);
    chain_started++;
    if (depth == 0) {
        YIELD_UNTIL(chain_release);
        return I2P(0);
    }
    weft_task *t;
    REQUIRE(weft_spawn(chain_link, I2P(depth - 1), &t) == 0);
    void *r = NULL;
    int rc = weft_await(t, &r);
    if (rc)
        return weft_fail(rc, "link %ld: %d", depth, rc);
    return I2P(P2I(r) + 1);
}

/* The chain's head is awaited once every link is waiting for the next. */
static void *main_chain(void *arg)
{
    long depth = P2I(arg);
    chain_started = 0;
    chain_release = 0;
    weft_task *t;
    REQUIRE(weft_spawn(chain_link, I2P(depth), &t) == 0);
    for (long i = 0; i < 4 * depth + 100 && chain_started < depth + 1; i++)
        CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(chain_started, depth + 1);
    CHECK_EQ(weft_task_done(t), 0);
    chain_release = 1;
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), depth);
    if (weft_errmsg())
        fprintf(stderr, "chain: %s\n", weft_errmsg());
    return NULL;
}

/* ---- done / result / message without consuming -----------------------------
 */

static int release_gate;

static void *gated_fail(void *arg)
{
    YIELD_UNTIL(release_gate);
    weft_fail(-ENOENT, "gone %s", "away");
    return arg;
}

static void *gated_ok(void *arg)
{
    YIELD_UNTIL(release_gate);
    return arg;
}

static void *main_accessors(void *arg)
{
    (void)arg;
    release_gate = 0;
    weft_task *f, *g;
    REQUIRE(weft_spawn(gated_fail, I2P(5), &f) == 0);
    REQUIRE(weft_spawn(gated_ok, I2P(6), &g) == 0);

    /* Not started. */
    void *r = NULL;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(weft_task_done(f), 0);
        CHECK_EQ(weft_task_result(f, &r), -EAGAIN);
        CHECK_EQ(weft_task_result(f, NULL), -EAGAIN);
        CHECK(weft_task_message(f) == NULL);
    }
    /* Started, waiting. */
    CHECK_EQ(weft_yield(), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(weft_task_done(f), 0);
        CHECK_EQ(weft_task_result(f, &r), -EAGAIN);
        CHECK(weft_task_message(f) == NULL);
        CHECK_EQ(weft_task_done(g), 0);
        CHECK_EQ(weft_task_result(g, &r), -EAGAIN);
    }

    release_gate = 1;
    for (int i = 0; i < 100 && !(weft_task_done(f) && weft_task_done(g)); i++)
        CHECK_EQ(weft_yield(), 0);

    /* Finished: the same answers every time. */
    const char *m0 = weft_task_message(f);
    REQUIRE(m0 != NULL);
    CHECK(strcmp(m0, "gone away") == 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(weft_task_done(f), 1);
        r = NULL;
        CHECK_EQ(weft_task_result(f, &r), -ENOENT);
        CHECK_EQ(P2I(r), 5);
        CHECK_EQ(weft_task_result(f, NULL), -ENOENT);
        CHECK(weft_task_message(f) == m0);
        CHECK_EQ(weft_task_done(g), 1);
        r = NULL;
        CHECK_EQ(weft_task_result(g, &r), 0);
        CHECK_EQ(P2I(r), 6);
        CHECK(weft_task_message(g) == NULL);
    }
    /* Asking did not consume: the awaits still get everything. */
    r = NULL;
    CHECK_EQ(weft_await(f, &r), -ENOENT);
    CHECK_EQ(P2I(r), 5);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "gone away") == 0);
    r = NULL;
    CHECK_EQ(weft_await(g, &r), 0);
    CHECK_EQ(P2I(r), 6);
    CHECK(weft_errmsg() == NULL);
    return NULL;
}

/* ---- errno belongs to each task
 * ---------------------------------------------- */

static void *clobber_errno(void *arg)
{
    errno = (int)P2I(arg);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(errno, (int)P2I(arg));
    errno = (int)P2I(arg) + 1;
    return weft_fail(-EIO, "clobbered");
}

static void *errno_keeper(void *arg)
{
    int mine = (int)P2I(arg);
    errno = mine;
    int bad = 0;
    for (int i = 0; i < 20; i++) {
        /* Sleep (a timer), yield (the ready queue) and await (another task
         * that sets errno itself, finished or not) with the other keeper
         * running in between. */
        if (weft_sleep(0.0002) != 0 || errno != mine)
            bad++;
        if (weft_yield() != 0 || errno != mine)
            bad++;
        weft_task *t;
        REQUIRE(weft_spawn(clobber_errno, I2P(mine + 100 + i), &t) == 0);
        if (weft_await(t, NULL) != -EIO || errno != mine)
            bad++;
        REQUIRE(weft_spawn(clobber_errno, I2P(mine + 200 + i), &t) == 0);
        errno = mine;
        if (weft_yield() != 0 || errno != mine)
            bad++;
        if (weft_sleep(0.0002) != 0 || errno != mine)
            bad++;
        if (weft_await(t, NULL) != -EIO || errno != mine) /* finished */
            bad++;
    }
    return I2P(bad);
}

static void *main_errno(void *arg)
{
    (void)arg;
    weft_task *a, *b;
    REQUIRE(weft_spawn(errno_keeper, I2P(1001), &a) == 0);
    REQUIRE(weft_spawn(errno_keeper, I2P(2002), &b) == 0);
    errno = 3003;
    void *r = I2P(-1);
    CHECK_EQ(weft_await(a, &r), 0);
    CHECK_EQ(P2I(r), 0);
    CHECK_EQ(errno, 3003);
    r = I2P(-1);
    CHECK_EQ(weft_await(b, &r), 0);
    CHECK_EQ(P2I(r), 0);
    CHECK_EQ(errno, 3003);
    return NULL;
}

/* ---- weft_fail codes and messages
 * ---------------------------------------------- */

struct fail_case {
    int err;
    const char *fmt; /* NULL: no message */
    int want;
};

static void *fail_as(void *arg)
{
    const struct fail_case *c = arg;
    if (c->fmt)
        CHECK(weft_fail(c->err, "%s", c->fmt) == NULL);
    else
        CHECK(weft_fail(c->err, NULL) == NULL);
    return I2P(c->want);
}

static void *fail_twice(void *arg)
{
    int variant = (int)P2I(arg);
    weft_fail(-EIO, "first %d", 1);
    if (variant == 0)
        weft_fail(-ENOENT, "second %d", 2);
    else if (variant == 1)
        weft_fail(-ENOENT, NULL); /* replaces the message too */
    else
        weft_fail(0, "second %d", 2); /* out of range: -EINVAL */
    CHECK_EQ(weft_yield(), 0);        /* takes effect at return, not before */
    return I2P(variant);
}

static void *main_fail_codes(void *arg)
{
    (void)arg;
    static const struct fail_case cases[] = {
        {-EIO, "io", -EIO},
        {-1, "one", -1},
        {-4095, "lowest", -4095},
        {-4096, "too low", -EINVAL},
        {-5000, "minus 5000", -EINVAL},
        {INT_MIN, "int min", -EINVAL},
        {0, "zero", -EINVAL},
        {1, "positive", -EINVAL},
        {EIO, "positive errno", -EINVAL},
        {INT_MAX, "int max", -EINVAL},
        {-EIO, NULL, -EIO},
        {0, NULL, -EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct fail_case *c = &cases[i];
        weft_task *t;
        REQUIRE(weft_spawn(fail_as, (void *)c, &t) == 0);
        CHECK_EQ(weft_yield(), 0);
        REQUIRE(weft_task_done(t) == 1);
        CHECK_EQ(weft_task_result(t, NULL), c->want);
        const char *tm = weft_task_message(t);
        if (c->fmt) {
            REQUIRE(tm != NULL);
            CHECK(strcmp(tm, c->fmt) == 0);
        } else {
            CHECK(tm == NULL);
        }
        void *r = NULL;
        int rc = weft_await(t, &r);
        if (rc != c->want)
            fprintf(stderr, "weft_fail(%d): await gave %d, want %d\n", c->err,
                    rc, c->want);
        CHECK_EQ(rc, c->want);
        CHECK_EQ(P2I(r), c->want); /* the body's result is still handed over */
        const char *m = weft_errmsg();
        if (c->fmt) {
            REQUIRE(m != NULL);
            CHECK(strcmp(m, c->fmt) == 0);
        } else {
            CHECK(m == NULL);
        }
    }

    /* A second weft_fail replaces the first: code and message. */
    weft_task *t;
    void *r = NULL;
    REQUIRE(weft_spawn(fail_twice, I2P(0), &t) == 0);
    CHECK_EQ(weft_await(t, &r), -ENOENT);
    CHECK_EQ(P2I(r), 0);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "second 2") == 0);

    REQUIRE(weft_spawn(fail_twice, I2P(1), &t) == 0);
    CHECK_EQ(weft_await(t, &r), -ENOENT);
    CHECK_EQ(P2I(r), 1);
    CHECK(weft_errmsg() == NULL);

    REQUIRE(weft_spawn(fail_twice, I2P(2), &t) == 0);
    CHECK_EQ(weft_await(t, &r), -EINVAL);
    CHECK_EQ(P2I(r), 2);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "second 2") == 0);
    return NULL;
}

static void case_chain(void *arg)
{
    (void)arg;
    /* ThreadSanitizer gives every started task a fiber of its own, allows
     * 8128 of them at once, and creates them slowly: a shorter chain. */
    long depth = check_scaled(WEFT_TSAN ? 1000 : 10000);
    CHECK_EQ(weft_run(main_chain, I2P(depth), NULL), 0);
}

static const struct check_case_def cases[] = {
    CHECK_TASK("results", main_results, NULL),
    CHECK_TASK("failures", main_failures, NULL),
    CHECK_TASK("await_done", main_await_done, NULL),
    CHECK_PLAIN("chain", case_chain, NULL),
    CHECK_TASK("chain_1", main_chain, I2P(1)),
    CHECK_TASK("accessors", main_accessors, NULL),
    CHECK_TASK("errno", main_errno, NULL),
    CHECK_TASK("fail_codes", main_fail_codes, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

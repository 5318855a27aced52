/*
 * test_gather.c - weft_gather and already-completed tasks.
 *
 * Proves that weft_gather:
 * - fills results and errors in submission order, not completion order;
 * - returns 0 at once for an empty set, without suspending;
 * - by default returns the first error in completion order (a later array
 *   entry that fails first wins), with its message in weft_errmsg(), and
 *   cancels the other tasks and joins them - their cleanup, even a shielded
 *   one that suspends, has run before weft_gather returns - filling every
 *   slot (cancelled siblings: -ECANCELED, and what their bodies returned);
 * - with WEFT_GATHER_RETURN_ERRORS cancels nothing, reports each task's own
 *   error in its slot and returns 0; a task cancelled by someone else then
 *   reports -ECANCELED in its slot;
 * - when the gathering task is cancelled (before or during the gather),
 *   cancels and joins the children and returns -ECANCELED; also when the
 *   children finish in the same loop turn as the cancellation, on either
 *   side of it (asyncio's gather/cancel race);
 * - consumes the handles (reuse gives -EINVAL) once past its checks, and on
 *   invalid input (NULL, consumed, repeated or borrowed handle, unknown
 *   flag) returns -EINVAL consuming nothing: the handles await fine later;
 * - refuses to gather the caller itself or a task awaiting it, directly or
 *   through a gather (-EDEADLK, nothing consumed); weft_await likewise
 *   refuses a task that is gathering the caller;
 * - accepts NULL results/errors, already-completed and already-failed tasks
 *   (weft_task_completed, weft_task_failed) and mixtures of them with live
 *   tasks;
 * - cancelled from the top of a tree of nested gathers (and an await),
 *   cancels and joins the whole tree; cancelling the head of a deep chain
 *   (thousands of links, each awaiting or gathering the next) from a task
 *   reaches the whole chain without running out of stack;
 * - gathers check_scaled(100000) tasks.
 */
#define _GNU_SOURCE
#include "check.h"

#include "coro/sanitize.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SENT_R ((void *)(intptr_t)0x5a5a)
#define SENT_E 12345

static void fill(void **res, int *err, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (res)
            res[i] = SENT_R;
        if (err)
            err[i] = SENT_E;
    }
}

static void *ret_arg(void *arg)
{
    return arg;
}

static void *fail_eio(void *arg)
{
    (void)arg;
    return weft_fail(-EIO, "eio from a task");
}

/* Sleeps until cancelled, then (shielded) suspends once more before it
 * records that its cleanup ran: a gather that did not join its children
 * would return before the write. */
static void *sleep_then_cleanup(void *arg)
{
    int *cleaned = arg;
    int rc = weft_sleep(INFINITY);
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_sleep(0.002), 0);
    CHECK_EQ(weft_shield_end(), 0);
    *cleaned = rc == -ECANCELED ? 1 : -1;
    return I2P(77);
}

/* ---- results in submission order ---- */

#define ORDER_N 8
static int order_seen[ORDER_N], order_pos, order_arrived;
static double order_base, order_step;

static void *order_child(void *arg)
{
    intptr_t i = P2I(arg);
    /* Once all have started, the last sets the deadlines: task i wakes at
     * base + (N - i) steps, so they finish in reverse order however long
     * starting them took. */
    if (++order_arrived == ORDER_N)
        order_base = weft_now() + order_step;
    while (order_arrived < ORDER_N)
        weft_yield();
    double until = order_base + (double)(ORDER_N - i) * order_step;
    double left = until - weft_now();
    CHECK_EQ(weft_sleep(left > 0 ? left : 0), 0);
    order_seen[order_pos++] = (int)i;
    return I2P(i * 10 + 1);
}

static void *main_order(void *arg)
{
    unsigned flags = (unsigned)P2I(arg);
    weft_task *t[ORDER_N];
    void *res[ORDER_N];
    int err[ORDER_N];
    order_pos = order_arrived = 0;
    order_step = check_slow_env() ? 0.01 : 0.003;
    for (int i = 0; i < ORDER_N; i++)
        REQUIRE(weft_spawn(order_child, I2P(i), &t[i]) == 0);
    fill(res, err, ORDER_N);
    CHECK_EQ(weft_gather(t, ORDER_N, res, err, flags), 0);
    for (int i = 0; i < ORDER_N; i++) {
        CHECK_EQ(P2I(res[i]), i * 10 + 1);
        CHECK_EQ(err[i], 0);
    }
    /* They really finished out of order: in reverse (a heavily loaded
     * machine under a sanitizer may oversleep a step, so there only
     * "not in submission order" is required). */
    CHECK_EQ(order_pos, ORDER_N);
    int inversions = 0;
    for (int k = 1; k < ORDER_N; k++)
        inversions += order_seen[k] < order_seen[k - 1];
    if (check_slow_env())
        CHECK(inversions > 0);
    else
        CHECK_EQ(inversions, ORDER_N - 1);
    CHECK(weft_errmsg() == NULL);
    return NULL;
}

/* ---- empty set ---- */

static int empty_flag;

static void *set_empty_flag(void *arg)
{
    (void)arg;
    empty_flag = 1;
    return NULL;
}

static void *main_empty(void *arg)
{
    (void)arg;
    weft_task *t, *none[1] = {NULL};
    empty_flag = 0;
    REQUIRE(weft_spawn(set_empty_flag, NULL, &t) == 0);
    CHECK_EQ(weft_gather(NULL, 0, NULL, NULL, 0), 0);
    CHECK_EQ(weft_gather(NULL, 0, NULL, NULL, WEFT_GATHER_RETURN_ERRORS), 0);
    CHECK_EQ(weft_gather(none, 0, NULL, NULL, 0), 0);
    CHECK_EQ(empty_flag, 0); /* nothing suspended: the ready task never ran */
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(empty_flag, 1);
    return NULL;
}

/* ---- default mode: first error in completion order ---- */

typedef struct fe_ctx {
    int cleaned[3];
    int sleep_rc[3];
} fe_ctx;

static void *fe_slow_fail(void *arg) /* would fail at 300 ms */
{
    fe_ctx *c = arg;
    c->sleep_rc[0] = weft_sleep(0.3);
    c->cleaned[0] = 1;
    weft_fail(-EIO, "slow failure");
    return I2P(100);
}

static void *fe_fast_fail(void *arg) /* fails at 5 ms */
{
    (void)arg;
    CHECK_EQ(weft_sleep(0.005), 0);
    return weft_fail(-ENOENT, "fast failure %d", 1);
}

static void *fe_forever(void *arg)
{
    fe_ctx *c = arg;
    c->sleep_rc[2] = weft_sleep(INFINITY);
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_sleep(0.003), 0);
    CHECK_EQ(weft_shield_end(), 0);
    c->cleaned[2] = 1;
    return I2P(200);
}

static void *fe_quick_ok(void *arg) /* done long before the first error */
{
    (void)arg;
    CHECK_EQ(weft_yield(), 0);
    return I2P(300);
}

static void *main_first_error(void *arg)
{
    (void)arg;
    fe_ctx c;
    memset(&c, 0, sizeof c);
    c.sleep_rc[0] = c.sleep_rc[2] = SENT_E;
    weft_task *t[4];
    REQUIRE(weft_spawn(fe_slow_fail, &c, &t[0]) == 0);
    REQUIRE(weft_spawn(fe_fast_fail, &c, &t[1]) == 0);
    REQUIRE(weft_spawn(fe_forever, &c, &t[2]) == 0);
    REQUIRE(weft_spawn(fe_quick_ok, &c, &t[3]) == 0);
    void *res[4];
    int err[4];
    fill(res, err, 4);
    double t0 = weft_now();
    CHECK_EQ(weft_gather(t, 4, res, err, 0), -ENOENT);
    CHECK(weft_now() - t0 < 0.25);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "fast failure 1") == 0);
    /* Every sibling was cancelled and joined: cleanups ran already. */
    CHECK_EQ(c.cleaned[0], 1);
    CHECK_EQ(c.cleaned[2], 1);
    CHECK_EQ(c.sleep_rc[0], -ECANCELED);
    CHECK_EQ(c.sleep_rc[2], -ECANCELED);
    /* Every slot filled. */
    CHECK_EQ(err[0], -ECANCELED);
    CHECK_EQ(err[1], -ENOENT);
    CHECK_EQ(err[2], -ECANCELED);
    CHECK_EQ(err[3], 0);
    CHECK_EQ(P2I(res[0]), 100);
    CHECK(res[1] == NULL);
    CHECK_EQ(P2I(res[2]), 200);
    CHECK_EQ(P2I(res[3]), 300);
    /* All consumed. */
    for (int i = 0; i < 4; i++)
        CHECK_EQ(weft_await(t[i], NULL), -EINVAL);
    return NULL;
}

/* ---- WEFT_GATHER_RETURN_ERRORS ---- */

static int re_finished[4];

static void *re_child(void *arg)
{
    intptr_t i = P2I(arg);
    static const double delay[4] = {0.002, 0.005, 0.001, 0.010};
    CHECK_EQ(weft_sleep(delay[i]), 0);
    re_finished[i] = 1;
    if (i == 0)
        return weft_fail(-EIO, "zero");
    if (i == 2)
        return weft_fail(-EPERM, "two");
    return I2P(i * 3);
}

static void *main_return_errors(void *arg)
{
    (void)arg;
    weft_task *t[4];
    memset(re_finished, 0, sizeof re_finished);
    for (int i = 0; i < 4; i++)
        REQUIRE(weft_spawn(re_child, I2P(i), &t[i]) == 0);
    void *res[4];
    int err[4];
    fill(res, err, 4);
    CHECK_EQ(weft_gather(t, 4, res, err, WEFT_GATHER_RETURN_ERRORS), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(re_finished[i], 1); /* nothing cancelled */
    CHECK_EQ(err[0], -EIO);
    CHECK_EQ(err[1], 0);
    CHECK_EQ(err[2], -EPERM);
    CHECK_EQ(err[3], 0);
    CHECK(res[0] == NULL);
    CHECK_EQ(P2I(res[1]), 3);
    CHECK(res[2] == NULL);
    CHECK_EQ(P2I(res[3]), 9);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(weft_task_done(t[i]), -EINVAL);
    return NULL;
}

/* The messages array: every task's weft_fail message, also under
 * RETURN_ERRORS (where weft_errmsg gives none), owned by the caller. */
static void *main_messages_re(void *arg)
{
    (void)arg;
    weft_task *t[4];
    memset(re_finished, 0, sizeof re_finished);
    for (int i = 0; i < 4; i++)
        REQUIRE(weft_spawn(re_child, I2P(i), &t[i]) == 0);
    char *msgs[4] = {"x", "x", "x", "x"};
    int err[4];
    weft_gather_opts o = {.flags = WEFT_GATHER_RETURN_ERRORS, .messages = msgs};
    CHECK_EQ(weft_gather_ex(t, 4, NULL, err, &o), 0);
    CHECK(msgs[0] && strcmp(msgs[0], "zero") == 0);
    CHECK(msgs[1] == NULL);
    CHECK(msgs[2] && strcmp(msgs[2], "two") == 0);
    CHECK(msgs[3] == NULL);
    weft_messages_free(msgs, 4);
    for (int i = 0; i < 4; i++)
        CHECK(msgs[i] == NULL);
    weft_messages_free(NULL, 4);
    return NULL;
}

static void *msg_child(void *arg)
{
    switch (P2I(arg)) {
    case 0:
        return weft_fail(-EIO, "first");
    case 1:
        weft_sleep(1.0); /* cancelled by the failure */
        return NULL;
    default:
        return I2P(7);
    }
}

/* The default mode: the first error's message is in weft_errmsg() and in
 * its entry; a cancelled task has none. */
static void *main_messages_default(void *arg)
{
    (void)arg;
    weft_task *t[3];
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_spawn(msg_child, I2P(i), &t[i]) == 0);
    char *msgs[3];
    int err[3];
    weft_gather_opts o = {.messages = msgs};
    CHECK_EQ(weft_gather_ex(t, 3, NULL, err, &o), -EIO);
    CHECK(weft_errmsg() && strcmp(weft_errmsg(), "first") == 0);
    CHECK(msgs[0] && strcmp(msgs[0], "first") == 0);
    CHECK_EQ(err[1], -ECANCELED);
    CHECK(msgs[1] == NULL);
    CHECK(msgs[2] == NULL);
    weft_messages_free(msgs, 3);
    return NULL;
}

/* A task cancelled by someone else inside a return-errors gather. */
static weft_task *rx_victim; /* borrowed */

static void *rx_victim_fn(void *arg)
{
    rx_victim = weft_current();
    *(int *)arg = weft_sleep(0.5);
    return I2P(1);
}

static void *rx_ok(void *arg)
{
    *(int *)arg = weft_sleep(0.02);
    return I2P(2);
}

static void *rx_canceller(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_sleep(0.005), 0);
    REQUIRE(rx_victim != NULL);
    CHECK_EQ(weft_task_cancel(rx_victim), 0);
    return NULL;
}

static void *main_return_errors_cancel(void *arg)
{
    (void)arg;
    int rc_victim = SENT_E, rc_ok = SENT_E;
    weft_task *t[2], *x;
    rx_victim = NULL;
    REQUIRE(weft_spawn(rx_victim_fn, &rc_victim, &t[0]) == 0);
    REQUIRE(weft_spawn(rx_ok, &rc_ok, &t[1]) == 0);
    REQUIRE(weft_spawn(rx_canceller, NULL, &x) == 0);
    void *res[2];
    int err[2];
    fill(res, err, 2);
    CHECK_EQ(weft_gather(t, 2, res, err, WEFT_GATHER_RETURN_ERRORS), 0);
    CHECK_EQ(err[0], -ECANCELED);
    CHECK_EQ(err[1], 0);
    CHECK_EQ(P2I(res[0]), 1);
    CHECK_EQ(P2I(res[1]), 2);
    CHECK_EQ(rc_victim, -ECANCELED);
    CHECK_EQ(rc_ok, 0); /* the sibling was left alone */
    CHECK_EQ(weft_await(x, NULL), 0);
    return NULL;
}

/* ---- the gathering task is cancelled ---- */

static int cc_done;

static void *cc_gatherer(void *arg)
{
    unsigned flags = (unsigned)P2I(arg);
    int cleaned[3] = {0, 0, 0};
    weft_task *t[3];
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_spawn(sleep_then_cleanup, &cleaned[i], &t[i]) == 0);
    void *res[3];
    int err[3];
    fill(res, err, 3);
    int rc = weft_gather(t, 3, res, err, flags);
    CHECK_EQ(rc, -ECANCELED);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cleaned[i], 1); /* joined: cleanup done */
        CHECK_EQ(err[i], -ECANCELED);
        CHECK_EQ(P2I(res[i]), 77);
        CHECK_EQ(weft_task_cancel(t[i]), -EINVAL); /* consumed */
    }
    cc_done = 1;
    return I2P(rc);
}

static void *main_caller_cancelled(void *arg)
{
    weft_task *g;
    cc_done = 0;
    REQUIRE(weft_spawn(cc_gatherer, arg, &g) == 0);
    CHECK_EQ(weft_sleep(0.01), 0);
    CHECK_EQ(cc_done, 0);
    CHECK_EQ(weft_task_cancel(g), 0);
    void *r = NULL;
    CHECK_EQ(weft_await(g, &r), -ECANCELED);
    CHECK_EQ(P2I(r), -ECANCELED);
    CHECK_EQ(cc_done, 1);
    return NULL;
}

/* Cancelled before it gathers: the children never start. */
static int pc_ran;

static void *pc_child(void *arg)
{
    pc_ran++;
    return arg;
}

static void *main_precancelled(void *arg)
{
    (void)arg;
    weft_task *t[3];
    pc_ran = 0;
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_spawn(pc_child, I2P(i + 1), &t[i]) == 0);
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    void *res[3];
    int err[3];
    fill(res, err, 3);
    CHECK_EQ(weft_gather(t, 3, res, err, 0), -ECANCELED);
    CHECK_EQ(pc_ran, 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(err[i], -ECANCELED);
        CHECK(res[i] == NULL);
        CHECK_EQ(weft_task_done(t[i]), -EINVAL);
    }
    return NULL;
}

/* ---- asyncio's race: children finish in the turn the gatherer is
 * cancelled ---- */

static int race_finished;
static int race_finished_at_cancel;

static void *race_child(void *arg)
{
    intptr_t yields = P2I(arg) >> 8;
    for (intptr_t i = 0; i < yields; i++)
        weft_yield();
    race_finished++;
    return I2P(P2I(arg) & 0xff);
}

static void *race_canceller(void *arg)
{
    race_finished_at_cancel = race_finished;
    CHECK_EQ(weft_task_cancel((weft_task *)arg), 0);
    return NULL;
}

static void *race_gatherer(void *arg)
{
    intptr_t yields = P2I(arg);
    weft_task *t[2], *x;
    race_finished = 0;
    race_finished_at_cancel = -1;
    /* Run order: child 1, child 2, then the canceller. */
    REQUIRE(weft_spawn(race_child, I2P(yields << 8 | 1), &t[0]) == 0);
    REQUIRE(weft_spawn(race_child, I2P(yields << 8 | 2), &t[1]) == 0);
    REQUIRE(weft_spawn(race_canceller, weft_current(), &x) == 0);
    void *res[2];
    int err[2];
    fill(res, err, 2);
    int rc = weft_gather(t, 2, res, err, 0);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(race_finished, 2);
    CHECK_EQ(P2I(res[0]), 1); /* results even so */
    CHECK_EQ(P2I(res[1]), 2);
    if (yields == 0) {
        /* The children had finished (the gatherer was ready to run) when
         * the cancellation came: they succeeded. */
        CHECK_EQ(race_finished_at_cancel, 2);
        CHECK_EQ(err[0], 0);
        CHECK_EQ(err[1], 0);
    } else {
        /* The cancellation came first, in the same turn: they were
         * cancelled while ready to run, and report it. */
        CHECK_EQ(race_finished_at_cancel, 0);
        CHECK_EQ(err[0], -ECANCELED);
        CHECK_EQ(err[1], -ECANCELED);
    }
    weft_task_detach(x);
    return I2P(rc);
}

static void *main_race(void *arg)
{
    weft_task *g;
    REQUIRE(weft_spawn(race_gatherer, arg, &g) == 0);
    void *r = NULL;
    CHECK_EQ(weft_await(g, &r), -ECANCELED);
    CHECK_EQ(P2I(r), -ECANCELED);
    return NULL;
}

/* ---- handles are consumed ---- */

static void *main_consumed(void *arg)
{
    (void)arg;
    weft_task *t[2];
    REQUIRE(weft_spawn(ret_arg, I2P(1), &t[0]) == 0);
    REQUIRE(weft_spawn(ret_arg, I2P(2), &t[1]) == 0);
    CHECK_EQ(weft_gather(t, 2, NULL, NULL, 0), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(weft_await(t[i], NULL), -EINVAL);
        CHECK_EQ(weft_task_cancel(t[i]), -EINVAL);
        CHECK_EQ(weft_task_done(t[i]), -EINVAL);
        CHECK_EQ(weft_task_detach(t[i]), -EINVAL);
        CHECK_EQ(weft_task_result(t[i], NULL), -EINVAL);
    }
    CHECK_EQ(weft_gather(t, 2, NULL, NULL, 0), -EINVAL);
    CHECK_EQ(weft_gather(t, 1, NULL, NULL, WEFT_GATHER_RETURN_ERRORS), -EINVAL);

    /* Consumed also when the gather fails. */
    int cleaned = 0;
    REQUIRE(weft_spawn(fail_eio, NULL, &t[0]) == 0);
    REQUIRE(weft_spawn(sleep_then_cleanup, &cleaned, &t[1]) == 0);
    CHECK_EQ(weft_gather(t, 2, NULL, NULL, 0), -EIO);
    CHECK_EQ(cleaned, 1);
    CHECK_EQ(weft_await(t[0], NULL), -EINVAL);
    CHECK_EQ(weft_await(t[1], NULL), -EINVAL);
    return NULL;
}

/* ---- invalid input consumes nothing ---- */

static void *main_invalid(void *arg)
{
    (void)arg;
    weft_task *a, *b, *c, *d;
    REQUIRE(weft_spawn(ret_arg, I2P(1), &a) == 0);
    REQUIRE(weft_spawn(ret_arg, I2P(2), &b) == 0);
    REQUIRE(weft_task_completed(I2P(3), &c) == 0);
    REQUIRE(weft_spawn(ret_arg, I2P(4), &d) == 0);
    CHECK_EQ(weft_await(d, NULL), 0); /* d is now a consumed handle */

    void *res[3];
    int err[3];
    weft_task *with_null[3] = {a, NULL, b};
    CHECK_EQ(weft_gather(with_null, 3, res, err, 0), -EINVAL);
    /* A repeated handle: the first claim holds it, as another task's await
     * would. */
    weft_task *repeated[3] = {a, b, a};
    CHECK_EQ(weft_gather(repeated, 3, res, err, 0), -EBUSY);
    weft_task *repeated2[3] = {c, c, b};
    CHECK_EQ(weft_gather(repeated2, 3, res, err, WEFT_GATHER_RETURN_ERRORS),
             -EBUSY);
    weft_task *borrowed[3] = {a, b, weft_current()};
    CHECK_EQ(weft_gather(borrowed, 3, res, err, 0), -EINVAL);
    weft_task *consumed[3] = {a, d, b};
    CHECK_EQ(weft_gather(consumed, 3, res, err, 0), -EINVAL);
    weft_task *good[3] = {a, b, c};
    CHECK_EQ(weft_gather(good, 3, res, err, 2u), -EINVAL);
    CHECK_EQ(weft_gather(good, 3, res, err, ~0u), -EINVAL);
    CHECK_EQ(weft_gather(good, 3, res, err, WEFT_GATHER_RETURN_ERRORS | 4u),
             -EINVAL);
    CHECK_EQ(weft_gather(NULL, 3, res, err, 0), -EINVAL);

    /* Nothing was consumed (or left marked): the handles work and gather
     * fine. */
    CHECK(weft_task_done(a) >= 0);
    CHECK(weft_task_done(b) >= 0);
    CHECK_EQ(weft_task_done(c), 1);
    fill(res, err, 3);
    CHECK_EQ(weft_gather(good, 3, res, err, 0), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(P2I(res[i]), i + 1);
        CHECK_EQ(err[i], 0);
    }
    return NULL;
}

/* ---- gathering the caller itself, or a task awaiting it ---- */

static weft_task *self_handle;

static void *self_gatherer(void *arg)
{
    (void)arg;
    weft_task *o;
    REQUIRE(weft_spawn(ret_arg, I2P(7), &o) == 0);
    weft_task *both[2] = {o, self_handle};
    CHECK_EQ(weft_gather(both, 2, NULL, NULL, 0), -EDEADLK);
    weft_task *only[1] = {self_handle};
    CHECK_EQ(weft_gather(only, 1, NULL, NULL, WEFT_GATHER_RETURN_ERRORS),
             -EDEADLK);
    /* o is neither consumed nor left marked. */
    void *r = NULL;
    weft_task *other[1] = {o};
    CHECK_EQ(weft_gather(other, 1, &r, NULL, 0), 0);
    CHECK_EQ(P2I(r), 7);
    return I2P(11);
}

static weft_task *cy_a, *cy_b;
static int cy_b_rc;

static void *cy_awaiter(void *arg) /* A: awaits B */
{
    (void)arg;
    void *r = NULL;
    CHECK_EQ(weft_await(cy_b, &r), 0);
    CHECK_EQ(P2I(r), 5);
    return I2P(6);
}

static void *cy_gatherer(void *arg) /* B: gathers A, which awaits B */
{
    (void)arg;
    CHECK_EQ(weft_yield(), 0); /* let A start awaiting */
    weft_task *arr[1] = {cy_a};
    cy_b_rc = weft_gather(arr, 1, NULL, NULL, 0);
    return I2P(5);
}

/* Waits (at most 2 s) for t to finish without consuming its handle, as an
 * await would. */
static void wait_done(weft_task *t)
{
    int rc;
    double end = weft_now() + 2.0;
    while ((rc = weft_task_done(t)) == 0 && weft_now() < end)
        weft_sleep(0.0005);
    CHECK_EQ(rc, 1);
}

static void *main_self(void *arg)
{
    (void)arg;
    void *r = NULL;
    REQUIRE(weft_spawn(self_gatherer, NULL, &self_handle) == 0);
    wait_done(self_handle);
    CHECK_EQ(weft_await(self_handle, &r), 0); /* not consumed by the gathers */
    CHECK_EQ(P2I(r), 11);

    cy_b_rc = SENT_E;
    REQUIRE(weft_spawn(cy_gatherer, NULL, &cy_b) == 0);
    REQUIRE(weft_spawn(cy_awaiter, NULL, &cy_a) == 0);
    wait_done(cy_a);
    CHECK_EQ(weft_await(cy_a, &r), 0); /* A's handle was not consumed */
    CHECK_EQ(P2I(r), 6);
    CHECK_EQ(cy_b_rc, -EDEADLK);
    return NULL;
}

/* A gathers B; then B gathers A (mode 0) or awaits A (mode 1): the second
 * wait would close a cycle, since a gathering task awaits what it gathers. */
static int gc_rc[2];

static void *gc_a(void *arg)
{
    (void)arg;
    weft_task *arr[1] = {cy_b};
    gc_rc[0] = weft_gather(arr, 1, NULL, NULL, 0);
    return NULL;
}

static void *gc_b(void *arg)
{
    weft_yield();
    weft_yield(); /* A is gathering B by now */
    if (P2I(arg) == 0) {
        weft_task *arr[1] = {cy_a};
        gc_rc[1] = weft_gather(arr, 1, NULL, NULL, 0);
    } else {
        gc_rc[1] = weft_await(cy_a, NULL);
    }
    return NULL;
}

static void *main_gather_cycle(void *arg)
{
    gc_rc[0] = gc_rc[1] = SENT_E;
    REQUIRE(weft_spawn(gc_a, NULL, &cy_a) == 0);
    REQUIRE(weft_spawn(gc_b, arg, &cy_b) == 0);
    wait_done(cy_a);
    CHECK_EQ(gc_rc[1], -EDEADLK);
    CHECK_EQ(gc_rc[0], 0); /* B ended; A's gather of it succeeded */
    CHECK_EQ(weft_await(cy_a, NULL), 0); /* not consumed by B */
    return NULL;
}

static void child_gather_cycle(void *arg)
{
    check_failures = 0; /* the parent's count is not ours */
    alarm(10);
    int rc = weft_run(main_gather_cycle, arg, NULL);
    fprintf(stderr, "run rc=%d gather rc=%d, B's wait rc=%d\n", rc, gc_rc[0],
            gc_rc[1]);
    _exit(rc == 0 && check_failures == 0 ? 0 : 1);
}

/* ---- results and errors may be NULL ---- */

static void *main_null_arrays(void *arg)
{
    (void)arg;
    weft_task *t[2];
    void *res[2];
    int err[2];
    REQUIRE(weft_spawn(ret_arg, I2P(1), &t[0]) == 0);
    REQUIRE(weft_spawn(ret_arg, I2P(2), &t[1]) == 0);
    CHECK_EQ(weft_gather(t, 2, NULL, NULL, 0), 0);

    REQUIRE(weft_spawn(ret_arg, I2P(1), &t[0]) == 0);
    REQUIRE(weft_spawn(fail_eio, NULL, &t[1]) == 0);
    CHECK_EQ(weft_gather(t, 2, NULL, NULL, 0), -EIO);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "eio from a task") == 0);

    REQUIRE(weft_spawn(ret_arg, I2P(1), &t[0]) == 0);
    REQUIRE(weft_spawn(fail_eio, NULL, &t[1]) == 0);
    fill(res, NULL, 2);
    CHECK_EQ(weft_gather(t, 2, res, NULL, WEFT_GATHER_RETURN_ERRORS), 0);
    CHECK_EQ(P2I(res[0]), 1);
    CHECK(res[1] == NULL);

    REQUIRE(weft_spawn(ret_arg, I2P(1), &t[0]) == 0);
    REQUIRE(weft_spawn(fail_eio, NULL, &t[1]) == 0);
    fill(NULL, err, 2);
    CHECK_EQ(weft_gather(t, 2, NULL, err, WEFT_GATHER_RETURN_ERRORS), 0);
    CHECK_EQ(err[0], 0);
    CHECK_EQ(err[1], -EIO);
    return NULL;
}

/* ---- already-completed tasks ---- */

static void *main_completed(void *arg)
{
    (void)arg;
    weft_task *a, *b, *c, *t[3];
    void *r = NULL, *res[3];
    int err[3];

    /* Argument checks. */
    CHECK_EQ(weft_task_completed(I2P(1), NULL), -EINVAL);
    CHECK_EQ(weft_task_failed(-EIO, "x", NULL), -EINVAL);
    CHECK_EQ(weft_task_failed(0, "x", &a), -EINVAL);
    CHECK_EQ(weft_task_failed(1, "x", &a), -EINVAL);
    CHECK_EQ(weft_task_failed(-4096, "x", &a), -EINVAL);

    /* Their outcome is readable before anything consumes them; the
     * message is a copy. */
    char msg[32];
    strcpy(msg, "disk on fire");
    REQUIRE(weft_task_completed(I2P(5), &a) == 0);
    REQUIRE(weft_task_failed(-EIO, msg, &b) == 0);
    strcpy(msg, "overwritten");
    CHECK_EQ(weft_task_done(a), 1);
    CHECK_EQ(weft_task_done(b), 1);
    CHECK_EQ(weft_task_result(a, &r), 0);
    CHECK_EQ(P2I(r), 5);
    CHECK_EQ(weft_task_result(b, &r), -EIO);
    REQUIRE(weft_task_message(b) != NULL);
    CHECK(strcmp(weft_task_message(b), "disk on fire") == 0);
    CHECK(weft_task_message(a) == NULL);
    CHECK_EQ(weft_task_cancel(a), 1); /* already finished */

    /* Awaited like any task. */
    CHECK_EQ(weft_await(a, &r), 0);
    CHECK_EQ(P2I(r), 5);
    CHECK_EQ(weft_await(b, &r), -EIO);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "disk on fire") == 0);
    REQUIRE(weft_task_failed(-EPIPE, NULL, &b) == 0);
    CHECK(weft_task_message(b) == NULL);
    CHECK_EQ(weft_await(b, NULL), -EPIPE);

    /* Only completed ones. */
    REQUIRE(weft_task_completed(I2P(1), &t[0]) == 0);
    REQUIRE(weft_task_completed(NULL, &t[1]) == 0);
    REQUIRE(weft_task_completed(I2P(3), &t[2]) == 0);
    fill(res, err, 3);
    CHECK_EQ(weft_gather(t, 3, res, err, 0), 0);
    CHECK_EQ(P2I(res[0]), 1);
    CHECK(res[1] == NULL);
    CHECK_EQ(P2I(res[2]), 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(err[i], 0);

    /* Mixture, default mode: the already-failed one is the first error;
     * the live task is cancelled and joined. */
    int cleaned = 0;
    REQUIRE(weft_task_completed(I2P(5), &a) == 0);
    REQUIRE(weft_task_failed(-EIO, "disk on fire", &b) == 0);
    REQUIRE(weft_spawn(sleep_then_cleanup, &cleaned, &c) == 0);
    CHECK_EQ(weft_yield(), 0); /* c starts (a task cancelled before it
                                * starts never runs) */
    t[0] = a;
    t[1] = b;
    t[2] = c;
    fill(res, err, 3);
    CHECK_EQ(weft_gather(t, 3, res, err, 0), -EIO);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "disk on fire") == 0);
    CHECK_EQ(cleaned, 1);
    CHECK_EQ(err[0], 0);
    CHECK_EQ(err[1], -EIO);
    CHECK_EQ(err[2], -ECANCELED);
    CHECK_EQ(P2I(res[0]), 5);
    CHECK(res[1] == NULL);
    CHECK_EQ(P2I(res[2]), 77);

    /* A live task that fails first in time, with an already-completed
     * success: its message wins. */
    REQUIRE(weft_task_completed(I2P(5), &t[0]) == 0);
    REQUIRE(weft_spawn(fail_eio, NULL, &t[1]) == 0);
    fill(res, err, 2);
    CHECK_EQ(weft_gather(t, 2, res, err, 0), -EIO);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "eio from a task") == 0);
    CHECK_EQ(err[0], 0);
    CHECK_EQ(P2I(res[0]), 5);

    /* Mixture, return-errors mode. */
    REQUIRE(weft_task_completed(I2P(5), &t[0]) == 0);
    REQUIRE(weft_task_failed(-ENOSPC, "full", &t[1]) == 0);
    REQUIRE(weft_spawn(ret_arg, I2P(9), &t[2]) == 0);
    fill(res, err, 3);
    CHECK_EQ(weft_gather(t, 3, res, err, WEFT_GATHER_RETURN_ERRORS), 0);
    CHECK_EQ(err[0], 0);
    CHECK_EQ(err[1], -ENOSPC);
    CHECK_EQ(err[2], 0);
    CHECK_EQ(P2I(res[0]), 5);
    CHECK(res[1] == NULL);
    CHECK_EQ(P2I(res[2]), 9);
    return NULL;
}

/* ---- nested gathers cancelled from the top ---- */

#define NEST_MID 3
#define NEST_LEAF 3
static int nest_cleaned[NEST_MID][NEST_LEAF];
static int nest_mid_rc[NEST_MID];
static int nest_started;

static void *nest_leaf(void *arg)
{
    nest_started++;
    return sleep_then_cleanup(arg);
}

static void *nest_mid(void *arg)
{
    intptr_t m = P2I(arg);
    weft_task *t[NEST_LEAF];
    for (int i = 0; i < NEST_LEAF; i++)
        REQUIRE(weft_spawn(nest_leaf, &nest_cleaned[m][i], &t[i]) == 0);
    if (m == NEST_MID - 1) {
        /* One level that awaits instead: the last leaves first... */
        for (int i = 0; i < NEST_LEAF - 1; i++)
            weft_task_detach(t[i]);
        nest_mid_rc[m] = weft_await(t[NEST_LEAF - 1], NULL);
    } else {
        int err[NEST_LEAF];
        nest_mid_rc[m] = weft_gather(t, NEST_LEAF, NULL, err, m ? 0 :
                                     WEFT_GATHER_RETURN_ERRORS);
        for (int i = 0; i < NEST_LEAF; i++) {
            CHECK_EQ(nest_cleaned[m][i], 1);
            CHECK_EQ(err[i], -ECANCELED);
        }
    }
    return NULL;
}

static void *nest_top(void *arg)
{
    (void)arg;
    weft_task *t[NEST_MID];
    for (int m = 0; m < NEST_MID; m++)
        REQUIRE(weft_spawn(nest_mid, I2P(m), &t[m]) == 0);
    int err[NEST_MID];
    int rc = weft_gather(t, NEST_MID, NULL, err, 0);
    CHECK_EQ(rc, -ECANCELED);
    for (int m = 0; m < NEST_MID; m++) {
        CHECK_EQ(err[m], -ECANCELED);
        CHECK_EQ(nest_mid_rc[m], -ECANCELED);
    }
    for (int m = 0; m < NEST_MID - 1; m++)
        for (int i = 0; i < NEST_LEAF; i++)
            CHECK_EQ(nest_cleaned[m][i], 1);
    CHECK_EQ(nest_cleaned[NEST_MID - 1][NEST_LEAF - 1], 1);
    return NULL;
}

static void *main_nested(void *arg)
{
    (void)arg;
    memset(nest_cleaned, 0, sizeof nest_cleaned);
    nest_started = 0;
    for (int m = 0; m < NEST_MID; m++)
        nest_mid_rc[m] = SENT_E;
    weft_task *top;
    REQUIRE(weft_spawn(nest_top, NULL, &top) == 0);
    CHECK_EQ(weft_sleep(0.01), 0);
    CHECK_EQ(nest_started, NEST_MID * NEST_LEAF); /* the whole tree runs */
    CHECK_EQ(weft_task_cancel(top), 0);
    CHECK_EQ(weft_await(top, NULL), -ECANCELED);
    /* The whole tree has finished: every gathered or awaited leaf cleaned
     * up before the top's await returned. */
    for (int m = 0; m < NEST_MID - 1; m++)
        for (int i = 0; i < NEST_LEAF; i++)
            CHECK_EQ(nest_cleaned[m][i], 1);
    CHECK_EQ(nest_cleaned[NEST_MID - 1][NEST_LEAF - 1], 1);
    for (int m = 0; m < NEST_MID; m++)
        CHECK_EQ(nest_mid_rc[m], -ECANCELED);
    return NULL;
}

/* A deep chain: each link gathers (or awaits) the next, the last sleeps.
 * Cancelling the head from a task (a 128 KiB stack) reaches the whole
 * chain, however long, and the head's await returns once all of it has
 * finished. */
static int chain_len, chain_gather, chain_cleaned;

static void *chain_link(void *arg)
{
    intptr_t d = P2I(arg);
    if (d == chain_len) {
        int rc = weft_sleep(INFINITY);
        chain_cleaned = rc == -ECANCELED;
        return NULL;
    }
    weft_task *t[1];
    REQUIRE(weft_spawn(chain_link, I2P(d + 1), &t[0]) == 0);
    int rc = chain_gather ? weft_gather(t, 1, NULL, NULL, 0)
                          : weft_await(t[0], NULL);
    CHECK_EQ(rc, -ECANCELED);
    return NULL;
}

static void *main_chain(void *arg)
{
    (void)arg;
    weft_task *head;
    chain_cleaned = 0;
    REQUIRE(weft_spawn(chain_link, I2P(0), &head) == 0);
    /* Let the chain build: every link has started once the last one
     * sleeps; it takes one yield per link at most. */
    for (int i = 0; i <= chain_len + 1; i++)
        weft_yield();
    CHECK_EQ(weft_task_cancel(head), 0);
    CHECK_EQ(weft_await(head, NULL), -ECANCELED);
    CHECK_EQ(chain_cleaned, 1);
    return NULL;
}

static void child_chain(void *arg)
{
    chain_gather = (int)P2I(arg);
    /* ThreadSanitizer makes each new task's first switch slow. */
    chain_len = WEFT_TSAN ? 1500 : 4000;
    check_failures = 0;
    alarm(20);
    int rc = weft_run(main_chain, NULL, NULL);
    _exit(rc == 0 && check_failures == 0 ? 0 : 1);
}

/* ---- many tasks ---- */

static void *main_many(void *arg)
{
    size_t n = (size_t)P2I(arg);
    weft_task **t = malloc(n * sizeof *t);
    void **res = malloc(n * sizeof *res);
    int *err = malloc(n * sizeof *err);
    REQUIRE(t && res && err);
    for (size_t i = 0; i < n; i++)
        REQUIRE(weft_spawn(ret_arg, I2P(i * 2 + 1), &t[i]) == 0);
    fill(res, err, n);
    CHECK_EQ(weft_gather(t, n, res, err, 0), 0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (P2I(res[i]) != (intptr_t)(i * 2 + 1) || err[i] != 0)
            bad++;
    CHECK_EQ(bad, 0);
    CHECK_EQ(weft_task_done(t[0]), -EINVAL);
    CHECK_EQ(weft_task_done(t[n - 1]), -EINVAL);
    free(t);
    free(res);
    free(err);
    return NULL;
}

static void case_outside_task(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_gather(NULL, 0, NULL, NULL, 0), -EPERM); /* no task */
}

static void case_many(void *arg)
{
    (void)arg;
    long n = check_scaled(100000);
    if (check_slow_env() && n > 20000)
        n = 20000;
    double t0 = weft_now();
    CHECK_EQ(weft_run(main_many, I2P(n), NULL), 0);
    printf("gathered %ld tasks in %.3f s\n", n, weft_now() - t0);
}

/* In a child: if a cycle went unnoticed, the two tasks would wait for
 * each other forever. */
static void case_cycle(void *arg)
{
    int mode = (int)P2I(arg);
    char *out = NULL;
    int st = check_fork(child_gather_cycle, I2P(mode), &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "--- cycle child %d (status %#x) said:\n%s", mode, st,
                out);
    free(out);
}

/* Deep chains of awaits, then of gathers, in a child: running out of
 * stack would kill it. */
static void case_chain(void *arg)
{
    int gather = (int)P2I(arg);
    char *out = NULL;
    int st = check_fork(child_chain, I2P(gather), &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "--- chain of %s (status %#x) said:\n%s",
                gather ? "gathers" : "awaits", st, out);
    free(out);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_task", case_outside_task, NULL),
    CHECK_TASK("order", main_order, I2P(0)),
    CHECK_TASK("order_return_errors", main_order,
               I2P(WEFT_GATHER_RETURN_ERRORS)),
    CHECK_TASK("empty", main_empty, NULL),
    CHECK_TASK("first_error", main_first_error, NULL),
    CHECK_TASK("return_errors", main_return_errors, NULL),
    CHECK_TASK("messages_return_errors", main_messages_re, NULL),
    CHECK_TASK("messages_default", main_messages_default, NULL),
    CHECK_TASK("return_errors_cancel", main_return_errors_cancel, NULL),
    CHECK_TASK("caller_cancelled", main_caller_cancelled, I2P(0)),
    CHECK_TASK("caller_cancelled_return_errors", main_caller_cancelled,
               I2P(WEFT_GATHER_RETURN_ERRORS)),
    CHECK_TASK_WANT("precancelled", main_precancelled, NULL, -ECANCELED),
    CHECK_TASK("race_0", main_race, I2P(0)),
    CHECK_TASK("race_1", main_race, I2P(1)),
    CHECK_TASK("consumed", main_consumed, NULL),
    CHECK_TASK("invalid", main_invalid, NULL),
    CHECK_TASK("self", main_self, NULL),
    CHECK_TASK("null_arrays", main_null_arrays, NULL),
    CHECK_TASK("completed", main_completed, NULL),
    CHECK_TASK("nested", main_nested, NULL),
    CHECK_PLAIN("many", case_many, NULL),
    CHECK_PLAIN("cycle_await", case_cycle, I2P(0)),
    CHECK_PLAIN("cycle_gather", case_cycle, I2P(1)),
    CHECK_PLAIN("chain_of_awaits", case_chain, I2P(0)),
    CHECK_PLAIN("chain_of_gathers", case_chain, I2P(1)),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

/*
 * test_map.c - weft_map: bounded concurrency over an array of items.
 *
 * Proves that weft_map:
 * - delivers results and errors in item order whatever the completion
 *   order, items NULL giving fn NULL;
 * - never runs more than `limit` items at once and does reach `limit`
 *   (the highest concurrency seen equals limit; with limit > n, n);
 * - by default stops at the first error: it is returned with its message in
 *   weft_errmsg(), items never started report NULL/-ECANCELED (and never
 *   ran), running ones are cancelled and have finished - their cleanup
 *   ran - before weft_map returns;
 * - with WEFT_GATHER_RETURN_ERRORS runs every item and reports each one's
 *   own error (an error does not leak into the next item of the same
 *   worker), returning 0;
 * - returns 0 for n == 0 without calling fn, and -EINVAL / -EPERM for bad
 *   arguments without calling fn;
 * - when the calling task is cancelled (before or during the run), returns
 *   -ECANCELED with every worker joined (running items cleaned up, no new
 *   item started), also through maps nested inside map items;
 * - neither reads nor writes the caller's arrays while the caller waits:
 *   items changed meanwhile by another task do not reach fn, outcomes
 *   arrive when the call returns;
 * - out of memory for its state: -ENOMEM, fn never called, every item
 *   NULL/-ECANCELED with no message, no leak;
 * - handles check_scaled(100000) items.
 */
#include "check.h"

#include "../src/alloc.h"

#include <stdio.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#define SENT_R ((void *)(intptr_t)0x5a5a)
#define SENT_E 12345

static void fill(void **res, int *err, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        res[i] = SENT_R;
        err[i] = SENT_E;
    }
}

static int calls;

static void *count_call(void *arg)
{
    calls++;
    return arg;
}

/* ---- order ---- */

#define ORDER_N 20
static int order_done[ORDER_N], order_pos;

static void *order_fn(void *arg)
{
    intptr_t i = P2I(arg);
    /* Later items of each batch finish first. */
    CHECK_EQ(weft_sleep((double)(5 - i % 5) * 0.001), 0);
    order_done[order_pos++] = (int)i;
    return I2P(i * 2 + 1);
}

static void *main_order(void *arg)
{
    (void)arg;
    void *items[ORDER_N], *res[ORDER_N];
    int err[ORDER_N];
    for (int i = 0; i < ORDER_N; i++)
        items[i] = I2P(i);
    fill(res, err, ORDER_N);
    order_pos = 0;
    CHECK_EQ(weft_map(order_fn, items, ORDER_N, 5, res, err, 0), 0);
    for (int i = 0; i < ORDER_N; i++) {
        CHECK_EQ(P2I(res[i]), i * 2 + 1);
        CHECK_EQ(err[i], 0);
    }
    CHECK_EQ(order_pos, ORDER_N);
    int out_of_order = 0;
    for (int k = 1; k < ORDER_N; k++)
        out_of_order += order_done[k] < order_done[k - 1];
    CHECK(out_of_order > 0); /* completion order really differed */

    /* items NULL: fn gets NULL. */
    calls = 0;
    fill(res, err, 3);
    CHECK_EQ(weft_map(count_call, NULL, 3, 2, res, err, 0), 0);
    CHECK_EQ(calls, 3);
    for (int i = 0; i < 3; i++) {
        CHECK(res[i] == NULL);
        CHECK_EQ(err[i], 0);
    }
    return NULL;
}

/* ---- concurrency bound ---- */

static int conc_cur, conc_max, conc_calls;

static void *conc_fn(void *arg)
{
    conc_calls++;
    if (++conc_cur > conc_max)
        conc_max = conc_cur;
    CHECK_EQ(weft_sleep(0.001), 0);
    conc_cur--;
    return arg;
}

static void conc_case(size_t n, size_t limit, int expect_max)
{
    void **items = malloc(n * sizeof *items), **res = malloc(n * sizeof *res);
    int *err = malloc(n * sizeof *err);
    REQUIRE(items && res && err);
    for (size_t i = 0; i < n; i++)
        items[i] = I2P(i + 1);
    fill(res, err, n);
    conc_cur = conc_max = conc_calls = 0;
    CHECK_EQ(weft_map(conc_fn, items, n, limit, res, err, 0), 0);
    CHECK_EQ(conc_max, expect_max);
    CHECK_EQ(conc_calls, n);
    CHECK_EQ(conc_cur, 0);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(P2I(res[i]), i + 1);
        CHECK_EQ(err[i], 0);
    }
    free(items);
    free(res);
    free(err);
}

static void *main_concurrency(void *arg)
{
    (void)arg;
    conc_case(50, 5, 5);
    conc_case(30, 1, 1);
    conc_case(7, 100, 7);   /* limit larger than n: all at once */
    conc_case(64, 64, 64);
    conc_case(10, (size_t)-1, 10);
    return NULL;
}

/* ---- first error stops the run ---- */

#define FE_N 20
#define FE_BAD 4
static int fe_started[FE_N], fe_finished[FE_N], fe_cancel_seen[FE_N];

static void *fe_fn(void *arg)
{
    intptr_t i = P2I(arg);
    fe_started[i] = 1;
    if (i == FE_BAD) {
        /* Fails once its neighbours (the other two workers) run. */
        double end = weft_now() + 2.0;
        while (!(fe_started[FE_BAD - 1] && fe_started[FE_BAD + 1]) &&
               weft_now() < end)
            CHECK_EQ(weft_sleep(0.001), 0);
        return weft_fail(-EIO, "item %d broke", (int)i);
    }
    int rc = weft_sleep(0.05);
    if (rc == -ECANCELED) {
        /* Cleanup that suspends: a run that did not join its workers would
         * return before it. */
        CHECK_EQ(weft_shield_begin(), 0);
        CHECK_EQ(weft_sleep(0.002), 0);
        CHECK_EQ(weft_shield_end(), 0);
        fe_cancel_seen[i] = 1;
    }
    fe_finished[i] = 1;
    return I2P(i + 100);
}

/* The messages array, under RETURN_ERRORS: the failing item's message,
 * NULL for the others; owned by the caller. */
static void *msg_fn(void *arg)
{
    intptr_t i = P2I(arg);
    if (i % 3 == 1)
        return weft_fail(-EIO, "item %d", (int)i);
    return arg;
}

static void *main_messages(void *arg)
{
    (void)arg;
    enum { N = 10 };
    void *items[N], *res[N];
    int err[N];
    char *msgs[N];
    for (int i = 0; i < N; i++)
        items[i] = I2P(i);
    weft_gather_opts o = {.flags = WEFT_GATHER_RETURN_ERRORS,
                          .messages = msgs};
    CHECK_EQ(weft_map_ex(msg_fn, items, N, 3, res, err, &o), 0);
    for (int i = 0; i < N; i++) {
        char want[16];
        snprintf(want, sizeof want, "item %d", i);
        if (i % 3 == 1) {
            CHECK_EQ(err[i], -EIO);
            CHECK(msgs[i] && strcmp(msgs[i], want) == 0);
        } else {
            CHECK_EQ(err[i], 0);
            CHECK(msgs[i] == NULL);
        }
    }
    weft_messages_free(msgs, N);
    return NULL;
}

static void *main_first_error(void *arg)
{
    unsigned flags = (unsigned)P2I(arg);
    void *items[FE_N], *res[FE_N];
    int err[FE_N];
    for (int i = 0; i < FE_N; i++)
        items[i] = I2P(i);
    memset(fe_started, 0, sizeof fe_started);
    memset(fe_finished, 0, sizeof fe_finished);
    memset(fe_cancel_seen, 0, sizeof fe_cancel_seen);
    fill(res, err, FE_N);
    int rc = weft_map(fe_fn, items, FE_N, 3, res, err, flags);
    if (flags & WEFT_GATHER_RETURN_ERRORS) {
        CHECK_EQ(rc, 0);
        for (int i = 0; i < FE_N; i++) {
            CHECK_EQ(fe_started[i], 1);
            CHECK_EQ(fe_cancel_seen[i], 0);
            if (i == FE_BAD) {
                CHECK_EQ(err[i], -EIO);
                CHECK(res[i] == NULL);
            } else {
                CHECK_EQ(err[i], 0);
                CHECK_EQ(P2I(res[i]), i + 100);
            }
        }
        return NULL;
    }
    /* Limit 3: items 0-2 ran to the end (50 ms), then 3-5 started; 4
     * failed as soon as 5 had started, 3 and 5 were cancelled mid-sleep,
     * 6.. never started. */
    CHECK_EQ(rc, -EIO);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "item 4 broke") == 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(err[i], 0);
        CHECK_EQ(P2I(res[i]), i + 100);
        CHECK_EQ(fe_cancel_seen[i], 0);
    }
    CHECK_EQ(err[FE_BAD], -EIO);
    CHECK(res[FE_BAD] == NULL);
    for (int i = 3; i <= 5; i += 2) {
        CHECK_EQ(err[i], -ECANCELED);
        CHECK_EQ(fe_cancel_seen[i], 1); /* cancelled and joined */
        CHECK_EQ(fe_finished[i], 1);
    }
    for (int i = 6; i < FE_N; i++) {
        CHECK_EQ(fe_started[i], 0);
        CHECK(res[i] == NULL);
        CHECK_EQ(err[i], -ECANCELED);
    }
    return NULL;
}

/* An error does not stick to the worker: with one worker, items alternate
 * between failing and succeeding. */
static void *alt_fn(void *arg)
{
    intptr_t i = P2I(arg);
    if (i % 2)
        return weft_fail(-ERANGE, "odd %d", (int)i);
    weft_yield();
    return I2P(i + 1);
}

static void *main_alternate(void *arg)
{
    (void)arg;
    void *items[8], *res[8];
    int err[8];
    for (int i = 0; i < 8; i++)
        items[i] = I2P(i);
    fill(res, err, 8);
    CHECK_EQ(weft_map(alt_fn, items, 8, 1, res, err,
                      WEFT_GATHER_RETURN_ERRORS), 0);
    for (int i = 0; i < 8; i++) {
        if (i % 2) {
            CHECK_EQ(err[i], -ERANGE);
            CHECK(res[i] == NULL);
        } else {
            CHECK_EQ(err[i], 0);
            CHECK_EQ(P2I(res[i]), i + 1);
        }
    }
    /* Default mode, one worker: item 1 stops the run, 2.. never start. */
    fill(res, err, 8);
    CHECK_EQ(weft_map(alt_fn, items, 8, 1, res, err, 0), -ERANGE);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "odd 1") == 0);
    CHECK_EQ(err[0], 0);
    CHECK_EQ(P2I(res[0]), 1);
    CHECK_EQ(err[1], -ERANGE);
    for (int i = 2; i < 8; i++) {
        CHECK_EQ(err[i], -ECANCELED);
        CHECK(res[i] == NULL);
    }
    return NULL;
}

/* ---- empty and invalid ---- */

static void *main_args(void *arg)
{
    (void)arg;
    void *items[2] = {I2P(1), I2P(2)}, *res[2];
    int err[2];
    calls = 0;
    CHECK_EQ(weft_map(count_call, NULL, 0, 1, NULL, NULL, 0), 0);
    CHECK_EQ(weft_map(count_call, items, 0, 4, res, err,
                      WEFT_GATHER_RETURN_ERRORS), 0);
    CHECK_EQ(weft_map(NULL, items, 2, 1, res, err, 0), -EINVAL);
    CHECK_EQ(weft_map(count_call, items, 2, 0, res, err, 0), -EINVAL);
    CHECK_EQ(weft_map(count_call, items, 2, 1, NULL, err, 0), -EINVAL);
    CHECK_EQ(weft_map(count_call, items, 2, 1, res, NULL, 0), -EINVAL);
    CHECK_EQ(weft_map(count_call, items, 2, 1, res, err, 2u), -EINVAL);
    CHECK_EQ(weft_map(count_call, items, 2, 1, res, err, ~0u), -EINVAL);
    CHECK_EQ(calls, 0);
    fill(res, err, 2);
    CHECK_EQ(weft_map(count_call, items, 2, 1, res, err, 0), 0);
    CHECK_EQ(calls, 2);
    CHECK_EQ(P2I(res[0]), 1);
    CHECK_EQ(P2I(res[1]), 2);
    return NULL;
}

/* ---- the caller is cancelled ---- */

static int cc_started, cc_cleaned;

static void *cc_fn(void *arg)
{
    (void)arg;
    cc_started++;
    int rc = weft_sleep(INFINITY);
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_sleep(0.002), 0);
    CHECK_EQ(weft_shield_end(), 0);
    if (rc == -ECANCELED)
        cc_cleaned++;
    return NULL;
}

static int cc_map_rc, cc_returned;

static void *cc_mapper(void *arg)
{
    unsigned flags = (unsigned)P2I(arg);
    void *res[10];
    int err[10];
    fill(res, err, 10);
    cc_map_rc = weft_map(cc_fn, NULL, 10, 3, res, err, flags);
    /* Joined: the three running items cleaned up, no other started. */
    CHECK_EQ(cc_started, 3);
    CHECK_EQ(cc_cleaned, 3);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(err[i], -ECANCELED);
    for (int i = 3; i < 10; i++)
        CHECK(res[i] == NULL);
    cc_returned = 1;
    return NULL;
}

static void *main_caller_cancelled(void *arg)
{
    weft_task *t;
    cc_started = cc_cleaned = cc_returned = 0;
    cc_map_rc = SENT_E;
    REQUIRE(weft_spawn(cc_mapper, arg, &t) == 0);
    CHECK_EQ(weft_sleep(0.01), 0);
    CHECK_EQ(cc_started, 3);
    CHECK_EQ(cc_returned, 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(cc_returned, 1);
    CHECK_EQ(cc_map_rc, -ECANCELED);
    return NULL;
}

static void *main_precancelled(void *arg)
{
    (void)arg;
    void *res[3];
    int err[3];
    calls = 0;
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    CHECK_EQ(weft_map(count_call, NULL, 3, 2, res, err, 0), -ECANCELED);
    CHECK_EQ(calls, 0);
    return NULL;
}

/* Maps inside a map: cancelling the outer caller reaches every inner
 * item, and all of them have cleaned up when the outer map returns. */
static int nm_started, nm_cleaned, nm_outer_rc, nm_inner_rc[2];

static void *nm_leaf(void *arg)
{
    (void)arg;
    nm_started++;
    int rc = weft_sleep(INFINITY);
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_sleep(0.002), 0);
    CHECK_EQ(weft_shield_end(), 0);
    nm_cleaned += rc == -ECANCELED;
    return NULL;
}

static void *nm_inner(void *arg)
{
    void *res[4];
    int err[4];
    nm_inner_rc[P2I(arg)] = weft_map(nm_leaf, NULL, 4, 2, res, err, 0);
    return NULL;
}

static void *nm_outer(void *arg)
{
    (void)arg;
    void *items[2] = {I2P(0), I2P(1)}, *res[2];
    int err[2];
    nm_outer_rc = weft_map(nm_inner, items, 2, 2, res, err, 0);
    CHECK_EQ(nm_cleaned, 4); /* 2 inner maps x 2 running leaves */
    return NULL;
}

static void *main_nested(void *arg)
{
    (void)arg;
    weft_task *t;
    nm_started = nm_cleaned = 0;
    nm_outer_rc = nm_inner_rc[0] = nm_inner_rc[1] = SENT_E;
    REQUIRE(weft_spawn(nm_outer, NULL, &t) == 0);
    CHECK_EQ(weft_sleep(0.01), 0);
    CHECK_EQ(nm_started, 4);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(nm_outer_rc, -ECANCELED);
    CHECK_EQ(nm_inner_rc[0], -ECANCELED);
    CHECK_EQ(nm_inner_rc[1], -ECANCELED);
    CHECK_EQ(nm_started, 4);
    CHECK_EQ(nm_cleaned, 4);
    return NULL;
}

/* ---- many items ---- */

static void *twice(void *arg)
{
    return I2P(P2I(arg) * 2);
}

static void *main_many(void *arg)
{
    size_t n = (size_t)P2I(arg);
    void **items = malloc(n * sizeof *items), **res = malloc(n * sizeof *res);
    int *err = malloc(n * sizeof *err);
    REQUIRE(items && res && err);
    for (size_t i = 0; i < n; i++)
        items[i] = I2P(i);
    fill(res, err, n);
    CHECK_EQ(weft_map(twice, items, n, 64, res, err, 0), 0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += P2I(res[i]) != (intptr_t)(i * 2) || err[i] != 0;
    CHECK_EQ(bad, 0);
    free(items);
    free(res);
    free(err);
    return NULL;
}

static void case_outside_task(void *arg)
{
    (void)arg;
    void *res[1];
    int err[1];
    CHECK_EQ(weft_map(count_call, NULL, 1, 1, res, err, 0), -EPERM);
}

static void case_many(void *arg)
{
    (void)arg;
    long n = check_scaled(100000);
    if (check_slow_env() && n > 20000)
        n = 20000;
    double t0 = weft_now();
    CHECK_EQ(weft_run(main_many, I2P(n), NULL), 0);
    printf("mapped %ld items in %.3f s\n", n, weft_now() - t0);
}

/* ---- the caller's arrays: read and written by the caller only ---- */

#define RO_N 3
#define SENT_M ((char *)(intptr_t)0x5b5b)

typedef struct ro_ctx {
    void *items[RO_N], *res[RO_N];
    int err[RO_N];
    char *msgs[RO_N];
    weft_event gate;
    int done, rc;
} ro_ctx;

static ro_ctx *ro;

static void *ro_fn(void *arg)
{
    intptr_t i = P2I(arg);
    if (i == 1)
        CHECK_EQ(weft_event_wait(&ro->gate), 0);
    ro->done++;
    if (i == 0)
        return weft_fail(-EIO, "item 0");
    return I2P(i * 10);
}

static void *ro_mapper(void *arg)
{
    ro_ctx *c = arg;
    weft_gather_opts o = {.flags = WEFT_GATHER_RETURN_ERRORS,
                          .messages = c->msgs};
    c->rc = weft_map_ex(ro_fn, c->items, RO_N, 1, c->res, c->err, &o);
    return NULL;
}

/* While the caller waits in weft_map, its arrays are neither written (an
 * item that finished is not in them yet) nor read (items changed by
 * another task meanwhile are not what fn gets): the outcomes arrive when
 * the call returns. */
static void *main_arrays_untouched(void *arg)
{
    (void)arg;
    ro_ctx c = {.gate = WEFT_EVENT_INIT, .rc = 1};
    ro = &c;
    for (int i = 0; i < RO_N; i++) {
        c.items[i] = I2P(i);
        c.msgs[i] = SENT_M;
    }
    fill(c.res, c.err, RO_N);
    weft_task *t;
    REQUIRE(weft_spawn(ro_mapper, &c, &t) == 0);
    check_yield_until(&c.done, 1); /* item 0 done, item 1 at the gate */
    CHECK_EQ(c.rc, 1);
    CHECK(c.res[0] == SENT_R && c.err[0] == SENT_E && c.msgs[0] == SENT_M);
    c.items[2] = I2P(99);
    CHECK_EQ(weft_event_set(&c.gate), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(c.rc, 0);
    CHECK(c.res[0] == NULL && c.err[0] == -EIO);
    CHECK(c.msgs[0] && strcmp(c.msgs[0], "item 0") == 0);
    CHECK(P2I(c.res[1]) == 10 && c.err[1] == 0 && c.msgs[1] == NULL);
    CHECK(P2I(c.res[2]) == 20 && c.err[2] == 0 && c.msgs[2] == NULL);
    weft_messages_free(c.msgs, RO_N);
    ro = NULL;
    return NULL;
}

/* Out of memory for the run's state (the first allocation) or its join
 * set (the second): -ENOMEM, fn never called, every item NULL/-ECANCELED
 * with no message, nothing left allocated (the row checks for leaks). */
static void *main_oom(void *arg)
{
    (void)arg;
    enum { N = 4 };
    void *items[N], *res[N];
    int err[N];
    char *msgs[N];
    for (int i = 0; i < N; i++)
        items[i] = I2P(i);
    for (long k = 1; k <= 2; k++) {
        fill(res, err, N);
        for (int i = 0; i < N; i++)
            msgs[i] = SENT_M;
        calls = 0;
        weft_gather_opts o = {.messages = msgs};
        __atomic_store_n(&weft__alloc_fail_countdown, k, __ATOMIC_RELAXED);
        int rc = weft_map_ex(count_call, items, N, 2, res, err, &o);
        CHECK(check_alloc_fail_hit());
        CHECK_EQ(rc, -ENOMEM);
        CHECK_EQ(calls, 0);
        for (int i = 0; i < N; i++)
            CHECK(res[i] == NULL && err[i] == -ECANCELED && msgs[i] == NULL);
    }
    CHECK_EQ(weft_map(count_call, items, N, 2, res, err, 0), 0);
    CHECK_EQ(calls, N);
    return NULL;
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_task", case_outside_task, NULL),
    CHECK_TASK("order", main_order, NULL),
    CHECK_TASK("concurrency", main_concurrency, NULL),
    CHECK_TASK("first_error", main_first_error, I2P(0)),
    CHECK_TASK("messages", main_messages, NULL),
    CHECK_TASK("first_error_return_errors", main_first_error,
               I2P(WEFT_GATHER_RETURN_ERRORS)),
    CHECK_TASK("alternate", main_alternate, NULL),
    CHECK_TASK("args", main_args, NULL),
    CHECK_TASK("caller_cancelled", main_caller_cancelled, I2P(0)),
    CHECK_TASK("caller_cancelled_return_errors", main_caller_cancelled,
               I2P(WEFT_GATHER_RETURN_ERRORS)),
    CHECK_TASK_WANT("precancelled", main_precancelled, NULL, -ECANCELED),
    CHECK_TASK("nested", main_nested, NULL),
    CHECK_TASK("arrays_untouched_while_waiting", main_arrays_untouched,
               NULL),
    {"state_out_of_memory", main_oom, NULL, NULL, 0, CHECK_NO_LEAK, 0},
    CHECK_PLAIN("many", case_many, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

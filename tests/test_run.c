/*
 * test_run.c - weft_run: results, errors and messages of the main task,
 * misuse, nesting, repeated runs, and one loop per thread.
 */
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static void *ret_arg(void *arg)
{
    return arg;
}

static void *fail_main(void *arg)
{
    (void)arg;
    return weft_fail(-EIO, "could not read %s", "input.txt");
}

static void *nested(void *arg)
{
    (void)arg;
    void *r = I2P(7);
    int rc = weft_run(ret_arg, I2P(1), &r);
    CHECK_EQ(rc, -EBUSY);
    CHECK(r == I2P(7)); /* untouched on -EBUSY */
    return I2P(rc);
}

static void *returns_then_fails_late(void *arg)
{
    (void)arg;
    weft_fail(-ENOENT, NULL);
    weft_sleep(0.001);
    return I2P(99); /* the result is kept even though it failed */
}

static void *threaded(void *arg)
{
    intptr_t n = P2I(arg);
    for (int i = 0; i < 50; i++) {
        void *r = NULL;
        CHECK_EQ(weft_run(ret_arg, I2P(n + i), &r), 0);
        CHECK_EQ(P2I(r), n + i);
    }
    return NULL;
}

static void *yielder(void *arg)
{
    for (int i = 0; i < 100; i++)
        CHECK_EQ(weft_yield(), 0);
    return arg;
}

static void *thread_loop(void *arg)
{
    void *r = NULL;
    CHECK_EQ(weft_run(yielder, arg, &r), 0);
    CHECK(r == arg);
    return NULL;
}

static void case_result(void *arg)
{
    (void)arg;
    void *r = NULL;
    CHECK_EQ(weft_run(ret_arg, I2P(42), &r), 0);
    CHECK_EQ(P2I(r), 42);
    CHECK(weft_errmsg() == NULL);
}

static void case_null_result(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_run(ret_arg, NULL, NULL), 0); /* result may be NULL */
}

static void case_null_fn(void *arg)
{
    (void)arg;
    void *r = NULL;
    CHECK_EQ(weft_run(NULL, NULL, &r), -EINVAL);
}

static void case_fail(void *arg)
{
    (void)arg;
    void *r = I2P(1);
    CHECK_EQ(weft_run(fail_main, NULL, &r), -EIO);
    CHECK(r == NULL);
    REQUIRE(weft_errmsg() != NULL);
    CHECK(strcmp(weft_errmsg(), "could not read input.txt") == 0);
}

static void case_nested(void *arg)
{
    (void)arg;
    void *r = NULL;
    /* After a failed run: a new run clears the last message. */
    CHECK_EQ(weft_run(fail_main, NULL, &r), -EIO);
    REQUIRE(weft_errmsg() != NULL);
    CHECK_EQ(weft_run(nested, NULL, &r), 0);
    CHECK_EQ(P2I(r), -EBUSY);
    CHECK(weft_errmsg() == NULL); /* a new run clears the last message */
}

static void case_fails_late(void *arg)
{
    (void)arg;
    void *r = NULL;
    CHECK_EQ(weft_run(returns_then_fails_late, NULL, &r), -ENOENT);
    CHECK_EQ(P2I(r), 99);
}

/* Outside a loop the loop-bound calls refuse. */
static void case_outside_loop(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_sleep(0), -EPERM);
    CHECK_EQ(weft_yield(), -EPERM);
    CHECK(weft_current() == NULL);
    weft_task *t;
    CHECK_EQ(weft_spawn(ret_arg, NULL, &t), -EPERM);
    CHECK(weft_fail(-EIO, "x") == NULL);
}

/* Many runs one after the other. */
static void case_many_runs(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++)
        CHECK_EQ(weft_run(ret_arg, NULL, NULL), 0);
}

/* Loops on several threads at once. */
static void case_threads(void *arg)
{
    (void)arg;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        REQUIRE(pthread_create(&th[i], NULL, i % 2 ? threaded : thread_loop,
                               I2P(i * 1000)) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("result", case_result, NULL),
    CHECK_PLAIN("null_result", case_null_result, NULL),
    CHECK_PLAIN("null_fn", case_null_fn, NULL),
    CHECK_PLAIN("fail", case_fail, NULL),
    CHECK_PLAIN("nested", case_nested, NULL),
    CHECK_PLAIN("fails_late", case_fails_late, NULL),
    CHECK_PLAIN("outside_loop", case_outside_loop, NULL),
    CHECK_PLAIN("many_runs", case_many_runs, NULL),
    CHECK_PLAIN("threads", case_threads, NULL),
};

int main(void)
{
    check_allow_maps(4 * 4); /* glibc's cached thread stacks and arenas */
    return CHECK_MAIN(cases);
}

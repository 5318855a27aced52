/*
 * timeout.c - timeouts, following asyncio.timeout and asyncio.wait_for: a
 * cancel scope bounds a block of code, weft_wait_for bounds an await,
 * scopes nest, and a shield lets cleanup finish after the time is up.
 * Runs in about a fifth of a second.
 *
 * A deadline does not kill anything.  When a scope's time is up, the
 * task's suspending calls inside it (sleep, await, lock, queue, ...)
 * return -ETIMEDOUT, every one of them until the scope is closed; the code
 * sees the error, leaves the block and closes the scope.  Closing says
 * whether it was this scope's deadline that struck (asyncio's
 * Timeout.expired()).
 */
#include "weft.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((intptr_t)(p))

/* An error code's name, for printing. */
static const char *code_name(int rc)
{
    switch (rc) {
    case 0:
        return "0";
    case -ETIMEDOUT:
        return "-ETIMEDOUT";
    case -ECANCELED:
        return "-ECANCELED";
    default:
        return weft_strerror(rc);
    }
}

/* ">=" if at least `seconds` have passed since t0 (a timer never fires
 * early, so this always prints ">="). */
static const char *at_least(double t0, double seconds)
{
    return weft_now() - t0 >= seconds ? ">=" : "<";
}

/* 1. async with asyncio.timeout(0.05): await slow_operation() */
static void timeout_block(void)
{
    printf("1. a slow operation inside a 0.05 s timeout\n");
    weft_scope *sc;
    double t0 = weft_now();
    weft_scope_open(0.05, &sc);         /* async with asyncio.timeout(0.05): */
    int rc = weft_sleep(10);            /*     await asyncio.sleep(10) */
    int expired = weft_scope_close(sc); /* the block is left */
    printf("   the sleep returned %s after %s 0.05 s: timed out\n",
           code_name(rc), at_least(t0, 0.05));
    printf("   weft_scope_close returned %d: this scope's deadline struck\n",
           expired);

    /* The same, with an operation that is fast enough. */
    weft_scope_open(0.05, &sc);
    rc = weft_sleep(0.01);
    expired = weft_scope_close(sc);
    printf("   a 0.01 s operation in the same timeout: returned %s, "
           "close returned %d\n",
           code_name(rc), expired);
}

/* async def slow(): await asyncio.sleep(10); return 1 */
static void *slow_task(void *arg)
{
    int rc = weft_sleep(10);
    printf("   slow task: its sleep returned %s; it returns\n", code_name(rc));
    return arg;
}

/* async def fast(): await asyncio.sleep(0.01); return 42 */
static void *fast_task(void *arg)
{
    weft_sleep(0.01);
    return arg;
}

/* 2. await asyncio.wait_for(task, timeout) */
static void wait_for(void)
{
    printf("2. weft_wait_for: await a task for 0.03 s at most\n");
    weft_task *t;
    void *r;
    double t0 = weft_now();
    weft_spawn(slow_task, I2P(1), &t);
    int rc = weft_wait_for(t, 0.03, &r);
    /* The slow task has been cancelled and has finished: its line is
     * printed before this one. */
    printf("   wait_for(slow task) returned %s after %s 0.03 s\n",
           code_name(rc), at_least(t0, 0.03));
    printf("   (the task was cancelled, and had finished before wait_for "
           "returned)\n");

    weft_spawn(fast_task, I2P(42), &t);
    rc = weft_wait_for(t, 0.03, &r);
    printf("   wait_for(fast task) returned %s with its result, %ld\n",
           code_name(rc), (long)P2I(r));
}

/* 3. Scopes nest: a call fails because of the outermost scope whose time is
 * up, and only that scope's close returns 1. */
static void nested(void)
{
    printf("3. nested timeouts\n");
    weft_scope *outer, *inner;

    /* async with timeout(1): ... async with timeout(0.02): ... */
    weft_scope_open(1.0, &outer);
    weft_scope_open(0.02, &inner);
    int rc = weft_sleep(10);
    int inner_expired = weft_scope_close(inner);
    int rc2 = weft_sleep(0.01); /* still inside the outer scope: fine */
    int outer_expired = weft_scope_close(outer);
    printf("   inner 0.02 s inside outer 1 s: the sleep returned %s, inner "
           "close %d;\n",
           code_name(rc), inner_expired);
    printf("   then a sleep in the outer scope returned %s, outer close "
           "%d\n",
           code_name(rc2), outer_expired);

    /* async with timeout_at(loop.time() + 0.02): async with timeout(10): */
    weft_scope_open_at(weft_now() + 0.02, &outer);
    weft_scope_open(10, &inner);
    rc = weft_sleep(10);
    inner_expired = weft_scope_close(inner);
    outer_expired = weft_scope_close(outer);
    printf("   inner 10 s inside outer 0.02 s: the sleep returned %s, "
           "inner close %d, outer close %d\n",
           code_name(rc), inner_expired, outer_expired);
}

/* Cleanup that has to wait: writes the state back, say. */
static int save_state(void)
{
    return weft_sleep(0.02);
}

/* 4. Once the time is up, every wait in the scope fails - cleanup's too.
 * A shield lets it finish. */
static void shielded_cleanup(void)
{
    printf("4. cleanup after a timeout\n");
    weft_scope *sc;
    weft_scope_open(0.03, &sc);
    int rc = weft_sleep(10);
    printf("   the work returned %s\n", code_name(rc));

    rc = save_state();
    printf("   cleanup without a shield returned %s at once\n", code_name(rc));

    weft_shield_begin(); /* the scope's deadline does not reach in here */
    rc = save_state();
    weft_shield_end();
    printf("   cleanup under a shield returned %s: it finished\n",
           code_name(rc));

    printf("   weft_scope_close returned %d\n", weft_scope_close(sc));
}

static void *main_task(void *arg)
{
    (void)arg;
    timeout_block();
    wait_for();
    nested();
    shielded_cleanup();
    return NULL;
}

int main(void)
{
    int rc = weft_run(main_task, NULL, NULL); /* asyncio.run(main()) */
    if (rc != 0) {
        fprintf(stderr, "%s\n",
                weft_errmsg() ? weft_errmsg() : weft_strerror(rc));
        return 1;
    }
    return 0;
}

/*
 * test_overflow.c - a task that overflows its stack gets a clear message
 * naming it and the process aborts, in every guard tier: the guard page
 * (guard-install, mprotect) faults at once; the canary tier notices at the
 * task's next switch.  Each case runs in a child process, with the tier
 * forced through WEFT_GUARD.  Faults that are not guard hits still reach
 * the handler that was installed before weft's.
 */
#define _GNU_SOURCE
#include "check.h"
#include "coro/sanitize.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define STACK (32 * 1024)

static char *top;
static size_t limit = STACK; /* the diving task's usable stack */

/* Recurses 1 KiB per frame until 2 KiB past the bottom of the stack (in
 * the guard region, short of anything beyond it), then switches. */
static __attribute__((noinline)) int dive(int depth)
{
    char pad[1024];
    memset(pad, depth, sizeof pad); /* every byte: the canary is in there */
    __asm__ volatile("" : : "r"(pad) : "memory");
    if ((size_t)(top - (char *)pad) > limit + 2048) {
        weft_yield();
        return pad[0];
    }
    return dive(depth + 1) + pad[0];
}

static void *overflow(void *arg)
{
    (void)arg;
    char here;
    top = &here;
    return I2P(dive(0));
}

/* A frame far larger than the guard page jumps past it: still reported,
 * from the stack pointer. */
static __attribute__((noinline)) int big_frame(int x)
{
    char big[256 * 1024];
    memset(big, x, sizeof big);
    __asm__ volatile("" : : "r"(big) : "memory");
    return big[x];
}

static void *jump_past(void *arg)
{
    (void)arg;
    return I2P(big_frame(1));
}

static void *main_big(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "big-frame"};
    weft_task *t;
    REQUIRE(weft_spawn_ex(jump_past, NULL, &o, &t) == 0);
    weft_await(t, NULL);
    return NULL;
}

static void run_big(void *arg)
{
    (void)arg;
    weft_run(main_big, NULL, NULL);
    fprintf(stderr, "survived\n");
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "deep-diver", .stack_size = STACK};
    weft_task *t;
    REQUIRE(weft_spawn_ex(overflow, NULL, &o, &t) == 0);
    weft_await(t, NULL);
    return NULL;
}

static void run_overflow(void *tier)
{
    if (tier)
        setenv("WEFT_GUARD", tier, 1);
    else
        unsetenv("WEFT_GUARD");
    weft_run(main_task, NULL, NULL);
    fprintf(stderr, "survived\n");
}

static void check_tier(const char *tier, const char *expect_how)
{
    char *out;
    int f0 = check_failures;
    int st = check_fork(run_overflow, (void *)tier, &out);
#if WEFT_ASAN
    /* Without a guard page, AddressSanitizer (which knows each task's stack
     * bounds through the fiber hooks) reports the overflow before the
     * canary is checked. */
    if (tier && !strcmp(tier, "canary") &&
        strstr(out, "AddressSanitizer: stack-overflow")) {
        free(out);
        return;
    }
#endif
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(out, "stack overflow in task 'deep-diver'") != NULL);
    /* Without a guard, the fault that ends a deeper frame can also come
     * first (the stack pointer below the stack): reported all the same. */
    CHECK(strstr(out, expect_how) != NULL ||
          (!strcmp(expect_how, "canary") && strstr(out, "jumped past")));
    CHECK(strstr(out, "stack_size") != NULL);
    if (check_failures != f0)
        fprintf(stderr, "--- tier %s, child said:\n%s", tier ? tier : "best",
                out);
    free(out);
}

/* Default-size stacks get their guards ahead, several per system call: the
 * guards of stacks 4-7 are installed when stack 4 is carved.  The diver
 * gets stack 6 (the main task has stack 0, the holders 1-5), or 5 if the
 * main task's stack were not pooled: either way one installed ahead. */
static void *holder(void *arg)
{
    (void)arg;
    weft_sleep(60); /* keeps its stack while the diver runs */
    return NULL;
}

static void *main_pooled(void *arg)
{
    (void)arg;
    weft_task *h[5], *t;
    for (int i = 0; i < 5; i++)
        REQUIRE(weft_spawn(holder, NULL, &h[i]) == 0);
    weft_spawn_opts o = {.name = "pooled-diver"};
    REQUIRE(weft_spawn_ex(overflow, NULL, &o, &t) == 0);
    weft_await(t, NULL);
    return NULL;
}

static void run_pooled(void *arg)
{
    (void)arg;
    unsetenv("WEFT_GUARD");
    limit = WEFT_STACK_DEFAULT;
    weft_run(main_pooled, NULL, NULL);
    fprintf(stderr, "survived\n");
}

/* The tier the process would pick, as weft reports it. */
static void *noop(void *arg)
{
    return arg;
}

static void print_tier(void *tier)
{
    setenv("WEFT_GUARD", tier, 1);
    weft_run(noop, NULL, NULL);
    fprintf(stderr, "%s\n", weft_guard_name());
}

static volatile sig_atomic_t user_handler_ran;

static void user_segv(int sig)
{
    (void)sig;
    user_handler_ran = 1;
    _exit(42);
}

static void *wild_write(void *arg)
{
    (void)arg;
    volatile int *volatile p = NULL; /* not a guard page */
    *p = 1;
    return NULL;
}

static void run_wild(void *arg)
{
    (void)arg;
    signal(SIGSEGV, user_segv);
    weft_run(wild_write, NULL, NULL);
}

static void case_tier_best(void *arg)
{
    (void)arg;
    check_tier(NULL, "");
}

static void case_tier_mprotect(void *arg)
{
    (void)arg;
    check_tier("mprotect", "guard page");
}

static void case_tier_canary(void *arg)
{
    (void)arg;
    check_tier("canary", "canary");
}

static void case_big_frame(void *arg)
{
    (void)arg;
    char *out;
    if (!WEFT_ASAN) { /* AddressSanitizer reports this one itself */
        int st = check_fork(run_big, NULL, &out);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
        CHECK(strstr(out, "stack overflow in task 'big-frame'") != NULL);
        /* Which depends on what lies below: the guard page (a neighbour
         * stack's memory was then overwritten first - compile with
         * -fstack-clash-protection to rule that out) or nothing mapped. */
        CHECK(strstr(out, "jumped past") || strstr(out, "guard page"));
        free(out);
    } else {
        check_case_skip("AddressSanitizer reports this one itself");
    }
}

static void case_pooled(void *arg)
{
    (void)arg;
    char *out;
    int st = check_fork(run_pooled, NULL, &out);
#if WEFT_ASAN
    if (strstr(out, "AddressSanitizer: stack-overflow")) {
        free(out);
        return;
    }
#endif
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(out, "stack overflow in task 'pooled-diver'") != NULL);
    CHECK(strstr(out, "guard page") != NULL);
    if (!(WIFSIGNALED(st) && strstr(out, "guard page")))
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);
}

static void case_print_tier(void *arg)
{
    (void)arg;
    char *out;
    check_fork(print_tier, "canary", &out);
    CHECK(strstr(out, "canary") != NULL);
    free(out);
    check_fork(print_tier, "mprotect", &out);
    CHECK(strstr(out, "mprotect") != NULL);
    free(out);
}

/* Another fault reaches the program's own handler.  (Under
 * AddressSanitizer, its runtime keeps SIGSEGV for itself.) */
static void case_wild(void *arg)
{
    (void)arg;
    char *out;
    if (!WEFT_ASAN) {
        int st = check_fork(run_wild, NULL, &out);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
        free(out);
    } else {
        check_case_skip("AddressSanitizer keeps SIGSEGV for itself");
    }
}

/* In this process: the best tier (guard-install on Linux 6.13+, else
 * mprotect; qemu-user gets mprotect since its madvise is a no-op). */
static void case_this_process(void *arg)
{
    (void)arg;
    weft_run(noop, NULL, NULL);
    printf("guard tier: %s, switch: %s\n", weft_guard_name(),
           weft_switch_name());
    CHECK(strcmp(weft_guard_name(), "canary") != 0);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("tier_best", case_tier_best, NULL),
    CHECK_PLAIN("tier_mprotect", case_tier_mprotect, NULL),
    CHECK_PLAIN("tier_canary", case_tier_canary, NULL),
    CHECK_PLAIN("big_frame", case_big_frame, NULL),
    CHECK_PLAIN("default_stack_guard", case_pooled, NULL),
    CHECK_PLAIN("print_tier", case_print_tier, NULL),
    CHECK_PLAIN("other_fault", case_wild, NULL),
    CHECK_PLAIN("this_process", case_this_process, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

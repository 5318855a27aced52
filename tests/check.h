/*
 * check.h - the test helper every test program links.
 *
 * A test is one program: main() calls check_begin(), runs its cases and
 * returns check_end(), which fails the test on any leak - weft allocations
 * or mappings still live, or more file descriptors, mappings or threads
 * than at check_begin().  Exit codes: 0 pass, 1 fail, 77 skipped.
 */
#ifndef WEFT_CHECK_H
#define WEFT_CHECK_H

#include "weft.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern int check_failures;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
            check_failures++;                                                 \
        }                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);       \
        if (check_a_ != check_b_) {                                           \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_);          \
            check_failures++;                                                 \
        }                                                                     \
    } while (0)

/* Like CHECK but stops the test at once (for preconditions). */
#define REQUIRE(cond)                                                         \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__,          \
                    __LINE__, #cond);                                         \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((intptr_t)(p))

/* Records the process's resources (fds, mappings, threads). */
void check_begin(void);
/* Checks for leaks against check_begin and prints the verdict.  Returns the
 * exit code for main. */
int check_end(void);
/* Tests that create threads: the C library caches thread stacks and
 * per-thread malloc arenas after join, which shows as extra mappings.
 * Allow that many (weft's own mappings are still counted exactly). */
void check_allow_maps(int extra);
/* Exits 77 with a reason. */
_Noreturn void check_skip(const char *why);

/* WEFT_TEST_SCALE (default 1.0): multiplies heavy counts; at least 1. */
long check_scaled(long n);

/* Runs fn(arg) in a forked child with stderr captured.  Returns the raw
 * wait status; *out receives the child's stderr (malloc'd, NUL-terminated,
 * caller frees). */
int check_fork(void (*fn)(void *), void *arg, char **out);

/* Counts of the process's open fds, mappings and threads. */
int check_count_fds(void);
int check_count_maps(void);
int check_count_threads(void);
/* Threads of this process whose name (comm) is `name`. */
int check_count_threads_named(const char *name);

/* Does the thread count mean anything here?  Not under an emulator, which
 * runs threads of its own. */
bool check_threads_reliable(void);

/* Running under qemu-user, valgrind or a sanitizer: timing-sensitive or
 * very heavy cases may be scaled down. */
bool check_slow_env(void);

/* ---- named cases ---- */

/* Seconds a case may run before the alarm names it and exits 1. */
#define CHECK_CASE_ALARM 8

/* The case running now (check_case sets it; a program may set it for a
 * case it runs its own way): the alarm handler names it. */
extern const char *check_case_name;

/* Makes SIGALRM print "case <check_case_name>: TIMED OUT (hang)" and exit
 * 1; call once before the first case. */
void check_case_alarm_install(void);

/* Runs fn(arg) as the main task of a new loop, as case `name`, under an
 * alarm of CHECK_CASE_ALARM seconds; weft_run must return `want`.  Prints
 * "ok   <name> <seconds>" or "case <name>: FAILED". */
void check_case(const char *name, weft_fn fn, void *arg, int want);

/* Yields until cond holds (bounded: 100,000 yields). */
#define CHECK_YIELD_UNTIL(cond)                                               \
    do {                                                                      \
        for (int check_yu_ = 0; !(cond); check_yu_++) {                       \
            REQUIRE(check_yu_ < 100000);                                      \
            weft_yield();                                                     \
        }                                                                     \
    } while (0)

/* Sleeps in 1 ms steps until cond holds (bounded: about 3 s). */
#define CHECK_SLEEP_UNTIL(cond)                                               \
    do {                                                                      \
        for (int check_su_ = 0; !(cond); check_su_++) {                       \
            REQUIRE(check_su_ < 3000);                                        \
            REQUIRE(weft_sleep(0.001) == 0);                                  \
        }                                                                     \
    } while (0)

/* Both strings non-NULL and equal. */
bool check_streq(const char *a, const char *b);

#endif

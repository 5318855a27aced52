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

/* Counts a failed check and prints "[case NAME] FILE:LINE: message" (the
 * case part when a case is running).  The CHECK macros call it. */
void check__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "[case NAME] " while a case runs, else "". */
const char *check__where(void);

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            check__fail(__FILE__, __LINE__, "CHECK failed: %s", #cond);       \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);       \
        if (check_a_ != check_b_)                                             \
            check__fail(__FILE__, __LINE__,                                   \
                        "CHECK_EQ failed: %s == %lld, %s == %lld", #a,        \
                        check_a_, #b, check_b_);                              \
    } while (0)

/* Like CHECK but stops the test at once (for preconditions). */
#define REQUIRE(cond)                                                         \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s%s:%d: REQUIRE failed: %s\n", check__where(),  \
                    __FILE__, __LINE__, #cond);                               \
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

/* xorshift64: the next value of *state (which must start non-zero), for
 * tests that want the same "random" sequence on every run, each from a
 * state of its own. */
uint64_t check_xorshift(uint64_t *state);

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

/* ---- named cases ----
 *
 * Every case has a name.  A program lists its cases in one table and hands
 * it to check_main, or runs them one by one with check_case.  Either way
 * the program's arguments (read from /proc/self/cmdline by check_begin, so
 * main keeps its signature) choose what runs:
 *
 *   prog                 every case, in order, in this one process (the
 *                        default: cases share process-wide state as a
 *                        program of weft's users would)
 *   prog NAME...         only the named cases; an unknown name exits 2
 *                        and lists the names
 *   prog --list          prints the names, runs nothing
 *   prog --fork          (or WEFT_TEST_FORK=1) each case in a forked child
 *                        of its own, under a timeout, so that a crash or a
 *                        hang names its case and the others still run.
 *                        The runner forks only while it has never started
 *                        a loop itself; a case flagged CHECK_SERIAL runs in
 *                        the runner, in order, after the forked cases.
 *
 * Each case prints "ok   NAME SECONDS", "skip NAME: WHY" or
 * "case NAME: FAILED ..."; a failed CHECK names the case running.
 * check_end's last line is "cases: N passed, N failed, N skipped", which
 * tests/run.sh adds up. */

/* Seconds a check_case case may run before the alarm names it and exits 1. */
#define CHECK_CASE_ALARM 8
/* The default for a table's cases (WEFT_TEST_CASE_TIMEOUT overrides it). */
#define CHECK_CASE_TIMEOUT 60

/* The case runs in the runner's process even with --fork (after the forked
 * ones): it needs process-wide state that earlier cases left. */
#define CHECK_SERIAL 1u
/* No weft allocation may be live when the case returns. */
#define CHECK_NO_LEAK 2u

struct check_case_def {
    const char *name;
    weft_fn task;          /* run as the main task of a new loop, or */
    void (*plain)(void *); /* called as is: runs its own loops/threads */
    void *arg;
    int want;              /* what weft_run must return (task only) */
    unsigned flags;        /* CHECK_SERIAL, CHECK_NO_LEAK */
    int timeout;           /* seconds; 0: CHECK_CASE_TIMEOUT */
};

/* Table rows. */
#define CHECK_TASK(name, fn, arg) {(name), (fn), NULL, (arg), 0, 0, 0}
#define CHECK_TASK_WANT(name, fn, arg, want)                                  \
    {(name), (fn), NULL, (arg), (want), 0, 0}
#define CHECK_PLAIN(name, fn, arg) {(name), NULL, (fn), (arg), 0, 0, 0}
#define CHECK_PLAIN_SERIAL(name, fn, arg)                                     \
    {(name), NULL, (fn), (arg), 0, CHECK_SERIAL, 0}

/* check_begin, the table's selected cases, check_end: main's whole body
 * is `return CHECK_MAIN(cases);`. */
int check_main(const struct check_case_def *cases, size_t n);
#define CHECK_MAIN(table) check_main((table), sizeof(table) / sizeof(table)[0])

/* Runs one case (a row not in a table) as the arguments choose. */
void check_run_case(const struct check_case_def *c);

/* The case running now ("(none)" between cases): the alarm and the CHECK
 * macros name it.  A program may set it for work it runs its own way. */
extern const char *check_case_name;

/* Makes SIGALRM print "case <check_case_name>: TIMED OUT (hang)" and exit
 * 1.  check_begin installs it; a program that replaced it may call this
 * again. */
void check_case_alarm_install(void);

/* Runs fn(arg) as the main task of a new loop, as case `name`, under an
 * alarm of CHECK_CASE_ALARM seconds; weft_run must return `want`. */
void check_case(const char *name, weft_fn fn, void *arg, int want);
/* The same, for a case the program's code around it depends on (it leaves
 * or reads state in this process): CHECK_SERIAL - with --fork it runs in
 * the runner, and every case after it too. */
void check_case_serial(const char *name, weft_fn fn, void *arg, int want);

/* Marks the running case skipped (it should return at once): counted as
 * skipped unless a check failed. */
void check_case_skip(const char *why);

/* ---- helpers shared by the cases ---- */

/* Runs fn(arg) as the main task of a new loop, inside a case: weft_run
 * must return 0 and leave no weft allocation live. */
void check_run_clean(weft_fn fn, void *arg);
/* Makes the next weft allocation (or mapping) of the process fail. */
void check_alloc_fail_next(void);
/* Disarms check_alloc_fail_next: true if that failure was injected. */
bool check_alloc_fail_hit(void);
/* Yields until *counter >= target (bounded: 10,000 yields). */
void check_yield_until(const int *counter, int target);
/* Yields n times. */
void check_yield_n(int n);
/* Busy until weft_now() >= t: nothing else runs, the loop notices nothing
 * (no timer fires, the loop's clock stays where it was) - a task that
 * starves its loop. */
void check_spin_until(double t);

/* A pipe watchdog: ends a wait on a pipe that cancellation failed to end
 * (by writing to the pipe after `secs`), so that a broken build fails its
 * checks instead of hanging (a task waiting on an fd keeps the loop from
 * detecting a deadlock).  Start it in a task; stop it when no longer
 * needed, which checks that it did not fire. */
typedef struct check_watchdog {
    int fd;
    double secs;
    int fired;
    weft_task *task;
} check_watchdog;
void check_watchdog_start(check_watchdog *w, int fd, double secs);
void check_watchdog_stop(check_watchdog *w);

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

/*
 * test_idle.c - an idle loop costs no CPU, whatever is open.
 *
 * Proves that while the main task sleeps 2 s, the process uses at most
 * 20 ms of CPU (user + system, getrusage), with every kind of object open
 * and waiting at once:
 * - progress bars: in log mode with a total (a pipe, which once kept the
 *   loop polling with a zero timeout), in log mode without a total, and in
 *   terminal mode (a pseudo-terminal);
 * - idle thread-pool threads (after a job);
 * - a generator whose producer is parked in a yield;
 * - a task waiting on an empty queue, a task waiting on a held lock, a task
 *   waiting on an event, a task waiting in a task set's next;
 * - a cancel scope with a far deadline around the sleep.
 * And, case by case, that each kind alone stays under the same budget, so a
 * regression names its culprit.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define IDLE_S 2.0
#define BUDGET_S 0.020

enum {
    BAR_LOG_TOTAL = 1 << 0,
    BAR_LOG = 1 << 1,
    BAR_TTY = 1 << 2,
    POOL = 1 << 3,
    GEN = 1 << 4,
    WAITERS = 1 << 5,
    SCOPE = 1 << 6,
    ALL = (1 << 7) - 1,
};

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static void *job(void *arg)
{
    return arg;
}

static void *producer(void *arg)
{
    (void)arg;
    for (long i = 1;; i++)
        if (weft_gen_yield((void *)i))
            return NULL;
}

static weft_queue *queue;
static weft_lock lock = WEFT_LOCK_INIT;
static weft_event event = WEFT_EVENT_INIT;

static void *getter(void *arg)
{
    (void)arg;
    void *item;
    weft_queue_get(queue, &item);
    return NULL;
}

static void *locker(void *arg)
{
    (void)arg;
    if (weft_lock_acquire(&lock) == 0)
        weft_lock_release(&lock);
    return NULL;
}

static void *eventer(void *arg)
{
    (void)arg;
    weft_event_wait(&event);
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    weft_sleep(INFINITY);
    return NULL;
}

static void *idle_main(void *arg)
{
    unsigned what = (unsigned)(uintptr_t)arg;
    int pipefd[2] = {-1, -1}, master = -1, slave = -1;
    weft_bar *bars[3] = {NULL, NULL, NULL};
    if (what & (BAR_LOG_TOTAL | BAR_LOG))
        REQUIRE(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) == 0);
    if (what & BAR_LOG_TOTAL) {
        weft_bar_opts o = {.total = 100, .desc = "log", .fd = pipefd[1]};
        REQUIRE(weft_bar_new(&o, &bars[0]) == 0);
        weft_bar_update(bars[0], 3);
    }
    if (what & BAR_LOG) {
        weft_bar_opts o = {.desc = "log, no total", .fd = pipefd[1]};
        REQUIRE(weft_bar_new(&o, &bars[1]) == 0);
        weft_bar_update(bars[1], 3);
    }
    if (what & BAR_TTY) {
        REQUIRE(openpty(&master, &slave, NULL, NULL, NULL) == 0);
        fcntl(master, F_SETFL, O_NONBLOCK);
        weft_bar_opts o = {.total = 100, .desc = "tty", .fd = slave};
        REQUIRE(weft_bar_new(&o, &bars[2]) == 0);
        weft_bar_update(bars[2], 3);
    }
    if (what & POOL)
        REQUIRE(weft_to_thread(job, NULL, NULL) == 0);
    weft_gen *g = NULL;
    if (what & GEN) {
        void *v;
        REQUIRE(weft_gen_new(producer, NULL, &g) == 0);
        REQUIRE(weft_gen_next(g, &v) == 1);
    }
    weft_task *t[5];
    int nt = 0;
    weft_taskset *set = NULL;
    if (what & WAITERS) {
        REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &queue) == 0);
        REQUIRE(weft_lock_acquire(&lock) == 0);
        REQUIRE(weft_spawn(getter, NULL, &t[nt++]) == 0);
        REQUIRE(weft_spawn(locker, NULL, &t[nt++]) == 0);
        REQUIRE(weft_spawn(eventer, NULL, &t[nt++]) == 0);
        REQUIRE(weft_taskset_new(&set) == 0);
        weft_task *s;
        REQUIRE(weft_spawn(sleeper, NULL, &s) == 0);
        REQUIRE(weft_taskset_add(set, s) == 0);
        REQUIRE(weft_yield() == 0); /* all of them wait now */
    }
    weft_scope *scope = NULL;
    if (what & SCOPE)
        REQUIRE(weft_scope_open(3600.0, &scope) == 0);

    double c0 = cpu_now(), t0 = weft_now();
    CHECK_EQ(weft_sleep(IDLE_S), 0);
    double used = cpu_now() - c0, took = weft_now() - t0;
    if (used > BUDGET_S)
        fprintf(stderr, "objects %#x: %.1f ms of CPU in %.2f s idle\n", what,
                used * 1e3, took);
    CHECK(used <= BUDGET_S);

    if (scope)
        CHECK_EQ(weft_scope_close(scope), 0);
    if (what & WAITERS) {
        weft_event_set(&event);
        weft_lock_release(&lock);
        weft_queue_try_put(queue, NULL);
        for (int i = 0; i < nt; i++)
            CHECK_EQ(weft_await(t[i], NULL), 0);
        CHECK_EQ(weft_taskset_free(set), 0); /* cancels the sleeper */
        weft_queue_free(queue);
    }
    if (g)
        CHECK_EQ(weft_gen_close(g), 0);
    for (int i = 0; i < 3; i++)
        if (bars[i])
            CHECK_EQ(weft_bar_close(bars[i]), 0);
    if (pipefd[0] >= 0) {
        close(pipefd[0]);
        close(pipefd[1]);
    }
    if (master >= 0) {
        close(master);
        close(slave);
    }
    return NULL;
}

static void run(const char *name, unsigned what)
{
    int before = check_failures;
    CHECK_EQ(weft_run(idle_main, (void *)(uintptr_t)what, NULL), 0);
    printf("%s %s\n", check_failures == before ? "ok  " : "FAIL", name);
}

int main(void)
{
    check_begin();
    if (check_slow_env())
        check_skip("CPU use is not meaningful under an emulator, valgrind "
                   "or a sanitizer");
    check_allow_maps(8); /* pool threads' cached stacks and arenas */
    run("everything open at once", ALL);
    run("bar, log mode with a total", BAR_LOG_TOTAL);
    run("bar, terminal mode", BAR_TTY);
    return check_end();
}

/*
 * watchdog.c - the blocked-loop warning (asyncio debug mode's "Executing
 * <Task> took 0.250 seconds"): a task that runs longer than a threshold
 * without suspending holds its whole loop - no other task runs, no timer
 * fires - and is named on stderr.
 *
 * One thread per process, started with the first watched loop and kept
 * for the process's life (a thread per weft_run would cost each run a
 * thread's start and join): every quarter of
 * the threshold it samples each loop's progress - the turn count, the
 * switch budget and the running task's record (core.h: stored by the loop
 * with no more cost than plain stores) - and a loop whose sample has not
 * moved while a task runs is held by that task.  The running record is
 * published with release order at each switch, so the task as the loop set
 * it up is visible here with it; the warning reads its id and function
 * (records live in an arena that is never unmapped while the loop runs).  At most one
 * line per task per second, through the bar writer (weft_bar_printf), so
 * it never breaks a progress bar.
 *
 * WEFT_BLOCKED_WARN: the threshold in seconds (0.1 is asyncio's); unset, 0
 * or "off": no watchdog.  Read once per process, at its first loop.  Off
 * by default for now: its thread outlives the loops, and a process with a
 * thread cannot fork a child that starts threads under ThreadSanitizer.
 *
 * Idle costs nothing measurable: while no loop runs a task at a sample,
 * the interval doubles up to a second (a task that starts holding its loop
 * is then seen up to a second late, and named a threshold after).  The
 * thread is named "weft-watchdog" and runs on a stack of its own in .bss,
 * so it adds no mapping.
 *
 * A fork while the thread samples leaves the child with no watchdog
 * thread (the next watched loop starts one) and a usable lock.
 */
#define _GNU_SOURCE
#include "../core.h"

#include "watchdog.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEAT_NS 1000000000ull /* a task is named at most once a second */

typedef struct watched {
    weft__service svc; /* first: the loop's service list points at it */
    weft__loop *L;
    struct watched *next;
    /* The last sample, and since when it has not moved. */
    uint32_t turns;
    weft__record *task;
    int budget;
    uint64_t since;
    uint32_t warned_task;
    uint64_t warned_at;
} watched;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t threshold_ns; /* 0: off */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static watched *loops; /* under mu */
static bool running;
#define IDLE_STEP_MAX 1000000000ull
/* ThreadSanitizer wants most of a megabyte of a thread's own stack. */
#if WEFT_TSAN
#define THREAD_STACK (1024 * 1024)
#else
#define THREAD_STACK (64 * 1024)
#endif
static _Alignas(64) char thread_stack[THREAD_STACK];

static void before_fork(void)
{
    pthread_mutex_lock(&mu);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&mu);
}

/* The child has no watchdog thread: nothing is watched there until its
 * next loop starts one - except under ThreadSanitizer, which forbids a
 * child of a multi-threaded process to start threads: none there. */
static void after_fork_child(void)
{
    loops = NULL;
    running = false;
#if WEFT_TSAN
    threshold_ns = 0;
#endif
    pthread_mutex_unlock(&mu);
}

static void read_env(void)
{
    double t = 0;
    const char *e = getenv("WEFT_BLOCKED_WARN");
    if (e && *e && strcmp(e, "off") != 0) {
        char *end;
        double v = strtod(e, &end);
        if (end != e && !*end && v > 0 && v < 3600)
            t = v < 0.004 ? 0.004 : v; /* sampled each quarter: >= 1 ms */
    }
    threshold_ns = (uint64_t)(t * 1e9);
    if (threshold_ns)
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &a);
    pthread_condattr_destroy(&a);
}

/* "#3 (worker)": what the warning calls the running task r - its id and
 * function, fields of the record set before it ran.  Not its name: that
 * string is freed when the task finishes, which it may do at any moment
 * from here. */
static void describe(weft__record *r, char *buf, size_t len)
{
    Dl_info di;
    weft_fn fn = r->fn;
    if (fn && dladdr((void *)fn, &di) && di.dli_sname)
        snprintf(buf, len, "#%u (%s)", r->idx, di.dli_sname);
    else
        snprintf(buf, len, "#%u", r->idx);
}

/* One loop's sample; returns true (and the line) if a warning is due. */
static bool sample(watched *w, uint64_t now, char *line, size_t len)
{
    weft__loop *L = w->L;
    uint32_t turns = __atomic_load_n(&L->wd_turns, __ATOMIC_RELAXED);
    weft__record *task = __atomic_load_n(&L->cur, __ATOMIC_ACQUIRE);
    int budget = __atomic_load_n(&L->budget, __ATOMIC_RELAXED);
    if (!task || turns != w->turns || task != w->task ||
        budget != w->budget) {
        w->turns = turns;
        w->task = task;
        w->budget = budget;
        w->since = now;
        return false;
    }
    uint64_t held = now - w->since;
    if (held < threshold_ns ||
        (w->warned_task == task->idx && now - w->warned_at < REPEAT_NS))
        return false;
    w->warned_task = task->idx;
    w->warned_at = now;
    char who[160];
    describe(task, who, sizeof who);
    snprintf(line, len,
             "weft: task %s has held its loop for %.3f s without "
             "suspending (a blocking call? weft_to_thread runs one on the "
             "pool)",
             who, (double)held / 1e9);
    return true;
}

static void *watch(void *arg);

/* With mu held. */
static void start_thread(void)
{
    /* Signals are for the program's threads, not this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    pthread_attr_setstack(&a, thread_stack, sizeof thread_stack);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    running = pthread_create(&t, &a, watch, NULL) == 0;
    pthread_attr_destroy(&a);
    if (running)
        pthread_setname_np(t, "weft-watchdog");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void *watch(void *arg)
{
    (void)arg;
    uint64_t busy_step = threshold_ns / 4, step = busy_step;
    pthread_mutex_lock(&mu);
    for (;;) {
        uint64_t wake = weft__clock_ns() + step;
        struct timespec ts = {(time_t)(wake / 1000000000ull),
                              (long)(wake % 1000000000ull)};
        while (pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT) {
        }
        uint64_t now = weft__clock_ns();
        /* Named with mu held (a closing loop waits, so its records stay
         * valid), printed without: a write to a full stderr pipe must not
         * hold up loops starting, closing or forking. */
        enum { MAX_LINES = 8 };
        char lines[MAX_LINES][320];
        int n = 0;
        bool busy = false;
        for (watched *w = loops; w && n < MAX_LINES; w = w->next) {
            n += sample(w, now, lines[n], sizeof lines[n]);
            busy |= w->task != NULL;
        }
        step = busy ? busy_step
                    : (step * 2 < IDLE_STEP_MAX ? step * 2 : IDLE_STEP_MAX);
        pthread_mutex_unlock(&mu);
        for (int i = 0; i < n; i++)
            weft_bar_printf("%s", lines[i]);
        pthread_mutex_lock(&mu);
    }
    return NULL; /* not reached: the thread lives as long as the process */
}

/* The loop closes: it leaves the list (waiting for a sample in progress,
 * which may be naming its task). */
static void unwatch(weft__loop *L, weft__service *sv)
{
    (void)L;
    watched *w = (watched *)sv;
    pthread_mutex_lock(&mu);
    for (watched **p = &loops; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&mu);
    weft__free(w);
}

static const weft__service_ops watch_ops = {.close = unwatch};

void weft__watchdog_watch(weft__loop *L)
{
    pthread_once(&once, read_env);
    if (!threshold_ns)
        return;
    watched *w = (watched *)weft__service_get(L, &watch_ops, sizeof *w);
    if (!w)
        return; /* out of memory: this loop goes unwatched */
    w->L = L;
    pthread_mutex_lock(&mu);
    if (!running)
        start_thread();
    w->next = loops;
    loops = w;
    pthread_mutex_unlock(&mu);
}

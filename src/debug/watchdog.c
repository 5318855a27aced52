/*
 * watchdog.c - the blocked-loop warning (asyncio debug mode's "Executing
 * <Task> took 0.250 seconds"): a task that runs longer than a threshold
 * without suspending holds its whole loop - no other task runs, no timer
 * fires - and is named on stderr.
 *
 * One thread per process, started with the first watched loop and kept
 * while loops run (a thread per weft_run would cost each run a thread's
 * start and join, ~60 us against a run's ~200 us): every quarter of
 * the threshold it samples each loop's progress - the turn count, the
 * switch budget and the running task's record (core.h: stored by the loop
 * with no more cost than plain stores) - and a loop whose sample has not
 * moved while a task runs is held by that task.  The running record is
 * published with release order at each switch, so the task as the loop set
 * it up is visible here with it; the warning reads its id and function
 * (records live in an arena that is never unmapped while the loop runs).
 * At most one line per task per second, through the bar writer
 * (weft_bar_printf), so it never breaks a progress bar.
 *
 * WEFT_BLOCKED_WARN: the threshold in seconds (default 0.1, asyncio's);
 * 0 or "off": no watchdog.  Read once per process, at its first loop.
 *
 * Idle costs nothing measurable: while no loop runs a task at a sample,
 * the interval doubles up to a second (a task that starts holding its loop
 * is then seen up to a second late, and named a threshold after), and a
 * second after the last loop closed the thread ends (the next loop starts
 * another).  The thread is named "weft-watchdog" and runs on a stack of
 * its own in .bss, so it adds no mapping.
 *
 * fork: the thread is stopped and joined before the fork (a pthread_atfork
 * handler) and started again in the parent if loops remain, so a program
 * whose only other thread is the watchdog forks as a single-threaded
 * process (ThreadSanitizer forbids a child of a multi-threaded process to
 * start threads).  The child starts no watchdog of its own until its next
 * loop - and none at all under ThreadSanitizer, which cannot tell whether
 * the parent had other threads.
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
/* Under mu. */
static watched *loops;
/* ENDED: returned by itself, not joined yet; JOINING: being joined;
 * LOST: did not end within JOIN_WAIT_S of being asked (stuck writing to
 * a stderr nobody reads): left alone, and no other is started on its
 * stack. */
static enum { NONE, RUNNING, ENDED, JOINING, LOST } thread_state;
#define JOIN_WAIT_S 2
static bool stop;         /* asks the thread to end (fork, exit) */
static bool exiting;      /* the process exits: no thread any more */
static pthread_t thread;
#define IDLE_STEP_MAX 1000000000ull
#define LINGER_NS 1000000000ull /* the thread outlives the last loop by 1 s */
/* ThreadSanitizer wants most of a megabyte of a thread's own stack. */
#if WEFT_TSAN
#define THREAD_STACK (1024 * 1024)
#else
#define THREAD_STACK (64 * 1024)
#endif
static _Alignas(64) char thread_stack[THREAD_STACK];

static void start_thread(void);

/* With mu held: returns once no thread is left and its stack is free
 * again - asking a running thread to end, joining one that ended by
 * itself, or waiting for another caller's join - or once the thread is
 * LOST: a join never waits more than JOIN_WAIT_S, so neither a fork nor
 * exit can hang on a thread blocked in a write. */
static void end_thread(void)
{
    if (thread_state == RUNNING) {
        stop = true;
        pthread_cond_broadcast(&cv);
    }
    if (thread_state == RUNNING || thread_state == ENDED) {
        thread_state = JOINING;
        pthread_mutex_unlock(&mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += JOIN_WAIT_S;
        int rc = pthread_timedjoin_np(thread, NULL, &until);
        pthread_mutex_lock(&mu);
        thread_state = rc == 0 ? NONE : LOST;
        stop = rc != 0;
        pthread_cond_broadcast(&cv);
    }
    while (thread_state == JOINING)
        pthread_cond_wait(&cv, &mu);
}

/* mu stays held across the fork, so the child finds it in a known state
 * and no sample is half done. */
static void before_fork(void)
{
    pthread_mutex_lock(&mu);
    end_thread();
}

static void after_fork_parent(void)
{
    if (loops && !exiting && thread_state == NONE)
        start_thread();
    pthread_mutex_unlock(&mu);
}

/* At exit the thread is ended and joined: a thread that ended by itself
 * and was never joined is a leak to ThreadSanitizer. */
static void at_exit(void)
{
    pthread_mutex_lock(&mu);
    exiting = true;
    end_thread();
    pthread_mutex_unlock(&mu);
}

/* The child inherits no thread and watches none of the parent's loops. */
static void after_fork_child(void)
{
    loops = NULL;
    thread_state = NONE;
#if WEFT_TSAN
    threshold_ns = 0;
#endif
    pthread_mutex_unlock(&mu);
}

static void read_env(void)
{
    double t = 0.1;
    const char *e = getenv("WEFT_BLOCKED_WARN");
    if (e && *e) {
        /* Anything but a threshold or off keeps the default. */
        char *end;
        double v = strtod(e, &end);
        if (strcmp(e, "off") == 0 || (end != e && !*end && v == 0))
            t = 0;
        else if (end != e && !*end && v > 0 && v < 3600)
            t = v < 0.004 ? 0.004 : v; /* sampled each quarter: >= 1 ms */
    }
    threshold_ns = (uint64_t)(t * 1e9);
    if (threshold_ns) {
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
        atexit(at_exit);
    }
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &a);
    pthread_condattr_destroy(&a);
}

/* "#3 (worker)": what the warning calls a task - its id and function,
 * fields of its record set before it ran.  Not its name: that string is
 * freed when the task finishes, which it may do at any moment from here. */
static void describe(uint32_t idx, weft_fn fn, char *buf, size_t len)
{
    Dl_info di;
    if (fn && dladdr((void *)fn, &di) && di.dli_sname)
        snprintf(buf, len, "#%u (%s)", idx, di.dli_sname);
    else
        snprintf(buf, len, "#%u", idx);
}

/* Whether L has moved since w's last sample (the sample is then renewed,
 * as of now). */
static bool moved(watched *w, uint64_t now)
{
    weft__loop *L = w->L;
    uint32_t turns = __atomic_load_n(&L->wd_turns, __ATOMIC_RELAXED);
    weft__record *task = __atomic_load_n(&L->cur, __ATOMIC_ACQUIRE);
    int budget = __atomic_load_n(&L->budget, __ATOMIC_RELAXED);
    if (task && turns == w->turns && task == w->task && budget == w->budget)
        return false;
    w->turns = turns;
    w->task = task;
    w->budget = budget;
    w->since = now;
    return true;
}

/* One loop's sample; returns true (and the line) if a warning is due. */
static bool sample(watched *w, uint64_t now, char *line, size_t len)
{
    if (moved(w, now) || now - w->since < threshold_ns)
        return false;
    /* The running task's id and function, from a record the loop set up
     * before running it; kept only if the loop has still not moved after
     * the reads (else the record may already serve another task). */
    uint32_t idx = __atomic_load_n(&w->task->idx, __ATOMIC_RELAXED);
    weft_fn fn = __atomic_load_n(&w->task->fn, __ATOMIC_RELAXED);
    uint64_t held = now - w->since;
    if (moved(w, now) ||
        (w->warned_task == idx && now - w->warned_at < REPEAT_NS))
        return false;
    w->warned_task = idx;
    w->warned_at = now;
    char who[160];
    describe(idx, fn, who, sizeof who);
    snprintf(line, len,
             "weft: task %s has held its loop for %.3f s without "
             "suspending (a blocking call? weft_to_thread runs one on the "
             "pool)",
             who, (double)held / 1e9);
    return true;
}

static void *watch(void *arg);

/* With mu held, and no thread. */
static void start_thread(void)
{
    /* Signals are for the program's threads, not this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstack(&a, thread_stack, sizeof thread_stack);
    if (pthread_create(&thread, &a, watch, NULL) == 0) {
        thread_state = RUNNING;
        pthread_setname_np(thread, "weft-watchdog");
    }
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void *watch(void *arg)
{
    (void)arg;
    uint64_t busy_step = threshold_ns / 4, step = busy_step;
    uint64_t alone_since = 0; /* when the list was last seen empty */
    pthread_mutex_lock(&mu);
    while (!stop) {
        uint64_t wake = weft__clock_ns() + step;
        struct timespec ts = {(time_t)(wake / 1000000000ull),
                              (long)(wake % 1000000000ull)};
        while (!stop && pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT) {
        }
        if (stop)
            break;
        uint64_t now = weft__clock_ns();
        if (!loops) {
            if (!alone_since)
                alone_since = now;
            else if (now - alone_since >= LINGER_NS)
                break; /* joined by whoever starts the next */
        } else {
            alone_since = 0;
        }
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
        if (!n)
            continue;
        pthread_mutex_unlock(&mu);
        for (int i = 0; i < n; i++)
            weft_bar_printf("%s", lines[i]);
        pthread_mutex_lock(&mu);
    }
    if (thread_state == RUNNING)
        thread_state = ENDED;
    pthread_mutex_unlock(&mu);
    return NULL;
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
    if (thread_state == ENDED || thread_state == JOINING)
        end_thread(); /* one that ended by itself: its stack is free */
    if (thread_state == NONE && !exiting)
        start_thread();
    w->next = loops;
    loops = w;
    pthread_mutex_unlock(&mu);
}

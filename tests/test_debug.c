/*
 * test_debug.c - what a running program says about itself (weft/debug.h):
 * loop metrics that add up after a known workload, and a task dump naming
 * each state - not started, ready, running, sleeping, awaiting a task,
 * waiting on a lock, on a descriptor, finished and not awaited, a pool
 * job - with the time spent waiting and the backtrace of a task suspended
 * three calls deep (this program is built with frame pointers and
 * -rdynamic, as docs/debugging.md recommends).
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

/* Not static: -rdynamic gives it a name in the dump. */
void *weft_test_nap(void *arg);
void *weft_test_nap(void *arg)
{
    weft_sleep(*(double *)arg);
    return NULL;
}

/* Sleeps until the absolute time *arg: tasks given one deadline wake in
 * one turn, whatever the machine's speed. */
static void *sleep_to(void *arg)
{
    weft_scope *sc;
    if (weft_scope_open_at(*(double *)arg, &sc) == 0) {
        weft_sleep(10);
        weft_scope_close(sc);
    }
    return NULL;
}

static void *metrics(void *arg)
{
    (void)arg;
    weft_loop_metrics a, b;
    CHECK_EQ(weft_loop_metrics_read(NULL), -EINVAL);
    CHECK_EQ(weft_loop_metrics_read(&a), 0);
    CHECK_EQ(a.tasks_live, 1); /* this one */
    CHECK_EQ(a.tasks_spawned, a.tasks_finished + a.tasks_live);

    double d = 0.01, until = weft_now() + 0.02;
    weft_task *t[10];
    for (int i = 0; i < 10; i++)
        REQUIRE(weft_spawn(sleep_to, &until, &t[i]) == 0);
    weft_yield(); /* they all start and sleep */
    CHECK_EQ(weft_loop_metrics_read(&b), 0);
    CHECK_EQ(b.tasks_live, 11);
    CHECK(b.timers >= 10);
    CHECK_EQ(weft_gather(t, 10, NULL, NULL, 0), 0);
    CHECK_EQ(weft_loop_metrics_read(&b), 0);
    CHECK_EQ(b.tasks_spawned - a.tasks_spawned, 10);
    CHECK_EQ(b.tasks_finished - a.tasks_finished, 10);
    CHECK_EQ(b.tasks_live, 1);
    CHECK_EQ(b.tasks_spawned, b.tasks_finished + b.tasks_live);
    CHECK(b.task_runs - a.task_runs >= 20); /* each ran, then woke */
    CHECK(b.polls > a.polls);
    CHECK_EQ(b.timers, 0);
    CHECK(b.ready_peak >= 10); /* woken together by their timers */
    /* Nothing else to do: the loop sleeps in the poller for the 20 ms. */
    weft_loop_metrics c;
    CHECK_EQ(weft_sleep(0.02), 0);
    CHECK_EQ(weft_loop_metrics_read(&c), 0);
    CHECK(c.sleep_seconds - b.sleep_seconds >= 0.015);

    /* Leaves: descriptors, a bar, the pool. */
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    weft_fd *fa, *fb;
    REQUIRE(weft_fd_open(sv[0], &fa) == 0 && weft_fd_open(sv[1], &fb) == 0);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    weft_bar_opts bo = {.total = 10, .fd = null};
    weft_bar *bar;
    REQUIRE(weft_bar_new(&bo, &bar) == 0);
    CHECK_EQ(weft_loop_metrics_read(&b), 0);
    CHECK_EQ(b.fds_open, a.fds_open + 2);
    CHECK_EQ(b.bars_open, a.bars_open + 1);
    weft_bar_close(bar);
    close(null);
    weft_fd_close(fa);
    weft_fd_close(fb);
    CHECK_EQ(weft_to_thread(weft_test_nap, &d, NULL), 0);
    CHECK_EQ(weft_loop_metrics_read(&b), 0);
    CHECK(b.pool_threads >= 1);
    CHECK_EQ(b.pool_queued, 0);
    /* The worker counts itself idle just after it handed the result. */
    CHECK_SLEEP_UNTIL(weft_loop_metrics_read(&b) == 0 && b.pool_busy == 0);
    CHECK_EQ(b.fds_open, a.fds_open);
    CHECK_EQ(b.bars_open, a.bars_open);
    return NULL;
}

/* ---- the dump ---- */

static weft_lock lock;
static int pipe_r = -1;

static void *take_lock(void *arg)
{
    (void)arg;
    if (weft_lock_acquire(&lock) == 0)
        weft_lock_release(&lock);
    return NULL;
}

static void *read_fd(void *arg)
{
    char c;
    weft_fd_read(arg, &c, 1);
    return NULL;
}

static void *await_it(void *arg)
{
    weft_await(arg, NULL);
    return NULL;
}

static void *block_in_pool(void *arg)
{
    (void)arg;
    char c;
    return I2P(read(pipe_r, &c, 1)); /* until the test writes */
}

static void *quick(void *arg)
{
    return arg;
}

/* Three calls deep, each kept as a frame of its own. */
__attribute__((noinline)) void weft_test_level3(void);
__attribute__((noinline)) void weft_test_level2(void);
__attribute__((noinline)) void weft_test_level1(void);

__attribute__((noinline)) void weft_test_level3(void)
{
    weft_sleep(30);
    __asm__ volatile("" ::: "memory"); /* not a tail call */
}

__attribute__((noinline)) void weft_test_level2(void)
{
    weft_test_level3();
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void weft_test_level1(void)
{
    weft_test_level2();
    __asm__ volatile("" ::: "memory");
}

static void *deep(void *arg)
{
    (void)arg;
    weft_test_level1();
    return NULL;
}

static char *dump_to_string(int *n)
{
    char path[] = "/tmp/weft-dump-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    *n = weft_dump_tasks(fd);
    off_t len = lseek(fd, 0, SEEK_END);
    char *s = malloc((size_t)len + 1);
    REQUIRE(s);
    REQUIRE(pread(fd, s, (size_t)len, 0) == len);
    s[len] = '\0';
    close(fd);
    return s;
}

/* Spawns a sleeper and returns its handle: the sleeper outlives its
 * parent. */
static void *spawn_orphan(void *arg)
{
    static double d = 30;
    (void)arg;
    weft_task *t = NULL;
    weft_spawn(weft_test_nap, &d, &t);
    return t;
}

static void *dump(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_dump_tasks(-1), -EINVAL);
    int pp[2], sv[2];
    REQUIRE(pipe2(pp, O_CLOEXEC) == 0);
    pipe_r = pp[0];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    weft_fd *fd;
    REQUIRE(weft_fd_open(sv[0], &fd) == 0);
    REQUIRE(weft_lock_acquire(&lock) == 0);

    weft_spawn_opts named = {.name = "sleeper"};
    weft_task *sleeper, *awaiter, *locker, *reader, *job, *done, *later,
        *deep_t;
    double d = 30;
    REQUIRE(weft_spawn_ex(weft_test_nap, &d, &named, &sleeper) == 0);
    REQUIRE(weft_spawn(await_it, sleeper, &awaiter) == 0);
    REQUIRE(weft_spawn(take_lock, NULL, &locker) == 0);
    REQUIRE(weft_spawn(read_fd, fd, &reader) == 0);
    REQUIRE(weft_spawn(deep, NULL, &deep_t) == 0);
    REQUIRE(weft_spawn_blocking(block_in_pool, NULL, &job) == 0);
    REQUIRE(weft_spawn(quick, NULL, &done) == 0);
    weft_task *orphaner, *orphan = NULL;
    REQUIRE(weft_spawn(spawn_orphan, NULL, &orphaner) == 0);
    REQUIRE(weft_await(orphaner, (void **)&orphan) == 0 && orphan);
    weft_sleep(0.05); /* all of them settle; 50 ms of waiting */
    REQUIRE(weft_spawn(quick, NULL, &later) == 0); /* not started */

    int n = 0;
    char *s = dump_to_string(&n);
    CHECK_EQ(n, 10);
    CHECK(strstr(s, "weft: 10 tasks on loop"));
    /* Parents: main's children, and one whose parent has finished. */
    unsigned main_id = 0;
    const char *m = strstr(s, "'main' (#");
    CHECK(m && sscanf(m, "'main' (#%u)", &main_id) == 1);
    char line[64];
    snprintf(line, sizeof line, "weft_test_nap (test_debug+0x");
    const char *sl = strstr(s, line);
    snprintf(line, sizeof line, ", child of #%u: sleeping", main_id);
    CHECK(sl && strstr(sl, line) && strchr(sl, '\n') > strstr(sl, line));
    CHECK(strstr(s, " (finished): sleeping")); /* the orphan */
    CHECK(strstr(s, "'main' (#"));
    CHECK(strstr(s, "running (it asked for this dump)"));
    CHECK(strstr(s, "'sleeper' (#"));
    CHECK(strstr(s, " weft_test_nap (test_debug+0x")); /* its function */
    CHECK(strstr(s, ": sleeping, for 0.0") && strstr(s, "(deadline in 29."));
    CHECK(strstr(s, "awaiting task 'sleeper'"));
    CHECK(strstr(s, "a lock"));
    CHECK(strstr(s, "waiting to read fd "));
    CHECK(strstr(s, "a job elsewhere"));
    CHECK(strstr(s, "finished (ok), not yet awaited"));
    CHECK(strstr(s, ": not started"));
    /* The deep task's backtrace names the three levels, innermost first
     * (but for builds with the ucontext switch, which have none). */
#ifdef WEFT_CTX_UCONTEXT
    CHECK(strstr(s, "(no backtrace with this build's context switch)"));
#else
    const char *l3 = strstr(s, "weft_test_level3+");
    const char *l2 = strstr(s, "weft_test_level2+");
    const char *l1 = strstr(s, "weft_test_level1+");
    CHECK(l3 && l2 && l1 && l3 < l2 && l2 < l1);
    if (!(l3 && l2 && l1) || getenv("WEFT_TEST_SHOW"))
        fprintf(stderr, "%s", s);
#endif
    free(s);

    /* Undo it all. */
    weft_lock_release(&lock);
    CHECK_EQ(write(pp[1], "x", 1), 1);
    CHECK_EQ(weft_await(job, NULL), 0);
    weft_task_cancel(sleeper);
    weft_task_cancel(deep_t);
    weft_task_cancel(orphan);
    CHECK_EQ(weft_await(orphan, NULL), -ECANCELED);
    CHECK_EQ(weft_await(awaiter, NULL), 0);
    CHECK_EQ(weft_await(locker, NULL), 0);
    /* (the sleeper's handle was the awaiter's to consume) */
    CHECK_EQ(weft_await(deep_t, NULL), -ECANCELED);
    weft_fd_close(fd); /* wakes the reader */
    CHECK_EQ(weft_await(reader, NULL), 0);
    CHECK_EQ(weft_await(done, NULL), 0);
    CHECK_EQ(weft_await(later, NULL), 0);
    close(sv[1]);
    close(pp[0]);
    close(pp[1]);
    return NULL;
}

/* ---- never awaited, never finished ---- */

static void *forever(void *arg)
{
    (void)arg;
    weft_sleep(3600);
    return NULL;
}

/* Not static: the report names it (with -rdynamic). */
void *weft_test_answer(void *arg);
void *weft_test_answer(void *arg)
{
    (void)arg;
    return (void *)43;
}

static void *leaves_tasks(void *arg)
{
    (void)arg;
    weft_task *result, *named_result, *pending, *detached, *nothing;
    weft_spawn(weft_test_answer, NULL, &result); /* a result nobody takes */
    weft_spawn_opts answer = {.name = "answer"};
    weft_spawn_ex(quick, (void *)42, &answer, &named_result);
    weft_spawn_opts named = {.name = "lingering"};
    double d = 3600;
    /* cancelled at shutdown: named in the report, with its function */
    weft_spawn_ex(weft_test_nap, &d, &named, &pending);
    weft_spawn(forever, NULL, &detached); /* the loop's: exempt */
    weft_task_detach(detached);
    weft_spawn(quick, NULL, &nothing); /* NULL: nothing to say */
    weft_sleep(0.01);
    return NULL;
}

static void unawaited_child(void *arg)
{
    (void)arg;
    _exit(weft_run(leaves_tasks, NULL, NULL) == 0 ? 0 : 1);
}

/* A named task that finished before anyone awaited it keeps its name for
 * the report at close; awaiting or gathering it later sees its result and
 * no message, and the name goes with the slot (check_end counts leaks). */
static void *kept_name_is_not_a_message(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "early"};
    weft_task *t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_spawn_ex(quick, I2P(i + 1), &o, &t[i]), 0);
    weft_sleep(0.001); /* all three finish, unawaited */
    void *r = NULL;
    CHECK_EQ(weft_await(t[0], &r), 0);
    CHECK_EQ(P2I(r), 1);
    CHECK(weft_errmsg() == NULL);
    void *rs[2] = {0};
    int errs[2] = {-1, -1};
    char *msgs[2] = {(char *)"x", (char *)"y"};
    weft_gather_opts g = {.flags = WEFT_GATHER_RETURN_ERRORS, .messages = msgs};
    CHECK_EQ(weft_gather_ex(t + 1, 2, rs, errs, &g), 0);
    CHECK(P2I(rs[0]) == 2 && P2I(rs[1]) == 3);
    CHECK(errs[0] == 0 && errs[1] == 0);
    CHECK(msgs[0] == NULL && msgs[1] == NULL);
    return NULL;
}

/* Run from main, outside any loop (the child runs its own). */
static void unawaited(void *arg)
{
    (void)arg;
    char *err = NULL;
    int st = check_fork(unawaited_child, NULL, &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Finished tasks are named as live ones are, though their records
     * were reused: by name, or by function. */
    CHECK(err && strstr(err, "weft: task 'answer' (#3) test_debug+0x"));
    CHECK(err && strstr(err, ", child of #1 (finished), finished with a "
                             "result (0x2a) that was never awaited"));
    CHECK(err && strstr(err, "weft: task #2 weft_test_answer (test_debug+0x"));
    CHECK(err && strstr(err, "finished with a result (0x2b) that was never "
                             "awaited"));
    CHECK(err && strstr(err, "weft: task 'lingering' (#"));
    CHECK(err && strstr(err, ") weft_test_nap (test_debug+0x"));
    CHECK(err && strstr(err, ", child of #1 (finished), was cancelled and "
                             "never awaited"));
    int lines = 0;
    for (const char *p = err; p && (p = strstr(p, "weft: task ")); p++)
        lines++;
    CHECK_EQ(lines, 3);
    if (lines != 3)
        fprintf(stderr, "%s", err ? err : "");
    free(err);
}

/* ---- the blocked-loop warning ---- */

/* Not static: the warning names it (with -rdynamic). */
void *weft_test_hog(void *arg);
void *weft_test_hog(void *arg)
{
    (void)arg;
    /* A blocking call, straight on the loop; longer where the watchdog's
     * first sample may come late (sanitizers, emulators, a loaded
     * machine's thread start). */
    usleep(check_slow_env() ? 400000 : 150000);
    return NULL;
}

static void *hog_then_yields(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "hog"};
    weft_task *t;
    if (weft_spawn_ex(weft_test_hog, NULL, &o, &t) == 0)
        weft_await(t, NULL);
    /* A million quick switches hold nothing. */
    long n = check_slow_env() ? 100000 : 1000000;
    for (long i = 0; i < n; i++)
        weft_yield();
    return NULL;
}

static void watchdog_child(void *arg)
{
    (void)arg;
    _exit(weft_run(hog_then_yields, NULL, NULL) == 0 ? 0 : 1);
}

/* The watchdog is configured at a process's first loop: the children are
 * forked before this process runs one. */

static void watchdog(void *arg)
{
    (void)arg;
    unsetenv("WEFT_BLOCKED_WARN"); /* on by default, at 0.1 s */
    char *err = NULL;
    int st = check_fork(watchdog_child, NULL, &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    const char *w = err ? strstr(err, "weft: task #2 (weft_test_hog) has "
                                      "held its loop for ")
                        : NULL;
    CHECK(w != NULL);
    CHECK(w && strstr(w, "without suspending"));
    int lines = 0;
    for (const char *p = err; p && (p = strstr(p, "has held its loop")); p++)
        lines++;
    CHECK_EQ(lines, 1); /* once, and never for the yields */
    if (lines != 1)
        fprintf(stderr, "%s", err ? err : "");
    free(err);
}

/* WEFT_BLOCKED_WARN=off (or 0): no warning, and a threshold above the
 * hog's 0.15 s: none either. */
static void watchdog_off(void *arg)
{
    (void)arg;
    static const char *const values[] = {"off", "0", "0.5"};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        setenv("WEFT_BLOCKED_WARN", values[i], 1);
        char *err = NULL;
        int st = check_fork(watchdog_child, NULL, &err);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK(err && !strstr(err, "has held its loop"));
        free(err);
    }
    unsetenv("WEFT_BLOCKED_WARN");
}

static int count_watchdogs(void)
{
    return check_count_threads_named("weft-watchdog");
}

/* A fork while the watchdog runs: it is joined before and runs again
 * after, in the parent only. */
static void *fork_while_watched(void *arg)
{
    (void)arg;
    weft_task *t;
    if (weft_spawn(weft_test_hog, NULL, &t) == 0) /* the watchdog runs */
        weft_await(t, NULL);
    CHECK_EQ(count_watchdogs(), 1);
    pid_t pid = fork();
    if (pid == 0)
        _exit(count_watchdogs() == 0 ? 0 : 1);
    REQUIRE(pid > 0);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(count_watchdogs(), 1);
    return NULL;
}

static void *nothing(void *arg)
{
    return arg;
}

/* Forked just after a loop closed, while the watchdog thread lingers, a
 * child may start threads: the thread was joined before the fork, so the
 * process forked with one thread (ThreadSanitizer kills a child of a
 * multi-threaded process that starts one).  Run from main, outside any
 * loop: to ThreadSanitizer a live task is a thread too. */
static void fork_after_a_loop(void *arg)
{
    (void)arg;
    REQUIRE(weft_run(weft_test_hog, NULL, NULL) == 0);
    CHECK_EQ(count_watchdogs(), 1); /* it lingers */
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t th;
        int ok = pthread_create(&th, NULL, nothing, NULL) == 0 &&
                 pthread_join(th, NULL) == 0;
        _exit(ok ? 0 : 1);
    }
    REQUIRE(pid > 0);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A watchdog stuck writing its warning to a stderr nobody reads does not
 * hold up exit: the join at exit gives up after a while. */
static void exit_past_a_stuck_watchdog(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* stderr: a full pipe, so the warning's write blocks. */
        fcntl(p[1], F_SETFL, O_NONBLOCK);
        char fill[4096] = {0};
        while (write(p[1], fill, sizeof fill) > 0) {
        }
        fcntl(p[1], F_SETFL, 0);
        dup2(p[1], 2);
        weft_run(weft_test_hog, NULL, NULL);
        usleep(300000); /* the watchdog is in its write by now */
        exit(0);
    }
    REQUIRE(pid > 0);
    close(p[1]);
    int st = 0, waited = 0;
    while (waitpid(pid, &st, WNOHANG) == 0 && waited < 1000) {
        usleep(10000);
        waited++;
    }
    if (waited == 1000) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    CHECK(waited < 1000 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(p[0]);
}

/* The thread ends a second after the last loop closed. */
static void watchdog_ends(void *arg)
{
    (void)arg;
    int n = 0;
    for (int i = 0; i < 300 && (n = count_watchdogs()) > 0; i++)
        usleep(10000);
    CHECK_EQ(n, 0);
}

/* ---- the dump on a signal (WEFT_DUMP_SIGNAL) ---- */

typedef struct spinner {
    long yields; /* done so far */
    long want;
} spinner;

/* A task that keeps running across the dump: its yields all complete. */
static void *spin(void *arg)
{
    spinner *sp = arg;
    while (sp->yields < sp->want && weft_yield() == 0)
        sp->yields++;
    return NULL;
}

static void *loop_with_tasks(void *arg)
{
    atomic_int *dumped = arg;
    double d = 30;
    weft_spawn_opts named = {.name = "napper"};
    weft_task *nap, *sp;
    spinner s = {0, 20000};
    REQUIRE(weft_spawn_ex(weft_test_nap, &d, &named, &nap) == 0);
    REQUIRE(weft_spawn(spin, &s, &sp) == 0);
    weft_sleep(0.01);
    if (atomic_fetch_add(dumped, 1) == 1) /* both loops are ready */
        kill(getpid(), SIGQUIT);
    weft_sleep(0.2); /* the dump happens meanwhile */
    CHECK_EQ(weft_await(sp, NULL), 0);
    CHECK_EQ(s.yields, s.want); /* not disturbed */
    weft_task_cancel(nap);
    weft_await(nap, NULL);
    return NULL;
}

static void *second_loop(void *arg)
{
    return (void *)(intptr_t)weft_run(loop_with_tasks, arg, NULL);
}

static void dumpsig_child(void *arg)
{
    (void)arg;
    static atomic_int ready;
    pthread_t th;
    if (pthread_create(&th, NULL, second_loop, &ready) != 0)
        _exit(2);
    int rc = weft_run(loop_with_tasks, &ready, NULL);
    void *rc2;
    pthread_join(th, &rc2);
    if (rc != 0 || rc2 != NULL)
        fprintf(stderr, "weft_run: %d and %d\n", rc, (int)(intptr_t)rc2);
    _exit(rc == 0 && rc2 == NULL && check_failures == 0 ? 0 : 1);
}

/* Every loop of the process dumps on the signal, between its tasks, and
 * goes on. */
static void dumpsig(void *arg)
{
    (void)arg;
    setenv("WEFT_DUMP_SIGNAL", "SIGQUIT", 1);
    setenv("WEFT_BLOCKED_WARN", "off", 1);
    char *err = NULL;
    int st = check_fork(dumpsig_child, NULL, &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int dumps = 0;
    for (const char *p = err; p && (p = strstr(p, "weft: SIGQUIT: ")); p++)
        dumps++;
    CHECK_EQ(dumps, 2);
    CHECK(err && strstr(err, "task 'napper' (#2) weft_test_nap"));
    CHECK(err && strstr(err, ": sleeping, for 0."));
    if (dumps != 2 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "status %#x:\n%s", st, err ? err : "");
    free(err);
    /* Not a signal one may dump on: said once, ignored. */
    setenv("WEFT_DUMP_SIGNAL", "SIGKILL", 1);
    err = NULL;
    st = check_fork(watchdog_child, NULL, &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(err && strstr(err, "WEFT_DUMP_SIGNAL=SIGKILL is not a signal"));
    free(err);
    unsetenv("WEFT_DUMP_SIGNAL");
    unsetenv("WEFT_BLOCKED_WARN");
}

/* Outside any loop, the calls that need one say so. */
static void without_a_loop(void *arg)
{
    (void)arg;
    weft_loop_metrics m;
    CHECK_EQ(weft_loop_metrics_read(&m), -EPERM);
    CHECK_EQ(weft_dump_tasks(2), -EPERM);
}

/* The watchdog is configured at a process's first loop: the cases that
 * fork children to watch it come before any case that runs a loop here. */
static const struct check_case_def cases[] = {
    CHECK_PLAIN("metrics_and_dump_need_a_loop", without_a_loop, NULL),
    CHECK_PLAIN("blocked_loop_warning_off_or_retuned", watchdog_off, NULL),
    CHECK_PLAIN("blocked_loop_warning_names_the_task_once", watchdog, NULL),
    CHECK_PLAIN("dump_signal_dumps_every_loop_and_goes_on", dumpsig, NULL),
    CHECK_TASK("metrics_add_up", metrics, NULL),
    CHECK_TASK("dump_names_each_state_and_a_deep_backtrace", dump, NULL),
    CHECK_TASK("fork_while_the_watchdog_runs", fork_while_watched, NULL),
    CHECK_TASK("kept_name_is_not_a_message", kept_name_is_not_a_message, NULL),
    CHECK_PLAIN("fork_after_a_loop_is_single_threaded", fork_after_a_loop,
                NULL),
    CHECK_PLAIN("exit_does_not_wait_for_a_watchdog_stuck_writing",
                exit_past_a_stuck_watchdog, NULL),
    CHECK_PLAIN("watchdog_thread_ends_after_the_last_loop", watchdog_ends,
                NULL),
    CHECK_PLAIN("loop_close_lists_what_nobody_awaited", unawaited, NULL),
};

int main(void)
{
    check_allow_maps(8);
    return CHECK_MAIN(cases);
}

/*
 * test_deadlock.c - when every task waits and nothing can wake any of
 * them, weft_run stops with -EDEADLK, names the stuck tasks, cancels them;
 * tasks that cannot finish even then are abandoned and reported (their
 * waits all unlinked before any of their stacks is freed).
 * Timers, fds and sleeping tasks with a deadline are wake sources.
 * The report names each stuck task by its function (module and offset,
 * its symbol where one is found) and, for a primitive, its kind and the
 * object's address - the weft_lock * (or weft_queue *) the program holds.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *sleep_forever(void *arg)
{
    (void)arg;
    int rc = weft_sleep(1.0 / 0.0);
    return I2P(rc);
}

/* main awaits a task that sleeps forever: nothing can wake either. */
static void *main_awaits_stuck(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "sleeper"};
    weft_task *t;
    REQUIRE(weft_spawn_ex(sleep_forever, NULL, &o, &t) == 0);
    void *r = NULL;
    int rc = weft_await(t, &r);
    /* Shutdown cancelled us, and the sleeper with us. */
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(P2I(r), -ECANCELED);
    return I2P(rc);
}

/* A task that cannot finish even when cancelled: a shielded wait forever. */
static void *stubborn(void *arg)
{
    (void)arg;
    weft_shield_begin();
    weft_sleep(1.0 / 0.0);
    CHECK(0); /* never resumed */
    return NULL;
}

static void *main_with_stubborn(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "stubborn"};
    weft_task *t;
    REQUIRE(weft_spawn_ex(stubborn, NULL, &o, &t) == 0);
    weft_task_detach(t);
    weft_sleep(0.001); /* a timer: not a deadlock while it runs */
    return I2P(5);
}

/* Timers are wake sources: a task sleeping 20 ms while main awaits it is
 * fine. */
static void *sleep_briefly(void *arg)
{
    weft_sleep(0.02);
    return arg;
}

static void *main_awaits_sleeper(void *arg)
{
    (void)arg;
    weft_task *t;
    REQUIRE(weft_spawn(sleep_briefly, I2P(3), &t) == 0);
    void *r;
    CHECK_EQ(weft_await(t, &r), 0);
    return r;
}

/* A file descriptor is a wake source: a task waiting on a pipe nobody
 * writes is not a deadlock while... a timer closes nothing, so a second
 * task writes after a sleep. */
static int pipefd[2];

static void *writer(void *arg)
{
    (void)arg;
    weft_sleep(0.01);
    CHECK_EQ(write(pipefd[1], "x", 1), 1);
    return NULL;
}

static void *main_io(void *arg)
{
    (void)arg;
    weft_task *t;
    REQUIRE(weft_spawn(writer, NULL, &t) == 0);
    weft_task_detach(t);
    CHECK_EQ(weft_io_wait(pipefd[0], WEFT_READABLE, -1), WEFT_READABLE);
    return NULL;
}

/* Tasks stuck on primitives: the report names each kind and the
 * object. */
static weft_semaphore stuck_sem = WEFT_SEMAPHORE_INIT(0);
static weft_event stuck_event = WEFT_EVENT_INIT;

static void *on_sem(void *arg)
{
    (void)arg;
    weft_sem_acquire(&stuck_sem);
    return NULL;
}

static void *on_event(void *arg)
{
    (void)arg;
    weft_event_wait(&stuck_event);
    return NULL;
}

static void *main_stuck_on_primitives(void *arg)
{
    (void)arg;
    weft_task *a, *b;
    weft_spawn_opts oa = {.name = "semwaiter"}, ob = {.name = "evwaiter"};
    REQUIRE(weft_spawn_ex(on_sem, NULL, &oa, &a) == 0);
    REQUIRE(weft_spawn_ex(on_event, NULL, &ob, &b) == 0);
    weft_await(a, NULL);
    weft_await(b, NULL);
    return NULL;
}

static void child_primitives(void *arg)
{
    (void)arg;
    int rc = weft_run(main_stuck_on_primitives, NULL, NULL);
    _exit(rc == -EDEADLK ? 0 : 1);
}

/* Unnamed tasks, each stuck on another kind of primitive: the report
 * gives each its function and the object it waits on. */
static weft_lock obj_lock = WEFT_LOCK_INIT;
static weft_lock obj_cond_lock = WEFT_LOCK_INIT;
static weft_cond obj_cond = WEFT_COND_INIT(&obj_cond_lock);
static weft_barrier obj_barrier = WEFT_BARRIER_INIT(2);
static weft_queue *obj_queue;

static void *on_lock(void *arg)
{
    (void)arg;
    weft_lock_acquire(&obj_lock); /* held by main */
    return NULL;
}

static void *on_cond(void *arg)
{
    (void)arg;
    weft_lock_acquire(&obj_cond_lock);
    weft_cond_wait(&obj_cond);
    weft_lock_release(&obj_cond_lock);
    return NULL;
}

static void *on_barrier(void *arg)
{
    (void)arg;
    weft_barrier_wait(&obj_barrier);
    return NULL;
}

static void *on_queue(void *arg)
{
    (void)arg;
    void *item;
    weft_queue_get(obj_queue, &item);
    return NULL;
}

static weft_fn const obj_fns[] = {on_lock, on_cond, on_barrier, on_queue};
#define N_OBJ (sizeof obj_fns / sizeof obj_fns[0])

static void *main_stuck_unnamed(void *arg)
{
    (void)arg;
    weft_task *t[N_OBJ];
    REQUIRE(weft_lock_acquire(&obj_lock) == 0);
    for (size_t i = 0; i < N_OBJ; i++)
        REQUIRE(weft_spawn(obj_fns[i], NULL, &t[i]) == 0);
    for (size_t i = 0; i < N_OBJ; i++)
        weft_await(t[i], NULL);
    weft_lock_release(&obj_lock);
    return NULL;
}

static void child_unnamed(void *arg)
{
    (void)arg;
    int rc = weft_run(main_stuck_unnamed, NULL, NULL);
    _exit(rc == -EDEADLK ? 0 : 1);
}

/* The report's line for task #idx, up to its end ("" if none). */
static const char *task_line(const char *out, unsigned idx, char *buf,
                             size_t len)
{
    char head[32];
    snprintf(head, sizeof head, "\n  task #%u ", idx);
    const char *p = strstr(out, head);
    buf[0] = '\0';
    if (p) {
        p++;
        size_t n = strcspn(p, "\n");
        snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p);
    }
    return buf;
}

/* "module+0xoffset" of a function of this program, as dladdr sees it. */
static void fn_where(weft_fn fn, char *buf, size_t len)
{
    Dl_info di;
    REQUIRE(dladdr((void *)(uintptr_t)fn, &di) && di.dli_fname);
    const char *mod = strrchr(di.dli_fname, '/');
    snprintf(buf, len, "%s+0x%lx", mod ? mod + 1 : di.dli_fname,
             (unsigned long)((uintptr_t)fn - (uintptr_t)di.dli_fbase));
}

static void check_unnamed(void *arg)
{
    (void)arg;
    char *out = NULL;
    /* Made here, so that the parent knows the handle the child uses. */
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &obj_queue) == 0);
    int st = check_fork(child_unnamed, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char want[128];
    const void *objs[N_OBJ] = {&obj_lock, &obj_cond, &obj_barrier, NULL};
    const char *kinds[N_OBJ] = {"a lock (weft_lock ", "a condition (weft_cond ",
                                "a barrier (weft_barrier ",
                                "an empty queue (get) (weft_queue "};
    /* The tasks are #2 to #5, spawned by main (#1) in order. */
    for (unsigned i = 0; i < N_OBJ; i++) {
        char line[512], where[96];
        task_line(out, 2 + i, line, sizeof line);
        if (!line[0]) {
            fprintf(stderr, "no line for task #%u\n", 2 + i);
            CHECK(0);
            continue;
        }
        fn_where(obj_fns[i], where, sizeof where);
        snprintf(want, sizeof want, "%s", where);
        if (!strstr(line, want))
            fprintf(stderr, "want \"%s\" in: %s\n", want, line);
        CHECK(strstr(line, want) != NULL);
        const void *obj = objs[i] ? objs[i] : (const void *)obj_queue;
        snprintf(want, sizeof want, "waiting on %s%p)", kinds[i], obj);
        if (!strstr(line, want))
            fprintf(stderr, "want \"%s\" in: %s\n", want, line);
        CHECK(strstr(line, want) != NULL);
    }
    if (check_failures)
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);
    CHECK_EQ(weft_queue_free(obj_queue), 0);
}

static void child_deadlock(void *arg)
{
    (void)arg;
    void *r = I2P(1);
    int rc = weft_run(main_awaits_stuck, NULL, &r);
    fprintf(stderr, "rc=%d r=%ld\n", rc, (long)P2I(r));
    _exit(rc == -EDEADLK && P2I(r) == -ECANCELED ? 0 : 1);
}

static void child_stubborn(void *arg)
{
    (void)arg;
    void *r = NULL;
    int rc = weft_run(main_with_stubborn, NULL, &r);
    fprintf(stderr, "rc=%d r=%ld\n", rc, (long)P2I(r));
    _exit(rc == 0 && P2I(r) == 5 ? 0 : 1);
}

static void case_deadlock(void *arg)
{
    (void)arg;
    char *out = NULL;
    int f0 = check_failures;
    int st = check_fork(child_deadlock, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "deadlock") != NULL);
    CHECK(strstr(out, "'main'") != NULL);
    CHECK(strstr(out, "awaiting task 'sleeper'") != NULL);
    CHECK(strstr(out, "'sleeper'") && strstr(out, "sleeping with no deadline"));
    if (check_failures != f0)
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);
}

static void case_primitives(void *arg)
{
    (void)arg;
    char *out = NULL;
    int f0 = check_failures;
    int st = check_fork(child_primitives, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "'semwaiter'") && strstr(out, "waiting on a semaphore"));
    CHECK(strstr(out, "'evwaiter'") && strstr(out, "waiting on an event"));
    char want[128];
    snprintf(want, sizeof want, "waiting on a semaphore (weft_semaphore %p)",
             (void *)&stuck_sem);
    CHECK(strstr(out, want) != NULL);
    snprintf(want, sizeof want, "waiting on an event (weft_event %p)",
             (void *)&stuck_event);
    CHECK(strstr(out, want) != NULL);
    if (check_failures != f0)
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);
}

static void case_stubborn(void *arg)
{
    (void)arg;
    char *out = NULL;
    int f0 = check_failures;
    int st = check_fork(child_stubborn, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "cannot finish") != NULL);
    CHECK(strstr(out, "'stubborn'") != NULL);
    if (check_failures != f0)
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);
}

/* Two stuck tasks, shielded, so shutdown cannot end them: one holds a
 * lock that lives on its own stack (a size of its own: unmapped, not
 * pooled, when it is freed), the other waits for that lock.  Abandoning
 * them must unlink the waiter from the lock before either stack goes. */
static weft_event never_set = WEFT_EVENT_INIT;

static void *waits_for_stack_lock(void *arg)
{
    weft_shield_begin();
    int rc = weft_lock_acquire(arg);
    weft_shield_end();
    return I2P(rc);
}

static void *holds_stack_lock(void *arg)
{
    (void)arg;
    weft_lock l = WEFT_LOCK_INIT;
    REQUIRE(weft_lock_acquire(&l) == 0);
    weft_spawn_opts o = {.name = "lockwaiter"};
    weft_task *t;
    REQUIRE(weft_spawn_ex(waits_for_stack_lock, &l, &o, &t) == 0);
    weft_task_detach(t);
    weft_shield_begin();
    weft_event_wait(&never_set);
    weft_shield_end();
    return NULL;
}

static void *main_stack_lock(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "lockholder", .stack_size = 64 * 1024};
    weft_task *t;
    REQUIRE(weft_spawn_ex(holds_stack_lock, NULL, &o, &t) == 0);
    weft_task_detach(t);
    CHECK_EQ(weft_sleep(0.01), 0);
    return NULL;
}

static void child_stack_lock(void *arg)
{
    (void)arg;
    _exit(weft_run(main_stack_lock, NULL, NULL) == 0 ? 0 : 1);
}

static void case_abandoned_lock_on_a_stack(void *arg)
{
    (void)arg;
    char *out = NULL;
    int f0 = check_failures;
    int st = check_fork(child_stack_lock, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "cannot finish") != NULL);
    CHECK(strstr(out, "'lockholder'") && strstr(out, "'lockwaiter'"));
    if (check_failures != f0)
        fprintf(stderr, "--- child (status %#x) said:\n%s", st, out);
    free(out);
}

static void case_awaits_sleeper(void *arg)
{
    (void)arg;
    void *r = NULL;
    CHECK_EQ(weft_run(main_awaits_sleeper, NULL, &r), 0);
    CHECK_EQ(P2I(r), 3);
}

static void case_io(void *arg)
{
    (void)arg;
    REQUIRE(pipe(pipefd) == 0);
    CHECK_EQ(weft_run(main_io, NULL, NULL), 0);
    close(pipefd[0]);
    close(pipefd[1]);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("deadlock_report", case_deadlock, NULL),
    CHECK_PLAIN("primitives", case_primitives, NULL),
    CHECK_PLAIN("unnamed", check_unnamed, NULL),
    CHECK_PLAIN("stubborn", case_stubborn, NULL),
    CHECK_PLAIN("abandoned_waiter_of_a_lock_on_a_stack",
                case_abandoned_lock_on_a_stack, NULL),
    CHECK_PLAIN("awaits_sleeper", case_awaits_sleeper, NULL),
    CHECK_PLAIN("io", case_io, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

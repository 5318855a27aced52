/*
 * test_deadlock.c - when every task waits and nothing can wake any of
 * them, weft_run stops with -EDEADLK, names the stuck tasks, cancels them;
 * tasks that cannot finish even then are abandoned and reported.
 * Timers, fds and sleeping tasks with a deadline are wake sources.
 */
#include "check.h"

#include <errno.h>
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

/* Tasks stuck on primitives: the report names each kind and where its
 * wait queue lies. */
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

int main(void)
{
    check_begin();
    char *out = NULL;

    int st = check_fork(child_deadlock, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "deadlock") != NULL);
    CHECK(strstr(out, "'main'") != NULL);
    CHECK(strstr(out, "awaiting task 'sleeper'") != NULL);
    CHECK(strstr(out, "'sleeper'") && strstr(out, "sleeping with no deadline"));
    if (check_failures)
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);

    st = check_fork(child_primitives, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "'semwaiter'") && strstr(out, "waiting on a semaphore"));
    CHECK(strstr(out, "'evwaiter'") && strstr(out, "waiting on an event"));
    CHECK(strstr(out, "wait queue at 0x") != NULL);
    if (check_failures)
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);

    st = check_fork(child_stubborn, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "cannot finish") != NULL);
    CHECK(strstr(out, "'stubborn'") != NULL);
    if (check_failures)
        fprintf(stderr, "--- child said:\n%s", out);
    free(out);

    void *r = NULL;
    CHECK_EQ(weft_run(main_awaits_sleeper, NULL, &r), 0);
    CHECK_EQ(P2I(r), 3);

    REQUIRE(pipe(pipefd) == 0);
    CHECK_EQ(weft_run(main_io, NULL, NULL), 0);
    close(pipefd[0]);
    close(pipefd[1]);
    return check_end();
}

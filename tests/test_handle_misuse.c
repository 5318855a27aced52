/*
 * test_handle_misuse.c - misusing the handle of an object weft allocates
 * (a generator, a queue, a task group, a task set, a stream) is an error
 * code, never a stray read or write.
 *
 * Proves, for each kind of object, that:
 * - closing (freeing) it twice is -EINVAL;
 * - every call after the close is -EINVAL, also once the handle's slot has
 *   been reused by a newer object of the same kind, which the stale handle
 *   leaves untouched;
 * - a pointer that never was such an object (a stack variable's address, a
 *   heap block, another kind's handle) is -EINVAL and the memory behind it
 *   is untouched (for a stream, a made-up value with bit 63 set may also
 *   be taken for another loop's handle: -EPERM);
 * - a live generator's or group's handle used from a thread without a
 *   loop is -EPERM; a freed queue's is -EINVAL there too;
 * - a task, scope or descriptor handle made up with a loop tag no loop of
 *   the process has had is -EINVAL, and so is one with this loop's tag
 *   but an index and generation no task has; a task handle of a loop that
 *   has closed is -EPERM, from the next loop.
 * (Bars, which other threads may update while they are closed, have
 * test_bar_handle.)
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Made-up values: a stack variable's address, a heap block filled with
 * 0xff, small numbers, all ones. */
typedef struct fakes {
    int on_stack;
    long *heap;
    void *v[5];
} fakes;

static void fakes_make(fakes *f)
{
    f->on_stack = 42;
    REQUIRE((f->heap = malloc(64)) != NULL);
    memset(f->heap, 0xff, 64);
    f->v[0] = &f->on_stack;
    f->v[1] = f->heap;
    f->v[2] = (void *)(uintptr_t)0x1234;
    f->v[3] = (void *)~(uintptr_t)0;
    f->v[4] = NULL;
}

/* The memory behind the made-up values is as it was. */
static void fakes_check_free(fakes *f)
{
    CHECK_EQ(f->on_stack, 42);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(f->heap[i], -1);
    free(f->heap);
}

/* Runs fn(arg) on a new thread without a loop and returns its result. */
static void *on_plain_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *r;
    REQUIRE(pthread_create(&t, NULL, fn, arg) == 0);
    pthread_join(t, &r);
    return r;
}

/* ---- generators ---- */

static void *count_to_3(void *arg)
{
    (void)arg;
    for (intptr_t i = 1; i <= 3; i++)
        if (weft_gen_yield((void *)i))
            break;
    return NULL;
}

static void gen_refused(weft_gen *g)
{
    void *v = I2P(7);
    CHECK_EQ(weft_gen_next(g, &v), -EINVAL);
    CHECK(v == I2P(7));
    CHECK_EQ(weft_gen_set_bar(g, NULL), -EINVAL);
    CHECK_EQ(weft_gen_close(g), -EINVAL);
}

static void *gen_closed_twice(void *arg)
{
    (void)arg;
    weft_gen *g;
    void *v;
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(weft_gen_close(g), 0); /* the producer is still parked */
    gen_refused(g);
    /* Never started. */
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    CHECK_EQ(weft_gen_close(g), 0);
    gen_refused(g);
    return NULL;
}

static void *gen_stale_after_reuse(void *arg)
{
    (void)arg;
    weft_gen *old, *g;
    void *v = NULL;
    REQUIRE(weft_gen_new(count_to_3, NULL, &old) == 0);
    CHECK_EQ(weft_gen_close(old), 0);
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    CHECK(g != old);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    gen_refused(old);
    CHECK_EQ(weft_gen_next(g, &v), 1); /* the new one goes on: 2 */
    CHECK(v == I2P(2));
    CHECK_EQ(weft_gen_close(g), 0);
    return NULL;
}

static void *gen_never(void *arg)
{
    (void)arg;
    fakes f;
    fakes_make(&f);
    for (size_t i = 0; i < sizeof f.v / sizeof *f.v; i++)
        gen_refused(f.v[i]);
    /* Another kind's handle. */
    weft_bar *b;
    weft_bar_opts o = {.disable = 1};
    REQUIRE(weft_bar_new(&o, &b) == 0);
    gen_refused((weft_gen *)b);
    CHECK_EQ(weft_bar_close(b), 0);
    fakes_check_free(&f);
    return NULL;
}

static void *gen_next_here(void *g)
{
    void *v;
    return I2P(weft_gen_next(g, &v) * 1000 + weft_gen_close(g));
}

static void *gen_other_thread(void *arg)
{
    (void)arg;
    weft_gen *g;
    void *v;
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    CHECK_EQ(P2I(on_plain_thread(gen_next_here, g)), -EPERM * 1000 - EPERM);
    CHECK_EQ(weft_gen_next(g, &v), 1); /* untouched */
    CHECK(v == I2P(1));
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK_EQ(P2I(on_plain_thread(gen_next_here, g)), -EINVAL * 1000 - EINVAL);
    return NULL;
}

/* ---- queues ---- */

static void queue_refused(weft_queue *q)
{
    void *v = I2P(7);
    CHECK_EQ(weft_queue_put(q, I2P(1)), -EINVAL);
    CHECK_EQ(weft_queue_try_put(q, I2P(1)), -EINVAL);
    CHECK_EQ(weft_queue_get(q, &v), -EINVAL);
    CHECK_EQ(weft_queue_try_get(q, &v), -EINVAL);
    CHECK(v == I2P(7));
    CHECK_EQ(weft_queue_size(q), 0);
    CHECK_EQ(weft_queue_task_done(q), -EINVAL);
    CHECK_EQ(weft_queue_join(q), -EINVAL);
    CHECK_EQ(weft_queue_shutdown(q, 1), -EINVAL);
    CHECK_EQ(weft_queue_free(q), -EINVAL);
}

static void *queue_freed_twice(void *arg)
{
    (void)arg;
    for (int kind = WEFT_QUEUE_FIFO; kind <= WEFT_QUEUE_LIFO; kind++) {
        weft_queue *q;
        REQUIRE(weft_queue_new(kind, 4, NULL, &q) == 0);
        CHECK_EQ(weft_queue_put(q, I2P(1)), 0);
        CHECK_EQ(weft_queue_free(q), 0); /* items are the caller's */
        queue_refused(q);
    }
    return NULL;
}

static void *queue_stale_after_reuse(void *arg)
{
    (void)arg;
    weft_queue *old, *q;
    void *v = NULL;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &old) == 0);
    CHECK_EQ(weft_queue_free(old), 0);
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &q) == 0);
    CHECK(q != old);
    CHECK_EQ(weft_queue_put(q, I2P(5)), 0);
    queue_refused(old);
    CHECK_EQ(weft_queue_size(q), 1);
    CHECK_EQ(weft_queue_get(q, &v), 0);
    CHECK(v == I2P(5));
    CHECK_EQ(weft_queue_free(q), 0);
    return NULL;
}

static void *queue_never(void *arg)
{
    (void)arg;
    fakes f;
    fakes_make(&f);
    for (size_t i = 0; i < sizeof f.v / sizeof *f.v; i++)
        queue_refused(f.v[i]);
    weft_gen *g;
    REQUIRE(weft_gen_new(count_to_3, NULL, &g) == 0);
    queue_refused((weft_queue *)g);
    CHECK_EQ(weft_gen_close(g), 0);
    fakes_check_free(&f);
    return NULL;
}

/* Outside any loop: new, free and size are callable there. */
static void *queue_no_loop(void *arg)
{
    (void)arg;
    weft_queue *q;
    REQUIRE(weft_queue_new(WEFT_QUEUE_LIFO, 0, NULL, &q) == 0);
    CHECK_EQ(weft_queue_put(q, I2P(1)), -EPERM); /* a live queue: no task */
    CHECK_EQ(weft_queue_free(q), 0);
    CHECK_EQ(weft_queue_free(q), -EINVAL);
    CHECK_EQ(weft_queue_put(q, I2P(1)), -EINVAL);
    CHECK_EQ(weft_queue_size(q), 0);
    return NULL;
}

static void *queue_other_thread(void *arg)
{
    (void)arg;
    on_plain_thread(queue_no_loop, NULL);
    return NULL;
}

/* ---- task groups ---- */

static void *nothing(void *arg)
{
    return arg;
}

static void group_refused(weft_group *g)
{
    int code = 7;
    weft_task *t = NULL;
    CHECK_EQ(weft_group_spawn(g, nothing, NULL, &t), -EINVAL);
    CHECK(t == NULL);
    CHECK_EQ(weft_group_wait(g), -EINVAL);
    CHECK_EQ(weft_group_cancel(g), -EINVAL);
    CHECK_EQ(weft_group_failures(g), -EINVAL);
    CHECK_EQ(weft_group_failure(g, 0, &code, NULL, NULL), -EINVAL);
    CHECK_EQ(code, 7);
    CHECK_EQ(weft_group_free(g), -EINVAL);
}

static void *group_freed_twice(void *arg)
{
    (void)arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    CHECK_EQ(weft_group_spawn(g, nothing, NULL, NULL), 0);
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    group_refused(g);
    return NULL;
}

static void *group_stale_after_reuse(void *arg)
{
    (void)arg;
    weft_group *old, *g;
    REQUIRE(weft_group_new(&old) == 0);
    CHECK_EQ(weft_group_wait(old), 0);
    CHECK_EQ(weft_group_free(old), 0);
    REQUIRE(weft_group_new(&g) == 0);
    CHECK(g != old);
    group_refused(old);
    CHECK_EQ(weft_group_spawn(g, nothing, NULL, NULL), 0);
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return NULL;
}

/* The owner returns without a wait: the group is freed then (and the
 * owner fails with -EINVAL), its handle stale for everyone. */
static weft_group *left_open;

static void *leave_group_open(void *arg)
{
    (void)arg;
    REQUIRE(weft_group_new(&left_open) == 0);
    CHECK_EQ(weft_group_spawn(left_open, nothing, NULL, NULL), 0);
    return NULL;
}

static void *group_left_open(void *arg)
{
    (void)arg;
    weft_task *t;
    REQUIRE(weft_spawn(leave_group_open, NULL, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -EINVAL);
    group_refused(left_open);
    return NULL;
}

static void *group_never(void *arg)
{
    (void)arg;
    fakes f;
    fakes_make(&f);
    for (size_t i = 0; i < sizeof f.v / sizeof *f.v; i++)
        group_refused(f.v[i]);
    weft_queue *q;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &q) == 0);
    group_refused((weft_group *)q);
    CHECK_EQ(weft_queue_free(q), 0);
    weft_taskset *set;
    REQUIRE(weft_taskset_new(&set) == 0);
    group_refused((weft_group *)set);
    CHECK_EQ(weft_taskset_free(set), 0);
    fakes_check_free(&f);
    return NULL;
}

static void *group_calls_here(void *g)
{
    return I2P(weft_group_failures(g) * 1000 + weft_group_free(g));
}

static void *group_other_thread(void *arg)
{
    (void)arg;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    CHECK_EQ(P2I(on_plain_thread(group_calls_here, g)), -EPERM * 1000 - EPERM);
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    CHECK_EQ(P2I(on_plain_thread(group_calls_here, g)),
             -EINVAL * 1000 - EINVAL);
    return NULL;
}

/* ---- task sets ---- */

static void taskset_refused(weft_taskset *set)
{
    weft_task *t;
    REQUIRE(weft_spawn(nothing, NULL, &t) == 0);
    CHECK_EQ(weft_taskset_add(set, t), -EINVAL);
    CHECK_EQ(weft_await(t, NULL), 0); /* not consumed by the refusal */
    weft_task *got = NULL;
    CHECK_EQ(weft_taskset_next(set, &got), -EINVAL);
    CHECK(got == NULL);
    CHECK_EQ(weft_taskset_len(set), -EINVAL);
    CHECK_EQ(weft_taskset_free(set), -EINVAL);
}

static void *taskset_freed_twice(void *arg)
{
    (void)arg;
    weft_taskset *set;
    weft_task *t;
    REQUIRE(weft_taskset_new(&set) == 0);
    REQUIRE(weft_spawn(nothing, NULL, &t) == 0);
    CHECK_EQ(weft_taskset_add(set, t), 0);
    CHECK_EQ(weft_taskset_free(set), 0);
    taskset_refused(set);
    return NULL;
}

static void *taskset_stale_after_reuse(void *arg)
{
    (void)arg;
    weft_taskset *old, *set;
    weft_task *t;
    REQUIRE(weft_taskset_new(&old) == 0);
    CHECK_EQ(weft_taskset_free(old), 0);
    REQUIRE(weft_taskset_new(&set) == 0);
    CHECK(set != old);
    taskset_refused(old);
    REQUIRE(weft_spawn(nothing, I2P(3), &t) == 0);
    CHECK_EQ(weft_taskset_add(set, t), 0);
    CHECK_EQ(weft_taskset_len(set), 1);
    CHECK_EQ(weft_taskset_next(set, &t), 1);
    void *r;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK(r == I2P(3));
    CHECK_EQ(weft_taskset_free(set), 0);
    return NULL;
}

static void *taskset_never(void *arg)
{
    (void)arg;
    fakes f;
    fakes_make(&f);
    for (size_t i = 0; i < sizeof f.v / sizeof *f.v; i++)
        taskset_refused(f.v[i]);
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    taskset_refused((weft_taskset *)g);
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    fakes_check_free(&f);
    return NULL;
}

/* ---- streams ---- */

/* rc is -EINVAL, or -EPERM when a made-up value with bit 63 set looks
 * like another loop's handle (weft_fd handles do not say what they are). */
static bool einval_or(long rc, bool eperm_too)
{
    return rc == -EINVAL || (eperm_too && rc == -EPERM);
}

static void stream_refused_as(weft_stream *s, bool eperm_too)
{
    char buf[4];
    const char *line = NULL;
    size_t len = 9;
    CHECK(einval_or(weft_stream_read(s, buf, sizeof buf), eperm_too));
    CHECK(einval_or(weft_stream_readexactly(s, buf, sizeof buf, NULL),
                    eperm_too));
    CHECK(einval_or(weft_stream_readline(s, &line, &len), eperm_too));
    CHECK(einval_or(weft_stream_readuntil(s, "\n", 1, &line, &len), eperm_too));
    CHECK(line == NULL);
    CHECK(einval_or(weft_stream_buffered(s), eperm_too));
    CHECK(einval_or(weft_stream_write(s, "x", 1, NULL), eperm_too));
    CHECK(einval_or(weft_stream_flush(s), eperm_too));
    CHECK(einval_or(weft_stream_shutdown_write(s), eperm_too));
    CHECK(einval_or(weft_stream_close(s), eperm_too));
}

static void stream_refused(weft_stream *s)
{
    stream_refused_as(s, false);
}

/* A stream over one end of a socket pair; *peer: the other end. */
static weft_stream *stream_pair(int *peer)
{
    int sv[2];
    weft_fd *fd;
    weft_stream *s;
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    REQUIRE(weft_fd_open(sv[0], &fd) == 0);
    REQUIRE(weft_stream_open(fd, NULL, &s) == 0);
    *peer = sv[1];
    return s;
}

static void *stream_closed_twice(void *arg)
{
    (void)arg;
    int peer;
    weft_stream *s = stream_pair(&peer);
    CHECK_EQ(weft_stream_write(s, "hi", 2, NULL), 0);
    CHECK_EQ(weft_stream_close(s), 0);
    stream_refused(s);
    close(peer);
    return NULL;
}

static void *stream_stale_after_reuse(void *arg)
{
    (void)arg;
    int p1, p2;
    weft_stream *old = stream_pair(&p1);
    CHECK_EQ(weft_stream_close(old), 0);
    weft_stream *s = stream_pair(&p2);
    CHECK(s != old);
    stream_refused(old);
    CHECK_EQ(write(p2, "ok\n", 3), 3);
    const char *line;
    size_t len;
    CHECK_EQ(weft_stream_readline(s, &line, &len), 0);
    CHECK(len == 3 && memcmp(line, "ok\n", 3) == 0);
    CHECK_EQ(weft_stream_close(s), 0);
    close(p1);
    close(p2);
    return NULL;
}

static void *stream_never(void *arg)
{
    (void)arg;
    fakes f;
    fakes_make(&f);
    /* Pointers and small numbers (bit 63 clear): -EINVAL. */
    for (size_t i = 0; i < sizeof f.v / sizeof *f.v; i++)
        stream_refused_as(f.v[i], (uintptr_t)f.v[i] >> 63);
    weft_queue *q;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &q) == 0);
    stream_refused_as((weft_stream *)q, true);
    CHECK_EQ(weft_queue_free(q), 0);
    fakes_check_free(&f);
    return NULL;
}

/* Outside any loop a made-up value is -EINVAL as well (not -EPERM). */
static void *stream_never_here(void *arg)
{
    (void)arg;
    int on_stack = 1;
    return I2P(weft_stream_close((weft_stream *)&on_stack) * 1000 +
               weft_fd_close((weft_fd *)&on_stack));
}

static void *stream_never_no_loop(void *arg)
{
    (void)arg;
    CHECK_EQ(P2I(on_plain_thread(stream_never_here, NULL)),
             -EINVAL * 1000 - EINVAL);
    return NULL;
}

/* ---- tasks, scopes and descriptors: values that no loop made ---- */

/* Handles carry their loop's 8-bit tag beside the index and generation.
 * These values carry tag 0xEE, which no loop of this process has had (it
 * runs far fewer than 238 loops): never a handle, so -EINVAL, not another
 * loop's -EPERM. */
#define NO_LOOP_TAG 0xEEull

static void *never_a_task_scope_or_fd(void *arg)
{
    (void)arg;
    weft_task *t = (weft_task *)(uintptr_t)(1ull << 33 | NO_LOOP_TAG << 24 | 1);
    CHECK_EQ(weft_await(t, NULL), -EINVAL);
    CHECK_EQ(weft_task_cancel(t), -EINVAL);
    CHECK_EQ(weft_task_detach(t), -EINVAL);
    weft_scope *sc =
        (weft_scope *)(uintptr_t)(1ull << 36 | NO_LOOP_TAG << 24 | 1);
    CHECK_EQ(weft_scope_close(sc), -EINVAL);
    CHECK_EQ(weft_scope_cancel(sc), -EINVAL);
    weft_fd *fd =
        (weft_fd *)(uintptr_t)(1ull << 63 | 1ull << 32 | NO_LOOP_TAG << 24 | 1);
    CHECK_EQ(weft_fd_close(fd), -EINVAL);
    CHECK_EQ(weft_stream_close((weft_stream *)fd), -EINVAL);
    /* This loop's own tag on a made-up value: caught by index and
     * generation, -EINVAL as well. */
    uint64_t mine = (uint64_t)(uintptr_t)weft_current() & (0xffull << 24);
    weft_task *own = (weft_task *)(uintptr_t)(7ull << 33 | mine | 0xfffff0);
    CHECK_EQ(weft_await(own, NULL), -EINVAL);
    return NULL;
}

/* Another loop's handle, also once that loop has closed: -EPERM. */
static void *returns_null(void *arg)
{
    return arg;
}

static void *keep_own_handle(void *arg)
{
    weft_task **out = arg;
    REQUIRE(weft_spawn(returns_null, NULL, out) == 0);
    CHECK_EQ(weft_yield(), 0); /* it finishes: nothing to report at close */
    return NULL;
}

static void *other_loops_task(void *arg)
{
    CHECK_EQ(weft_await(arg, NULL), -EPERM);
    CHECK_EQ(weft_task_cancel(arg), -EPERM);
    return NULL;
}

static void *closed_loops_handle(void *arg)
{
    (void)arg;
    weft_task *old = NULL;
    CHECK_EQ(weft_run(keep_own_handle, &old, NULL), 0);
    CHECK(old != NULL);
    return old;
}

static void a_closed_loops_task(void *arg)
{
    (void)arg;
    weft_task *old = closed_loops_handle(NULL);
    CHECK_EQ(weft_run(other_loops_task, old, NULL), 0);
}

int main(void)
{
    check_begin();
    check_allow_maps(4 * 4); /* glibc's cached thread stacks and arenas */
    check_case_alarm_install();
    check_case("gen_closed_twice", gen_closed_twice, NULL, 0);
    check_case("gen_stale_after_reuse", gen_stale_after_reuse, NULL, 0);
    check_case("gen_never_a_gen", gen_never, NULL, 0);
    check_case("gen_other_thread", gen_other_thread, NULL, 0);
    check_case("queue_freed_twice", queue_freed_twice, NULL, 0);
    check_case("queue_stale_after_reuse", queue_stale_after_reuse, NULL, 0);
    check_case("queue_never_a_queue", queue_never, NULL, 0);
    check_case("queue_no_loop", queue_other_thread, NULL, 0);
    check_case("group_freed_twice", group_freed_twice, NULL, 0);
    check_case("group_stale_after_reuse", group_stale_after_reuse, NULL, 0);
    check_case("group_left_open", group_left_open, NULL, 0);
    check_case("group_never_a_group", group_never, NULL, 0);
    check_case("group_other_thread", group_other_thread, NULL, 0);
    check_case("taskset_freed_twice", taskset_freed_twice, NULL, 0);
    check_case("taskset_stale_after_reuse", taskset_stale_after_reuse, NULL, 0);
    check_case("taskset_never_a_set", taskset_never, NULL, 0);
    check_case("stream_closed_twice", stream_closed_twice, NULL, 0);
    check_case("stream_stale_after_reuse", stream_stale_after_reuse, NULL, 0);
    check_case("stream_never_a_stream", stream_never, NULL, 0);
    check_case("stream_never_no_loop", stream_never_no_loop, NULL, 0);
    check_case("task_scope_fd_never_made_by_a_loop", never_a_task_scope_or_fd,
               NULL, 0);
    check_run_case(&(const struct check_case_def)CHECK_PLAIN(
        "task_of_a_closed_loop", a_closed_loops_task, NULL));
    return check_end();
}

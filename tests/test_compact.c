/*
 * test_compact.c - compact tasks: many tasks on one shared stack, each
 * keeping only its used bytes while it waits (WEFT_SPAWN_COMPACT).
 *
 * Proves that:
 * - a compact task's locals survive every suspension byte for byte, with
 *   many compact tasks taking turns on the stack (yield, sleep, a lock,
 *   an event), also frames several calls deep, and with a timer signal
 *   interrupting the switches every 100 µs;
 * - compact and default tasks await each other, gather and map over them,
 *   consume generators, call the thread pool (arguments on the heap, as
 *   the rule says), spawn eagerly (compact from compact), and get results
 *   and failures back;
 * - cancellation reaches a compact task in each wait, scopes and deadlines
 *   expire in it, a shield holds;
 * - debug builds refuse (-EINVAL) a primitive on the shared stack in each
 *   call that waits on, wakes or changes it, and a pointer there handed
 *   to others (arg of every spawn, group, generator, pool and cross-loop
 *   call, weft_serve's ctx, queue items) - one case per call (rule_*) -
 *   and the same call with a default task's frame;
 * - weft_file_* calls from compact tasks with buffers, paths and a struct
 *   stat on their frames read and write the right bytes while other
 *   compact tasks take the stack over (bounced through the heap); a copy
 *   that cannot be allocated is -ENOMEM, with nothing done or leaked; a
 *   read cut short by a scope while the pool thread is in it still gets
 *   its bytes, copied out on the resumed task;
 * - stack_size with the flag, and unknown flags, are -EINVAL; the ucontext
 *   build refuses compact tasks with -ENOTSUP;
 * - a suspension that cannot get room to save the stack fails with
 *   -ENOMEM and the wait is undone (the task goes on, nothing leaks);
 * - a compact task that recurses too deep gets the stack overflow report;
 * - compact tasks stuck under a shield at loop close are abandoned and
 *   reported without touching freed memory; the task dump lists compact
 *   tasks that are away without a backtrace.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"
#include "coro/sanitize.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef WEFT_CTX_UCONTEXT
#define UCONTEXT 1
#else
#define UCONTEXT 0
#endif

static const weft_spawn_opts compact = {.flags = WEFT_SPAWN_COMPACT};

/* Frames the loop copied back onto the shared stack, and the bytes of
 * room in all save buffers (src/compact.c). */
extern _Atomic unsigned long weft__compact_copies;
extern _Atomic size_t weft__compact_room;
extern _Atomic unsigned long weft__compact_passes;
unsigned weft__compact_learned_depth(void);

static weft_task *spawn_compact(weft_fn fn, void *arg)
{
    weft_task *t = NULL;
    REQUIRE(weft_spawn_ex(fn, arg, &compact, &t) == 0);
    return t;
}

/* ---- locals survive ---- */

#define FRAME 200

static void fill(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed * 31u + i * 7u);
}

static bool intact(const unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed * 31u + i * 7u))
            return false;
    return true;
}

typedef int (*suspend_fn)(int round);

static int by_yield(int round)
{
    (void)round;
    return weft_yield();
}

static int by_sleep(int round)
{
    return weft_sleep(round % 3 ? 0 : 0.0005);
}

static weft_lock shared_lock = WEFT_LOCK_INIT;

/* Holds the lock across a yield: the others queue on it. */
static int by_lock(int round)
{
    (void)round;
    int rc = weft_lock_acquire(&shared_lock);
    if (rc)
        return rc;
    rc = weft_yield();
    int r2 = weft_lock_release(&shared_lock);
    return rc ? rc : r2;
}

/* Waits for a pipe to turn readable: the loop's poller wakes it. */
static int by_io(int round)
{
    (void)round;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    int rc = write(fds[1], "x", 1) == 1 ? 0 : -EIO;
    if (rc == 0)
        rc = weft_io_wait(fds[0], WEFT_READABLE, -1) == (int)WEFT_READABLE
                 ? 0
                 : -EPROTO;
    close(fds[0]);
    close(fds[1]);
    return rc;
}

static weft_semaphore shared_sem = WEFT_SEMAPHORE_INIT(1);

/* Holds the only permit across a yield: the others queue for it. */
static int by_semaphore(int round)
{
    (void)round;
    int rc = weft_sem_acquire(&shared_sem);
    if (rc)
        return rc;
    rc = weft_yield();
    int r2 = weft_sem_release(&shared_sem);
    return rc ? rc : r2;
}

static weft_queue *shared_queue; /* capacity 1 */

/* Puts an item, yields, then gets one: the others' puts wait meanwhile,
 * the queue being full. */
static int by_queue(int round)
{
    int rc = weft_queue_put(shared_queue, (void *)(intptr_t)(round + 1));
    void *item = NULL;
    if (rc == 0)
        rc = weft_yield();
    if (rc == 0)
        rc = weft_queue_get(shared_queue, &item);
    return rc ? rc : item ? 0 : -EPROTO;
}

static void *yields_once(void *arg)
{
    weft_yield();
    return arg;
}

/* Awaits a child that yields once. */
static int by_await(int round)
{
    weft_task *t;
    int rc = weft_spawn(yields_once, (void *)(intptr_t)(round + 1), &t);
    void *r = NULL;
    if (rc == 0)
        rc = weft_await(t, &r);
    return rc ? rc : r == (void *)(intptr_t)(round + 1) ? 0 : -EPROTO;
}

static void *plus_one(void *arg)
{
    return (void *)((intptr_t)arg + 1);
}

/* A round trip through the thread pool. */
static int by_to_thread(int round)
{
    void *r = NULL;
    int rc = weft_to_thread(plus_one, (void *)(intptr_t)round, &r);
    return rc ? rc : r == (void *)(intptr_t)(round + 1) ? 0 : -EPROTO;
}

typedef struct turn_arg {
    unsigned seed;
    int rounds;
    suspend_fn suspend;
} turn_arg;

/* Three frames deep, each with a pattern of its own. */
static __attribute__((noinline)) int deep(const turn_arg *a, int level)
{
    unsigned char mine[FRAME / 2];
    fill(mine, sizeof mine, a->seed + 1000u * (unsigned)level);
    int bad = 0;
    if (level < 3) {
        bad += deep(a, level + 1);
    } else {
        for (int r = 0; r < a->rounds; r++)
            if (a->suspend(r))
                bad++;
    }
    if (!intact(mine, sizeof mine, a->seed + 1000u * (unsigned)level))
        bad++;
    return bad;
}

static void *turns(void *arg)
{
    const turn_arg *a = arg;
    unsigned char local[FRAME];
    fill(local, sizeof local, a->seed);
    int bad = 0;
    for (int r = 0; r < a->rounds; r++) {
        if (a->suspend(r))
            bad++;
        if (!intact(local, sizeof local, a->seed))
            bad++;
    }
    bad += deep(a, 0);
    if (!intact(local, sizeof local, a->seed))
        bad++;
    return I2P(bad);
}

/* ---- a signal handler that interrupts the switches ---- */

static volatile sig_atomic_t ticks_seen;

/* The name glibc gives the field only from 2.41 on. */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* Runs on whatever stack the thread is on when the timer fires - a
 * task's, the shared one below a saved frame, or the copy stack in the
 * middle of a switch - and writes a frame of its own there. */
static void on_tick(int sig)
{
    (void)sig;
    volatile unsigned char scratch[512];
    for (size_t i = 0; i < sizeof scratch; i++)
        scratch[i] = (unsigned char)i;
    ticks_seen = ticks_seen + 1;
}

/* locals_survive by yield, with a timer signal every 100 µs. */
static void *locals_survive_signals(void *arg)
{
    (void)arg;
    int signo = SIGRTMIN + 1;
    struct sigaction sa = {.sa_handler = on_tick, .sa_flags = SA_RESTART},
                     old;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(signo, &sa, &old) == 0);
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID,
                          .sigev_signo = signo};
    ev.sigev_notify_thread_id = gettid(); /* this loop's thread */
    timer_t tm;
    REQUIRE(timer_create(CLOCK_MONOTONIC, &ev, &tm) == 0);
    struct itimerspec every = {.it_interval = {.tv_nsec = 100000},
                               .it_value = {.tv_nsec = 100000}};
    REQUIRE(timer_settime(tm, 0, &every, NULL) == 0);
    ticks_seen = 0;
    unsigned long copies = weft__compact_copies;
    enum { N = 20 };
    static turn_arg args[N];
    weft_task *t[N];
    int rounds = (int)check_scaled(2000);
    for (int i = 0; i < N; i++) {
        args[i] = (turn_arg){.seed = (unsigned)i + 7, .rounds = rounds,
                             .suspend = by_yield};
        t[i] = spawn_compact(turns, &args[i]);
    }
    void *res[N];
    CHECK_EQ(weft_gather(t, N, res, NULL, 0), 0);
    REQUIRE(timer_delete(tm) == 0);
    REQUIRE(sigaction(signo, &old, NULL) == 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(P2I(res[i]), 0);
    CHECK(weft__compact_copies - copies >= (unsigned long)N * rounds);
    CHECK(ticks_seen > 0);
    return NULL;
}

static void *locals_survive(void *arg)
{
    unsigned long copies = weft__compact_copies;
    suspend_fn how = (suspend_fn)arg;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 1, NULL, &shared_queue) == 0);
    enum { N = 50 };
    static turn_arg args[N];
    weft_task *t[N];
    for (int i = 0; i < N; i++) {
        args[i] = (turn_arg){.seed = (unsigned)i + 1, .rounds = 20,
                             .suspend = how};
        t[i] = spawn_compact(turns, &args[i]);
    }
    void *res[N];
    CHECK_EQ(weft_gather(t, N, res, NULL, 0), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(P2I(res[i]), 0);
    /* They did take turns on the stack: frames went out and came back. */
    CHECK(weft__compact_copies - copies >= (unsigned long)N * 20);
    CHECK_EQ(weft_queue_free(shared_queue), 0);
    return NULL;
}

/* Compact and default tasks interleaved: the default ones never disturb
 * the shared stack. */
static void *mixed_with_default(void *arg)
{
    (void)arg;
    enum { N = 20 };
    static turn_arg args[N];
    weft_task *t[N];
    for (int i = 0; i < N; i++) {
        args[i] = (turn_arg){.seed = (unsigned)i * 3 + 7, .rounds = 30,
                             .suspend = by_yield};
        if (i % 2)
            REQUIRE(weft_spawn(turns, &args[i], &t[i]) == 0);
        else
            t[i] = spawn_compact(turns, &args[i]);
    }
    void *res[N];
    CHECK_EQ(weft_gather(t, N, res, NULL, 0), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(P2I(res[i]), 0);
    return NULL;
}

/* ---- buffers sized to fit ---- */

static void *short_sleep(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_sleep(0.02), 0);
    return NULL;
}

/* The first compact task to suspend reserves a guessed depth below the
 * call (512 bytes); once the loop has copied a frame out it knows how deep
 * a suspension goes, and later sleepers, with the same frame, get buffers
 * that much smaller: an idle compact task holds about its frame. */
static void *buffers_fit_frames(void *arg)
{
    (void)arg;
    enum { K = 64 };
    weft_task *t[K];
    size_t room0 = weft__compact_room;
    t[0] = spawn_compact(short_sleep, NULL);
    CHECK_EQ(weft_yield(), 0); /* it runs and suspends, still in place */
    size_t first = weft__compact_room - room0;
    for (int i = 1; i < K; i++)
        t[i] = spawn_compact(short_sleep, NULL);
    CHECK_EQ(weft_yield(), 0); /* each comes in, the one before goes out */
    size_t others = (weft__compact_room - room0 - first) / (K - 1);
    unsigned depth = weft__compact_learned_depth();
    CHECK(depth > 0 && depth < 512);
    CHECK(first >= others + (512 - depth) - 16);
    CHECK_EQ(weft_gather(t, K, NULL, NULL, 0), 0);
    CHECK_EQ(weft__compact_room, room0);
    return NULL;
}

/* ---- starting where another finished ---- */

/* Fills its frame, checks it, finishes without suspending. */
static void *fill_and_check(void *arg)
{
    unsigned char local[FRAME];
    fill(local, sizeof local, (unsigned)P2I(arg));
    __asm__ volatile("" : : "r"(local) : "memory");
    return I2P(intact(local, sizeof local, (unsigned)P2I(arg)) ? P2I(arg)
                                                                 : -1);
}

/* A chain of compact tasks that never suspend: each starts on the stack
 * the one before left (no trampoline, no copy, outside sanitizer builds),
 * and each sees its own frame. */
static void *start_after_finish(void *arg)
{
    (void)arg;
    enum { K = 100 };
    weft_task *t[K];
    void *res[K];
    unsigned long passes = weft__compact_passes;
    for (int i = 0; i < K; i++)
        t[i] = spawn_compact(fill_and_check, I2P(i + 1));
    CHECK_EQ(weft_gather(t, K, res, NULL, 0), 0);
    for (int i = 0; i < K; i++)
        CHECK_EQ(P2I(res[i]), i + 1);
    if (WEFT_ASAN || WEFT_TSAN)
        CHECK_EQ(weft__compact_passes - passes, 0);
    else
        CHECK(weft__compact_passes - passes >= K - 1);
    return NULL;
}

/* ---- together with the rest of weft ---- */

static void *answer(void *arg)
{
    CHECK_EQ(weft_sleep(0.001), 0);
    return I2P(P2I(arg) * 2);
}

static void *fails(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_yield(), 0);
    return weft_fail(-EPROTO, "compact failure %d", 7);
}

/* A compact task awaits default and compact children. */
static void *awaits_children(void *arg)
{
    (void)arg;
    weft_task *a, *b = spawn_compact(answer, I2P(21));
    REQUIRE(weft_spawn(answer, I2P(5), &a) == 0);
    void *ra = NULL, *rb = NULL;
    CHECK_EQ(weft_await(a, &ra), 0);
    CHECK_EQ(weft_await(b, &rb), 0);
    CHECK_EQ(P2I(ra), 10);
    CHECK_EQ(P2I(rb), 42);
    weft_task *f = spawn_compact(fails, NULL);
    CHECK_EQ(weft_await(f, NULL), -EPROTO);
    CHECK(check_streq(weft_errmsg(), "compact failure 7"));
    return I2P(1);
}

static void *await_each_way(void *arg)
{
    (void)arg;
    weft_task *t = spawn_compact(awaits_children, NULL);
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 1);
    return NULL;
}

static void *map_double(void *item)
{
    CHECK_EQ(weft_yield(), 0);
    return I2P(P2I(item) * 2);
}

/* gather and map from a compact task (their arrays may be in its frame:
 * gather writes them after it resumes; map's are on the heap here). */
static void *gathers_and_maps(void *arg)
{
    (void)arg;
    enum { N = 16 };
    weft_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = spawn_compact(answer, I2P(i));
    void *res[N];
    CHECK_EQ(weft_gather(t, N, res, NULL, 0), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(P2I(res[i]), 2 * i);
    void **items = malloc(N * sizeof *items), **out = malloc(N * sizeof *out);
    int *errs = malloc(N * sizeof *errs);
    REQUIRE(items && out && errs);
    for (int i = 0; i < N; i++)
        items[i] = I2P(i + 1);
    CHECK_EQ(weft_map(map_double, items, N, 4, out, errs, 0), 0);
    for (int i = 0; i < N; i++)
        CHECK(P2I(out[i]) == 2 * (i + 1) && errs[i] == 0);
    free(items);
    free(out);
    free(errs);
    return I2P(3);
}

static void *gather_map_from_compact(void *arg)
{
    (void)arg;
    void *r = NULL;
    CHECK_EQ(weft_await(spawn_compact(gathers_and_maps, NULL), &r), 0);
    CHECK_EQ(P2I(r), 3);
    return NULL;
}

static void *count_up(void *arg)
{
    int n = P2I(arg);
    for (int i = 1; i <= n; i++)
        if (weft_gen_yield(I2P(i)))
            break;
    return NULL;
}

/* A compact consumer of a generator. */
static void *consumes(void *arg)
{
    (void)arg;
    unsigned char local[FRAME];
    fill(local, sizeof local, 99);
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, I2P(100), &g) == 0);
    long sum = 0;
    void *v;
    int rc;
    while ((rc = weft_gen_next(g, &v)) == 1)
        sum += P2I(v);
    CHECK_EQ(rc, 0);
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK(intact(local, sizeof local, 99));
    return I2P(sum);
}

static void *generator_consumers(void *arg)
{
    (void)arg;
    weft_task *a = spawn_compact(consumes, NULL),
              *b = spawn_compact(consumes, NULL);
    void *ra = NULL, *rb = NULL;
    CHECK_EQ(weft_await(a, &ra), 0);
    CHECK_EQ(weft_await(b, &rb), 0);
    CHECK_EQ(P2I(ra), 5050);
    CHECK_EQ(P2I(rb), 5050);
    return NULL;
}

static void *add_one(void *arg)
{
    long *p = arg;
    return I2P(*p + 1);
}

/* weft_to_thread from compact tasks, its argument on the heap. */
static void *calls_pool(void *arg)
{
    long *p = malloc(sizeof *p);
    REQUIRE(p);
    *p = P2I(arg);
    unsigned char local[FRAME];
    fill(local, sizeof local, (unsigned)*p);
    void *r = NULL;
    CHECK_EQ(weft_to_thread(add_one, p, &r), 0);
    CHECK(intact(local, sizeof local, (unsigned)*p));
    free(p);
    return r;
}

static void *pool_from_compact(void *arg)
{
    (void)arg;
    enum { N = 8 };
    weft_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = spawn_compact(calls_pool, I2P(i * 10));
    void *res[N];
    CHECK_EQ(weft_gather(t, N, res, NULL, 0), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(P2I(res[i]), i * 10 + 1);
    return NULL;
}

/* An eager compact child of a compact task runs inside the spawn, on the
 * same stack: the spawner's frame goes out and comes back. */
static void *eager_child(void *arg)
{
    unsigned char local[FRAME];
    fill(local, sizeof local, 5);
    CHECK_EQ(weft_yield(), 0);
    CHECK(intact(local, sizeof local, 5));
    return arg;
}

static void *eager_parent(void *arg)
{
    (void)arg;
    unsigned char local[FRAME];
    fill(local, sizeof local, 6);
    weft_spawn_opts o = {.flags = WEFT_SPAWN_COMPACT | WEFT_SPAWN_EAGER};
    weft_task *t;
    REQUIRE(weft_spawn_ex(eager_child, I2P(77), &o, &t) == 0);
    CHECK(intact(local, sizeof local, 6));
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 77);
    CHECK(intact(local, sizeof local, 6));
    return NULL;
}

static void *eager_compact(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_await(spawn_compact(eager_parent, NULL), NULL), 0);
    return NULL;
}

/* ---- cancellation, scopes, shields ---- */

static weft_event never = WEFT_EVENT_INIT;

static void *waits_forever(void *arg)
{
    int how = P2I(arg);
    unsigned char local[FRAME];
    fill(local, sizeof local, 11);
    int rc = how == 0   ? weft_sleep(3600)
             : how == 1 ? weft_event_wait(&never)
                        : weft_lock_acquire(&shared_lock);
    CHECK(intact(local, sizeof local, 11));
    return I2P(rc);
}

static void *deadline_inside(void *arg)
{
    (void)arg;
    weft_scope *s;
    REQUIRE(weft_scope_open(0.005, &s) == 0);
    int rc = weft_sleep(3600);
    CHECK_EQ(weft_scope_close(s), 1);
    weft_shield_begin();
    int shielded = weft_sleep(0.002);
    weft_shield_end();
    return I2P(rc * 1000 + shielded);
}

static void *cancel_each_wait(void *arg)
{
    (void)arg;
    REQUIRE(weft_lock_acquire(&shared_lock) == 0); /* the lock waiter */
    weft_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = spawn_compact(waits_forever, I2P(i));
    CHECK_EQ(weft_sleep(0.002), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(weft_task_cancel(t[i]), 0);
        CHECK_EQ(weft_await(t[i], NULL), -ECANCELED);
    }
    CHECK_EQ(weft_lock_release(&shared_lock), 0);
    void *r = NULL;
    CHECK_EQ(weft_await(spawn_compact(deadline_inside, NULL), &r), 0);
    CHECK_EQ(P2I(r), -ETIMEDOUT * 1000);
    return NULL;
}

/* ---- errors ---- */

static void *bad_options(void *arg)
{
    (void)arg;
    weft_task *t = NULL;
    weft_spawn_opts o = {.flags = WEFT_SPAWN_COMPACT, .stack_size = 65536};
    CHECK_EQ(weft_spawn_ex(answer, NULL, &o, &t), -EINVAL);
    o = (weft_spawn_opts){.flags = 4};
    CHECK_EQ(weft_spawn_ex(answer, NULL, &o, &t), -EINVAL);
    CHECK(t == NULL);
    return NULL;
}

static void *ucontext_refuses(void *arg)
{
    (void)arg;
    weft_task *t = NULL;
    CHECK_EQ(weft_spawn_ex(answer, NULL, &compact, &t), -ENOTSUP);
    return NULL;
}

/* Each allocation of a compact task's life fails once in turn: spawn,
 * start (the shared stack on first use) and its suspensions fail with
 * -ENOMEM, never crash, and leave nothing behind. */
static void *sleeps_twice(void *arg)
{
    (void)arg;
    unsigned char local[FRAME];
    fill(local, sizeof local, 3);
    int a = weft_sleep(0.0005);
    int b = weft_yield();
    CHECK(intact(local, sizeof local, 3));
    return I2P((a == -ENOMEM) + 2 * (b == -ENOMEM));
}

static int oom_suspensions; /* suspensions refused for want of memory */

static void *oom_main(void *arg)
{
    long n = P2I(arg);
    weft_task *t = NULL;
    weft__alloc_fail_countdown = n;
    int rc = weft_spawn_ex(sleeps_twice, NULL, &compact, &t);
    if (rc == 0) {
        void *r = NULL;
        rc = weft_await(t, &r);
        CHECK(rc == 0 || rc == -ENOMEM);
        CHECK(P2I(r) >= 0 && P2I(r) <= 3);
        oom_suspensions += P2I(r) != 0;
    } else {
        CHECK_EQ(rc, -ENOMEM);
    }
    weft__alloc_fail_countdown = 0;
    return NULL;
}

static void out_of_memory(void *arg)
{
    (void)arg;
    for (long n = 1; n <= 12; n++) {
        /* A loop of its own each time: the shared stack is made anew. */
        int rc = weft_run(oom_main, I2P(n), NULL);
        weft__alloc_fail_countdown = 0;
        CHECK(rc == 0 || rc == -ENOMEM);
        CHECK_EQ(weft__alloc_live, 0);
    }
    CHECK(oom_suspensions >= 1); /* the reserve's failure was reached */
}

/* ---- the rule, checked in debug builds ---- */

/* Each row makes one call with something in its own frame - on the
 * shared stack when a compact task calls it, on the task's own stack when a
 * default task does - finishes what an accepted call started, and returns
 * the call's result. */
typedef struct rule_row {
    int (*call)(void);
    int accepted; /* what the call returns from a default task */
} rule_row;

static void *reads_arg(void *arg)
{
    return I2P(*(int *)arg);
}

static int rule_spawn(void)
{
    int local = 1;
    weft_task *t = NULL;
    int rc = weft_spawn(reads_arg, &local, &t);
    if (rc) {
        CHECK(t == NULL);
        return rc;
    }
    return weft_await(t, NULL);
}

static int rule_spawn_ex(void)
{
    int local = 1;
    weft_task *t = NULL;
    weft_spawn_opts o = {.name = "eager", .flags = WEFT_SPAWN_EAGER};
    int rc = weft_spawn_ex(reads_arg, &local, &o, &t);
    if (rc) {
        CHECK(t == NULL);
        return rc;
    }
    return weft_await(t, NULL);
}

static int rule_spawn_blocking(void)
{
    int local = 1;
    weft_task *t = NULL;
    int rc = weft_spawn_blocking(reads_arg, &local, &t);
    if (rc) {
        CHECK(t == NULL);
        return rc;
    }
    return weft_await(t, NULL);
}

static int rule_to_thread(void)
{
    int local = 1;
    void *r = NULL;
    int rc = weft_to_thread(reads_arg, &local, &r);
    CHECK(rc || P2I(r) == 1);
    return rc;
}

static int rule_to_thread_detachable(void)
{
    int local = 1;
    void *r = NULL;
    int rc = weft_to_thread_detachable(reads_arg, &local, NULL, &r);
    CHECK(rc || P2I(r) == 1);
    return rc;
}

static int rule_group_spawn_each(bool ex)
{
    int local = 1;
    weft_group *g;
    REQUIRE(weft_group_new(&g) == 0);
    int rc = ex ? weft_group_spawn_ex(g, reads_arg, &local, NULL, NULL)
                : weft_group_spawn(g, reads_arg, &local, NULL);
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(weft_group_free(g), 0);
    return rc;
}

static int rule_group_spawn(void)
{
    return rule_group_spawn_each(false);
}

static int rule_group_spawn_ex(void)
{
    return rule_group_spawn_each(true);
}

static void *yields_arg(void *arg)
{
    weft_gen_yield(I2P(*(int *)arg));
    return NULL;
}

static int rule_gen_new(void)
{
    int local = 7;
    weft_gen *g = NULL;
    int rc = weft_gen_new(yields_arg, &local, &g);
    if (rc)
        return rc;
    void *v = NULL;
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(P2I(v), 7);
    CHECK_EQ(weft_gen_next(g, &v), 0);
    return weft_gen_close(g);
}

/* A call through a handle to the caller's own loop (released after). */
static int on_this_loop(int (*call)(weft_loop *, int *))
{
    int local = 1;
    weft_loop *l = NULL;
    REQUIRE(weft_loop_current(&l) == 0);
    int rc = call(l, &local);
    CHECK_EQ(weft_loop_release(l), 0);
    return rc;
}

static int spawn_on_here(weft_loop *l, int *local)
{
    weft_task *t = NULL;
    int rc = weft_spawn_on(l, reads_arg, local, &t);
    if (rc)
        return rc;
    return weft_await(t, NULL);
}

static int rule_spawn_on(void)
{
    return on_this_loop(spawn_on_here);
}

static int call_on_here(weft_loop *l, int *local)
{
    return weft_call_on(l, reads_arg, local, NULL);
}

static int rule_call_on(void)
{
    return on_this_loop(call_on_here);
}

static int submit_here(weft_loop *l, int *local)
{
    weft_future *fu = NULL;
    int rc = weft_submit(l, reads_arg, local, &fu);
    if (rc)
        return rc;
    while (weft_future_done(fu) == 0)
        CHECK_EQ(weft_sleep(0.0005), 0);
    void *r = NULL;
    rc = weft_future_join(fu, &r);
    CHECK_EQ(P2I(r), 1);
    return rc;
}

static int rule_submit(void)
{
    return on_this_loop(submit_here);
}

static void *sets_flag(void *arg)
{
    *(int *)arg = 2;
    return NULL;
}

static int call_soon_here(weft_loop *l, int *local)
{
    int rc = weft_call_soon(l, sets_flag, local, NULL);
    if (rc)
        return rc;
    while (*(volatile int *)local != 2)
        CHECK_EQ(weft_sleep(0.0005), 0);
    return 0;
}

static int rule_call_soon(void)
{
    return on_this_loop(call_soon_here);
}

static void handler(weft_stream *conn, void *ctx)
{
    (void)conn;
    (void)ctx;
}

static int rule_serve(void)
{
    int local = 1;
    weft_fd *l;
    REQUIRE(weft_tcp_listen("127.0.0.1", 0, 4, &l) == 0);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.002, &sc) == 0);
    int rc = weft_serve(l, handler, &local, NULL);
    CHECK(weft_scope_close(sc) >= 0);
    CHECK_EQ(weft_fd_close(l), 0);
    return rc;
}

static int rule_queue_put_each(bool try)
{
    int local = 1;
    weft_queue *q;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 1, NULL, &q) == 0);
    int rc = try ? weft_queue_try_put(q, &local) : weft_queue_put(q, &local);
    void *item = NULL;
    if (rc == 0) {
        CHECK_EQ(weft_queue_get(q, &item), 0);
        CHECK(item == &local);
    }
    CHECK_EQ(weft_queue_free(q), 0);
    return rc;
}

static int rule_queue_put(void)
{
    return rule_queue_put_each(false);
}

static int rule_queue_try_put(void)
{
    return rule_queue_put_each(true);
}

static int rule_lock_acquire(void)
{
    weft_lock l = WEFT_LOCK_INIT;
    int rc = weft_lock_acquire(&l);
    if (rc == 0)
        CHECK_EQ(weft_lock_release(&l), 0);
    return rc;
}

static int rule_lock_try(void)
{
    weft_lock l = WEFT_LOCK_INIT;
    int rc = weft_lock_try(&l);
    if (rc == 0)
        CHECK_EQ(weft_lock_release(&l), 0);
    return rc;
}

/* The acquire is refused too from a compact task: unchecked, the release
 * would say -EPERM (not held). */
static int rule_lock_release(void)
{
    weft_lock l = WEFT_LOCK_INIT;
    int a = weft_lock_acquire(&l);
    int rc = weft_lock_release(&l);
    CHECK_EQ(a, rc);
    return rc;
}

static int rule_event_wait(void)
{
    weft_event ev = {.set_ = 1};
    return weft_event_wait(&ev);
}

static int rule_event_set(void)
{
    weft_event ev = WEFT_EVENT_INIT;
    return weft_event_set(&ev);
}

static int rule_event_clear(void)
{
    weft_event ev = {.set_ = 1};
    return weft_event_clear(&ev);
}

static int rule_sem_acquire(void)
{
    weft_semaphore sem = WEFT_SEMAPHORE_INIT(1);
    return weft_sem_acquire(&sem);
}

static int rule_sem_try(void)
{
    weft_semaphore sem = WEFT_SEMAPHORE_INIT(1);
    return weft_sem_try(&sem);
}

static int rule_sem_release(void)
{
    weft_semaphore sem = WEFT_SEMAPHORE_INIT(0);
    return weft_sem_release(&sem);
}

/* From a default task nobody notifies: the scope ends the wait. */
static int rule_cond_wait(void)
{
    weft_cond c = WEFT_COND_INIT(&shared_lock);
    REQUIRE(weft_lock_acquire(&shared_lock) == 0);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.001, &sc) == 0);
    int rc = weft_cond_wait(&c);
    CHECK(weft_scope_close(sc) >= 0);
    CHECK_EQ(weft_lock_release(&shared_lock), 0); /* held again either way */
    return rc;
}

/* The condition's lock on the shared stack, the condition elsewhere
 * (notify checks both before it asks whether the caller holds the lock). */
static int rule_cond_lock(void)
{
    weft_lock l = WEFT_LOCK_INIT;
    weft_cond *c = malloc(sizeof *c);
    REQUIRE(c);
    *c = (weft_cond)WEFT_COND_INIT(&l);
    int rc = weft_cond_notify(c, 1);
    free(c);
    return rc;
}

static int rule_cond_notify(void)
{
    weft_cond c = WEFT_COND_INIT(&shared_lock);
    REQUIRE(weft_lock_acquire(&shared_lock) == 0);
    int rc = weft_cond_notify(&c, 1);
    CHECK_EQ(weft_lock_release(&shared_lock), 0);
    return rc;
}

static int rule_cond_notify_all(void)
{
    weft_cond c = WEFT_COND_INIT(&shared_lock);
    REQUIRE(weft_lock_acquire(&shared_lock) == 0);
    int rc = weft_cond_notify_all(&c);
    CHECK_EQ(weft_lock_release(&shared_lock), 0);
    return rc;
}

static int rule_barrier_init(void)
{
    weft_barrier b;
    return weft_barrier_init(&b, 1);
}

static int rule_barrier_wait(void)
{
    weft_barrier b = WEFT_BARRIER_INIT(1);
    return weft_barrier_wait(&b); /* the only party: index 0 */
}

static int rule_barrier_reset(void)
{
    weft_barrier b = WEFT_BARRIER_INIT(2);
    return weft_barrier_reset(&b);
}

static int rule_barrier_abort(void)
{
    weft_barrier b = WEFT_BARRIER_INIT(2);
    return weft_barrier_abort(&b);
}

static void *rule_call(void *arg)
{
    const rule_row *row = arg;
    return I2P(row->call());
}

/* The row's call from a compact task is refused (-EINVAL); from a default
 * task, whose frame is its own, it is not. */
static void *rule_checks(void *arg)
{
    const rule_row *row = arg;
    if (!WEFT_CHECKS) {
        check_case_skip("no debug checks in this build (Debug or sanitizer "
                        "builds have them)");
        return NULL;
    }
    void *r = NULL;
    CHECK_EQ(weft_await(spawn_compact(rule_call, (void *)row), &r), 0);
    CHECK_EQ(P2I(r), -EINVAL);
    weft_task *t;
    REQUIRE(weft_spawn(rule_call, (void *)row, &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), row->accepted);
    return NULL;
}

#define RULE(name, want)                                                      \
    static const rule_row row_##name = {rule_##name, (want)}
RULE(spawn, 0);
RULE(spawn_ex, 0);
RULE(spawn_blocking, 0);
RULE(to_thread, 0);
RULE(to_thread_detachable, 0);
RULE(group_spawn, 0);
RULE(group_spawn_ex, 0);
RULE(gen_new, 0);
RULE(spawn_on, 0);
RULE(call_on, 0);
RULE(submit, 0);
RULE(call_soon, 0);
RULE(serve, -ETIMEDOUT);
RULE(queue_put, 0);
RULE(queue_try_put, 0);
RULE(lock_acquire, 0);
RULE(lock_try, 0);
RULE(lock_release, 0);
RULE(event_wait, 0);
RULE(event_set, 0);
RULE(event_clear, 0);
RULE(sem_acquire, 0);
RULE(sem_try, 0);
RULE(sem_release, 0);
RULE(cond_wait, -ETIMEDOUT);
RULE(cond_lock, -EPERM);
RULE(cond_notify, 0);
RULE(cond_notify_all, 0);
RULE(barrier_init, 0);
RULE(barrier_wait, 0);
RULE(barrier_reset, 0);
RULE(barrier_abort, 0);
#define RULE_CASE(name)                                                       \
    CHECK_TASK("rule_" #name, rule_checks, (void *)&row_##name)

/* A compact task uses the same primitives, arguments and items off its
 * frame without complaint. */
static void *keeps_the_rule(void *arg)
{
    (void)arg;
    int *p = malloc(sizeof *p);
    REQUIRE(p);
    *p = 5;
    weft_lock *hl = malloc(sizeof *hl);
    REQUIRE(hl);
    *hl = (weft_lock)WEFT_LOCK_INIT;
    CHECK_EQ(weft_lock_acquire(hl), 0);
    CHECK_EQ(weft_lock_release(hl), 0);
    free(hl);
    void *r = NULL;
    CHECK_EQ(weft_to_thread(reads_arg, p, &r), 0);
    CHECK_EQ(P2I(r), 5);
    weft_task *t;
    CHECK_EQ(weft_spawn(reads_arg, p, &t), 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 5);
    weft_queue *q;
    REQUIRE(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &q) == 0);
    CHECK_EQ(weft_queue_put(q, p), 0);
    CHECK_EQ(weft_queue_put(q, I2P(42)), 0); /* a small integer is fine */
    CHECK_EQ(weft_queue_get(q, &r), 0);
    CHECK(r == p);
    CHECK_EQ(weft_queue_get(q, &r), 0);
    CHECK_EQ(weft_queue_free(q), 0);
    free(p);
    return NULL;
}

static void *rule_kept(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_await(spawn_compact(keeps_the_rule, NULL), NULL), 0);
    return NULL;
}

/* ---- file calls: a compact task's buffers bounced through the heap ---- */

typedef struct file_arg {
    const char *dir;
    int i;
} file_arg;

static int files_left; /* file users still at work; the stompers stop at 0 */

/* Files through buffers, paths and a struct stat on the task's frame,
 * while other compact tasks take the stack over: every byte read must be
 * the one written, and the frame's own bytes must survive. */
static void *file_user(void *arg)
{
    const file_arg *a = arg;
    char p[128], p2[128], p3[128];
    snprintf(p, sizeof p, "%s/f%d", a->dir, a->i);
    snprintf(p2, sizeof p2, "%s/g%d", a->dir, a->i);
    snprintf(p3, sizeof p3, "%s/h%d", a->dir, a->i);
    unsigned seed = 100u + (unsigned)a->i;
    unsigned char wbuf[FRAME], rbuf[FRAME];
    fill(wbuf, sizeof wbuf, seed);
    int bad = 0;
    for (int round = 0; round < 4; round++) {
        int fd = -1;
        REQUIRE(weft_file_open(p, O_CREAT | O_RDWR | O_TRUNC, 0600, &fd) ==
                0);
        size_t w = 0;
        CHECK_EQ(weft_file_write(fd, wbuf, sizeof wbuf, &w), 0);
        CHECK_EQ(w, sizeof wbuf);
        CHECK_EQ(weft_file_pwrite(fd, wbuf, 16, FRAME, &w), 0);
        memset(rbuf, 0, sizeof rbuf);
        CHECK_EQ(weft_file_pread(fd, rbuf, sizeof rbuf, 0), FRAME);
        bad += !intact(rbuf, sizeof rbuf, seed);
        REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
        memset(rbuf, 0, sizeof rbuf);
        CHECK_EQ(weft_file_read(fd, rbuf, sizeof rbuf), FRAME);
        bad += !intact(rbuf, sizeof rbuf, seed);
        struct stat st;
        memset(&st, 0, sizeof st);
        CHECK_EQ(weft_file_stat(p, &st), 0);
        CHECK_EQ(st.st_size, FRAME + 16);
        CHECK_EQ(weft_file_fsync(fd), 0);
        CHECK_EQ(weft_file_close(fd), 0);
        CHECK_EQ(weft_file_write_all(p2, wbuf, sizeof wbuf, 0600), 0);
        CHECK_EQ(weft_file_rename(p2, p3), 0);
        char *data = NULL;
        size_t len = 0;
        CHECK_EQ(weft_file_read_all(p3, 0, &data, &len), 0);
        CHECK_EQ(len, FRAME);
        bad += !(data && len == FRAME &&
                 intact((unsigned char *)data, FRAME, seed));
        free(data);
        CHECK_EQ(weft_file_unlink(p3), 0);
        CHECK_EQ(weft_file_unlink(p), 0);
        bad += !intact(wbuf, sizeof wbuf, seed);
    }
    files_left--;
    return I2P(bad);
}

/* Takes the shared stack over, again and again, with a frame of its own. */
static void *stomps(void *arg)
{
    unsigned seed = (unsigned)P2I(arg);
    unsigned char local[2 * FRAME];
    fill(local, sizeof local, seed);
    int bad = 0;
    while (files_left > 0) {
        bad += weft_yield() != 0;
        bad += !intact(local, sizeof local, seed);
    }
    return I2P(bad);
}

static void *files_from_compact(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/weft-compact-XXXXXX";
    REQUIRE(mkdtemp(dir));
    enum { FILES = 6, STOMPERS = 4 };
    static file_arg args[FILES];
    weft_task *t[FILES + STOMPERS];
    unsigned long copies = weft__compact_copies;
    files_left = FILES;
    for (int i = 0; i < FILES; i++) {
        args[i] = (file_arg){.dir = dir, .i = i};
        t[i] = spawn_compact(file_user, &args[i]);
    }
    for (int i = 0; i < STOMPERS; i++)
        t[FILES + i] = spawn_compact(stomps, I2P(7 + i));
    void *res[FILES + STOMPERS];
    CHECK_EQ(weft_gather(t, FILES + STOMPERS, res, NULL, 0), 0);
    for (int i = 0; i < FILES + STOMPERS; i++)
        CHECK_EQ(P2I(res[i]), 0);
    /* The stack changed hands while the pool worked. */
    CHECK(weft__compact_copies - copies >= FILES * 4u);
    CHECK_EQ(rmdir(dir), 0);
    return NULL;
}

/* A read into the frame cut short by a scope while the pool thread is
 * blocked in it: the call waits for the job (a pipe's writer ends it), the
 * bytes it read are copied out on the resumed task, the copy freed. */
typedef struct pipe_arg {
    int rfd, wfd;
} pipe_arg;

static void *reads_pipe(void *arg)
{
    const pipe_arg *a = arg;
    unsigned char local[FRAME];
    fill(local, sizeof local, 5);
    char buf[16];
    memset(buf, '.', sizeof buf);
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.005, &sc) == 0);
    ssize_t rc = weft_file_read(a->rfd, buf, sizeof buf);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK_EQ(rc, -ETIMEDOUT);
    /* Withdrawn while queued: untouched; else what the writer sent. */
    CHECK(memcmp(buf, "................", 16) == 0 ||
          memcmp(buf, "xyz.............", 16) == 0);
    CHECK(intact(local, sizeof local, 5));
    return NULL;
}

static void *writes_pipe_late(void *arg)
{
    const pipe_arg *a = arg;
    CHECK_EQ(weft_sleep(0.03), 0);
    CHECK_EQ(write(a->wfd, "xyz", 3), 3);
    return NULL;
}

static void *file_read_cut_short(void *arg)
{
    (void)arg;
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    static pipe_arg pa;
    pa = (pipe_arg){fds[0], fds[1]};
    files_left = 1;
    weft_task *t[4];
    t[0] = spawn_compact(reads_pipe, &pa);
    t[1] = spawn_compact(stomps, I2P(3));
    REQUIRE(weft_spawn(writes_pipe_late, &pa, &t[2]) == 0);
    t[3] = spawn_compact(stomps, I2P(4));
    CHECK_EQ(weft_await(t[0], NULL), 0);
    files_left = 0;
    void *res[3];
    CHECK_EQ(weft_gather(t + 1, 3, res, NULL, 0), 0);
    CHECK_EQ(P2I(res[0]), 0);
    CHECK_EQ(P2I(res[2]), 0);
    close(fds[0]);
    close(fds[1]);
    return NULL;
}

/* The next weft allocation but one fails: in a file call, the first is
 * its operation, the second its first bounced copy. */
static void fail_bounce(void)
{
    weft__alloc_fail_countdown = 2;
}

static bool bounce_failed(void)
{
    bool hit = weft__alloc_fail_countdown == 0;
    weft__alloc_fail_countdown = 0;
    return hit;
}

/* A copy that cannot be made: -ENOMEM, nothing done, nothing leaked. */
static void *file_oom_user(void *arg)
{
    const char *dir = arg;
    char p[128], p2[128];
    snprintf(p, sizeof p, "%s/oom", dir);
    snprintf(p2, sizeof p2, "%s/oom2", dir);
    unsigned char buf[FRAME], rb[FRAME];
    fill(buf, sizeof buf, 9);
    int fd = -7;
    fail_bounce();
    CHECK_EQ(weft_file_open(p, O_CREAT | O_RDWR, 0600, &fd), -ENOMEM);
    CHECK(bounce_failed());
    CHECK_EQ(fd, -7);
    CHECK(access(p, F_OK) != 0); /* never created */
    REQUIRE(weft_file_open(p, O_CREAT | O_RDWR, 0600, &fd) == 0);
    size_t w = 99;
    fail_bounce();
    CHECK_EQ(weft_file_write(fd, buf, sizeof buf, &w), -ENOMEM);
    CHECK(bounce_failed());
    CHECK_EQ(w, 0);
    CHECK_EQ(weft_file_write(fd, buf, sizeof buf, &w), 0);
    memset(rb, 0xaa, sizeof rb);
    fail_bounce();
    CHECK_EQ(weft_file_pread(fd, rb, sizeof rb, 0), -ENOMEM);
    CHECK(bounce_failed());
    for (size_t i = 0; i < sizeof rb; i++)
        if (rb[i] != 0xaa) {
            CHECK(!"the read buffer was written");
            break;
        }
    struct stat st;
    memset(&st, 0, sizeof st);
    fail_bounce();
    CHECK_EQ(weft_file_stat(p, &st), -ENOMEM);
    CHECK(bounce_failed());
    CHECK_EQ(st.st_size, 0);
    weft__alloc_fail_countdown = 3; /* the second path's copy */
    CHECK_EQ(weft_file_rename(p, p2), -ENOMEM);
    CHECK(bounce_failed());
    CHECK(access(p, F_OK) == 0);
    /* Memory again: the same calls work. */
    CHECK_EQ(weft_file_pread(fd, rb, sizeof rb, 0), FRAME);
    CHECK(intact(rb, sizeof rb, 9));
    CHECK_EQ(weft_file_stat(p, &st), 0);
    CHECK_EQ(st.st_size, FRAME);
    CHECK_EQ(weft_file_rename(p, p2), 0);
    CHECK_EQ(weft_file_close(fd), 0);
    CHECK_EQ(weft_file_unlink(p2), 0);
    return NULL;
}

static void *file_oom(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/weft-compact-XXXXXX";
    REQUIRE(mkdtemp(dir));
    CHECK_EQ(weft_await(spawn_compact(file_oom_user, dir), NULL), 0);
    CHECK_EQ(rmdir(dir), 0);
    return NULL;
}

/* ---- overflow, loop close, dump ---- */

static __attribute__((noinline)) int dive(int depth)
{
    char pad[1024];
    memset(pad, depth, sizeof pad);
    __asm__ volatile("" : : "r"(pad) : "memory");
    if (depth > (1 << 20))
        return pad[0];
    return dive(depth + 1) + pad[0];
}

static void *diver(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_yield(), 0);
    return I2P(dive(0));
}

static void *overflow_main(void *arg)
{
    (void)arg;
    weft_spawn_opts o = {.name = "compact-diver",
                         .flags = WEFT_SPAWN_COMPACT};
    weft_task *t;
    REQUIRE(weft_spawn_ex(diver, NULL, &o, &t) == 0);
    weft_await(t, NULL);
    return NULL;
}

static void overflow_child(void *arg)
{
    (void)arg;
    weft_run(overflow_main, NULL, NULL);
    _exit(3);
}

static void overflow(void *arg)
{
    (void)arg;
    char *out = NULL;
    int st = check_fork(overflow_child, NULL, &out);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(out && strstr(out, "stack overflow in task 'compact-diver'"));
    free(out);
}

static void *stuck(void *arg)
{
    (void)arg;
    unsigned char local[FRAME];
    fill(local, sizeof local, 1);
    weft_shield_begin();
    weft_event_wait(&never);
    weft_shield_end();
    return NULL;
}

static void *leaves_stuck_and_dumps(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        weft_task *t = spawn_compact(stuck, NULL);
        weft_task_detach(t);
    }
    CHECK_EQ(weft_sleep(0.002), 0);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    CHECK_EQ(weft_dump_tasks(fds[1]), 0);
    close(fds[1]);
    char buf[8192];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    CHECK(strstr(buf, "waiting on an event") != NULL);
    /* Three stuck, at most one on the stack: two saved off it. */
    const char *away = "(a compact task: its frame is saved off the stack";
    int n_away = 0;
    for (const char *p = buf; (p = strstr(p, away)); p++)
        n_away++;
    CHECK(n_away >= 2);
    return NULL;
}

static void stuck_child(void *arg)
{
    (void)arg;
    _exit(weft_run(leaves_stuck_and_dumps, NULL, NULL) == 0 ? 0 : 1);
}

static void stuck_at_close(void *arg)
{
    (void)arg;
    char *out = NULL;
    int st = check_fork(stuck_child, NULL, &out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(out && strstr(out, "cannot finish"));
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        fprintf(stderr, "child said:\n%s", out ? out : "");
    free(out);
}

static const struct check_case_def cases[] = {
    CHECK_TASK("locals_survive_yield", locals_survive, (void *)by_yield),
    CHECK_TASK("locals_survive_sleep", locals_survive, (void *)by_sleep),
    CHECK_TASK("locals_survive_lock", locals_survive, (void *)by_lock),
    CHECK_TASK("locals_survive_io", locals_survive, (void *)by_io),
    CHECK_TASK("locals_survive_semaphore", locals_survive,
               (void *)by_semaphore),
    CHECK_TASK("locals_survive_queue", locals_survive, (void *)by_queue),
    CHECK_TASK("locals_survive_await", locals_survive, (void *)by_await),
    CHECK_TASK("locals_survive_signals", locals_survive_signals, NULL),
    CHECK_TASK("locals_survive_to_thread", locals_survive,
               (void *)by_to_thread),
    CHECK_TASK("mixed_with_default_tasks", mixed_with_default, NULL),
    CHECK_TASK("buffers_fit_frames", buffers_fit_frames, NULL),
    CHECK_TASK("start_where_the_last_finished", start_after_finish, NULL),
    CHECK_TASK("await_each_way", await_each_way, NULL),
    CHECK_TASK("gather_and_map_from_compact", gather_map_from_compact, NULL),
    CHECK_TASK("generator_consumers", generator_consumers, NULL),
    CHECK_TASK("to_thread_from_compact", pool_from_compact, NULL),
    CHECK_TASK("eager_compact_from_compact", eager_compact, NULL),
    CHECK_TASK("cancel_each_wait_scope_shield", cancel_each_wait, NULL),
    CHECK_TASK("bad_options", bad_options, NULL),
    RULE_CASE(spawn),
    RULE_CASE(spawn_ex),
    RULE_CASE(spawn_blocking),
    RULE_CASE(to_thread),
    RULE_CASE(to_thread_detachable),
    RULE_CASE(group_spawn),
    RULE_CASE(group_spawn_ex),
    RULE_CASE(gen_new),
    RULE_CASE(spawn_on),
    RULE_CASE(call_on),
    RULE_CASE(submit),
    RULE_CASE(call_soon),
    RULE_CASE(serve),
    RULE_CASE(queue_put),
    RULE_CASE(queue_try_put),
    RULE_CASE(lock_acquire),
    RULE_CASE(lock_try),
    RULE_CASE(lock_release),
    RULE_CASE(event_wait),
    RULE_CASE(event_set),
    RULE_CASE(event_clear),
    RULE_CASE(sem_acquire),
    RULE_CASE(sem_try),
    RULE_CASE(sem_release),
    RULE_CASE(cond_wait),
    RULE_CASE(cond_lock),
    RULE_CASE(cond_notify),
    RULE_CASE(cond_notify_all),
    RULE_CASE(barrier_init),
    RULE_CASE(barrier_wait),
    RULE_CASE(barrier_reset),
    RULE_CASE(barrier_abort),
    CHECK_TASK("rule_kept_off_the_frame", rule_kept, NULL),
    CHECK_TASK("file_calls_from_compact", files_from_compact, NULL),
    CHECK_TASK("file_read_cut_short", file_read_cut_short, NULL),
    {.name = "file_copy_out_of_memory", .task = file_oom,
     .flags = CHECK_NO_LEAK},
    CHECK_PLAIN("out_of_memory_each_allocation", out_of_memory, NULL),
    CHECK_PLAIN("overflow_report", overflow, NULL),
    CHECK_PLAIN("stuck_at_close_and_dump", stuck_at_close, NULL),
};

static const struct check_case_def ucontext_cases[] = {
    CHECK_TASK("ucontext_refuses", ucontext_refuses, NULL),
};

int main(void)
{
    if (UCONTEXT)
        return CHECK_MAIN(ucontext_cases);
    /* The pool's threads (up to 32, and the file calls' mallocs on them):
     * the C library keeps their stacks and arenas mapped after join. */
    check_allow_maps(32);
    return CHECK_MAIN(cases);
}

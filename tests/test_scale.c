/*
 * test_scale.c - weft holds up at scale and gives memory back.
 *
 * - 100000 tasks alive at once, all sleeping 50 ms concurrently, then
 *   awaited: every result right, no sleep cut short, and the whole batch
 *   takes about one sleep, not 100000 of them.
 * - 200000 trivial tasks spawned, then awaited: in FIFO mode they run in
 *   spawn order; in eager mode each has run by the time its spawn returns.
 * - Slots are reused: 100000 spawn+await rounds in a row keep weft's
 *   allocations and mappings constant and the process's RSS flat.
 * - Stacks of their own size (one mapping each) are unmapped as their
 *   tasks finish, while the loop runs: at most the stack of the task that
 *   finished last waits for the loop's next turn.
 * - A tree of tasks (depth 10, fanout 3) spawned from every level, all
 *   awaited.
 * - The stack pool reuses stacks: sequential tasks run on the same stack.
 * - A pool left idle for more than a second gives its stacks' pages back,
 *   even while the loop itself sleeps (RSS drops by at least half of what
 *   2000 stacks of 64 KiB had added).
 * Counts scale with WEFT_TEST_SCALE and shrink under sanitizers and qemu.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"
#include "coro/sanitize.h"

#include <errno.h>
#include <string.h>

static bool slow;

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    REQUIRE(f);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kib = atol(line + 6);
            break;
        }
    fclose(f);
    REQUIRE(kib >= 0);
    return kib;
}

static long maps_live(void)
{
    return __atomic_load_n(&weft__map_live, __ATOMIC_RELAXED);
}

static long allocs_live(void)
{
    return __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
}

static weft_task **handles;
static long nhandles;

static void need_handles(long n)
{
    if (n > nhandles) {
        free(handles);
        handles = calloc((size_t)n, sizeof *handles);
        REQUIRE(handles);
        nhandles = n;
    }
}

/* ---- 100000 concurrent sleepers ---- */

static long alive, max_alive, early;
static double first_start, last_start;

static void *sleeper(void *arg)
{
    if (++alive > max_alive)
        max_alive = alive;
    double t0 = weft_now();
    if (first_start == 0)
        first_start = t0;
    last_start = t0;
    int rc = weft_sleep(0.05);
    if (rc != 0 || weft_now() - t0 < 0.05)
        early++;
    alive--;
    return I2P(P2I(arg) * 3 + 1);
}

static void *main_sleepers(void *arg)
{
    long n = P2I(arg);
    need_handles(n);
    alive = max_alive = early = 0;
    first_start = last_start = 0;
    double t0 = weft_now();
    for (long i = 0; i < n; i++)
        REQUIRE(weft_spawn(sleeper, I2P(i), &handles[i]) == 0);
    long bad = 0;
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        int rc = weft_await(handles[i], &r);
        if (rc != 0 || P2I(r) != i * 3 + 1)
            bad++;
    }
    double dt = weft_now() - t0;
    CHECK_EQ(bad, 0);
    /* All of them were asleep at once, if starting them all took less
     * than one sleep (a loaded machine may take longer). */
    if (last_start - first_start < 0.05)
        CHECK_EQ(max_alive, n);
    else
        CHECK(max_alive >= 1000);
    CHECK_EQ(early, 0);
    CHECK(dt >= 0.05);
    /* Concurrently, not one after another (that would take n * 50 ms). */
    CHECK(dt < (slow ? 60.0 : 20.0));
    printf("%ld sleepers of 50 ms: %.2f s\n", n, dt);
    return NULL;
}

/* ---- 200000 trivial tasks, FIFO and eager ---- */

static long *order;
static long ran;

static void *record_order(void *arg)
{
    order[ran++] = P2I(arg);
    return I2P(P2I(arg) + 7);
}

static void *main_trivial(void *arg)
{
    long n = P2I(arg);
    need_handles(n);

    /* FIFO: nothing runs before the spawner waits; then in spawn order. */
    ran = 0;
    for (long i = 0; i < n; i++)
        REQUIRE(weft_spawn(record_order, I2P(i), &handles[i]) == 0);
    CHECK_EQ(ran, 0);
    long bad = 0;
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        if (weft_await(handles[i], &r) != 0 || P2I(r) != i + 7)
            bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(ran, n);
    long out_of_order = 0;
    for (long i = 0; i < n; i++)
        if (order[i] != i)
            out_of_order++;
    CHECK_EQ(out_of_order, 0);

    /* Eager: each has run (and finished) inside its spawn. */
    ran = 0;
    weft_spawn_opts eager = {.flags = WEFT_SPAWN_EAGER};
    long late = 0;
    for (long i = 0; i < n; i++) {
        REQUIRE(weft_spawn_ex(record_order, I2P(i), &eager, &handles[i]) == 0);
        if (ran != i + 1 || weft_task_done(handles[i]) != 1)
            late++;
    }
    CHECK_EQ(late, 0);
    bad = 0;
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        if (weft_await(handles[i], &r) != 0 || P2I(r) != i + 7)
            bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(ran, n);
    return NULL;
}

/* ---- slot reuse ---- */

static void *plus_one(void *arg)
{
    return I2P(P2I(arg) + 1);
}

static void *main_reuse(void *arg)
{
    long n = P2I(arg);
    weft_task *t;
    void *r;
    /* One round first, so that everything a round needs exists. */
    REQUIRE(weft_spawn(plus_one, NULL, &t) == 0);
    REQUIRE(weft_await(t, NULL) == 0);
    long maps0 = maps_live(), allocs0 = allocs_live();
    long rss0 = rss_kib();
    long bad = 0, map_changes = 0, alloc_changes = 0;
    for (long i = 0; i < n; i++) {
        if (weft_spawn(plus_one, I2P(i), &t) != 0 || weft_await(t, &r) != 0 ||
            P2I(r) != i + 1)
            bad++;
        if (maps_live() != maps0)
            map_changes++;
        if (allocs_live() != allocs0)
            alloc_changes++;
        /* Every few rounds the task runs before it is awaited. */
        if (i % 7 == 0)
            weft_yield();
    }
    long grew = rss_kib() - rss0;
    CHECK_EQ(bad, 0);
    CHECK_EQ(map_changes, 0);
    CHECK_EQ(alloc_changes, 0);
    CHECK(grew < 16 * 1024);
    printf("%ld spawn+await rounds: RSS grew %ld KiB\n", n, grew);
    return NULL;
}

/* ---- stacks of their own size ---- */

static __attribute__((noinline)) long use_stack(long n)
{
    char buf[4096];
    memset(buf, (int)(n & 0x7f), sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    return buf[n & 4095];
}

static void *own_stack_task(void *arg)
{
    long n = P2I(arg);
    weft_yield();
    return I2P(use_stack(n) == (n & 0x7f) ? n : -1);
}

static void *main_own_stacks(void *arg)
{
    long n = P2I(arg);
    need_handles(n);
    long base = maps_live();
    weft_spawn_opts o = {.stack_size = 32 * 1024};

    /* All alive at once: a mapping each. */
    for (long i = 0; i < n; i++) {
        o.stack_size = (size_t)(32 + (i % 4) * 8) * 1024;
        REQUIRE(weft_spawn_ex(own_stack_task, I2P(i), &o, &handles[i]) == 0);
    }
    CHECK_EQ(maps_live(), base); /* none has started: no stack yet */
    weft_yield();
    CHECK_EQ(maps_live(), base + n);
    long bad = 0;
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        if (weft_await(handles[i], &r) != 0 || P2I(r) != i)
            bad++;
    }
    CHECK_EQ(bad, 0);
    /* Only the stack the last task switched away from may wait for the
     * loop's next turn... */
    weft_yield();
    weft_yield();
    CHECK(maps_live() <= base + 1);
    /* ...which a sleep (the loop turns) gives it. */
    weft_sleep(0.001);
    CHECK_EQ(maps_live(), base);

    /* One at a time: the mappings never pile up. */
    long peak = 0;
    for (long i = 0; i < n; i++) {
        weft_task *t;
        REQUIRE(weft_spawn_ex(own_stack_task, I2P(i), &o, &t) == 0);
        void *r = NULL;
        if (weft_await(t, &r) != 0 || P2I(r) != i)
            bad++;
        if (maps_live() - base > peak)
            peak = maps_live() - base;
    }
    CHECK_EQ(bad, 0);
    CHECK(peak <= 2);
    weft_sleep(0.001);
    CHECK_EQ(maps_live(), base);
    return NULL;
}

/* ---- a tree of tasks ---- */

#define FANOUT 3

static void *tree_node(void *arg)
{
    long depth = P2I(arg);
    if (depth == 0)
        return I2P(1);
    weft_task *t[FANOUT];
    for (int i = 0; i < FANOUT; i++)
        REQUIRE(weft_spawn(tree_node, I2P(depth - 1), &t[i]) == 0);
    long sum = 1;
    for (int i = 0; i < FANOUT; i++) {
        void *r = NULL;
        CHECK_EQ(weft_await(t[i], &r), 0);
        sum += P2I(r);
    }
    return I2P(sum);
}

static void *main_tree(void *arg)
{
    long depth = P2I(arg);
    weft_task *t;
    REQUIRE(weft_spawn(tree_node, I2P(depth), &t) == 0);
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    long expect = 0, level = 1;
    for (long d = 0; d <= depth; d++, level *= FANOUT)
        expect += level;
    CHECK_EQ(P2I(r), expect);
    printf("tree of depth %ld, fanout %d: %ld tasks\n", depth, FANOUT,
           (long)P2I(r));
    return NULL;
}

/* ---- the stack pool reuses stacks ---- */

static __attribute__((noinline)) void *where(void *arg)
{
    (void)arg;
    /* The frame address is on the task's own stack even when a sanitizer
     * moves locals elsewhere. */
    return __builtin_frame_address(0);
}

static void *main_pool_reuse(void *arg)
{
    (void)arg;
    void *first = NULL;
    long same = 0, rounds = 100;
    char here;
    for (long i = 0; i < rounds; i++) {
        weft_task *t;
        REQUIRE(weft_spawn(where, NULL, &t) == 0);
        void *r = NULL;
        CHECK_EQ(weft_await(t, &r), 0);
        REQUIRE(r != NULL);
        if (i == 0)
            first = r;
        else if (r == first)
            same++;
    }
    CHECK_EQ(same, rounds - 1);
    /* ...and it is not the spawner's stack. */
    uintptr_t a = (uintptr_t)first, b = (uintptr_t)&here;
    CHECK((a > b ? a - b : b - a) > 4096);
    return NULL;
}

/* ---- idle stacks give their pages back ---- */

#define TOUCH (64 * 1024)

static __attribute__((noinline)) long touch_64k(long n)
{
    char buf[TOUCH];
    memset(buf, (int)(n | 1), sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    return buf[n % TOUCH];
}

static void *toucher(void *arg)
{
    long v = touch_64k(P2I(arg));
    weft_yield(); /* all of them are alive at once */
    return I2P(v);
}

static long rss_before, rss_peak, rss_after;

static void *main_trim(void *arg)
{
    long n = P2I(arg);
    need_handles(n);
    rss_before = rss_kib();
    for (long i = 0; i < n; i++)
        REQUIRE(weft_spawn(toucher, I2P(i), &handles[i]) == 0);
    long bad = 0;
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        if (weft_await(handles[i], &r) != 0 || P2I(r) != (char)(i | 1))
            bad++;
    }
    CHECK_EQ(bad, 0);
    rss_peak = rss_kib();
    /* Nothing else runs: the pool sits idle for 2.5 s. */
    CHECK_EQ(weft_sleep(2.5), 0);
    rss_after = rss_kib();
    return NULL;
}

/* ThreadSanitizer gives every started task a fiber of its own, and
 * allows 8128 of them at once. */
static void case_sleepers(void *arg)
{
    (void)arg;
    long n = check_scaled(WEFT_TSAN ? 4000 : slow ? 10000 : 100000);
    CHECK_EQ(weft_run(main_sleepers, I2P(n), NULL), 0);
}

static void case_trivial(void *arg)
{
    (void)arg;
    long n = check_scaled(slow ? 20000 : 200000);
    order = calloc((size_t)n, sizeof *order);
    REQUIRE(order);
    CHECK_EQ(weft_run(main_trivial, I2P(n), NULL), 0);
    free(order);
    order = NULL;
}

static void case_reuse(void *arg)
{
    (void)arg;
    long n = check_scaled(slow ? 20000 : 100000);
    CHECK_EQ(weft_run(main_reuse, I2P(n), NULL), 0);
}

static void case_own_stacks(void *arg)
{
    (void)arg;
    long n = check_scaled(slow ? 200 : 1000);
    CHECK_EQ(weft_run(main_own_stacks, I2P(n), NULL), 0);
}

static void case_tree(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_run(main_tree, I2P(slow ? 7 : 10), NULL), 0);
}

static void case_trim(void *arg)
{
    (void)arg;
    if (WEFT_TSAN) {
        /* ThreadSanitizer's shadow of the stacks stays resident: RSS
         * cannot show the pages given back. */
        printf("idle trim: not measured under ThreadSanitizer\n");
        check_case_skip("not measured under ThreadSanitizer");
    } else {
        long n = 2000;
        CHECK_EQ(weft_run(main_trim, I2P(n), NULL), 0);
        long added = rss_peak - rss_before, dropped = rss_peak - rss_after;
        printf("idle trim: %ld stacks added %ld KiB of RSS; %ld KiB given "
               "back after 2.5 s idle\n",
               n, added, dropped);
        CHECK(added >= n * (TOUCH / 1024) / 2); /* the stacks were touched */
        CHECK(dropped >= added / 2);
    }
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("sleepers", case_sleepers, NULL),
    CHECK_PLAIN("trivial", case_trivial, NULL),
    CHECK_PLAIN("reuse", case_reuse, NULL),
    CHECK_PLAIN("own_stacks", case_own_stacks, NULL),
    CHECK_PLAIN("tree", case_tree, NULL),
    CHECK_TASK("pool_reuse", main_pool_reuse, NULL),
    CHECK_PLAIN("trim", case_trim, NULL),
};

int main(void)
{
    slow = check_slow_env();
    int rc = CHECK_MAIN(cases);
    free(handles);
    return rc;
}

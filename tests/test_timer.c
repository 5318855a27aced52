/*
 * test_timer.c - the timer store (timer.c): its heap and wheel, driven
 * directly through weft__timer_add/del and weft__timers_due on records
 * taken from the loop, with no task sleeping, so that deadlines can be
 * anything and the "clock" is whatever the case says.
 *
 * - equal deadlines come out in arming order, also when some of them were
 *   armed into the wheel and the rest, after the wheel moved on, straight
 *   into the heap;
 * - timers cancelled from the middle (every third, in a random order) are
 *   never seen; the rest come out in (deadline, arming) order;
 * - 100,000 timers with deadlines from now to the end of time (every wheel
 *   level, and past the top one) come out in order as the clock advances
 *   in irregular steps, each only once its deadline is reached;
 * - what weft_loop_metrics calls timers counts both halves of the store.
 */
#define _GNU_SOURCE
#include "check.h"
#include "core.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 88172645463325252u;
static uint64_t rng(void)
{
    return check_xorshift(&rng_state);
}

static weft__record **take(weft__loop *L, long n)
{
    weft__record **r = malloc((size_t)n * sizeof *r);
    REQUIRE(r);
    for (long i = 0; i < n; i++)
        REQUIRE((r[i] = weft__record_alloc(L)) != NULL);
    return r;
}

static void give_back(weft__loop *L, weft__record **r, long n)
{
    for (long i = 0; i < n; i++)
        weft__record_release(L, r[i]);
    free(r);
}

/* Takes out everything due by `until`, in steps of at most `step` ns of
 * clock, checking (deadline, arming) order and that nothing comes early;
 * returns how many came out. */
static long drain(weft__loop *L, uint64_t from, uint64_t until, uint64_t step)
{
    uint64_t last_d = 0, last_seq = 0, now = from;
    long n = 0;
    for (;;) {
        weft__record *r;
        while ((r = weft__timers_due(L, now))) {
            CHECK(r->deadline <= now);
            CHECK(r->deadline > last_d ||
                  (r->deadline == last_d && r->timer_seq > last_seq) || !n);
            last_d = r->deadline;
            last_seq = r->timer_seq;
            weft__timer_del(L, r);
            n++;
        }
        if (now >= until)
            return n;
        uint64_t s = 1 + rng() % step;
        now = until - now < s ? until : now + s;
    }
}

static void *equal_deadlines(void *arg)
{
    (void)arg;
    weft__loop *L = weft__tls_loop;
    enum { N = 2000 };
    weft__record **r = take(L, N);
    uint64_t now = weft__clock_ns(), d = now + 500000000u; /* 0.5 s ahead */
    for (int i = 0; i < N / 2; i++)
        weft__timer_add(L, r[i], d);
    /* The clock reaches d's tick (but not d): the wheel moves those into
     * the heap; the second half, armed now, goes to the heap directly. */
    uint64_t tick_start = d & ~(((uint64_t)1 << 20) - 1);
    CHECK(weft__timers_due(L, tick_start) == NULL || d == tick_start);
    for (int i = N / 2; i < N; i++)
        weft__timer_add(L, r[i], d);
    for (int i = 0; i < N; i++) {
        weft__record *f = weft__timers_due(L, d);
        REQUIRE(f != NULL);
        CHECK(f == r[i]);
        weft__timer_del(L, f);
    }
    CHECK(weft__timers_due(L, UINT64_MAX - 1) == NULL);
    CHECK_EQ(weft__timers_next(L), (long long)WEFT__NO_DEADLINE);
    give_back(L, r, N);
    return NULL;
}

static void *cancel_middle(void *arg)
{
    (void)arg;
    weft__loop *L = weft__tls_loop;
    enum { N = 3000 };
    weft__record **r = take(L, N);
    uint64_t now = weft__clock_ns();
    /* Deadlines within 10 s, a few equal ones among them. */
    for (int i = 0; i < N; i++)
        weft__timer_add(L, r[i], now + (rng() % 1000) * 10000000u);
    int order[N / 3];
    for (int i = 0; i < N / 3; i++)
        order[i] = 3 * i + 1;
    for (int i = N / 3 - 1; i > 0; i--) {
        int j = (int)(rng() % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < N / 3; i++) {
        weft__timer_del(L, r[order[i]]);
        CHECK_EQ(r[order[i]]->timer_pos, 0);
    }
    CHECK_EQ(L->n_user_timers, N - N / 3);
    CHECK_EQ(drain(L, now, now + 11000000000u, 3000000u), N - N / 3);
    for (int i = 0; i < N; i++)
        CHECK_EQ(r[i]->timer_pos, 0);
    give_back(L, r, N);
    return NULL;
}

static void *many_in_order(void *arg)
{
    (void)arg;
    weft__loop *L = weft__tls_loop;
    /* ThreadSanitizer counts a record's fiber as a thread (8128 at most). */
    long n = check_scaled(check_slow_env() ? 4000 : 100000);
    weft__record **r = take(L, n);
    uint64_t now = weft__clock_ns();
    long far = 0;
    for (long i = 0; i < n; i++) {
        /* Mostly within a minute; some at any distance up to the last
         * nanosecond a deadline can name. */
        uint64_t d;
        if (i % 100 == 0) {
            d = now + (rng() >> (rng() % 64));
            if (d >= WEFT__NO_DEADLINE || d < now)
                d = WEFT__NO_DEADLINE - 1;
            far++;
        } else {
            d = now + rng() % 60000000000u;
        }
        weft__timer_add(L, r[i], d);
    }
    /* A minute of clock in steps of up to 5 ms; then the rest at once. */
    long got = drain(L, now, now + 60000000000u, 5000000u);
    CHECK(got >= n - far);
    got += drain(L, now + 60000000000u, WEFT__NO_DEADLINE - 1,
                 WEFT__NO_DEADLINE / 64);
    CHECK_EQ(got, n);
    CHECK_EQ(L->n_user_timers, 0);
    CHECK_EQ(weft__timers_next(L), (long long)WEFT__NO_DEADLINE);
    give_back(L, r, n);
    return NULL;
}

/* weft__timers_next never names a time after the earliest deadline. */
static void *next_is_a_lower_bound(void *arg)
{
    (void)arg;
    weft__loop *L = weft__tls_loop;
    enum { N = 200 };
    weft__record **r = take(L, N);
    uint64_t now = weft__clock_ns(), min = WEFT__NO_DEADLINE;
    for (int i = 0; i < N; i++) {
        uint64_t d = now + 1000 + rng() % (3600 * 1000000000ull);
        weft__timer_add(L, r[i], d);
        if (d < min)
            min = d;
        uint64_t next = weft__timers_next(L);
        CHECK(next <= min);
        CHECK(next > now); /* and not needlessly early: after the clock */
    }
    CHECK_EQ(drain(L, now, now + 3601 * 1000000000ull, 10000000000u), N);
    give_back(L, r, N);
    return NULL;
}

static void *sleeper(void *arg)
{
    return I2P(weft_sleep(P2I(arg) ? 3600 : 0.001));
}

static void *metrics_count_both(void *arg)
{
    (void)arg;
    weft_task *t[3];
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_spawn(sleeper, I2P(i), &t[i]) == 0);
    weft_yield();
    weft_loop_metrics m;
    CHECK_EQ(weft_loop_metrics_read(&m), 0);
    CHECK_EQ(m.timers, 3);
    for (int i = 1; i < 3; i++)
        weft_task_cancel(t[i]);
    for (int i = 0; i < 3; i++) {
        int rc = weft_await(t[i], NULL);
        CHECK(rc == (i ? -ECANCELED : 0));
    }
    CHECK_EQ(weft_loop_metrics_read(&m), 0);
    CHECK_EQ(m.timers, 0);
    return NULL;
}

int main(void)
{
    /* The cases drive the timer store from one task that never suspends,
     * on purpose: no blocked-loop warnings for them. */
    setenv("WEFT_BLOCKED_WARN", "off", 0);
    check_begin();
    check_case("equal_deadlines_fire_in_arming_order", equal_deadlines, NULL,
               0);
    check_case("cancel_from_the_middle", cancel_middle, NULL, 0);
    check_case("many_timers_fire_in_order", many_in_order, NULL, 0);
    check_case("next_is_a_lower_bound", next_is_a_lower_bound, NULL, 0);
    check_case("metrics_count_heap_and_wheel", metrics_count_both, NULL, 0);
    return check_end();
}

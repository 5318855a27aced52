/*
 * timer.c - the timer store, weft_sleep, weft_yield, weft_now.
 *
 * Two halves, with one order: a 4-ary min-heap of (deadline, arming order)
 * pairs holds the timers due by the wheel's current tick (wheel_tick), and
 * a hierarchical timing wheel (8 levels of 64 slots, ticks of 2^20 ns =
 * 1.05 ms, as Tokio's and the Linux kernel's) holds the later ones in
 * intrusive lists through the records.  Every heap timer comes before
 * every wheel timer; as the clock moves, the wheel moves its slots down a
 * level or into the heap, so the heap always holds the earliest timers and
 * fires them at their exact nanosecond, equal deadlines in arming order
 * (timer_seq): the wheel changes where a timer waits, never when it fires.
 * A task has at most one timer; the heap's capacity is kept >= the number
 * of task records and a wheel link is a field of the record, so arming
 * never allocates.  A record's timer_pos says where its timer is.
 *
 * Why both, measured (bench_timer, 1M timers from 1M records, random
 * deadlines over 1 s, cancelled in a random order; ns per arm + cancel,
 * medians of 3 runs on a shared 2-CPU VM): the binary heap this replaces
 * 296-324, a 4-ary heap 280-314 (cancels hit a random spot: each leaves a
 * hole that costs dependent cache misses and mispredicted compares, whatever
 * the arity), the wheel and heap 65-122, median 87 over 7 invocations (a
 * cancel unlinks from a list: three record writes, no search).  Armed then
 * fired in order: 326-371 (binary), 195-239 (4-ary), 88-141, median 102
 * (wheel and heap: the heap holds one tick's timers, not a million).  The
 * floor, a write to each record in each order, is 17-29.  1 ms sleeps wake
 * as late as before, within this machine's noise (docs/benchmarks.md,
 * "Timers").
 *
 * Deadlines are absolute CLOCK_MONOTONIC nanoseconds, always computed from a
 * fresh clock read: a loop-cached clock would make timers fire early when
 * the cache is stale.
 */
#define _GNU_SOURCE
#include "core.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

/* Wheel ticks: 2^20 ns (1.05 ms). */
#define TICK_SHIFT 20

uint64_t weft__clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double weft_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t weft__deadline_after(double seconds)
{
    uint64_t now = weft__clock_ns();
    if (seconds <= 0)
        return now;
    double ns = ceil(seconds * 1e9);
    if (!(ns < (double)(WEFT__NO_DEADLINE - now))) /* +inf and overflow */
        return WEFT__NO_DEADLINE;
    return now + (uint64_t)ns;
}

/* ---- the heap: timers due by the wheel's current tick ---- */

/* Children of i are ARITY*i+1 .. ARITY*i+ARITY.  The array starts
 * HEAP_SKEW entries into its arena, so that each group of four children
 * (4 x 16 bytes) is one 64-byte cache line. */
#define ARITY 4
#define HEAP_SKEW 3

int weft__heap_reserve(weft__loop *L, uint32_t n)
{
    return weft__arena_grow_lazy(&L->heap_arena,
                                 ((size_t)n + HEAP_SKEW) * sizeof(*L->heap));
}

void weft__timers_init(weft__loop *L)
{
    L->heap = (weft__timer_ent *)L->heap_arena.base + HEAP_SKEW;
    L->wheel_tick = weft__clock_ns() >> TICK_SHIFT;
}

static bool before(const weft__timer_ent *a, const weft__timer_ent *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->f->timer_seq < b->f->timer_seq;
}

static void place(weft__loop *L, uint32_t i, weft__timer_ent e)
{
    L->heap[i] = e;
    e.f->timer_pos = i + 1;
}

static void sift_up(weft__loop *L, uint32_t i, weft__timer_ent e)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / ARITY;
        if (!before(&e, &L->heap[parent]))
            break;
        place(L, i, L->heap[parent]);
        i = parent;
    }
    place(L, i, e);
}

static void sift_down(weft__loop *L, uint32_t i, weft__timer_ent e)
{
    uint32_t n = L->heap_len;
    weft__timer_ent *h = L->heap;
    for (;;) {
        uint32_t c = ARITY * i + 1;
        if (c >= n)
            break;
        uint32_t end = c + ARITY < n ? c + ARITY : n;
        uint32_t m = c;
        for (uint32_t k = c + 1; k < end; k++)
            if (before(&h[k], &h[m]))
                m = k;
        if (!before(&h[m], &e))
            break;
        place(L, i, h[m]);
        i = m;
    }
    place(L, i, e);
}

static void heap_remove(weft__loop *L, uint32_t i)
{
    weft__timer_ent last = L->heap[--L->heap_len];
    if (i == L->heap_len)
        return;
    /* The last entry fills the hole, then moves whichever way it must. */
    if (i > 0 && before(&last, &L->heap[(i - 1) / ARITY]))
        sift_up(L, i, last);
    else
        sift_down(L, i, last);
}

/* ---- the wheel: timers due after its current tick ---- */

/* f's tick is after wheel_tick: it goes to the level of the highest 6-bit
 * digit in which the two differ, in the slot of its own digit there. */
static void wheel_put(weft__loop *L, weft__record *f, uint64_t tick)
{
    unsigned level = (63 - __builtin_clzll(tick ^ L->wheel_tick)) / 6;
    unsigned slot = (unsigned)(tick >> (6 * level)) & 63;
    weft__record **head = &L->wheel_head[level][slot];
    if (*head)
        (*head)->wheel_prev = f;
    f->wheel_next = *head;
    f->wheel_prev = NULL;
    f->timer_pos = WEFT__IN_WHEEL | (level * 64 + slot);
    *head = f;
    L->wheel_used[level] |= (uint64_t)1 << slot;
}

static void wheel_unlink(weft__loop *L, weft__record *f, uint32_t pos)
{
    weft__record *prev = f->wheel_prev, *next = f->wheel_next;
    if (next)
        next->wheel_prev = prev;
    if (prev) {
        prev->wheel_next = next;
        return;
    }
    unsigned level = (pos & ~WEFT__IN_WHEEL) / 64;
    unsigned slot = (pos & ~WEFT__IN_WHEEL) % 64;
    L->wheel_head[level][slot] = next;
    if (!next)
        L->wheel_used[level] &= ~((uint64_t)1 << slot);
}

/* Puts an armed f where its deadline belongs. */
static void arm(weft__loop *L, weft__record *f)
{
    uint64_t tick = f->deadline >> TICK_SHIFT;
    if (tick > L->wheel_tick) {
        wheel_put(L, f, tick);
    } else {
        weft__timer_ent e = {f->deadline, f};
        sift_up(L, L->heap_len++, e);
    }
}

/* The earliest non-empty slot: returns its level (-1 if the wheel is
 * empty), its number in *slot and its first tick in *start.  A level's
 * slots all lie after wheel_tick's digit there, and every timer of a level
 * comes before every timer of the levels above. */
static int wheel_first(weft__loop *L, unsigned *slot, uint64_t *start)
{
    for (int level = 0; level < WEFT__WHEEL_LEVELS; level++) {
        uint64_t used = L->wheel_used[level];
        if (!used)
            continue;
        unsigned shift = 6 * (unsigned)level;
        *slot = (unsigned)__builtin_ctzll(used);
        *start = (L->wheel_tick >> (shift + 6) << (shift + 6)) |
                 (uint64_t)*slot << shift;
        return level;
    }
    return -1;
}

/* Moves wheel_tick up to tick, emptying in order every slot that starts by
 * then: its timers go to the heap (due by the new wheel_tick) or down to
 * a lower level. */
static void wheel_advance(weft__loop *L, uint64_t tick)
{
    if (tick <= L->wheel_tick)
        return;
    unsigned slot;
    uint64_t start;
    int level;
    while ((level = wheel_first(L, &slot, &start)) >= 0 && start <= tick) {
        L->wheel_tick = start;
        weft__record *f = L->wheel_head[level][slot];
        L->wheel_head[level][slot] = NULL;
        L->wheel_used[level] &= ~((uint64_t)1 << slot);
        while (f) {
            weft__record *next = f->wheel_next;
            arm(L, f);
            f = next;
        }
    }
    L->wheel_tick = tick;
}

/* ---- arming, cancelling, firing ---- */

void weft__timer_add(weft__loop *L, weft__record *f, uint64_t deadline)
{
    f->deadline = deadline;
    f->timer_seq = L->timer_seq++;
    L->n_user_timers++;
    arm(L, f);
}

void weft__timer_del(weft__loop *L, weft__record *f)
{
    uint32_t pos = f->timer_pos;
    f->timer_pos = 0;
    f->deadline = WEFT__NO_DEADLINE;
    L->n_user_timers--;
    if (pos & WEFT__IN_WHEEL)
        wheel_unlink(L, f, pos);
    else
        heap_remove(L, pos - 1);
}

weft__record *weft__timers_due(weft__loop *L, uint64_t now)
{
    /* Every deadline <= now has a tick <= now's: in the heap after this. */
    wheel_advance(L, now >> TICK_SHIFT);
    if (L->heap_len && L->heap[0].deadline <= now)
        return L->heap[0].f;
    return NULL;
}

void weft__timers_fire(weft__loop *L, uint64_t now)
{
    weft__record *r;
    while ((r = weft__timers_due(L, now))) {
        /* A scope's deadline (the task is interrupted, its wait may go on
         * without a timer), or the call's own (woken: the entry goes). */
        if ((r->scope_alert & WEFT__ALERT_SCOPE) &&
            weft__scope_timer(L, r, r->deadline)) {
            if (r->timer_pos)
                weft__timer_del(L, r);
            continue;
        }
        weft__wake(L, r, -ETIMEDOUT);
    }
}

uint64_t weft__timers_next(weft__loop *L)
{
    if (!L->heap_len) {
        unsigned slot;
        uint64_t start;
        int level = wheel_first(L, &slot, &start);
        if (level < 0)
            return WEFT__NO_DEADLINE;
        /* A slot above level 0 spans 67 ms or more: its start is a lower
         * bound, and the loop, woken then, moves the slot down (one early
         * wake-up per level at most).  A level-0 slot (1.05 ms) goes to
         * the heap now, for the exact deadline. */
        if (level > 0)
            return start << TICK_SHIFT;
        wheel_advance(L, start);
    }
    return L->heap[0].deadline;
}

static void sleep_describe(weft__loop *L, weft__record *r, char *buf,
                           size_t len)
{
    (void)L;
    if (r->deadline == WEFT__NO_DEADLINE)
        snprintf(buf, len, "sleeping with no deadline");
    else
        snprintf(buf, len, "sleeping");
}

const weft__wait_kind weft__wait_sleep = {.describe = sleep_describe};

static int yield_now(weft__loop *L, weft__record *f)
{
    f->wait = WEFT__WAIT_READY;
    f->wake_rc = 0;
    weft__ring_push(L, f->idx);
    weft__suspend(L);
    return 0;
}

/* weft_sleep once the deadline is known, as its own function (reached by
 * a tail call): then weft_sleep's frame is gone before this one blocks,
 * and this one keeps only integers - a compact task saves the frames
 * under it while it sleeps, so every byte here is a byte per sleeper.
 * Not static: task dumps name it where a sleeping task waits. */
int weft__sleep_until(weft__loop *L, weft__record *f, uint64_t deadline);

__attribute__((noinline)) int weft__sleep_until(weft__loop *L,
                                                weft__record *f,
                                                uint64_t deadline)
{
    /* Kept in the record, not this frame, across the check (which may
     * call out); weft__block stores it there anyway. */
    f->wait_deadline = deadline;
    WEFT__RETURN_IF_CANCELLED(L, f);
    int rc = weft__block(L, f, &weft__wait_sleep, f->wait_deadline);
    /* Its own deadline passing is a success (even if a scope's passed in
     * the same turn: the next call sees that); a scope's alone is not. */
    if (rc == -ETIMEDOUT && L->now >= f->wait_deadline)
        return 0;
    return rc;
}

int weft_sleep(double seconds)
{
    weft__loop *L = weft__tls_loop;
    weft__record *f = L ? L->cur : NULL;
    if (!f)
        return -EPERM;
    if (isnan(seconds))
        return -EINVAL;
    if (seconds <= 0) {
        WEFT__RETURN_IF_CANCELLED(L, f);
        return yield_now(L, f);
    }
    return weft__sleep_until(L, f, weft__deadline_after(seconds));
}

int weft_yield(void)
{
    weft__loop *L = weft__tls_loop;
    weft__record *f = L ? L->cur : NULL;
    if (!f)
        return -EPERM;
    WEFT__RETURN_IF_CANCELLED(L, f);
    return yield_now(L, f);
}

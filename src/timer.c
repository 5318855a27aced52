/*
 * timer.c - the timer heap, weft_sleep, weft_yield, weft_now.
 *
 * A binary min-heap of (deadline, arming order) pairs; each task record
 * holds its position so that a cancelled wait leaves the heap in O(log n).
 * The heap's capacity is kept >= the number of task records (a task has at
 * most one timer), so arming a timer never allocates.
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

int weft__heap_reserve(weft__loop *L, uint32_t n)
{
    return weft__arena_grow(&L->heap_arena, (size_t)n * sizeof(*L->heap));
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
    e.f->heap_pos = i + 1;
}

static void sift_up(weft__loop *L, uint32_t i, weft__timer_ent e)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
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
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&L->heap[c + 1], &L->heap[c]))
            c++;
        if (!before(&L->heap[c], &e))
            break;
        place(L, i, L->heap[c]);
        i = c;
    }
    place(L, i, e);
}

void weft__timer_add(weft__loop *L, weft__record *f, uint64_t deadline)
{
    f->deadline = deadline;
    f->timer_seq = L->timer_seq++;
    L->n_user_timers++;
    weft__timer_ent e = {deadline, f};
    sift_up(L, L->heap_len++, e);
}

void weft__timer_del(weft__loop *L, weft__record *f)
{
    uint32_t i = f->heap_pos - 1;
    f->heap_pos = 0;
    f->deadline = WEFT__NO_DEADLINE;
    L->n_user_timers--;
    weft__timer_ent last = L->heap[--L->heap_len];
    if (i == L->heap_len)
        return;
    /* The last entry fills the hole, then moves whichever way it must. */
    if (i > 0 && before(&last, &L->heap[(i - 1) / 2]))
        sift_up(L, i, last);
    else
        sift_down(L, i, last);
}

void weft__timers_fire(weft__loop *L, uint64_t now)
{
    while (L->heap_len && L->heap[0].deadline <= now) {
        weft__record *r = L->heap[0].f;
        /* A scope's deadline (the task is interrupted, its wait may go on
         * without a timer), or the call's own (woken: the entry goes). */
        if (r->scope_alert && weft__scope_timer(L, r, L->heap[0].deadline)) {
            if (r->heap_pos)
                weft__timer_del(L, r);
            continue;
        }
        weft__wake(L, r, -ETIMEDOUT);
    }
}

uint64_t weft__timers_next(weft__loop *L)
{
    return L->heap_len ? L->heap[0].deadline : WEFT__NO_DEADLINE;
}

weft__record *weft__timers_first(weft__loop *L)
{
    return L->heap_len ? L->heap[0].f : NULL;
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

int weft_sleep(double seconds)
{
    weft__loop *L = weft__tls_loop;
    weft__record *f = L ? L->cur : NULL;
    if (!f)
        return -EPERM;
    if (isnan(seconds))
        return -EINVAL;
    WEFT__RETURN_IF_CANCELLED(L, f);
    if (seconds <= 0)
        return yield_now(L, f);
    int rc = weft__block(L, f, &weft__wait_sleep,
                         weft__deadline_after(seconds));
    /* Its own deadline passing is a success (even if a scope's passed in
     * the same turn: the next call sees that); a scope's alone is not. */
    if (rc == -ETIMEDOUT && L->now >= f->wait_deadline)
        return 0;
    return rc;
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

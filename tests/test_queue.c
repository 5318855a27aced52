/*
 * test_queue.c - weft_queue (asyncio.Queue, LifoQueue, PriorityQueue, with
 * task_done/join and Python 3.13's shutdown), with asyncio's
 * test_queues.py as the reference.  It proves:
 * - FIFO, LIFO and PRIORITY order (priority by a comparator over intptr_t
 *   items and over pointers to ints), bounded and unbounded, including a
 *   FIFO ring that wraps and grows while wrapped;
 * - an unbounded put never waits, nor does a put into a non-full queue or
 *   a get from a non-empty one (a ready task does not run in between);
 * - a bounded put waits while the queue is full and resumes when a get
 *   makes room, the waiting putter's item going in at once, in order;
 *   waiting putters and getters are served FIFO;
 * - try_put is -EAGAIN when full, try_get -EAGAIN when empty;
 * - a get cancelled with an item in flight (a put handed the item to the
 *   waiting getter, which is cancelled before it runs) returns 0 with the
 *   item: over many rounds, every item put is got exactly once;
 * - a put cancelled while waiting on a full queue does not add its item;
 *   one whose item a get already moved in returns 0 (added exactly once);
 * - task_done/join: join waits until every item put (queued, handed over
 *   or moved in) is done; task_done once too often is -EINVAL;
 * - shutdown: puts fail and waiting putters wake with -ESHUTDOWN, getters
 *   drain what is left then get -ESHUTDOWN; immediate: the items are
 *   dropped (and count as done, releasing join), waiting getters wake with
 *   -ESHUTDOWN;
 * - weft_queue_free refuses (-EBUSY) while a getter, putter or joiner
 *   waits, and frees a queue still holding items;
 * - -EINVAL for a bad kind, PRIORITY without cmp, FIFO/LIFO with cmp, NULL
 *   arguments; -EPERM outside a task;
 * - many producers and consumers (check_scaled(10000) items, with
 *   consumers cancelled and replaced as they go) account for every item
 *   exactly once, for each kind.
 */
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static int cmp_intptr(const void *a, const void *b)
{
    intptr_t x = P2I(a), y = P2I(b);
    return (x > y) - (x < y);
}

static int cmp_intp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static weft_queue *new_queue(int kind, size_t maxsize)
{
    weft_queue *q = NULL;
    REQUIRE(weft_queue_new(kind, maxsize,
                           kind == WEFT_QUEUE_PRIORITY ? cmp_intptr : NULL,
                           &q) == 0);
    REQUIRE(q != NULL);
    return q;
}

static int bumps;

static void *bump(void *arg)
{
    (void)arg;
    bumps++;
    return NULL;
}

/* A small deterministic generator. */
static uint32_t rng_state;

static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* ============================================================ order */

static void *case_order(void *arg)
{
    (void)arg;
    static const intptr_t scrambled[10] = {5, 9, 1, 7, 3, 10, 2, 8, 6, 4};
    void *it;
    for (int bounded = 0; bounded < 2; bounded++) {
        size_t max = bounded ? 10 : 0;
        weft_queue *f = new_queue(WEFT_QUEUE_FIFO, max);
        weft_queue *l = new_queue(WEFT_QUEUE_LIFO, max);
        weft_queue *p = new_queue(WEFT_QUEUE_PRIORITY, max);
        for (int i = 0; i < 10; i++) {
            CHECK_EQ(weft_queue_put(f, I2P(scrambled[i])), 0);
            CHECK_EQ(weft_queue_put(l, I2P(scrambled[i])), 0);
            CHECK_EQ(weft_queue_put(p, I2P(scrambled[i])), 0);
        }
        CHECK_EQ(weft_queue_size(f), 10);
        CHECK_EQ(weft_queue_size(l), 10);
        CHECK_EQ(weft_queue_size(p), 10);
        for (int i = 0; i < 10; i++) {
            CHECK_EQ(weft_queue_get(f, &it), 0);
            CHECK_EQ(P2I(it), scrambled[i]);
            CHECK_EQ(weft_queue_get(l, &it), 0);
            CHECK_EQ(P2I(it), scrambled[9 - i]);
            CHECK_EQ(weft_queue_get(p, &it), 0);
            CHECK_EQ(P2I(it), i + 1);
        }
        CHECK_EQ(weft_queue_size(f), 0);
        CHECK_EQ(weft_queue_try_get(f, &it), -EAGAIN);
        CHECK_EQ(weft_queue_try_get(l, &it), -EAGAIN);
        CHECK_EQ(weft_queue_try_get(p, &it), -EAGAIN);
        CHECK_EQ(weft_queue_free(f), 0);
        CHECK_EQ(weft_queue_free(l), 0);
        CHECK_EQ(weft_queue_free(p), 0);
    }

    /* Priority over pointers to ints: the comparator sees the items. */
    static int vals[8] = {40, 10, 70, 30, 80, 20, 60, 50};
    weft_queue *pq;
    REQUIRE(weft_queue_new(WEFT_QUEUE_PRIORITY, 0, cmp_intp, &pq) == 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(weft_queue_put(pq, &vals[i]), 0);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(weft_queue_get(pq, &it), 0);
        CHECK(it >= (void *)&vals[0] && it <= (void *)&vals[7]);
        CHECK_EQ(*(int *)it, 10 * (i + 1));
    }
    CHECK_EQ(weft_queue_free(pq), 0);

    /* Interleaved puts and gets against a reference model, for each kind,
     * bounded (the FIFO ring wraps) and unbounded (it grows, also while
     * wrapped). */
    enum { MODEL_MAX = 64 };
    for (int kind = 0; kind < 3; kind++) {
        for (int bounded = 0; bounded < 2; bounded++) {
            size_t max = bounded ? 5 : 0;
            weft_queue *q = new_queue(kind, max);
            intptr_t model[MODEL_MAX];
            int n = 0, head = 0; /* FIFO model: [head, head + n) */
            rng_state = 12345u + (uint32_t)kind * 7u + (uint32_t)bounded;
            int mismatches = 0;
            for (int step = 0; step < 4000; step++) {
                int cap = bounded ? 5 : MODEL_MAX - 1;
                bool do_put = n == 0 || (n < cap && rng() % 100 < 55);
                if (do_put) {
                    intptr_t v = (intptr_t)(rng() % 1000) + 1;
                    CHECK_EQ(weft_queue_try_put(q, I2P(v)), 0);
                    if (kind == WEFT_QUEUE_FIFO)
                        model[(head + n) % MODEL_MAX] = v;
                    else
                        model[n] = v;
                    n++;
                } else {
                    intptr_t want;
                    if (kind == WEFT_QUEUE_FIFO) {
                        want = model[head];
                        head = (head + 1) % MODEL_MAX;
                    } else if (kind == WEFT_QUEUE_LIFO) {
                        want = model[n - 1];
                    } else {
                        int m = 0;
                        for (int i = 1; i < n; i++)
                            if (model[i] < model[m])
                                m = i;
                        want = model[m];
                        model[m] = model[n - 1];
                    }
                    n--;
                    void *got = NULL;
                    CHECK_EQ(weft_queue_try_get(q, &got), 0);
                    if (P2I(got) != want)
                        mismatches++;
                }
                if (bounded && n == 5)
                    CHECK_EQ(weft_queue_try_put(q, I2P(1)), -EAGAIN);
                if ((size_t)n != weft_queue_size(q))
                    mismatches++;
            }
            CHECK_EQ(mismatches, 0);
            CHECK_EQ(weft_queue_free(q), 0);
        }
    }
    /* Unbounded FIFO: wrapped, then grown several times while wrapped. */
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    intptr_t next_in = 1, next_out = 1;
    for (int i = 0; i < 12; i++)
        CHECK_EQ(weft_queue_put(q, I2P(next_in++)), 0);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(weft_queue_get(q, &it), 0);
        CHECK_EQ(P2I(it), next_out++);
    }
    for (int i = 0; i < 200; i++)
        CHECK_EQ(weft_queue_put(q, I2P(next_in++)), 0);
    CHECK_EQ(weft_queue_size(q), 202);
    int bad = 0;
    while (weft_queue_try_get(q, &it) == 0)
        bad += P2I(it) != next_out++;
    CHECK_EQ(bad, 0);
    CHECK_EQ(next_out, next_in);
    CHECK_EQ(weft_queue_free(q), 0);
    return NULL;
}

/* ============================================== waiting and not waiting */

static void *case_no_suspend(void *arg)
{
    (void)arg;
    weft_task *t;
    void *it;
    bumps = 0;
    REQUIRE(weft_spawn(bump, NULL, &t) == 0);
    weft_queue *u = new_queue(WEFT_QUEUE_FIFO, 0);
    long n = check_scaled(5000);
    for (long i = 0; i < n; i++)
        CHECK_EQ(weft_queue_put(u, I2P(i + 1)), 0); /* unbounded */
    CHECK_EQ(weft_queue_size(u), n);
    for (long i = 0; i < n; i++)
        CHECK_EQ(weft_queue_get(u, &it), 0);
    weft_queue *b = new_queue(WEFT_QUEUE_LIFO, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_queue_put(b, I2P(i + 1)), 0); /* room */
    CHECK_EQ(weft_queue_try_put(b, I2P(9)), -EAGAIN);
    CHECK_EQ(weft_queue_size(b), 3);
    CHECK_EQ(weft_queue_get(b, &it), 0);
    CHECK_EQ(P2I(it), 3);
    CHECK_EQ(weft_queue_try_put(b, I2P(4)), 0);
    CHECK_EQ(bumps, 0); /* nothing above suspended */
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(bumps, 1);
    CHECK_EQ(weft_queue_free(u), 0);
    CHECK_EQ(weft_queue_free(b), 0); /* items still in it: fine */
    return NULL;
}

static struct {
    weft_queue *q;
    int started;
    int done;       /* puts or gets completed */
    int rc[16];
    intptr_t got[16];
    int max_size;
} P;

static void *putter_seq(void *arg)
{
    int n = (int)P2I(arg);
    P.started++;
    for (int i = 0; i < n; i++) {
        P.rc[i] = weft_queue_put(P.q, I2P(i + 1));
        P.done++;
        if ((int)weft_queue_size(P.q) > P.max_size)
            P.max_size = (int)weft_queue_size(P.q);
    }
    return NULL;
}

static void *case_bounded(void *arg)
{
    (void)arg;
    enum { N = 10 };
    void *it;
    memset(&P, 0, sizeof P);
    P.q = new_queue(WEFT_QUEUE_FIFO, 2);
    weft_task *t;
    REQUIRE(weft_spawn(putter_seq, I2P(N), &t) == 0);
    check_yield_n(5);
    CHECK_EQ(P.done, 2); /* the third put waits */
    CHECK_EQ(weft_task_done(t), 0);
    CHECK_EQ(weft_queue_size(P.q), 2);
    CHECK_EQ(weft_queue_try_put(P.q, I2P(99)), -EAGAIN);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(weft_queue_get(P.q, &it), 0);
        CHECK_EQ(P2I(it), i + 1);
        /* The waiting put's item moved in as we took ours: the queue is
         * full again before the putter runs. */
        if (i + 2 < N) {
            CHECK_EQ(weft_queue_size(P.q), 2);
            CHECK_EQ(weft_queue_try_put(P.q, I2P(99)), -EAGAIN);
        }
        check_yield_n(2);
    }
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(P.done, N);
    CHECK(P.max_size <= 2);
    for (int i = 0; i < N; i++)
        CHECK_EQ(P.rc[i], 0);
    CHECK_EQ(weft_queue_try_get(P.q, &it), -EAGAIN);
    CHECK_EQ(weft_queue_free(P.q), 0);
    return NULL;
}

/* Several putters blocked on a full queue, and several getters blocked on
 * an empty one, are served in the order they came. */
static struct {
    weft_queue *q;
    int queued;
    int rc[8];
    intptr_t got[8];
    int order[8];
    int norder;
} O;

static const int odelay[4] = {2, 0, 3, 1};
static const int oqueue[4] = {1, 3, 0, 2}; /* ids sorted by delay */

static void *one_putter(void *arg)
{
    int id = (int)P2I(arg);
    check_yield_n(odelay[id]);
    O.queued++;
    O.rc[id] = weft_queue_put(O.q, I2P(100 + id));
    O.order[O.norder++] = id;
    return NULL;
}

static void *one_getter(void *arg)
{
    int id = (int)P2I(arg);
    check_yield_n(odelay[id]);
    O.queued++;
    void *it = NULL;
    O.rc[id] = weft_queue_get(O.q, &it);
    O.got[id] = P2I(it);
    O.order[O.norder++] = id;
    return NULL;
}

static void *case_fifo_waiters(void *arg)
{
    (void)arg;
    void *it;
    weft_task *t[4];
    /* Putters on a full queue of one. */
    memset(&O, 0, sizeof O);
    O.q = new_queue(WEFT_QUEUE_FIFO, 1);
    CHECK_EQ(weft_queue_put(O.q, I2P(1)), 0);
    for (int i = 0; i < 4; i++)
        REQUIRE(weft_spawn(one_putter, I2P(i), &t[i]) == 0);
    check_yield_until(&O.queued, 4);
    check_yield_n(2);
    CHECK_EQ(O.norder, 0);
    CHECK_EQ(weft_queue_get(O.q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(weft_queue_get(O.q, &it), 0);
        CHECK_EQ(P2I(it), 100 + oqueue[i]);
    }
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(weft_await(t[i], NULL), 0);
        CHECK_EQ(O.rc[i], 0);
    }
    CHECK_EQ(weft_queue_free(O.q), 0);

    /* Getters on an empty queue: a put hands the item straight to the
     * first one (the queue stays empty). */
    memset(&O, 0, sizeof O);
    O.q = new_queue(WEFT_QUEUE_LIFO, 0);
    for (int i = 0; i < 4; i++)
        REQUIRE(weft_spawn(one_getter, I2P(i), &t[i]) == 0);
    check_yield_until(&O.queued, 4);
    check_yield_n(2);
    CHECK_EQ(O.norder, 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(weft_queue_put(O.q, I2P(200 + i)), 0);
        CHECK_EQ(weft_queue_size(O.q), 0); /* handed over, not queued */
        CHECK_EQ(weft_queue_try_get(O.q, &it), -EAGAIN);
    }
    for (int i = 0; i < 4; i++)
        CHECK_EQ(weft_await(t[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(O.rc[oqueue[i]], 0);
        CHECK_EQ(O.got[oqueue[i]], 200 + i);
    }
    CHECK_EQ(weft_queue_free(O.q), 0);
    return NULL;
}

/* ====================================================== cancellation */

static struct {
    weft_queue *q;
    int queued;
    int rc[4];
    intptr_t got[4];
} G;

static void *getter(void *arg)
{
    int id = (int)P2I(arg);
    void *it = NULL;
    G.queued++;
    G.rc[id] = weft_queue_get(G.q, &it);
    G.got[id] = P2I(it);
    return NULL;
}

/* Many rounds of puts racing cancelled getters: every item put is got
 * exactly once (by a getter, or drained afterwards). */
static void *case_get_cancel(void *arg)
{
    (void)arg;
    long rounds = check_scaled(2000);
    unsigned char *seen = calloc((size_t)rounds + 1, 1);
    REQUIRE(seen);
    G.q = new_queue(WEFT_QUEUE_FIFO, 0);
    long put_sum = 0, got_sum = 0, got_n = 0;
    long in_flight_kept = 0;
    for (long r = 0; r < rounds; r++) {
        int mode = (int)(r % 5);
        intptr_t item = (intptr_t)r + 1;
        weft_task *t[2];
        int ng = mode == 2 || mode == 4 ? 2 : 1;
        memset(G.rc, 0, sizeof G.rc);
        memset(G.got, 0, sizeof G.got);
        G.queued = 0;
        for (int i = 0; i < ng; i++)
            REQUIRE(weft_spawn(getter, I2P(i), &t[i]) == 0);
        check_yield_until(&G.queued, ng); /* they wait in get */
        switch (mode) {
        case 0: /* put hands the item over; then the getter is cancelled */
            CHECK_EQ(weft_queue_put(G.q, I2P(item)), 0);
            CHECK_EQ(weft_task_cancel(t[0]), 0);
            break;
        case 1: /* cancelled first: the item stays queued */
            CHECK_EQ(weft_task_cancel(t[0]), 0);
            CHECK_EQ(weft_queue_put(G.q, I2P(item)), 0);
            CHECK_EQ(weft_queue_size(G.q), 1);
            break;
        case 2: /* two getters; the item goes to the first; both cancelled */
            CHECK_EQ(weft_queue_put(G.q, I2P(item)), 0);
            CHECK_EQ(weft_task_cancel(t[0]), 0);
            CHECK_EQ(weft_task_cancel(t[1]), 0);
            break;
        case 3: /* no cancellation */
            CHECK_EQ(weft_queue_put(G.q, I2P(item)), 0);
            break;
        default: /* two getters, the first cancelled: the second gets it
                  * (asyncio's test_get_cancelled_race) */
            CHECK_EQ(weft_task_cancel(t[0]), 0);
            CHECK_EQ(weft_queue_put(G.q, I2P(item)), 0);
            CHECK_EQ(weft_queue_size(G.q), 0);
            break;
        }
        put_sum += item;
        for (int i = 0; i < ng; i++)
            CHECK_EQ(weft_await(t[i], NULL),
                     mode == 3 || (mode == 4 && i == 1) ? 0 : -ECANCELED);
        for (int i = 0; i < ng; i++) {
            if (G.rc[i] == 0) {
                got_sum += G.got[i];
                got_n++;
                if (G.got[i] >= 1 && G.got[i] <= rounds)
                    seen[G.got[i]]++;
            } else {
                CHECK_EQ(G.rc[i], -ECANCELED);
            }
        }
        if (mode == 0 || mode == 2) {
            /* The getter granted the item kept it. */
            CHECK_EQ(G.rc[0], 0);
            CHECK_EQ(G.got[0], item);
            in_flight_kept += G.rc[0] == 0;
        }
        if (mode == 2)
            CHECK_EQ(G.rc[1], -ECANCELED);
        if (mode == 1 || mode == 4)
            CHECK_EQ(G.rc[0], -ECANCELED);
        if (mode == 4) {
            CHECK_EQ(G.rc[1], 0);
            CHECK_EQ(G.got[1], item);
        }
        /* Drain what a cancelled getter left. */
        void *it;
        while (weft_queue_try_get(G.q, &it) == 0) {
            got_sum += P2I(it);
            got_n++;
            if (P2I(it) >= 1 && P2I(it) <= rounds)
                seen[P2I(it)]++;
        }
    }
    CHECK_EQ(got_n, rounds);
    CHECK_EQ(got_sum, put_sum);
    long wrong = 0;
    for (long i = 1; i <= rounds; i++)
        wrong += seen[i] != 1;
    CHECK_EQ(wrong, 0);
    CHECK(in_flight_kept > 0);
    free(seen);
    CHECK_EQ(weft_queue_free(G.q), 0);
    return NULL;
}

static void *case_put_cancel(void *arg)
{
    (void)arg;
    void *it;
    weft_task *t[4];

    /* Cancelled while waiting on a full queue: its item never lands. */
    memset(&O, 0, sizeof O);
    O.q = new_queue(WEFT_QUEUE_FIFO, 1);
    CHECK_EQ(weft_queue_put(O.q, I2P(1)), 0);
    for (int i = 0; i < 4; i++)
        REQUIRE(weft_spawn(one_putter, I2P(i), &t[i]) == 0);
    check_yield_until(&O.queued, 4);
    /* Queue order of the putters: 1, 3, 0, 2.  Cancel 3 while waiting. */
    CHECK_EQ(weft_task_cancel(t[3]), 0);
    CHECK_EQ(weft_await(t[3], NULL), -ECANCELED);
    CHECK_EQ(O.rc[3], -ECANCELED);
    CHECK_EQ(weft_queue_size(O.q), 1);
    /* A get moves putter 1's item in; putter 1 is cancelled before it
     * runs: its put still succeeded, the item is in exactly once. */
    CHECK_EQ(weft_queue_get(O.q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    CHECK_EQ(weft_queue_size(O.q), 1);
    CHECK_EQ(weft_task_cancel(t[1]), 0);
    CHECK_EQ(weft_await(t[1], NULL), -ECANCELED);
    CHECK_EQ(O.rc[1], 0);
    /* Putter 0 cancelled in the same turn as the get that would have made
     * room for it: cancelled first, so putter 2 is next. */
    CHECK_EQ(weft_task_cancel(t[0]), 0);
    CHECK_EQ(weft_queue_get(O.q, &it), 0);
    CHECK_EQ(P2I(it), 101);
    CHECK_EQ(weft_await(t[0], NULL), -ECANCELED);
    CHECK_EQ(O.rc[0], -ECANCELED);
    CHECK_EQ(weft_await(t[2], NULL), 0);
    CHECK_EQ(O.rc[2], 0);
    CHECK_EQ(weft_queue_get(O.q, &it), 0);
    CHECK_EQ(P2I(it), 102);
    /* Nothing else: neither 100 nor 103 landed. */
    CHECK_EQ(weft_queue_try_get(O.q, &it), -EAGAIN);
    CHECK_EQ(weft_queue_size(O.q), 0);
    /* Items put: 1, 101, 102; all got, so three task_done calls. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_queue_task_done(O.q), 0);
    CHECK_EQ(weft_queue_task_done(O.q), -EINVAL);
    CHECK_EQ(weft_queue_free(O.q), 0);
    return NULL;
}

static struct {
    int rc;
} CE;

static void *cancelled_ops(void *arg)
{
    weft_queue *q = arg;
    void *it = I2P(7);
    weft_task_cancel(weft_current());
    /* Every waiting operation fails at entry, even when it could proceed
     * at once; nothing moves. */
    CE.rc = 0;
    if (weft_queue_put(q, I2P(5)) != -ECANCELED)
        CE.rc |= 1;
    if (weft_queue_get(q, &it) != -ECANCELED || it != I2P(7))
        CE.rc |= 2;
    if (weft_queue_join(q) != -ECANCELED)
        CE.rc |= 4;
    return NULL;
}

static void *case_cancelled_entry(void *arg)
{
    (void)arg;
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    CHECK_EQ(weft_queue_put(q, I2P(1)), 0); /* something to get */
    weft_task *t;
    CE.rc = -1;
    REQUIRE(weft_spawn(cancelled_ops, q, &t) == 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(CE.rc, 0);
    CHECK_EQ(weft_queue_size(q), 1);
    void *it;
    CHECK_EQ(weft_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    CHECK_EQ(weft_queue_try_get(q, &it), -EAGAIN);
    CHECK_EQ(weft_queue_free(q), 0);
    return NULL;
}

/* ====================================================== join, task_done */

static struct {
    weft_queue *q;
    int joined;
    int rc;
} J;

static void *joiner(void *arg)
{
    (void)arg;
    J.rc = weft_queue_join(J.q);
    J.joined++;
    return NULL;
}

static void *case_join(void *arg)
{
    (void)arg;
    void *it;
    weft_task *t, *t2;
    memset(&J, 0, sizeof J);
    J.q = new_queue(WEFT_QUEUE_FIFO, 0);
    /* Nothing put: join returns at once, task_done is -EINVAL. */
    bumps = 0;
    REQUIRE(weft_spawn(bump, NULL, &t) == 0);
    CHECK_EQ(weft_queue_join(J.q), 0);
    CHECK_EQ(bumps, 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(weft_queue_task_done(J.q), -EINVAL);

    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_queue_put(J.q, I2P(i + 1)), 0);
    REQUIRE(weft_spawn(joiner, NULL, &t) == 0);
    REQUIRE(weft_spawn(joiner, NULL, &t2) == 0);
    check_yield_n(3);
    CHECK_EQ(J.joined, 0);
    /* Getting is not enough: each item must be marked done. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_queue_get(J.q, &it), 0);
    check_yield_n(3);
    CHECK_EQ(J.joined, 0);
    CHECK_EQ(weft_queue_task_done(J.q), 0);
    CHECK_EQ(weft_queue_task_done(J.q), 0);
    check_yield_n(3);
    CHECK_EQ(J.joined, 0);
    CHECK_EQ(weft_queue_task_done(J.q), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(weft_await(t2, NULL), 0);
    CHECK_EQ(J.joined, 2); /* every joiner woke */
    CHECK_EQ(J.rc, 0);
    CHECK_EQ(weft_queue_task_done(J.q), -EINVAL); /* one too many */

    /* Items handed straight to a waiting getter count too. */
    memset(&G, 0, sizeof G);
    G.q = J.q;
    weft_task *g;
    REQUIRE(weft_spawn(getter, I2P(0), &g) == 0);
    check_yield_until(&G.queued, 1);
    CHECK_EQ(weft_queue_put(J.q, I2P(42)), 0);
    CHECK_EQ(weft_await(g, NULL), 0);
    CHECK_EQ(G.got[0], 42);
    J.joined = 0;
    REQUIRE(weft_spawn(joiner, NULL, &t) == 0);
    check_yield_n(3);
    CHECK_EQ(J.joined, 0);
    CHECK_EQ(weft_queue_task_done(J.q), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(J.joined, 1);
    CHECK_EQ(weft_queue_task_done(J.q), -EINVAL);
    CHECK_EQ(weft_queue_free(J.q), 0);

    /* Items moved in from a waiting putter count too. */
    memset(&P, 0, sizeof P);
    P.q = new_queue(WEFT_QUEUE_FIFO, 1);
    REQUIRE(weft_spawn(putter_seq, I2P(2), &t) == 0);
    check_yield_n(3); /* one in, one waiting */
    CHECK_EQ(weft_queue_get(P.q, &it), 0); /* moves the second in */
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(weft_queue_get(P.q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    CHECK_EQ(weft_queue_task_done(P.q), 0);
    CHECK_EQ(weft_queue_task_done(P.q), 0);
    CHECK_EQ(weft_queue_task_done(P.q), -EINVAL);

    /* A cancelled joiner leaves with -ECANCELED. */
    CHECK_EQ(weft_queue_put(P.q, I2P(3)), 0);
    memset(&J, 0, sizeof J);
    J.q = P.q;
    REQUIRE(weft_spawn(joiner, NULL, &t) == 0);
    check_yield_n(2);
    CHECK_EQ(J.joined, 0);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(J.rc, -ECANCELED);
    CHECK_EQ(weft_queue_free(P.q), 0); /* nobody waits any more */
    return NULL;
}

/* ========================================================= shutdown */

static void *case_shutdown(void *arg)
{
    (void)arg;
    void *it;
    weft_task *t[4];

    /* Items left: puts fail, gets drain them, then -ESHUTDOWN. */
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    CHECK_EQ(weft_queue_put(q, I2P(1)), 0);
    CHECK_EQ(weft_queue_put(q, I2P(2)), 0);
    CHECK_EQ(weft_queue_shutdown(q, 0), 0);
    CHECK_EQ(weft_queue_put(q, I2P(3)), -ESHUTDOWN);
    CHECK_EQ(weft_queue_try_put(q, I2P(3)), -ESHUTDOWN);
    CHECK_EQ(weft_queue_size(q), 2);
    CHECK_EQ(weft_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    CHECK_EQ(weft_queue_try_get(q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    CHECK_EQ(weft_queue_get(q, &it), -ESHUTDOWN);
    CHECK_EQ(weft_queue_try_get(q, &it), -ESHUTDOWN);
    CHECK_EQ(weft_queue_shutdown(q, 0), 0); /* again: harmless */
    CHECK_EQ(weft_queue_get(q, &it), -ESHUTDOWN);
    /* join still counts the drained items until they are done. */
    memset(&J, 0, sizeof J);
    J.q = q;
    REQUIRE(weft_spawn(joiner, NULL, &t[0]) == 0);
    check_yield_n(2);
    CHECK_EQ(J.joined, 0);
    CHECK_EQ(weft_queue_task_done(q), 0);
    CHECK_EQ(weft_queue_task_done(q), 0);
    CHECK_EQ(weft_await(t[0], NULL), 0);
    CHECK_EQ(J.rc, 0);
    CHECK_EQ(weft_queue_free(q), 0);

    /* Waiting getters of an empty queue wake with -ESHUTDOWN. */
    memset(&G, 0, sizeof G);
    G.q = new_queue(WEFT_QUEUE_LIFO, 0);
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_spawn(getter, I2P(i), &t[i]) == 0);
    check_yield_until(&G.queued, 3);
    CHECK_EQ(weft_queue_shutdown(G.q, 0), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(weft_await(t[i], NULL), 0);
        CHECK_EQ(G.rc[i], -ESHUTDOWN);
    }
    CHECK_EQ(weft_queue_free(G.q), 0);

    /* Waiting putters of a full queue wake with -ESHUTDOWN, their items
     * not added; the items already in still come out. */
    memset(&O, 0, sizeof O);
    O.q = new_queue(WEFT_QUEUE_FIFO, 2);
    CHECK_EQ(weft_queue_put(O.q, I2P(1)), 0);
    CHECK_EQ(weft_queue_put(O.q, I2P(2)), 0);
    for (int i = 0; i < 4; i++)
        REQUIRE(weft_spawn(one_putter, I2P(i), &t[i]) == 0);
    check_yield_until(&O.queued, 4);
    CHECK_EQ(weft_queue_shutdown(O.q, 0), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(weft_await(t[i], NULL), 0);
        CHECK_EQ(O.rc[i], -ESHUTDOWN);
    }
    CHECK_EQ(weft_queue_size(O.q), 2);
    CHECK_EQ(weft_queue_get(O.q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    CHECK_EQ(weft_queue_get(O.q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    CHECK_EQ(weft_queue_get(O.q, &it), -ESHUTDOWN);
    CHECK_EQ(weft_queue_free(O.q), 0);

    /* A shutdown made immediate later drops what is left then, and
     * releases join. */
    q = new_queue(WEFT_QUEUE_LIFO, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_queue_put(q, I2P(i + 1)), 0);
    CHECK_EQ(weft_queue_shutdown(q, 0), 0);
    CHECK_EQ(weft_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 3);
    CHECK_EQ(weft_queue_task_done(q), 0);
    memset(&J, 0, sizeof J);
    J.q = q;
    REQUIRE(weft_spawn(joiner, NULL, &t[0]) == 0);
    check_yield_n(2);
    CHECK_EQ(J.joined, 0);
    CHECK_EQ(weft_queue_shutdown(q, 1), 0);
    CHECK_EQ(weft_queue_size(q), 0);
    CHECK_EQ(weft_queue_get(q, &it), -ESHUTDOWN);
    CHECK_EQ(weft_await(t[0], NULL), 0);
    CHECK_EQ(J.joined, 1);
    CHECK_EQ(weft_queue_task_done(q), -EINVAL);
    CHECK_EQ(weft_queue_free(q), 0);
    return NULL;
}

static void *case_shutdown_immediate(void *arg)
{
    (void)arg;
    void *it;
    weft_task *t[3];

    /* Items dropped; they count as done, which releases join. */
    weft_queue *q = new_queue(WEFT_QUEUE_PRIORITY, 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(weft_queue_put(q, I2P(i + 1)), 0);
    memset(&J, 0, sizeof J);
    J.q = q;
    REQUIRE(weft_spawn(joiner, NULL, &t[0]) == 0);
    check_yield_n(2);
    CHECK_EQ(J.joined, 0);
    CHECK_EQ(weft_queue_shutdown(q, 1), 0);
    CHECK_EQ(weft_queue_size(q), 0);
    CHECK_EQ(weft_queue_get(q, &it), -ESHUTDOWN);
    CHECK_EQ(weft_queue_try_get(q, &it), -ESHUTDOWN);
    CHECK_EQ(weft_queue_put(q, I2P(9)), -ESHUTDOWN);
    CHECK_EQ(weft_await(t[0], NULL), 0);
    CHECK_EQ(J.joined, 1);
    CHECK_EQ(J.rc, 0);
    CHECK_EQ(weft_queue_task_done(q), -EINVAL); /* nothing unfinished */
    CHECK_EQ(weft_queue_free(q), 0);

    /* An item got but not done still holds join after an immediate
     * shutdown; only the dropped ones count as done. */
    q = new_queue(WEFT_QUEUE_FIFO, 0);
    CHECK_EQ(weft_queue_put(q, I2P(1)), 0);
    CHECK_EQ(weft_queue_put(q, I2P(2)), 0);
    CHECK_EQ(weft_queue_get(q, &it), 0);
    memset(&J, 0, sizeof J);
    J.q = q;
    REQUIRE(weft_spawn(joiner, NULL, &t[0]) == 0);
    check_yield_n(2);
    CHECK_EQ(weft_queue_shutdown(q, 1), 0);
    check_yield_n(3);
    CHECK_EQ(J.joined, 0);
    CHECK_EQ(weft_queue_task_done(q), 0);
    CHECK_EQ(weft_await(t[0], NULL), 0);
    CHECK_EQ(J.joined, 1);
    CHECK_EQ(weft_queue_task_done(q), -EINVAL);
    CHECK_EQ(weft_queue_free(q), 0);

    /* Waiting getters wake with -ESHUTDOWN at once. */
    memset(&G, 0, sizeof G);
    G.q = new_queue(WEFT_QUEUE_FIFO, 4);
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_spawn(getter, I2P(i), &t[i]) == 0);
    check_yield_until(&G.queued, 3);
    CHECK_EQ(weft_queue_shutdown(G.q, 1), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(weft_await(t[i], NULL), 0);
        CHECK_EQ(G.rc[i], -ESHUTDOWN);
    }
    CHECK_EQ(weft_queue_free(G.q), 0);

    /* Waiting putters too; a bounded FIFO's items are dropped. */
    memset(&O, 0, sizeof O);
    O.q = new_queue(WEFT_QUEUE_FIFO, 1);
    CHECK_EQ(weft_queue_put(O.q, I2P(1)), 0);
    for (int i = 0; i < 3; i++)
        REQUIRE(weft_spawn(one_putter, I2P(i), &t[i]) == 0);
    check_yield_until(&O.queued, 3);
    CHECK_EQ(weft_queue_shutdown(O.q, 1), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(weft_await(t[i], NULL), 0);
        CHECK_EQ(O.rc[i], -ESHUTDOWN);
    }
    CHECK_EQ(weft_queue_size(O.q), 0);
    CHECK_EQ(weft_queue_try_get(O.q, &it), -ESHUTDOWN);
    CHECK_EQ(weft_queue_task_done(O.q), -EINVAL);
    CHECK_EQ(weft_queue_free(O.q), 0);
    return NULL;
}

/* ==================================================== free, arguments */

static void *case_free_busy(void *arg)
{
    (void)arg;
    weft_task *t;

    /* A getter waits. */
    memset(&G, 0, sizeof G);
    G.q = new_queue(WEFT_QUEUE_FIFO, 0);
    REQUIRE(weft_spawn(getter, I2P(0), &t) == 0);
    check_yield_until(&G.queued, 1);
    CHECK_EQ(weft_queue_free(G.q), -EBUSY);
    /* Nothing was freed: the queue still works. */
    CHECK_EQ(weft_queue_put(G.q, I2P(5)), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(G.got[0], 5);
    CHECK_EQ(weft_queue_free(G.q), 0);

    /* A putter waits. */
    memset(&O, 0, sizeof O);
    O.q = new_queue(WEFT_QUEUE_FIFO, 1);
    CHECK_EQ(weft_queue_put(O.q, I2P(1)), 0);
    REQUIRE(weft_spawn(one_putter, I2P(1), &t) == 0);
    check_yield_until(&O.queued, 1);
    CHECK_EQ(weft_queue_free(O.q), -EBUSY);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(weft_queue_size(O.q), 1);
    CHECK_EQ(weft_queue_free(O.q), 0); /* one item still in: fine */

    /* A joiner waits. */
    memset(&J, 0, sizeof J);
    J.q = new_queue(WEFT_QUEUE_LIFO, 0);
    CHECK_EQ(weft_queue_put(J.q, I2P(1)), 0);
    REQUIRE(weft_spawn(joiner, NULL, &t) == 0);
    check_yield_n(2);
    CHECK_EQ(weft_queue_free(J.q), -EBUSY);
    void *it;
    CHECK_EQ(weft_queue_get(J.q, &it), 0);
    CHECK_EQ(weft_queue_task_done(J.q), 0);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(weft_queue_free(J.q), 0);
    return NULL;
}

static void *case_args(void *arg)
{
    (void)arg;
    weft_queue *q = NULL;
    CHECK_EQ(weft_queue_new(-1, 0, NULL, &q), -EINVAL);
    CHECK_EQ(weft_queue_new(3, 0, NULL, &q), -EINVAL);
    CHECK_EQ(weft_queue_new(WEFT_QUEUE_PRIORITY, 0, NULL, &q), -EINVAL);
    CHECK_EQ(weft_queue_new(WEFT_QUEUE_PRIORITY, 4, NULL, &q), -EINVAL);
    CHECK_EQ(weft_queue_new(WEFT_QUEUE_FIFO, 0, cmp_intptr, &q), -EINVAL);
    CHECK_EQ(weft_queue_new(WEFT_QUEUE_LIFO, 0, cmp_intptr, &q), -EINVAL);
    CHECK_EQ(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, NULL), -EINVAL);

    void *it;
    CHECK_EQ(weft_queue_put(NULL, I2P(1)), -EINVAL);
    CHECK_EQ(weft_queue_try_put(NULL, I2P(1)), -EINVAL);
    CHECK_EQ(weft_queue_get(NULL, &it), -EINVAL);
    CHECK_EQ(weft_queue_try_get(NULL, &it), -EINVAL);
    CHECK_EQ(weft_queue_size(NULL), 0);
    CHECK_EQ(weft_queue_task_done(NULL), -EINVAL);
    CHECK_EQ(weft_queue_join(NULL), -EINVAL);
    CHECK_EQ(weft_queue_shutdown(NULL, 0), -EINVAL);
    CHECK_EQ(weft_queue_free(NULL), -EINVAL);

    q = new_queue(WEFT_QUEUE_FIFO, 0);
    CHECK_EQ(weft_queue_put(q, I2P(1)), 0);
    CHECK_EQ(weft_queue_get(q, NULL), -EINVAL);
    CHECK_EQ(weft_queue_try_get(q, NULL), -EINVAL);
    CHECK_EQ(weft_queue_size(q), 1); /* nothing was taken */
    /* NULL is a valid item. */
    CHECK_EQ(weft_queue_put(q, NULL), 0);
    it = I2P(1);
    CHECK_EQ(weft_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    it = I2P(1);
    CHECK_EQ(weft_queue_get(q, &it), 0);
    CHECK(it == NULL);
    CHECK_EQ(weft_queue_free(q), 0);
    return NULL;
}

/* Calls from a thread that runs no loop, while the loop's thread waits for
 * it: none of them is from a task. */
static int outside_rc[8];

static void *outside_thread(void *arg)
{
    weft_queue *q = arg;
    void *it = NULL;
    outside_rc[0] = weft_queue_put(q, I2P(2));
    outside_rc[1] = weft_queue_try_put(q, I2P(2));
    outside_rc[2] = weft_queue_get(q, &it);
    outside_rc[3] = weft_queue_try_get(q, &it);
    outside_rc[4] = weft_queue_task_done(q);
    outside_rc[5] = weft_queue_join(q);
    outside_rc[6] = weft_queue_shutdown(q, 1);
    outside_rc[7] = it == NULL;
    return NULL;
}

static void *case_outside(void *arg)
{
    (void)arg;
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 2);
    CHECK_EQ(weft_queue_put(q, I2P(1)), 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, outside_thread, q) == 0);
    REQUIRE(pthread_join(th, NULL) == 0);
    for (int i = 0; i < 7; i++)
        CHECK_EQ(outside_rc[i], -EPERM);
    CHECK_EQ(outside_rc[7], 1);
    /* The failed calls changed nothing. */
    CHECK_EQ(weft_queue_size(q), 1);
    CHECK_EQ(weft_queue_put(q, I2P(2)), 0);
    void *it;
    CHECK_EQ(weft_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 1);
    CHECK_EQ(weft_queue_get(q, &it), 0);
    CHECK_EQ(P2I(it), 2);
    CHECK_EQ(weft_queue_free(q), 0);
    return NULL;
}

static void case_new_free_outside(void *arg)
{
    (void)arg;
    /* weft_queue_new and weft_queue_free may be called outside a task
     * (weft/sync.h), e.g. to make a queue before weft_run. */
    weft_queue *q2 = NULL;
    int rc = weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL, &q2);
    CHECK_EQ(rc, 0);
    if (rc == 0)
        CHECK_EQ(weft_queue_free(q2), 0);
}

/* ============================================ many producers/consumers */

enum { MP_PROD = 4, MP_CONS = 4 };

static struct {
    weft_queue *q;
    long per_producer;
    long got_n, got_sum, put_n, put_sum;
    unsigned char *seen;
    long total;
    int consumers_alive;
    int cancelled;
    int bad_rc;
} MP;

static void *mp_producer(void *arg)
{
    long base = P2I(arg) * MP.per_producer;
    for (long i = 0; i < MP.per_producer; i++) {
        intptr_t v = (intptr_t)(base + i + 1);
        int rc = weft_queue_put(MP.q, I2P(v));
        if (rc != 0) {
            MP.bad_rc++;
            continue;
        }
        MP.put_n++;
        MP.put_sum += v;
        if ((v & 7) == 0)
            CHECK_EQ(weft_yield(), 0);
    }
    return NULL;
}

static void *mp_consumer(void *arg)
{
    (void)arg;
    MP.consumers_alive++;
    for (;;) {
        void *it = NULL;
        int rc = weft_queue_get(MP.q, &it);
        if (rc == -ESHUTDOWN || rc == -ECANCELED)
            break;
        if (rc != 0) {
            MP.bad_rc++;
            break;
        }
        intptr_t v = P2I(it);
        MP.got_n++;
        MP.got_sum += v;
        if (v >= 1 && v <= MP.total)
            MP.seen[v - 1]++;
        else
            MP.bad_rc++;
        CHECK_EQ(weft_queue_task_done(MP.q), 0);
        if (v % 5 == 0 && weft_yield() != 0)
            break; /* cancelled after taking an item: it still counts */
    }
    MP.consumers_alive--;
    return NULL;
}

static void *case_many(void *arg)
{
    int kind = (int)P2I(arg) % 3, bounded = (int)P2I(arg) / 3;
    memset(&MP, 0, sizeof MP);
    MP.q = new_queue(kind, bounded ? 8 : 0);
    MP.per_producer = check_scaled(10000) / MP_PROD + 1;
    MP.total = MP.per_producer * MP_PROD;
    MP.seen = calloc((size_t)MP.total, 1);
    REQUIRE(MP.seen);
    enum { MAXC = 64 };
    weft_task *prod[MP_PROD], *cons[MAXC];
    int ncons = 0;
    for (int i = 0; i < MP_CONS; i++)
        REQUIRE(weft_spawn(mp_consumer, NULL, &cons[ncons++]) == 0);
    for (int i = 0; i < MP_PROD; i++)
        REQUIRE(weft_spawn(mp_producer, I2P(i), &prod[i]) == 0);
    /* Cancel a consumer now and then, and start a replacement. */
    rng_state = 777u + (uint32_t)P2I(arg);
    for (int k = 0; k < 40 && ncons < MAXC; k++) {
        check_yield_n(1 + (int)(rng() % 20));
        int victim = (int)(rng() % (uint32_t)ncons);
        if (weft_task_cancel(cons[victim]) == 0)
            MP.cancelled++;
        REQUIRE(weft_spawn(mp_consumer, NULL, &cons[ncons++]) == 0);
    }
    for (int i = 0; i < MP_PROD; i++)
        CHECK_EQ(weft_await(prod[i], NULL), 0);
    /* Every item put is got and marked done. */
    CHECK_EQ(weft_queue_join(MP.q), 0);
    CHECK_EQ(MP.got_n, MP.total);
    CHECK_EQ(weft_queue_shutdown(MP.q, 0), 0);
    for (int i = 0; i < ncons; i++) {
        int rc = weft_await(cons[i], NULL);
        CHECK(rc == 0 || rc == -ECANCELED);
    }
    CHECK_EQ(MP.consumers_alive, 0);
    CHECK_EQ(MP.bad_rc, 0);
    CHECK_EQ(MP.put_n, MP.total);
    CHECK_EQ(MP.got_n, MP.total);
    CHECK_EQ(MP.got_sum, MP.put_sum);
    CHECK_EQ(MP.put_sum, MP.total * (MP.total + 1) / 2);
    long wrong = 0;
    for (long i = 0; i < MP.total; i++)
        wrong += MP.seen[i] != 1;
    CHECK_EQ(wrong, 0);
    CHECK(MP.cancelled > 0);
    CHECK_EQ(weft_queue_size(MP.q), 0);
    CHECK_EQ(weft_queue_task_done(MP.q), -EINVAL);
    free(MP.seen);
    CHECK_EQ(weft_queue_free(MP.q), 0);
    return NULL;
}

static const struct check_case_def cases[] = {
    CHECK_TASK("outside", case_outside, NULL),
    CHECK_PLAIN("new_free_outside", case_new_free_outside, NULL),
    CHECK_TASK("args", case_args, NULL),
    CHECK_TASK("order", case_order, NULL),
    CHECK_TASK("no_suspend", case_no_suspend, NULL),
    CHECK_TASK("bounded", case_bounded, NULL),
    CHECK_TASK("fifo_waiters", case_fifo_waiters, NULL),
    CHECK_TASK("get_cancel", case_get_cancel, NULL),
    CHECK_TASK("put_cancel", case_put_cancel, NULL),
    CHECK_TASK("cancelled_entry", case_cancelled_entry, NULL),
    CHECK_TASK("join", case_join, NULL),
    CHECK_TASK("shutdown", case_shutdown, NULL),
    CHECK_TASK("shutdown_immediate", case_shutdown_immediate, NULL),
    CHECK_TASK("free_busy", case_free_busy, NULL),

    CHECK_TASK("many_0", case_many, I2P(0)),
    CHECK_TASK("many_1", case_many, I2P(1)),
    CHECK_TASK("many_2", case_many, I2P(2)),
    CHECK_TASK("many_3", case_many, I2P(3)),
    CHECK_TASK("many_4", case_many, I2P(4)),
    CHECK_TASK("many_5", case_many, I2P(5)),
};

int main(void)
{
    check_allow_maps(4); /* glibc caches the outside thread's stack */
    return CHECK_MAIN(cases);
}

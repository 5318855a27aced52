/*
 * test_barrier.c - weft_barrier (asyncio.Barrier), with the BarrierTests of
 * asyncio's test_locks.py as the reference.  It proves:
 * - a barrier of 1 never suspends and always returns 0;
 * - N tasks: nobody returns before all N arrived; n_waiting counts the
 *   arrivals; the indices are the arrival order (0 first), a permutation
 *   of 0..N-1; the last arrival returns N-1 without suspending; the others
 *   resume in the order they arrived;
 * - cycle after cycle (tasks waiting twice, many rounds, more tasks than
 *   parties), each cycle's indices are a permutation;
 * - a task arriving while the barrier drains (even the one that released
 *   it) is not counted and joins the next cycle, once every released task
 *   has left;
 * - reset: waiters get -EPIPE, arrivals during the reset wait for it to
 *   end, the barrier is usable again and not broken; reset while half the
 *   released tasks have left fails the rest (as asyncio does);
 * - abort: waiters and every later wait get -EPIPE, also released tasks not
 *   yet resumed; broken until reset, usable after;
 * - cancellation: a waiter cancelled while the barrier fills leaves it
 *   (n_waiting drops once it has run, others unaffected, one more arrival
 *   needed, and - as in asyncio - an index is then reused); cancelled after
 *   the release: -ECANCELED, the others still pass; cancelled at the door
 *   during a drain: leaves without touching the cycle; cancelled at entry:
 *   -ECANCELED at once; a shielded waiter stays and passes; a cancel
 *   scope's deadline acts like a cancellation, with -ETIMEDOUT;
 * and -EINVAL (NULL, bad parties), -EPERM outside a task.
 */
#include "check.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define N 5
#define MAXT 16

static void await_all(weft_task **t, int n)
{
    for (int i = 0; i < n; i++)
        CHECK_EQ(weft_await(t[i], NULL), 0);
}

/* Are v[0..n-1] the numbers 0..n-1, each once? */
static bool is_permutation(const int *v, int n)
{
    int seen[MAXT] = {0};
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= n || seen[v[i]]++)
            return false;
    }
    return true;
}

static int bumps;

static void *bump(void *arg)
{
    (void)arg;
    bumps++;
    return NULL;
}

/* ---- one wait per task, recorded ---- */

static struct {
    weft_barrier *b;
    int arrived;  /* tasks that called wait */
    int returned; /* tasks that returned from it */
    int rc[MAXT];
    int arrived_at_return[MAXT];
    int order[MAXT]; /* ids in the order they returned */
} W;

static void w_reset(weft_barrier *b)
{
    memset(&W, 0, sizeof W);
    W.b = b;
}

static void *waiter(void *arg)
{
    int id = (int)P2I(arg);
    W.arrived++;
    W.rc[id] = weft_barrier_wait(W.b);
    W.arrived_at_return[id] = W.arrived;
    W.order[W.returned++] = id;
    return NULL;
}

/* Spawns waiter `id` and lets it arrive (so ids arrive in spawn order). */
static void arrive(weft_task **t, int id)
{
    int before = W.arrived;
    REQUIRE(weft_spawn(waiter, I2P(id), t) == 0);
    check_yield_until(&W.arrived, before + 1);
}

/* A full cycle of fresh tasks passes b: it is usable (not broken, empty). */
static void full_cycle(weft_barrier *b)
{
    int parties = weft_barrier_parties(b);
    REQUIRE(parties > 0 && parties <= MAXT);
    CHECK_EQ(weft_barrier_broken(b), 0);
    CHECK_EQ(weft_barrier_n_waiting(b), 0);
    w_reset(b);
    weft_task *t[MAXT];
    for (int i = 0; i < parties; i++)
        REQUIRE(weft_spawn(waiter, I2P(i), &t[i]) == 0);
    await_all(t, parties);
    CHECK_EQ(W.returned, parties);
    CHECK(is_permutation(W.rc, parties));
    CHECK_EQ(weft_barrier_n_waiting(b), 0);
}

/* ======================================================= basics ==== */

static void *case_errors(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_barrier_wait(NULL), -EINVAL);
    CHECK_EQ(weft_barrier_reset(NULL), -EINVAL);
    CHECK_EQ(weft_barrier_abort(NULL), -EINVAL);
    CHECK_EQ(weft_barrier_parties(NULL), 0);
    CHECK_EQ(weft_barrier_n_waiting(NULL), 0);
    CHECK_EQ(weft_barrier_broken(NULL), 0);

    /* Parties 0 (asyncio's ValueError) and past INT_MAX. */
    weft_barrier b;
    CHECK_EQ(weft_barrier_init(NULL, 3), -EINVAL);
    CHECK_EQ(weft_barrier_init(&b, 0), -EINVAL);
    CHECK_EQ(weft_barrier_init(&b, (unsigned)INT_MAX + 1), -EINVAL);
    weft_barrier zero = WEFT_BARRIER_INIT(0);
    CHECK_EQ(weft_barrier_wait(&zero), -EINVAL);
    CHECK_EQ(weft_barrier_parties(&zero), 0);
    weft_barrier huge = WEFT_BARRIER_INIT((unsigned)INT_MAX + 1);
    CHECK_EQ(weft_barrier_wait(&huge), -EINVAL);
    CHECK_EQ(weft_barrier_parties(&huge), 0);

    CHECK_EQ(weft_barrier_init(&b, N), 0);
    CHECK_EQ(weft_barrier_parties(&b), N);
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    CHECK_EQ(weft_barrier_broken(&b), 0);
    full_cycle(&b);
    return NULL;
}

static weft_barrier g_one = WEFT_BARRIER_INIT(1);

static void *case_one_party(void *arg)
{
    (void)arg;
    /* asyncio's test_filling_one_task: no suspension, index 0. */
    weft_task *t;
    bumps = 0;
    REQUIRE(weft_spawn(bump, NULL, &t) == 0);
    CHECK_EQ(weft_barrier_parties(&g_one), 1);
    CHECK_EQ(weft_barrier_wait(&g_one), 0);
    CHECK_EQ(weft_barrier_wait(&g_one), 0);
    CHECK_EQ(bumps, 0);
    CHECK_EQ(weft_barrier_n_waiting(&g_one), 0);
    CHECK_EQ(weft_barrier_broken(&g_one), 0);
    CHECK_EQ(weft_await(t, NULL), 0);

    /* test_filling_one_task_twice: two tasks, both pass with 0. */
    weft_barrier b;
    REQUIRE(weft_barrier_init(&b, 1) == 0);
    w_reset(&b);
    weft_task *w[2];
    arrive(&w[0], 0);
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    arrive(&w[1], 1);
    await_all(w, 2);
    CHECK_EQ(W.rc[0], 0);
    CHECK_EQ(W.rc[1], 0);
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    CHECK_EQ(weft_barrier_broken(&b), 0);
    return NULL;
}

static void *case_fill(void *arg)
{
    (void)arg;
    /* Task by task (test_filling_task_by_task): n_waiting counts them,
     * nobody returns before the last arrives. */
    weft_barrier b = WEFT_BARRIER_INIT(N);
    weft_task *t[MAXT];
    w_reset(&b);
    for (int i = 0; i < N - 1; i++) {
        arrive(&t[i], i);
        check_yield_n(2);
        CHECK_EQ(weft_barrier_n_waiting(&b), i + 1);
        CHECK_EQ(W.returned, 0);
    }
    arrive(&t[N - 1], N - 1);
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    /* The last arrival returned at once, before any other resumed. */
    CHECK_EQ(W.returned, 1);
    CHECK_EQ(W.order[0], N - 1);
    await_all(t, N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(W.rc[i], i); /* arrival order */
        CHECK_EQ(W.arrived_at_return[i], N);
        CHECK_EQ(W.order[i], i == 0 ? N - 1 : i - 1); /* then FIFO */
    }
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    CHECK_EQ(weft_barrier_broken(&b), 0);

    /* The caller completes the cycle: it gets N-1 without suspending. */
    w_reset(&b);
    for (int i = 0; i < N - 1; i++)
        REQUIRE(weft_spawn(waiter, I2P(i), &t[i]) == 0);
    check_yield_until(&W.arrived, N - 1);
    CHECK_EQ(weft_barrier_n_waiting(&b), N - 1);
    bumps = 0;
    REQUIRE(weft_spawn(bump, NULL, &t[N - 1]) == 0);
    CHECK_EQ(weft_barrier_wait(&b), N - 1);
    CHECK_EQ(bumps, 0);
    CHECK_EQ(W.returned, 0); /* released, not yet resumed */
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    await_all(t, N);
    CHECK_EQ(W.returned, N - 1);
    CHECK(is_permutation(W.rc, N - 1));
    return NULL;
}

/* ======================================================= cycles ==== */

enum { CT = 7, ROUNDS = 20 };

static struct {
    weft_barrier b;
    int arrived[ROUNDS];
    int idx[ROUNDS][CT];
    int bad;
} CY;

static void *cycler(void *arg)
{
    int id = (int)P2I(arg);
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < (id * 3 + r) % 4; i++)
            CHECK_EQ(weft_yield(), 0);
        CY.arrived[r]++;
        int rc = weft_barrier_wait(&CY.b);
        CY.idx[r][id] = rc;
        /* Everyone arrived in this round; nobody is in the next yet. */
        if (CY.arrived[r] != CT ||
            (r + 1 < ROUNDS && CY.arrived[r + 1] > 0 && rc == CT - 1))
            CY.bad++;
    }
    return NULL;
}

static struct {
    weft_barrier b;
    int first[N], second[N];
    int in_first, in_second;
} TW;

/* test_filling_tasks_wait_twice / check_return_value. */
static void *twice(void *arg)
{
    int id = (int)P2I(arg);
    TW.first[id] = weft_barrier_wait(&TW.b);
    TW.in_first++;
    TW.second[id] = weft_barrier_wait(&TW.b);
    TW.in_second++;
    return NULL;
}

enum { MANY = 60, MANY_PARTIES = 6, MANY_ROUNDS = 5 };

static struct {
    weft_barrier b;
    int hits[MANY_PARTIES];
    int bad;
} MA;

static void *many(void *arg)
{
    int id = (int)P2I(arg);
    for (int r = 0; r < MANY_ROUNDS; r++) {
        int rc = weft_barrier_wait(&MA.b);
        if (rc < 0 || rc >= MANY_PARTIES)
            MA.bad++;
        else
            MA.hits[rc]++;
        if ((id + r) % 3 == 0)
            CHECK_EQ(weft_yield(), 0);
    }
    return NULL;
}

static void *case_cycles(void *arg)
{
    (void)arg;
    weft_task *t[MANY];

    memset(&TW, 0, sizeof TW);
    REQUIRE(weft_barrier_init(&TW.b, N) == 0);
    for (int i = 0; i < N; i++)
        REQUIRE(weft_spawn(twice, I2P(i), &t[i]) == 0);
    await_all(t, N);
    CHECK_EQ(TW.in_first, N);
    CHECK_EQ(TW.in_second, N);
    CHECK(is_permutation(TW.first, N));
    CHECK(is_permutation(TW.second, N));
    CHECK_EQ(weft_barrier_n_waiting(&TW.b), 0);
    CHECK_EQ(weft_barrier_broken(&TW.b), 0);

    memset(&CY, 0, sizeof CY);
    REQUIRE(weft_barrier_init(&CY.b, CT) == 0);
    for (int i = 0; i < CT; i++)
        REQUIRE(weft_spawn(cycler, I2P(i), &t[i]) == 0);
    await_all(t, CT);
    CHECK_EQ(CY.bad, 0);
    for (int r = 0; r < ROUNDS; r++)
        CHECK(is_permutation(CY.idx[r], CT));
    CHECK_EQ(weft_barrier_n_waiting(&CY.b), 0);

    /* More tasks than parties: every cycle hands out each index once. */
    memset(&MA, 0, sizeof MA);
    REQUIRE(weft_barrier_init(&MA.b, MANY_PARTIES) == 0);
    for (int i = 0; i < MANY; i++)
        REQUIRE(weft_spawn(many, I2P(i), &t[i]) == 0);
    await_all(t, MANY);
    CHECK_EQ(MA.bad, 0);
    for (int i = 0; i < MANY_PARTIES; i++)
        CHECK_EQ(MA.hits[i], MANY * MANY_ROUNDS / MANY_PARTIES);
    CHECK_EQ(weft_barrier_n_waiting(&MA.b), 0);
    CHECK_EQ(weft_barrier_broken(&MA.b), 0);
    return NULL;
}

/* ===================================================== draining ==== */

static struct {
    weft_barrier b;
    int rc1[2], rc2[2];
    int n_at_first_return[2];
    int main_second_done_at[2]; /* main's second wait done when we left */
    int main_second_done;
    int first_returned;
} DR;

static void *dr_task(void *arg)
{
    int id = (int)P2I(arg);
    DR.rc1[id] = weft_barrier_wait(&DR.b);
    DR.first_returned++;
    DR.n_at_first_return[id] = weft_barrier_n_waiting(&DR.b);
    DR.main_second_done_at[id] = DR.main_second_done;
    DR.rc2[id] = weft_barrier_wait(&DR.b);
    return NULL;
}

static struct {
    weft_barrier b, b2;
    int rewait;
    int rc[N][3];
    int done;
} BD;

/* test_blocking_tasks_while_draining: two tasks wait again at once, the
 * three others first meet at a barrier of three; that only works if the
 * early ones are kept out of the draining cycle. */
static void *bd_task(void *arg)
{
    int id = (int)P2I(arg);
    BD.rc[id][0] = weft_barrier_wait(&BD.b);
    if (BD.rewait > 0) {
        BD.rewait--;
        BD.rc[id][1] = weft_barrier_wait(&BD.b);
    } else {
        BD.rc[id][2] = weft_barrier_wait(&BD.b2);
        BD.rc[id][1] = weft_barrier_wait(&BD.b);
    }
    BD.done++;
    return NULL;
}

static void *case_draining(void *arg)
{
    (void)arg;
    /* The task that releases the cycle waits again at once: it arrives
     * while the barrier drains, is not counted, and passes only with the
     * next cycle, after both released tasks have left. */
    memset(&DR, 0, sizeof DR);
    REQUIRE(weft_barrier_init(&DR.b, 3) == 0);
    weft_task *t[N];
    for (int i = 0; i < 2; i++)
        REQUIRE(weft_spawn(dr_task, I2P(i), &t[i]) == 0);
    check_yield_n(3);
    CHECK_EQ(weft_barrier_n_waiting(&DR.b), 2);
    CHECK_EQ(weft_barrier_wait(&DR.b), 2);
    CHECK_EQ(DR.first_returned, 0);
    int rc = weft_barrier_wait(&DR.b); /* at the door */
    DR.main_second_done = 1;
    CHECK(rc >= 0 && rc < 3);
    CHECK_EQ(DR.first_returned, 2);
    await_all(t, 2);
    int idx2[3] = {DR.rc2[0], DR.rc2[1], rc};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(DR.rc1[i], i);
        CHECK_EQ(DR.n_at_first_return[i], 0); /* draining: main not counted */
        CHECK_EQ(DR.main_second_done_at[i], 0);
    }
    CHECK(is_permutation(idx2, 3));
    CHECK_EQ(weft_barrier_n_waiting(&DR.b), 0);
    CHECK_EQ(weft_barrier_broken(&DR.b), 0);

    memset(&BD, 0, sizeof BD);
    REQUIRE(weft_barrier_init(&BD.b, N) == 0);
    REQUIRE(weft_barrier_init(&BD.b2, N - 2) == 0);
    BD.rewait = 2;
    for (int i = 0; i < N; i++)
        REQUIRE(weft_spawn(bd_task, I2P(i), &t[i]) == 0);
    await_all(t, N);
    CHECK_EQ(BD.done, N);
    int first[N], second[N], b2n = 0;
    for (int i = 0; i < N; i++) {
        first[i] = BD.rc[i][0];
        second[i] = BD.rc[i][1];
        b2n += BD.rc[i][2] >= 0 && BD.rc[i][2] < N - 2;
    }
    CHECK(is_permutation(first, N));
    CHECK(is_permutation(second, N));
    CHECK_EQ(b2n, N); /* the two rewaiters left it at 0, the others passed */
    CHECK_EQ(weft_barrier_n_waiting(&BD.b), 0);
    CHECK_EQ(weft_barrier_n_waiting(&BD.b2), 0);
    return NULL;
}

/* ======================================================== reset ==== */

static struct {
    weft_barrier b;
    int rc1[N], rc2[N], rc3[N];
    int first_returned;
    int count, r1, r2, r3;
} RS;

/* test_reset_barrier_while_tasks_waiting_and_waiting_again. */
static void *rs_again(void *arg)
{
    int id = (int)P2I(arg);
    RS.rc1[id] = weft_barrier_wait(&RS.b);
    RS.first_returned++;
    RS.rc2[id] = weft_barrier_wait(&RS.b);
    return NULL;
}

/* test_reset_barrier_when_tasks_half_draining: the third task out resets;
 * the two released tasks still inside get -EPIPE. */
static void *rs_half(void *arg)
{
    int id = (int)P2I(arg);
    int rc = RS.rc1[id] = weft_barrier_wait(&RS.b);
    if (rc == -EPIPE) {
        RS.r1++;
    } else if (rc >= 0) {
        if (++RS.count == N - N / 2)
            CHECK_EQ(weft_barrier_reset(&RS.b), 0);
    }
    return NULL;
}

/* test_reset_barrier_when_tasks_half_draining_half_blocking. */
static void *rs_half_blocking(void *arg)
{
    int id = (int)P2I(arg);
    int rc = RS.rc1[id] = weft_barrier_wait(&RS.b);
    if (rc == -EPIPE) {
        RS.r1++;
        RS.rc2[id] = weft_barrier_wait(&RS.b);
    } else if (++RS.count > N / 2) {
        CHECK_EQ(weft_barrier_reset(&RS.b), 0);
        RS.rc2[id] = weft_barrier_wait(&RS.b);
    } else {
        RS.rc2[id] = weft_barrier_wait(&RS.b);
        if (RS.rc2[id] == -EPIPE)
            RS.r2++;
    }
    return NULL;
}

/* test_reset_barrier_while_tasks_draining: the last task out resets while
 * the others already wait at the door: nobody is broken. */
static void *rs_draining(void *arg)
{
    int id = (int)P2I(arg);
    RS.rc1[id] = weft_barrier_wait(&RS.b);
    if (++RS.count == N) {
        CHECK_EQ(weft_barrier_reset(&RS.b), 0);
        RS.rc2[id] = weft_barrier_wait(&RS.b);
    } else {
        RS.rc2[id] = weft_barrier_wait(&RS.b);
        if (RS.rc2[id] >= 0)
            RS.r1++;
        else
            RS.r2++;
    }
    RS.rc3[id] = weft_barrier_wait(&RS.b);
    if (RS.rc3[id] >= 0)
        RS.r3++;
    return NULL;
}

static void rs_run(weft_fn fn)
{
    memset(&RS, 0, sizeof RS);
    REQUIRE(weft_barrier_init(&RS.b, N) == 0);
    weft_task *t[N];
    for (int i = 0; i < N; i++)
        REQUIRE(weft_spawn(fn, I2P(i), &t[i]) == 0);
    await_all(t, N);
}

static void *case_reset(void *arg)
{
    (void)arg;
    /* Nobody inside (test_reset_barrier). */
    weft_barrier one = WEFT_BARRIER_INIT(1);
    CHECK_EQ(weft_barrier_reset(&one), 0);
    CHECK_EQ(weft_barrier_n_waiting(&one), 0);
    CHECK_EQ(weft_barrier_broken(&one), 0);
    CHECK_EQ(weft_barrier_wait(&one), 0);

    /* N-1 waiting: all get -EPIPE; then they wait again and, with one
     * more task (here main, which arrives during the reset and must wait
     * for them to leave), a full cycle passes. */
    memset(&RS, 0, sizeof RS);
    REQUIRE(weft_barrier_init(&RS.b, N) == 0);
    weft_task *t[N];
    for (int i = 0; i < N - 1; i++)
        REQUIRE(weft_spawn(rs_again, I2P(i), &t[i]) == 0);
    check_yield_n(3);
    CHECK_EQ(weft_barrier_n_waiting(&RS.b), N - 1);
    CHECK_EQ(weft_barrier_reset(&RS.b), 0);
    CHECK_EQ(weft_barrier_n_waiting(&RS.b), 0); /* resetting */
    CHECK_EQ(weft_barrier_broken(&RS.b), 0);
    CHECK_EQ(weft_barrier_reset(&RS.b), 0); /* again: harmless */
    int rc = weft_barrier_wait(&RS.b);
    CHECK_EQ(RS.first_returned, N - 1);
    await_all(t, N - 1);
    int idx[N];
    for (int i = 0; i < N - 1; i++) {
        CHECK_EQ(RS.rc1[i], -EPIPE);
        idx[i] = RS.rc2[i];
    }
    idx[N - 1] = rc;
    CHECK(is_permutation(idx, N));
    CHECK_EQ(weft_barrier_broken(&RS.b), 0);
    CHECK_EQ(weft_barrier_n_waiting(&RS.b), 0);

    rs_run(rs_half);
    CHECK_EQ(RS.r1, N / 2);
    CHECK_EQ(RS.count, N - N / 2);
    CHECK_EQ(weft_barrier_broken(&RS.b), 0);
    full_cycle(&RS.b);

    rs_run(rs_half_blocking);
    CHECK_EQ(RS.r1, N / 2);
    CHECK_EQ(RS.r2, 0);
    CHECK(is_permutation(RS.rc2, N)); /* all five met again */
    CHECK_EQ(weft_barrier_broken(&RS.b), 0);
    full_cycle(&RS.b);

    rs_run(rs_draining);
    CHECK_EQ(RS.r1, N - 1);
    CHECK_EQ(RS.r2, 0);
    CHECK_EQ(RS.r3, N);
    CHECK(is_permutation(RS.rc1, N));
    CHECK(is_permutation(RS.rc2, N));
    CHECK(is_permutation(RS.rc3, N));
    CHECK_EQ(weft_barrier_broken(&RS.b), 0);
    CHECK_EQ(weft_barrier_n_waiting(&RS.b), 0);
    return NULL;
}

/* ======================================================== abort ==== */

static struct {
    weft_barrier b, b2;
    int count, r1, r2, r3;
} AB;

/* test_abort_barrier_when_tasks_half_draining_half_blocking. */
static void *ab_half_blocking(void *arg)
{
    (void)arg;
    int rc = weft_barrier_wait(&AB.b);
    if (rc == -EPIPE) {
        AB.r1++; /* released, aborted before it resumed */
    } else if (++AB.count > N / 2) {
        CHECK_EQ(weft_barrier_abort(&AB.b), 0);
    } else if (weft_barrier_wait(&AB.b) == -EPIPE) {
        AB.r2++; /* at the door */
    }
    return NULL;
}

/* test_abort_barrier_when_exception: index N/2 "fails" and aborts. */
static void *ab_exception(void *arg)
{
    (void)arg;
    int i = weft_barrier_wait(&AB.b);
    if (i == N / 2) {
        CHECK_EQ(weft_barrier_abort(&AB.b), 0);
        return NULL;
    }
    if (i >= 0)
        i = weft_barrier_wait(&AB.b);
    if (i >= 0)
        AB.r1++;
    else if (i == -EPIPE)
        AB.r2++;
    return NULL;
}

/* test_abort_barrier_when_exception_then_resetting. */
static void *ab_then_reset(void *arg)
{
    (void)arg;
    int i = weft_barrier_wait(&AB.b);
    if (i == N / 2) {
        CHECK_EQ(weft_barrier_abort(&AB.b), 0);
    } else {
        if (i >= 0)
            i = weft_barrier_wait(&AB.b);
        if (i >= 0)
            AB.r1++;
        else if (i == -EPIPE)
            AB.r2++;
    }
    /* Everyone has left b before the reset, and nobody enters it before. */
    i = weft_barrier_wait(&AB.b2);
    CHECK(i >= 0);
    if (i == N / 2)
        CHECK_EQ(weft_barrier_reset(&AB.b), 0);
    CHECK(weft_barrier_wait(&AB.b2) >= 0);
    if (weft_barrier_wait(&AB.b) >= 0)
        AB.r3++;
    return NULL;
}

static void ab_run(weft_fn fn)
{
    memset(&AB, 0, sizeof AB);
    REQUIRE(weft_barrier_init(&AB.b, N) == 0);
    REQUIRE(weft_barrier_init(&AB.b2, N) == 0);
    weft_task *t[N];
    for (int i = 0; i < N; i++)
        REQUIRE(weft_spawn(fn, I2P(i), &t[i]) == 0);
    await_all(t, N);
}

static void *case_abort(void *arg)
{
    (void)arg;
    /* Nobody inside (test_abort_barrier): broken, waits fail at once. */
    weft_barrier one = WEFT_BARRIER_INIT(1);
    CHECK_EQ(weft_barrier_abort(&one), 0);
    CHECK_EQ(weft_barrier_broken(&one), 1);
    CHECK_EQ(weft_barrier_n_waiting(&one), 0);
    CHECK_EQ(weft_barrier_wait(&one), -EPIPE);
    CHECK_EQ(weft_barrier_abort(&one), 0);
    CHECK_EQ(weft_barrier_broken(&one), 1);
    CHECK_EQ(weft_barrier_reset(&one), 0);
    CHECK_EQ(weft_barrier_broken(&one), 0);
    CHECK_EQ(weft_barrier_wait(&one), 0);

    /* N-1 waiting: all get -EPIPE, and so does every later wait; broken
     * until reset, then usable. */
    weft_barrier b = WEFT_BARRIER_INIT(N);
    weft_task *t[N];
    w_reset(&b);
    for (int i = 0; i < N - 1; i++)
        arrive(&t[i], i);
    CHECK_EQ(weft_barrier_n_waiting(&b), N - 1);
    CHECK_EQ(weft_barrier_abort(&b), 0);
    CHECK_EQ(weft_barrier_broken(&b), 1);
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    CHECK_EQ(weft_barrier_wait(&b), -EPIPE);
    await_all(t, N - 1);
    for (int i = 0; i < N - 1; i++)
        CHECK_EQ(W.rc[i], -EPIPE);
    CHECK_EQ(weft_barrier_broken(&b), 1); /* still, once they have left */
    w_reset(&b);
    arrive(&t[0], 0);
    CHECK_EQ(weft_await(t[0], NULL), 0);
    CHECK_EQ(W.rc[0], -EPIPE);
    CHECK_EQ(weft_barrier_wait(&b), -EPIPE);
    CHECK_EQ(weft_barrier_reset(&b), 0);
    full_cycle(&b);

    ab_run(ab_half_blocking);
    CHECK_EQ(weft_barrier_broken(&AB.b), 1);
    CHECK_EQ(AB.r1, N / 2);
    CHECK_EQ(AB.r2, N - N / 2 - 1);
    CHECK_EQ(weft_barrier_n_waiting(&AB.b), 0);

    ab_run(ab_exception);
    CHECK_EQ(weft_barrier_broken(&AB.b), 1);
    CHECK_EQ(AB.r1, 0);
    CHECK_EQ(AB.r2, N - 1);
    CHECK_EQ(weft_barrier_n_waiting(&AB.b), 0);

    ab_run(ab_then_reset);
    CHECK_EQ(weft_barrier_broken(&AB.b), 0);
    CHECK_EQ(AB.r1, 0);
    CHECK_EQ(AB.r2, N - 1);
    CHECK_EQ(AB.r3, N);
    CHECK_EQ(weft_barrier_n_waiting(&AB.b), 0);
    return NULL;
}

/* =================================================== cancellation ==== */

static struct {
    weft_barrier *b;
    int rc1, rc2, next_rc;
    int at_door;
} CD;

/* Releases the cycle (the last arrival), then waits again at the door. */
static void *cd_releaser(void *arg)
{
    (void)arg;
    CD.rc1 = weft_barrier_wait(CD.b);
    CD.at_door = 1;
    CD.rc2 = weft_barrier_wait(CD.b);
    return NULL;
}

static void *cd_cancelled_self(void *arg)
{
    (void)arg;
    weft_task_cancel(weft_current());
    CD.rc1 = weft_barrier_wait(CD.b);
    return NULL;
}

static void *cd_shielded(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_shield_begin(), 0);
    CD.at_door = 1;
    CD.rc1 = weft_barrier_wait(CD.b);
    CHECK_EQ(weft_shield_end(), 0);
    CD.next_rc = weft_yield();
    return NULL;
}

/* Waits inside a cancel scope of `timeout` seconds. */
static struct {
    weft_barrier *b;
    double timeout;
    int rc, close_rc, at_door;
} SC;

static void *sc_waiter(void *arg)
{
    (void)arg;
    weft_scope *sc;
    REQUIRE(weft_scope_open(SC.timeout, &sc) == 0);
    SC.at_door = 1;
    SC.rc = weft_barrier_wait(SC.b);
    SC.close_rc = weft_scope_close(sc);
    return NULL;
}

static void sc_run(weft_barrier *b, double timeout, weft_task **t)
{
    memset(&SC, 0, sizeof SC);
    SC.b = b;
    SC.timeout = timeout;
    REQUIRE(weft_spawn(sc_waiter, NULL, t) == 0);
    check_yield_until(&SC.at_door, 1);
}

static void *case_cancel(void *arg)
{
    (void)arg;
    weft_task *t[N];

    /* test_filling_tasks_cancel_one: the cancelled waiter leaves, the
     * count goes down once it has run, one more arrival is needed. */
    weft_barrier b = WEFT_BARRIER_INIT(3);
    w_reset(&b);
    arrive(&t[0], 0);
    CHECK_EQ(weft_barrier_n_waiting(&b), 1);
    arrive(&t[1], 1);
    CHECK_EQ(weft_barrier_n_waiting(&b), 2);
    CHECK_EQ(weft_task_cancel(t[0]), 0);
    CHECK_EQ(weft_barrier_n_waiting(&b), 2); /* until it has run */
    CHECK_EQ(weft_await(t[0], NULL), -ECANCELED);
    CHECK_EQ(W.rc[0], -ECANCELED);
    CHECK_EQ(weft_barrier_n_waiting(&b), 1);
    arrive(&t[2], 2);
    CHECK_EQ(weft_barrier_n_waiting(&b), 2);
    CHECK_EQ(W.returned, 1); /* only the cancelled one */
    arrive(&t[3], 3);
    await_all(&t[1], 3);
    /* As in asyncio, the index is the count at arrival: 1 is reused. */
    CHECK_EQ(W.rc[1], 1);
    CHECK_EQ(W.rc[2], 1);
    CHECK_EQ(W.rc[3], 2);
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    CHECK_EQ(weft_barrier_broken(&b), 0);
    full_cycle(&b);

    /* The only waiter cancelled: back to empty. */
    w_reset(&b);
    arrive(&t[0], 0);
    CHECK_EQ(weft_task_cancel(t[0]), 0);
    CHECK_EQ(weft_await(t[0], NULL), -ECANCELED);
    CHECK_EQ(W.rc[0], -ECANCELED);
    full_cycle(&b);

    /* Cancelled after the release, before it resumed: -ECANCELED (as
     * asyncio raises CancelledError there); the other passes and the
     * barrier fills again once both have left. */
    w_reset(&b);
    arrive(&t[0], 0);
    arrive(&t[1], 1);
    CHECK_EQ(weft_barrier_wait(&b), 2);
    CHECK_EQ(weft_task_cancel(t[0]), 0);
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    CHECK_EQ(weft_await(t[0], NULL), -ECANCELED);
    CHECK_EQ(weft_await(t[1], NULL), 0);
    CHECK_EQ(W.rc[0], -ECANCELED);
    CHECK_EQ(W.rc[1], 1);
    CHECK_EQ(weft_barrier_broken(&b), 0);
    full_cycle(&b);

    /* Cancelled at the door while the barrier drains: it leaves without
     * touching either cycle. */
    w_reset(&b);
    memset(&CD, 0, sizeof CD);
    CD.b = &b;
    arrive(&t[0], 0);
    arrive(&t[1], 1);
    REQUIRE(weft_spawn(cd_releaser, NULL, &t[2]) == 0);
    check_yield_until(&CD.at_door, 1);
    CHECK_EQ(CD.rc1, 2);
    CHECK_EQ(W.returned, 0); /* still draining */
    CHECK_EQ(weft_task_cancel(t[2]), 0);
    CHECK_EQ(weft_await(t[2], NULL), -ECANCELED);
    CHECK_EQ(CD.rc2, -ECANCELED);
    await_all(t, 2);
    CHECK_EQ(W.rc[0], 0);
    CHECK_EQ(W.rc[1], 1);
    full_cycle(&b);

    /* Cancelled at entry: fails at once and leaves the count alone - even
     * as the arrival that would complete the cycle. */
    w_reset(&b);
    arrive(&t[0], 0);
    arrive(&t[1], 1);
    CD.rc1 = 1;
    REQUIRE(weft_spawn(cd_cancelled_self, NULL, &t[2]) == 0);
    CHECK_EQ(weft_await(t[2], NULL), -ECANCELED);
    CHECK_EQ(CD.rc1, -ECANCELED);
    CHECK_EQ(weft_barrier_n_waiting(&b), 2);
    CHECK_EQ(W.returned, 0);
    CHECK_EQ(weft_barrier_abort(&b), 0);
    await_all(t, 2);
    CHECK_EQ(W.rc[0], -EPIPE);
    CHECK_EQ(W.rc[1], -EPIPE);
    CHECK_EQ(weft_barrier_reset(&b), 0);

    /* Shielded: the cancellation waits for the shield's end; the waiter
     * stays counted and passes, and its next suspending call fails. */
    weft_barrier two = WEFT_BARRIER_INIT(2);
    memset(&CD, 0, sizeof CD);
    CD.b = &two;
    REQUIRE(weft_spawn(cd_shielded, NULL, &t[0]) == 0);
    check_yield_until(&CD.at_door, 1);
    CHECK_EQ(weft_task_cancel(t[0]), 0);
    check_yield_n(3);
    CHECK_EQ(weft_barrier_n_waiting(&two), 1);
    CHECK_EQ(weft_barrier_wait(&two), 1);
    CHECK_EQ(weft_await(t[0], NULL), -ECANCELED);
    CHECK_EQ(CD.rc1, 0);
    CHECK_EQ(CD.next_rc, -ECANCELED);
    CHECK_EQ(weft_barrier_n_waiting(&two), 0);

    /* A cancel scope's deadline passes while the task waits: it leaves
     * the cycle like a cancelled waiter, with -ETIMEDOUT. */
    w_reset(&b);
    arrive(&t[0], 0);
    sc_run(&b, 0.05, &t[1]);
    CHECK_EQ(weft_barrier_n_waiting(&b), 2);
    CHECK_EQ(weft_await(t[1], NULL), 0);
    CHECK_EQ(SC.rc, -ETIMEDOUT);
    CHECK_EQ(SC.close_rc, 1);
    CHECK_EQ(weft_barrier_n_waiting(&b), 1);
    arrive(&t[1], 1);
    arrive(&t[2], 2);
    await_all(t, 3);
    CHECK_EQ(W.rc[0], 0);
    CHECK_EQ(W.rc[1], 1);
    CHECK_EQ(W.rc[2], 2);
    /* Expired at entry: fails at once. */
    sc_run(&b, 0, &t[0]);
    CHECK_EQ(weft_await(t[0], NULL), 0);
    CHECK_EQ(SC.rc, -ETIMEDOUT);
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    full_cycle(&b);
    return NULL;
}

/* Outside a task. */
static void case_outside_task(void *arg)
{
    (void)arg;
    weft_barrier b = WEFT_BARRIER_INIT(2);
    CHECK_EQ(weft_barrier_wait(&b), -EPERM);
    CHECK_EQ(weft_barrier_reset(&b), -EPERM);
    CHECK_EQ(weft_barrier_abort(&b), -EPERM);
    CHECK_EQ(weft_barrier_broken(&b), 0); /* the failed abort did nothing */
    CHECK_EQ(weft_barrier_n_waiting(&b), 0);
    CHECK_EQ(weft_barrier_parties(&b), 2);
    CHECK_EQ(weft_barrier_wait(NULL), -EINVAL);
    CHECK_EQ(weft_barrier_init(&b, 3), 0); /* callable anywhere */
    CHECK_EQ(weft_barrier_parties(&b), 3);
    CHECK_EQ(weft_barrier_init(&b, 0), -EINVAL);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_task", case_outside_task, NULL),
    CHECK_TASK("errors", case_errors, NULL),
    CHECK_TASK("one_party", case_one_party, NULL),
    CHECK_TASK("fill", case_fill, NULL),
    CHECK_TASK("cycles", case_cycles, NULL),
    CHECK_TASK("draining", case_draining, NULL),
    CHECK_TASK("reset", case_reset, NULL),
    CHECK_TASK("abort", case_abort, NULL),
    CHECK_TASK("cancel", case_cancel, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

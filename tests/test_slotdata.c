/*
 * test_slotdata.c - what a 16-byte task slot keeps elsewhere.
 *
 * - Task functions: the slot of a task not started yet holds a 15-bit index
 *   into a per-loop function table.  Many distinct functions grow the table;
 *   past its 32,767 entries a spawn keeps the function in a record instead,
 *   and every task still runs its own function.
 * - Messages: a finished task's weft_fail message lives in a per-loop map.
 *   Thousands of them, collected in a shuffled order (so the map grows,
 *   shrinks and reshuffles its probe chains), each reach the right awaiter;
 *   weft_task_message sees them before the handle is consumed.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* 40 distinct functions, each returning its own number plus the argument. */
#define FN(k)                                                                 \
    static void *fn##k(void *arg)                                             \
    {                                                                         \
        return I2P(k * 1000 + P2I(arg));                                      \
    }
#define FN10(t)                                                               \
    FN(t##0) FN(t##1) FN(t##2) FN(t##3) FN(t##4) FN(t##5) FN(t##6) FN(t##7)   \
        FN(t##8) FN(t##9)
FN10(1) FN10(2) FN10(3) FN10(4)
#define REF(k) fn##k,
#define REF10(t)                                                              \
    REF(t##0) REF(t##1) REF(t##2) REF(t##3) REF(t##4) REF(t##5) REF(t##6)     \
        REF(t##7) REF(t##8) REF(t##9)
static weft_fn fns[] = {REF10(1) REF10(2) REF10(3) REF10(4)};
#define NFNS ((int)(sizeof fns / sizeof fns[0]))

static void *many_functions(void *arg)
{
    (void)arg;
    enum { ROUNDS = 5 };
    weft_task *t[NFNS * ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NFNS; i++)
            REQUIRE(weft_spawn(fns[i], I2P(r), &t[r * NFNS + i]) == 0);
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NFNS; i++) {
            void *res;
            CHECK_EQ(weft_await(t[r * NFNS + i], &res), 0);
            CHECK_EQ(P2I(res), (10 + i) * 1000 + r);
        }
    return NULL;
}

static int ran;

static void *counts(void *arg)
{
    ran++;
    return arg;
}

/* More distinct "functions" than the table holds.  They never run (all are
 * cancelled before their turn), so they need not be real functions: the
 * addresses only have to differ. */
static void *table_overflow(void *arg)
{
    (void)arg;
    /* A few hundred past the table's 32,767: those get records (and,
     * under ThreadSanitizer, a fiber each, of at most 8,128). */
    long n = 33000;
    weft_task **t = malloc((size_t)n * sizeof *t);
    REQUIRE(t);
    for (long i = 0; i < n; i++) {
        weft_fn fake = (weft_fn)(void *)((char *)(void *)counts + 16 * i);
        REQUIRE(weft_spawn(fake, NULL, &t[i]) == 0);
        weft_task_cancel(t[i]);
    }
    for (long i = 0; i < n; i++)
        CHECK_EQ(weft_await(t[i], NULL), -ECANCELED);
    free(t);
    /* The table is full; a new function still runs (from a record). */
    weft_task *u;
    REQUIRE(weft_spawn(counts, I2P(5), &u) == 0);
    void *r;
    CHECK_EQ(weft_await(u, &r), 0);
    CHECK_EQ(P2I(r), 5);
    CHECK_EQ(ran, 1);
    return NULL;
}

static void *fails(void *arg)
{
    return weft_fail(-EIO, "task %ld failed", (long)P2I(arg));
}

static void *many_messages(void *arg)
{
    (void)arg;
    long n = check_scaled(5000);
    weft_task **t = malloc((size_t)n * sizeof *t);
    long *order = malloc((size_t)n * sizeof *order);
    REQUIRE(t && order);
    for (long i = 0; i < n; i++) {
        REQUIRE(weft_spawn(fails, I2P(i), &t[i]) == 0);
        order[i] = i;
    }
    weft_sleep(0); /* all of them finish, their messages wait */
    unsigned seed = 12345;
    for (long i = n - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        long j = (long)(seed % (unsigned)(i + 1));
        long k = order[i];
        order[i] = order[j];
        order[j] = k;
    }
    char want[64];
    for (long k = 0; k < n; k++) {
        long i = order[k];
        snprintf(want, sizeof want, "task %ld failed", i);
        const char *m = weft_task_message(t[i]);
        CHECK(m && !strcmp(m, want));
        CHECK_EQ(weft_await(t[i], NULL), -EIO);
        CHECK(weft_errmsg() && !strcmp(weft_errmsg(), want));
    }
    free(t);
    free(order);
    return NULL;
}


static const struct check_case_def cases[] = {
    CHECK_TASK("many_functions", many_functions, NULL),
    CHECK_TASK("table_overflow", table_overflow, NULL),
    CHECK_TASK("many_messages", many_messages, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

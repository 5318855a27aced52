/*
 * test_gen.c - async generators: values in order, no read-ahead, each value
 * handed over as soon as it is yielded, exhaustion, producer errors, early
 * close and cleanup, generators abandoned at loop close, concurrent and
 * cancelled consumers, misuse, WEFT_GEN_FOREACH, consumers in several tasks,
 * nested generators, a million items, producers that sleep, await and run
 * blocking work between yields, and yields that no consumer can receive.
 * Regressions, each in a child process under an alarm: a producer
 * cancelled through its own handle while parked in a yield is resumed by
 * the next (that yield returns 0, the following one -ECANCELED, next
 * -ECANCELED), never twice; a parked producer's own scope expiring while
 * the consumer waits in another generator's next neither wakes it nor
 * disturbs that next; a deadline given (weft_scope_reschedule) to the
 * scope of a consumer inside next neither breaks that next nor cuts a
 * later sleep short.
 *
 * Every case runs in its own weft_run, after which no weft allocation may
 * be live; early-close cases also check that closing alone gave back
 * everything the generator took.
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long live_allocs(void)
{
    return __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
}

static void *nothing(void *arg)
{
    return arg;
}

/* A loop keeps one allocation for all its generators from the first one
 * on, until it closes: make it exist, so that what a case measures is
 * what its own generators take and give back. */
static long live_allocs_with_gens(void)
{
    weft_gen *g;
    REQUIRE(weft_gen_new(nothing, NULL, &g) == 0);
    REQUIRE(weft_gen_close(g) == 0);
    return live_allocs();
}

/* Timing tolerance: sanitizers and emulators are slower. */
static double unit(void)
{
    return check_slow_env() ? 0.1 : 0.04;
}

/* ---- the common producer: counts 1..n ---- */

typedef struct counter {
    long n;               /* items to produce */
    double delay;         /* sleep before each item */
    double cleanup_sleep; /* shielded sleep in the cleanup (0: none) */
    bool started;         /* the body ran */
    long produced;        /* the last item yielded */
    int yield_rc;         /* first non-zero weft_gen_yield or sleep result */
    bool cleaned;         /* the code after the loop ran */
    weft_task *self;      /* the producer's own (borrowed) handle */
} counter;

static void *count_up(void *arg)
{
    counter *c = arg;
    c->started = true;
    c->self = weft_current();
    for (long i = 1; i <= c->n; i++) {
        if (c->delay > 0 && (c->yield_rc = weft_sleep(c->delay)) != 0)
            break;
        c->produced = i;
        if ((c->yield_rc = weft_gen_yield(I2P(i))) != 0)
            break;
    }
    if (c->cleanup_sleep > 0) {
        /* Cleanup that itself suspends: close must wait for it. */
        CHECK_EQ(weft_shield_begin(), 0);
        CHECK_EQ(weft_sleep(c->cleanup_sleep), 0);
        CHECK_EQ(weft_shield_end(), 0);
    }
    c->cleaned = true;
    return NULL;
}

/* ---- values arrive in order; NULL is a value like any other ---- */

static void *yield_with_null(void *arg)
{
    (void)arg;
    static const intptr_t seq[] = {3, 0, 7, -1, 42};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
        CHECK_EQ(weft_gen_yield(I2P(seq[i])), 0);
    return NULL;
}

static void *case_order(void *arg)
{
    (void)arg;
    counter c = {.n = 10};
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    void *v;
    for (long i = 1; i <= 10; i++) {
        v = NULL;
        CHECK_EQ(weft_gen_next(g, &v), 1);
        CHECK_EQ(P2I(v), i);
    }
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK(c.cleaned);
    CHECK_EQ(weft_gen_close(g), 0);

    REQUIRE(weft_gen_new(yield_with_null, NULL, &g) == 0);
    static const intptr_t want[] = {3, 0, 7, -1, 42};
    for (size_t i = 0; i < 5; i++) {
        v = I2P(99);
        CHECK_EQ(weft_gen_next(g, &v), 1);
        CHECK_EQ(P2I(v), want[i]);
    }
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK_EQ(weft_gen_close(g), 0);
    return NULL;
}

/* ---- no read-ahead: the producer runs only while the consumer asks ---- */

static void *case_no_read_ahead(void *arg)
{
    (void)arg;
    counter c = {.n = 5};
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    /* Nothing runs before the first next, however long we wait. */
    for (int i = 0; i < 10; i++)
        CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_sleep(0.005), 0);
    CHECK(!c.started);
    CHECK_EQ(c.produced, 0);
    void *v;
    for (long k = 1; k <= 5; k++) {
        CHECK_EQ(weft_gen_next(g, &v), 1);
        CHECK_EQ(P2I(v), k);
        CHECK_EQ(c.produced, k);
        /* Give the loop every chance to run the producer ahead. */
        for (int i = 0; i < 10; i++)
            CHECK_EQ(weft_yield(), 0);
        CHECK_EQ(weft_sleep(0.002), 0);
        CHECK_EQ(c.produced, k);
        CHECK(!c.cleaned);
    }
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK(c.cleaned);
    CHECK_EQ(weft_gen_close(g), 0);
    return NULL;
}

/* ---- each value is handed over as soon as it is yielded ----
 * The producer sleeps d before each item, the consumer sleeps c after
 * each one.  Without read-ahead and without buffering, item i arrives at
 * i*d + (i-1)*c: never earlier (that would be read-ahead), and not much
 * later (that would be buffering). */

static void *case_timing(void *arg)
{
    (void)arg;
    const double d = unit(), c_sleep = d / 2;
    counter c = {.n = 5, .delay = d};
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    double t0 = weft_now(), at[6] = {0};
    void *v;
    for (int i = 1; i <= 5; i++) {
        CHECK_EQ(weft_gen_next(g, &v), 1);
        at[i] = weft_now() - t0;
        CHECK_EQ(P2I(v), i);
        CHECK_EQ(weft_sleep(c_sleep), 0);
    }
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK_EQ(weft_gen_close(g), 0);
    for (int i = 1; i <= 5; i++) {
        double want = i * d + (i - 1) * c_sleep;
        if (at[i] < want - 1e-4 || at[i] > want + d / 2)
            fprintf(stderr, "item %d arrived at %.4f s, expected %.4f s\n", i,
                    at[i], want);
        CHECK(at[i] >= want - 1e-4);
        CHECK(at[i] <= want + d / 2);
    }
    return NULL;
}

/* ---- exhaustion ---- */

static void *produce_nothing(void *arg)
{
    bool *ran = arg;
    *ran = true;
    return NULL;
}

static void *case_exhausted(void *arg)
{
    (void)arg;
    counter c = {.n = 2};
    weft_gen *g;
    void *v;
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK_EQ(weft_gen_next(g, &v), 0); /* and again */
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK_EQ(c.produced, 2);
    CHECK_EQ(weft_gen_close(g), 0);

    /* A producer that yields nothing: exhausted at the first next. */
    bool ran = false;
    REQUIRE(weft_gen_new(produce_nothing, &ran, &g) == 0);
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK(ran);
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK_EQ(weft_gen_close(g), 0);
    return NULL;
}

/* ---- a producer's error reaches the consumer once ---- */

static void *fail_after_two(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_gen_yield(I2P(1)), 0);
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_gen_yield(I2P(2)), 0);
    return weft_fail(-EIO, "disk %d went away", 3);
}

static void *fail_at_once(void *arg)
{
    (void)arg;
    return weft_fail(-ENOENT, "nothing at %s", "/x");
}

static void *case_error(void *arg)
{
    (void)arg;
    weft_gen *g;
    void *v;
    REQUIRE(weft_gen_new(fail_after_two, NULL, &g) == 0);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(P2I(v), 1);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(P2I(v), 2);
    CHECK_EQ(weft_gen_next(g, &v), -EIO);
    const char *msg = weft_errmsg();
    REQUIRE(msg != NULL);
    CHECK(strcmp(msg, "disk 3 went away") == 0);
    CHECK_EQ(weft_gen_next(g, &v), 0); /* once: then exhausted */
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK_EQ(weft_gen_close(g), 0);

    REQUIRE(weft_gen_new(fail_at_once, NULL, &g) == 0);
    CHECK_EQ(weft_gen_next(g, &v), -ENOENT);
    msg = weft_errmsg();
    REQUIRE(msg != NULL);
    CHECK(strcmp(msg, "nothing at /x") == 0);
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK_EQ(weft_gen_close(g), 0);

    /* The same through WEFT_GEN_FOREACH: the loop ends with the error. */
    REQUIRE(weft_gen_new(fail_after_two, NULL, &g) == 0);
    int rc;
    long sum = 0;
    WEFT_GEN_FOREACH(g, x, rc)
    {
        sum += P2I(x);
    }
    CHECK_EQ(rc, -EIO);
    CHECK_EQ(sum, 3);
    CHECK_EQ(weft_gen_close(g), 0);
    return NULL;
}

/* ---- closing early cancels the producer and waits for its cleanup ---- */

static void *case_close_early(void *arg)
{
    (void)arg;
    for (int variant = 0; variant < 3; variant++) {
        counter c = {.n = 5};
        if (variant == 1)
            c.cleanup_sleep = 0.01; /* cleanup that suspends */
        if (variant == 2)
            c.delay = 0.001; /* the producer slept between items */
        long before = live_allocs_with_gens();
        weft_gen *g;
        REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
        int rc, got = 0;
        WEFT_GEN_FOREACH(g, v, rc)
        {
            CHECK_EQ(P2I(v), got + 1);
            if (++got == 2)
                break; /* break after 2 of 5 */
        }
        CHECK_EQ(rc, 1);
        CHECK_EQ(got, 2);
        CHECK(!c.cleaned);
        double t0 = weft_now();
        CHECK_EQ(weft_gen_close(g), 0);
        /* Cancelled in its yield, and cleaned up before close returned. */
        CHECK_EQ(c.yield_rc, -ECANCELED);
        CHECK(c.cleaned);
        CHECK_EQ(c.produced, 2);
        if (variant == 1)
            CHECK(weft_now() - t0 >= 0.01);
        /* Closing gave back everything the generator took. */
        CHECK_EQ(live_allocs(), before);
        /* The producer task is gone: its borrowed handle is stale. */
        CHECK_EQ(weft_task_done(c.self), -EINVAL);
    }
    return NULL;
}

/* ---- closing one never started, and one exhausted ---- */

static void *case_close_other(void *arg)
{
    (void)arg;
    long before = live_allocs_with_gens();
    counter c = {.n = 3};
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK(!c.started); /* closing does not start it */
    CHECK_EQ(live_allocs(), before);

    weft_sleep(0.002);
    CHECK(!c.started);

    counter d = {.n = 3};
    REQUIRE(weft_gen_new(count_up, &d, &g) == 0);
    void *v;
    while (weft_gen_next(g, &v) > 0) {
    }
    CHECK(d.cleaned);
    CHECK_EQ(d.yield_rc, 0);
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK_EQ(live_allocs(), before);
    return NULL;
}

/* ---- abandoned at loop close ---- */

typedef struct abandon_state {
    counter suspended; /* in weft_gen_yield when main returns */
    counter unstarted; /* never pulled */
    counter exhausted; /* pulled to the end, never closed */
    counter waiting;   /* a consumer is inside next, producer asleep */
    int consumer_rc;
} abandon_state;

static void *abandoned_consumer(void *arg)
{
    abandon_state *s = arg;
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, &s->waiting, &g) == 0);
    void *v;
    s->consumer_rc = weft_gen_next(g, &v); /* never closed either */
    return NULL;
}

static void *case_abandoned(void *arg)
{
    abandon_state *s = arg;
    weft_gen *g;
    void *v;
    REQUIRE(weft_gen_new(count_up, &s->suspended, &g) == 0);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    REQUIRE(weft_gen_new(count_up, &s->unstarted, &g) == 0);
    REQUIRE(weft_gen_new(count_up, &s->exhausted, &g) == 0);
    while (weft_gen_next(g, &v) > 0) {
    }
    weft_task *t;
    REQUIRE(weft_spawn(abandoned_consumer, s, &t) == 0);
    CHECK_EQ(weft_task_detach(t), 0);
    CHECK_EQ(weft_sleep(0.005), 0);
    CHECK(s->waiting.started);
    return NULL; /* nothing closed */
}

static void check_abandoned(void *arg)
{
    (void)arg;
    abandon_state s = {
        .suspended = {.n = 5},
        .unstarted = {.n = 5},
        .exhausted = {.n = 2},
        .waiting = {.n = 5, .delay = 3600},
        .consumer_rc = 1,
    };
    check_run_clean(case_abandoned, &s);
    /* The suspended producer was cancelled in its yield and cleaned up. */
    CHECK_EQ(s.suspended.yield_rc, -ECANCELED);
    CHECK(s.suspended.cleaned);
    CHECK_EQ(s.suspended.produced, 1);
    CHECK(!s.unstarted.started);
    CHECK(s.exhausted.cleaned);
    /* The one a consumer waited on was cancelled in its sleep, and the
     * consumer's next returned -ECANCELED. */
    CHECK_EQ(s.waiting.yield_rc, -ECANCELED);
    CHECK(s.waiting.cleaned);
    CHECK_EQ(s.consumer_rc, -ECANCELED);
}

/* ---- two consumers at once: the second gets -EBUSY ---- */

typedef struct pull {
    weft_gen *g;
    int rc;
    void *v;
    bool returned;
} pull;

static void *pull_one(void *arg)
{
    pull *p = arg;
    p->rc = weft_gen_next(p->g, &p->v);
    p->returned = true;
    return NULL;
}

static void *case_busy(void *arg)
{
    (void)arg;
    counter c = {.n = 3, .delay = 0.02};
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    pull a = {.g = g};
    weft_task *t;
    REQUIRE(weft_spawn(pull_one, &a, &t) == 0);
    CHECK_EQ(weft_sleep(0.005), 0);
    /* a is inside next, the producer sleeps: the loop still runs us. */
    CHECK(c.started);
    CHECK(!a.returned);
    void *v = I2P(77);
    CHECK_EQ(weft_gen_next(g, &v), -EBUSY);
    CHECK_EQ(P2I(v), 77);
    CHECK_EQ(weft_gen_close(g), -EBUSY);
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(a.rc, 1);
    CHECK_EQ(P2I(a.v), 1);
    /* The -EBUSY calls disturbed nothing. */
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(P2I(v), 2);
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK_EQ(c.yield_rc, -ECANCELED);
    CHECK(c.cleaned);
    return NULL;
}

/* ---- a cancelled consumer inside next ---- */

typedef struct sleepy {
    int first_yield_rc;
    int sleep_rc;
    double cleanup_sleep;
    bool stopped;
} sleepy;

/* Yields 1, then sleeps (nearly) forever before item 2. */
static void *sleep_then_yield(void *arg)
{
    sleepy *s = arg;
    s->first_yield_rc = weft_gen_yield(I2P(1));
    s->sleep_rc = weft_sleep(3600);
    if (s->cleanup_sleep > 0) {
        CHECK_EQ(weft_shield_begin(), 0);
        CHECK_EQ(weft_sleep(s->cleanup_sleep), 0);
        CHECK_EQ(weft_shield_end(), 0);
    }
    if (s->sleep_rc == 0)
        weft_gen_yield(I2P(2));
    s->stopped = true;
    return NULL;
}

typedef struct cancelled_consumer {
    weft_gen *g;
    sleepy *s;
    int rc1, rc2;
    bool stopped_before_return;
} cancelled_consumer;

static void *consume_two(void *arg)
{
    cancelled_consumer *cc = arg;
    void *v;
    cc->rc1 = weft_gen_next(cc->g, &v);
    cc->rc2 = weft_gen_next(cc->g, &v); /* cancelled in here */
    cc->stopped_before_return = cc->s->stopped;
    return NULL;
}

static void *case_cancelled_consumer(void *arg)
{
    (void)arg;
    for (int variant = 0; variant < 2; variant++) {
        sleepy s = {.cleanup_sleep = variant ? 0.01 : 0};
        weft_gen *g;
        REQUIRE(weft_gen_new(sleep_then_yield, &s, &g) == 0);
        cancelled_consumer cc = {.g = g, .s = &s};
        weft_task *t;
        REQUIRE(weft_spawn(consume_two, &cc, &t) == 0);
        CHECK_EQ(weft_sleep(0.005), 0);
        double t0 = weft_now();
        CHECK_EQ(weft_task_cancel(t), 0);
        CHECK_EQ(weft_await(t, NULL), -ECANCELED);
        CHECK(weft_now() - t0 < 1.0);
        CHECK_EQ(cc.rc1, 1);
        CHECK_EQ(cc.rc2, -ECANCELED);
        CHECK(cc.stopped_before_return); /* next returned after it stopped */
        CHECK_EQ(s.first_yield_rc, 0);
        CHECK_EQ(s.sleep_rc, -ECANCELED);
        /* The generator is finished for everyone. */
        void *v;
        CHECK_EQ(weft_gen_next(g, &v), 0);
        CHECK_EQ(weft_gen_close(g), 0);
    }

    /* A consumer already cancelled before next: nothing starts. */
    counter c = {.n = 3};
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    void *v;
    CHECK_EQ(weft_gen_next(g, &v), -ECANCELED);
    CHECK(!c.started);
    CHECK_EQ(weft_gen_close(g), 0); /* close works in a cancelled task */
    return NULL;
}

static void check_cancelled_consumer(void *arg)
{
    (void)arg;
    /* The main task cancels itself at the end: weft_run says so. */
    int rc = weft_run(case_cancelled_consumer, NULL, NULL);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(live_allocs(), 0);
}

/* ---- a producer cancelled some other way (here: by itself) ---- */

static void *cancels_itself(void *arg)
{
    int *rc = arg;
    CHECK_EQ(weft_gen_yield(I2P(1)), 0);
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    *rc = weft_gen_yield(I2P(2));
    return NULL;
}

static void *case_producer_cancelled(void *arg)
{
    (void)arg;
    int yrc = 0;
    weft_gen *g;
    void *v;
    REQUIRE(weft_gen_new(cancels_itself, &yrc, &g) == 0);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(weft_gen_next(g, &v), -ECANCELED);
    CHECK_EQ(yrc, -ECANCELED);
    CHECK_EQ(weft_gen_next(g, &v), 0);
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK_EQ(weft_cancelled(), 0); /* the consumer was not cancelled */
    return NULL;
}

/* ---- misuse ---- */

static void *yield_from_child(void *arg)
{
    (void)arg;
    return I2P(weft_gen_yield(NULL));
}

typedef struct self_use {
    weft_gen *g;
    int next_rc, close_rc, child_rc;
} self_use;

/* A producer that pulls from or closes its own generator, and whose child
 * task tries to yield. */
static void *uses_itself(void *arg)
{
    self_use *u = arg;
    void *v;
    u->next_rc = weft_gen_next(u->g, &v);
    u->close_rc = weft_gen_close(u->g);
    weft_task *t;
    REQUIRE(weft_spawn(yield_from_child, NULL, &t) == 0);
    void *r = NULL;
    CHECK_EQ(weft_await(t, &r), 0);
    u->child_rc = (int)P2I(r);
    CHECK_EQ(weft_gen_yield(I2P(5)), 0);
    return NULL;
}

typedef struct foreign {
    weft_gen *g;
    int next_rc, close_rc, yield_rc, new_rc;
} foreign;

static void *foreign_main(void *arg)
{
    foreign *f = arg;
    void *v;
    weft_gen *g2 = NULL;
    f->next_rc = weft_gen_next(f->g, &v);
    f->close_rc = weft_gen_close(f->g);
    f->yield_rc = weft_gen_yield(NULL);
    f->new_rc = weft_gen_new(count_up, NULL, &g2);
    if (f->new_rc == 0)
        weft_gen_close(g2);
    return NULL;
}

static void *foreign_thread(void *arg)
{
    CHECK_EQ(weft_run(foreign_main, arg, NULL), 0);
    return NULL;
}

static void *case_misuse(void *arg)
{
    (void)arg;
    weft_gen *g = NULL;
    void *v;
    CHECK_EQ(weft_gen_yield(NULL), -EINVAL); /* not a producer */
    CHECK_EQ(weft_gen_new(NULL, NULL, &g), -EINVAL);
    CHECK_EQ(weft_gen_new(count_up, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_gen_next(NULL, &v), -EINVAL);
    CHECK_EQ(weft_gen_close(NULL), -EINVAL);
    counter c = {.n = 1};
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    CHECK_EQ(weft_gen_next(g, NULL), -EINVAL);
    CHECK(!c.started);
    CHECK_EQ(weft_gen_close(g), 0);

    /* A producer's own generator is busy while it runs; its children are
     * not producers. */
    self_use u = {0};
    REQUIRE(weft_gen_new(uses_itself, &u, &u.g) == 0);
    CHECK_EQ(weft_gen_next(u.g, &v), 1);
    CHECK_EQ(P2I(v), 5);
    CHECK_EQ(u.next_rc, -EBUSY);
    CHECK_EQ(u.close_rc, -EBUSY);
    CHECK_EQ(u.child_rc, -EINVAL);
    CHECK_EQ(weft_gen_next(u.g, &v), 0);
    CHECK_EQ(weft_gen_close(u.g), 0);

    /* From another thread's loop: -EPERM, and nothing happens. */
    counter fc = {.n = 2};
    foreign f = {.next_rc = 1};
    REQUIRE(weft_gen_new(count_up, &fc, &f.g) == 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, foreign_thread, &f) == 0);
    pthread_join(th, NULL);
    CHECK_EQ(f.next_rc, -EPERM);
    CHECK_EQ(f.close_rc, -EPERM);
    CHECK_EQ(f.yield_rc, -EINVAL);
    CHECK_EQ(f.new_rc, 0);
    CHECK(!fc.started);
    CHECK_EQ(weft_gen_next(f.g, &v), 1);
    CHECK_EQ(P2I(v), 1);
    CHECK_EQ(weft_gen_close(f.g), 0);
    return NULL;
}

static void check_outside_task(void *arg)
{
    (void)arg;
    weft_gen *g = NULL;
    CHECK_EQ(weft_gen_yield(NULL), -EPERM);
    CHECK_EQ(weft_gen_new(count_up, NULL, &g), -EPERM);
    CHECK(g == NULL);
}

/* ---- WEFT_GEN_FOREACH ---- */

static void *case_foreach(void *arg)
{
    (void)arg;
    counter c = {.n = 100};
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    int rc = 99;
    long sum = 0, count = 0, last = 0;
    WEFT_GEN_FOREACH(g, v, rc)
    {
        CHECK_EQ(P2I(v), last + 1);
        last = P2I(v);
        sum += P2I(v);
        count++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(count, 100);
    CHECK_EQ(sum, 5050);
    CHECK(c.cleaned);
    CHECK_EQ(weft_gen_close(g), 0);

    /* continue skips one item; the loop goes on. */
    counter d = {.n = 6};
    REQUIRE(weft_gen_new(count_up, &d, &g) == 0);
    sum = 0;
    WEFT_GEN_FOREACH(g, v, rc)
    {
        if (P2I(v) % 2)
            continue;
        sum += P2I(v);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(sum, 2 + 4 + 6);
    CHECK_EQ(weft_gen_close(g), 0);
    return NULL;
}

/* ---- consumers in several tasks, one after the other ---- */

typedef struct relay {
    weft_gen *g;
    long got[3];
    int rc;
} relay;

static void *create_gen(void *arg)
{
    counter *c = arg;
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, c, &g) == 0);
    return g; /* this task ends; the generator lives on */
}

static void *take_three(void *arg)
{
    relay *r = arg;
    void *v;
    for (int i = 0; i < 3; i++) {
        r->rc = weft_gen_next(r->g, &v);
        if (r->rc != 1)
            break;
        r->got[i] = P2I(v);
    }
    return NULL;
}

static void *close_gen(void *arg)
{
    return I2P(weft_gen_close(arg));
}

static void *case_other_tasks(void *arg)
{
    (void)arg;
    counter c = {.n = 20, .delay = 0.001};
    weft_task *t;
    void *r = NULL;
    REQUIRE(weft_spawn(create_gen, &c, &t) == 0);
    REQUIRE(weft_await(t, &r) == 0);
    weft_gen *g = r;
    for (int k = 0; k < 3; k++) {
        relay rl = {.g = g};
        REQUIRE(weft_spawn(take_three, &rl, &t) == 0);
        CHECK_EQ(weft_await(t, NULL), 0);
        CHECK_EQ(rl.rc, 1);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(rl.got[i], 3 * k + i + 1);
    }
    void *v;
    CHECK_EQ(weft_gen_next(g, &v), 1); /* and the main task too */
    CHECK_EQ(P2I(v), 10);
    REQUIRE(weft_spawn(close_gen, g, &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(P2I(r), 0);
    CHECK_EQ(c.yield_rc, -ECANCELED);
    CHECK(c.cleaned);
    CHECK_EQ(c.produced, 10);
    return NULL;
}

/* ---- nested generators ---- */

typedef struct nest {
    counter inner;
    int yield_rc;
    int next_rc;
    int close_rc;
    bool cleaned;
} nest;

/* Yields ten times each value of an inner generator. */
static void *times_ten(void *arg)
{
    nest *n = arg;
    weft_gen *in;
    REQUIRE(weft_gen_new(count_up, &n->inner, &in) == 0);
    void *v;
    while ((n->next_rc = weft_gen_next(in, &v)) > 0) {
        if ((n->yield_rc = weft_gen_yield(I2P(P2I(v) * 10))) != 0)
            break;
    }
    n->close_rc = weft_gen_close(in);
    n->cleaned = true;
    return NULL;
}

typedef struct nest_consumer {
    weft_gen *g;
    int rc;
} nest_consumer;

static void *consume_nested(void *arg)
{
    nest_consumer *nc = arg;
    void *v;
    nc->rc = weft_gen_next(nc->g, &v);
    return NULL;
}

static void *case_nested(void *arg)
{
    (void)arg;
    /* To the end. */
    nest n = {.inner = {.n = 5}};
    weft_gen *g;
    REQUIRE(weft_gen_new(times_ten, &n, &g) == 0);
    int rc;
    long want = 10;
    WEFT_GEN_FOREACH(g, v, rc)
    {
        CHECK_EQ(P2I(v), want);
        want += 10;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(want, 60);
    CHECK_EQ(n.next_rc, 0);
    CHECK_EQ(n.close_rc, 0);
    CHECK(n.cleaned);
    CHECK(n.inner.cleaned);
    CHECK_EQ(weft_gen_close(g), 0);

    /* Closed early: the outer producer's cleanup closes the inner one. */
    long before = live_allocs();
    nest m = {.inner = {.n = 5}};
    REQUIRE(weft_gen_new(times_ten, &m, &g) == 0);
    void *v;
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(P2I(v), 20);
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK_EQ(m.yield_rc, -ECANCELED);
    CHECK_EQ(m.close_rc, 0);
    CHECK(m.cleaned);
    CHECK_EQ(m.inner.yield_rc, -ECANCELED);
    CHECK(m.inner.cleaned);
    CHECK_EQ(m.inner.produced, 2);
    CHECK_EQ(live_allocs(), before);

    /* A consumer cancelled while the inner producer sleeps: the
     * cancellation goes down both generators. */
    nest k = {.inner = {.n = 5, .delay = 3600}};
    REQUIRE(weft_gen_new(times_ten, &k, &g) == 0);
    nest_consumer nc = {.g = g, .rc = 1};
    weft_task *t;
    REQUIRE(weft_spawn(consume_nested, &nc, &t) == 0);
    CHECK_EQ(weft_sleep(0.005), 0);
    CHECK(k.inner.started);
    CHECK_EQ(weft_task_cancel(t), 0);
    CHECK_EQ(weft_await(t, NULL), -ECANCELED);
    CHECK_EQ(nc.rc, -ECANCELED);
    CHECK_EQ(k.inner.yield_rc, -ECANCELED); /* its sleep */
    CHECK(k.inner.cleaned);
    CHECK_EQ(k.next_rc, -ECANCELED);
    CHECK_EQ(k.close_rc, 0);
    CHECK(k.cleaned);
    CHECK_EQ(weft_gen_close(g), 0);
    return NULL;
}

/* ---- many items ---- */

static void *count_to(void *arg)
{
    long n = P2I(arg);
    for (long i = 1; i <= n; i++)
        if (weft_gen_yield(I2P(i)))
            break;
    return NULL;
}

static void *case_many(void *arg)
{
    (void)arg;
    long n = check_scaled(1000000);
    weft_gen *g;
    REQUIRE(weft_gen_new(count_to, I2P(n), &g) == 0);
    long long sum = 0;
    long count = 0;
    int rc;
    WEFT_GEN_FOREACH(g, v, rc)
    {
        sum += P2I(v);
        count++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(count, n);
    CHECK(sum == (long long)n * (n + 1) / 2);
    CHECK_EQ(weft_gen_close(g), 0);
    return NULL;
}

/* ---- a producer that sleeps, awaits a task and runs blocking work ---- */

static void *plus_one(void *arg)
{
    weft_sleep(0.001);
    return I2P(P2I(arg) + 1);
}

static void *blocking_square(void *arg)
{
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    return I2P(P2I(arg) * P2I(arg));
}

static void *blocking_fails(void *arg)
{
    (void)arg;
    return weft_fail(-EPIPE, "pipe closed");
}

static void *busy_producer(void *arg)
{
    int *steps = arg;
    CHECK_EQ(weft_sleep(0.002), 0);
    CHECK_EQ(weft_gen_yield(I2P(1)), 0);
    (*steps)++;

    weft_task *t;
    void *r = NULL;
    REQUIRE(weft_spawn(plus_one, I2P(1), &t) == 0);
    CHECK_EQ(weft_await(t, &r), 0);
    CHECK_EQ(weft_gen_yield(r), 0); /* 2 */
    (*steps)++;

    r = NULL;
    CHECK_EQ(weft_to_thread(blocking_square, I2P(3), &r), 0);
    CHECK_EQ(weft_gen_yield(r), 0); /* 9 */
    (*steps)++;

    weft_task *ts[2];
    REQUIRE(weft_spawn(plus_one, I2P(10), &ts[0]) == 0);
    REQUIRE(weft_spawn_blocking(blocking_square, I2P(4), &ts[1]) == 0);
    void *res[2] = {0};
    CHECK_EQ(weft_gather(ts, 2, res, NULL, 0), 0);
    CHECK_EQ(weft_gen_yield(I2P(P2I(res[0]) + P2I(res[1]))), 0); /* 27 */
    (*steps)++;

    CHECK_EQ(weft_to_thread(blocking_fails, NULL, NULL), -EPIPE);
    CHECK_EQ(weft_sleep(0.001), 0);
    CHECK_EQ(weft_gen_yield(I2P(100)), 0);
    (*steps)++;
    return NULL;
}

static void *ticker(void *arg)
{
    long *ticks = arg;
    while (weft_sleep(0.001) == 0)
        (*ticks)++;
    return NULL;
}

static void *case_busy_producer(void *arg)
{
    (void)arg;
    long ticks = 0;
    weft_task *tick;
    REQUIRE(weft_spawn(ticker, &ticks, &tick) == 0);
    int steps = 0;
    weft_gen *g;
    REQUIRE(weft_gen_new(busy_producer, &steps, &g) == 0);
    static const long want[] = {1, 2, 9, 27, 100};
    int rc, i = 0;
    WEFT_GEN_FOREACH(g, v, rc)
    {
        REQUIRE(i < 5);
        CHECK_EQ(P2I(v), want[i]);
        CHECK_EQ(steps, i); /* no read-ahead here either */
        i++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(i, 5);
    CHECK_EQ(steps, 5);
    CHECK_EQ(weft_gen_close(g), 0);
    /* Other tasks ran while the producer slept and waited. */
    CHECK(ticks > 0);
    weft_task_cancel(tick);
    CHECK_EQ(weft_await(tick, NULL), -ECANCELED);
    return NULL;
}

/* ---- yields that no consumer can receive ----
 * weft_gen_yield returns -ECANCELED while the generator is being closed,
 * even inside a shielded scope: nobody will ever call next again, so the
 * yield must neither wait for one (close would never return) nor hand the
 * value to nobody.  Run in a child process: a crash or a deadlock here must
 * not take the other cases with it. */

typedef struct shielded {
    int first_rc;   /* the yield close interrupts */
    int cleanup_rc; /* a yield from the shielded cleanup */
    bool cleaned;
} shielded;

/* Yields inside a shielded scope. */
static void *yield_shielded(void *arg)
{
    shielded *s = arg;
    CHECK_EQ(weft_shield_begin(), 0);
    CHECK_EQ(weft_gen_yield(I2P(1)), 0);
    s->first_rc = weft_gen_yield(I2P(2));
    CHECK_EQ(weft_shield_end(), 0);
    s->cleaned = true;
    return NULL;
}

/* Cancelled in its yield, then yields again from a shielded cleanup. */
static void *yield_in_cleanup(void *arg)
{
    shielded *s = arg;
    s->first_rc = weft_gen_yield(I2P(1));
    CHECK_EQ(weft_shield_begin(), 0);
    s->cleanup_rc = weft_gen_yield(I2P(2));
    CHECK_EQ(weft_shield_end(), 0);
    s->cleaned = true;
    return NULL;
}

/* Which: 0 a shielded yield interrupted by close; 1 a yield from a
 * shielded cleanup after close; 2 the same at loop close. */
static void *case_yield_after_close(void *arg)
{
    static shielded s;
    int which = (int)P2I(arg);
    s = (shielded){.first_rc = 1, .cleanup_rc = which ? 1 : 0};
    void *v;
    weft_gen *g;
    REQUIRE(weft_gen_new(which ? yield_in_cleanup : yield_shielded, &s, &g) ==
            0);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    if (which == 0)
        CHECK_EQ(weft_gen_next(g, &v), 1);
    if (which == 2)
        return &s; /* abandoned */
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK(s.cleaned);
    return &s;
}

static void yield_after_close_child(void *arg)
{
    void *r = NULL;
    CHECK_EQ(weft_run(case_yield_after_close, arg, &r), 0);
    shielded *s = r;
    REQUIRE(s != NULL);
    CHECK_EQ(s->first_rc, -ECANCELED);
    CHECK_EQ(s->cleanup_rc, P2I(arg) ? -ECANCELED : 0);
    CHECK(s->cleaned);
    CHECK_EQ(live_allocs(), 0);
    fflush(stderr);
    _exit(check_failures ? 1 : 0);
}

static void check_yield_after_close(void *arg)
{
    (void)arg;
    static const char *what[] = {
        "shielded yield interrupted by close",
        "yield from a shielded cleanup after close",
        "yield from a shielded cleanup at loop close",
    };
    for (int which = 0; which < 3; which++) {
        char *err = NULL;
        int status = check_fork(yield_after_close_child, I2P(which), &err);
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok) {
            fprintf(stderr, "case %s: child ", what[which]);
            if (WIFSIGNALED(status))
                fprintf(stderr, "killed by signal %d", WTERMSIG(status));
            else
                fprintf(stderr, "exited with %d", WEXITSTATUS(status));
            fprintf(stderr, "; its stderr:\n%s", err);
        }
        CHECK(ok);
        free(err);
    }
}

/* ---- regressions: parked producers, deadlines moved during next ----
 * Each runs in a child process under an alarm: a hang, a crash or a memory
 * error fails that case only, and a report on stderr (the loop's
 * "abandoned" list, say) fails it too. */

#define REGRESSION_ALARM 10

/* A producer cancelled through its own handle while parked in a yield is
 * not woken by that: the consumer's next resumes it, that yield returns 0
 * and its next suspending call fails. */
typedef struct parked {
    weft_task *self;
    int entered; /* the body started (once) */
    int yields;  /* yields begun */
    int rc[3];   /* what each yield returned */
    int ended;   /* the body returned (once) */
} parked;

static void *yield_until_refused(void *arg)
{
    parked *p = arg;
    p->entered++;
    p->self = weft_current();
    for (int i = 0; i < 3; i++) {
        p->yields++;
        p->rc[i] = weft_gen_yield(I2P(i + 1));
        if (p->rc[i] != 0)
            break;
    }
    p->ended++;
    return NULL;
}

/* arg 0: next right after the cancel; 1: the loop runs other tasks (and
 * timers) in between. */
static void *case_parked_cancelled(void *arg)
{
    parked p = {.rc = {1, 1, 1}};
    weft_gen *g;
    void *v = NULL;
    REQUIRE(weft_gen_new(yield_until_refused, &p, &g) == 0);
    CHECK_EQ(weft_gen_next(g, &v), 1);
    CHECK_EQ(P2I(v), 1);
    REQUIRE(p.self != NULL);
    CHECK_EQ(weft_task_cancel(p.self), 0);
    if (P2I(arg)) {
        for (int i = 0; i < 10; i++)
            CHECK_EQ(weft_yield(), 0);
        CHECK_EQ(weft_sleep(0.002), 0);
        /* Still parked: only a next (or a close) resumes it. */
        CHECK_EQ(p.yields, 1);
        CHECK_EQ(p.ended, 0);
    }
    v = I2P(77);
    CHECK_EQ(weft_gen_next(g, &v), -ECANCELED);
    CHECK_EQ(P2I(v), 77);
    CHECK_EQ(p.entered, 1);
    CHECK_EQ(p.rc[0], 0);          /* resumed by the next */
    CHECK_EQ(p.rc[1], -ECANCELED); /* its next yield fails */
    CHECK_EQ(p.yields, 2);
    CHECK_EQ(p.ended, 1);
    CHECK_EQ(weft_gen_next(g, &v), 0); /* finished for everyone */
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK_EQ(p.entered, 1);
    CHECK_EQ(p.ended, 1);
    CHECK_EQ(weft_cancelled(), 0); /* the consumer was not cancelled */
    return NULL;
}

/* g1's producer yields inside a cancel scope of its own, which expires
 * while it is parked and the consumer waits in next(g2); g2's value, not
 * g1's, must come back, and nothing of g1 may be freed while it runs. */
typedef struct merge {
    long last;    /* the last value g1's producer yielded */
    int yield_rc; /* its first failed yield */
    bool ended;
    int sleep_rc; /* g2's producer's sleep */
} merge;

static void *yield_in_own_scope(void *arg)
{
    merge *m = arg;
    weft_scope *s;
    REQUIRE(weft_scope_open(unit(), &s) == 0);
    for (long i = 1;; i++) {
        int rc = weft_gen_yield(I2P(i));
        if (rc) {
            m->yield_rc = rc;
            break;
        }
        m->last = i;
    }
    weft_scope_close(s);
    m->ended = true;
    return NULL;
}

static void *sleep_then_100(void *arg)
{
    merge *m = arg;
    m->sleep_rc = weft_sleep(4 * unit());
    if (m->sleep_rc == 0)
        weft_gen_yield(I2P(100));
    return NULL;
}

static void *case_parked_scope(void *arg)
{
    (void)arg;
    merge m = {0};
    weft_gen *g1, *g2;
    void *v = NULL;
    REQUIRE(weft_gen_new(yield_in_own_scope, &m, &g1) == 0);
    REQUIRE(weft_gen_new(sleep_then_100, &m, &g2) == 0);
    CHECK_EQ(weft_gen_next(g1, &v), 1);
    CHECK_EQ(P2I(v), 1);
    double t0 = weft_now();
    v = NULL;
    CHECK_EQ(weft_gen_next(g2, &v), 1);
    CHECK_EQ(P2I(v), 100);
    CHECK_EQ(m.sleep_rc, 0);
    CHECK(weft_now() - t0 >= 4 * unit() - 1e-4);
    /* A parked producer is not woken by its own scope (weft/gen.h). */
    CHECK(!m.ended);
    CHECK_EQ(weft_gen_close(g2), 0);
    CHECK_EQ(weft_gen_close(g1), 0);
    CHECK(m.ended);
    CHECK_EQ(m.yield_rc, -ECANCELED);
    CHECK_EQ(m.last, 0); /* it never went past its first value */
    return NULL;
}

/* A consumer waits in next inside a scope without a deadline; another
 * task gives the scope a deadline meanwhile (weft_scope_reschedule).  arg
 * 0: a far deadline; the next returns the value.  arg 1: the consumer
 * awaited a task first (no call deadline left behind) and the deadline
 * falls after the value arrives, during a later sleep: that next returns
 * the value, the scope closes unexpired, and the sleep lasts its full
 * time (no stray wake-up from the moved deadline). */
typedef struct resched {
    weft_gen *g;
    weft_scope *scope;
    int variant;
    bool in_next, slept;
    int next_rc, close_rc, sleep_rc, resched_rc;
    void *v;
    double next_took, sleep_took;
} resched;

static void *sleep_unit_then_1(void *arg)
{
    (void)arg;
    if (weft_sleep(unit()) == 0)
        weft_gen_yield(I2P(1));
    return NULL;
}

static void *resched_consumer(void *arg)
{
    resched *r = arg;
    if (r->variant) {
        weft_task *t;
        REQUIRE(weft_spawn(nothing, NULL, &t) == 0);
        CHECK_EQ(weft_await(t, NULL), 0);
    }
    REQUIRE(weft_scope_open(INFINITY, &r->scope) == 0);
    r->in_next = true;
    double t0 = weft_now();
    r->next_rc = weft_gen_next(r->g, &r->v);
    r->next_took = weft_now() - t0;
    r->in_next = false;
    r->close_rc = weft_scope_close(r->scope);
    r->scope = NULL;
    if (r->variant) {
        t0 = weft_now();
        r->sleep_rc = weft_sleep(12 * unit());
        r->sleep_took = weft_now() - t0;
        r->slept = true;
    }
    return NULL;
}

static void *rescheduler(void *arg)
{
    resched *r = arg;
    for (int i = 0; !r->in_next; i++) {
        REQUIRE(i < 100000);
        weft_yield();
    }
    if (r->variant)
        CHECK_EQ(weft_sleep(unit() / 8), 0);
    else
        weft_yield();
    REQUIRE(r->in_next); /* still inside next */
    double at = r->variant ? 2.5 * unit() : 10.0;
    r->resched_rc = weft_scope_reschedule(r->scope, weft_now() + at);
    return NULL;
}

static void *case_deadline_moved(void *arg)
{
    resched r = {.variant = (int)P2I(arg),
                 .next_rc = 99,
                 .close_rc = 99,
                 .sleep_rc = 99,
                 .resched_rc = 99};
    REQUIRE(weft_gen_new(sleep_unit_then_1, NULL, &r.g) == 0);
    weft_task *c, *o;
    REQUIRE(weft_spawn(resched_consumer, &r, &c) == 0);
    REQUIRE(weft_spawn(rescheduler, &r, &o) == 0);
    CHECK_EQ(weft_await(c, NULL), 0);
    CHECK_EQ(weft_await(o, NULL), 0);
    CHECK_EQ(r.resched_rc, 0);
    CHECK_EQ(r.next_rc, 1);
    CHECK_EQ(P2I(r.v), 1);
    CHECK(r.next_took >= unit() - 1e-4); /* not woken before the value */
    CHECK_EQ(r.close_rc, 0);             /* the scope never expired */
    if (r.variant) {
        CHECK(r.slept);
        CHECK_EQ(r.sleep_rc, 0);
        CHECK(r.sleep_took >= 12 * unit() - 1e-4);
        if (r.sleep_took < 12 * unit() - 1e-4)
            fprintf(stderr, "sleep(%.3f) lasted %.4f s\n", 12 * unit(),
                    r.sleep_took);
    }
    void *v;
    CHECK_EQ(weft_gen_next(r.g, &v), 0);
    CHECK_EQ(weft_gen_close(r.g), 0);
    return NULL;
}

typedef struct regression {
    const char *name;
    weft_fn fn;
    void *arg;
} regression;

/* stdio's stderr in such a child: passed on to fd 2 up to 8 KiB, the
 * rest dropped - a loop that reports in circles must not flood the
 * parent until the alarm. */
static size_t stderr_left = 8 * 1024;

static void write_all(const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(2, buf, n);
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

static ssize_t capped_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    if (stderr_left == 0)
        return (ssize_t)n;
    size_t k = n < stderr_left ? n : stderr_left;
    stderr_left -= k;
    write_all(buf, k);
    if (stderr_left == 0) {
        static const char cut[] = "\n[... the rest of stderr dropped]\n";
        write_all(cut, sizeof cut - 1);
    }
    return (ssize_t)n;
}

static void regression_child(void *arg)
{
    const regression *r = arg;
    FILE *f =
        fopencookie(NULL, "w", (cookie_io_functions_t){.write = capped_write});
    REQUIRE(f != NULL);
    setvbuf(f, NULL, _IONBF, 0);
    stderr = f;
    alarm(REGRESSION_ALARM);
    check_failures = 0;
    check_case_name = r->name;
    check_run_clean(r->fn, r->arg);
    fflush(stderr);
    _exit(check_failures ? 1 : 0);
}

/* Runs a case in a child process: it must exit 0 with nothing on
 * stderr. */
static void run_regression(const char *name, weft_fn fn, void *arg)
{
    regression r = {name, fn, arg};
    char *err = NULL;
    int status = check_fork(regression_child, &r, &err);
    bool ok =
        WIFEXITED(status) && WEXITSTATUS(status) == 0 && err && err[0] == '\0';
    if (!ok) {
        fprintf(stderr, "case %s: child ", name);
        if (WIFSIGNALED(status))
            fprintf(stderr, "killed by signal %d%s", WTERMSIG(status),
                    WTERMSIG(status) == SIGALRM ? " (hung)" : "");
        else
            fprintf(stderr, "exited with %d", WEXITSTATUS(status));
        fprintf(stderr, "; its stderr:\n%s", err ? err : "");
    }
    CHECK(ok);
    free(err);
}

/* Each runs in a child of its own (see run_regression). */
static void regression_0(void *arg)
{
    (void)arg;
    run_regression("parked producer cancelled", case_parked_cancelled, I2P(0));
}

static void regression_1(void *arg)
{
    (void)arg;
    run_regression("parked producer cancelled, loop turns",
                   case_parked_cancelled, I2P(1));
}

static void regression_2(void *arg)
{
    (void)arg;
    run_regression("scope of a parked producer", case_parked_scope, NULL);
}

static void regression_3(void *arg)
{
    (void)arg;
    run_regression("deadline moved in next", case_deadline_moved, I2P(0));
}

static void regression_4(void *arg)
{
    (void)arg;
    run_regression("deadline moved in next, then sleep", case_deadline_moved,
                   I2P(1));
}

/* A case run as the main task; it leaves nothing behind. */
#define GEN_CASE(name, fn)                                                     \
    {                                                                          \
        (name), (fn), NULL, NULL, 0, CHECK_NO_LEAK, 0                          \
    }

/* Regression: the first next of a consumer inside a scope with a deadline
 * (the slow path) hands off to the producer it has just started, which
 * nothing else would ever run (it was a deadlock). */
static void *case_first_next_in_scope(void *arg)
{
    (void)arg;
    weft_scope *s;
    REQUIRE(weft_scope_open(30.0, &s) == 0);
    counter c = {.n = 3};
    weft_gen *g;
    REQUIRE(weft_gen_new(count_up, &c, &g) == 0);
    void *v;
    long sum = 0;
    int rc;
    while ((rc = weft_gen_next(g, &v)) == 1)
        sum += P2I(v);
    CHECK_EQ(rc, 0);
    CHECK_EQ(sum, 6);
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK_EQ(weft_scope_close(s), 0);
    return NULL;
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("outside_task", check_outside_task, NULL),
    GEN_CASE("order", case_order),
    GEN_CASE("first_next_in_a_scope", case_first_next_in_scope),
    GEN_CASE("no_read_ahead", case_no_read_ahead),
    GEN_CASE("timing", case_timing),
    GEN_CASE("exhausted", case_exhausted),
    GEN_CASE("error", case_error),
    GEN_CASE("close_early", case_close_early),
    GEN_CASE("close_unstarted_exhausted", case_close_other),
    CHECK_PLAIN("abandoned", check_abandoned, NULL),
    GEN_CASE("busy", case_busy),
    CHECK_PLAIN("cancelled_consumer", check_cancelled_consumer, NULL),
    GEN_CASE("producer_cancelled", case_producer_cancelled),
    GEN_CASE("misuse", case_misuse),
    GEN_CASE("foreach", case_foreach),
    GEN_CASE("other_tasks", case_other_tasks),
    GEN_CASE("nested", case_nested),
    GEN_CASE("many", case_many),
    GEN_CASE("busy_producer", case_busy_producer),
    CHECK_PLAIN("yield_after_close", check_yield_after_close, NULL),
    CHECK_PLAIN("parked_producer_cancelled", regression_0, NULL),
    CHECK_PLAIN("parked_producer_cancelled_loop_turns", regression_1, NULL),
    CHECK_PLAIN("scope_of_a_parked_producer", regression_2, NULL),
    CHECK_PLAIN("deadline_moved_in_next", regression_3, NULL),
    CHECK_PLAIN("deadline_moved_in_next_then_sleep", regression_4, NULL),
};

int main(void)
{
    check_allow_maps(16); /* pool threads: cached stacks and arenas */
    return CHECK_MAIN(cases);
}

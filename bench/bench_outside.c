/*
 * bench_outside.c - the loop from outside: a plain thread's submit-and-wait
 * round trip, a call from one loop to another, and a million submissions
 * from one thread - each beside the floor of the same hand-off in plain C.
 *
 * Floors (two threads on two CPUs, no runtime):
 * - sleeping: the worker blocks in epoll_wait on an eventfd (as a loop
 *   does); the caller writes the eventfd, then waits on a condition
 *   variable that the worker signals - the wake-ups weft_submit +
 *   weft_future_join use when the loop sleeps;
 * - loop to loop, sleeping: both threads block in epoll_wait on their own
 *   eventfd and wake each other - the wake-ups of weft_call_on between
 *   two idle loops;
 * - spinning: both threads spin on one atomic (ping-pong); weft's side:
 *   back-to-back trips to a loop kept awake by a task that yields (it
 *   takes in submissions between batches of up to 256 switches), the
 *   plain thread spinning in weft_future_join.
 * Trips meant to find the other side asleep are 200 us apart (beyond
 * every spin).
 * Target: within 1.5x of the floor for the same wake-up mechanism; a
 * million weft_call_soon from one thread under 200 ns each (from the
 * first submission until the last task has run).
 *
 * Runs unpinned (two threads).  Usage: bench_outside [scale]
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define TRIPS 5000L
#define PAUSE_US 200 /* between trips that must find the other side asleep */
#define SUBMITS 1000000L
#define REPS 5

static long n_trips, n_submits;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_us(double *lat, long n)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    return lat[n / 2];
}

static void *trivial(void *arg)
{
    return arg;
}

/* ---- floors ---- */

typedef struct floor_state {
    int efd[2], ep[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done; /* under mu */
    atomic_long ball;
    long n;
} floor_state;

static void wait_efd(int ep, int efd)
{
    struct epoll_event ev;
    while (epoll_wait(ep, &ev, 1, -1) != 1) {
    }
    uint64_t v;
    if (read(efd, &v, sizeof v) < 0) {
    }
}

static void poke(int efd)
{
    uint64_t one = 1;
    if (write(efd, &one, sizeof one) < 0) {
    }
}

static void *floor_cv_worker(void *arg)
{
    floor_state *s = arg;
    for (long i = 0; i < s->n; i++) {
        wait_efd(s->ep[0], s->efd[0]);
        pthread_mutex_lock(&s->mu);
        s->done = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static void *floor_efd_worker(void *arg)
{
    floor_state *s = arg;
    for (long i = 0; i < s->n; i++) {
        wait_efd(s->ep[0], s->efd[0]);
        poke(s->efd[1]);
    }
    return NULL;
}

static void *floor_spin_worker(void *arg)
{
    floor_state *s = arg;
    for (long i = 0; i < s->n; i++) {
        while (atomic_load_explicit(&s->ball, memory_order_acquire) != 2 * i + 1) {
        }
        atomic_store_explicit(&s->ball, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static int floor_setup(floor_state *s)
{
    *s = (floor_state){.n = n_trips};
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (int i = 0; i < 2; i++) {
        s->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        s->ep[i] = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        if (s->efd[i] < 0 || s->ep[i] < 0 ||
            epoll_ctl(s->ep[i], EPOLL_CTL_ADD, s->efd[i], &ev))
            return bench_fail("eventfd/epoll: %s", strerror(errno));
    }
    return 0;
}

/* which: 0 sleeping (eventfd there, condvar back), 1 eventfd both ways,
 * 2 spinning. */
static int run_floor(void *arg, double *out)
{
    int which = (int)(intptr_t)arg;
    floor_state s;
    if (floor_setup(&s))
        return 1;
    double *lat = malloc((size_t)n_trips * sizeof *lat);
    pthread_t t;
    void *(*worker)(void *) = which == 0   ? floor_cv_worker
                              : which == 1 ? floor_efd_worker
                                           : floor_spin_worker;
    if (!lat || pthread_create(&t, NULL, worker, &s))
        return bench_fail("no memory or thread");
    for (long i = 0; i < n_trips; i++) {
        uint64_t t0 = bench_now_ns();
        if (which == 0) {
            poke(s.efd[0]);
            pthread_mutex_lock(&s.mu);
            while (!s.done)
                pthread_cond_wait(&s.cv, &s.mu);
            s.done = 0;
            pthread_mutex_unlock(&s.mu);
        } else if (which == 1) {
            poke(s.efd[0]);
            wait_efd(s.ep[1], s.efd[1]);
        } else {
            atomic_store_explicit(&s.ball, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&s.ball, memory_order_acquire) != 2 * i + 2) {
            }
        }
        lat[i] = (double)(bench_now_ns() - t0) / 1000.0;
        if (which != 2)
            usleep(PAUSE_US); /* let the worker fall asleep again */
    }
    pthread_join(t, NULL);
    out[0] = median_us(lat, n_trips);
    free(lat);
    return 0;
}

/* ---- weft: a plain thread submits and waits ---- */

static weft_event trips_over = WEFT_EVENT_INIT;
static int trips_over_flag; /* loop thread only */

static void *end_trips(void *arg)
{
    (void)arg;
    weft_event_set(&trips_over);
    trips_over_flag = 1;
    return NULL;
}

typedef struct trip_args {
    weft_loop *loop;
    double *lat;
    int sleeping;
    int rc;
} trip_args;

static void *trips_thread(void *arg)
{
    trip_args *a = arg;
    for (long i = 0; i < n_trips; i++) {
        weft_future *f;
        void *r = NULL;
        uint64_t t0 = bench_now_ns();
        int rc = weft_submit(a->loop, trivial, (void *)(intptr_t)i, &f);
        if (rc == 0)
            rc = weft_future_join(f, &r);
        a->lat[i] = (double)(bench_now_ns() - t0) / 1000.0;
        if (rc || r != (void *)(intptr_t)i) {
            a->rc = rc ? rc : -EPROTO;
            break;
        }
        if (a->sleeping)
            usleep(PAUSE_US); /* the loop falls asleep again */
    }
    weft_call_soon(a->loop, end_trips, NULL, NULL);
    return NULL;
}

static int sleeping_mode;

static void *trips_main(void *arg)
{
    double *out = arg;
    trip_args a = {.sleeping = sleeping_mode};
    a.lat = malloc((size_t)n_trips * sizeof *a.lat);
    if (!a.lat || weft_loop_current(&a.loop))
        return weft_fail(-ENOMEM, "setup");
    pthread_t t;
    if (pthread_create(&t, NULL, trips_thread, &a))
        return weft_fail(-EAGAIN, "thread");
    /* Sleeping: the loop idles in its poller between trips.  Awake: this
     * task keeps it busy. */
    trips_over_flag = 0;
    if (sleeping_mode)
        weft_event_wait(&trips_over);
    else
        while (!trips_over_flag)
            weft_yield();
    weft_event_clear(&trips_over);
    pthread_join(t, NULL);
    weft_loop_release(a.loop);
    if (a.rc)
        return weft_fail(a.rc, "submit/join: %s", weft_strerror(a.rc));
    out[0] = median_us(a.lat, n_trips);
    free(a.lat);
    return NULL;
}

static int run_trips(void *arg, double *out)
{
    sleeping_mode = (int)(intptr_t)arg;
    return bench_weft_run(trips_main, out);
}

/* ---- weft: loop A's task calls loop B ---- */

static weft_loop *loop_b;
static weft_event b_stop = WEFT_EVENT_INIT;
static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pub_cv = PTHREAD_COND_INITIALIZER;

static void *b_main(void *arg)
{
    (void)arg;
    weft_loop *h;
    if (weft_loop_current(&h))
        return weft_fail(-ENOMEM, "handle");
    pthread_mutex_lock(&pub_mu);
    loop_b = h;
    pthread_cond_broadcast(&pub_cv);
    pthread_mutex_unlock(&pub_mu);
    weft_event_wait(&b_stop);
    return NULL;
}

static void *b_thread(void *arg)
{
    (void)arg;
    weft_run(b_main, NULL, NULL);
    return NULL;
}

static void *stop_b(void *arg)
{
    (void)arg;
    weft_event_set(&b_stop);
    return NULL;
}

static void *calls_main(void *arg)
{
    double *out = arg;
    double *lat = malloc((size_t)n_trips * sizeof *lat);
    if (!lat)
        return weft_fail(-ENOMEM, "no memory");
    int rc = 0;
    for (long i = 0; i < n_trips && !rc; i++) {
        void *r = NULL;
        uint64_t t0 = bench_now_ns();
        rc = weft_call_on(loop_b, trivial, (void *)(intptr_t)i, &r);
        lat[i] = (double)(bench_now_ns() - t0) / 1000.0;
        if (!rc && r != (void *)(intptr_t)i)
            rc = -EPROTO;
        usleep(PAUSE_US); /* both loops fall asleep again */
    }
    weft_call_soon(loop_b, stop_b, NULL, NULL);
    if (rc)
        return weft_fail(rc, "call_on: %s", weft_strerror(rc));
    out[0] = median_us(lat, n_trips);
    free(lat);
    return NULL;
}

static int run_calls(void *arg, double *out)
{
    (void)arg;
    pthread_t t;
    if (pthread_create(&t, NULL, b_thread, NULL))
        return bench_fail("thread");
    pthread_mutex_lock(&pub_mu);
    while (!loop_b)
        pthread_cond_wait(&pub_cv, &pub_mu);
    pthread_mutex_unlock(&pub_mu);
    int rc = bench_weft_run(calls_main, out);
    pthread_join(t, NULL);
    weft_loop_release(loop_b);
    return rc;
}

/* ---- weft: a million submissions from one thread ---- */

static long ran;
static weft_event all_ran = WEFT_EVENT_INIT;

static void *count_one(void *arg)
{
    (void)arg;
    if (++ran == n_submits)
        weft_event_set(&all_ran);
    return NULL;
}

typedef struct bulk_args {
    weft_loop *loop;
    uint64_t t0, t_submitted;
    int rc;
} bulk_args;

static void *bulk_thread(void *arg)
{
    bulk_args *a = arg;
    a->t0 = bench_now_ns();
    for (long i = 0; i < n_submits; i++)
        if ((a->rc = weft_call_soon(a->loop, count_one, NULL, NULL)))
            break;
    a->t_submitted = bench_now_ns();
    weft_loop_release(a->loop);
    return NULL;
}

static void *bulk_main(void *arg)
{
    double *out = arg;
    bulk_args a = {0};
    if (weft_loop_current(&a.loop))
        return weft_fail(-ENOMEM, "handle");
    pthread_t t;
    if (pthread_create(&t, NULL, bulk_thread, &a))
        return weft_fail(-EAGAIN, "thread");
    int rc = weft_event_wait(&all_ran);
    uint64_t t_end = bench_now_ns();
    pthread_join(t, NULL);
    if (rc || a.rc)
        return weft_fail(rc ? rc : a.rc, "bulk: %s",
                         weft_strerror(rc ? rc : a.rc));
    out[0] = (double)(t_end - a.t0) / (double)n_submits;
    out[1] = (double)(a.t_submitted - a.t0) / (double)n_submits;
    return NULL;
}

static int run_bulk(void *arg, double *out)
{
    (void)arg;
    return bench_weft_run(bulk_main, out);
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    n_trips = bench_scaled(scale, TRIPS, 10);
    n_submits = bench_scaled(scale, SUBMITS, 10);
    bench_header();
    bench_stat fl[3], w_sleep, w_spin, w_call, bulk[2];
    for (int i = 0; i < 3; i++)
        if (bench_runs(REPS, 1, run_floor, (void *)(intptr_t)i, &fl[i]))
            return 1;
    if (bench_runs(REPS, 1, run_trips, (void *)1, &w_sleep) ||
        bench_runs(REPS, 1, run_trips, (void *)0, &w_spin) ||
        bench_runs(REPS, 1, run_calls, NULL, &w_call) ||
        bench_runs(REPS, 2, run_bulk, NULL, bulk))
        return 1;
    int judge = n_trips == TRIPS;
    bench_row("outside: submit+join, loop sleeping", w_sleep.med, 2, "us",
              "<= 1.5x floor",
              judge ? w_sleep.med <= 1.5 * fl[0].med : -1,
              "%.2fx the floor (%.2f us: eventfd + epoll there, condvar "
              "back); median of %d runs (%.2f..%.2f)",
              w_sleep.med / fl[0].med, fl[0].med, REPS, w_sleep.min,
              w_sleep.max);
    bench_row("outside: submit+join, both awake", w_spin.med, 2, "us",
              "<= 1.5x floor", judge ? w_spin.med <= 1.5 * fl[2].med : -1,
              "%.2fx the floor (%.2f us: two threads spinning on one "
              "atomic); back-to-back trips to a loop busy with a "
              "yielding task",
              w_spin.med / fl[2].med, fl[2].med);
    bench_row("outside: call_on loop to loop, both sleeping", w_call.med, 2,
              "us", "<= 1.5x floor",
              judge ? w_call.med <= 1.5 * fl[1].med : -1,
              "%.2fx the floor (%.2f us: eventfd + epoll both ways); "
              "median of %d runs (%.2f..%.2f)",
              w_call.med / fl[1].med, fl[1].med, REPS, w_call.min,
              w_call.max);
    judge = n_submits == SUBMITS;
    bench_row("outside: 1M call_soon from one thread", bulk[0].med, 0,
              "ns/task", "< 200", judge ? bulk[0].med < 200 : -1,
              "first submission to last task run; the submitting thread "
              "alone: %.0f ns/call; median of %d (%.0f..%.0f)",
              bulk[1].med, REPS, bulk[0].min, bulk[0].max);
    return 0;
}

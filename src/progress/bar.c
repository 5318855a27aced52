/*
 * bar.c - progress bar objects: counting, rate smoothing, when to redraw,
 * and the registry of open bars that the terminal writer draws.
 *
 * Counting is cheap by construction: the thread that created a bar adds to
 * a plain counter, every other thread to a relaxed atomic one; the drawn
 * count is their sum.  Nothing on that path reads the clock or locks.
 *
 * Redraws come from two places:
 * - the update itself, as tqdm's update draws: an update whose count
 *   reaches the bar's check_at takes the slow path, which reads the clock
 *   and redraws if due - so the tick is on the screen before the code that
 *   counted goes on (prints the value it just produced).  check_at is the
 *   next tenth in log mode, else `miniters` updates on, tuned as tqdm's
 *   dynamic miniters so that a check happens about once per mininterval.
 *   The hot path compares the count with check_at and nothing else.
 * - a bar created inside a loop is also redrawn by that loop: the bars are
 *   a loop service (registered with the first bar) whose tick hook redraws
 *   what is due every turn (progress not drawn yet, the clock moving while
 *   idle) and whose next_wakeup hook caps how long the loop sleeps.  These
 *   wake-ups are not wake sources for deadlock detection.
 *
 * The rate is computed exactly as tqdm computes it: a redraw for progress
 * is due mininterval after the last redraw for progress (print_ns, tqdm's
 * last_print_t; idle redraws of the clock do not count), and feeds an
 * exponential moving average of the items and seconds since that one
 * (smoothing 0.3, bias-corrected); the final line shows the average rate
 * over the whole run.
 *
 * Every open bar is in one list under `weft__bars_mu`, which also
 * serializes all terminal output (term.c).
 *
 * Callers hold handles (handle.h).  Every public call pins the bar while
 * it uses it; a close revokes the handle first (so one of two racing
 * closes wins, and later calls find it stale: -EINVAL, or nothing for an
 * update), waits until no other thread pins the bar, and only then takes
 * the lock to draw the final line and free it.  The owner - the creating
 * thread, the one whose adds are plain stores - is known by its pin
 * record.
 */
#define _GNU_SOURCE
#include "bar_internal.h"

#include "../alloc.h"
#include "../core.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SMOOTHING 0.3
#define IDLE_REDRAW_NS 1000000000ull /* the clock moves on the line */
#define LOG_IDLE_NS 10000000000ull   /* log mode without a total */

pthread_mutex_t weft__bars_mu = PTHREAD_MUTEX_INITIALIZER;
weft__bar *weft__bars;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- what to draw ---- */

static double ema_get(double last, int calls)
{
    return calls ? last / (1 - pow(1 - SMOOTHING, calls)) : last;
}

void weft__bar_meter(weft__bar *b, uint64_t now, int ncols, int ascii,
                     weft__meter *m)
{
    memset(m, 0, sizeof *m);
    m->n = (double)weft__bar_count(b);
    m->total = b->total;
    m->elapsed = (double)(now - b->start_ns) / 1e9;
    /* Closing: the average rate (tqdm drops the smoothed one there). */
    m->rate = b->closing || !b->ema_calls
                  ? NAN
                  : ema_get(b->ema_dn, b->ema_calls) /
                        ema_get(b->ema_dt, b->ema_calls);
    m->desc = b->desc;
    m->unit = b->unit;
    m->unit_scale = b->unit_scale;
    m->unit_divisor = b->unit_divisor;
    m->postfix = b->postfix;
    m->ncols = ncols;
    m->ascii = ascii;
}

/* A redraw for progress: the items and seconds since the last one feed the
 * rate (tqdm feeds its EMAs only from update's redraws, and only when both
 * moved). */
static void note_progress(weft__bar *b, uint64_t now)
{
    unsigned long long n = weft__bar_count(b);
    if (n != b->print_n && now > b->print_ns) {
        double dn = (double)(n - b->print_n);
        double dt = (double)(now - b->print_ns) / 1e9;
        b->ema_dn = SMOOTHING * dn + (1 - SMOOTHING) * b->ema_dn;
        b->ema_dt = SMOOTHING * dt + (1 - SMOOTHING) * b->ema_dt;
        b->ema_calls++;
    }
    b->print_n = n;
    b->print_ns = now;
}

/* The count at which log mode prints its next tenth: the least n with
 * n * 10 / T > log_step, T the total rounded up. */
static unsigned long long next_tenth(const weft__bar *b)
{
    unsigned long long t = (unsigned long long)ceil(b->total);
    unsigned long long k = b->log_step + 1, q = t / 10, r = t % 10;
    if (q && k > ULLONG_MAX / q)
        return ULLONG_MAX;
    unsigned long long at = k * q, rest = (k * r + 9) / 10;
    return at + rest < at ? ULLONG_MAX : at + rest;
}

/* The next check_at (see bar_internal.h).  With weft__bars_mu held. */
static void set_check_at(weft__bar *b)
{
    unsigned long long n = weft__bar_count(b), at;
    if (b->mode == WEFT__BAR_OFF)
        at = ULLONG_MAX;
    else if (b->mode == WEFT__BAR_LOG && b->total > 0)
        at = next_tenth(b); /* no clock: a tenth is a count */
    else
        at = n + b->miniters >= n ? n + b->miniters : ULLONG_MAX;
    atomic_store_explicit(&b->check_at, at, memory_order_relaxed);
}

/* Redraws b if due at `now` (any kind); whether it did.  With
 * weft__bars_mu held. */
static bool redraw_if_due(weft__bar *b, uint64_t now)
{
    unsigned long long n = weft__bar_count(b);
    bool progress = false, idle = false;
    if (b->mode == WEFT__BAR_LOG) {
        if (b->total > 0) /* every 10% */
            progress =
                n * 10 / (unsigned long long)ceil(b->total) > b->log_step;
        else
            progress = now - b->draw_ns >= LOG_IDLE_NS;
    } else if (b->mode == WEFT__BAR_TTY) {
        progress = n != b->print_n && now - b->print_ns >= b->mininterval_ns;
        idle = now - b->draw_ns >= IDLE_REDRAW_NS;
    }
    if (!progress && !idle)
        return false;
    if (progress)
        note_progress(b, now);
    b->draw_ns = now;
    b->draw_n = n;
    weft__term_draw(b, now);
    return true;
}

/* A check at `now`: miniters retuned to the updates seen per mininterval
 * since the last check (tqdm's dynamic miniters, without its smoothing), a
 * redraw if due, the next check_at.  With weft__bars_mu held. */
static void check_locked(weft__bar *b, uint64_t now)
{
    unsigned long long n = weft__bar_count(b);
    if (now > b->check_ns) {
        double per = (double)(n - b->check_n) * (double)b->mininterval_ns /
                     (double)(now - b->check_ns);
        b->miniters = per < 1     ? 1
                      : per > 1e6 ? 1000000
                                  : (unsigned long long)per;
    }
    b->check_ns = now;
    b->check_n = n;
    redraw_if_due(b, now);
    set_check_at(b);
}

void weft__bar_check(weft__bar *b)
{
    uint64_t now = now_ns();
    pthread_mutex_lock(&weft__bars_mu);
    check_locked(b, now);
    pthread_mutex_unlock(&weft__bars_mu);
}

/* ---- loop-driven redraws: the bars' loop service ---- */

typedef struct bar_service {
    weft__service svc; /* first */
    _Atomic int n_bars; /* open bars of this loop (closed from any thread) */
} bar_service;

static void bars_tick(struct weft__loop *L, weft__service *sv, uint64_t now)
{
    if (!atomic_load_explicit(&((bar_service *)sv)->n_bars,
                              memory_order_relaxed))
        return;
    pthread_mutex_lock(&weft__bars_mu);
    for (weft__bar *b = weft__bars; b; b = b->next)
        if (b->loop == L && redraw_if_due(b, now))
            check_locked(b, now); /* retunes miniters, e.g. after a burst */
    pthread_mutex_unlock(&weft__bars_mu);
}

/* When the loop must wake up for its bars: progress not drawn yet,
 * mininterval after the last redraw for progress; else the clock, a second
 * after the last redraw (log mode: 10 s, without a total).  Log mode with
 * a total needs no wake-up: its tenths are counts, checked by the updates
 * themselves (from any thread). */
static uint64_t bars_next(struct weft__loop *L, weft__service *sv)
{
    uint64_t next = UINT64_MAX;
    if (!atomic_load_explicit(&((bar_service *)sv)->n_bars,
                              memory_order_relaxed))
        return next;
    pthread_mutex_lock(&weft__bars_mu);
    for (weft__bar *b = weft__bars; b; b = b->next) {
        if (b->loop != L || b->mode == WEFT__BAR_OFF)
            continue;
        uint64_t t;
        if (b->mode == WEFT__BAR_LOG)
            t = b->total > 0 ? UINT64_MAX : b->draw_ns + LOG_IDLE_NS;
        else if (weft__bar_count(b) != b->print_n)
            t = b->print_ns + b->mininterval_ns;
        else
            t = b->draw_ns + IDLE_REDRAW_NS;
        if (t < next)
            next = t;
    }
    pthread_mutex_unlock(&weft__bars_mu);
    return next;
}

static void finish_close(weft__bar *b);

/* The loop closes: its bars still open are closed (their final lines
 * drawn), then the service goes.  A bar another thread is closing at the
 * same moment is left to that thread, and waited for: it leaves the list
 * once it no longer touches the service. */
static void bars_close(struct weft__loop *L, weft__service *sv)
{
    for (;;) {
        weft_bar *found = NULL;
        pthread_mutex_lock(&weft__bars_mu);
        for (weft__bar *b = weft__bars; b; b = b->next)
            if (b->loop == L) {
                found = b->handle;
                break;
            }
        pthread_mutex_unlock(&weft__bars_mu);
        if (!found)
            break;
        weft__bar *b = weft__handle_revoke(found, WEFT__H_BAR);
        if (b)
            finish_close(b);
        else
            sched_yield();
    }
    weft__free(sv);
}

static const weft__service_ops bar_service_ops = {
    .next_wakeup = bars_next,
    .tick = bars_tick,
    .close = bars_close,
};

/* The bar service of L (the calling thread's loop), registered on first
 * use; NULL if out of memory. */
static bar_service *bar_service_get(struct weft__loop *L)
{
    return (bar_service *)weft__service_get(L, &bar_service_ops,
                                            sizeof(bar_service));
}

/* ---- the public API ---- */

static int copy_str(char **dst, const char *src)
{
    char *c = NULL;
    if (src && !(c = weft__strndup(src, 4096)))
        return -ENOMEM;
    weft__free(*dst);
    *dst = c;
    return 0;
}

/* Frees what weft_bar_new allocated. */
static void bar_free(weft__bar *b)
{
    weft__free(b->desc);
    weft__free(b->unit);
    weft__free(b->postfix);
    weft__free(b);
}

/* The core's own lines on stderr (reports, the deadlock report) go above
 * the bars from the first bar on: weft__say's writer. */
static void say_above(const char *line)
{
    weft_bar_write(line);
}

/* Before the stack overflow report, from its signal handler. */
static void crash_below(void)
{
    weft__term_crash_below(2);
}

int weft_bar_new(const weft_bar_opts *o, weft_bar **out)
{
    weft_bar_opts none;
    if (!out)
        return -EINVAL;
    weft__say_register(say_above);
    weft__say_register_crash(crash_below);
    if (!o) {
        memset(&none, 0, sizeof none);
        o = &none;
    }
    if (isnan(o->total) || o->mininterval < 0 || isnan(o->mininterval) ||
        o->unit_divisor < 0 || o->fd < 0)
        return -EINVAL;
    struct weft__loop *L =
        weft__tls_loop && weft__tls_loop->cur ? weft__tls_loop : NULL;
    bar_service *bs = L ? bar_service_get(L) : NULL;
    if (L && !bs)
        return -ENOMEM;
    /* The creating thread's pin record is its identity as the owner. */
    weft__pin *me = weft__pin_self();
    weft__bar *b = me ? weft__calloc(1, sizeof *b) : NULL;
    if (!b)
        return -ENOMEM;
    if (copy_str(&b->desc, o->desc) || copy_str(&b->unit, o->unit) ||
        copy_str(&b->postfix, o->postfix) ||
        weft__handle_new(WEFT__H_BAR, b, NULL, (void **)&b->handle)) {
        bar_free(b);
        return -ENOMEM;
    }
    b->total = o->total > 0 && isfinite(o->total) ? o->total : 0;
    b->unit_scale = o->unit_scale;
    b->unit_divisor = o->unit_divisor > 0 ? o->unit_divisor : 1000;
    b->leave = !o->no_leave;
    b->mininterval_ns =
        (uint64_t)((o->mininterval > 0 ? o->mininterval : 0.1) * 1e9);
    b->fd = o->fd ? o->fd : 2;
    b->ascii = o->ascii;
    b->owner = me;
    b->loop = L;
    b->service = bs;
    b->miniters = 1;
    b->start_ns = b->print_ns = b->draw_ns = b->check_ns = now_ns();
    b->mode = o->disable ? WEFT__BAR_OFF : weft__term_mode(b->fd);
    pthread_mutex_lock(&weft__bars_mu);
    weft__term_attach(b, o->position);
    weft__term_draw(b, b->start_ns);
    set_check_at(b);
    if (bs)
        atomic_fetch_add(&bs->n_bars, 1);
    pthread_mutex_unlock(&weft__bars_mu);
    *out = b->handle;
    return 0;
}

/* The update's slow path (see weft__bar_check), which ends the caller's
 * pin: the hot path tail-calls it and so keeps nothing across a call. */
static __attribute__((noinline)) void update_check(weft__bar *b, weft__pin *me)
{
    weft__bar_check(b);
    weft__handle_unpin(me);
}

/* Pins the bar behind h for the calling thread (see handle.h): NULL if h
 * is not an open bar's, or the thread has no pin record (out of memory). */
static inline weft__bar *pin(weft__pin **me, const weft_bar *h)
{
    weft__pin *p = weft__tls_pin;
    if (__builtin_expect(!p, 0) && !(p = weft__pin_self()))
        return NULL;
    *me = p;
    return weft__handle_pin(p, h, WEFT__H_BAR);
}

/* A thread's first update: its pin record first. */
static __attribute__((noinline, cold)) void update_first(weft_bar *h,
                                                         unsigned long long n)
{
    if (weft__pin_self())
        weft_bar_update(h, n);
}

/* The hot path (a few ns when no check is due): two plain stores pin the
 * bar, so that a close from another thread waits for this update instead
 * of freeing the bar under it; one compare with check_at decides whether
 * to look at the clock. */
void weft_bar_update(weft_bar *h, unsigned long long n)
{
    weft__pin *me = weft__tls_pin;
    if (__builtin_expect(!me, 0)) {
        update_first(h, n);
        return;
    }
    weft__bar *b = weft__handle_pin(me, h, WEFT__H_BAR);
    if (!b)
        return;
    unsigned long long mine;
    if (b->owner == me) {
        mine = atomic_load_explicit(&b->n_owner, memory_order_relaxed) + n;
        atomic_store_explicit(&b->n_owner, mine, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&b->n_shared, n, memory_order_relaxed);
        mine = atomic_load_explicit(&b->n_owner, memory_order_relaxed);
    }
    if (__builtin_expect(weft__bar_check_due(b, mine), 0)) {
        update_check(b, me);
        return;
    }
    weft__handle_unpin(me);
}

unsigned long long weft_bar_count(const weft_bar *h)
{
    weft__pin *me;
    weft__bar *b = pin(&me, h);
    if (!b)
        return 0;
    unsigned long long n = weft__bar_count(b);
    weft__handle_unpin(me);
    return n;
}

/* The calls below pin the bar, then take weft__bars_mu: a close waits for
 * their pins before it takes the lock itself. */

static int set_str(weft_bar *h, size_t field, const char *str)
{
    weft__pin *me;
    weft__bar *b = pin(&me, h);
    if (!b)
        return -EINVAL;
    pthread_mutex_lock(&weft__bars_mu);
    int rc = copy_str((char **)(void *)((char *)b + field), str);
    pthread_mutex_unlock(&weft__bars_mu);
    weft__handle_unpin(me);
    return rc;
}

int weft_bar_set_desc(weft_bar *h, const char *desc)
{
    return set_str(h, offsetof(weft__bar, desc), desc);
}

int weft_bar_set_postfix(weft_bar *h, const char *postfix)
{
    return set_str(h, offsetof(weft__bar, postfix), postfix);
}

int weft_bar_set_total(weft_bar *h, double total)
{
    if (isnan(total))
        return -EINVAL;
    weft__pin *me;
    weft__bar *b = pin(&me, h);
    if (!b)
        return -EINVAL;
    pthread_mutex_lock(&weft__bars_mu);
    b->total = total > 0 && isfinite(total) ? total : 0;
    if (b->total > 0) {
        /* Log mode: the tenths already passed are not due, and a tenth
         * once printed is not printed again as the total grows (a total
         * that grows with the count would print 100% each time). */
        unsigned long long step =
            weft__bar_count(b) * 10 / (unsigned long long)ceil(b->total);
        if (step > b->log_step)
            b->log_step = step;
    }
    set_check_at(b);
    pthread_mutex_unlock(&weft__bars_mu);
    weft__handle_unpin(me);
    return 0;
}

int weft_bar_refresh(weft_bar *h)
{
    weft__pin *me;
    weft__bar *b = pin(&me, h);
    if (!b)
        return -EINVAL;
    pthread_mutex_lock(&weft__bars_mu);
    /* Not a redraw for progress: the rate and the next one's time stay. */
    uint64_t now = now_ns();
    b->draw_ns = now;
    b->draw_n = weft__bar_count(b);
    weft__term_draw(b, now);
    set_check_at(b); /* log mode: the tenth may have moved */
    pthread_mutex_unlock(&weft__bars_mu);
    weft__handle_unpin(me);
    return 0;
}

/* b's handle was revoked by the caller: nobody can reach b through it any
 * more.  Waits for the readers that reached it before, then draws the
 * final line, detaches and frees it. */
static void finish_close(weft__bar *b)
{
    weft__handle_unpinned(b->handle);
    pthread_mutex_lock(&weft__bars_mu);
    uint64_t now = now_ns();
    note_progress(b, now);
    b->closing = true;
    weft__term_detach(b, now);
    /* Under the lock: once b is off the list, its loop's close (which
     * waits for that) may free the service. */
    if (b->service)
        atomic_fetch_sub(&((bar_service *)b->service)->n_bars, 1);
    pthread_mutex_unlock(&weft__bars_mu);
    weft__handle_release(b->handle);
    bar_free(b);
}

int weft_bar_close(weft_bar *h)
{
    /* Of two closes racing, one revokes; the other finds the handle stale. */
    weft__bar *b = weft__handle_revoke(h, WEFT__H_BAR);
    if (!b)
        return -EINVAL;
    finish_close(b);
    return 0;
}

void weft__bars_pause(int fd)
{
    pthread_mutex_lock(&weft__bars_mu);
    weft__term_clear(fd);
}

void weft__bars_resume(int fd)
{
    weft__term_redraw(fd);
    pthread_mutex_unlock(&weft__bars_mu);
}

int weft_bar_write(const char *line)
{
    if (!line)
        return -EINVAL;
    pthread_mutex_lock(&weft__bars_mu);
    int rc = weft__term_write_above(2, line);
    pthread_mutex_unlock(&weft__bars_mu);
    return rc;
}

int weft_bar_printf(const char *fmt, ...)
{
    if (!fmt)
        return -EINVAL;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof buf)
        return weft_bar_write(buf);
    char *big = weft__malloc((size_t)n + 1);
    if (!big)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = weft_bar_write(big);
    weft__free(big);
    return rc;
}

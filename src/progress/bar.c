/*
 * bar.c - progress bar objects: counting, rate smoothing, when to redraw,
 * and the registry of open bars that the terminal writer draws.
 *
 * Counting is cheap by construction: the thread that created a bar adds to
 * a plain counter, every other thread to a relaxed atomic one; the drawn
 * count is their sum.  Nothing on that path reads the clock or locks.
 *
 * Redraws come from one of two places:
 * - a bar created inside a loop is redrawn by that loop: the bars are a
 *   loop service (registered with the first bar) whose tick hook redraws
 *   what is due every turn and whose next_wakeup hook caps how long the
 *   loop sleeps.  These wake-ups are not wake sources for deadlock
 *   detection.
 * - a bar created outside any loop redraws itself from weft_bar_update,
 *   which reads the clock only every `miniters` updates, tuned as tqdm does
 *   so that a check happens about once per mininterval.
 *
 * The rate is smoothed exactly as tqdm does (an exponential moving average
 * of items and of seconds between redraws, smoothing 0.3, bias-corrected);
 * the final line shows the average rate over the whole run.
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
 * moved): one EMA of items, one of seconds. */
static void note_progress(weft__bar *b, uint64_t now)
{
    unsigned long long n = weft__bar_count(b);
    if (n != b->print_n && now > b->print_ns) {
        double dn = (double)(n - b->print_n);
        double dt = (double)(now - b->print_ns) / 1e9;
        b->ema_dn = SMOOTHING * dn + (1 - SMOOTHING) * b->ema_dn;
        b->ema_dt = SMOOTHING * dt + (1 - SMOOTHING) * b->ema_dt;
        b->ema_calls++;
        b->print_n = n;
        b->print_ns = now;
    }
}

/* Is a redraw due at `now`?  With weft__bars_mu held. */
static bool due(const weft__bar *b, uint64_t now)
{
    if (b->mode == WEFT__BAR_OFF)
        return false;
    unsigned long long n = weft__bar_count(b);
    if (b->mode == WEFT__BAR_LOG) {
        if (b->total > 0) /* every 10% */
            return n * 10 / (unsigned long long)ceil(b->total) > b->log_step;
        return now - b->draw_ns >= LOG_IDLE_NS;
    }
    if (now - b->draw_ns >= IDLE_REDRAW_NS)
        return true;
    /* mininterval after the last redraw for progress (tqdm's
     * last_print_t): an idle redraw of the clock does not count. */
    return n != b->print_n && now - b->print_ns >= b->mininterval_ns;
}

/* A redraw; for progress (not only the clock moving, not a refresh) it
 * feeds the rate. */
static void draw(weft__bar *b, uint64_t now, bool progress)
{
    if (progress)
        note_progress(b, now);
    b->draw_ns = now;
    b->draw_n = weft__bar_count(b);
    weft__term_draw(b, now);
}

/* ---- loop-driven redraws: the bars' loop service ---- */

/* The longest wait between two looks at a log-mode bar whose count stands
 * still (counts from other threads are seen at most this late). */
#define LOOK_GAP_MAX_NS 1000000000ull

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
    for (weft__bar *b = weft__bars; b; b = b->next) {
        if (b->loop != L)
            continue;
        if (due(b, now)) {
            draw(b, now, b->mode == WEFT__BAR_LOG ||
                             weft__bar_count(b) != b->print_n);
            b->look_gap_ns = 0;
        } else if (b->mode == WEFT__BAR_LOG) {
            /* See bars_next.  Nothing counted since the last look: look
             * half as often, down to once a second - an idle loop with
             * such a bar must cost next to nothing. */
            unsigned long long n = weft__bar_count(b);
            if (n == b->look_n && b->look_gap_ns)
                b->look_gap_ns = b->look_gap_ns * 2 < LOOK_GAP_MAX_NS
                                     ? b->look_gap_ns * 2
                                     : LOOK_GAP_MAX_NS;
            else
                b->look_gap_ns = b->mininterval_ns;
            b->look_n = n;
            b->look_ns = now;
        }
    }
    pthread_mutex_unlock(&weft__bars_mu);
}

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
        /* Log mode with a total prints at each tenth: a look every
         * mininterval after the last one (counts may come from other
         * threads while the loop sleeps), not after the last line, which
         * would be in the past until the next tenth - a busy loop. */
        uint64_t last = b->draw_ns > b->look_ns ? b->draw_ns : b->look_ns;
        uint64_t gap = b->look_gap_ns > b->mininterval_ns
                           ? b->look_gap_ns
                           : b->mininterval_ns;
        uint64_t t = b->mode == WEFT__BAR_LOG
                         ? (b->total > 0 ? last + gap
                                         : b->draw_ns + LOG_IDLE_NS)
                         : weft__bar_count(b) != b->print_n
                               ? b->print_ns + b->mininterval_ns
                               : b->draw_ns + IDLE_REDRAW_NS;
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

int weft_bar_new(const weft_bar_opts *o, weft_bar **out)
{
    weft_bar_opts none;
    if (!out)
        return -EINVAL;
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
    b->start_ns = b->print_ns = b->draw_ns = now_ns();
    b->mode = o->disable ? WEFT__BAR_OFF : weft__term_mode(b->fd);
    pthread_mutex_lock(&weft__bars_mu);
    weft__term_attach(b, o->position);
    weft__term_draw(b, b->start_ns);
    if (bs)
        atomic_fetch_add(&bs->n_bars, 1);
    pthread_mutex_unlock(&weft__bars_mu);
    *out = b->handle;
    return 0;
}

/* Outside a loop: check the clock every `miniters` updates; then redraw if
 * due, and retune miniters to about one check per mininterval (tqdm's
 * dynamic miniters).  Ends the caller's pin: the hot path tail-calls it
 * and so keeps nothing across a call. */
static __attribute__((noinline)) void inline_check(weft__bar *b,
                                                   weft__pin *me)
{
    uint64_t now = now_ns();
    pthread_mutex_lock(&weft__bars_mu);
    uint64_t dt = now - b->check_ns;
    unsigned long long n = weft__bar_count(b);
    if (dt > 0 && b->check_ns) {
        double per = (double)(n - b->check_n) * (double)b->mininterval_ns /
                     (double)dt;
        b->miniters = per < 1 ? 1 : per > 1e6 ? 1000000 : (unsigned)per;
    }
    b->check_ns = now;
    b->check_n = n;
    if (due(b, now))
        draw(b, now, b->mode == WEFT__BAR_LOG ||
                         weft__bar_count(b) != b->print_n);
    pthread_mutex_unlock(&weft__bars_mu);
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

/* The hot path (a few ns when no redraw is due): two plain stores pin the
 * bar, so that a close from another thread waits for this update instead
 * of freeing the bar under it. */
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
    if (b->owner == me) {
        atomic_store_explicit(
            &b->n_owner,
            atomic_load_explicit(&b->n_owner, memory_order_relaxed) + n,
            memory_order_relaxed);
        if (!b->loop && ++b->calls >= b->miniters) {
            b->calls = 0;
            inline_check(b, me);
            return;
        }
    } else {
        atomic_fetch_add_explicit(&b->n_shared, n, memory_order_relaxed);
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
    draw(b, now_ns(), false); /* tqdm's refresh leaves the rate alone */
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

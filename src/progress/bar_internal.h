/*
 * bar_internal.h - the bar object and what bar.c and term.c share.
 *
 * What callers hold is a handle (handle.h), never a weft__bar pointer:
 * inside weft, a bar is reached through its handle by the public calls,
 * and by pointer only from the list of open bars (under weft__bars_mu) or
 * by whoever created it and never gave its handle out (gather's own bar).
 */
#ifndef WEFT_BAR_INTERNAL_H
#define WEFT_BAR_INTERNAL_H

#include "weft.h"

#include "format.h"
#include "../handle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct weft__loop;

enum { WEFT__BAR_OFF = 0, WEFT__BAR_TTY, WEFT__BAR_LOG };

typedef struct weft__bar weft__bar;

struct weft__bar {
    weft__bar *next;           /* weft__bars */
    weft_bar *handle;          /* what the caller holds */
    struct weft__loop *loop;   /* redrawn by this loop; NULL: by itself */
    void *service;             /* that loop's bar service, or NULL */
    const weft__pin *owner;    /* the creating thread's pin record */
    /* Counted by the creating thread: relaxed load and store (no
     * read-modify-write: only that thread writes it), atomic so that other
     * threads may read it while drawing. */
    _Atomic unsigned long long n_owner;
    _Atomic unsigned long long n_shared; /* counted by other threads */
    double total;              /* 0: unknown */
    char *desc, *unit, *postfix;
    int unit_scale;
    double unit_divisor;
    bool leave;
    bool closing;
    int ascii;
    int fd;
    int mode;                  /* WEFT__BAR_* */
    unsigned line;             /* line in its screen's block (TTY) */
    /* An update whose count reaches check_at takes the slow path
     * (weft__bar_check): in log mode with a total, the count of the next
     * tenth; otherwise miniters updates after the last check, which read
     * the clock.  Written under weft__bars_mu, read by every update. */
    _Atomic unsigned long long check_at;
    uint64_t mininterval_ns;
    uint64_t start_ns;
    uint64_t draw_ns;          /* last redraw of any kind */
    unsigned long long draw_n;
    /* Last redraw for progress (tqdm's last_print_t and last_print_n):
     * the next one is due mininterval after it - an idle redraw of the
     * clock in between does not count - and the rate's smoothing takes
     * the items and seconds since it. */
    uint64_t print_ns;
    unsigned long long print_n;
    double ema_dn, ema_dt;     /* tqdm's smoothed items and seconds */
    int ema_calls;
    unsigned long long log_step; /* log mode: tenths of total printed */
    unsigned long long miniters; /* updates between two checks, >= 1 */
    uint64_t check_ns;           /* the last check: when, at what count */
    unsigned long long check_n;
};

/* Every open bar; guarded by weft__bars_mu, which also serializes all
 * output of bars. */
extern pthread_mutex_t weft__bars_mu;
extern weft__bar *weft__bars;

/* The count so far (any thread). */
static inline unsigned long long weft__bar_count(const weft__bar *b)
{
    return atomic_load_explicit(&b->n_owner, memory_order_relaxed) +
           atomic_load_explicit(&b->n_shared, memory_order_relaxed);
}

/* The bar behind a handle whose only holder is the caller (a bar it
 * created and never gave out); NULL if h is not a live bar's. */
static inline weft__bar *weft__bar_own(weft_bar *h)
{
    return (weft__bar *)weft__handle_get(h, WEFT__H_BAR);
}

/* An update brought the count to check_at: reads the clock, redraws if
 * due (so a redraw comes before whatever the updating code does next, as
 * tqdm's update draws) and sets the next check_at.  Any thread; b pinned by
 * the caller, or never given out. */
void weft__bar_check(weft__bar *b);

/* Has the count reached b's next check? */
static inline bool weft__bar_check_due(const weft__bar *b,
                                       unsigned long long n_owner)
{
    return n_owner + atomic_load_explicit(&b->n_shared, memory_order_relaxed) >=
           atomic_load_explicit(&b->check_at, memory_order_relaxed);
}

/* weft_bar_update(b, 1) from the loop thread that owns b, inline: what
 * gather and generators call per finished task or value. */
static inline void weft__bar_tick_owner(weft__bar *b)
{
    unsigned long long n =
        atomic_load_explicit(&b->n_owner, memory_order_relaxed) + 1;
    atomic_store_explicit(&b->n_owner, n, memory_order_relaxed);
    if (weft__bar_check_due(b, n))
        weft__bar_check(b);
}

/* The meter of b at `now` for the formatter. */
void weft__bar_meter(weft__bar *b, uint64_t now, int ncols, int ascii,
                     weft__meter *m);

/* ---- term.c (all with weft__bars_mu held) ---- */
int weft__term_mode(int fd);
/* Adds b to the list and gives it a line (position 0: first free). */
void weft__term_attach(weft__bar *b, unsigned position);
void weft__term_draw(weft__bar *b, uint64_t now);
/* Removes b, leaving its final line (b->leave) or erasing it. */
void weft__term_detach(weft__bar *b, uint64_t now);
int weft__term_write_above(int fd, const char *text);
/* Erases fd's block of bars (the cursor stays where its first line was),
 * and draws it again below what was written meanwhile. */
void weft__term_clear(int fd);
void weft__term_redraw(int fd);
/* Without the lock, from a signal handler (async-signal-safe: atomic
 * loads and write(2)): moves fd's cursor to the line below its block of
 * bars, where a last line can go; the bars stay as last drawn. */
void weft__term_crash_below(int fd);

#endif

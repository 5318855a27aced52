/*
 * weft/bar.h - progress bars, as tqdm draws them.  Included by weft.h.
 *
 *     weft_bar *bar;
 *     weft_bar_opts o = {.total = 5, .desc = "整体任务进度"};
 *     weft_bar_new(&o, &bar);
 *     for (...) { ...; weft_bar_update(bar, 1); }
 *     weft_bar_close(bar);
 *
 * draws, on stderr, the line every tqdm user knows:
 *
 *     整体任务进度: 40%|████      | 2/5 [00:02<00:03,  1.00it/s]
 *
 * On a terminal the line is redrawn in place (at most every mininterval
 * seconds, and once a second while nothing happens, so elapsed time and
 * ETA keep moving); several bars keep one line each; weft_bar_write prints
 * a line above them.  Between redraws the cursor rests at the end of the
 * first bar's line, as tqdm leaves it: a line the program prints to the same
 * terminal meanwhile starts below a full-width bar.  The width follows the
 * terminal.  Not on a terminal (a file, a pipe, CI logs) or with TERM=dumb, a
 * bar prints a complete line at every 10% of progress (or every 10 s without a
 * total) and at the end - no carriage returns.  WEFT_PROGRESS=tty, log or off
 * in the environment overrides the choice.  Descriptions are measured in
 * terminal columns (CJK characters take two), and control characters in them
 * are neutralized.
 *
 * As tqdm's update does, weft_bar_update draws a redraw that is due
 * before it returns, so the line that counts a value is on the screen
 * before the caller prints the value.  It reads the clock about once per
 * mininterval (every update when updates come slower than that; in log
 * mode only at each tenth of the total).  Inside a loop, the loop also
 * redraws its bars (progress not drawn yet, the clock while idle; its
 * wake-ups never count as a wake source for deadlock detection).  The rate
 * is tqdm's: smoothed over the redraws for progress, which are at least
 * mininterval apart whatever idle redraws came between.
 *
 * Thread safety: every call may be made from any thread (pool jobs
 * included) at any time, also while another thread closes the bar.
 *
 * Handles: a weft_bar * is a checked handle, not a pointer.  Once a bar is
 * closed - also while the close is in progress on another thread - its
 * handle is stale, and so is anything that never was a bar's handle: the
 * calls return -EINVAL (weft_bar_update does nothing, weft_bar_count
 * returns 0), in every build; they never touch freed memory.  An update
 * that races a close is either counted in the final line or not at all.
 */
#ifndef WEFT_BAR_H
#define WEFT_BAR_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_bar weft_bar;

/* Options; zero-initialise, then set what you need. */
typedef struct weft_bar_opts {
    double total;        /* items expected; <= 0: unknown */
    const char *desc;    /* shown before the bar; copied; may be NULL */
    const char *unit;    /* "it" if NULL; copied */
    int unit_scale;      /* 1: 1.23k, 4.56M ... */
    double unit_divisor; /* 1000 if 0; 1024 for bytes */
    int no_leave;        /* 1: erase the bar when closed (tqdm leave=False) */
    double mininterval;  /* seconds between redraws; 0: 0.1 */
    int disable;         /* 1: draw nothing (counting still works) */
    int fd;              /* output file descriptor; 0: stderr (2) */
    unsigned position;   /* 0: the first free line; k: line k - 1 */
    const char *postfix; /* shown after the rate; copied; may be NULL */
    int ascii;           /* 1: ASCII bar even on a UTF-8 terminal */
} weft_bar_opts;

/* A new bar (drawn at once on a terminal).  opts may be NULL.  *bar is the
 * caller's, to weft_bar_close.  Errors: -EINVAL, -ENOMEM. */
int weft_bar_new(const weft_bar_opts *opts, weft_bar **bar);

/* Adds n to the count.  A plain add on the bar's own thread, a relaxed
 * atomic add from others, and one compare; no clock read, no lock, no
 * system call unless a check is due (see above), when a due redraw is
 * drawn before the call returns.  NULL, closed or unknown bar: nothing. */
void weft_bar_update(weft_bar *bar, unsigned long long n);

/* The count so far; 0 for a NULL, closed or unknown bar. */
unsigned long long weft_bar_count(const weft_bar *bar);

/* Replace the description / postfix (copied).
 * Errors: -EINVAL (NULL, closed or unknown bar), -ENOMEM. */
int weft_bar_set_desc(weft_bar *bar, const char *desc);
int weft_bar_set_postfix(weft_bar *bar, const char *postfix);

/* Changes the total (tqdm's `bar.total = n`), for work whose size becomes
 * known as it goes - bytes of downloads whose lengths arrive one by one;
 * <= 0: unknown.  Shown at the next redraw.  Not on a terminal (a line per
 * tenth), a tenth already printed is not printed again as the total grows.
 * Errors: -EINVAL (NULL, closed or unknown bar; NaN). */
int weft_bar_set_total(weft_bar *bar, double total);

/* Redraws now.  Errors: -EINVAL (NULL, closed or unknown bar). */
int weft_bar_refresh(weft_bar *bar);

/* Draws the final line (with the average rate) and leaves it, or erases
 * the bar with no_leave; then frees it.  A bar still open when its loop
 * closes is closed then.  Updates running on other threads are waited
 * for (they take nanoseconds); later calls on the handle are -EINVAL.
 * Errors: -EINVAL (NULL, closed or unknown bar: a second close). */
int weft_bar_close(weft_bar *bar);

/* tqdm.write: prints a line (a newline is added if missing) above the bars
 * on stderr, without breaking them.  Errors: -EINVAL, -EIO. */
int weft_bar_write(const char *line);
int weft_bar_printf(const char *fmt, ...) WEFT_PRINTF(1, 2);

#ifdef __cplusplus
}
#endif

#endif

/*
 * term.c - putting bars on the screen, or in a log.
 *
 * On a terminal, the bars of one output fd form a block of lines: bar k
 * keeps line k of the block for its whole life.  Between redraws the cursor
 * rests where tqdm leaves it: at the end of the block's first line, after
 * its last character - so text the program prints meanwhile (a print to
 * stdout on the same terminal) starts on the line below a full-width bar,
 * as under tqdm, and the next redraw happens on the line the cursor is on
 * by then.  A redraw rewrites the whole block: "\r", each line, erase to
 * end of line ("\n" to go down, which also makes room at the bottom of the
 * screen), then back up with ESC [ n A and the first line written again so
 * that the cursor ends after it.  A line that fills the width is not
 * followed by an erase: with the cursor past the last column, terminals
 * disagree on what an erase does (xterm clears the last cell, tmux does
 * not).  Printing above the bars (weft_bar_write, and a finished bar's
 * final line) writes over the block's first line and ends with "\n": the
 * block then sits one line lower and is redrawn there.
 *
 * Elsewhere (not a terminal, or TERM=dumb), each bar prints a whole line at
 * each tenth of its total (or every 10 s without one) and a final line -
 * never a carriage return.  WEFT_PROGRESS=tty|log|off overrides the choice.
 *
 * Writes ignore SIGPIPE (a closed pipe is an error code, not a dead
 * process).  Everything here runs with weft__bars_mu held.
 */
#define _GNU_SOURCE
#include "bar_internal.h"
#include "width.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_SCREENS 8
#define LINE_MAX_BYTES 2048
#define OUT_MAX (64 * 1024)

typedef struct screen {
    int fd;        /* -1: unused */
    unsigned drawn; /* lines the block occupies on screen now */
} screen;

static screen screens[MAX_SCREENS] = {
    {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};
static char out[OUT_MAX]; /* guarded by weft__bars_mu */
static size_t out_len;

/* ---- output ---- */

static void put(const char *s, size_t n)
{
    if (n > OUT_MAX - out_len)
        n = OUT_MAX - out_len;
    memcpy(out + out_len, s, n);
    out_len += n;
}

static void puts_(const char *s)
{
    put(s, strlen(s));
}

/* Writes the buffer to fd.  SIGPIPE is blocked meanwhile and a pending one
 * consumed, so a reader that went away costs an error code only. */
static int flush(int fd)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int rc = 0;
    size_t off = 0;
    while (off < out_len) {
        ssize_t w = write(fd, out + off, out_len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (errno == EPIPE) {
                struct timespec zero = {0, 0};
                sigtimedwait(&pipe_set, NULL, &zero);
            }
            rc = -EIO;
            break;
        }
        off += (size_t)w;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    out_len = 0;
    return rc;
}

/* ---- modes and terminal facts ---- */

int weft__term_mode(int fd)
{
    const char *e = getenv("WEFT_PROGRESS");
    if (e && !strcmp(e, "off"))
        return WEFT__BAR_OFF;
    if (e && !strcmp(e, "log"))
        return WEFT__BAR_LOG;
    if (e && !strcmp(e, "tty"))
        return WEFT__BAR_TTY;
    const char *term = getenv("TERM");
    if (!isatty(fd) || (term && !strcmp(term, "dumb")))
        return WEFT__BAR_LOG;
    return WEFT__BAR_TTY;
}

static int columns(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* Unicode blocks only where the locale says UTF-8, as tqdm decides from
 * its stream's encoding. */
static int utf8_locale(void)
{
    const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
    }
    return 0;
}

/* Appends b's line, cut at ncols when ncols > 0; returns its width. */
static size_t format_line(weft__bar *b, uint64_t now, int ncols)
{
    char line[LINE_MAX_BYTES];
    weft__meter m;
    weft__bar_meter(b, now, ncols, b->ascii || !utf8_locale(), &m);
    size_t n = weft__meter_format(&m, line, sizeof line), cols = 0;
    /* tqdm never trims the line without a total; on a terminal a line
     * longer than the screen would wrap and break the block. */
    if (ncols > 0)
        n = weft__utf8_trim(line, n, (size_t)ncols, &cols);
    put(line, n);
    return cols;
}

/* ---- the block of bars on a terminal ---- */

/* fd and drawn are also read without the lock by weft__term_crash_below
 * (a signal handler): written atomically. */
static void set_drawn(screen *s, unsigned lines)
{
    __atomic_store_n(&s->drawn, lines, __ATOMIC_RELAXED);
}

static screen *screen_for(int fd, bool create)
{
    for (int i = 0; i < MAX_SCREENS; i++)
        if (screens[i].fd == fd)
            return &screens[i];
    if (!create)
        return NULL;
    for (int i = 0; i < MAX_SCREENS; i++)
        if (screens[i].fd < 0) {
            set_drawn(&screens[i], 0);
            __atomic_store_n(&screens[i].fd, fd, __ATOMIC_RELAXED);
            return &screens[i];
        }
    return NULL;
}

static weft__bar *bar_at(int fd, unsigned line)
{
    for (weft__bar *b = weft__bars; b; b = b->next)
        if (b->mode == WEFT__BAR_TTY && b->fd == fd && b->line == line)
            return b;
    return NULL;
}

static unsigned lines_used(int fd)
{
    unsigned n = 0;
    for (weft__bar *b = weft__bars; b; b = b->next)
        if (b->mode == WEFT__BAR_TTY && b->fd == fd && b->line + 1 > n)
            n = b->line + 1;
    return n;
}

/* Appends line i of fd's block (the cursor at its start): the bar's line
 * and, unless it fills the width, an erase of the rest. */
static void render_line(screen *s, unsigned i, int ncols, uint64_t now)
{
    weft__bar *b = bar_at(s->fd, i);
    if (!b || format_line(b, now, ncols) < (size_t)ncols)
        puts_("\x1b[K");
}

/* Appends the redraw of fd's block to the buffer: from wherever the cursor
 * is on the block's first line to the end of that line. */
static void render(screen *s, uint64_t now)
{
    unsigned lines = lines_used(s->fd);
    unsigned span = lines > s->drawn ? lines : s->drawn;
    int ncols = columns(s->fd);
    for (unsigned i = 0; i < span; i++) {
        puts_(i ? "\n\r" : "\r");
        render_line(s, i, ncols, now);
    }
    if (span > 1) {
        char up[24];
        snprintf(up, sizeof up, "\x1b[%uA\r", span - 1);
        puts_(up);
        render_line(s, 0, ncols, now);
    }
    set_drawn(s, lines);
    if (!lines)
        __atomic_store_n(&s->fd, -1, __ATOMIC_RELAXED); /* free it */
}

void weft__term_attach(weft__bar *b, unsigned position)
{
    b->next = weft__bars;
    weft__bars = b;
    if (b->mode != WEFT__BAR_TTY)
        return;
    if (!screen_for(b->fd, true)) {
        b->mode = WEFT__BAR_LOG; /* too many terminals at once */
        return;
    }
    unsigned line = position ? position - 1 : 0;
    b->line = UINT32_MAX;
    while (bar_at(b->fd, line))
        line++;
    b->line = line;
}

void weft__term_draw(weft__bar *b, uint64_t now)
{
    if (b->mode == WEFT__BAR_TTY) {
        screen *s = screen_for(b->fd, false);
        if (s) {
            render(s, now);
            flush(b->fd);
        }
    } else if (b->mode == WEFT__BAR_LOG) {
        unsigned long long n = weft__bar_count(b);
        if (b->total > 0)
            b->log_step = n * 10 / (unsigned long long)ceil(b->total);
        if (now == b->start_ns && !b->closing)
            return; /* logs start with the first progress, not at 0 */
        format_line(b, now, WEFT__METER_NCOLS_NONE);
        puts_("\n");
        flush(b->fd);
    }
}

static void unlink_bar(weft__bar *b)
{
    for (weft__bar **p = &weft__bars; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            return;
        }
}

void weft__term_detach(weft__bar *b, uint64_t now)
{
    if (b->mode == WEFT__BAR_LOG) {
        unlink_bar(b);
        /* The 100% line may already be out: no second copy. */
        if (b->total > 0 && b->log_step >= 10 &&
            b->draw_n == weft__bar_count(b))
            return;
        format_line(b, now, WEFT__METER_NCOLS_NONE);
        puts_("\n");
        flush(b->fd);
        return;
    }
    if (b->mode != WEFT__BAR_TTY) {
        unlink_bar(b);
        return;
    }
    screen *s = screen_for(b->fd, false);
    if (b->leave) {
        /* The final line goes above the block, for good. */
        char line[LINE_MAX_BYTES];
        weft__meter m;
        int ncols = columns(b->fd);
        weft__bar_meter(b, now, ncols, b->ascii || !utf8_locale(), &m);
        size_t n = weft__meter_format(&m, line, sizeof line);
        line[weft__utf8_trim(line, n, (size_t)ncols, NULL)] = '\0';
        unlink_bar(b);
        weft__term_write_above(b->fd, line);
        return;
    }
    unlink_bar(b);
    if (s) {
        render(s, now);
        flush(b->fd);
    }
}

int weft__term_write_above(int fd, const char *text)
{
    screen *s = screen_for(fd, false);
    if (s && s->drawn)
        puts_("\r\x1b[K");
    puts_(text);
    size_t n = strlen(text);
    if (!n || text[n - 1] != '\n')
        puts_("\n");
    if (s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        render(s, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    }
    return flush(fd);
}

void weft__term_clear(int fd)
{
    screen *s = screen_for(fd, false);
    if (s && s->drawn) {
        puts_("\r\x1b[J"); /* the block and anything below it */
        flush(fd);
    }
}

void weft__term_redraw(int fd)
{
    screen *s = screen_for(fd, false);
    if (s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        render(s, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
        flush(fd);
    }
}

void weft__term_crash_below(int fd)
{
    for (int i = 0; i < MAX_SCREENS; i++) {
        if (__atomic_load_n(&screens[i].fd, __ATOMIC_RELAXED) != fd)
            continue;
        /* The cursor rests at the end of the block's first line. */
        unsigned n = __atomic_load_n(&screens[i].drawn, __ATOMIC_RELAXED);
        for (unsigned k = 0; k < n; k++)
            if (write(fd, "\n", 1) != 1)
                return;
        return;
    }
}

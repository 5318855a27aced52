/*
 * format.c - tqdm's progress-bar line (see format.h).
 *
 * The code follows tqdm.format_meter (tqdm/std.py, 4.64) step by step, with
 * the same floating-point operations in the same order, so that every
 * rounding lands where Python's does.  The line is a list of pieces: they
 * are measured first (the bar gets the columns the text leaves), then
 * written through one writer that neutralizes control characters and stops
 * at the column limit (tqdm's disp_trim) or at the end of the buffer.
 *
 * Numbers: snprintf rounds exactly, as Python's format() does, so "%.2f"
 * prints the digits "{:.2f}" prints.  Only the decimal point is taken from
 * the locale (a program may have set one that uses ','); it is forced back
 * to '.'.
 */
#include "format.h"
#include "width.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for any number printed here: "%.2f" of -DBL_MAX is 313 bytes. */
#define NUM_MAX 400

/* ------------------------------------------------------------ numbers */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Rewrites snprintf's "%f" or "%e" output with '.' for the locale's decimal
 * point (which may be several bytes, but never holds a digit or an 'e'). */
static void dot_decimal(char *s)
{
    char *w = s;
    const char *r = s;
    while (*r == '-' || is_digit(*r))
        *w++ = *r++;
    if (*r != '\0' && *r != 'e') {
        *w++ = '.';
        while (*r != '\0' && !is_digit(*r))
            r++;
    }
    while (*r != '\0')
        *w++ = *r++;
    *w = '\0';
}

/* Python's "{:W.Pf}".format(x): right-aligned in width W. */
static void py_fixed(char *out, int width, int prec, double x)
{
    char tmp[NUM_MAX];
    if (isnan(x)) {
        strcpy(tmp, "nan"); /* Python has no "-nan" */
    } else if (isinf(x)) {
        strcpy(tmp, x < 0 ? "-inf" : "inf");
    } else {
        snprintf(tmp, sizeof tmp, "%.*f", prec, x);
        dot_decimal(tmp);
    }
    snprintf(out, NUM_MAX, "%*s", width, tmp);
}

/* Python's repr() of a finite double that is not an integer: the shortest
 * digits that read back as x, in fixed notation when the decimal exponent
 * is in [-4, 16), else as d.ddde+XX. */
static void py_repr(char *out, double x)
{
    char e[40], digits[24];
    int nd = 0, p;

    /* snprintf and strtod use the same locale, so the round trip holds. */
    for (p = 1; p < 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x)
            break;
    }
    if (p == 17)
        snprintf(e, sizeof e, "%.16e", x);
    dot_decimal(e);

    const char *r = e;
    char *w = out;
    if (*r == '-')
        *w++ = *r++;
    for (; *r != 'e'; r++)
        if (is_digit(*r))
            digits[nd++] = *r;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int exp10 = atoi(r + 1);

    if (exp10 < -4 || exp10 >= 16) {
        *w++ = digits[0];
        if (nd > 1) {
            *w++ = '.';
            memcpy(w, digits + 1, (size_t)nd - 1);
            w += nd - 1;
        }
        snprintf(w, 16, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        return;
    }
    if (exp10 < 0) {
        *w++ = '0';
        *w++ = '.';
        for (int i = -1; i > exp10; i--)
            *w++ = '0';
        memcpy(w, digits, (size_t)nd);
        w += nd;
    } else {
        for (int i = 0; i <= exp10; i++)
            *w++ = i < nd ? digits[i] : '0';
        *w++ = '.';
        if (nd > exp10 + 1) {
            memcpy(w, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
            w += nd - exp10 - 1;
        } else {
            *w++ = '0';
        }
    }
    *w = '\0';
}

/* Python's str() of a count.  weft keeps counts in doubles; an integral
 * value stands for a Python int ("2", not "2.0"), any other for a float. */
static void py_str(char *out, double x)
{
    if (x == floor(x))
        snprintf(out, NUM_MAX, "%.0f", x + 0.0); /* + 0.0: no "-0" */
    else
        py_repr(out, x);
}

/* tqdm.format_sizeof: 3 significant digits and an SI prefix. */
static void format_sizeof(char *out, double num, double divisor)
{
    static const char prefix[] = "kMGTPEZ";
    for (int i = 0; i < 8; i++) {
        if (fabs(num) < 999.5) {
            if (fabs(num) >= 99.95)
                py_fixed(out, 3, 0, num);
            else if (fabs(num) >= 9.995)
                py_fixed(out, 2, 1, num);
            else
                py_fixed(out, 1, 2, num);
            if (i > 0) {
                size_t n = strlen(out);
                out[n] = prefix[i - 1];
                out[n + 1] = '\0';
            }
            return;
        }
        num /= divisor;
    }
    py_fixed(out, 3, 1, num);
    strcat(out, "Y");
}

static long long floor_div(long long a, long long b)
{
    long long q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* tqdm.format_interval: [H:]MM:SS of int(t), with Python's floor division
 * (so -1 s is "-1:59:59", as tqdm prints it).  Beyond the range of a long
 * long (or not finite) the time is unknown: "?". */
static void format_interval(char *out, double t)
{
    if (!(t > -0x1p63 && t < 0x1p63)) {
        strcpy(out, "?");
        return;
    }
    long long secs = (long long)t; /* int() truncates toward zero */
    long long mins = floor_div(secs, 60), s = secs - mins * 60;
    long long h = floor_div(mins, 60), m = mins - h * 60;
    if (h)
        snprintf(out, NUM_MAX, "%lld:%02lld:%02lld", h, m, s);
    else
        snprintf(out, NUM_MAX, "%02lld:%02lld", m, s);
}

/* A rate or inverse rate: format_sizeof with its default divisor (tqdm does
 * not pass unit_divisor here), or "{:5.2f}". */
static void format_rate(char *out, double x, int unit_scale)
{
    if (unit_scale)
        format_sizeof(out, x, 1000);
    else
        py_fixed(out, 5, 2, x);
}

/* ------------------------------------------------------------ the line */

struct piece {
    const char *s;
    size_t len;
};

#define MAX_PIECES 24 /* the longest line has 19 */

struct line {
    struct piece p[MAX_PIECES];
    int count;
    int bar_at; /* the bar goes before piece bar_at; -1: no bar */
};

static void add(struct line *l, const char *s)
{
    if (l->count < MAX_PIECES)
        l->p[l->count++] = (struct piece){s, strlen(s)};
}

struct writer {
    char *buf;
    size_t cap, len;       /* len < cap: room for the NUL */
    size_t cols, max_cols; /* max_cols SIZE_MAX: no column limit */
    int full;              /* something did not fit: write nothing more */
};

/* Writes len bytes, one character at a time.  Control characters (C0, DEL,
 * C1) and invalid bytes become '?', 1 column each - the width weft__utf8_width
 * gives them, so measured and written widths agree.  Stops for good at the
 * first character that does not fit: what is left is a prefix of the line,
 * as tqdm's disp_trim leaves one. */
static void put(struct writer *w, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && !w->full) {
        uint32_t cp = 0;
        size_t n = weft__utf8_next(s + i, len - i, &cp);
        const char *out = s + i;
        size_t out_len = n;
        size_t cols;
        if (n == 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
            out = "?";
            out_len = 1;
            cols = 1;
            if (n == 0)
                n = 1;
        } else {
            cols = (size_t)weft__cp_width(cp);
        }
        if (cols > w->max_cols - w->cols || out_len >= w->cap - w->len) {
            w->full = 1;
            break;
        }
        memcpy(w->buf + w->len, out, out_len);
        w->len += out_len;
        w->cols += cols;
        i += n;
    }
}

/* tqdm's Bar: len columns, frac of them filled; the cell at the edge shows
 * the fraction of a cell in eighths (Unicode) or tenths (ASCII). */
static void put_bar(struct writer *w, double frac, size_t len, int ascii)
{
    static const char *const utf[] = {" ", "▏", "▎", "▍", "▌",
                                      "▋", "▊", "▉", "█"};
    static const char *const asc[] = {" ", "1", "2", "3", "4", "5",
                                      "6", "7", "8", "9", "#"};
    const char *const *set = ascii ? asc : utf;
    int nsyms = ascii ? 10 : 8;

    if (!(frac >= 0 && frac <= 1))
        frac = frac > 1 ? 1 : 0;
    long long k = (long long)(frac * (double)len * nsyms);
    size_t full = (size_t)(k / nsyms);
    for (size_t i = 0; i < full && !w->full; i++)
        put(w, set[nsyms], strlen(set[nsyms]));
    if (full < len) {
        put(w, set[k % nsyms], strlen(set[k % nsyms]));
        for (size_t i = full + 1; i < len && !w->full; i++)
            put(w, " ", 1);
    }
}

size_t weft__meter_format(const weft__meter *m, char *buf, size_t cap)
{
    char n_fmt[NUM_MAX], total_fmt[NUM_MAX], pct[NUM_MAX];
    char elapsed_fmt[NUM_MAX], remaining_fmt[NUM_MAX], rate_fmt[NUM_MAX];
    struct line l = {.count = 0, .bar_at = -1};
    struct writer w = {buf, cap, 0, 0, SIZE_MAX, 0};

    if (cap == 0)
        return 0;
    buf[0] = '\0';
    if (!m)
        return 0;

    double n = m->n + 0.0, total = m->total, elapsed = m->elapsed;
    double rate = m->rate, divisor = m->unit_divisor;
    const char *unit = m->unit ? m->unit : "it";
    const char *desc = m->desc ? m->desc : "";
    size_t desc_len = strlen(desc);
    if (!(divisor > 0 && isfinite(divisor)))
        divisor = 1000;

    int known_n = isfinite(n) != 0;
    /* tqdm drops a total that n has passed ("n >= total + 0.5" allows for
     * float imprecision, tqdm #849). */
    int known_total =
        known_n && isfinite(total) && total > 0 && !(n >= total + 0.5);

    format_interval(elapsed_fmt, elapsed);
    /* rate=None: tqdm uses the average speed (initial is 0 here). */
    if (!isfinite(rate))
        rate = known_n && isfinite(elapsed) && elapsed != 0 ? n / elapsed : NAN;
    int has_rate = !isnan(rate) && rate != 0; /* Python's "if rate" */
    double inv_rate = has_rate ? 1 / rate : 0;
    int inverse = inv_rate > 1; /* below one unit a second: "s/it" */
    if (inverse)
        format_rate(rate_fmt, inv_rate, m->unit_scale);
    else if (has_rate)
        format_rate(rate_fmt, rate, m->unit_scale);
    else
        strcpy(rate_fmt, "?");

    if (!known_n)
        strcpy(n_fmt, "?");
    else if (m->unit_scale)
        format_sizeof(n_fmt, n, divisor);
    else
        py_str(n_fmt, n);

    /* No total: "desc: 7it [00:02,  3.50it/s]", never trimmed, as tqdm. */
    if (!known_total) {
        if (desc_len) {
            add(&l, desc);
            add(&l, ": ");
        }
        add(&l, n_fmt);
        add(&l, unit);
        add(&l, " [");
        add(&l, elapsed_fmt);
        add(&l, ", ");
    } else {
        double frac = n / total;
        if (m->unit_scale)
            format_sizeof(total_fmt, total, divisor);
        else
            py_str(total_fmt, total);
        py_fixed(pct, 3, 0, frac * 100);
        if (has_rate)
            format_interval(remaining_fmt, (total - n) / rate);
        else
            strcpy(remaining_fmt, "?");

        if (desc_len) {
            add(&l, desc);
            /* tqdm keeps a desc that already ends with ": " as it is. */
            if (!(desc_len >= 2 && !strcmp(desc + desc_len - 2, ": ")))
                add(&l, ": ");
        }
        add(&l, pct);
        if (m->ncols == 0) { /* tqdm ncols=0: no bar, "40% 2/5 [...]" */
            add(&l, "% ");
        } else {
            add(&l, "%|");
            l.bar_at = l.count;
            add(&l, "| ");
        }
        add(&l, n_fmt);
        add(&l, "/");
        add(&l, total_fmt);
        add(&l, " [");
        add(&l, elapsed_fmt);
        add(&l, "<");
        add(&l, remaining_fmt);
        add(&l, ", ");
    }
    add(&l, rate_fmt);
    if (inverse) {
        add(&l, "s/");
        add(&l, unit);
    } else {
        add(&l, unit);
        add(&l, "/s");
    }
    if (m->postfix && m->postfix[0]) {
        add(&l, ", ");
        add(&l, m->postfix);
    }
    add(&l, "]");

    size_t bar_len = 10;
    if (l.bar_at >= 0 && m->ncols > 0) {
        size_t text = 0, ncols = (size_t)m->ncols;
        for (int i = 0; i < l.count; i++)
            text += weft__utf8_width(l.p[i].s, l.p[i].len);
        bar_len = text < ncols ? ncols - text : 1;
        w.max_cols = ncols; /* tqdm trims the line to ncols */
    }
    for (int i = 0; i < l.count; i++) {
        if (i == l.bar_at)
            put_bar(&w, n / total, bar_len, m->ascii);
        put(&w, l.p[i].s, l.p[i].len);
    }
    buf[w.len] = '\0';
    return w.len;
}

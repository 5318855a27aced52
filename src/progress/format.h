/*
 * format.h - one progress-bar line, character for character as tqdm prints
 * it (tqdm.format_meter with the default bar_format):
 *
 *   desc:  40%|████      | 2/5 [00:02<00:03,  1.00it/s, postfix]
 *   desc: 7it [00:02,  3.50it/s]                      (total unknown)
 *
 * weft__meter_format is pure: no I/O, no clock, no allocation, no state; it
 * may run on any thread.  It needs about 3 KB of stack besides snprintf's.
 * tests/fixtures/tqdm_format.txt holds lines printed by tqdm itself that it
 * must reproduce byte for byte.
 *
 * Where weft differs from tqdm, on purpose:
 * - text from the caller (desc, unit, postfix) is neutralized: C0 control
 *   characters, DEL, C1 control characters (U+0080..U+009F) and bytes that
 *   are not valid UTF-8 are each printed as one '?'.  An escape sequence
 *   thus shows as text (ESC "[31m" -> "?[31m") instead of driving the
 *   terminal.  tqdm prints them raw (and skips ANSI colour codes when it
 *   measures widths); both count one column per replaced character, so the
 *   widths agree.
 * - a non-finite n, total, elapsed or rate is "unknown" (see the fields),
 *   where tqdm prints "nan" or raises.
 * - a time interval of 2^63 seconds or more (or non-finite) prints as "?";
 *   Python prints the exact, absurd, hour count.
 * - unit_scale is a flag: tqdm's numeric unit_scale (a factor applied to n,
 *   total and rate) is left to the caller.
 * Everything else follows tqdm, including its oddities: the line without a
 * total is never trimmed to ncols, n past total + 0.5 drops the total, and
 * negative values print as tqdm prints them.
 */
#ifndef WEFT_PROGRESS_FORMAT_H
#define WEFT_PROGRESS_FORMAT_H

#include <stddef.h>

/* ncols value for tqdm's ncols=None: a 10-column bar, no trimming. */
#define WEFT__METER_NCOLS_NONE (-1)

typedef struct weft__meter {
    double n;            /* items done; non-finite: unknown ("?it", and
                            the line has no total) */
    double total;        /* <= 0, NaN or infinite: unknown (tqdm total=None) */
    double elapsed;      /* seconds; non-finite: unknown ("?") */
    double rate;         /* items/s; NaN or infinite: not known (tqdm
                            rate=None), then n / elapsed is used as tqdm does */
    const char *desc;    /* prefix, may be NULL or empty (UTF-8) */
    const char *unit;    /* NULL: "it" */
    int unit_scale;      /* non-zero: SI prefixes k, M, G ... (tqdm
                            unit_scale=True) */
    double unit_divisor; /* for n and total with unit_scale; 0 (or not a
                            positive finite number): 1000.  1024 for bytes */
    const char *postfix; /* may be NULL: shown after the rate as ", postfix" */
    int ncols;           /* > 0: the line's width in columns, the bar takes
                            what the text leaves (at least 1) and the line is
                            trimmed to it; 0: no bar, stats only (tqdm
                            ncols=0); < 0 (WEFT__METER_NCOLS_NONE): a
                            10-column bar, no trimming (tqdm ncols=None) */
    int ascii;           /* non-zero: bar of " 123456789#"; 0: Unicode
                            eighth blocks " ▏▎▍▌▋▊▉█" */
} weft__meter;

/* Writes the line into buf (cap bytes, always NUL-terminated when cap > 0)
 * and returns its length in bytes (strlen(buf)).  A line longer than cap - 1
 * bytes is cut at a character boundary.  With cap 0 nothing is written and
 * buf may be NULL.  A NULL m gives an empty line. */
size_t weft__meter_format(const weft__meter *m, char *buf, size_t cap);

#endif

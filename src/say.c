/*
 * say.c - weft's own lines on stderr: the reports at loop close and the
 * deadlock report.  The core writes them through the line writer a leaf
 * registered - the progress bars' (progress/bar.c registers it with its
 * first bar), so that a line lands above a bar instead of breaking it -
 * or straight to stderr while none is registered, when no bar was ever
 * drawn.  The core never names the bars.  A line written from a signal
 * handler cannot take the bars' lock: weft__say_crash only moves the
 * cursor below the bars first.
 */
#define _GNU_SOURCE
#include "core.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic(weft__say_fn) writer;
static _Atomic(weft__say_crash_fn) crash_prep;

void weft__say_register_crash(weft__say_crash_fn fn)
{
    atomic_store_explicit(&crash_prep, fn, memory_order_release);
}

/* Async-signal-safe: an atomic load and the leaf's own safe function. */
void weft__say_crash(void)
{
    weft__say_crash_fn fn =
        atomic_load_explicit(&crash_prep, memory_order_acquire);
    if (fn)
        fn();
}

void weft__say_register(weft__say_fn fn)
{
    atomic_store_explicit(&writer, fn, memory_order_release);
}

void weft__say(const char *line)
{
    weft__say_fn fn = atomic_load_explicit(&writer, memory_order_acquire);
    if (fn)
        fn(line);
    else
        fprintf(stderr, "%s\n", line);
}

void weft__sayf(const char *fmt, ...)
{
    char buf[1024]; /* longer lines are cut: they are diagnostics */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= 0)
        weft__say(buf);
}

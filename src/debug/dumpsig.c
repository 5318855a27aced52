/*
 * dumpsig.c - Go's SIGQUIT goroutine dump for weft: with
 * WEFT_DUMP_SIGNAL=SIGQUIT (any name or number a loop may react to; off
 * by default) in the environment, each delivery of that signal makes
 * every loop of the process write its task dump (dump.c) to stderr and go
 * on running.
 *
 * Done safely: the signal's handler (signal.c's, shared with the signal
 * watchers) only counts the delivery and wakes the loops; each loop
 * writes its dump on its own thread between tasks, where unwinding and
 * stdio-free writes are ordinary code.  A loop held by a task that never
 * suspends dumps nothing until the task lets go - the blocked-loop
 * watchdog (watchdog.c) names that task meanwhile.  Dumps of several
 * loops do not interleave: each holds the bar writer's lock while it
 * writes.
 *
 * The variable is read once per process, at its first loop.  A value that
 * is not such a signal is reported once on stderr and ignored; a signal
 * the program handles or ignores itself is left alone.
 */
#define _GNU_SOURCE
#include "../core.h"

#include "../run.h"
#include "dump.h"
#include "dumpsig.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int dump_signo; /* 0: no dump on a signal */
static char heading[48];

static void read_env(void)
{
    const char *e = getenv("WEFT_DUMP_SIGNAL");
    if (!e || !*e || strcmp(e, "off") == 0)
        return;
    int s = weft__signal_parse(e);
    if (s < 0) {
        weft_bar_printf("weft: WEFT_DUMP_SIGNAL=%.40s is not a signal weft can "
                        "dump tasks on (try SIGQUIT); ignored",
                        e);
        return;
    }
    dump_signo = s;
    snprintf(heading, sizeof heading, "%s: ", e);
}

static void dump_now(weft__loop *L)
{
    weft__dump_loop(L, 2, heading);
}

void weft__dumpsig_watch(weft__loop *L)
{
    pthread_once(&once, read_env);
    if (dump_signo)
        weft__signal_hook(L, dump_signo, dump_now); /* best effort */
}

/*
 * dumpsig.h - the task dump on a signal (dumpsig.c), composed with the
 * core runner by run.c.
 */
#ifndef WEFT_DUMPSIG_H
#define WEFT_DUMPSIG_H

#include "../core.h"

/* With WEFT_DUMP_SIGNAL set, makes L dump its tasks to stderr on each
 * delivery of that signal, until L closes.  Best effort: without memory,
 * or with the signal taken by the program, L does not. */
void weft__dumpsig_watch(weft__loop *L);

#endif

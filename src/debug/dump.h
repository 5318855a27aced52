/*
 * dump.h - the task dump (dump.c) for other parts of weft: the dump on a
 * signal (dumpsig.c).
 */
#ifndef WEFT_DEBUG_DUMP_H
#define WEFT_DEBUG_DUMP_H

#include "../core.h"

/* Writes every task of loop L to fd as weft_dump_tasks does, its heading
 * starting with `why` (e.g. "SIGQUIT: "; NULL for none).  On L's thread,
 * from a task or between tasks.  Returns the number of tasks listed or
 * write(2)'s error. */
int weft__dump_loop(weft__loop *L, int fd, const char *why);

#endif

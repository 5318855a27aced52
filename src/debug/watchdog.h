/*
 * watchdog.h - the blocked-loop warning (watchdog.c), composed with the
 * core runner by run.c.
 */
#ifndef WEFT_WATCHDOG_H
#define WEFT_WATCHDOG_H

#include "../core.h"

/* Watches L until it closes (a service of L).  Best effort: without
 * memory or a thread, L goes unwatched. */
void weft__watchdog_watch(weft__loop *L);

#endif

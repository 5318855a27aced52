/*
 * overflow.h - stack overflow reporting.
 *
 * A task that runs into its guard page faults.  A SIGSEGV handler, running
 * on an alternate signal stack (the task's own stack is exhausted), checks
 * whether the fault address lies in the running task's guard region; if so
 * it names the task on stderr and aborts.  Any other fault is passed on to
 * whatever handler was installed before ours (the program's, or
 * AddressSanitizer's), or to the default action.
 */
#ifndef WEFT_OVERFLOW_H
#define WEFT_OVERFLOW_H

#include "../core.h"

/* What a loop thread set up, to undo when its loop closes. */
typedef struct weft__overflow_state {
    void *altstack; /* our alternate signal stack, NULL if the thread had one */
    size_t altstack_size;
    bool installed;
} weft__overflow_state;

int weft__overflow_install(weft__overflow_state *st);
void weft__overflow_uninstall(weft__overflow_state *st);

/* Prints the overflow message for task f and aborts. */
_Noreturn void weft__overflow_report(weft__loop *L, weft__record *f,
                                     const char *how);

#endif

/*
 * switch.h - the one place that tells the sanitizers about stack switches.
 *
 * AddressSanitizer must know which stack is current (for its fake stacks
 * and stack bounds), ThreadSanitizer needs a fiber per context, Valgrind a
 * registered stack (stack.c registers it).  Keeping every hook here keeps
 * the assembly switch clean and the hooks from drifting apart.
 */
#ifndef WEFT_SWITCH_H
#define WEFT_SWITCH_H

#include "../core.h"
#include "sanitize.h"

#if WEFT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* Runs first in a context that was just switched to (a resumed one after
 * weft__ctx_switch returns, or a new one at its entry). */
static inline void weft__switch_arrived(weft__exec *self)
{
#if WEFT_ASAN
    __sanitizer_finish_switch_fiber(self->asan_fake, NULL, NULL);
#else
    (void)self;
#endif
}

/* Switches from `from` to `to`.  `from_dies`: `from` will never be resumed
 * (a task that finished), so its sanitizer state can be dropped. */
static inline void weft__switch(weft__exec *from, weft__exec *to,
                                bool from_dies)
{
#if WEFT_ASAN
    __sanitizer_start_switch_fiber(from_dies ? NULL : &from->asan_fake,
                                   to->stack_lo, to->stack_size);
#endif
#if WEFT_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)from_dies;
    weft__ctx_switch(&from->ctx, &to->ctx);
    weft__switch_arrived(from);
}

/* Sanitizer set-up for a task record's context / the host's context. */
static inline void weft__exec_init_task(weft__exec *e)
{
#if WEFT_TSAN
    if (!e->tsan_fiber)
        e->tsan_fiber = __tsan_create_fiber(0);
#else
    (void)e;
#endif
}

static inline void weft__exec_destroy_task(weft__exec *e)
{
#if WEFT_TSAN
    if (e->tsan_fiber)
        __tsan_destroy_fiber(e->tsan_fiber);
    e->tsan_fiber = NULL;
#else
    (void)e;
#endif
}

/* A record taken for another task.  ThreadSanitizer keeps a call stack
 * per fiber, and every task leaves its entry frame on it (a task's context
 * never returns); a fiber that has carried many tasks is replaced, so that
 * the stack stays far below TSan's limit of 65,536 frames. */
static inline void weft__exec_reuse_task(weft__exec *e)
{
#if WEFT_TSAN
    if (++e->tsan_tasks >= 1024) {
        weft__exec_destroy_task(e);
        weft__exec_init_task(e);
        e->tsan_tasks = 0;
    }
#else
    (void)e;
#endif
}

static inline void weft__exec_set_stack(weft__exec *e, const void *lo,
                                        size_t size)
{
#if WEFT_ASAN
    e->stack_lo = lo;
    e->stack_size = size;
#else
    (void)e, (void)lo, (void)size;
#endif
}

#endif

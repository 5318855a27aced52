/*
 * ctx_ucontext.c - portable context switch over makecontext/swapcontext.
 *
 * Selected with -DWEFT_CONTEXT=ucontext.  Slower than the assembly versions
 * (glibc saves and restores the signal mask with a system call on every
 * switch) but needs nothing per architecture.  makecontext passes int
 * arguments only, so the entry and its argument travel as 32-bit halves.
 */
#define _GNU_SOURCE
#include "ctx.h"

#include <stdint.h>
#include <stdlib.h>

static void tramp(unsigned eh, unsigned el, unsigned ah, unsigned al)
{
    void (*entry)(void *) =
        (void (*)(void *))(((uintptr_t)eh << 32) | (uintptr_t)el);
    void *arg = (void *)(((uintptr_t)ah << 32) | (uintptr_t)al);
    entry(arg);
    abort(); /* entry must never return */
}

void weft__ctx_make(weft__ctx *c, void *lo, size_t size,
                    void (*entry)(void *), void *arg)
{
    uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, (void (*)(void))tramp, 4, (unsigned)(e >> 32),
                (unsigned)e, (unsigned)(a >> 32), (unsigned)a);
}

void weft__ctx_switch(weft__ctx *from, weft__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}

const char *weft__ctx_name(void)
{
    return "ucontext";
}

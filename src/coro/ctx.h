/*
 * ctx.h - the machine context switch, one implementation per build.
 *
 * ctx_x86_64.S and ctx_aarch64.S keep only the callee-saved registers and
 * the floating-point control state, on the suspended stack itself: a
 * context is one saved stack pointer.  ctx_ucontext.c is the portable
 * fallback (selected with -DWEFT_CONTEXT=ucontext); it is slower (glibc's
 * swapcontext makes a sigprocmask system call) but passes the same suite.
 *
 * Nothing here knows about tasks, sanitizers or stacks: see switch.h.
 */
#ifndef WEFT_CTX_H
#define WEFT_CTX_H

#include <stddef.h>

#ifdef WEFT_CTX_UCONTEXT
#include <ucontext.h>
typedef struct weft__ctx {
    ucontext_t uc;
} weft__ctx;
#else
typedef struct weft__ctx {
    void *sp; /* saved stack pointer; the registers sit on that stack */
} weft__ctx;
#endif

/*
 * Prepares `c` so that the first switch to it calls entry(arg) on the stack
 * [lo, lo + size).  entry must never return (it switches away for good).
 */
void weft__ctx_make(weft__ctx *c, void *lo, size_t size,
                    void (*entry)(void *), void *arg);

/* Bytes at the top of a stack made by weft__ctx_make that nothing reads or
 * writes once the context has started: alignment padding above the entry
 * trampoline's frame (x86-64; none on AArch64).  Whoever saves a started
 * context's stack may leave them out. */
#if defined(__x86_64__) && !defined(WEFT_CTX_UCONTEXT)
#define WEFT__CTX_TOP_UNUSED 16
#else
#define WEFT__CTX_TOP_UNUSED 0
#endif

/* Saves the current context in `from` and resumes `to`.  Returns when
 * something switches back to `from`. */
void weft__ctx_switch(weft__ctx *from, weft__ctx *to);

#ifndef WEFT_CTX_UCONTEXT
/* Saves the current context in `back` and enters fn(arg) on the stack at
 * sp with the frame pointer fp (and, on AArch64, the link register lr), by
 * a jump: to an unwinder, fn looks called from the suspended code (see the
 * .S files).  fn must not return; it switches back to `back`. */
void weft__ctx_run_on(weft__ctx *back, void *sp, void *fp,
                      void (*fn)(void *), void *arg, void *lr);
#endif

#ifndef WEFT_CTX_UCONTEXT
/* Enters entry(arg) on the stack [lo, lo + size), from its top, as the
 * first switch to a context made by weft__ctx_make would - without saving
 * the current context, which is abandoned: the caller's frames may be on
 * that very stack (they are dead).  Does not return. */
_Noreturn void weft__ctx_enter(void *lo, size_t size, void (*entry)(void *),
                               void *arg);
#endif

/* "x86_64", "aarch64" or "ucontext". */
const char *weft__ctx_name(void);

#endif

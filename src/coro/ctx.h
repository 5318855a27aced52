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
 * something switches back to `from`.  `to` may be a deferred context
 * (below): it is made first, on another stack. */
void weft__ctx_switch(weft__ctx *from, weft__ctx *to);

#ifndef WEFT_CTX_UCONTEXT
/* A context made only when something switches to it.  A context whose sp
 * is WEFT__CTX_DEFER(m) holds no registers: weft__ctx_switch to it saves
 * the current context as usual, then calls m->make(m, to) on the stack
 * whose 16-byte aligned top is m->stack_top (make may overwrite the stack
 * being left: it is not on it) and resumes the stack pointer make returns,
 * a context saved by weft__ctx_switch or made by weft__ctx_make.  One
 * switch, one call site: to the return-stack predictor a deferred context
 * resumes like any other (src/compact.c lays compact tasks' frames out this
 * way).  m must be at least 2-byte aligned; make must not switch. */
typedef struct weft__ctx_maker {
    void *stack_top; /* first: the .S files read it at offset 0 */
    void *(*make)(struct weft__ctx_maker *m, weft__ctx *to); /* offset 8 */
} weft__ctx_maker;
#define WEFT__CTX_DEFER(m) ((void *)((char *)(m) + 1))
#endif

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

/*
 * compact.c - compact tasks: many tasks on one shared stack, each keeping
 * only the bytes it uses while it is away (docs/compact-tasks.md).
 *
 * The shared stack has an owner, the compact task whose frame is in place.
 * A task that suspends stays in place; it is copied out (from its saved
 * stack pointer to the top) only when another compact task is about to run
 * there, and copied back in when it runs next.
 *
 * A compact task that is away holds a deferred context (coro/ctx.h): the
 * loop's maker, whose make runs inside the switch to the task, on a small
 * stack of its own, copies the owner out and the task in, makes the task
 * the owner and returns its stack pointer.  So a switch to a compact task
 * that is away is one switch (the registers saved once and restored once)
 * from the scheduler's one call site, and the switch path knows nothing of
 * tasks or copies.
 *
 * Buffers grow when a task suspends (weft__compact_reserve, from the
 * suspending calls, which can then fail with -ENOMEM): the copy-out itself
 * allocates only where a suspension came by a path that does not reserve,
 * and aborts with a message if even that fails.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"
#include "coro/switch.h"

#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if WEFT_VALGRIND
#include <valgrind/memcheck.h>
#endif

/* The stack copies run on (the maker's). */
#define COPY_STACK ((size_t)64 * 1024)
/* Bytes a suspension goes below weft__compact_reserve (the calls down to
 * the context switch and the registers it saves), assumed until a loop has
 * seen one: then each loop reserves the deepest it has seen. */
#define SUSPEND_DEPTH ((size_t)512)

/* Save buffers (header included) up to this size come from the loop's
 * slabs, not malloc: no malloc header, no allocator call when compact
 * tasks come and go (a block is kept until the loop closes). */
#define SLAB_MAX ((size_t)2048)
#define SLAB_BLOCK ((size_t)64 * 1024)

#ifndef WEFT_CTX_UCONTEXT

/* A block of buffers: this header, then buffers cut one after another. */
typedef struct slab_block {
    struct slab_block *next;
    void *pad; /* 16 bytes: the buffers after it stay 16-aligned */
} slab_block;

/* A compact task's bytes while it is away: 8 bytes of header, and room
 * enough to make the whole a multiple of 16 bytes. */
typedef struct weft__csave {
    uint32_t len;  /* bytes saved: [save_top - len, save_top), the saved
                    * stack pointer up; 0: not started (its frame is made
                    * when it first runs) */
    uint32_t cap;  /* bytes room */
    unsigned char bytes[];
} weft__csave;

typedef struct weft__compact {
    weft__ctx_maker maker; /* first: a weft__compact is its maker */
    void *away_sp;     /* what every task that is away holds:
                        * WEFT__CTX_DEFER(&maker) */
    weft__stack shared;
    char *top;         /* the shared stack's top, 16-aligned */
    char *save_top;    /* where a started frame's bytes end (below the
                        * padding weft__ctx_make leaves at the top) */
    weft__stack copy_stack;
    weft__record *owner; /* whose frame is in place, or NULL */
    /* The owner's last weft__compact_reserve: bytes from the top to that
     * call's frame (0: none since it came in).  Its copy-out, len bytes,
     * shows how deep a suspension goes below it: `depth`, the deepest
     * seen, is what later reserves add (0: none seen yet). */
    uint32_t reserved_at;
    uint32_t depth;
    void (*entry)(void *); /* a task's first function (sched.c) */
    /* Buffers of up to SLAB_MAX bytes: cut from blocks, kept when freed on
     * a list per size (16-byte steps, linked through their bytes). */
    struct slab_block *blocks;
    char *slab_at, *slab_end; /* what is left of the newest block */
    weft__csave *slab_free[SLAB_MAX / 16 + 1];
} weft__compact;

/* Frames copied in, for the tests (any loop's). */
_Atomic unsigned long weft__compact_copies;
/* Bytes of room in all buffers, for the tests (changed only when a buffer
 * is made or freed). */
_Atomic size_t weft__compact_room;
/* Compact tasks started where another finished, for the tests. */
_Atomic unsigned long weft__compact_passes;

/* ---- copies ---- */

/* The shared stack's bytes for frames: all but the top a record may take
 * when the stack goes back to the pool (weft__frames_room). */
static size_t shared_room(const weft__compact *c)
{
    return weft__frames_room(&c->shared);
}

/* The bytes of a frame are copied as bytes: AddressSanitizer's redzones
 * between frames are not the copier's business (the shadow is cleared on
 * each copy-in instead), nor is Valgrind's view of them. */
#if WEFT_ASAN
__attribute__((no_sanitize_address))
#endif
static void copy_frame(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
#if WEFT_ASAN
    /* The interceptor would check the shadow: copy by hand. */
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
#else
    memcpy(d, s, n);
#endif
}

/* One more on a test counter.  Not a read-modify-write: this runs on
 * every copy and every start on a finished task's stack, and only the
 * tests read the counters (one loop at a time). */
static void count(_Atomic unsigned long *counter)
{
    atomic_store_explicit(
        counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

/* The test counter of bytes of room, changed by `delta`, as count()
 * does (every compact task's buffer passes here). */
static void room_add(size_t delta)
{
    atomic_store_explicit(
        &weft__compact_room,
        atomic_load_explicit(&weft__compact_room, memory_order_relaxed) +
            delta,
        memory_order_relaxed);
}

/* A buffer with room for at least `need` bytes, or NULL. */
static weft__csave *csave_new(weft__compact *c, size_t need)
{
    size_t total = (sizeof(weft__csave) + need + 15) & ~(size_t)15;
    weft__csave *s;
    if (total > SLAB_MAX) {
        if (!(s = weft__malloc(total)))
            return NULL;
    } else if ((s = c->slab_free[total / 16])) {
        c->slab_free[total / 16] = *(weft__csave **)(void *)s->bytes;
    } else {
        if ((size_t)(c->slab_end - c->slab_at) < total) {
            slab_block *b = weft__malloc(SLAB_BLOCK);
            if (!b)
                return NULL;
            b->next = c->blocks;
            c->blocks = b;
            c->slab_at = (char *)(b + 1);
            c->slab_end = (char *)b + SLAB_BLOCK;
        }
        s = (weft__csave *)(void *)c->slab_at;
        c->slab_at += total;
    }
    s->len = 0;
    s->cap = (uint32_t)(total - sizeof *s);
    room_add(s->cap);
    return s;
}

static void csave_free(weft__compact *c, weft__csave *s)
{
    if (!s)
        return;
    room_add(-(size_t)s->cap);
    size_t total = sizeof *s + s->cap;
    if (total > SLAB_MAX) {
        weft__free(s);
        return;
    }
    *(weft__csave **)(void *)s->bytes = c->slab_free[total / 16];
    c->slab_free[total / 16] = s;
}

/* A buffer of at least `need` bytes in place of old, whose bytes are
 * stale (the task is in place, or about to be copied out anew).  NULL,
 * with old kept, if there is no memory. */
static weft__csave *csave_grow(weft__compact *c, weft__csave *old,
                               size_t need)
{
    weft__csave *s = csave_new(c, need);
    if (s)
        csave_free(c, old);
    return s;
}

_Noreturn static void out_of_memory(weft__record *f, size_t need)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf,
                     "weft: no memory to save compact task #%u's %zu bytes "
                     "of stack\n",
                     f->idx, need);
    if (n > 0 && write(2, buf, (size_t)n) < 0)
        abort();
    abort();
}

/* The owner's frame goes to its buffer; its context becomes the
 * deferred one. */
static void evict(weft__compact *c, weft__record *o)
{
    char *sp = o->exec.ctx.sp;
    size_t len = (size_t)(c->save_top - sp);
    if (c->reserved_at && len > c->reserved_at &&
        len - c->reserved_at > c->depth)
        c->depth = (uint32_t)(len - c->reserved_at);
    if (!o->csave || o->csave->cap < len) {
        /* A suspension by a path that did not reserve, or deeper below
         * its reserve than any this loop had seen. */
        weft__csave *s = csave_grow(c, o->csave, len);
        if (!s)
            out_of_memory(o, len);
        o->csave = s;
    }
    copy_frame(o->csave->bytes, sp, len);
    o->csave->len = (uint32_t)len;
    o->exec.ctx.sp = c->away_sp;
}

/* The maker's make (coro/ctx.h), inside the switch to `to`, a compact
 * task that is away, on the copy stack: its frame comes in place, copied
 * back or made if it never ran, after the owner's goes out. */
static void *bring_in(weft__ctx_maker *m, weft__ctx *to)
{
    weft__compact *c = (weft__compact *)(void *)m;
    weft__record *f = (weft__record *)(void *)((char *)to -
                                               offsetof(weft__record,
                                                        exec.ctx));
    if (c->owner)
        evict(c, c->owner);
#if WEFT_ASAN
    /* The shadow still shows the old frames' redzones. */
    __asan_unpoison_memory_region(c->shared.lo, c->shared.size);
#endif
    weft__csave *s = f->csave;
    if (s && s->len) {
        count(&weft__compact_copies);
        char *sp = c->save_top - s->len;
        copy_frame(sp, s->bytes, s->len);
        f->exec.ctx.sp = sp;
    } else {
        weft__ctx_make(&f->exec.ctx, c->shared.lo, shared_room(c), c->entry,
                       f);
    }
#if WEFT_VALGRIND
    VALGRIND_MAKE_MEM_DEFINED(f->exec.ctx.sp,
                              (size_t)(c->save_top - (char *)f->exec.ctx.sp));
#endif
    c->owner = f;
    c->reserved_at = 0;
    return f->exec.ctx.sp;
}

static int compact_new(weft__loop *L, void (*entry)(void *))
{
    weft__compact *c = weft__calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    if (weft__stack_get(L->stacks, 0, &c->shared)) {
        weft__free(c);
        return -ENOMEM;
    }
    if (weft__stack_get(L->stacks, COPY_STACK, &c->copy_stack)) {
        weft__stack_put(L->stacks, &c->shared);
        weft__free(c);
        return -ENOMEM;
    }
    if (!c->shared.guarded)
        weft__canary_set(&c->shared);
    c->top = (char *)(((uintptr_t)c->shared.lo + shared_room(c)) &
                      ~(uintptr_t)15);
    c->save_top = c->top - WEFT__CTX_TOP_UNUSED;
    c->entry = entry;
    c->maker.stack_top =
        (void *)(((uintptr_t)c->copy_stack.lo + c->copy_stack.size) &
                 ~(uintptr_t)15);
    c->maker.make = bring_in;
    c->away_sp = WEFT__CTX_DEFER(&c->maker);
    L->compact = c;
    return 0;
}

/* ---- the interface ---- */

int weft__compact_prepare(weft__loop *L, weft__record *f,
                          void (*entry)(void *))
{
    int rc;
    if (!L->compact && (rc = compact_new(L, entry)))
        return rc;
    weft__compact *c = L->compact;
    f->stack = c->shared;
    if (f->csave)
        f->csave->len = 0;
    f->exec.ctx.sp = c->away_sp;
    weft__exec_set_stack(&f->exec, c->shared.lo, shared_room(c));
    return 0;
}

bool weft__compact_can_pass(const weft__loop *L, const weft__record *next)
{
#if WEFT_ASAN || WEFT_TSAN
    /* The sanitizers must see every switch: the maker's way. */
    (void)L, (void)next;
    return false;
#else
    return WEFT__IS_COMPACT(next) && !next->started && L->compact &&
           !L->compact->owner;
#endif
}

void weft__compact_pass(weft__loop *L, weft__record *next)
{
    weft__compact *c = L->compact;
    count(&weft__compact_passes);
    c->owner = next;
    c->reserved_at = 0;
    weft__ctx_enter(c->shared.lo, shared_room(c), c->entry, next);
}

/* weft__compact_reserve's buffer that must grow: out of its line, so that
 * the usual case (room enough) saves no registers. */
__attribute__((noinline)) static int reserve_more(weft__compact *c,
                                                  weft__record *f,
                                                  size_t need)
{
    weft__csave *s = csave_grow(c, f->csave, need);
    if (!s)
        return -ENOMEM;
    f->csave = s;
    return 0;
}

int weft__compact_reserve(weft__loop *L, weft__record *f)
{
    weft__compact *c = L->compact;
    char *here = __builtin_frame_address(0);
    size_t above = (size_t)(c->save_top - here);
    c->reserved_at = (uint32_t)above;
    size_t need = above + (c->depth ? c->depth : SUSPEND_DEPTH);
    if (__builtin_expect(f->csave && f->csave->cap >= need, 1))
        return 0;
    return reserve_more(c, f, need);
}

void weft__compact_finish(weft__loop *L, weft__record *f)
{
    weft__compact *c = L->compact;
    if (c && c->owner == f)
        c->owner = NULL;
    if (f->csave)
        csave_free(c, f->csave);
    f->csave = NULL;
    memset(&f->stack, 0, sizeof f->stack);
}

/* For the tests: the calling thread's loop's learned suspension depth. */
unsigned weft__compact_learned_depth(void)
{
    weft__loop *L = weft__tls_loop;
    return L && L->compact ? L->compact->depth : 0;
}

bool weft__compact_away(const weft__loop *L, const weft__record *f)
{
    return WEFT__IS_COMPACT(f) && (!L->compact || L->compact->owner != f);
}

bool weft__on_shared_stack(const weft__loop *L, const void *p, size_t len)
{
    const weft__compact *c = L ? L->compact : NULL;
    if (!c || !p)
        return false;
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)c->shared.lo;
    return a < (uintptr_t)c->top && a + len > lo;
}

void weft__compact_free(weft__loop *L)
{
    weft__compact *c = L->compact;
    if (!c)
        return;
    while (c->blocks) {
        slab_block *b = c->blocks;
        c->blocks = b->next;
        weft__free(b);
    }
    weft__stack_put(L->stacks, &c->copy_stack);
    weft__stack_put(L->stacks, &c->shared);
    weft__free(c);
    L->compact = NULL;
}

#else /* WEFT_CTX_UCONTEXT */

/* A ucontext_t holds pointers into itself: it cannot be copied away and
 * back, nor deferred, and weft_spawn_ex refuses compact
 * tasks (-ENOTSUP) before any of these could be reached. */
_Atomic unsigned long weft__compact_copies;
_Atomic size_t weft__compact_room;
_Atomic unsigned long weft__compact_passes;

unsigned weft__compact_learned_depth(void)
{
    return 0;
}

int weft__compact_prepare(weft__loop *L, weft__record *f,
                          void (*entry)(void *))
{
    (void)L, (void)f, (void)entry;
    return -ENOTSUP;
}

bool weft__compact_can_pass(const weft__loop *L, const weft__record *next)
{
    (void)L, (void)next;
    return false;
}

void weft__compact_pass(weft__loop *L, weft__record *next)
{
    (void)L, (void)next;
    abort();
}

int weft__compact_reserve(weft__loop *L, weft__record *f)
{
    (void)L, (void)f;
    return 0;
}

void weft__compact_finish(weft__loop *L, weft__record *f)
{
    (void)L, (void)f;
}

bool weft__compact_away(const weft__loop *L, const weft__record *f)
{
    (void)L, (void)f;
    return false;
}

bool weft__on_shared_stack(const weft__loop *L, const void *p, size_t len)
{
    (void)L, (void)p, (void)len;
    return false;
}

void weft__compact_free(weft__loop *L)
{
    (void)L;
}

#endif

/*
 * stack.h - task stacks: pooled, lazily committed, guarded.
 *
 * Stacks of the default size are carved from chunks of address space
 * (MAP_NORESERVE, no huge pages: a task touches only the pages it uses),
 * kept in a LIFO pool so the next task reuses a stack whose pages are
 * already committed, and given back to the kernel (MADV_DONTNEED) when they
 * sit unused in the pool for a while.  Other sizes get a mapping each.
 *
 * Below every stack lies a guard region.  The guard tier is chosen once per
 * process and verified by probing (a write(2) from a guard page must fail
 * with EFAULT; qemu-user, for one, accepts advice it does not implement):
 *   guard-install  MADV_GUARD_INSTALL (Linux 6.13+): a faulting guard that
 *                  costs neither memory nor a mapping, so a million guarded
 *                  stacks share one mapping.  Where process_madvise(2)
 *                  takes it (Linux 6.15), guards are installed ahead, up to
 *                  64 per call, for the next stacks of a chunk.
 *   mprotect       PROT_NONE guard pages; each splits the mapping, so only
 *                  the first WEFT_MPROTECT_BUDGET stacks get one; later
 *                  stacks fall back to the canary.
 *   canary         a value at the bottom of the stack, checked whenever the
 *                  task switches away: catches an overflow after the fact
 *                  (if it did not jump past the canary), never prevents it.
 */
#ifndef WEFT_STACK_H
#define WEFT_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT_GUARD_SIZE ((size_t)4096)
#define WEFT_MPROTECT_BUDGET 8192

enum { WEFT__GUARD_UNKNOWN = 0, WEFT__GUARD_INSTALL, WEFT__GUARD_MPROTECT, WEFT__GUARD_CANARY };

typedef struct weft__stacks weft__stacks;

/* A stack handed to a task. */
typedef struct weft__stack {
    void *lo;     /* lowest usable byte */
    size_t size;  /* usable bytes */
    bool guarded; /* a faulting guard lies below lo */
    unsigned vg_id; /* Valgrind's stack id, when running under it */
} weft__stack;

int weft__stacks_new(weft__stacks **out);
void weft__stacks_free(weft__stacks *s);

/* A stack of `size` usable bytes (0: default).  Returns 0 or -ENOMEM. */
int weft__stack_get(weft__stacks *s, size_t size, weft__stack *out);
/* Gives a stack back.  A pooled stack may be given back by the task still
 * running on it (nothing reuses it before that task switches away); a stack
 * with a mapping of its own is unmapped, so for a stack still in use call
 * weft__stack_put_later instead. */
void weft__stack_put(weft__stacks *s, const weft__stack *st);
/* Gives back the stack the caller runs on: the pooled kind at once, the
 * other kind at the next call (of this or weft__stack_reap). */
void weft__stack_put_later(weft__stacks *s, const weft__stack *st,
                           weft__stack *dead);
void weft__stack_reap(weft__stacks *s, weft__stack *dead);

/* Gives back the pages of pooled stacks that no task took since the
 * previous call; call about once a second. */
void weft__stacks_trim(weft__stacks *s);
/* Are there pooled stacks whose pages a later trim would give back? */
bool weft__stacks_dirty(const weft__stacks *s);

/* Canary tier: write / check the value at the bottom of a stack. */
void weft__canary_set(const weft__stack *st);
bool weft__canary_ok(void *lo);

/* Is addr inside the guard region below [lo, ...)? */
static inline bool weft__in_guard(const void *addr, const void *lo)
{
    uintptr_t a = (uintptr_t)addr, l = (uintptr_t)lo;
    return a < l && a >= l - WEFT_GUARD_SIZE;
}

/* Process-wide guard tier (GUARD_*), decided by the first loop. */
int weft__guard_tier(void);

#endif

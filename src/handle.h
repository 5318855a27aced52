/*
 * handle.h - handles of the objects weft allocates and hands out: what
 * the caller holds is not a pointer but an encoded value, checked against
 * a process-wide table before anything is dereferenced, so a closed, freed
 * or made-up handle is -EINVAL and never a stray read or write.
 *
 * A handle is 64 bits:
 *
 *     63   62..56  55..24       23..0
 *     1    type    generation   slot index
 *
 * Bit 63 is never set in a user-space pointer (x86-64 and AArch64 keep
 * user addresses below 2^48 or 2^52), so a real pointer cast to a handle
 * type fails the first compare.  A live slot stores its handle's full
 * value (`key`): one 64-bit compare checks type, index and generation.
 *
 * Invariants:
 * - The table is never freed and never moves: a two-level table whose
 *   chunks, once allocated, stay.  So reading a slot is always safe,
 *   whatever the handle.
 * - A slot's generation only grows; a slot whose generation is exhausted
 *   is retired (never reused) instead of wrapping, so a stale handle can
 *   never match a later occupant.
 * - A key is published (release) after the slot's obj and owner are set,
 *   and cleared (weft__handle_revoke) before they may change.
 *
 * Which thread may free an object decides how it is read:
 * - Objects of one loop are created and freed only on their loop's
 *   thread.  weft__handle_owned checks the slot's owner before the
 *   object: a call from another thread gets -EPERM and never touches the
 *   object, which its own thread may be freeing.
 * - Objects of no loop used by one thread at a time: weft__handle_get.
 * - Bars are updated from any thread while another may close them: a
 *   reader pins the handle (weft__handle_pin, a per-thread hazard slot),
 *   and the closer revokes the key, then waits until no thread pins it
 *   (weft__handle_unpinned) before it frees anything.  The pin costs the
 *   reader two plain stores: the closer pays for the ordering with one
 *   membarrier(2) (an asymmetric fence); where the kernel has none, the
 *   reader fences.
 */
#ifndef WEFT_HANDLE_H
#define WEFT_HANDLE_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Handle types (7 bits). */
enum {
    WEFT__H_BAR = 1,
    WEFT__H_GEN = 2,
    WEFT__H_QUEUE = 3,
    WEFT__H_GROUP = 4,
    WEFT__H_TASKSET = 5,
    WEFT__H_FUTURE = 6,
    WEFT__H_LOOP = 7,
};

#define WEFT__H_IDX_BITS 24
#define WEFT__H_IDX_MASK ((1u << WEFT__H_IDX_BITS) - 1)
#define WEFT__H_GEN_SHIFT 24
#define WEFT__H_TYPE_SHIFT 56
/* 1024 slots of 32 bytes per chunk, 16384 chunk pointers (128 KiB of
 * .bss, untouched until used). */
#define WEFT__H_CHUNK_BITS 10
#define WEFT__H_CHUNK_MASK ((1u << WEFT__H_CHUNK_BITS) - 1)
#define WEFT__H_NCHUNKS (1u << (WEFT__H_IDX_BITS - WEFT__H_CHUNK_BITS))

typedef struct weft__hslot {
    _Atomic uint64_t key;        /* the live handle's value; 0 when free */
    _Atomic(void *) obj;         /* the object, while key is live */
    _Atomic(const void *) owner; /* its loop, or NULL: any thread's */
    uint32_t gen;                /* table lock: the last generation used */
    uint32_t next_free;          /* table lock: free list (0 ends it) */
} weft__hslot;

extern _Atomic(weft__hslot *) weft__hchunks[WEFT__H_NCHUNKS];

/* The slot v names if v is of `type` and its chunk exists, else NULL.
 * Does not say that the slot is live. */
static inline weft__hslot *weft__handle_slot(uint64_t v, unsigned type)
{
    if ((v >> WEFT__H_TYPE_SHIFT) != (0x80u | type))
        return NULL;
    uint32_t idx = (uint32_t)v & WEFT__H_IDX_MASK;
    weft__hslot *c = atomic_load_explicit(
        &weft__hchunks[idx >> WEFT__H_CHUNK_BITS], memory_order_acquire);
    return c ? &c[idx & WEFT__H_CHUNK_MASK] : NULL;
}

/* The object behind h if h is a live handle of `type`, else NULL.  For
 * objects no other thread frees meanwhile. */
static inline void *weft__handle_get(const void *h, unsigned type)
{
    uint64_t v = (uint64_t)(uintptr_t)h;
    weft__hslot *s = weft__handle_slot(v, type);
    if (!s || atomic_load_explicit(&s->key, memory_order_acquire) != v)
        return NULL;
    return atomic_load_explicit(&s->obj, memory_order_relaxed);
}

/* A loop's object: 0 and *obj if h is live, of `type` and owned by
 * `owner` (the calling thread's loop; NULL: none); -EINVAL if h is not a
 * live handle of `type`; -EPERM if another loop owns it (its object is not
 * read: that loop's thread may be freeing it).  Only the owner's thread
 * creates objects it owns, and it is here, so an owner read after a live
 * key is that key's. */
static inline int weft__handle_owned(const void *h, unsigned type,
                                     const void *owner, void **obj)
{
    uint64_t v = (uint64_t)(uintptr_t)h;
    weft__hslot *s = weft__handle_slot(v, type);
    if (!s || atomic_load_explicit(&s->key, memory_order_acquire) != v)
        return -EINVAL;
    if (!owner ||
        atomic_load_explicit(&s->owner, memory_order_relaxed) != owner)
        return -EPERM;
    *obj = atomic_load_explicit(&s->obj, memory_order_relaxed);
    return 0;
}

/* A new handle of `type` for obj, owned by `owner` (a loop or NULL).
 * 0 or -ENOMEM (no slot; 2^24 live handles at most). */
int weft__handle_new(unsigned type, void *obj, const void *owner,
                     void **handle);

/* Makes h stale: every later lookup fails.  Returns the object if h was a
 * live handle of `type` and this call revoked it (one caller wins a race),
 * else NULL.  The slot stays taken until weft__handle_release. */
void *weft__handle_revoke(const void *h, unsigned type);

/* Gives the slot of a revoked handle back (retired instead when its
 * generation is exhausted). */
void weft__handle_release(const void *h);

/* weft__handle_revoke + weft__handle_release: the object, or NULL. */
void *weft__handle_free(const void *h, unsigned type);

/* ---- pins: reading an object another thread may close ---- */

/* A thread's hazard slot: the handle it is reading, or 0.  Records are
 * never freed; a thread's goes back to the pool when it exits. */
typedef struct weft__pin {
    _Atomic uint64_t h;
    bool fences; /* weft__pin_fences, kept where the pin looks */
    atomic_bool used;
    struct weft__pin *next;
} __attribute__((aligned(64))) weft__pin;

/* This thread's record, or NULL before its first pin. */
extern __thread weft__pin *weft__tls_pin
    __attribute__((tls_model("initial-exec")));
/* Set once, before any record exists: the kernel has no membarrier, so a
 * pin fences. */
extern bool weft__pin_fences;

/* This thread's record, registered on first use; NULL if out of memory. */
weft__pin *weft__pin_self(void);

/* Pins h for the caller (me: weft__pin_self's record) and returns its
 * object, or NULL if h is not a live handle of `type` (then nothing is
 * pinned).  Until weft__handle_unpin the object is not freed. */
static inline void *weft__handle_pin(weft__pin *me, const void *h,
                                     unsigned type)
{
    uint64_t v = (uint64_t)(uintptr_t)h;
    weft__hslot *s = weft__handle_slot(v, type);
    if (!s)
        return NULL;
#if defined(WEFT_SANITIZE_THREAD)
    /* ThreadSanitizer knows nothing of membarrier: sequentially
     * consistent accesses say the same to it. */
    atomic_store_explicit(&me->h, v, memory_order_seq_cst);
#else
    atomic_store_explicit(&me->h, v, memory_order_relaxed);
    /* The store must be visible before the key is read (Dekker's pattern
     * with weft__handle_unpinned): membarrier on the closer's side makes a
     * compiler barrier enough here. */
    if (__builtin_expect(me->fences, 0))
        atomic_thread_fence(memory_order_seq_cst);
    else
        atomic_signal_fence(memory_order_seq_cst);
#endif
    if (atomic_load_explicit(&s->key, memory_order_seq_cst) != v) {
        atomic_store_explicit(&me->h, 0, memory_order_relaxed);
        return NULL;
    }
    void *obj = atomic_load_explicit(&s->obj, memory_order_relaxed);
    if (!obj) /* a live key always has its object: no test for it */
        __builtin_unreachable();
    return obj;
}

/* Ends the pin: what the caller read of the object is done (release). */
static inline void weft__handle_unpin(weft__pin *me)
{
    atomic_store_explicit(&me->h, 0, memory_order_release);
}

/* After weft__handle_revoke(h): returns once no other thread pins h.  Must
 * not be called with a lock a pinning reader may wait for. */
void weft__handle_unpinned(const void *h);

#endif

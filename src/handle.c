/*
 * handle.c - the process-wide handle table and the per-thread pins (see
 * handle.h for the encoding and the invariants).
 *
 * Handing out and giving back a slot take one mutex (`mu`); both are rare
 * next to lookups, which take nothing.  The free list is LIFO (a freed
 * slot's chunk is warm); a slot reused 2^32 - 1 times is retired rather
 * than wrapped.  The chunks and the pin records are allocated with the
 * plain C allocator, not weft__malloc: they are never freed by design, and
 * the tests' leak count must not see them (failure injection still
 * applies).
 *
 * Pins are hazard pointers, one per thread that reads a bar: a record in a
 * push-only list, taken by a thread on its first pin and given back when it
 * exits (a pthread key's destructor).  A closer that finds no other live
 * record skips the barrier and the scan: a thread that registers later
 * counts itself (a sequentially consistent add) before its first pin reads
 * a key, so it sees the key revoked.
 */
#define _GNU_SOURCE
#include "handle.h"

#include "alloc.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(weft__hslot) == 32, "a handle slot is 32 bytes");

_Atomic(weft__hslot *) weft__hchunks[WEFT__H_NCHUNKS];

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t free_head; /* under mu; 0: empty */
static uint32_t top = 1;   /* under mu; slot 0 is never handed out */

/* Under mu: a slot below top (its chunk exists). */
static weft__hslot *slot_at(uint32_t idx)
{
    weft__hslot *c = atomic_load_explicit(
        &weft__hchunks[idx >> WEFT__H_CHUNK_BITS], memory_order_relaxed);
    return &c[idx & WEFT__H_CHUNK_MASK];
}

/* Under mu: the chunk of slot idx exists (published with release, read
 * with acquire by lookups on other threads). */
static int chunk_for(uint32_t idx)
{
    _Atomic(weft__hslot *) *cp = &weft__hchunks[idx >> WEFT__H_CHUNK_BITS];
    if (atomic_load_explicit(cp, memory_order_relaxed))
        return 0;
    if (weft__alloc_should_fail())
        return -ENOMEM;
    weft__hslot *c = calloc((size_t)1 << WEFT__H_CHUNK_BITS, sizeof *c);
    if (!c)
        return -ENOMEM;
    atomic_store_explicit(cp, c, memory_order_release);
    return 0;
}

int weft__handle_new(unsigned type, void *obj, const void *owner, void **handle)
{
    pthread_mutex_lock(&mu);
    uint32_t idx = free_head;
    weft__hslot *s;
    if (idx) {
        s = slot_at(idx);
        free_head = s->next_free;
    } else {
        if (top > WEFT__H_IDX_MASK || chunk_for(top)) {
            pthread_mutex_unlock(&mu);
            return -ENOMEM;
        }
        idx = top++;
        s = slot_at(idx);
    }
    uint32_t gen = ++s->gen; /* never 0; never wraps (retired at max) */
    uint64_t v = 1ull << 63 | (uint64_t)type << WEFT__H_TYPE_SHIFT |
                 (uint64_t)gen << WEFT__H_GEN_SHIFT | idx;
    atomic_store_explicit(&s->obj, obj, memory_order_relaxed);
    atomic_store_explicit(&s->owner, owner, memory_order_relaxed);
    atomic_store_explicit(&s->key, v, memory_order_release);
    pthread_mutex_unlock(&mu);
    *handle = (void *)(uintptr_t)v;
    return 0;
}

void *weft__handle_revoke(const void *h, unsigned type)
{
    uint64_t v = (uint64_t)(uintptr_t)h;
    weft__hslot *s = weft__handle_slot(v, type);
    uint64_t expect = v;
    /* Sequentially consistent: a pin's key read is ordered against it
     * (see weft__handle_unpinned). */
    if (!s || !atomic_compare_exchange_strong_explicit(&s->key, &expect, 0,
                                                       memory_order_seq_cst,
                                                       memory_order_relaxed))
        return NULL;
    return atomic_load_explicit(&s->obj, memory_order_relaxed);
}

void weft__handle_release(const void *h)
{
    uint32_t idx = (uint32_t)(uintptr_t)h & WEFT__H_IDX_MASK;
    pthread_mutex_lock(&mu);
    weft__hslot *s = slot_at(idx);
    if (s->gen != UINT32_MAX) {
        s->next_free = free_head;
        free_head = idx;
    }
    pthread_mutex_unlock(&mu);
}

void *weft__handle_free(const void *h, unsigned type)
{
    void *obj = weft__handle_revoke(h, type);
    if (obj)
        weft__handle_release(h);
    return obj;
}

/* ---- pins ---- */

__thread weft__pin *weft__tls_pin __attribute__((tls_model("initial-exec")));
bool weft__pin_fences;

static _Atomic(weft__pin *) pins; /* every record ever made */
static atomic_uint pins_used;     /* records held by live threads */
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;
static pthread_key_t pin_key;
static bool pin_key_ok;

static void pin_exit(void *p)
{
    weft__pin *me = p;
    atomic_store(&me->h, 0);
    atomic_store(&me->used, false);
    atomic_fetch_sub(&pins_used, 1);
    weft__tls_pin = NULL;
}

static long membarrier(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

/* Before the first record exists (pthread_once orders it before every
 * pin): can a closer fence every thread with membarrier? */
static void pin_init(void)
{
#if defined(WEFT_SANITIZE_THREAD)
    weft__pin_fences = true;
#else
    long q = membarrier(MEMBARRIER_CMD_QUERY);
    weft__pin_fences =
        !(q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
          membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0);
#endif
    pin_key_ok = pthread_key_create(&pin_key, pin_exit) == 0;
}

weft__pin *weft__pin_self(void)
{
    weft__pin *me = weft__tls_pin;
    if (me)
        return me;
    pthread_once(&pin_once, pin_init);
    for (me = atomic_load_explicit(&pins, memory_order_acquire); me;
         me = me->next) {
        bool no = false;
        if (!atomic_load_explicit(&me->used, memory_order_relaxed) &&
            atomic_compare_exchange_strong(&me->used, &no, true))
            break;
    }
    if (!me) {
        if (weft__alloc_should_fail() || !(me = aligned_alloc(64, sizeof *me)))
            return NULL;
        memset(me, 0, sizeof *me);
        me->fences = weft__pin_fences;
        atomic_init(&me->used, true);
        me->next = atomic_load_explicit(&pins, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(
            &pins, &me->next, me, memory_order_release, memory_order_relaxed))
            ;
    }
    /* Counted before this thread's first pin reads a key: see the file's
     * comment. */
    atomic_fetch_add(&pins_used, 1);
    if (pin_key_ok)
        pthread_setspecific(pin_key, me);
    weft__tls_pin = me;
    return me;
}

void weft__handle_unpinned(const void *h)
{
    uint64_t v = (uint64_t)(uintptr_t)h;
    weft__pin *me = weft__tls_pin;
    /* The revoke (a sequentially consistent exchange) comes before the
     * reads below. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&pins_used) <= (me ? 1u : 0u))
        return; /* no other thread can be reading */
    /* Every other thread's pin store is now visible here, or its key read
     * comes after the revoke: the membarrier is the fence their pins left
     * out. */
    if (!weft__pin_fences)
        membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
    for (weft__pin *p = atomic_load_explicit(&pins, memory_order_acquire); p;
         p = p->next)
        while (p != me &&
               atomic_load_explicit(&p->h, memory_order_acquire) == v)
            sched_yield(); /* a reader is between its pin and its unpin */
}

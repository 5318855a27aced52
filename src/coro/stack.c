/*
 * stack.c - the stack pool and the guard tiers (see stack.h).
 *
 * Layout of a chunk of default-size stacks, each `stride` bytes:
 *
 *     | guard | stack 0 ........ | guard | stack 1 ........ | ...
 *
 * A stack grows down from its top, so the guard below it catches overflow.
 * The pool is an array used as a LIFO: the most recently freed stack, whose
 * top pages are warm and committed, is handed out first.  Its capacity is
 * kept >= the number of carved stacks, so giving a stack back never
 * allocates (it happens while a task finishes).
 */
#define _GNU_SOURCE
#include "stack.h"

#include "../alloc.h"
#include "weft.h"
#include "sanitize.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#if WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if WEFT_VALGRIND
#include <valgrind/valgrind.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* process_madvise(2) on the calling process without a pidfd (Linux 6.15);
 * any advice is allowed on oneself since 6.13. */
#ifndef PIDFD_SELF_THREAD_GROUP
#define PIDFD_SELF_THREAD_GROUP (-10001)
#endif

#define CHUNK_MIN 64    /* stacks in the first chunk; chunks double */
#define CHUNK_MAX 4096
#define GUARD_BATCH 64 /* guards installed per system call, at most */
/* Pool entries are page-aligned stack bottoms with two tag bits. */
#define CLEAN_BIT ((uintptr_t)1)   /* pages already given back */
#define GUARDED_BIT ((uintptr_t)2) /* a faulting guard lies below */
#define TAG_BITS (CLEAN_BIT | GUARDED_BIT)

typedef struct chunk {
    struct chunk *next;
    char *base;
    size_t len;
    uint32_t n;      /* stacks it holds */
    uint32_t carved; /* stacks handed out so far */
    uint32_t guards; /* stacks [0, guards) have their guard installed */
    uint32_t mprot;  /* mprotect guards it holds (budget to give back) */
} chunk;

struct weft__stacks {
    size_t size;   /* default usable size */
    size_t stride; /* size + guard */
    chunk *chunks;
    uint32_t next_chunk_n;
    uintptr_t *pool; /* LIFO of stack bottoms, CLEAN_BIT tagged */
    size_t npool, cap, carved;
    size_t low_water; /* smallest npool since the last trim */
    size_t dirty;     /* pooled stacks whose pages are still committed */
};

static int tier = WEFT__GUARD_UNKNOWN;
/* Guard-install tier, and process_madvise installs guards too. */
static bool batch_guards;
static pthread_once_t tier_once = PTHREAD_ONCE_INIT;
static atomic_int mprotect_used; /* process-wide mprotect guards */

#if WEFT_VALGRIND
/* Under Valgrind?  Asked once: a client request costs a dozen
 * instructions, twice per task otherwise. */
static int on_valgrind(void)
{
    /* Every loop's thread may ask first: relaxed atomics (they all write
     * the same answer). */
    static _Atomic int v = -1;
    int got = atomic_load_explicit(&v, memory_order_relaxed);
    if (got < 0) {
        got = RUNNING_ON_VALGRIND ? 1 : 0;
        atomic_store_explicit(&v, got, memory_order_relaxed);
    }
    return got;
}
#endif

/* Does reading `addr` fault?  The kernel answers for us: write(2) from an
 * inaccessible page fails with EFAULT instead of raising SIGSEGV. */
static bool faults(const void *addr)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return false;
    ssize_t r = write(fds[1], addr, 1);
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return r < 0 && e == EFAULT;
}

/* WEFT_GUARD=mprotect or WEFT_GUARD=canary caps the tier (to test the
 * lower tiers where the better ones work). */
static int tier_cap(void)
{
    const char *e = getenv("WEFT_GUARD");
    if (e && !strcmp(e, "mprotect"))
        return WEFT__GUARD_MPROTECT;
    if (e && !strcmp(e, "canary"))
        return WEFT__GUARD_CANARY;
    return WEFT__GUARD_INSTALL;
}

/* Installs the guards of n stacks, `stride` apart from g on, in one system
 * call.  One madvise(2) per guard cost 1.3-1.9 us here, about what the
 * stack's first page costs; 64 per process_madvise(2), 0.4-0.7 us each.
 * Returns true if all n were installed. */
static bool guard_batch(char *g, size_t stride, uint32_t n)
{
#ifdef SYS_process_madvise
    struct iovec v[GUARD_BATCH];
    if (n > GUARD_BATCH)
        n = GUARD_BATCH;
    for (uint32_t i = 0; i < n; i++) {
        v[i].iov_base = g + (size_t)i * stride;
        v[i].iov_len = WEFT_GUARD_SIZE;
    }
    long r = syscall(SYS_process_madvise, PIDFD_SELF_THREAD_GROUP, v, (size_t)n,
                     MADV_GUARD_INSTALL, 0u);
    return r == (long)(n * WEFT_GUARD_SIZE);
#else
    (void)g, (void)stride, (void)n;
    return false;
#endif
}

/* Can guard_batch install guards here?  Valgrind 3.19 does not know
 * process_madvise (and says so on stderr): not tried under it. */
static bool batch_works(char *p)
{
#if WEFT_VALGRIND
    if (on_valgrind())
        return false;
#endif
    return guard_batch(p, 0, 1) && faults(p);
}

static void choose_tier(void)
{
    size_t pg = WEFT_GUARD_SIZE;
    int cap = tier_cap();
    char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        tier = WEFT__GUARD_CANARY;
        return;
    }
    if (cap <= WEFT__GUARD_INSTALL && madvise(p, pg, MADV_GUARD_INSTALL) == 0 &&
        faults(p))
        tier = WEFT__GUARD_INSTALL;
    else if (cap <= WEFT__GUARD_MPROTECT && mprotect(p, pg, PROT_NONE) == 0 &&
             faults(p))
        tier = WEFT__GUARD_MPROTECT;
    else
        tier = WEFT__GUARD_CANARY;
    if (tier == WEFT__GUARD_INSTALL)
        batch_guards = batch_works(p + pg);
    munmap(p, 2 * pg);
}

int weft__guard_tier(void)
{
    pthread_once(&tier_once, choose_tier);
    return tier;
}

/* Puts a guard on [g, g + WEFT_GUARD_SIZE).  Returns true if it faults. */
static bool guard(char *g, uint32_t *mprot)
{
    switch (weft__guard_tier()) {
    case WEFT__GUARD_INSTALL:
        return madvise(g, WEFT_GUARD_SIZE, MADV_GUARD_INSTALL) == 0;
    case WEFT__GUARD_MPROTECT:
        if (atomic_fetch_add(&mprotect_used, 1) < WEFT_MPROTECT_BUDGET &&
            mprotect(g, WEFT_GUARD_SIZE, PROT_NONE) == 0) {
            if (mprot)
                (*mprot)++;
            return true;
        }
        atomic_fetch_sub(&mprotect_used, 1);
        return false;
    default:
        return false;
    }
}

int weft__stacks_new(weft__stacks **out)
{
    weft__stacks *s = weft__calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->size = WEFT_STACK_DEFAULT;
    s->stride = s->size + WEFT_GUARD_SIZE;
    s->next_chunk_n = CHUNK_MIN;
    weft__guard_tier();
    *out = s;
    return 0;
}

void weft__stacks_free(weft__stacks *s)
{
    if (!s)
        return;
    for (chunk *c = s->chunks, *n; c; c = n) {
        n = c->next;
        atomic_fetch_sub(&mprotect_used, (int)c->mprot);
        weft__unmap(c->base, c->len);
        weft__free(c);
    }
    weft__free(s->pool);
    weft__free(s);
}

static int add_chunk(weft__stacks *s)
{
    chunk *c = weft__calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->n = s->next_chunk_n;
    c->len = (size_t)c->n * s->stride;
    c->base = weft__map(c->len, MAP_NORESERVE);
    if (!c->base) {
        weft__free(c);
        return -ENOMEM;
    }
    /* A task touches a page or two of its stack: huge pages would commit
     * 2 MiB each. */
    madvise(c->base, c->len, MADV_NOHUGEPAGE);
    c->next = s->chunks;
    s->chunks = c;
    if (s->next_chunk_n < CHUNK_MAX)
        s->next_chunk_n *= 2;
    return 0;
}

/* Carves a new default-size stack; the pool must have room for it.  Kept
 * out of weft__stack_get: inlined, its registers cost the pooled path (every
 * spawn) two more pushes and pops. */
static __attribute__((noinline)) int carve(weft__stacks *s, weft__stack *out)
{
    if (s->npool + 1 > s->cap || s->carved + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uintptr_t *p = weft__malloc(cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        if (s->npool)
            memcpy(p, s->pool, s->npool * sizeof *p);
        weft__free(s->pool);
        s->pool = p;
        s->cap = cap;
    }
    if (!s->chunks || s->chunks->carved == s->chunks->n) {
        int rc = add_chunk(s);
        if (rc)
            return rc;
    }
    chunk *c = s->chunks;
    uint32_t i = c->carved++;
    char *g = c->base + (size_t)i * s->stride;
    s->carved++;
    /* Guards ahead of need, as many as were carved so far (so at most
     * twice the stacks used get one): a guard costs no memory, only its
     * share of a page table, and one call for many is cheaper than one
     * each.  Stacks whose batch failed get theirs one by one. */
    if (batch_guards && i >= c->guards) {
        uint32_t n = i ? i : 1;
        if (n > c->n - i)
            n = c->n - i;
        if (n > GUARD_BATCH)
            n = GUARD_BATCH;
        if (guard_batch(g, s->stride, n))
            c->guards = i + n;
    }
    out->lo = g + WEFT_GUARD_SIZE;
    out->size = s->size;
    out->guarded = i < c->guards || guard(g, &c->mprot);
    /* The top page faults in when the task's first frame is written.
     * Committing it here (MADV_POPULATE_WRITE, one call per stack, or one
     * per batch) cost a system call and saved nothing measurable over the
     * fault; ahead of need it would also commit pages no task uses. */
    return 0;
}

static void prepare(weft__stack *st)
{
#if WEFT_ASAN
    /* Frames of the stack's previous task that never returned (it switched
     * away for good) may still be poisoned. */
    ASAN_UNPOISON_MEMORY_REGION(st->lo, st->size);
#endif
#if WEFT_VALGRIND
    if (on_valgrind())
        st->vg_id = VALGRIND_STACK_REGISTER((char *)st->lo,
                                            (char *)st->lo + st->size);
#endif
    if (!st->guarded)
        weft__canary_set(st);
}

int weft__stack_get(weft__stacks *s, size_t size, weft__stack *out)
{
    memset(out, 0, sizeof *out);
    if (size == 0 || size == s->size) {
        if (s->npool) {
            uintptr_t v = s->pool[--s->npool];
            if (s->npool < s->low_water)
                s->low_water = s->npool;
            if (!(v & CLEAN_BIT))
                s->dirty--;
            out->lo = (void *)(v & ~TAG_BITS);
            out->size = s->size;
            out->guarded = (v & GUARDED_BIT) != 0;
            prepare(out);
            return 0;
        }
        int rc = carve(s, out);
        if (rc)
            return rc;
        prepare(out);
        return 0;
    }
    /* Any other size: a mapping of its own, guard included. */
    size_t len = size + WEFT_GUARD_SIZE;
    char *g = weft__map(len, MAP_NORESERVE);
    if (!g)
        return -ENOMEM;
    madvise(g, len, MADV_NOHUGEPAGE);
    uint32_t mprot = 0;
    out->lo = g + WEFT_GUARD_SIZE;
    out->size = size;
    out->guarded = guard(g, &mprot);
    prepare(out);
    return 0;
}

void weft__stack_put(weft__stacks *s, const weft__stack *st)
{
#if WEFT_VALGRIND
    if (on_valgrind())
        VALGRIND_STACK_DEREGISTER(st->vg_id);
#endif
    if (st->size == s->size) {
        s->pool[s->npool++] = (uintptr_t)st->lo | (st->guarded ? GUARDED_BIT : 0);
        s->dirty++;
        return;
    }
    char *g = (char *)st->lo - WEFT_GUARD_SIZE;
    if (st->guarded && weft__guard_tier() == WEFT__GUARD_MPROTECT)
        atomic_fetch_sub(&mprotect_used, 1);
    weft__unmap(g, st->size + WEFT_GUARD_SIZE);
}

void weft__stack_reap(weft__stacks *s, weft__stack *dead)
{
    if (dead->lo) {
        weft__stack_put(s, dead);
        dead->lo = NULL;
    }
}

void weft__stack_put_later(weft__stacks *s, const weft__stack *st,
                           weft__stack *dead)
{
    if (st->size == s->size) {
        weft__stack_put(s, st);
        return;
    }
    weft__stack_reap(s, dead); /* a previous task's, not ours */
    *dead = *st;
}

void weft__stacks_trim(weft__stacks *s)
{
    /* Stacks below the low-water mark sat in the pool through the whole
     * interval: nobody needed them. */
    for (size_t i = 0; i < s->low_water && i < s->npool; i++) {
        uintptr_t v = s->pool[i];
        if (v & CLEAN_BIT)
            continue;
        madvise((void *)(v & ~TAG_BITS), s->size, MADV_DONTNEED);
        s->pool[i] = v | CLEAN_BIT;
        s->dirty--;
    }
    s->low_water = s->npool;
}

bool weft__stacks_dirty(const weft__stacks *s)
{
    return s->dirty != 0;
}

#define CANARY_MAGIC ((uint64_t)0x77656674c0ffee42ull)

void weft__canary_set(const weft__stack *st)
{
    *(volatile uint64_t *)st->lo = CANARY_MAGIC ^ (uint64_t)(uintptr_t)st->lo;
}

bool weft__canary_ok(void *lo)
{
    return *(volatile uint64_t *)lo == (CANARY_MAGIC ^ (uint64_t)(uintptr_t)lo);
}

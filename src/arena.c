/*
 * arena.c - reserved, lazily committed address space (see arena.h).
 */
#define _GNU_SOURCE
#include "arena.h"

#include "alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define HUGE_SZ ((size_t)2 << 20)
#define SMALL_STEP ((size_t)64 << 10)

int weft__arena_init(weft__arena *a, size_t bytes)
{
    bytes = (bytes + HUGE_SZ - 1) & ~(HUGE_SZ - 1);
    /* Over-reserve by 2 MiB so the base can be aligned: huge pages only
     * back 2 MiB-aligned ranges. */
    char *p = weft__map(bytes + HUGE_SZ, MAP_NORESERVE);
    if (!p)
        return -ENOMEM;
    uintptr_t aligned = ((uintptr_t)p + HUGE_SZ - 1) & ~(HUGE_SZ - 1);
    size_t head = aligned - (uintptr_t)p;
    if (head)
        munmap(p, head);
    if (HUGE_SZ - head)
        munmap((char *)aligned + bytes, HUGE_SZ - head);
    a->base = (char *)aligned;
    a->reserved = bytes;
    a->committed = 0;
    /* Small programs keep 4 KiB pages; only an arena that grows past its
     * first 2 MiB is worth huge pages. */
    if (bytes > HUGE_SZ)
        madvise(a->base + HUGE_SZ, bytes - HUGE_SZ, MADV_HUGEPAGE);
    return 0;
}

static int grow(weft__arena *a, size_t need, bool populate)
{
    if (need <= a->committed)
        return 0;
    if (need > a->reserved || weft__alloc_should_fail())
        return -ENOMEM;
    size_t step = a->committed < HUGE_SZ ? SMALL_STEP : HUGE_SZ;
    size_t to = (need + step - 1) & ~(step - 1);
    if (to > a->reserved)
        to = a->reserved;
    /* Best effort: a kernel (or emulator) without MADV_POPULATE_WRITE just
     * faults the pages in on first touch. */
    if (populate)
        madvise(a->base + a->committed, to - a->committed,
                MADV_POPULATE_WRITE);
    a->committed = to;
    return 0;
}

int weft__arena_grow(weft__arena *a, size_t need)
{
    return grow(a, need, true);
}

int weft__arena_grow_lazy(weft__arena *a, size_t need)
{
    return grow(a, need, false);
}

void weft__arena_destroy(weft__arena *a)
{
    if (a->base) {
        /* weft__unmap counts one mapping per arena, as weft__map did. */
        weft__unmap(a->base, a->reserved);
        a->base = NULL;
        a->reserved = a->committed = 0;
    }
}

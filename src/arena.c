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

/* Memory is committed 64 KiB at a time, then 2 MiB at a time once an
 * arena is past its first 2 MiB. */
#define BIG_STEP ((size_t)2 << 20)
#define SMALL_STEP ((size_t)64 << 10)

int weft__arena_init(weft__arena *a, size_t bytes)
{
    bytes = (bytes + SMALL_STEP - 1) & ~(SMALL_STEP - 1);
    char *p = weft__map(bytes, MAP_NORESERVE);
    if (!p)
        return -ENOMEM;
    a->base = p;
    a->reserved = bytes;
    a->committed = 0;
    /* 4 KiB pages, even where transparent huge pages are on for every
     * mapping: a fresh huge page is 512 pages zeroed at once, and on a
     * virtual machine the host may back it with memory no process has
     * touched yet, which costs several times more per page.  Measured
     * (bench_sleep's discipline, 1M compact sleepers on one CPU after a
     * warming process): 2.1-2.5 s to start them with huge pages for the
     * arenas, 0.34-0.40 s without; 1M default sleepers 4.2-5.5 s against
     * 3.1-3.3 s. */
    madvise(a->base, bytes, MADV_NOHUGEPAGE);
    return 0;
}

static int grow(weft__arena *a, size_t need, bool populate)
{
    if (need <= a->committed)
        return 0;
    if (need > a->reserved || weft__alloc_should_fail())
        return -ENOMEM;
    size_t step = a->committed < BIG_STEP ? SMALL_STEP : BIG_STEP;
    size_t to = (need + step - 1) & ~(step - 1);
    if (to > a->reserved)
        to = a->reserved;
    /* Best effort: a kernel (or emulator) without MADV_POPULATE_WRITE just
     * faults the pages in on first touch. */
    if (populate)
        madvise(a->base + a->committed, to - a->committed, MADV_POPULATE_WRITE);
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

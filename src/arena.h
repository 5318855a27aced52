/*
 * arena.h - a large reservation of address space that is committed as it
 * grows, never moved.
 *
 * Task slots, task records, the ready ring and the timer heap live in
 * arenas: growing one never copies or invalidates a pointer, and memory is
 * committed in bulk (MADV_POPULATE_WRITE, 4 KiB pages: arena.c says why not
 * huge ones) instead of one 12 us page fault at a time.  The reservation is
 * MAP_NORESERVE: untouched parts cost nothing but address space.
 */
#ifndef WEFT_ARENA_H
#define WEFT_ARENA_H

#include <stddef.h>

typedef struct weft__arena {
    char *base;        /* start of the reservation */
    size_t reserved;   /* bytes reserved */
    size_t committed;  /* bytes [0, committed) may be used */
} weft__arena;

/* Reserves `bytes` of address space.  Returns 0 or -ENOMEM. */
int weft__arena_init(weft__arena *a, size_t bytes);

/* Makes [0, need) usable.  Returns 0, or -ENOMEM past the reservation (or
 * when an allocation failure is injected). */
int weft__arena_grow(weft__arena *a, size_t need);

/* weft__arena_grow without committing memory: for an arena whose reserved
 * room is mostly never touched (the timer heap has room for every record,
 * and sleepers use the wheel), pages come as they are first written. */
int weft__arena_grow_lazy(weft__arena *a, size_t need);

void weft__arena_destroy(weft__arena *a);

#endif

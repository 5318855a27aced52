/*
 * alloc.h - every allocation weft makes goes through here.
 *
 * One choke point lets the test suite count live allocations and mappings
 * (a leak fails the test) and make the N-th allocation fail, proving that
 * running out of memory is an error code and never an abort.  Production
 * builds pay one predictable branch per call.
 */
#ifndef WEFT_ALLOC_H
#define WEFT_ALLOC_H

#include <stddef.h>

/* Counters read by the tests.  Updated with relaxed atomics: thread-pool
 * threads allocate too. */
extern long weft__alloc_live;   /* blocks from weft__malloc not yet freed */
extern long weft__map_live;     /* mappings from weft__map not yet unmapped */

/* Failure injection: when > 0, it is decremented by every allocation or
 * mapping and the one that brings it to 0 fails.  0 disables injection. */
extern long weft__alloc_fail_countdown;

void *weft__malloc(size_t size);
void *weft__calloc(size_t n, size_t size);
void weft__free(void *p);
char *weft__strndup(const char *s, size_t max);

/* Anonymous private read-write mapping; NULL on failure.  flags are added
 * to MAP_PRIVATE | MAP_ANONYMOUS. */
void *weft__map(size_t size, int flags);
void weft__unmap(void *p, size_t size);

/* One injectable failure point for allocations made some other way (an
 * arena committing more memory).  Returns 1 if this call must fail. */
int weft__alloc_should_fail(void);

#endif

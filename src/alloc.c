/*
 * alloc.c - the allocation choke point (see alloc.h).
 */
#define _GNU_SOURCE
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

long weft__alloc_live;
long weft__map_live;
long weft__alloc_fail_countdown;

static void count(long *c, long d)
{
    __atomic_fetch_add(c, d, __ATOMIC_RELAXED);
}

int weft__alloc_should_fail(void)
{
    long n = __atomic_load_n(&weft__alloc_fail_countdown, __ATOMIC_RELAXED);
    if (__builtin_expect(n <= 0, 1))
        return 0;
    return __atomic_sub_fetch(&weft__alloc_fail_countdown, 1,
                              __ATOMIC_RELAXED) == 0;
}

void *weft__malloc(size_t size)
{
    if (weft__alloc_should_fail())
        return NULL;
    void *p = malloc(size ? size : 1);
    if (p)
        count(&weft__alloc_live, 1);
    return p;
}

void *weft__calloc(size_t n, size_t size)
{
    if (weft__alloc_should_fail())
        return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p)
        count(&weft__alloc_live, 1);
    return p;
}

void weft__free(void *p)
{
    if (p) {
        count(&weft__alloc_live, -1);
        free(p);
    }
}

char *weft__strndup(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    char *d = weft__malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void *weft__map(size_t size, int flags)
{
    if (weft__alloc_should_fail())
        return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    count(&weft__map_live, 1);
    return p;
}

void weft__unmap(void *p, size_t size)
{
    if (p) {
        munmap(p, size);
        count(&weft__map_live, -1);
    }
}

/*
 * service.c - the registry of loop services: how features built on the core
 * (the thread pool, progress bars, generators, ...) take part in the host
 * loop's turns without the loop naming them.
 *
 * A loop has a handful of services at most, so a list walked in
 * registration order is all it needs; a feature registers on first use and
 * finds its own state again with weft__service_find.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"

void weft__service_add(weft__loop *L, weft__service *s)
{
    weft__service **p = &L->services;
    while (*p)
        p = &(*p)->next;
    s->next = NULL;
    *p = s;
}

weft__service *weft__service_find(weft__loop *L, const weft__service_ops *ops)
{
    for (weft__service *s = L->services; s; s = s->next)
        if (s->ops == ops)
            return s;
    return NULL;
}

weft__service *weft__service_get(weft__loop *L, const weft__service_ops *ops,
                                 size_t size)
{
    weft__service *sv = weft__service_find(L, ops);
    if (sv)
        return sv;
    if (!(sv = weft__calloc(1, size)))
        return NULL;
    sv->ops = ops;
    weft__service_add(L, sv);
    return sv;
}

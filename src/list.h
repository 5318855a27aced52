/*
 * list.h - the one intrusive doubly linked list of the code base: wait
 * queues of task records, a loop's generators, the thread pool's job queue.
 *
 * The element embeds a weft__link; the list is a head and a tail, both
 * NULL when empty, so that an all-zero list is a valid empty one (a
 * primitive in the caller's storage needs no initializer call).  Push at
 * the tail, remove anywhere, pop at the head: O(1) each, no allocation.
 */
#ifndef WEFT_LIST_H
#define WEFT_LIST_H

#include <stddef.h>

typedef struct weft__link {
    struct weft__link *next, *prev;
} weft__link;

typedef struct weft__list {
    weft__link *head, *tail;
} weft__list;

/* The element of type T whose weft__link member `m` is at p. */
#define weft__container_of(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))

static inline void weft__list_push(weft__list *l, weft__link *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

static inline void weft__list_remove(weft__list *l, weft__link *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->next = n->prev = NULL;
}

/* Removes and returns the first element's link, NULL if empty. */
static inline weft__link *weft__list_pop(weft__list *l)
{
    weft__link *n = l->head;
    if (n)
        weft__list_remove(l, n);
    return n;
}

#endif

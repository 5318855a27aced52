/*
 * slotdata.c - what a 16-byte slot has no room for: the functions of tasks
 * not started yet (a per-loop table, the slot keeps a 16-bit index) and the
 * messages of finished tasks (a map from slot to string, used by tasks
 * that failed with a message, and by named tasks that succeeded before
 * anyone awaited them: their name is kept for the report at close).
 *
 * Both are open-addressing hash tables with linear probing, grown at half
 * (functions) or three quarters (messages) full.  Growth is the only
 * allocation: a spawn that cannot grow the function table keeps its
 * function in a record instead, and a message that cannot be stored is
 * dropped (the error code stays), as weft_fail documents.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"

#include <errno.h>
#include <string.h>

/* An index stays below 32768: a finished slot's x holds either an index or
 * a negative errno (core.h, weft__slot_err). */
#define FN_MAX 32767u

struct weft__msg_ent {
    uint32_t idx; /* 0: empty */
    char *msg;    /* bit 0 set: a name (weft__name_attach), not a message */
};

/* Strings from malloc are at least 2-aligned, so bit 0 is free for the
 * tag; a name is never handed out as a message. */
static bool is_name(const char *p)
{
    return (uintptr_t)p & 1;
}

static char *untag(char *p)
{
    return (char *)((uintptr_t)p & ~(uintptr_t)1);
}

static uint32_t hash_ptr(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static uint32_t hash_idx(uint32_t i)
{
    return i * 0x9e3779b1u;
}

/* ---- functions ---- */

static void fn_map_put(uint16_t *map, uint32_t cap, weft_fn *fns, uint16_t i)
{
    uint32_t h = hash_ptr((const void *)(uintptr_t)fns[i]) & (cap - 1);
    while (map[h])
        h = (h + 1) & (cap - 1);
    map[h] = i;
}

static int msgs_grow(weft__loop *L);
static int fn_grow(weft__loop *L);

int weft__slotdata_init(weft__loop *L)
{
    /* Small tables up front: most programs never grow them, so tasks and
     * messages cost no allocation of their own. */
    return fn_grow(L) || msgs_grow(L) ? -ENOMEM : 0;
}

static int fn_grow(weft__loop *L)
{
    uint32_t cap = L->fns_cap ? L->fns_cap * 2 : 16;
    if (cap > FN_MAX + 1)
        cap = FN_MAX + 1;
    weft_fn *fns = weft__malloc(cap * sizeof *fns);
    uint16_t *map = weft__calloc(cap * 2, sizeof *map);
    if (!fns || !map) {
        weft__free(fns);
        weft__free(map);
        return -1;
    }
    if (L->nfns)
        memcpy(fns, L->fns, (L->nfns + 1) * sizeof *fns);
    for (uint32_t i = 1; i <= L->nfns; i++)
        fn_map_put(map, cap * 2, fns, (uint16_t)i);
    weft__free(L->fns);
    weft__free(L->fn_map);
    L->fns = fns;
    L->fn_map = map;
    L->fns_cap = cap;
    L->fn_map_cap = cap * 2;
    return 0;
}

uint16_t weft__fn_index(weft__loop *L, weft_fn fn)
{
    if (fn == L->fn_last && L->fn_last_idx)
        return L->fn_last_idx;
    uint16_t i = 0;
    if (L->fn_map) {
        uint32_t h = hash_ptr((const void *)(uintptr_t)fn) &
                     (L->fn_map_cap - 1);
        while ((i = L->fn_map[h]) && L->fns[i] != fn)
            h = (h + 1) & (L->fn_map_cap - 1);
    }
    if (!i) {
        if (L->nfns >= FN_MAX ||
            (L->nfns + 1 >= L->fns_cap && fn_grow(L)))
            return 0;
        i = (uint16_t)++L->nfns;
        L->fns[i] = fn;
        fn_map_put(L->fn_map, L->fn_map_cap, L->fns, i);
    }
    L->fn_last = fn;
    L->fn_last_idx = i;
    return i;
}

/* ---- messages ---- */

static struct weft__msg_ent *msg_find(weft__loop *L, uint32_t idx)
{
    if (!L->msgs_cap)
        return NULL;
    uint32_t h = hash_idx(idx) & (L->msgs_cap - 1);
    while (L->msgs[h].idx) {
        if (L->msgs[h].idx == idx)
            return &L->msgs[h];
        h = (h + 1) & (L->msgs_cap - 1);
    }
    return NULL;
}

static void msg_put(struct weft__msg_ent *t, uint32_t cap, uint32_t idx,
                    char *msg)
{
    uint32_t h = hash_idx(idx) & (cap - 1);
    while (t[h].idx)
        h = (h + 1) & (cap - 1);
    t[h].idx = idx;
    t[h].msg = msg;
}

static int msgs_grow(weft__loop *L)
{
    uint32_t cap = L->msgs_cap ? L->msgs_cap * 2 : 16;
    struct weft__msg_ent *t = weft__calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (uint32_t i = 0; i < L->msgs_cap; i++)
        if (L->msgs[i].idx)
            msg_put(t, cap, L->msgs[i].idx, L->msgs[i].msg);
    weft__free(L->msgs);
    L->msgs = t;
    L->msgs_cap = cap;
    return 0;
}

void weft__msg_attach(weft__loop *L, uint32_t idx, char *msg)
{
    if (!msg)
        return;
    if ((L->msgs_len + 1) * 4 > L->msgs_cap * 3 && msgs_grow(L)) {
        weft__free(untag(msg)); /* the error code stays, without its text */
        return;
    }
    msg_put(L->msgs, L->msgs_cap, idx, msg);
    L->msgs_len++;
    L->slots[idx].flags |= WEFT__SF_MSG;
}

void weft__name_attach(weft__loop *L, uint32_t idx, char *name)
{
    if (name)
        weft__msg_attach(L, idx, (char *)((uintptr_t)name | 1));
}

const char *weft__name_peek(weft__loop *L, uint32_t idx)
{
    if (!(L->slots[idx].flags & WEFT__SF_MSG))
        return NULL;
    struct weft__msg_ent *e = msg_find(L, idx);
    return e && is_name(e->msg) ? untag(e->msg) : NULL;
}

const char *weft__msg_peek(weft__loop *L, uint32_t idx)
{
    if (!(L->slots[idx].flags & WEFT__SF_MSG))
        return NULL;
    struct weft__msg_ent *e = msg_find(L, idx);
    return e && !is_name(e->msg) ? e->msg : NULL;
}

char *weft__msg_take(weft__loop *L, uint32_t idx)
{
    if (!(L->slots[idx].flags & WEFT__SF_MSG))
        return NULL;
    L->slots[idx].flags &= (uint8_t)~WEFT__SF_MSG;
    struct weft__msg_ent *e = msg_find(L, idx);
    if (!e)
        return NULL;
    char *msg = e->msg;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    uint32_t mask = L->msgs_cap - 1, hole = (uint32_t)(e - L->msgs);
    for (uint32_t j = (hole + 1) & mask; L->msgs[j].idx; j = (j + 1) & mask) {
        uint32_t home = hash_idx(L->msgs[j].idx) & mask;
        /* Move j into the hole unless its home lies in (hole, j]. */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            L->msgs[hole] = L->msgs[j];
            hole = j;
        }
    }
    L->msgs[hole].idx = 0;
    L->msgs[hole].msg = NULL;
    L->msgs_len--;
    if (is_name(msg)) {
        weft__free(untag(msg));
        return NULL;
    }
    return msg;
}

void weft__slotdata_free(weft__loop *L)
{
    for (uint32_t i = 0; i < L->msgs_cap; i++)
        weft__free(untag(L->msgs[i].msg));
    weft__free(L->msgs);
    weft__free(L->fns);
    weft__free(L->fn_map);
    L->msgs = NULL;
    L->fns = NULL;
    L->fn_map = NULL;
}

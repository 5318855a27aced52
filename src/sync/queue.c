/*
 * queue.c - weft_queue (asyncio.Queue, LifoQueue, PriorityQueue), with
 * task_done/join and Python 3.13's shutdown.
 *
 * Items move by hand-off whenever the other side waits: a put into an empty
 * queue with a waiting getter gives the item to that getter directly, and a
 * get from a full queue with a waiting putter takes the putter's item into
 * the queue in the same step.  A woken task therefore already has its item
 * (or its item is already queued): a get cancelled with an item in flight
 * cannot lose it, and a put cancelled while queued never lands.
 *
 * Callers hold handles (handle.h): every call looks the queue up first, so
 * a freed or made-up handle is -EINVAL.  A queue belongs to no loop; it is
 * used by one thread at a time (weft/sync.h), so a lookup is enough.
 */
#define _GNU_SOURCE
#include "sync.h"

#include "../alloc.h"
#include "../handle.h"

#include <errno.h>

#include <string.h>

typedef struct weft__queue weft__queue;

struct weft__queue {
    weft_queue *handle; /* what the caller holds */
    int kind;
    size_t maxsize; /* 0: unbounded */
    int (*cmp)(const void *, const void *);
    void **buf;
    size_t cap, len, head; /* FIFO: ring from head; else [0, len) */
    size_t unfinished;     /* put and not yet task_done */
    bool shutdown;
    weft__waitq getters, putters, joiners;
};

/* Reports name the queue by the handle the program holds. */
#define QUEUE_OF(member)                                                      \
    static const void *member##_queue(const weft__waitq *w)                   \
    {                                                                         \
        return weft__container_of(w, const weft__queue, member)->handle;      \
    }
QUEUE_OF(putters)
QUEUE_OF(getters)
QUEUE_OF(joiners)
#undef QUEUE_OF

WEFT__QUEUE_WAIT_OBJ(put_wait, "a full queue (put)", "weft_queue",
                     putters_queue);
WEFT__QUEUE_WAIT_OBJ(get_wait, "an empty queue (get)", "weft_queue",
                     getters_queue);
WEFT__QUEUE_WAIT_OBJ(join_wait, "a queue's unfinished items (join)",
                     "weft_queue", joiners_queue);

/* ---- storage ---- */

static int grow(weft__queue *q)
{
    if (q->len < q->cap)
        return 0;
    size_t cap = q->cap ? q->cap * 2 : 16;
    void **b = weft__malloc(cap * sizeof *b);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < q->len; i++) /* unwrap the FIFO ring */
        b[i] = q->buf[(q->head + i) % (q->cap ? q->cap : 1)];
    weft__free(q->buf);
    q->buf = b;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static void heap_up(weft__queue *q, size_t i)
{
    void *x = q->buf[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (q->cmp(x, q->buf[p]) >= 0)
            break;
        q->buf[i] = q->buf[p];
        i = p;
    }
    q->buf[i] = x;
}

static void heap_down(weft__queue *q)
{
    size_t i = 0, n = q->len;
    void *x = q->buf[0];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && q->cmp(q->buf[c + 1], q->buf[c]) < 0)
            c++;
        if (q->cmp(q->buf[c], x) >= 0)
            break;
        q->buf[i] = q->buf[c];
        i = c;
    }
    q->buf[i] = x;
}

/* Room is guaranteed (bounded: preallocated; unbounded: grow() first). */
/* Are tasks of another loop waiting on q (see weft__waitq_foreign)? */
static bool queue_foreign(const weft__loop *L, const weft__queue *q)
{
    return weft__waitq_foreign(L, &q->getters) ||
           weft__waitq_foreign(L, &q->putters) ||
           weft__waitq_foreign(L, &q->joiners);
}

static void store(weft__queue *q, void *item)
{
    switch (q->kind) {
    case WEFT_QUEUE_FIFO:
        q->buf[(q->head + q->len++) % q->cap] = item;
        break;
    case WEFT_QUEUE_LIFO:
        q->buf[q->len++] = item;
        break;
    default:
        q->buf[q->len] = item;
        heap_up(q, q->len++);
        break;
    }
}

static void *take(weft__queue *q)
{
    void *item;
    switch (q->kind) {
    case WEFT_QUEUE_FIFO:
        item = q->buf[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        break;
    case WEFT_QUEUE_LIFO:
        item = q->buf[--q->len];
        break;
    default:
        item = q->buf[0];
        q->buf[0] = q->buf[--q->len];
        if (q->len)
            heap_down(q);
        break;
    }
    return item;
}

static bool full(const weft__queue *q)
{
    return q->maxsize && q->len >= q->maxsize;
}

/* ---- lifetime ---- */

int weft_queue_new(int kind, size_t maxsize,
                   int (*cmp)(const void *, const void *), weft_queue **out)
{
    if (!out || kind < WEFT_QUEUE_FIFO || kind > WEFT_QUEUE_PRIORITY ||
        (kind == WEFT_QUEUE_PRIORITY) != (cmp != NULL) ||
        maxsize > ((size_t)1 << 40))
        return -EINVAL;
    weft__queue *q = weft__calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->kind = kind;
    q->maxsize = maxsize;
    q->cmp = cmp;
    if (maxsize) {
        q->buf = weft__malloc(maxsize * sizeof *q->buf);
        if (!q->buf) {
            weft__free(q);
            return -ENOMEM;
        }
        q->cap = maxsize;
    }
    if (weft__handle_new(WEFT__H_QUEUE, q, NULL, (void **)&q->handle)) {
        weft__free(q->buf);
        weft__free(q);
        return -ENOMEM;
    }
    *out = q->handle;
    return 0;
}

/* The queue behind a handle, or NULL. */
static inline weft__queue *lookup(const weft_queue *h)
{
    return weft__handle_get(h, WEFT__H_QUEUE);
}

int weft_queue_free(weft_queue *h)
{
    weft__queue *q = lookup(h);
    if (!q)
        return -EINVAL;
    if (q->getters.head || q->putters.head || q->joiners.head)
        return -EBUSY;
    weft__handle_free(h, WEFT__H_QUEUE);
    weft__free(q->buf);
    weft__free(q);
    return 0;
}

/* ---- put and get ---- */

/* Inlined into both callers (one of them the common weft_queue_put): a
 * call here was 5 of the ~40 instructions of a put. */
static inline __attribute__((always_inline)) int put(weft__queue *q, void *item,
                                                     bool wait)
{
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(q, &L, &f);
    if (rc)
        return rc;
    if (queue_foreign(L, q))
        return -EPERM; /* bound to another loop's tasks */
    /* A getter reads what it points to while the putter may be away (a
     * compact task's frame: docs/compact-tasks.md). */
    WEFT__REFUSE_ON_SHARED_STACK(L, item);
    if (wait)
        WEFT__RETURN_IF_CANCELLED(L, f);
    if (q->shutdown)
        return -ESHUTDOWN;
    if (q->getters.head) { /* the queue is empty: straight to a getter */
        q->unfinished++;
        weft__waitq_wake_one(L, &q->getters, item);
        return 0;
    }
    if (full(q)) {
        if (!wait)
            return -EAGAIN;
        f->handoff = item;
        /* 0: a getter moved our item into the queue. */
        return weft__waitq_wait(L, &q->putters, &put_wait, WEFT__NO_DEADLINE);
    }
    if (!q->maxsize && grow(q))
        return -ENOMEM;
    store(q, item);
    q->unfinished++;
    return 0;
}

static int get(weft__queue *q, void **item, bool wait)
{
    weft__loop *L;
    weft__record *f = weft__sync_self(&L);
    if (!q || !item)
        return -EINVAL;
    if (!f || queue_foreign(L, q))
        return -EPERM;
    if (wait)
        WEFT__RETURN_IF_CANCELLED(L, f);
    if (q->len) {
        *item = take(q);
        weft__record *p = weft__waitq_pop(&q->putters);
        if (p) { /* room now: the first waiting putter's item goes in */
            store(q, p->handoff);
            q->unfinished++;
            weft__ready(L, p, 0);
        }
        return 0;
    }
    if (q->shutdown)
        return -ESHUTDOWN;
    if (!wait)
        return -EAGAIN;
    f->handoff = NULL;
    int rc = weft__waitq_wait(L, &q->getters, &get_wait, WEFT__NO_DEADLINE);
    if (rc == 0)
        *item = f->handoff;
    return rc;
}

int weft_queue_put(weft_queue *h, void *item)
{
    return put(lookup(h), item, true);
}

int weft_queue_try_put(weft_queue *h, void *item)
{
    return put(lookup(h), item, false);
}

int weft_queue_get(weft_queue *h, void **item)
{
    return get(lookup(h), item, true);
}

int weft_queue_try_get(weft_queue *h, void **item)
{
    return get(lookup(h), item, false);
}

size_t weft_queue_size(const weft_queue *h)
{
    const weft__queue *q = lookup(h);
    return q ? q->len : 0;
}

/* ---- join and shutdown ---- */

int weft_queue_task_done(weft_queue *h)
{
    weft__queue *q = lookup(h);
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(q, &L, &f);
    if (rc)
        return rc;
    if (queue_foreign(L, q))
        return -EPERM; /* bound to another loop's tasks */
    if (!q->unfinished)
        return -EINVAL;
    if (--q->unfinished == 0)
        weft__waitq_wake_all(L, &q->joiners, 0);
    return 0;
}

int weft_queue_join(weft_queue *h)
{
    weft__queue *q = lookup(h);
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(q, &L, &f);
    if (rc)
        return rc;
    if (queue_foreign(L, q))
        return -EPERM; /* bound to another loop's tasks */
    WEFT__RETURN_IF_CANCELLED(L, f);
    if (!q->unfinished)
        return 0;
    return weft__waitq_wait(L, &q->joiners, &join_wait, WEFT__NO_DEADLINE);
}

int weft_queue_shutdown(weft_queue *h, int immediate)
{
    weft__queue *q = lookup(h);
    weft__loop *L;
    weft__record *f;
    int rc = weft__sync_enter(q, &L, &f);
    if (rc)
        return rc;
    if (queue_foreign(L, q))
        return -EPERM; /* bound to another loop's tasks */
    q->shutdown = true;
    if (immediate) {
        q->unfinished -= q->len;
        q->len = 0;
        q->head = 0;
        if (!q->unfinished)
            weft__waitq_wake_all(L, &q->joiners, 0);
    }
    if (!q->len)
        weft__waitq_wake_all(L, &q->getters, -ESHUTDOWN);
    weft__waitq_wake_all(L, &q->putters, -ESHUTDOWN);
    return 0;
}

/*
 * core.h - the loop, the task slot and the task record: the state every
 * other file of the core shares.
 *
 * A task lives in two places:
 * - its slot (24 bytes, in the loop's slot arena) from weft_spawn until its
 *   handle is consumed and its outcome collected: generation, state, error,
 *   and the function and argument (not started) or result and message
 *   (finished).  Slots are what a million unstarted or finished tasks cost.
 * - its record (struct weft__fiber, from a pooled arena) and its stack from
 *   the moment it starts until it finishes.  A task that has not started
 *   holds no stack; a finished one has given both back.
 * A not-started task gets a record early only when it needs one: it has a
 * name or a stack size, it starts eagerly, or something awaits it.
 *
 * The runtime keeps nothing on a task's stack: wait links, the wake reason
 * and the timer live in the record; results are copied when the waiter
 * resumes.
 */
#ifndef WEFT_CORE_H
#define WEFT_CORE_H

#include "weft.h"

#include "arena.h"
#include "coro/ctx.h"
#include "coro/sanitize.h"
#include "coro/stack.h"

#include <stdbool.h>
#include <stdint.h>

_Static_assert(sizeof(void *) == 8, "weft needs a 64-bit platform");

/* Slot states. */
enum {
    SLOT_FREE = 0,
    SLOT_PENDING, /* spawned, not started: in the ready ring */
    SLOT_RUNNING, /* started: has a record and a stack */
    SLOT_DONE,    /* finished: a.result and b.msg hold the outcome */
};

/* Slot flags. */
enum {
    SF_FIBER = 1 << 0,     /* a.fiber holds a record (PENDING or RUNNING) */
    SF_CANCELLED = 1 << 1, /* cancellation requested: sticky */
    SF_OWNED = 1 << 2,     /* the handle is live (not consumed) */
    SF_DETACHED = 1 << 3,  /* the loop owns the task */
    SF_AWAITED = 1 << 4,   /* a task awaits it (consumed by weft_await) */
};

typedef struct weft__fiber weft__fiber;

typedef struct weft__slot {
    uint32_t gen;  /* bumped when the slot is freed; never 0 */
    uint8_t state;
    uint8_t flags;
    int16_t err; /* outcome once DONE: 0 or -errno */
    union {
        weft_fn fn;         /* PENDING without record */
        weft__fiber *fiber; /* SF_FIBER */
        void *result;       /* DONE */
        uint32_t next_free; /* FREE */
    } a;
    union {
        void *arg; /* PENDING without record */
        char *msg; /* DONE: weft_fail's message, owned, may be NULL */
    } b;
} weft__slot;

_Static_assert(sizeof(weft__slot) == 24, "a slot is 24 bytes");

/* What a task record is waiting for. */
enum {
    WAIT_NONE = 0, /* running, or not waiting */
    WAIT_READY,    /* in the ready ring */
    WAIT_SLEEP,    /* timer only */
    WAIT_AWAIT,    /* another task (awaiting) */
    WAIT_IO,       /* a file descriptor (and maybe a timer) */
};

#define WEFT_NO_DEADLINE UINT64_MAX

/* The per-context state the switch helper (coro/switch.h) keeps: the machine
 * context plus what the sanitizers need to follow a stack switch. */
typedef struct weft__exec {
    weft__ctx ctx;
#if WEFT_ASAN
    const void *stack_lo;
    size_t stack_size;
    void *asan_fake;
#endif
#if WEFT_TSAN
    void *tsan_fiber;
#endif
} weft__exec;

struct weft__fiber {
    weft__exec exec;
    uint32_t idx;      /* own slot */
    uint32_t waiter;   /* slot of the task awaiting this one, 0 if none */
    uint32_t awaiting; /* slot this one awaits (WAIT_AWAIT) */
    uint32_t heap_pos; /* 1 + position in the timer heap, 0 if not in it */
    uint64_t deadline; /* ns, WEFT_NO_DEADLINE if none */
    uint64_t timer_seq; /* orders equal deadlines by arming order */
    uint8_t wait;      /* WAIT_* */
    uint8_t started;   /* has run at least once */
    uint8_t canary;    /* the stack has no guard page: check the canary */
    uint8_t cancelled; /* mirrors the slot's SF_CANCELLED once started */
    uint16_t shield;   /* depth of weft_shield_begin scopes */
    uint16_t pad1;
    int wake_rc;       /* what the wait returns: 0, -ETIMEDOUT, -ECANCELED */
    int saved_errno;
    int fail_err;      /* from weft_fail */
    int io_fd;         /* WAIT_IO */
    unsigned io_ready; /* WAIT_IO: events seen */
    char *fail_msg;    /* from weft_fail, owned */
    char *errmsg;      /* message of the last failed await, owned */
    char *name;        /* owned copy, or NULL */
    weft__stack stack; /* lo == NULL until started */
    weft_fn fn;        /* until started */
    void *arg;
    weft__fiber *free_next;
};

/* One timer heap entry; the record holds its position. */
typedef struct weft__timer_ent {
    uint64_t deadline;
    weft__fiber *f;
} weft__timer_ent;

typedef struct weft__backend weft__backend;
typedef struct weft__report weft__report;

typedef struct weft__loop {
    weft__exec host;     /* the thread's own context: runs the host loop */
    weft__fiber *cur;    /* running task, NULL while the host runs */
    int budget;          /* switches left before the host polls again; 0
                          * once the main task finished */
    int *errno_ptr;      /* this thread's errno, saved around switches */

    /* Slots: index 0 is never used, so 0 means "none". */
    weft__arena slot_arena;
    weft__slot *slots;
    uint32_t slot_top;   /* slots [1, slot_top) have been handed out */
    uint32_t slot_free;  /* head of the free list, 0 if empty */
    uint32_t n_alive;    /* PENDING + RUNNING */

    /* Ready ring of slot indices.  Capacity >= n_alive + 1 always, so that
     * a wake-up never allocates. */
    weft__arena ring_arena;
    uint32_t *ring;
    uint32_t ring_cap;   /* power of two */
    uint32_t ring_head;  /* free-running counters, index with & (cap-1) */
    uint32_t ring_tail;

    /* Task records. */
    weft__arena fiber_arena;
    weft__fiber *fibers;
    uint32_t fiber_top;
    weft__fiber *fiber_free;

    /* Timer min-heap by (deadline, timer_seq).  Capacity >= records. */
    weft__arena heap_arena;
    weft__timer_ent *heap;
    uint32_t heap_len;
    uint64_t timer_seq;

    weft__stacks *stacks;
    weft__backend *backend;

    /* Wake sources, for deadlock detection. */
    uint32_t n_user_timers; /* tasks with a finite deadline */
    uint32_t n_io;          /* tasks waiting on a file descriptor */
    uint32_t n_jobs;        /* thread-pool jobs in flight */
    uint32_t n_ext;         /* handles through which threads can wake us */

    uint32_t main_idx;
    bool main_done;
    bool closing;      /* main finished: everything left is being cancelled */
    bool deadlocked;
    uint8_t tag;       /* distinguishes loops in handles */
    void *main_result;
    int main_err;
    char *main_msg;

    /* A finished task's stack that had a mapping of its own: unmapped only
     * once its task has switched away for good. */
    weft__stack dead_stack;

    weft__report *reports; /* failures to print when the loop closes */
    weft__report **reports_tail;
} weft__loop;

/* The loop running on this thread, or NULL.  initial-exec: read on every
 * call, so it must be one instruction even in the shared library (which
 * therefore cannot be loaded with dlopen after start-up on a libc without
 * spare static TLS; glibc keeps some). */
extern __thread weft__loop *weft__tls_loop
    __attribute__((tls_model("initial-exec")));

/* ---- sched.c ---- */

/* Grows the ready ring to hold `alive` + 1 tasks.  0 or -ENOMEM. */
int weft__ring_reserve(weft__loop *L, uint32_t alive);

/* Ring operations: on every switch, so inline. */
static inline void weft__ring_push(weft__loop *L, uint32_t idx)
{
    L->ring[L->ring_tail++ & (L->ring_cap - 1)] = idx;
}

static inline void weft__ring_push_front(weft__loop *L, uint32_t idx)
{
    L->ring[--L->ring_head & (L->ring_cap - 1)] = idx;
}

/* The next ready slot index, 0 if none. */
static inline uint32_t weft__ring_pop(weft__loop *L)
{
    if (L->ring_head == L->ring_tail)
        return 0;
    return L->ring[L->ring_head++ & (L->ring_cap - 1)];
}

/* Suspends the running task until something pushes it on the ring.
 * Returns its wake_rc; errno is preserved. */
int weft__suspend(weft__loop *L);

/* Wakes a waiting task with `rc` (cancelling its timer); no-op if it is not
 * waiting. */
void weft__wake(weft__loop *L, weft__fiber *f, int rc);

/* Suspends until woken or until `deadline` (ns): returns 0, -ETIMEDOUT or
 * -ECANCELED (wake reasons).  The caller has set f->wait. */
int weft__wait(weft__loop *L, weft__fiber *f, uint64_t deadline);

/* Runs ready tasks from the host context until the budget is spent or none
 * is ready. */
void weft__run_ready(weft__loop *L);

/* Eager start: runs slot idx (PENDING with record) now; the caller resumes
 * when it first suspends. */
void weft__start_eager(weft__loop *L, uint32_t idx);

/* Records free list. */
weft__fiber *weft__fiber_alloc(weft__loop *L);
void weft__fiber_release(weft__loop *L, weft__fiber *f);

/* ---- task.c ---- */
uint32_t weft__slot_alloc(weft__loop *L);
void weft__slot_release(weft__loop *L, uint32_t idx);
/* Marks a task finished and wakes its awaiter.  f may be NULL for a task
 * that never started. */
void weft__task_finish(weft__loop *L, uint32_t idx, weft__fiber *f,
                       void *result, int err);
/* Requests cancellation of idx and of the chain of tasks it awaits. */
int weft__cancel(weft__loop *L, uint32_t idx);
int weft__spawn_idx(weft__loop *L, weft_fn fn, void *arg,
                    const weft_spawn_opts *opts, uint32_t *out);
/* Name for reports: the task's name or "#<idx>". */
const char *weft__task_label(weft__loop *L, uint32_t idx, char *buf,
                             size_t len);
void weft__report_add(weft__loop *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- timer.c ---- */
uint64_t weft__clock_ns(void);
void weft__timer_add(weft__loop *L, weft__fiber *f, uint64_t deadline);
void weft__timer_del(weft__loop *L, weft__fiber *f);
/* Wakes every task whose deadline is <= now, in deadline then arming
 * order. */
void weft__timers_fire(weft__loop *L, uint64_t now);
/* Earliest deadline, or WEFT_NO_DEADLINE. */
uint64_t weft__timers_next(weft__loop *L);
int weft__heap_reserve(weft__loop *L, uint32_t n);
uint64_t weft__deadline_after(double seconds);

/* ---- io.c ---- */
void weft__io_ready(weft__loop *L, void *data, unsigned events);

/* Should a suspending call of f return -ECANCELED? */
static inline bool weft__cancelled(weft__loop *L, weft__fiber *f)
{
    (void)L;
    return f->cancelled && f->shield == 0;
}

/* The current task's record, or NULL (not in a task / no loop). */
static inline weft__fiber *weft__self(void)
{
    weft__loop *L = weft__tls_loop;
    return L ? L->cur : NULL;
}

#endif

/*
 * core.h - the loop, the task slot and the task record: the state every
 * other file of the core shares.
 *
 * A task lives in two places:
 * - its slot (16 bytes, in the loop's slot arena) from weft_spawn until its
 *   handle is consumed and its outcome collected: generation, state, flags,
 *   and the function (an index into L->fns) and argument (not started) or
 *   the error and result (finished); a message waits in L->msgs.  Slots are
 *   what a million unstarted or finished tasks cost.
 * - its record (struct weft__record) and its stack from the moment it
 *   starts until it finishes: the record from a pooled arena or, once
 *   many tasks live, a default task's at the top of its stack, above its
 *   frames (WEFT__REC_IN_STACK).  A task that has not started holds no
 *   stack; a finished one has given both back.
 * A not-started task gets a record early (from the arena) only when it
 * needs one: it has a name or a stack size, it starts eagerly, or its
 * function did not fit in the loop's function table.  Who awaits a task is
 * kept in L->waiter_of.
 *
 * The runtime keeps nothing in a task's frames: wait links, the wake
 * reason and the timer live in the record; results are copied when the
 * waiter resumes.
 */
#ifndef WEFT_CORE_H
#define WEFT_CORE_H

#include "weft.h"

#include "alloc.h"
#include "arena.h"
#include "coro/ctx.h"
#include "coro/sanitize.h"
#include "coro/stack.h"
#include "list.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

_Static_assert(sizeof(void *) == 8, "weft needs a 64-bit platform");

/* Slot states. */
enum {
    WEFT__SLOT_FREE = 0,
    WEFT__SLOT_PENDING, /* spawned, not started: in the ready ring */
    WEFT__SLOT_RUNNING, /* started: has a record and a stack */
    WEFT__SLOT_DONE,    /* finished: a.result and x hold the outcome */
};

/* Slot flags. */
enum {
    WEFT__SF_RECORD = 1 << 0,    /* a.rec holds a record (PENDING, RUNNING) */
    WEFT__SF_CANCELLED = 1 << 1, /* cancellation requested: sticky */
    WEFT__SF_OWNED = 1 << 2,     /* the handle may be consumed */
    WEFT__SF_DETACHED = 1 << 3,  /* the loop owns the task */
    WEFT__SF_AWAITED = 1 << 4,   /* someone waits for it: L->waiter_of */
    WEFT__SF_STACKLESS = 1 << 5, /* run by a feature: a.ext while RUNNING */
    WEFT__SF_JOINED = 1 << 6,    /* waiter_of holds a join set's id */
    WEFT__SF_MSG = 1 << 7,       /* DONE: a message waits in L->msgs */
};

typedef struct weft__record weft__record;

typedef struct weft__slot {
    uint32_t gen;  /* bumped when the slot is freed; never 0 */
    uint8_t state;
    uint8_t flags;
    /* The function, as an index into L->fns (0 if not there), until the
     * task fails; DONE: -errno if it failed (weft__slot_err).  PENDING
     * without a record: WEFT__X_COMPACT may be set beside the index. */
    uint16_t x;
    union {
        void *arg;          /* PENDING without record */
        weft__record *rec; /* WEFT__SF_RECORD */
        struct weft__stackless *ext; /* WEFT__SF_STACKLESS */
        void *result;       /* DONE */
        uint32_t next_free; /* FREE */
    } a;
} weft__slot;

/* 16 bytes: a million tasks not started yet, or finished and not awaited,
 * cost 16 MB.  The rare parts live elsewhere: a message in L->msgs
 * (WEFT__SF_MSG), a function beyond the table's 32767 in a record. */
_Static_assert(sizeof(weft__slot) == 16, "a slot is 16 bytes");

/* In a PENDING slot's x: the task is compact (WEFT_SPAWN_COMPACT).  The
 * mark moves to the record when the task starts, so that compact tasks
 * waiting to start cost no record (a default task has none either). */
#define WEFT__X_COMPACT 0x8000u
#define WEFT__X_FN(x) ((x) & ~WEFT__X_COMPACT)

/* A finished slot's outcome: 0, or -errno.  Indices into L->fns are below
 * 32768, so a success (x still the function's index) reads as 0. */
static inline int weft__slot_err(const weft__slot *s)
{
    int v = (int16_t)s->x;
    return v & (v >> 15);
}

static inline void weft__slot_set_err(weft__slot *s, int err)
{
    s->x = (uint16_t)(int16_t)err;
}

/* Where a task record is in its life between switches. */
enum {
    WEFT__WAIT_NONE = 0, /* running, or not started */
    WEFT__WAIT_READY,    /* in the ready ring */
    WEFT__WAIT_BLOCKED,  /* suspended: `kind` says on what */
};

typedef struct weft__loop weft__loop;
typedef struct weft__walk weft__walk;

/*
 * A kind of wait: what the core needs to know about a blocked task without
 * knowing the feature that blocked it.  Each feature (sleep, await, fd
 * waits, wait queues, join sets, generators, ...) defines one, statically,
 * and sets it in the record before it suspends.  Every hook may be NULL.
 */
/* A FIFO of waiting task records, linked through the records (their
 * q_link): what a waiter needs lives in its own record, so waiting never
 * allocates. */
typedef weft__list weft__waitq;

typedef struct weft__wait_kind {
    /* Undoes what the wait linked (a queue entry, a poller registration)
     * when the waiter is woken by something other than its own waker: a
     * timer, cancellation, abandonment at shutdown.  Wakers that unlink the
     * waiter themselves use weft__ready and skip this. */
    void (*leave)(weft__loop *L, weft__record *r);
    /* The tasks this waiter waits for, each passed to weft__walk_visit:
     * cancelling the waiter cancels them instead of waking it (it wakes
     * when they have finished), and wait cycles are found through them.
     * Returns false if it waits for no task (cancellation then wakes the
     * waiter with -ECANCELED). */
    bool (*targets)(weft__loop *L, weft__record *r, weft__walk *w);
    /* A task whose waiter (L->waiter_of) this record is has finished. */
    void (*task_done)(weft__loop *L, weft__record *r, uint32_t idx);
    /* What the waiter waits for, in a few words, for reports. */
    void (*describe)(weft__loop *L, weft__record *r, char *buf, size_t len);
    /* What it waits on, for describe hooks shared by several kinds (the
     * wait queues of the sync primitives); may be NULL. */
    const char *name;
    /* For those shared hooks too, both NULL or both set: the type of the
     * object waited on as the program declares it ("weft_lock"), and the
     * object's address as the program knows it (its weft_lock *, its
     * weft_queue handle) from the wait queue inside it. */
    const char *type;
    const void *(*object)(const weft__waitq *q);
    /* The wait does not go through weft__block (a hand-off between tasks):
     * it arms and removes its own timer, so scope.c may re-arm only a
     * timer it finds armed. */
    bool self_timed;
    /* The wait does not note when it began (record.since): the hand-offs
     * of generators skip that store, which is most of their cost. */
    bool no_since;
} weft__wait_kind;

#define WEFT__NO_DEADLINE UINT64_MAX

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
    unsigned tsan_tasks; /* tasks that have run on tsan_fiber */
#endif
} weft__exec;

/* Bits of a record's scope_alert. */
#define WEFT__ALERT_SCOPE 1u
#define WEFT__ALERT_COMPACT 2u

/* Does r run on the loop's shared stack (compact.c)? */
#define WEFT__IS_COMPACT(r) (((r)->scope_alert & WEFT__ALERT_COMPACT) != 0)

struct weft__record {
    weft__exec exec;
    uint32_t idx;      /* own slot */
    uint32_t awaiting; /* slot this one awaits (weft__wait_await) */
    /* Where its timer is (timer.c): 0 if none is armed; 1 + its position
     * in the timer heap; or WEFT__IN_WHEEL with its wheel slot's number
     * (level * 64 + slot), the slot's list linked through wheel_next and
     * wheel_prev (NULL at the ends).  Pointers, not numbers: a default
     * task's record lies in its stack, not in an array. */
    uint32_t timer_pos;
    /* Scratch for walks over who-waits-for-whom (cancellation, cycle
     * checks): an intrusive stack (walk_next), so walks need neither
     * recursion nor allocation; walk_epoch marks records already
     * visited. */
    uint32_t walk_epoch;
    uint64_t deadline; /* armed timer (ns), WEFT__NO_DEADLINE if none */
    uint64_t wait_deadline; /* what the blocked call itself asked for */
    uint64_t since;    /* when it last blocked (weft__block), on the loop's
                        * clock */
    uint64_t timer_seq; /* orders equal deadlines by arming order */
    /* wait, started, shield, alerts and nopen are contiguous: a reused
     * record resets them together. */
    uint8_t wait;      /* WEFT__WAIT_* */
    uint8_t started;   /* has run at least once */
    uint16_t shield;   /* depth of weft_shield_begin scopes */
    /* Read together by weft__check (one load on every suspending call). */
    union {
        struct {
            /* mirrors the slot's WEFT__SF_CANCELLED once started */
            uint8_t cancelled;
            /* WEFT__ALERT_SCOPE: some open scope is cancelled or has a
             * deadline; WEFT__ALERT_COMPACT: the task runs on the loop's
             * shared stack (compact.c).  Either sends its suspending calls
             * down weft__check's slow path - which, for a compact task,
             * makes room to save its bytes before anything waits: the
             * flag costs the other tasks nothing. */
            uint8_t scope_alert;
        };
        uint16_t alerts;
    };
    /* Read together when the task's body returns. */
    union {
        struct {
            uint8_t nscopes; /* open cancel scopes (scope.c) */
            uint8_t njoins;  /* open join sets (join.c) */
        };
        uint16_t nopen;
    };
    /* After the fields every switch and wait touches, which fill the
     * first 64 bytes. */
    weft__record *wheel_next, *wheel_prev;
    int wake_rc;       /* what the wait returns: 0, -ETIMEDOUT, -ECANCELED */
    int fail_err;      /* from weft_fail */
    int io_fd;         /* weft__wait_io */
    unsigned io_ready; /* weft__wait_io: events seen */
    const weft__wait_kind *kind; /* WEFT__WAIT_BLOCKED: on what */
    char *fail_msg;    /* from weft_fail, owned */
    char *errmsg;      /* message of the last failed await, owned */
    char *name;        /* owned copy, or NULL */
    weft__stack stack; /* lo == NULL until started; compact: the shared one */
    struct weft__csave *csave; /* compact: its bytes while away, or NULL */
    weft_fn fn;        /* its body */
    /* In a wait queue: links in the queue, which queue, and what the waker
     * hands over (an item, a permit) before waking. */
    weft__link q_link;
    weft__waitq *q_owner;
    void *handoff;
    /* Cancel scopes: allocated on the first weft_scope_open of any task
     * using this record, kept with the record (reused, freed with the
     * loop). */
    struct weft__scope_ent *scopes;
    /* The blocking operation's state, for its wait kind's hooks: set by
     * each wait whose kind reads it, stale (never read) otherwise. */
    void *wait_obj;
    /* The innermost of the join sets this task has open (join.c), NULL if
     * none; older ones follow through their `outer` links. */
    struct weft__joinset *join;
    /* Owned by the feature that spawned this task, for its own use (a
     * generator's producer finds its generator here). */
    void *role;
    weft__record *walk_next; /* with walk_epoch */
    union {
        void *arg;     /* until started */
        weft__record *free_next; /* released: the next free record */
    };
};

/* Where a task's record lives.  The record arena keeps records side by
 * side, reused last-freed first: the records of the tasks a loop switches
 * among stay in the caches together.  Many live tasks outgrow the caches
 * anyway, and then the arena costs memory the tasks' stacks have room
 * for: once the arena holds WEFT__ARENA_RECORDS records, none of them
 * free, a default task that starts gets its record at the top of its own
 * stack, in the page its first frames fault in anyway - a sleeping task
 * then costs that page and no more.  (With every record in its stack, 100
 * tasks taking turns on a lock missed the first-level cache 2.3 times as
 * often: each stack's top lies at the same offset in its page, so all the
 * records and top frames compete for the same few cache sets.)  The arena
 * always holds the records of compact tasks, of tasks given one before
 * they start (a name, a stack size) and, under ThreadSanitizer, all of
 * them: its fiber per context lives with a record in the arena
 * (weft__exec_reuse_task). */
#define WEFT__REC_IN_STACK (!WEFT_TSAN)
#define WEFT__ARENA_RECORDS 1024u
/* The arena's share, WEFT__ARENA_RECORDS.  The test suite may lower it
 * before any loop runs (0: every default task's record in its stack, so
 * that all the tests run with records there: WEFT_TEST_RECORDS_IN_STACKS,
 * tests/check.c). */
extern uint32_t weft__arena_records;
/* The bytes a record takes at its stack's top. */
#define WEFT__REC_ROOM ((sizeof(weft__record) + 63) & ~(size_t)63)

/* The bytes of st a task's frames may use: all of it, but for the stack
 * pool's (the default size), whose top WEFT__REC_ROOM bytes hold a record
 * or nothing, never frames, whoever runs there - so that a record placed
 * there finds zeros or a released record, and is reset, not cleared. */
static inline size_t weft__frames_room(const weft__stack *st)
{
    return st->size == WEFT_STACK_DEFAULT ? st->size - WEFT__REC_ROOM
                                          : st->size;
}

/* The timer wheel's levels (timer.c). */
#define WEFT__WHEEL_LEVELS 8
/* In a record's timer_pos: its timer is in the wheel, not the heap. */
#define WEFT__IN_WHEEL 0x80000000u

/* One timer heap entry; the record holds its position. */
typedef struct weft__timer_ent {
    uint64_t deadline;
    weft__record *f;
} weft__timer_ent;

typedef struct weft__backend weft__backend;
typedef struct weft__report weft__report;

struct weft__loop {
    weft__exec host;     /* the thread's own context: runs the host loop */
    weft__record *cur;    /* running task, NULL while the host runs */
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
    weft__arena rec_arena;
    weft__record *recs;
    uint32_t rec_top;
    uint32_t recs_in_stacks; /* default tasks' records, in their stacks */
    weft__record *rec_free;

    /* Task functions of slots without a record: slot.x indexes fns.  A
     * small open-addressing map finds a function's index. */
    weft_fn *fns;            /* [1, nfns] used; fns[0] unused */
    uint32_t nfns, fns_cap;
    uint16_t *fn_map;        /* fn_map_cap entries: an index, 0 if empty */
    uint32_t fn_map_cap;
    weft_fn fn_last;         /* the last function spawned, and its index */
    uint16_t fn_last_idx;

    /* Messages of finished slots (WEFT__SF_MSG), by slot: open addressing. */
    struct weft__msg_ent *msgs;
    uint32_t msgs_cap, msgs_len;

    /* Open join sets by id (join.c); a free entry holds the next free id,
     * tagged with bit 0. */
    struct weft__joinset **joinsets;
    uint32_t joinsets_cap, join_free;

    /* Who awaits each slot flagged WEFT__SF_AWAITED: a slot index (0 if
     * none), or a join set's id for slots flagged WEFT__SF_JOINED.  A side
     * array rather than a slot field: a not-started task's slot has no
     * room, and most slots never need it. */
    weft__arena waiter_arena;
    uint32_t *waiter_of;
    /* Who spawned each slot's task, for the task dump and the reports at
     * close: the spawning task's slot in the low 24 bits (slots are fewer
     * than 2^24), the low 8 bits of that slot's generation above - freed
     * slots are reused first, so without it a finished parent's slot
     * would name the next task spawned - or 0 if spawned outside a task.
     * Reserved for every slot and committed on first touch, as
     * waiter_of. */
    weft__arena parent_arena;
    uint32_t *parent_of;

    /* Timers (timer.c): a min-heap by (deadline, timer_seq) for those due
     * up to the tick wheel_tick, capacity >= records; later ones in the
     * wheel's slot lists (heads: NULL if empty; a bit per non-empty slot
     * in wheel_used). */
    weft__arena heap_arena;
    weft__timer_ent *heap;
    uint32_t heap_len;
    uint64_t timer_seq;
    uint64_t wheel_tick;
    uint64_t wheel_used[WEFT__WHEEL_LEVELS];
    weft__record *wheel_head[WEFT__WHEEL_LEVELS][64];

    weft__stacks *stacks;
    struct weft__compact *compact; /* the shared stack, NULL until needed */
    weft__backend *backend;
    /* Poll data with bit 0 set is not a waiting record but belongs to the
     * feature that set this hook (the fd registry): passed on unread. */
    void (*tagged_ready)(weft__loop *L, uintptr_t data, unsigned events);
    /* Features that take part in the host loop's turns (see weft__service),
     * in registration order. */
    struct weft__service *services;

    /* Wake sources, for deadlock detection. */
    uint32_t n_user_timers; /* tasks with a finite deadline */
    uint32_t n_io;          /* tasks waiting on a file descriptor */
    uint32_t n_sources;     /* weft__source_ref: work in flight elsewhere */

    uint32_t walk_epoch;    /* see weft__record.walk_epoch */
    uint32_t scope_serial;  /* numbers cancel scopes for their handles */
    /* The clock as of this turn's timers (ns): never ahead of the real
     * clock, so a deadline checked against it is never early. */
    uint64_t now;
    uint32_t main_idx;
    bool main_done;
    bool closing;      /* main finished: everything left is being cancelled */
    bool deadlocked;
    uint8_t tag;       /* distinguishes loops in handles */
    /* Tells loops apart exactly, for the whole process's life (tag is its
     * low 8 bits): a lock's holder is a task of this loop. */
    uint64_t serial;
    void *main_result;
    int main_err;
    char *main_msg;

    /* A finished task's stack that had a mapping of its own: unmapped only
     * once its task has switched away for good. */
    weft__stack dead_stack;

    weft__report *reports; /* failures to print when the loop closes */
    weft__report **reports_tail;
    /* The names and functions of the tasks shutdown cancelled while
     * nobody had a claim on them (weft__close_notes_take), for the
     * reports at close, when their records are gone; ascending by slot. */
    struct weft__close_note *close_notes;
    uint32_t n_close_notes;

    /* Counters read by weft_loop_metrics (debug/metrics.c), kept where
     * they cost least: per task created, per turn, per poll - never per
     * switch (task runs are the budget spent in each turn). */
    uint64_t m_created;   /* slots handed out: tasks of every kind */
    uint64_t m_runs;      /* switches into tasks */
    uint64_t m_polls;     /* poller calls */
    uint64_t m_slept_ns;  /* time in poller calls that could block */
    uint32_t m_ready_peak; /* longest ready queue at the start of a turn */

    /* Turns of the host loop, read by the blocked-loop watchdog
     * (debug/watchdog.c) from its own thread, with `budget` and `cur`. */
    uint32_t wd_turns;
};

/* The watchdog's view of the loop's progress: stores the loop thread makes
 * with no more cost than plain ones (a release store is a plain store on
 * x86-64) and that another thread may read. */
static inline void weft__budget_set(weft__loop *L, int v)
{
    __atomic_store_n(&L->budget, v, __ATOMIC_RELAXED);
}
/* One switch spent: a plain decrement (one instruction; an aligned int is
 * never torn on the targets weft supports, so the watchdog's relaxed load
 * sees the old value or the new), but an atomic store where
 * ThreadSanitizer checks that every cross-thread access is atomic (and
 * where `cur` is published with release order for the same reason). */
static inline void weft__budget_spend(weft__loop *L)
{
#if WEFT_TSAN
    __atomic_store_n(&L->budget, L->budget - 1, __ATOMIC_RELAXED);
#else
    L->budget--;
#endif
}
static inline void weft__running_set(weft__loop *L, weft__record *next)
{
#if WEFT_TSAN
    __atomic_store_n(&L->cur, next, __ATOMIC_RELEASE);
#else
    /* A plain store: even a relaxed atomic one cost two instructions a
     * switch (the compiler keeps other accesses from moving across it).
     * An aligned pointer is never torn on the targets weft supports, and
     * the watchdog reads a record only once it has run for the whole
     * threshold, long after the loop wrote it. */
    L->cur = next;
#endif
}

/* Sets the id and function of a record about to run a task: read by the
 * watchdog from its thread (it names a task that holds its loop), so
 * atomic where ThreadSanitizer checks - a record is reused by later
 * tasks while the watchdog may be reading it - and plain stores elsewhere
 * (the watchdog only keeps what it read if the loop has not moved on). */
static inline void weft__record_identify(weft__record *f, uint32_t idx,
                                         weft_fn fn)
{
#if WEFT_TSAN
    __atomic_store_n(&f->idx, idx, __ATOMIC_RELAXED);
    __atomic_store_n(&f->fn, fn, __ATOMIC_RELAXED);
#else
    f->idx = idx;
    f->fn = fn;
#endif
}

/* The loop running on this thread, or NULL.  initial-exec: read on every
 * call, so it must be one instruction even in the shared library (which
 * therefore cannot be loaded with dlopen after start-up on a libc without
 * spare static TLS; glibc keeps some). */
extern __thread weft__loop *weft__tls_loop
    __attribute__((tls_model("initial-exec")));

/* ---- compact.c: tasks sharing one stack (docs/compact-tasks.md) ---- */

/* A compact task is about to start: its stack becomes the loop's shared
 * stack (made on first use) and its context the loop's deferred one, which
 * puts its frame in place (entry(f) on a fresh frame) when it is switched
 * to.  Returns 0 or -ENOMEM. */
int weft__compact_prepare(weft__loop *L, weft__record *f,
                          void (*entry)(void *));
/* A compact task finished on the shared stack (its frames there are dead,
 * the stack has no owner) and `next` is to run: can next start right
 * there, without a switch?  (A compact task that has not started, in a
 * build without sanitizers.) */
bool weft__compact_can_pass(const weft__loop *L, const weft__record *next);
/* Then starts it there, on the shared stack's top, abandoning the
 * caller's frames; L->cur must already be next.  Does not return. */
_Noreturn void weft__compact_pass(weft__loop *L, weft__record *next);
/* A compact task suspends: its save buffer grows now, if it must, so that
 * copying it out later never allocates.  Returns 0 or -ENOMEM. */
int weft__compact_reserve(weft__loop *L, weft__record *f);
/* A compact task finished or is abandoned: its frame and buffer go. */
void weft__compact_finish(weft__loop *L, weft__record *f);
/* Is f's frame elsewhere (a compact task copied out, or not started)? */
bool weft__compact_away(const weft__loop *L, const weft__record *f);
/* At loop close. */
void weft__compact_free(weft__loop *L);
/* For the tests: how deep below weft__compact_reserve the calling thread's
 * loop has seen a suspension go (0: none seen, or no compact task yet). */
unsigned weft__compact_learned_depth(void);
/* Debug checks (WEFT_CHECKS): is [p, p + len) on the loop's shared stack,
 * where a suspended compact task's frame is not addressable? */
bool weft__on_shared_stack(const weft__loop *L, const void *p, size_t len);
/* Debug builds (WEFT_CHECKS): makes the calling public function return
 * -EINVAL when p, a pointer it would hand to others (a task, a pool
 * thread, another loop, a queue's getter), points into the shared stack -
 * into some compact task's frame, which is not addressable while that
 * task waits (docs/compact-tasks.md).  Exact for the address itself,
 * whoever calls (only compact frames live there); blind to what p points
 * to and to integers passed as pointers that happen to fall in the range.
 * Nothing in other builds. */
#if WEFT_CHECKS
#define WEFT__REFUSE_ON_SHARED_STACK(L, p)                                    \
    do {                                                                      \
        if (weft__on_shared_stack((L), (p), 1))                               \
            return -EINVAL;                                                   \
    } while (0)
#else
#define WEFT__REFUSE_ON_SHARED_STACK(L, p) ((void)0)
#endif

/* ---- sched.c ---- */

/* Grows the ready ring to hold `alive` + 1 tasks.  0 or -ENOMEM. */
int weft__ring_grow(weft__loop *L, uint32_t alive);
static inline int weft__ring_reserve(weft__loop *L, uint32_t alive)
{
    return alive + 1 <= L->ring_cap ? 0 : weft__ring_grow(L, alive);
}

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

/* Makes blocked record r ready with wake reason rc, cancelling its timer,
 * for a waker that has already unlinked r from whatever it waited in (or
 * whose wait links nothing).  Inline: every hand-off ends here. */
void weft__timer_del(weft__loop *L, weft__record *f);
static inline void weft__ready(weft__loop *L, weft__record *r, int rc)
{
    if (r->timer_pos)
        weft__timer_del(L, r);
    r->wake_rc = rc;
    r->wait = WEFT__WAIT_READY;
    weft__ring_push(L, r->idx);
}

/* Wakes r with rc if it is blocked (its kind's leave hook first); no-op
 * otherwise. */
void weft__wake(weft__loop *L, weft__record *r, int rc);

/* Blocks the running task r on `kind` until woken or until `deadline` (ns,
 * WEFT__NO_DEADLINE for none): returns the wake reason - 0, -ETIMEDOUT or
 * -ECANCELED. */
int weft__block(weft__loop *L, weft__record *r, const weft__wait_kind *kind,
                uint64_t deadline);

/* Switches into tasks so far (m_runs and the running batch's). */
uint64_t weft__task_runs(const weft__loop *L);
/* Runs ready tasks from the host context until the budget is spent or none
 * is ready. */
void weft__run_ready(weft__loop *L);

/* Eager start: runs slot idx (PENDING with record) now; the caller resumes
 * when it first suspends. */
void weft__start_eager(weft__loop *L, uint32_t idx);

/* Gives PENDING slot idx its record and stack without running it, for a
 * hand-off.  NULL if it finished instead (cancelled, or no memory). */
weft__record *weft__start_now(weft__loop *L, uint32_t idx);

/* Records free list. */
weft__record *weft__record_alloc(weft__loop *L);
void weft__record_release(weft__loop *L, weft__record *f);

/* Switches directly to `to` (a task blocked in a hand-off wait, or just
 * given a stack), the caller having set its own wait.  Returns the
 * caller's wake_rc once something resumes it. */
int weft__handoff(weft__loop *L, weft__record *to);

/* ---- waitq.c ---- */
void weft__waitq_push(weft__waitq *q, weft__record *f);
void weft__waitq_remove(weft__waitq *q, weft__record *f);
/* Removes and returns the first waiter, NULL if none. */
weft__record *weft__waitq_pop(weft__waitq *q);
/* Is the first waiter of q, which has one, a task of L? */
bool weft__waitq_ours(const weft__loop *L, const weft__waitq *q);
/* The wait-kind hooks of a wait queue, for a primitive's own kind (its
 * name in reports): see WEFT__QUEUE_WAIT in sync/sync.h. */
void weft__waitq_leave(weft__loop *L, weft__record *r);
void weft__waitq_describe(weft__loop *L, weft__record *r, char *buf,
                          size_t len);
/* Queues the current task on q and waits until woken or the deadline:
 * 0 (woken by weft__waitq_wake_one: f->handoff holds what was handed
 * over), -ETIMEDOUT or -ECANCELED (it has left the queue).  The caller sets
 * f->handoff first if it offers something (a queue put). */
int weft__waitq_wait(weft__loop *L, weft__waitq *q,
                     const weft__wait_kind *kind, uint64_t deadline);
/* Wakes the first waiter with rc 0, handing it `handoff`.  Returns it, or
 * NULL if the queue was empty. */
weft__record *weft__waitq_wake_one(weft__loop *L, weft__waitq *q,
                                  void *handoff);

/* ---- slotdata.c ---- */
/* The index of fn in L->fns (adding it), or 0 if the table is full or out
 * of memory (the caller then keeps fn in a record). */
uint16_t weft__fn_index(weft__loop *L, weft_fn fn);
/* Attaches msg (ownership passes) to finished slot idx; frees it if there
 * is no memory for the entry. */
void weft__msg_attach(weft__loop *L, uint32_t idx, char *msg);
/* The message of slot idx (NULL if none): peek keeps it, take detaches it
 * (the caller owns it then).  take also drops a name the slot kept. */
const char *weft__msg_peek(weft__loop *L, uint32_t idx);
char *weft__msg_take(weft__loop *L, uint32_t idx);
/* A finished slot keeps its task's name (ownership passes; freed if there
 * is no memory) in the same map, for the report at close; it is never
 * seen as a message, and goes with the slot or with weft__msg_take. */
void weft__name_attach(weft__loop *L, uint32_t idx, char *name);
const char *weft__name_peek(weft__loop *L, uint32_t idx);
int weft__slotdata_init(weft__loop *L);
void weft__slotdata_free(weft__loop *L);

/* ---- task.c ---- */
/* Records that slot idx is awaited by slot `waiter`.  Cannot fail. */
void weft__waiter_set(weft__loop *L, uint32_t idx, uint32_t waiter);
/* Decodes a handle of this thread's loop; `consume`: refuse borrowed
 * handles.  0, -EINVAL or -EPERM. */
int weft__decode(weft_task *t, bool consume, weft__loop **Lp, uint32_t *ip);
/* Has any loop of the process had this tag (any thread)?  A handle whose
 * tag is not the caller's loop's is -EPERM (another loop's, open or
 * closed) if so, else -EINVAL: no loop made it, it was never a handle. */
bool weft__tag_issued(uint8_t tag);
static inline int weft__foreign_tag(uint8_t tag)
{
    return weft__tag_issued(tag) ? -EPERM : -EINVAL;
}
weft_task *weft__encode(weft__loop *L, uint32_t idx, bool borrowed);
/* Collects a finished slot: result and error out, message to the current
 * task's weft_errmsg (if keep_msg) or freed; the slot is released. */
int weft__collect(weft__loop *L, uint32_t idx, void **result, bool keep_msg);
/* Does waiting lead from task `from` to task `to`, through the targets of
 * the waits on the way?  Waiting on `from` would then deadlock `to`. */
bool weft__waits_on(weft__loop *L, uint32_t from, uint32_t to);
uint32_t weft__slot_alloc(weft__loop *L);

/* Frees slot idx (and any message left in it); a new generation makes every
 * handle to it stale.  Inline: every await and gather ends here. */
static inline void weft__slot_release(weft__loop *L, uint32_t idx)
{
    weft__slot *s = &L->slots[idx];
    if (s->flags & WEFT__SF_MSG)
        weft__free(weft__msg_take(L, idx));
    s->state = WEFT__SLOT_FREE;
    s->flags = 0;
    s->x = 0;
    s->gen = (s->gen + 1) & 0x7fffffffu;
    if (!s->gen)
        s->gen = 1;
    s->a.next_free = L->slot_free;
    L->slot_free = idx;
}
/* Record f is released after its task finished: a task that succeeded
 * with a result before anyone awaited it keeps its name with its slot (the
 * record is reused), for the report at close if nobody ever collects the
 * result.  Off the hot path: only records with a name come here. */
void weft__task_keep_name(weft__loop *L, weft__record *f);
/* Marks a task finished and wakes its awaiter.  The message is f's
 * weft_fail message, or (f NULL: a task that never started, or a job) msg,
 * whose ownership passes to the slot. */
void weft__task_finish(weft__loop *L, uint32_t idx, weft__record *f,
                       void *result, int err, char *msg);
/* Requests cancellation of idx and of the chain of tasks it awaits. */
int weft__cancel(weft__loop *L, uint32_t idx);
int weft__spawn_idx(weft__loop *L, weft_fn fn, void *arg,
                    const weft_spawn_opts *opts, uint32_t *out);
/* Name for reports: the task's name or "#<idx>". */
/* ", child of #3" naming the task that spawned slot idx's (with
 * " (finished)" if that task is gone), or "" if it was spawned outside a
 * task.  Returns buf. */
const char *weft__task_parent(weft__loop *L, uint32_t idx, char *buf,
                              size_t len);
/* say.c: a line of weft's own on stderr (no newline needed), through
 * the writer a leaf registered (the bars': weft_bar_write) or straight to
 * stderr.  Any thread. */
typedef void (*weft__say_fn)(const char *line);
void weft__say_register(weft__say_fn fn);
void weft__say(const char *line);
void weft__sayf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Before a last line written from a signal handler (the stack overflow
 * report, which then aborts): moves stderr's cursor below whatever a leaf
 * keeps drawn there (the bars' block), so that the line breaks nothing.
 * The leaf's function must be async-signal-safe.  Any thread. */
typedef void (*weft__say_crash_fn)(void);
void weft__say_register_crash(weft__say_crash_fn fn);
void weft__say_crash(void);

/* Shutdown begins: notes the name and function of each live task that is
 * owned and neither awaited, detached nor in a join set, for the reports
 * at close (best effort: without memory, the reports name ids only).
 * Freed by weft__close_notes_free. */
void weft__close_notes_take(weft__loop *L);
void weft__close_notes_free(weft__loop *L);
/* A task for people: "'fetch' (#2) fetch_config (app+0x4580)" - its name
 * (or "#2" alone without one), then its function where fn is known.
 * Returns buf. */
const char *weft__task_who(uint32_t idx, const char *name, weft_fn fn,
                           char *buf, size_t len);
/* The same without the function, for slot idx's task as it is now. */
const char *weft__task_label(weft__loop *L, uint32_t idx, char *buf,
                             size_t len);
void weft__report_add(weft__loop *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- where.c ---- */
/* A code address in words: "symbol+0x12 (module+0x3456)", "symbol
 * (module+0x3456)" at a symbol's start, "module+0x3456" without a symbol,
 * "0x..." outside any loaded object.  ret: pc is a return address (looked
 * up one byte back).  Returns buf. */
const char *weft__code_where(uintptr_t pc, bool ret, char *buf, size_t len);

/* ---- timer.c ---- */
uint64_t weft__clock_ns(void);
/* Reads the clock and brings the loop's per-turn clock (L->now) up to it;
 * returns the reading. */
static inline uint64_t weft__now_refresh(weft__loop *L)
{
    uint64_t now = weft__clock_ns();
    if (now > L->now)
        L->now = now;
    return now;
}
void weft__timer_add(weft__loop *L, weft__record *f, uint64_t deadline);
void weft__timer_del(weft__loop *L, weft__record *f);
/* Wakes every task whose deadline is <= now, in deadline then arming
 * order. */
void weft__timers_fire(weft__loop *L, uint64_t now);
/* Earliest deadline, or WEFT__NO_DEADLINE. */
uint64_t weft__timers_next(weft__loop *L);
/* The record whose timer fires first if its deadline is <= now, else
 * NULL; its timer stays armed (weft__timers_fire's step). */
weft__record *weft__timers_due(weft__loop *L, uint64_t now);
int weft__heap_reserve(weft__loop *L, uint32_t n);
/* Sets up a new loop's timers (its heap arena already reserved). */
void weft__timers_init(weft__loop *L);
uint64_t weft__deadline_after(double seconds);

/* ---- io.c ---- */
void weft__io_ready(weft__loop *L, void *data, unsigned events);

/* ---- service.c: features that take part in the loop's turns ---- */

/*
 * A loop service: a feature (the thread pool, progress bars, generators,
 * ...) that needs the host loop's attention registers one on the loop the
 * first time it is used there; the loop calls its hooks at fixed points of
 * each turn (loop.c says which) and never names the feature.  Every hook
 * may be NULL.  The service's memory is the feature's; it stays registered
 * until `close`, the last hook called.
 */
typedef struct weft__service weft__service;
typedef struct weft__service_ops {
    /* Each turn, before polling: take in work finished elsewhere.  No
     * system call here: it runs on every turn. */
    void (*turn)(weft__loop *L, weft__service *s);
    /* The next time this service needs the loop awake (ns), not counted as
     * a wake source for deadlock detection; WEFT__NO_DEADLINE if none. */
    uint64_t (*next_wakeup)(weft__loop *L, weft__service *s);
    /* The loop is about to block in the poller (timeout_ns -1: no limit).
     * Returns true if work arrived meanwhile and the loop must not block. */
    bool (*before_sleep)(weft__loop *L, weft__service *s, int64_t timeout_ns);
    /* The poller returned (called after every before_sleep). */
    void (*after_sleep)(weft__loop *L, weft__service *s);
    /* After this turn's timers fired, at `now`. */
    void (*tick)(weft__loop *L, weft__service *s, uint64_t now);
    /* The main task has finished: every live task is being cancelled. */
    void (*shutdown)(weft__loop *L, weft__service *s);
    /* The loop closes: no task is left.  Release everything. */
    void (*close)(weft__loop *L, weft__service *s);
    /* Asked only when no task is ready and no timer, fd or counted source
     * could wake one: may something outside the loop still do so (another
     * thread holding a handle to it)?  A service that answers true must
     * wake the loop when the answer turns false, so that the deadlock is
     * then seen. */
    bool (*may_wake)(weft__loop *L, weft__service *s);
} weft__service_ops;

struct weft__service {
    const weft__service_ops *ops;
    weft__service *next;
};

/* Registers s (ops set by the caller) on L, last in line. */
void weft__service_add(weft__loop *L, weft__service *s);
/* L's service with these ops, or NULL. */
weft__service *weft__service_find(weft__loop *L, const weft__service_ops *ops);
/* L's service with these ops; on first use, a zeroed allocation of `size`
 * bytes (the feature's state, which begins with the weft__service), then
 * registered.  NULL if out of memory.  The close hook frees it. */
weft__service *weft__service_get(weft__loop *L, const weft__service_ops *ops,
                                 size_t size);

/* Wake sources kept by features: while the count is above zero, something
 * outside the loop's tasks (a thread-pool job, ...) may still wake a task,
 * so an idle loop is not a deadlock (libuv's active handles). */
static inline void weft__source_ref(weft__loop *L)
{
    L->n_sources++;
}
static inline void weft__source_unref(weft__loop *L)
{
    L->n_sources--;
}

/* ---- stackless tasks ---- */

/*
 * A task run by a feature rather than on a stack of its own (a thread-pool
 * job): its slot is RUNNING with WEFT__SF_STACKLESS, a.ext points at the
 * feature's object, whose first member is this header.  It is awaited,
 * gathered and cancelled like any task; the feature finishes it with
 * weft__task_finish.
 */
typedef struct weft__stackless weft__stackless;
typedef struct weft__stackless_ops {
    /* Cancellation was requested for slot idx. */
    void (*cancel)(weft__loop *L, uint32_t idx, weft__stackless *t);
} weft__stackless_ops;
struct weft__stackless {
    const weft__stackless_ops *ops;
};

/* Where weft_fail records an error when no task runs on this thread (a
 * thread-pool worker running a job sets it). */
typedef struct weft__fail_sink {
    int err;
    char *msg; /* owned */
} weft__fail_sink;
extern __thread weft__fail_sink *weft__tls_fail_sink;

/* ---- walk.c: following who waits for whom ---- */

/* A walk over tasks through their waits' targets (cancellation, cycle
 * checks), with an intrusive stack in the records: no recursion, no
 * allocation. */
struct weft__walk {
    weft__record *stack;
    /* What to do with each task reached: true stops the walk. */
    bool (*visit)(weft__loop *L, weft__walk *w, uint32_t idx);
    uint32_t target; /* for visit */
    bool found;
};
/* Reports task idx to the walk (from a wait kind's targets hook). */
void weft__walk_visit(weft__loop *L, weft__walk *w, uint32_t idx);
/* Pushes blocked record r so that its targets are visited later. */
void weft__walk_push(weft__loop *L, weft__walk *w, weft__record *r);
/* The tasks r waits for, each reported to w: the children of its open
 * join sets (the passive ones only if `passive`), and what its current wait
 * waits for.  Returns true unless r is blocked in a wait on no task (which
 * cancellation then wakes). */
bool weft__walk_targets(weft__loop *L, weft__record *r, weft__walk *w,
                        bool passive);

/* ---- join.c: join sets ---- */

/*
 * A join set: a task (the owner) registered as the waiter of several
 * children, which report to it as they finish, whether or not the owner is
 * blocked at that moment - weft_gather, weft_map, task groups.  The owner
 * blocks on weft__wait_join until woken.  The feature embeds this header
 * in its own state and gives the hooks.
 */
typedef struct weft__joinset weft__joinset;
struct weft__joinset {
    uint32_t remaining; /* registered children not finished yet */
    /* Call on_done for every finished child, not only for failures and
     * the last one. */
    bool notify_each;
    /* Cancelling the owner does not cancel the children (asyncio.wait);
     * cycle checks still follow them. */
    bool passive;
    /* A cancelled scope or task cancellation wakes the owner blocked on
     * this set (-ECANCELED / -ETIMEDOUT) instead of waiting on for the
     * children: a wait for the next of several, not for all. */
    bool interruptible;
    /* Its children are being cancelled and joined (the owner returned, or
     * gave up): a feature must not add running children any more. */
    bool draining;
    uint8_t depth;      /* the owner's open scopes when the set opened */
    uint32_t id;        /* in L->joinsets; children's waiter_of */
    weft__record *owner;
    weft__joinset *outer; /* the owner's next older open set */
    /* Bumped by one per finished child (a progress bar's count), or NULL;
     * when it reaches *progress_at, on_progress runs (the bar's check for a
     * redraw, at once: before the owner runs again). */
    _Atomic unsigned long long *progress;
    const _Atomic unsigned long long *progress_at;
    void (*on_progress)(weft__loop *L, weft__joinset *js);
    /* A child finished: after remaining was counted down.  The feature
     * decides whether to wake the owner (weft__join_wake). */
    void (*on_done)(weft__loop *L, weft__joinset *js, uint32_t child);
    /* The children still registered, reported with weft__walk_visit. */
    void (*targets)(weft__loop *L, weft__joinset *js, weft__walk *w);
    /* The owner returned with the set still open: its children have been
     * cancelled and joined and the set closed; release the rest (NULL:
     * nothing to do).  Runs on the owner's stack. */
    void (*abandon)(weft__loop *L, weft__joinset *js);
};

/* Opens js (hooks set by the caller) for the running task: it becomes the
 * innermost of the task's open sets.  0, -ENOMEM, or -EOVERFLOW (255 sets
 * open in the task already). */
int weft__join_open(weft__loop *L, weft__joinset *js);
/* Closes js: its children must all have finished or been given back. */
void weft__join_close(weft__loop *L, weft__joinset *js);
/* A set with no owner task, for a feature that collects tasks itself (the
 * tasks submitted through a loop handle): registered in the loop's table so
 * that its children report to on_done, linked to no task, never waited on
 * with weft__join_wait.  0 or -ENOMEM. */
int weft__join_register(weft__loop *L, weft__joinset *js);
void weft__join_unregister(weft__loop *L, weft__joinset *js);

/* Registers slot idx (not finished) as a child of js. */
static inline void weft__join_add(weft__loop *L, weft__joinset *js,
                                  uint32_t idx)
{
    L->slots[idx].flags |= WEFT__SF_AWAITED | WEFT__SF_JOINED;
    L->waiter_of[idx] = js->id;
    js->remaining++;
}

/* Child `child` of owner's join set finished.  Inline for the common case
 * - a success with others still running - which is every child but the
 * last of a successful gather. */
static inline void weft__join_child_done(weft__loop *L, weft__joinset *js,
                                         uint32_t child)
{
    if (js->progress) {
        unsigned long long n =
            atomic_load_explicit(js->progress, memory_order_relaxed) + 1;
        atomic_store_explicit(js->progress, n, memory_order_relaxed);
        if (n >= atomic_load_explicit(js->progress_at, memory_order_relaxed))
            js->on_progress(L, js);
    }
    if (--js->remaining && !js->notify_each && L->slots[child].x == 0)
        return;
    js->on_done(L, js, child);
}

/* The wait of a join set's owner. */
extern const weft__wait_kind weft__wait_join;

/* Blocks js's owner (the running task) until weft__join_wake: returns the
 * wake reason (0, or for an interruptible set -ECANCELED/-ETIMEDOUT). */
int weft__join_wait(weft__loop *L, weft__joinset *js);
/* Wakes js's owner if it is blocked in weft__join_wait on js. */
void weft__join_wake(weft__loop *L, weft__joinset *js);
/* Cancels js's children still running and waits, uninterruptibly, until
 * all have finished; js's owner must be the running task (task.c). */
void weft__join_drain(weft__loop *L, weft__joinset *js);
/* The running task's body returned with join sets or scopes open: each
 * set's children are cancelled and joined and the set abandoned, then the
 * scopes are ended; the task fails with -EINVAL unless it failed already
 * (task.c). */
void weft__task_left_open(weft__loop *L, weft__record *f);

/* ---- the core's own wait kinds ---- */
extern const weft__wait_kind weft__wait_sleep; /* timer.c */
extern const weft__wait_kind weft__wait_await; /* task.c */
extern const weft__wait_kind weft__wait_io;    /* io.c */
extern const weft__wait_kind weft__wait_queue; /* waitq.c */

/* Blocks the running task r until slot idx (which it is registered to
 * await) has finished, cancellation passing to idx.  task.c. */
void weft__await_done(weft__loop *L, weft__record *r, uint32_t idx);

/* ---- scope.c: cancel scopes ---- */

/* Scopes a task may have open at once (documented in weft/cancel.h). */
#define WEFT__SCOPE_MAX 16

typedef struct weft__scope_ent {
    uint64_t deadline; /* ns, WEFT__NO_DEADLINE if none */
    uint32_t serial;   /* matches the handle's */
    uint16_t shield;   /* the task's shield depth when opened */
    uint8_t caught;    /* a call failed because of this scope */
    uint8_t pad;
    int cause;         /* 0, -ECANCELED (cancelled) or -ETIMEDOUT */
    /* Called when the task ends with this scope open (a task group joins
     * its children), before the scope is dropped; NULL if none. */
    void (*on_abandon)(weft__loop *L, weft__record *r, void *ctx);
    void *ctx;
} weft__scope_ent;

/* Why a suspending call of r must fail - its task's cancellation, or the
 * outermost cancelled scope it can see - marking that scope as the cause;
 * or, for a compact task, no memory to save its bytes when it suspends
 * (-ENOMEM); 0 if it may proceed. */
int weft__check_slow(weft__loop *L, weft__record *r);
/* weft__check_slow, also giving the index of the scope responsible in
 * *depth (-1: the task's own cancellation, which is outside them all);
 * marks that scope as the cause only if `mark` (a call fails now). */
int weft__scope_cause(weft__loop *L, weft__record *r, int *depth, bool mark);
static inline int weft__check(weft__loop *L, weft__record *r)
{
    if (__builtin_expect(!r->alerts, 1))
        return 0;
    return weft__check_slow(L, r);
}

/* weft__check_slow without a compact task's reserve: the cause alone. */
int weft__check_cause(weft__loop *L, weft__record *r);
/* Can a suspending call of f have a cause to fail (its task's
 * cancellation, a scope cancelled or past its deadline)?  The test that
 * comes before weft__check_cause. */
static inline bool weft__cause_possible(const weft__record *f)
{
    return f->cancelled || (f->scope_alert & WEFT__ALERT_SCOPE);
}
/* Should a suspending call of f fail?  (weft__check without the cause.) */
static inline bool weft__cancelled(weft__loop *L, weft__record *f)
{
    return weft__cause_possible(f) && weft__check_cause(L, f) != 0;
}

/* What every suspending call does first: return weft__check's code if
 * there is one. */
#define WEFT__RETURN_IF_CANCELLED(L, r)                                       \
    do {                                                                      \
        int weft_why_ = weft__check(L, r);                                    \
        if (weft_why_)                                                        \
            return weft_why_;                                                 \
    } while (0)

/* Opens a scope in record r (the running task) with an absolute deadline
 * (ns, WEFT__NO_DEADLINE for none).  Errors as weft_scope_open. */
int weft__scope_open(weft__loop *L, weft__record *r, uint64_t deadline,
                     weft_scope **out);
/* weft_scope_cancel, callable from the host context too. */
int weft__scope_cancel(weft_scope *scope);
/* 1 if the scope is its task's innermost open scope and no shield was
 * opened inside it, 0 if not, or weft_scope_close's errors. */
int weft__scope_is_innermost(weft_scope *scope);

/* The earliest deadline among the scopes r can see, WEFT__NO_DEADLINE if
 * none. */
uint64_t weft__scope_deadline(weft__record *r);
/* r's timer fired at deadline t: true if it was a scope's (the scope is
 * now cancelled and r interrupted), false if it was the call's own. */
bool weft__scope_timer(weft__loop *L, weft__record *r, uint64_t t);
/* Scope `depth` of r was cancelled: cancels the children of r's join sets
 * opened inside it (task.c). */
void weft__scope_cancel_sets(weft__loop *L, weft__record *r, int depth);
/* Ends a blocked task's wait because a scope it can see was cancelled
 * (task.c): a wait on other tasks cancels them (and goes on until they
 * finish); any other wait is woken with the scope's cause. */
void weft__interrupt(weft__loop *L, weft__record *r);
/* The task is ending: runs the abandon hooks of its open scopes and drops
 * them.  Returns how many were open. */
int weft__scopes_end(weft__loop *L, weft__record *r);


/* The current task's record, or NULL (not in a task / no loop). */
static inline weft__record *weft__self(void)
{
    weft__loop *L = weft__tls_loop;
    return L ? L->cur : NULL;
}

#endif

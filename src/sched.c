/*
 * sched.c - the ready ring, task records, and switching between tasks.
 *
 * Switches go directly from task to task: a task that suspends picks the
 * next ready task itself and switches to it.  Control returns to the host
 * context (the thread's own stack, running loop.c's host loop) only when no
 * task is ready, when the budget of switches is spent (so that file
 * descriptors and timers are looked at every so often even while tasks stay
 * runnable: Tokio and Go do the same for fairness), or when the main task
 * has finished.
 *
 * Invariants:
 * - A task is in the ready ring at most once; its record says WEFT__WAIT_READY
 *   (or it is PENDING).  The ring's capacity is >= n_alive + 1, so pushing
 *   never allocates.
 * - L->cur is the record whose stack is running, NULL on the host stack.
 *   Whoever switches sets L->cur to the target first.
 * - A finished task gives its stack and record back before its final
 *   switch: nothing can reuse them before that switch, because the next task
 *   is chosen (and, if new, given a stack) before they are released.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"
#include "handoff.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* Switches between host visits.  Large enough that a host visit (a clock
 * read, and an epoll_wait(0) system call only when fds are registered) is
 * noise next to the switches it separates; small enough that a timer or an
 * fd is looked at within a few microseconds. */
#define BUDGET 256

__thread weft__loop *weft__tls_loop __attribute__((tls_model("initial-exec")));

/* ---- ready ring ---- */

int weft__ring_grow(weft__loop *L, uint32_t alive)
{
    if (alive + 1 <= L->ring_cap)
        return 0;
    uint32_t cap = L->ring_cap ? L->ring_cap : 64;
    while (cap < alive + 1)
        cap *= 2;
    if (weft__arena_grow(&L->ring_arena, (size_t)cap * sizeof(uint32_t)))
        return -ENOMEM;
    /* Entries whose position moves with the wider mask move up by the old
     * capacity; the arena never moves, so nothing else changes. */
    uint32_t old = L->ring_cap;
    if (old) {
        for (uint32_t p = L->ring_head; p != L->ring_tail; p++) {
            uint32_t from = p & (old - 1), to = p & (cap - 1);
            if (from != to)
                L->ring[to] = L->ring[from];
        }
    }
    L->ring_cap = cap;
    return 0;
}

/* ---- task records ---- */

uint32_t weft__arena_records = WEFT__ARENA_RECORDS;

static void reset_released(weft__record *f);

weft__record *weft__record_alloc(weft__loop *L)
{
    weft__record *f = L->rec_free;
    if (!f) {
        /* The arenas' reservations bound the number of records. */
        if (weft__heap_reserve(L, L->rec_top + L->recs_in_stacks + 1) ||
            weft__arena_grow(&L->rec_arena,
                             (size_t)(L->rec_top + 1) * sizeof *f))
            return NULL;
        f = &L->recs[L->rec_top++];
        memset(f, 0, sizeof *f);
        weft__exec_init_task(&f->exec);
        f->deadline = WEFT__NO_DEADLINE;
        return f;
    }
    L->rec_free = f->free_next;
    weft__exec_reuse_task(&f->exec);
    reset_released(f);
    memset(&f->stack, 0, sizeof f->stack);
    return f;
}

/* A released record (or zeros) made ready for a new task.  Released: its
 * owned strings and scopes are freed and NULL, it is in no timer heap,
 * wait queue or walk, and the rest is set before use; only what a new
 * task relies on being zero is reset (a full clear costs as much as the
 * rest of an eager spawn's set-up). */
static void reset_released(weft__record *f)
{
    f->awaiting = 0;
    f->wait = WEFT__WAIT_NONE;
    f->started = 0;
    f->shield = 0;
    f->alerts = 0;
    f->nopen = 0;
    f->wake_rc = 0;
    f->fail_err = 0;
    f->join = NULL;
    f->role = NULL;
    f->q_owner = NULL;
    f->deadline = WEFT__NO_DEADLINE;
}

static bool record_in_stack(const weft__record *f);

void weft__record_release(weft__loop *L, weft__record *f)
{
    if (__builtin_expect(f->fail_msg || f->errmsg || f->name, 0)) {
        if (f->name)
            weft__task_keep_name(L, f);
        weft__free(f->fail_msg);
        weft__free(f->errmsg);
        weft__free(f->name);
        f->fail_msg = f->errmsg = f->name = NULL;
    }
    if (record_in_stack(f)) {
        /* It goes with its stack, which its task has given back (or gives
         * back before anything else runs); what it owns goes now. */
        weft__free(f->scopes);
        f->scopes = NULL;
        L->recs_in_stacks--;
        return;
    }
    f->free_next = L->rec_free;
    L->rec_free = f;
}

/* ---- starting and finishing ---- */

static void rec_entry(void *arg);

static bool record_in_stack(const weft__record *f)
{
    return WEFT__REC_IN_STACK && f->stack.lo &&
           (uintptr_t)f - (uintptr_t)f->stack.lo < f->stack.size;
}

/* A stack of the default size with a record at its top, ready to run
 * rec_entry; NULL if there is no memory.  The record is reset, not
 * cleared: the top of a pooled stack holds zeros or a released record,
 * never frames (weft__frames_room). */
static weft__record *stack_with_record(weft__loop *L)
{
    weft__stack st;
    /* The timer heap holds a timer for every record there may be. */
    if (weft__heap_reserve(L, L->rec_top + L->recs_in_stacks + 1) ||
        weft__stack_get(L->stacks, 0, &st))
        return NULL;
    size_t room = weft__frames_room(&st);
    weft__record *f = (weft__record *)((char *)st.lo + room);
    reset_released(f);
    f->stack = st;
    weft__exec_set_stack(&f->exec, st.lo, room);
    weft__ctx_make(&f->exec.ctx, st.lo, room, rec_entry, f);
    L->recs_in_stacks++;
    return f;
}

/* Gives a PENDING task a record and a stack.  Returns the record to switch
 * to, or NULL if the task finished instead (cancelled before it started, or
 * no memory for its stack). */
static weft__record *prepare_start(weft__loop *L, uint32_t idx)
{
    weft__slot *s = &L->slots[idx];
    weft__record *f = (s->flags & WEFT__SF_RECORD) ? s->a.rec : NULL;
    if (s->flags & WEFT__SF_CANCELLED) {
        weft__task_finish(L, idx, f, NULL, -ECANCELED, NULL);
        if (f)
            weft__record_release(L, f);
        return NULL;
    }
    if (!f) {
        bool compact = (s->x & WEFT__X_COMPACT) != 0;
        f = WEFT__REC_IN_STACK && __builtin_expect(!compact, 1) &&
                    !L->rec_free && L->rec_top >= weft__arena_records
                ? stack_with_record(L)
                : weft__record_alloc(L);
        if (!f) {
            weft__task_finish(L, idx, NULL, NULL, -ENOMEM, NULL);
            return NULL;
        }
        if (__builtin_expect(compact, 0)) {
            s->x = (uint16_t)WEFT__X_FN(s->x);
            f->scope_alert = WEFT__ALERT_COMPACT;
        }
        weft__record_identify(f, idx, L->fns[s->x]);
        f->arg = s->a.arg;
        s->a.rec = f;
        s->flags |= WEFT__SF_RECORD;
    }
    if (__builtin_expect(WEFT__IS_COMPACT(f), 0)) {
        int rc = weft__compact_prepare(L, f, rec_entry);
        if (rc) {
            weft__task_finish(L, idx, f, NULL, rc, NULL);
            weft__record_release(L, f);
            return NULL;
        }
    } else if (f->stack.lo) {
        /* Its record came with its stack, set up. */
    } else if (weft__stack_get(L->stacks, f->stack.size, &f->stack)) {
        f->stack.lo = NULL;
        weft__task_finish(L, idx, f, NULL, -ENOMEM, NULL);
        weft__record_release(L, f);
        return NULL;
    } else {
        size_t room = weft__frames_room(&f->stack);
        weft__exec_set_stack(&f->exec, f->stack.lo, room);
        weft__ctx_make(&f->exec.ctx, f->stack.lo, room, rec_entry, f);
    }
    f->cancelled = 0; /* a cancelled task never gets this far */
    s->state = WEFT__SLOT_RUNNING;
    f->wait = WEFT__WAIT_NONE;
    return f;
}

/* pick_next's slow path: the next ready task has not started yet. */
static weft__record *pick_next_slow(weft__loop *L, uint32_t idx)
{
    for (;;) {
        weft__record *f = prepare_start(L, idx);
        if (f)
            return f;
        if (L->budget <= 0 || !(idx = weft__ring_pop(L)))
            return NULL;
        weft__budget_spend(L);
        weft__slot *s = &L->slots[idx];
        if (s->state == WEFT__SLOT_RUNNING) {
            f = s->a.rec;
            f->wait = WEFT__WAIT_NONE;
            return f;
        }
    }
}

/* The next record to run, or NULL to go to the host. */
static inline weft__record *pick_next(weft__loop *L)
{
    uint32_t idx;
    if (L->budget <= 0 || !(idx = weft__ring_pop(L)))
        return NULL;
    weft__budget_spend(L);
    weft__slot *s = &L->slots[idx];
    if (__builtin_expect(s->state == WEFT__SLOT_RUNNING, 1)) {
        weft__record *f = s->a.rec;
        f->wait = WEFT__WAIT_NONE;
        return f;
    }
    return pick_next_slow(L, idx);
}


/* weft__suspend's body, also inlined into weft__block: one frame fewer
 * between a blocking call and the switch, which is what a compact task
 * saves and copies. */
static inline __attribute__((always_inline)) int suspend(weft__loop *L)
{
    weft__record *self = L->cur;
    int saved = *L->errno_ptr;
    weft__record *next = pick_next(L);
    if (next != self)
        weft__leave(L, self, next);
    *L->errno_ptr = saved;
    return self->wake_rc;
}

int weft__suspend(weft__loop *L)
{
    return suspend(L);
}

void weft__wake(weft__loop *L, weft__record *r, int rc)
{
    if (r->wait != WEFT__WAIT_BLOCKED)
        return;
    if (r->kind->leave)
        r->kind->leave(L, r);
    weft__ready(L, r, rc);
}

int weft__block(weft__loop *L, weft__record *r, const weft__wait_kind *kind,
                uint64_t deadline)
{
    r->wait = WEFT__WAIT_BLOCKED;
    r->kind = kind;
    r->since = L->now;
    r->wake_rc = 0;
    r->wait_deadline = deadline;
    if (__builtin_expect(r->scope_alert & WEFT__ALERT_SCOPE, 0)) {
        /* The scopes' deadlines share the one timer (scope.c). */
        uint64_t d = weft__scope_deadline(r);
        if (d < deadline)
            deadline = d;
    }
    if (deadline != WEFT__NO_DEADLINE)
        weft__timer_add(L, r, deadline);
    int rc = suspend(L);
    if (__builtin_expect(r->scope_alert & WEFT__ALERT_SCOPE, 0)) {
        /* Woken inside a scope with a deadline, maybe by a grant in the
         * turn the deadline passed: the loop's clock is brought up to
         * date (one read, only here), so that the next call sees it. */
        weft__now_refresh(L);
    }
    if (__builtin_expect(rc != 0, 0) &&
        !(rc == -ETIMEDOUT && L->now >= r->wait_deadline)) {
        /* Interrupted: by the task's cancellation or a scope, maybe both
         * in one turn - the task's own cancellation speaks first, then
         * the outermost scope (which this marks as the cause). */
        int why = weft__check(L, r);
        if (why)
            rc = why;
    }
    return rc;
}

/* The end of a task's life, after its body returned: out of rec_entry, so
 * that the frame under every task's body holds one register (a compact
 * task saves and copies that frame with its own).  Not under
 * ThreadSanitizer, which keeps a call stack per fiber - one per record,
 * reused by task after task - where a task's entry frames, which never
 * return, pile up until the fiber is replaced (weft__exec_reuse_task):
 * one frame per task is enough. */
#if WEFT_TSAN
#define REC_EXIT_ATTRS static inline __attribute__((always_inline, noreturn))
#else
#define REC_EXIT_ATTRS __attribute__((noinline, noreturn)) static
#endif
REC_EXIT_ATTRS void rec_exit(weft__record *f, void *result);

static void rec_entry(void *arg)
{
    weft__record *f = arg;
    weft__switch_arrived(&f->exec);
    f->started = 1;
    rec_exit(f, f->fn(f->arg));
}

REC_EXIT_ATTRS void rec_exit(weft__record *f, void *result)
{
    weft__loop *L = weft__tls_loop;
    if (__builtin_expect(f->nopen != 0, 0))
        weft__task_left_open(L, f);

    weft__task_finish(L, f->idx, f, result, f->fail_err, NULL);
    if (!f->stack.guarded && !weft__canary_ok(f->stack.lo))
        weft__overflow_report(L, f, "its stack canary was overwritten");
    weft__record *next = pick_next(L);
    bool compact = WEFT__IS_COMPACT(f);
    if (__builtin_expect(compact, 0))
        weft__compact_finish(L, f); /* the shared stack stays */
    else
        weft__stack_put_later(L->stacks, &f->stack, &L->dead_stack);
    weft__record_release(L, f);
    weft__running_set(L, next);
    /* A compact task starting after one that finished: right here,
     * without a switch (nothing to save: this task is done). */
    if (__builtin_expect(compact, 0) && next &&
        weft__compact_can_pass(L, next))
        weft__compact_pass(L, next);
    weft__switch(&f->exec, next ? &next->exec : &L->host, true);
    __builtin_unreachable();
}

void weft__start_eager(weft__loop *L, uint32_t idx)
{
    weft__record *self = L->cur;
    weft__record *f = prepare_start(L, idx);
    if (!f)
        return;
    /* The spawner goes first in line: whatever the new task does when it
     * suspends, the spawner is what runs next. */
    self->wait = WEFT__WAIT_READY;
    weft__ring_push_front(L, self->idx);
    int saved = *L->errno_ptr;
    weft__leave(L, self, f);
    *L->errno_ptr = saved;
}

weft__record *weft__start_now(weft__loop *L, uint32_t idx)
{
    return prepare_start(L, idx);
}

int weft__handoff(weft__loop *L, weft__record *to)
{
    return weft__handoff_inline(L, L->cur, to);
}

/* Switches of the current batch so far: the budget it spent (all of it
 * for the main task's last batch, which zeroes the budget). */
static uint64_t batch_runs(const weft__loop *L)
{
    return (uint64_t)(BUDGET - (L->budget > 0 ? L->budget : 0));
}

uint64_t weft__task_runs(const weft__loop *L)
{
    /* Inside a batch (called from a task), its switches so far count. */
    return L->m_runs + (L->cur ? batch_runs(L) : 0);
}

void weft__run_ready(weft__loop *L)
{
    weft__budget_set(L, BUDGET);
    weft__record *next = pick_next(L);
    if (!next)
        return;
    weft__running_set(L, next);
    weft__switch(&L->host, &next->exec, false);
    L->m_runs += batch_runs(L);
}

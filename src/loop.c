/*
 * loop.c - weft__run (behind weft_run, run.c): creating a loop, the host
 * loop, shutdown, deadlock detection.
 *
 * The host loop runs on the thread's own stack.  Each turn:
 *   1. shutdown: once the main task has finished, cancel every task still
 *      alive; once none is alive, stop.
 *   2. poll: wait for file descriptors - not at all if tasks are ready and
 *      none waits on an fd, without blocking if tasks are ready, otherwise
 *      until the earliest timer.  If nothing is ready and nothing could ever
 *      wake a task (no timer, no fd, no wake source a service counts or
 *      reports), it is a deadlock.
 *   3. timers: read the clock once, wake every task whose deadline passed,
 *      in deadline order (equal deadlines in arming order).
 *   4. run: switch into the ready tasks; they switch among themselves and
 *      come back here when none is ready or the switch budget is spent.
 *
 * Deadlock: the stuck tasks are named on stderr, weft_run will return
 * -EDEADLK, and shutdown begins (cancelling them).  A deadlock during
 * shutdown means some task cannot finish even cancelled (a shielded wait on
 * something that never comes): it is abandoned - reported, its stack and
 * record freed, never resumed.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"
#include "backend/backend.h"
#include "coro/overflow.h"
#include "coro/switch.h"
#include "run.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#define TRIM_INTERVAL_NS 1000000000ull
#define RUN_MSG_MAX 256

void weft__reports_flush(weft__loop *L);
void weft__report_unretrieved(weft__loop *L);

/* Reservations: address space only (see arena.h), but not free under an
 * emulator (qemu-user's cost of a mapping grows with its size), so sized
 * to what a machine can hold: 16M tasks alive (spawned, not yet collected),
 * 4M of them started (each with a stack) at once. */
#define MAX_LIVE ((size_t)1 << 24)
#define MAX_STARTED ((size_t)1 << 22)

static atomic_ullong loop_serials;
bool weft__tag_issued(uint8_t tag)
{
    unsigned long long n =
        atomic_load_explicit(&loop_serials, memory_order_relaxed);
    return n >= 256 || (tag >= 1 && tag <= n);
}
static __thread char run_msg[RUN_MSG_MAX];
static __thread bool run_msg_set;

static void loop_free(weft__loop *L);

static int loop_new(weft__loop **out)
{
    weft__loop *L = weft__calloc(1, sizeof *L);
    if (!L)
        return -ENOMEM;
    L->reports_tail = &L->reports;
    L->serial = atomic_fetch_add(&loop_serials, 1) + 1;
    L->tag = (uint8_t)L->serial;
    int rc;
    if ((rc = weft__arena_init(&L->slot_arena, MAX_LIVE * sizeof(weft__slot))) ||
        (rc = weft__arena_init(&L->ring_arena, MAX_LIVE * sizeof(uint32_t))) ||
        (rc = weft__arena_init(&L->rec_arena,
                               MAX_STARTED * sizeof(weft__record))) ||
        (rc = weft__arena_init(&L->heap_arena,
                               (MAX_STARTED + 4) * sizeof(weft__timer_ent))) ||
        (rc = weft__arena_init(&L->waiter_arena,
                               MAX_LIVE * sizeof(uint32_t))) ||
        (rc = weft__arena_init(&L->parent_arena,
                               MAX_LIVE * sizeof(uint32_t))) ||
        (rc = weft__slotdata_init(L)) ||
        (rc = weft__stacks_new(&L->stacks)) ||
        (rc = weft__backend_open(&L->backend))) {
        loop_free(L);
        return rc;
    }
    L->slots = (weft__slot *)L->slot_arena.base;
    L->ring = (uint32_t *)L->ring_arena.base;
    L->recs = (weft__record *)L->rec_arena.base;
    weft__timers_init(L);
    L->waiter_of = (uint32_t *)L->waiter_arena.base;
    L->parent_of = (uint32_t *)L->parent_arena.base;
    L->slot_top = 1; /* slot 0 means "none" */
    L->errno_ptr = &errno;
#if WEFT_ASAN
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *lo;
        size_t size;
        if (pthread_attr_getstack(&attr, &lo, &size) == 0)
            weft__exec_set_stack(&L->host, lo, size);
        pthread_attr_destroy(&attr);
    }
#endif
#if WEFT_TSAN
    L->host.tsan_fiber = __tsan_get_current_fiber();
#endif
    *out = L;
    return 0;
}

static void loop_free(weft__loop *L)
{
    weft__slotdata_free(L);
    weft__free(L->joinsets);
    for (uint32_t i = 0; i < L->rec_top; i++) {
        weft__exec_destroy_task(&L->recs[i].exec);
        weft__free(L->recs[i].scopes);
    }
    weft__free(L->main_msg);
    if (L->stacks) {
        weft__stack_reap(L->stacks, &L->dead_stack);
        weft__compact_free(L);
    }
    weft__backend_close(L->backend);
    weft__stacks_free(L->stacks);
    weft__close_notes_free(L);
    weft__arena_destroy(&L->parent_arena);
    weft__arena_destroy(&L->waiter_arena);
    weft__arena_destroy(&L->heap_arena);
    weft__arena_destroy(&L->rec_arena);
    weft__arena_destroy(&L->ring_arena);
    weft__arena_destroy(&L->slot_arena);
    weft__free(L);
}

static bool alive(const weft__slot *s)
{
    return s->state == WEFT__SLOT_PENDING || s->state == WEFT__SLOT_RUNNING;
}

static void begin_shutdown(weft__loop *L)
{
    L->closing = true;
    weft__close_notes_take(L);
    for (uint32_t i = 1; i < L->slot_top; i++)
        if (alive(&L->slots[i]))
            weft__cancel(L, i);
    for (weft__service *sv = L->services; sv; sv = sv->next)
        if (sv->ops->shutdown)
            sv->ops->shutdown(L, sv);
}

static const char *wait_text(weft__loop *L, weft__record *r, char *buf,
                             size_t len)
{
    if (r->wait != WEFT__WAIT_BLOCKED)
        return "ready to run";
    if (!r->kind->describe)
        return "waiting";
    r->kind->describe(L, r, buf, len);
    return buf;
}

/* One line per stuck task, as in the task dump: its label, its function
 * (so that an unnamed task can be told apart: weft__code_where), its
 * parent, and what it waits on (a primitive's kind and address). */
static void report_stuck(weft__loop *L, const char *head, const char *each)
{
    char who[320], parent[48], why[160];
    weft__say(head); /* above any bar drawn on stderr */
    for (uint32_t i = 1; i < L->slot_top; i++) {
        weft__slot *s = &L->slots[i];
        if (s->state != WEFT__SLOT_RUNNING || (s->flags & WEFT__SF_STACKLESS))
            continue;
        weft__record *f = s->a.rec;
        weft__sayf("  task %s%s%s: %s",
                   weft__task_who(i, f->name, f->fn, who, sizeof who),
                   weft__task_parent(L, i, parent, sizeof parent), each,
                   wait_text(L, f, why, sizeof why));
    }
}

/* Frees a task that can never run again, without resuming it. */
/* Undoes what a stuck task's wait linked (a queue entry in an object that
 * may live on another stuck task's stack, a timer). */
static void abandon_unlink(weft__loop *L, uint32_t idx)
{
    weft__record *f = L->slots[idx].a.rec;
    if (f->timer_pos)
        weft__timer_del(L, f);
    if (f->wait == WEFT__WAIT_BLOCKED && f->kind->leave)
        f->kind->leave(L, f);
    f->wait = WEFT__WAIT_NONE;
}

/* Frees a stuck task, once no wait of any of them is linked any more. */
static void abandon(weft__loop *L, uint32_t idx)
{
    weft__slot *s = &L->slots[idx];
    weft__record *f = s->a.rec;
    if (WEFT__IS_COMPACT(f))
        weft__compact_finish(L, f); /* the shared stack stays */
    else
        weft__stack_put(L->stacks, &f->stack);
    s->flags &= (uint8_t)~WEFT__SF_DETACHED; /* already reported as stuck */
    weft__task_finish(L, idx, f, NULL, -EDEADLK, NULL);
    weft__record_release(L, f);
}

static void deadlock(weft__loop *L)
{
    if (!L->closing) {
        report_stuck(L,
                     "weft: deadlock: every task is waiting and nothing can "
                     "wake any of them:",
                     "");
        L->deadlocked = true;
        begin_shutdown(L);
        return;
    }
    report_stuck(L, "weft: tasks that cannot finish even when cancelled "
                    "(abandoned, never resumed):", "");
    /* All of them go: none may wake another while they are freed. */
    for (uint32_t i = 1; i < L->slot_top; i++)
        if (L->slots[i].state == WEFT__SLOT_RUNNING)
            L->slots[i].flags &= (uint8_t)~WEFT__SF_AWAITED;
    /* Every wait is unlinked before any stack is freed: a waiter's queue
     * may be in an object on another stuck task's stack. */
    for (uint32_t i = 1; i < L->slot_top; i++)
        if (L->slots[i].state == WEFT__SLOT_RUNNING &&
            !(L->slots[i].flags & WEFT__SF_STACKLESS))
            abandon_unlink(L, i);
    for (uint32_t i = 1; i < L->slot_top; i++)
        if (L->slots[i].state == WEFT__SLOT_RUNNING &&
            !(L->slots[i].flags & WEFT__SF_STACKLESS))
            abandon(L, i);
}

static bool wake_source(weft__loop *L)
{
    if (L->n_user_timers || L->n_io || L->n_sources)
        return true;
    for (weft__service *sv = L->services; sv; sv = sv->next)
        if (sv->ops->may_wake && sv->ops->may_wake(L, sv))
            return true;
    return false;
}

static void on_ready(void *ctx, void *data, unsigned events)
{
    weft__io_ready(ctx, data, events);
}

/* The earliest internal wake-up the services ask for. */
static uint64_t services_next(weft__loop *L)
{
    uint64_t next = WEFT__NO_DEADLINE;
    for (weft__service *sv = L->services; sv; sv = sv->next)
        if (sv->ops->next_wakeup) {
            uint64_t t = sv->ops->next_wakeup(L, sv);
            if (t < next)
                next = t;
        }
    return next;
}

/* Blocks in the poller for at most timeout_ns (-1: no limit), unless a
 * service says work arrived while it prepared for sleep. */
static void sleep_in_poller(weft__loop *L, int64_t timeout_ns)
{
    bool skip = false;
    weft__service *sv;
    for (sv = L->services; sv && !skip; sv = sv->next)
        if (sv->ops->before_sleep && sv->ops->before_sleep(L, sv, timeout_ns))
            skip = true;
    if (!skip) {
        uint64_t t0 = weft__clock_ns();
        weft__backend_poll(L->backend, timeout_ns, on_ready, L);
        L->m_slept_ns += weft__clock_ns() - t0;
        L->m_polls++;
    }
    for (weft__service *s2 = L->services; s2 != sv; s2 = s2->next)
        if (s2->ops->after_sleep)
            s2->ops->after_sleep(L, s2);
}

static void host_loop(weft__loop *L)
{
    uint64_t last_trim = weft__clock_ns();
    for (;;) {
        /* 1. shutdown */
        if (L->main_done && !L->closing)
            begin_shutdown(L);
        if (L->closing && L->n_alive == 0)
            break;

        /* 2. poll.  Services first take in what finished elsewhere (no
         * system call: a thread-pool completion costs none unless the loop
         * sleeps). */
        for (weft__service *sv = L->services; sv; sv = sv->next)
            if (sv->ops->turn)
                sv->ops->turn(L, sv);
        bool ready = L->ring_head != L->ring_tail;
        if (!ready) {
            uint64_t next = weft__timers_next(L);
            if (next == WEFT__NO_DEADLINE && !wake_source(L)) {
                deadlock(L);
                continue;
            }
            /* Services' own wake-ups (a progress bar's redraw) wake the
             * loop, but never count as a wake source (above). */
            uint64_t sv_next = services_next(L);
            if (sv_next < next)
                next = sv_next;
            /* An idle loop still gives idle stacks back: wake up for the
             * next trim while there is something to trim. */
            if (weft__stacks_dirty(L->stacks) &&
                last_trim + TRIM_INTERVAL_NS < next)
                next = last_trim + TRIM_INTERVAL_NS + 1;
            int64_t timeout = -1;
            if (next != WEFT__NO_DEADLINE) {
                uint64_t now = weft__clock_ns();
                timeout = next > now ? (int64_t)(next - now) : 0;
            }
            if (timeout != 0) {
                sleep_in_poller(L, timeout);
            } else {
                weft__backend_poll(L->backend, 0, on_ready, L);
                L->m_polls++;
            }
        } else if (L->n_io) {
            /* Something outside the ready tasks may have happened. */
            weft__backend_poll(L->backend, 0, on_ready, L);
            L->m_polls++;
        }

        /* 3. timers */
        uint64_t now = weft__clock_ns();
        L->now = now;
        weft__timers_fire(L, now);
        for (weft__service *sv = L->services; sv; sv = sv->next)
            if (sv->ops->tick)
                sv->ops->tick(L, sv, now);
        if (now - last_trim > TRIM_INTERVAL_NS) {
            weft__stacks_trim(L->stacks);
            last_trim = now;
        }

        /* 4. run */
        __atomic_store_n(&L->wd_turns, L->wd_turns + 1, __ATOMIC_RELAXED);
        uint32_t queued = L->ring_tail - L->ring_head;
        if (queued > L->m_ready_peak)
            L->m_ready_peak = queued;
        weft__run_ready(L);
        weft__stack_reap(L->stacks, &L->dead_stack);
    }
}

/* The loop closes: each service releases what it holds, last registered
 * first (a later service may rely on an earlier one). */
static void close_services(weft__loop *L)
{
    while (L->services) {
        weft__service **p = &L->services;
        while ((*p)->next)
            p = &(*p)->next;
        weft__service *sv = *p;
        *p = NULL;
        if (sv->ops->close)
            sv->ops->close(L, sv);
    }
}

static void keep_message(const char *msg)
{
    run_msg_set = msg != NULL;
    if (msg)
        snprintf(run_msg, sizeof run_msg, "%s", msg);
}

const char *weft__run_message(void)
{
    return run_msg_set ? run_msg : NULL;
}

int weft__run(weft_fn fn, void *arg, void **result,
              int (*started)(weft__loop *L, void *ctx), void *ctx)
{
    if (!fn)
        return -EINVAL;
    if (weft__tls_loop)
        return -EBUSY;
    if (result)
        *result = NULL;
    keep_message(NULL);
    weft__loop *L;
    int rc = loop_new(&L);
    if (rc)
        return rc;
    weft__overflow_state ov;
    if ((rc = weft__overflow_install(&ov))) {
        loop_free(L);
        return rc;
    }
    weft__tls_loop = L;
    weft_spawn_opts opts = {.name = "main"};
    uint32_t idx;
    /* What the caller composes with the core (run.c: the SIGINT handler)
     * joins the loop before the main task exists. */
    rc = started ? started(L, ctx) : 0;
    if (rc == 0)
        rc = weft__spawn_idx(L, fn, arg, &opts, &idx);
    if (rc == 0) {
        L->main_idx = idx;
        L->slots[idx].flags &= (uint8_t)~WEFT__SF_OWNED; /* nobody's handle */
        /* Finer timer expiry for this thread while it runs the loop: the
         * kernel's default 50 us slack shows in every sleep. */
        int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
        if (slack > 0)
            prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
        host_loop(L);
        if (slack > 0)
            prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
        weft__report_unretrieved(L);
        weft__reports_flush(L);
        if (result)
            *result = L->main_result;
        rc = L->deadlocked ? -EDEADLK : L->main_err;
        keep_message(L->main_msg);
    }
    close_services(L);
    weft__tls_loop = NULL;
    weft__overflow_uninstall(&ov);
    loop_free(L);
    return rc;
}

const char *weft_errmsg(void)
{
    weft__record *f = weft__self();
    if (f)
        return f->errmsg;
    return weft__run_message();
}

const char *weft_switch_name(void)
{
    return weft__ctx_name();
}

const char *weft_guard_name(void)
{
    switch (weft__guard_tier()) {
    case WEFT__GUARD_INSTALL:
        return "guard-install";
    case WEFT__GUARD_MPROTECT:
        return "mprotect";
    default:
        return "canary";
    }
}

/*
 * task.c - task handles and the task API: spawn, await, detach, cancel,
 * accessors, weft_fail.
 *
 * A handle is not a pointer: it packs the slot index (24 bits), the loop's
 * tag (8 bits), a "borrowed" bit (weft_current's handles, which may not be
 * consumed) and the slot's generation (31 bits).  Every call decodes and
 * checks it, so a consumed or stale handle is -EINVAL and a handle from
 * another loop -EPERM, never a stray write; a tag no loop of the process
 * has had is -EINVAL: the value was never a handle.  (A handle from
 * another loop whose tag happens to match, 1 in 256, is still caught by
 * the index and generation checks unless those match too.)
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define IDX_MASK 0xffffffu
#define GEN_MASK 0x7fffffffu
#define NAME_MAX_LEN 31

struct weft__report {
    weft__report *next;
    char text[];
};

weft_task *weft__encode(weft__loop *L, uint32_t idx, bool borrowed)
{
    uint64_t h = (uint64_t)idx | (uint64_t)L->tag << 24 |
                 (uint64_t)borrowed << 32 |
                 (uint64_t)L->slots[idx].gen << 33;
    return (weft_task *)(uintptr_t)h;
}

int weft__decode(weft_task *t, bool consume, weft__loop **Lp, uint32_t *ip)
{
    if (!t)
        return -EINVAL;
    weft__loop *L = weft__tls_loop;
    if (!L)
        return -EPERM;
    uint64_t h = (uint64_t)(uintptr_t)t;
    uint32_t idx = (uint32_t)h & IDX_MASK;
    bool borrowed = (h >> 32) & 1;
    uint32_t gen = (uint32_t)(h >> 33);
    if (((h >> 24) & 0xff) != L->tag)
        return weft__foreign_tag((uint8_t)(h >> 24));
    if (idx == 0 || idx >= L->slot_top)
        return -EINVAL;
    weft__slot *s = &L->slots[idx];
    if (s->state == WEFT__SLOT_FREE || s->gen != gen)
        return -EINVAL;
    if (__builtin_expect(borrowed ? consume : !(s->flags & WEFT__SF_OWNED),
                         0)) {
        /* A handle a task is waiting for (await, gather, weft_wait and
         * task sets take OWNED away) may still be used by others, not
         * consumed. */
        if (borrowed || !(s->flags & WEFT__SF_AWAITED))
            return -EINVAL;
        if (consume)
            return -EBUSY;
    }
    *Lp = L;
    *ip = idx;
    return 0;
}

/* ---- slots ---- */

/* The running task (if any) spawned slot idx's: noted for the dump. */
static inline void note_parent(weft__loop *L, uint32_t idx)
{
    weft__record *p = L->cur;
    L->parent_of[idx] = p ? p->idx | L->slots[p->idx].gen << 24 : 0;
}

uint32_t weft__slot_alloc(weft__loop *L)
{
    uint32_t idx = L->slot_free;
    if (idx) {
        L->slot_free = L->slots[idx].a.next_free;
        L->m_created++;
        note_parent(L, idx);
        return idx;
    }
    if (L->slot_top > IDX_MASK ||
        weft__arena_grow(&L->slot_arena,
                         (size_t)(L->slot_top + 1) * sizeof(weft__slot)))
        return 0;
    idx = L->slot_top++;
    L->slots[idx].gen = 1;
    L->m_created++;
    note_parent(L, idx);
    return idx;
}

/* ---- reports ---- */

void weft__report_add(weft__loop *L, const char *fmt, ...)
{
    va_list ap;
    char buf[512];
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = strlen(buf);
    weft__report *r = weft__malloc(sizeof *r + len + 1);
    if (!r) {
        /* No memory to keep it until the loop closes: say it now. */
        weft__say(buf);
        return;
    }
    memcpy(r->text, buf, len + 1);
    r->next = NULL;
    *L->reports_tail = r;
    L->reports_tail = &r->next;
}

void weft__reports_flush(weft__loop *L)
{
    for (weft__report *r = L->reports, *n; r; r = n) {
        n = r->next;
        weft__say(r->text); /* above any bar drawn on stderr */
        weft__free(r);
    }
    L->reports = NULL;
    L->reports_tail = &L->reports;
}

const char *weft__task_who(uint32_t idx, const char *name, weft_fn fn,
                          char *buf, size_t len)
{
    int at = name ? snprintf(buf, len, "'%s' (#%u)", name, idx)
                  : snprintf(buf, len, "#%u", idx);
    if (fn && at > 0 && (size_t)at < len - 1) {
        buf[at] = ' ';
        weft__code_where((uintptr_t)fn, false, buf + at + 1,
                         len - (size_t)at - 1);
    }
    return buf;
}

const char *weft__task_label(weft__loop *L, uint32_t idx, char *buf,
                             size_t len)
{
    weft__slot *s = &L->slots[idx];
    const char *name = (s->flags & WEFT__SF_RECORD) ? s->a.rec->name : NULL;
    return weft__task_who(idx, name, NULL, buf, len);
}

const char *weft__task_parent(weft__loop *L, uint32_t idx, char *buf,
                              size_t len)
{
    uint32_t p = L->parent_of[idx], pidx = p & IDX_MASK;
    buf[0] = '\0';
    if (!pidx || pidx >= L->slot_top)
        return buf;
    /* Generations compared in 8 bits: 1 in 256 reuses passes for it. */
    const weft__slot *ps = &L->slots[pidx];
    bool same = ps->state != WEFT__SLOT_FREE &&
                (uint8_t)ps->gen == (uint8_t)(p >> 24);
    snprintf(buf, len, ", child of #%u%s", pidx, same ? "" : " (finished)");
    return buf;
}

static void report_failure(weft__loop *L, uint32_t idx, const char *what)
{
    weft__slot *s = &L->slots[idx];
    const char *msg = weft__msg_peek(L, idx);
    char parent[48];
    weft__task_parent(L, idx, parent, sizeof parent);
    weft__report_add(L, "weft: task #%u%s%s %s: %s%s%s", idx, parent,
                     parent[0] ? "," : "", what,
                     weft_strerror(weft__slot_err(s)), msg ? ": " : "",
                     msg ? msg : "");
}

/* ---- notes taken at shutdown ---- */

typedef struct weft__close_note {
    uint32_t idx;
    weft_fn fn;  /* NULL if unknown (a job run elsewhere) */
    char *name;  /* owned, or NULL */
} weft__close_note;

static bool unclaimed(const weft__slot *s)
{
    return (s->state == WEFT__SLOT_PENDING ||
            s->state == WEFT__SLOT_RUNNING) &&
           (s->flags & WEFT__SF_OWNED) &&
           !(s->flags & (WEFT__SF_AWAITED | WEFT__SF_DETACHED |
                         WEFT__SF_JOINED));
}

void weft__close_notes_take(weft__loop *L)
{
    uint32_t n = 0;
    for (uint32_t i = 1; i < L->slot_top; i++)
        n += unclaimed(&L->slots[i]);
    if (!n || L->close_notes ||
        !(L->close_notes = weft__malloc(n * sizeof *L->close_notes)))
        return;
    for (uint32_t i = 1; i < L->slot_top; i++) {
        weft__slot *s = &L->slots[i];
        if (!unclaimed(s))
            continue;
        weft__close_note *e = &L->close_notes[L->n_close_notes++];
        weft__record *r = (s->flags & WEFT__SF_RECORD) ? s->a.rec : NULL;
        e->idx = i;
        e->fn = r ? r->fn
                  : (s->flags & WEFT__SF_STACKLESS) ? NULL
                                                    : L->fns[WEFT__X_FN(s->x)];
        e->name = r && r->name ? weft__strndup(r->name, NAME_MAX_LEN) : NULL;
    }
}

void weft__close_notes_free(weft__loop *L)
{
    for (uint32_t k = 0; k < L->n_close_notes; k++)
        weft__free(L->close_notes[k].name);
    weft__free(L->close_notes);
    L->close_notes = NULL;
    L->n_close_notes = 0;
}

static bool failed(const weft__slot *s)
{
    return weft__slot_err(s) != 0 && weft__slot_err(s) != -ECANCELED;
}

/* At loop close: tasks whose handle was never consumed (awaited, gathered,
 * detached) and whose outcome would otherwise pass unseen, as asyncio's
 * "Task exception was never retrieved" and "Task was destroyed but it is
 * pending".  A task that succeeded with NULL says nothing worth keeping. */
void weft__report_unretrieved(weft__loop *L)
{
    uint32_t k = 0; /* the notes, walked alongside the slots */
    for (uint32_t i = 1; i < L->slot_top; i++) {
        weft__slot *s = &L->slots[i];
        if (s->state != WEFT__SLOT_DONE || !(s->flags & WEFT__SF_OWNED))
            continue;
        while (k < L->n_close_notes && L->close_notes[k].idx < i)
            k++;
        const weft__close_note *e =
            k < L->n_close_notes && L->close_notes[k].idx == i
                ? &L->close_notes[k]
                : NULL;
        char parent[48], label[320];
        weft__task_parent(L, i, parent, sizeof parent);
        weft__task_who(i, e ? e->name : NULL, e ? e->fn : NULL, label,
                       sizeof label);
        if (failed(s))
            report_failure(L, i, "failed and was never awaited");
        else if (weft__slot_err(s) == -ECANCELED)
            weft__report_add(L,
                             "weft: task %s%s%s was cancelled and never "
                             "awaited (still running when its loop shut "
                             "down?)",
                             label, parent, parent[0] ? "," : "");
        else if (s->a.result) {
            weft__task_who(i, weft__name_peek(L, i),
                           s->x ? L->fns[s->x] : NULL, label, sizeof label);
            weft__report_add(L,
                             "weft: task %s%s%s finished with a result (%p) "
                             "that was never awaited",
                             label, parent, parent[0] ? "," : "",
                             s->a.result);
        }
    }
    weft__close_notes_free(L);
}

/* ---- finishing ---- */

/* The waiter array is reserved for every possible slot and committed by
 * the kernel on first touch, so recording a waiter cannot fail: awaiting
 * never allocates. */
void weft__waiter_set(weft__loop *L, uint32_t idx, uint32_t waiter)
{
    L->waiter_of[idx] = waiter;
}

/* Slot idx finished: tell whoever waits for it - a join set it belongs
 * to, an await (inline: the common case), or the waiter's wait kind. */
static void notify_waiter(weft__loop *L, uint32_t idx)
{
    uint32_t w = L->waiter_of[idx];
    if (L->slots[idx].flags & WEFT__SF_JOINED) {
        weft__join_child_done(L, L->joinsets[w], idx);
        return;
    }
    if (!w || L->slots[w].state != WEFT__SLOT_RUNNING)
        return;
    weft__record *wr = L->slots[w].a.rec;
    if (wr->wait != WEFT__WAIT_BLOCKED)
        return;
    if (wr->kind == &weft__wait_await) {
        if (wr->awaiting == idx)
            weft__ready(L, wr, 0);
    } else if (wr->kind->task_done) {
        wr->kind->task_done(L, wr, idx);
    }
}

void weft__task_keep_name(weft__loop *L, weft__record *f)
{
    weft__slot *s = &L->slots[f->idx];
    if (f->idx && f->idx < L->slot_top && s->state == WEFT__SLOT_DONE &&
        (s->flags & WEFT__SF_OWNED) &&
        !(s->flags & (WEFT__SF_AWAITED | WEFT__SF_JOINED |
                      WEFT__SF_DETACHED)) &&
        s->a.result && !weft__slot_err(s)) {
        weft__name_attach(L, f->idx, f->name);
        f->name = NULL;
    }
}

void weft__task_finish(weft__loop *L, uint32_t idx, weft__record *f,
                       void *result, int err, char *msg)
{
    weft__slot *s = &L->slots[idx];
    if (s->flags & WEFT__SF_CANCELLED)
        err = -ECANCELED;
    s->state = WEFT__SLOT_DONE;
    s->flags &= (uint8_t)~WEFT__SF_RECORD;
    if (err) /* on success x keeps the function's index (weft__slot_err) */
        weft__slot_set_err(s, err);
    s->a.result = result;
    if (f) {
        msg = f->fail_msg;
        f->fail_msg = NULL;
    }
    if (msg)
        weft__msg_attach(L, idx, msg);
    L->n_alive--;
    if (s->flags & WEFT__SF_AWAITED)
        notify_waiter(L, idx);
    if (idx == L->main_idx) {
        L->main_done = true;
        weft__budget_set(L, 0); /* back to the host, which shuts it down */
        L->main_result = result;
        L->main_err = err;
        L->main_msg = weft__msg_take(L, idx);
        L->main_idx = 0; /* its slot is reused from now on */
        weft__slot_release(L, idx);
    } else if (s->flags & WEFT__SF_DETACHED) {
        if (failed(s))
            report_failure(L, idx, "(detached) failed");
        weft__slot_release(L, idx);
    }
}

/* ---- cancellation and wait cycles ---- */

/* Cancellation reaches task idx: flag it; a blocked task is expanded later
 * (its targets cancelled, or itself woken). */
static bool cancel_visit(weft__loop *L, weft__walk *w, uint32_t idx)
{
    weft__slot *s = &L->slots[idx];
    if (s->state == WEFT__SLOT_DONE)
        return false;
    s->flags |= WEFT__SF_CANCELLED;
    if (s->state != WEFT__SLOT_RUNNING)
        return false; /* PENDING: finishes when its turn comes */
    if (s->flags & WEFT__SF_STACKLESS) {
        s->a.ext->ops->cancel(L, idx, s->a.ext);
        return false;
    }
    weft__record *r = s->a.rec;
    r->cancelled = 1;
    if (!r->shield)
        weft__walk_push(L, w, r);
    return false;
}

/* A task that waits for other tasks passes the cancellation on and wakes
 * when they have finished; any other blocked task wakes now. */
static void cancel_drain(weft__loop *L, weft__walk *w)
{
    while (w->stack) {
        weft__record *r = w->stack;
        w->stack = r->walk_next;
        if (!weft__walk_targets(L, r, w, false))
            weft__wake(L, r, -ECANCELED);
    }
}

int weft__cancel(weft__loop *L, uint32_t idx)
{
    if (L->slots[idx].state == WEFT__SLOT_DONE)
        return 1;
    L->walk_epoch++;
    weft__walk w = {.visit = cancel_visit};
    weft__walk_visit(L, &w, idx);
    cancel_drain(L, &w);
    return 0;
}

/* Starts a cancellation walk from r (not cancelling r itself) with the
 * children of r's join sets opened inside scope `depth`. */
static void walk_sets_inside(weft__loop *L, weft__record *r, int depth,
                             weft__walk *w)
{
    L->walk_epoch++;
    r->walk_epoch = L->walk_epoch;
    *w = (weft__walk){.visit = cancel_visit};
    for (weft__joinset *js = r->join; js; js = js->outer)
        if (js->depth > depth && !js->passive)
            js->targets(L, js, w);
}

void weft__scope_cancel_sets(weft__loop *L, weft__record *r, int depth)
{
    weft__walk w;
    walk_sets_inside(L, r, depth, &w);
    cancel_drain(L, &w);
}

void weft__interrupt(weft__loop *L, weft__record *r)
{
    if (r->wait != WEFT__WAIT_BLOCKED)
        return;
    int depth;
    /* The call marks the scope when it returns (weft__block, or its own
     * check): the task may still be cancelled in this turn, which would
     * speak first. */
    int cause = weft__scope_cause(L, r, &depth, false);
    /* What was started inside the cancelled scope is cancelled: the join
     * sets opened in it, and the tasks the blocked call waits for. */
    weft__walk w;
    walk_sets_inside(L, r, depth, &w);
    if (!(r->kind->targets && r->kind->targets(L, r, &w))) {
        weft__wake(L, r, cause);
    } else if (r->timer_pos) {
        /* It waits on until the tasks it waits for have finished; its
         * timer has done its work. */
        weft__timer_del(L, r);
    }
    cancel_drain(L, &w);
}

static bool cycle_visit(weft__loop *L, weft__walk *w, uint32_t idx)
{
    if (idx == w->target)
        return true;
    weft__slot *s = &L->slots[idx];
    if (s->state == WEFT__SLOT_RUNNING && !(s->flags & WEFT__SF_STACKLESS))
        weft__walk_push(L, w, s->a.rec);
    return false;
}

bool weft__waits_on(weft__loop *L, uint32_t from, uint32_t to)
{
    L->walk_epoch++;
    weft__walk w = {.visit = cycle_visit, .target = to};
    weft__walk_visit(L, &w, from);
    while (!w.found && w.stack) {
        weft__record *r = w.stack;
        w.stack = r->walk_next;
        weft__walk_targets(L, r, &w, true);
    }
    return w.found;
}

/* ---- the await wait ---- */

static bool await_targets(weft__loop *L, weft__record *r, weft__walk *w)
{
    weft__walk_visit(L, w, r->awaiting);
    return true;
}

static void await_describe(weft__loop *L, weft__record *r, char *buf,
                           size_t len)
{
    char label[64];
    snprintf(buf, len, "awaiting task %s",
             weft__task_label(L, r->awaiting, label, sizeof label));
}

const weft__wait_kind weft__wait_await = {
    .targets = await_targets,
    .describe = await_describe,
};

void weft__await_done(weft__loop *L, weft__record *r, uint32_t idx)
{
    /* Only the awaited task's end wakes this wait; cancelling the waiter
     * cancels the awaited task instead (weft__cancel). */
    r->awaiting = idx;
    while (L->slots[idx].state != WEFT__SLOT_DONE)
        weft__block(L, r, &weft__wait_await, WEFT__NO_DEADLINE);
    r->awaiting = 0;
}

/* ---- spawning ---- */

static long page_size(void)
{
    /* Every loop's thread may ask first: relaxed atomics (they all write
     * the same answer). */
    static _Atomic long pg;
    long got = atomic_load_explicit(&pg, memory_order_relaxed);
    if (!got) {
        got = sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&pg, got, memory_order_relaxed);
    }
    return got;
}

int weft__spawn_idx(weft__loop *L, weft_fn fn, void *arg,
                    const weft_spawn_opts *o, uint32_t *out)
{
    size_t stack = 0;
    bool eager = false, record = false, compact = false;
    if (o) {
        if (o->flags & ~(WEFT_SPAWN_EAGER | WEFT_SPAWN_COMPACT))
            return -EINVAL;
        if (o->flags & WEFT_SPAWN_COMPACT) {
            if (o->stack_size) /* the shared stack's size is the loop's */
                return -EINVAL;
#ifdef WEFT_CTX_UCONTEXT
            return -ENOTSUP;
#endif
        }
        if (o->stack_size) {
            if (o->stack_size < WEFT_STACK_MIN ||
                o->stack_size > WEFT_STACK_MAX)
                return -EINVAL;
            size_t pg = (size_t)page_size();
            stack = (o->stack_size + pg - 1) & ~(pg - 1);
        }
        eager = (o->flags & WEFT_SPAWN_EAGER) != 0;
        if (eager && !L->cur)
            return -EPERM;
        compact = (o->flags & WEFT_SPAWN_COMPACT) != 0;
        record = eager || stack || o->name;
    }
    if (weft__ring_reserve(L, L->n_alive + 1))
        return -ENOMEM;
    uint32_t idx = weft__slot_alloc(L);
    if (!idx)
        return -ENOMEM;
    weft__slot *s = &L->slots[idx];
    s->state = WEFT__SLOT_PENDING;
    s->flags = WEFT__SF_OWNED;
    /* The function's index stays in x until the task fails: the report
     * at close names a task that succeeded unawaited by it. */
    s->x = fn == L->fn_last ? L->fn_last_idx : weft__fn_index(L, fn);
    if (!s->x)
        record = true; /* no room in the function table: keep fn aside */
    if (record) {
        weft__record *f = weft__record_alloc(L);
        char *name = NULL;
        if (f && o && o->name &&
            !(name = weft__strndup(o->name, NAME_MAX_LEN))) {
            weft__record_release(L, f);
            f = NULL;
        }
        if (!f) {
            weft__slot_release(L, idx);
            return -ENOMEM;
        }
        weft__record_identify(f, idx, fn);
        f->arg = arg;
        f->name = name;
        f->stack.size = stack;
        if (compact)
            f->scope_alert = WEFT__ALERT_COMPACT;
        s->a.rec = f;
        s->flags |= WEFT__SF_RECORD;
    } else {
        s->a.arg = arg;
        if (compact)
            s->x |= WEFT__X_COMPACT;
    }
    if (L->closing)
        s->flags |= WEFT__SF_CANCELLED;
    L->n_alive++;
    *out = idx;
    if (eager)
        weft__start_eager(L, idx);
    else
        weft__ring_push(L, idx);
    return 0;
}

int weft_spawn_ex(weft_fn fn, void *arg, const weft_spawn_opts *opts,
                  weft_task **task)
{
    weft__loop *L = weft__tls_loop;
    if (!fn || !task)
        return -EINVAL;
    if (!L || !L->cur)
        return -EPERM;
    /* The child would use it while the compact task whose frame holds it
     * is away (docs/compact-tasks.md). */
    WEFT__REFUSE_ON_SHARED_STACK(L, arg);
    uint32_t idx;
    int rc = weft__spawn_idx(L, fn, arg, opts, &idx);
    if (rc)
        return rc;
    /* An eager task may already have finished; its slot stays until the
     * handle is consumed, so the handle is valid either way. */
    *task = weft__encode(L, idx, false);
    return 0;
}

int weft_spawn(weft_fn fn, void *arg, weft_task **task)
{
    return weft_spawn_ex(fn, arg, NULL, task);
}

/* ---- await ---- */

/* The checks every await starts with: a handle of this loop, consumable,
 * a caller in a task, no wait cycle.  The handle is not consumed yet. */
/* Why an await was refused, in words, for weft_errmsg(): out of line, on
 * the error path only. */
static __attribute__((noinline, cold)) int await_refused(weft_task *task,
                                                         int rc)
{
    weft__record *self = weft__self();
    if (!self)
        return rc;
    const char *why = NULL;
    if (rc == -EINVAL && task)
        why = "the handle was already awaited or detached (or is a "
              "borrowed handle, or stale)";
    else if (rc == -EBUSY)
        why = "another task is waiting for this task";
    else if (rc == -EDEADLK)
        why = "awaiting this task would wait for the caller itself";
    else if (rc == -EPERM)
        why = "the handle belongs to another loop";
    weft__free(self->errmsg);
    self->errmsg = why ? weft__strndup(why, 256) : NULL;
    return rc;
}

static inline __attribute__((always_inline)) int
await_begin(weft_task *task, weft__loop **Lp, uint32_t *ip)
{
    int rc = weft__decode(task, true, Lp, ip);
    if (rc)
        return rc;
    weft__loop *L = *Lp;
    weft__record *self = L->cur;
    if (!self)
        return -EPERM;
    /* Only a started task can wait on anything: no walk otherwise. */
    if (*ip == self->idx || (L->slots[*ip].state == WEFT__SLOT_RUNNING &&
                             weft__waits_on(L, *ip, self->idx)))
        return -EDEADLK;
    return 0;
}

/* Waits for slot idx to finish - cancelling it first if the caller's calls
 * must fail - and collects it: its own outcome. */
static inline __attribute__((always_inline)) int
await_join(weft__loop *L, weft__record *self, uint32_t idx, void **result)
{
    weft__slot *s = &L->slots[idx];
    /* The handle stays valid for other tasks (cancel, query) until the
     * slot is collected; only another await or a detach is refused. */
    s->flags = (uint8_t)((s->flags & ~WEFT__SF_OWNED) | WEFT__SF_AWAITED);
    if (s->state != WEFT__SLOT_DONE) {
        weft__waiter_set(L, idx, self->idx);
        if (weft__check(L, self))
            weft__cancel(L, idx); /* may finish it at once (a queued job) */
        if (s->state != WEFT__SLOT_DONE)
            weft__await_done(L, self, idx);
    }
    return weft__collect(L, idx, result, true);
}

int weft_await(weft_task *task, void **result)
{
    weft__loop *L;
    uint32_t idx;
    int rc = await_begin(task, &L, &idx);
    if (rc)
        return await_refused(task, rc);
    weft__record *self = L->cur;
    rc = await_join(L, self, idx, result);
    int why = weft__check(L, self);
    return why ? why : rc;
}

int weft_wait_for(weft_task *task, double timeout, void **result)
{
    weft__loop *L;
    uint32_t idx;
    if (timeout != timeout) /* NaN */
        return -EINVAL;
    int rc = await_begin(task, &L, &idx);
    if (rc)
        return await_refused(task, rc);
    weft__record *self = L->cur;
    if (L->slots[idx].state == WEFT__SLOT_DONE) /* its own outcome */
        return weft__collect(L, idx, result, true);
    weft_scope *scope;
    if ((rc = weft_scope_open(timeout, &scope)))
        return rc; /* nothing consumed */
    rc = await_join(L, self, idx, result);
    weft__check(L, self); /* marks the scope that ended the wait, if any */
    int caught = weft_scope_close(scope);
    /* An outer scope or the caller's own cancellation speaks first; then
     * the timeout, if it is what ended the task. */
    int why = weft__check(L, self);
    if (why)
        return why;
    if (caught == 1 && rc == -ECANCELED)
        return -ETIMEDOUT;
    return rc;
}

int weft__collect(weft__loop *L, uint32_t idx, void **result, bool keep_msg)
{
    weft__slot *s = &L->slots[idx];
    if (result)
        *result = s->a.result;
    int rc = weft__slot_err(s);
    char *msg = (s->flags & WEFT__SF_MSG) ? weft__msg_take(L, idx) : NULL;
    if (keep_msg && L->cur) {
        weft__free(L->cur->errmsg);
        L->cur->errmsg = msg;
    } else {
        weft__free(msg);
    }
    weft__slot_release(L, idx);
    return rc;
}

/* ---- the rest of the handle API ---- */

int weft_task_detach(weft_task *task)
{
    weft__loop *L;
    uint32_t idx;
    int rc = weft__decode(task, true, &L, &idx);
    if (rc)
        return rc;
    weft__slot *s = &L->slots[idx];
    s->flags = (uint8_t)((s->flags & ~WEFT__SF_OWNED) | WEFT__SF_DETACHED);
    if (s->state == WEFT__SLOT_DONE) {
        if (failed(s))
            report_failure(L, idx, "(detached) failed");
        weft__slot_release(L, idx);
    }
    return 0;
}

int weft_task_cancel(weft_task *task)
{
    weft__loop *L;
    uint32_t idx;
    int rc = weft__decode(task, false, &L, &idx);
    if (rc)
        return rc;
    return weft__cancel(L, idx);
}

int weft_task_done(weft_task *task)
{
    weft__loop *L;
    uint32_t idx;
    int rc = weft__decode(task, false, &L, &idx);
    if (rc)
        return rc;
    return L->slots[idx].state == WEFT__SLOT_DONE;
}

int weft_task_result(weft_task *task, void **result)
{
    weft__loop *L;
    uint32_t idx;
    int rc = weft__decode(task, false, &L, &idx);
    if (rc)
        return rc;
    weft__slot *s = &L->slots[idx];
    if (s->state != WEFT__SLOT_DONE)
        return -EAGAIN;
    if (result)
        *result = s->a.result;
    return weft__slot_err(s);
}

const char *weft_task_message(weft_task *task)
{
    weft__loop *L;
    uint32_t idx;
    if (weft__decode(task, false, &L, &idx))
        return NULL;
    weft__slot *s = &L->slots[idx];
    return s->state == WEFT__SLOT_DONE ? weft__msg_peek(L, idx) : NULL;
}

const char *weft_task_name(weft_task *task)
{
    weft__loop *L;
    uint32_t idx;
    if (weft__decode(task, false, &L, &idx))
        return NULL;
    weft__slot *s = &L->slots[idx];
    if ((s->flags & WEFT__SF_RECORD) && s->a.rec->name)
        return s->a.rec->name;
    return "";
}

weft_task *weft_current(void)
{
    weft__loop *L = weft__tls_loop;
    if (!L || !L->cur)
        return NULL;
    return weft__encode(L, L->cur->idx, true);
}

__thread weft__fail_sink *weft__tls_fail_sink;

void *weft_fail(int err, const char *fmt, ...)
{
    weft__record *f = weft__self();
    err = (err >= -4095 && err <= -1) ? err : -EINVAL;
    char *msg = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n >= 0 && (msg = weft__malloc((size_t)n + 1))) {
            va_start(ap, fmt);
            vsnprintf(msg, (size_t)n + 1, fmt, ap);
            va_end(ap);
        }
    }
    if (f) {
        f->fail_err = err;
        weft__free(f->fail_msg);
        f->fail_msg = msg;
    } else if (weft__tls_fail_sink) {
        weft__fail_sink *sink = weft__tls_fail_sink;
        sink->err = err;
        weft__free(sink->msg);
        sink->msg = msg;
    } else {
        weft__free(msg); /* neither a task nor a stackless task's thread */
    }
    return NULL;
}

int weft_shield_begin(void)
{
    weft__record *f = weft__self();
    if (!f)
        return -EPERM;
    if (f->shield == UINT16_MAX)
        return -EOVERFLOW;
    f->shield++;
    return 0;
}

int weft_shield_end(void)
{
    weft__record *f = weft__self();
    if (!f)
        return -EPERM;
    if (!f->shield)
        return -EINVAL;
    if (f->nscopes && f->scopes[f->nscopes - 1].shield == f->shield)
        return -EBUSY; /* a scope opened inside it is still open */
    f->shield--;
    return 0;
}

void weft__join_drain(weft__loop *L, weft__joinset *js)
{
    weft__record *f = js->owner;
    js->draining = true;
    L->walk_epoch++;
    f->walk_epoch = L->walk_epoch;
    weft__walk w = {.visit = cancel_visit};
    js->targets(L, js, &w);
    cancel_drain(L, &w);
    js->interruptible = false;
    while (js->remaining)
        weft__join_wait(L, js);
}

void weft__task_left_open(weft__loop *L, weft__record *f)
{
    int nsets = 0;
    while (f->join) {
        weft__joinset *js = f->join;
        weft__join_drain(L, js);
        weft__join_close(L, js);
        if (js->abandon)
            js->abandon(L, js);
        nsets++;
    }
    int nscopes = weft__scopes_end(L, f);
    if (f->fail_err)
        return;
    f->fail_err = -EINVAL;
    weft__free(f->fail_msg);
    f->fail_msg = weft__malloc(96);
    if (f->fail_msg)
        snprintf(f->fail_msg, 96,
                 "returned with %d task group(s) or set(s) and %d cancel "
                 "scope(s) open",
                 nsets, nscopes);
}

int weft_cancelled(void)
{
    weft__loop *L = weft__tls_loop;
    if (!L || !L->cur)
        return -EPERM;
    return L->cur->cancelled;
}

/*
 * scope.c - cancel scopes (trio's CancelScope, asyncio.timeout): a region
 * of a task that can be cancelled explicitly or by a deadline, after which
 * every suspending call inside it fails with -ECANCELED or -ETIMEDOUT until
 * the scope closes.
 *
 * State lives in the task's record, never in the caller's storage: a stack
 * of at most WEFT__SCOPE_MAX entries (allocated with the record's first
 * scope and kept with the record), and a handle that encodes the record's
 * slot, the entry's depth and a serial number, so that a stale handle is
 * -EINVAL, never a stray write.
 *
 * Shields and scopes nest together: an entry remembers the task's shield
 * depth when it was opened, and it is visible - able to cancel the calls
 * made now - only while no shield opened after it is still open.  The
 * visible entries are therefore the innermost ones, a suffix of the stack.
 * A call fails because of the *outermost* visible cancelled entry (trio's
 * rule: an outer cancellation is never absorbed by an inner scope), which
 * is marked as caught; weft_scope_close reports that mark.
 *
 * Deadlines cost nothing until a task blocks: weft__block arms the task's
 * one timer for the earlier of the call's own deadline and the visible
 * scopes' (weft__scope_deadline); when it fires, weft__scope_timer tells
 * which one it was.  A deadline that passes while the task runs is noticed
 * by its next suspending call, against the loop's per-turn clock (never
 * ahead of the real one, so never early) - or, if that clock lags, by the
 * timer that call arms.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

#define IDX_MASK 0xffffffu
#define SERIAL_MASK 0x0fffffffu

/* ---- the visible entries ---- */

/* Index of the outermost entry r can see; r->nscopes if none. */
static int visible_from(const weft__record *r)
{
    int i = r->nscopes;
    while (i > 0 && r->scopes[i - 1].shield == r->shield)
        i--;
    return i;
}

static void update_alert(weft__record *r)
{
    uint8_t alert = 0;
    for (int i = 0; i < r->nscopes; i++)
        if (r->scopes[i].cause || r->scopes[i].deadline != WEFT__NO_DEADLINE)
            alert = 1;
    r->scope_alert = (uint8_t)((r->scope_alert & WEFT__ALERT_COMPACT) | alert);
}

/* Entry i of r becomes cancelled with `cause`: what was started inside it
 * - the children of the join sets opened in it - is cancelled now, whether
 * or not r is blocked (r itself is woken by weft__interrupt if it is). */
static void set_cause(weft__loop *L, weft__record *r, int i, int cause)
{
    r->scopes[i].cause = cause;
    r->scope_alert |= WEFT__ALERT_SCOPE;
    if (r->join)
        weft__scope_cancel_sets(L, r, i);
}

/* Expires visible entries whose deadline is <= t; returns the cause of the
 * outermost cancelled visible entry (marked caught if `mark`; its index in
 * *at), 0 if none. */
static int visible_cause(weft__loop *L, weft__record *r, uint64_t t,
                         bool mark, int *at)
{
    for (int i = visible_from(r); i < r->nscopes; i++) {
        weft__scope_ent *e = &r->scopes[i];
        if (!e->cause && e->deadline <= t)
            set_cause(L, r, i, -ETIMEDOUT);
        if (e->cause) {
            if (mark)
                e->caught = 1;
            if (at)
                *at = i;
            return e->cause;
        }
    }
    return 0;
}

int weft__scope_cause(weft__loop *L, weft__record *r, int *depth, bool mark)
{
    *depth = -1; /* the task's own cancellation: outside every scope */
    if (r->cancelled && r->shield == 0)
        return -ECANCELED;
    if (!(r->scope_alert & WEFT__ALERT_SCOPE))
        return 0;
    return visible_cause(L, r, L->now, mark, depth);
}

int weft__check_cause(weft__loop *L, weft__record *r)
{
    int depth;
    return weft__scope_cause(L, r, &depth, true);
}

int weft__check_slow(weft__loop *L, weft__record *r)
{
    /* A compact task takes this path on every suspension: the cause is
     * looked for only where there can be one. */
    if (weft__cause_possible(r)) {
        int why = weft__check_cause(L, r);
        if (why)
            return why;
    }
    return WEFT__IS_COMPACT(r) ? weft__compact_reserve(L, r) : 0;
}

uint64_t weft__scope_deadline(weft__record *r)
{
    uint64_t d = WEFT__NO_DEADLINE;
    for (int i = visible_from(r); i < r->nscopes; i++)
        if (r->scopes[i].deadline < d)
            d = r->scopes[i].deadline;
    return d;
}

bool weft__scope_timer(weft__loop *L, weft__record *r, uint64_t t)
{
    if (!visible_cause(L, r, t, false, NULL))
        return false;
    weft__interrupt(L, r);
    return true;
}

/* A blocked r whose scopes changed: interrupt it if a visible scope is now
 * cancelled, else re-arm its timer for the new earliest deadline. */
static void rearm(weft__loop *L, weft__record *r)
{
    if (r->wait != WEFT__WAIT_BLOCKED)
        return;
    if (visible_cause(L, r, L->now, false, NULL)) {
        weft__interrupt(L, r);
        return;
    }
    if (r->kind->self_timed && !r->timer_pos)
        return; /* nothing of ours to re-arm (see weft__wait_kind) */
    uint64_t want = weft__scope_deadline(r);
    if (r->wait_deadline < want)
        want = r->wait_deadline;
    if (want == r->deadline)
        return;
    if (r->timer_pos)
        weft__timer_del(L, r);
    if (want != WEFT__NO_DEADLINE)
        weft__timer_add(L, r, want);
}

/* ---- handles ---- */

static weft_scope *encode(weft__loop *L, weft__record *r, int depth)
{
    uint64_t h = (uint64_t)r->idx | (uint64_t)L->tag << 24 |
                 (uint64_t)depth << 32 |
                 (uint64_t)r->scopes[depth].serial << 36;
    return (weft_scope *)(uintptr_t)h;
}

/* The record and entry a handle names, on this thread's loop.  0, -EINVAL
 * (NULL, stale, closed) or -EPERM (no loop here, another loop's). */
static int decode(weft_scope *s, weft__loop **Lp, weft__record **rp,
                  int *depthp)
{
    if (!s)
        return -EINVAL;
    weft__loop *L = weft__tls_loop;
    if (!L)
        return -EPERM;
    uint64_t h = (uint64_t)(uintptr_t)s;
    uint32_t idx = (uint32_t)h & IDX_MASK;
    int depth = (int)((h >> 32) & 0xf);
    uint32_t serial = (uint32_t)(h >> 36) & SERIAL_MASK;
    if (((h >> 24) & 0xff) != L->tag)
        return weft__foreign_tag((uint8_t)(h >> 24));
    if (!serial || idx == 0 || idx >= L->slot_top)
        return -EINVAL;
    weft__slot *sl = &L->slots[idx];
    if (sl->state != WEFT__SLOT_RUNNING || !(sl->flags & WEFT__SF_RECORD))
        return -EINVAL;
    weft__record *r = sl->a.rec;
    if (depth >= r->nscopes || r->scopes[depth].serial != serial)
        return -EINVAL;
    *Lp = L;
    *rp = r;
    *depthp = depth;
    return 0;
}

/* ---- the API ---- */

/* Absolute deadline in ns from seconds on weft_now()'s clock. */
static uint64_t abs_ns(double at)
{
    if (at >= 18446744073.0) /* +inf, and beyond the clock's range */
        return WEFT__NO_DEADLINE;
    if (at <= 0)
        return 0;
    return (uint64_t)ceil(at * 1e9);
}

static int open_scope(uint64_t deadline, weft_scope **out)
{
    weft__loop *L = weft__tls_loop;
    weft__record *r = L ? L->cur : NULL;
    if (!out)
        return -EINVAL;
    if (!r)
        return -EPERM;
    return weft__scope_open(L, r, deadline, out);
}

int weft__scope_open(weft__loop *L, weft__record *r, uint64_t deadline,
                     weft_scope **out)
{
    if (r->nscopes >= WEFT__SCOPE_MAX)
        return -EOVERFLOW;
    if (!r->scopes &&
        !(r->scopes = weft__calloc(WEFT__SCOPE_MAX, sizeof *r->scopes)))
        return -ENOMEM;
    weft__scope_ent *e = &r->scopes[r->nscopes];
    L->scope_serial = (L->scope_serial + 1) & SERIAL_MASK;
    if (!L->scope_serial)
        L->scope_serial = 1;
    *e = (weft__scope_ent){
        .deadline = deadline, .serial = L->scope_serial, .shield = r->shield};
    if (deadline != WEFT__NO_DEADLINE) {
        /* A deadline already passed (by the loop's clock: no clock read
         * here) cancels the scope now. */
        if (deadline <= L->now)
            e->cause = -ETIMEDOUT;
        r->scope_alert |= WEFT__ALERT_SCOPE;
    }
    *out = encode(L, r, r->nscopes);
    r->nscopes++;
    return 0;
}

int weft_scope_open(double timeout, weft_scope **scope)
{
    if (isnan(timeout))
        return -EINVAL;
    if (timeout >= 18446744073.0)
        return open_scope(WEFT__NO_DEADLINE, scope);
    if (timeout <= 0)
        return open_scope(0, scope); /* expired at once */
    /* One clock read (the floor of a deadline that is never early). */
    return open_scope(weft__deadline_after(timeout), scope);
}

int weft_scope_open_at(double deadline, weft_scope **scope)
{
    if (isnan(deadline))
        return -EINVAL;
    return open_scope(abs_ns(deadline), scope);
}

int weft_scope_close(weft_scope *scope)
{
    weft__loop *L;
    weft__record *r;
    int depth;
    int rc = decode(scope, &L, &r, &depth);
    if (rc)
        return rc;
    if (r != L->cur)
        return -EPERM;
    if (depth != r->nscopes - 1)
        return -EBUSY; /* a scope opened inside it is still open */
    if (r->scopes[depth].shield != r->shield)
        return -EBUSY; /* a shield opened inside it is still open */
    int caught = r->scopes[depth].caught;
    r->scopes[depth].serial = 0;
    r->nscopes--;
    update_alert(r);
    /* Join sets opened inside it and still open are outside it now (a
     * later scope at the same depth is not around them). */
    for (weft__joinset *js = r->join; js; js = js->outer)
        if (js->depth > r->nscopes)
            js->depth = r->nscopes;
    return caught;
}

int weft__scope_is_innermost(weft_scope *scope)
{
    weft__loop *L;
    weft__record *r;
    int depth;
    int rc = decode(scope, &L, &r, &depth);
    if (rc)
        return rc;
    return depth == r->nscopes - 1 && r->scopes[depth].shield == r->shield;
}

int weft_scope_cancel(weft_scope *scope)
{
    weft__loop *L = weft__tls_loop;
    if (L && !L->cur)
        return -EPERM;
    return weft__scope_cancel(scope);
}

int weft__scope_cancel(weft_scope *scope)
{
    weft__loop *L;
    weft__record *r;
    int depth;
    int rc = decode(scope, &L, &r, &depth);
    if (rc)
        return rc;
    if (r->scopes[depth].cause)
        return 0;
    set_cause(L, r, depth, -ECANCELED);
    rearm(L, r);
    return 0;
}

int weft_scope_reschedule(weft_scope *scope, double deadline)
{
    weft__loop *L;
    weft__record *r;
    int depth;
    if (isnan(deadline))
        return -EINVAL;
    int rc = decode(scope, &L, &r, &depth);
    if (rc)
        return rc;
    if (!L->cur)
        return -EPERM;
    weft__scope_ent *e = &r->scopes[depth];
    e->deadline = abs_ns(deadline);
    if (!e->cause && e->deadline != WEFT__NO_DEADLINE) {
        uint64_t now = weft__now_refresh(L);
        if (e->deadline <= now)
            set_cause(L, r, depth, -ETIMEDOUT);
    }
    update_alert(r);
    rearm(L, r);
    return 0;
}

int weft_scope_deadline(weft_scope *scope, double *deadline)
{
    weft__loop *L;
    weft__record *r;
    int depth;
    if (!deadline)
        return -EINVAL;
    int rc = decode(scope, &L, &r, &depth);
    if (rc)
        return rc;
    uint64_t d = r->scopes[depth].deadline;
    *deadline = d == WEFT__NO_DEADLINE ? INFINITY : (double)d * 1e-9;
    return 0;
}

int weft_scope_cancelled(weft_scope *scope)
{
    weft__loop *L;
    weft__record *r;
    int depth;
    int rc = decode(scope, &L, &r, &depth);
    if (rc)
        return rc;
    weft__scope_ent *e = &r->scopes[depth];
    if (!e->cause && e->deadline <= L->now)
        set_cause(L, r, depth, -ETIMEDOUT);
    return e->cause;
}

/* ---- the end of a task ---- */

int weft__scopes_end(weft__loop *L, weft__record *r)
{
    int n = r->nscopes;
    /* Innermost first, as they would have been closed; a hook may
     * suspend (a group joins its children), so each entry stays until its
     * hook has run. */
    while (r->nscopes) {
        weft__scope_ent *e = &r->scopes[r->nscopes - 1];
        if (e->on_abandon) {
            void (*hook)(weft__loop *, weft__record *, void *) = e->on_abandon;
            e->on_abandon = NULL;
            hook(L, r, e->ctx);
        }
        e->serial = 0;
        r->nscopes--;
    }
    r->scope_alert &= WEFT__ALERT_COMPACT;
    return n;
}

/*
 * dump.c - weft_dump_tasks: every task of the loop, its state in the
 * words of its wait kind, and a backtrace of its suspended stack.
 *
 * A suspended task's context is its saved stack pointer; the switch
 * (coro/ctx_*.S) left the task's registers at fixed offsets from it.  To
 * unwind, weft__ctx_run_on enters a function on the task's own stack, just
 * below its frames, as if the task had called it at its switch site; that
 * function calls glibc's backtrace(), which follows the unwind tables
 * (weft needs no frame pointers for this), and switches back.  The bytes
 * the task saved there are copied aside and put back.  A task with too
 * little stack left for the unwinder gets the frame-pointer chain instead,
 * every frame checked before it is read (inside the stack, above the last,
 * aligned), so a broken chain ends the trace, never the process.  Names
 * come from dladdr (exported symbols only: -rdynamic for a program's own);
 * every frame also shows module + offset, for addr2line.
 *
 * Output goes through a fixed buffer and write(2): no allocation, no
 * stdio, so a dump works with memory exhausted or stdio locked.  Progress
 * bars drawn on the same descriptor are erased for the dump and drawn
 * again below it.
 */
#define _GNU_SOURCE
#include "../core.h"

#include "../progress/above.h"
#include "dump.h"

#include <execinfo.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_FRAMES 48

typedef struct out {
    int fd;
    int err;
    size_t len;
    char buf[4096];
} out;

static void flush(out *o)
{
    size_t done = 0;
    while (done < o->len && !o->err) {
        ssize_t k = write(o->fd, o->buf + done, o->len - done);
        if (k < 0 && errno != EINTR)
            o->err = -errno;
        else if (k > 0)
            done += (size_t)k;
    }
    o->len = 0;
}

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t k = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (o->len + k > sizeof o->buf)
        flush(o);
    memcpy(o->buf + o->len, line, k);
    o->len += k;
}

/* Where the switch left a suspended task's state, by offset from its
 * saved stack pointer (the layouts in coro/ctx_*.S): the frame pointer,
 * the return address (x86-64) or link register (AArch64), and how far
 * above the saved stack pointer the task's stack pointer was when it
 * entered weft__ctx_switch - the bytes between are the saved registers. */
#if defined(WEFT_CTX_UCONTEXT)
#define SAVED_FP -1
#elif defined(__x86_64__)
#define SAVED_FP 48
#define SAVED_PC 56
#define ENTRY_SP 56
#elif defined(__aarch64__)
#define SAVED_FP 80
#define SAVED_PC 88
#define ENTRY_SP 176
#else
#define SAVED_FP -1
#endif

#if SAVED_FP >= 0
static void frame(out *o, int i, uintptr_t pc)
{
    char w[256];
    weft__code_where(pc, true, w, sizeof w);
    put(o, "    #%-2d %s\n", i, w);
}
#endif

#if SAVED_FP >= 0
/* Room below a task's stack pointer that the unwinder may use. */
#define UNWIND_ROOM (24 * 1024)

typedef struct unwind_job {
    void **pcs;
    int max, n;
    weft__ctx back, scratch;
} unwind_job;

/* Runs on the suspended task's stack, entered as if called from its
 * switch site: glibc's backtrace() then unwinds the task's frames by
 * their unwind tables (no frame pointers needed), then we go back. */
static void on_task_stack(void *arg)
{
    unwind_job *j = arg;
    j->n = backtrace(j->pcs, j->max);
    weft__ctx_switch(&j->scratch, &j->back);
    __builtin_unreachable();
}

/* The return addresses of r's suspended frames, innermost first, or -1
 * if there is no room to unwind on its stack. */
static int unwind_task(weft__record *r, uintptr_t sp, void **pcs, int max)
{
    uintptr_t lo = (uintptr_t)r->stack.lo;
    if (sp - lo < UNWIND_ROOM)
        return -1;
    static atomic_bool warm;
    if (!atomic_load_explicit(&warm, memory_order_relaxed)) {
        /* The first backtrace() loads the unwinder: not on a task's
         * stack. */
        void *one[2];
        backtrace(one, 2);
        atomic_store_explicit(&warm, true, memory_order_relaxed);
    }
    /* The task's saved registers sit where the unwinder's frames go. */
    char saved[ENTRY_SP];
    memcpy(saved, (void *)sp, sizeof saved);
    unwind_job j = {.pcs = pcs, .max = max};
    weft__ctx_run_on(&j.back, (void *)(sp + ENTRY_SP),
                     *(void **)(sp + SAVED_FP), on_task_stack, &j,
                     *(void **)(sp + SAVED_PC));
    memcpy((void *)sp, saved, sizeof saved);
    return j.n;
}
#endif

#if SAVED_FP >= 0
/* The frame-pointer chain, for when unwinding cannot run: each frame
 * checked to lie inside the stack, above the last, aligned. */
static int walk_frames(weft__record *r, uintptr_t sp, void **pcs, int max)
{
    uintptr_t hi = (uintptr_t)r->stack.lo + r->stack.size;
    uintptr_t fp = *(const uintptr_t *)(sp + SAVED_FP), floor = sp;
    int n = 0;
    pcs[n++] = *(void *const *)(sp + SAVED_PC);
    while (n < max && fp > floor && fp + 16 <= hi && !(fp & 7)) {
        void *ret = ((void *const *)fp)[1];
        if (!ret)
            break;
        pcs[n++] = ret;
        floor = fp;
        fp = ((const uintptr_t *)fp)[0];
    }
    return n;
}
#endif

static void backtrace_of(out *o, weft__record *r)
{
#if SAVED_FP < 0
    (void)r;
    put(o, "    (no backtrace with this build's context switch)\n");
#else
    uintptr_t lo = (uintptr_t)r->stack.lo, hi = lo + r->stack.size;
    uintptr_t sp = (uintptr_t)r->exec.ctx.sp;
    if (!lo || sp < lo || sp + ENTRY_SP + 8 > hi)
        return;
    void *pcs[MAX_FRAMES + 1];
    int n = unwind_task(r, sp, pcs, MAX_FRAMES + 1);
    int first = 1; /* pcs[0] is on_task_stack itself */
    if (n < 0) {
        n = walk_frames(r, sp, pcs, MAX_FRAMES);
        first = 0;
    }
    for (int i = first; i < n; i++)
        frame(o, i - first, (uintptr_t)pcs[i]);
#endif
}

static void seconds(char *buf, size_t len, uint64_t ns)
{
    snprintf(buf, len, "%.3f s", (double)ns / 1e9);
}

static void one_task(out *o, weft__loop *L, uint32_t idx)
{
    weft__slot *s = &L->slots[idx];
    weft__record *r = (s->flags & WEFT__SF_RECORD) ? s->a.rec : NULL;
    char label[320], parent[48], why[160], dur[32];
    weft_fn f = r ? r->fn : s->state == WEFT__SLOT_PENDING ? L->fns[WEFT__X_FN(s->x)]
                                                           : NULL;
    /* "'fetch' (#2) fetch_config (app+0x4580)", then ", child of #1". */
    weft__task_who(idx, r ? r->name : NULL, f, label, sizeof label);
    weft__task_parent(L, idx, parent, sizeof parent);
    if (s->flags & WEFT__SF_STACKLESS) {
        put(o, "task %s%s: a job elsewhere (thread pool or another loop)\n",
            label, parent);
        return;
    }
    if (s->state == WEFT__SLOT_DONE) {
        put(o, "task %s%s: finished (%s), not yet awaited\n", label, parent,
            weft__slot_err(s) ? weft_strerror(weft__slot_err(s)) : "ok");
        return;
    }
    if (s->state == WEFT__SLOT_PENDING) {
        put(o, "task %s%s: not started\n", label, parent);
        return;
    }
    if (r == L->cur) {
        put(o, "task %s%s: running (it asked for this dump)\n", label, parent);
        return;
    }
    if (r->wait != WEFT__WAIT_BLOCKED) {
        put(o, "task %s%s: ready to run\n", label, parent);
    } else {
        why[0] = '\0';
        if (r->kind->describe)
            r->kind->describe(L, r, why, sizeof why);
        put(o, "task %s%s: %s", label, parent, why[0] ? why : "waiting");
        if (!r->kind->no_since) {
            seconds(dur, sizeof dur,
                    L->now > r->since ? L->now - r->since : 0);
            put(o, ", for %s", dur);
        }
        if (r->deadline != WEFT__NO_DEADLINE) {
            char left[32];
            seconds(left, sizeof left,
                    r->deadline > L->now ? r->deadline - L->now : 0);
            put(o, " (deadline in %s)", left);
        }
        put(o, "\n");
    }
    if (weft__compact_away(L, r))
        put(o, "    (a compact task: its frame is saved off the stack, "
               "no backtrace)\n");
    else
        backtrace_of(o, r);
}

int weft__dump_loop(weft__loop *L, int fd, const char *why)
{
    out o = {.fd = fd};
    uint32_t n = 0;
    for (uint32_t i = 1; i < L->slot_top; i++)
        n += L->slots[i].state != WEFT__SLOT_FREE;
    /* Bars drawn on fd step aside for the whole dump. */
    weft__bars_pause(fd);
    put(&o, "weft: %s%u task%s on loop %u (thread %ld):\n", why ? why : "",
        n, n == 1 ? "" : "s", (unsigned)L->tag, (long)gettid());
    for (uint32_t i = 1; i < L->slot_top && !o.err; i++)
        if (L->slots[i].state != WEFT__SLOT_FREE)
            one_task(&o, L, i);
    flush(&o);
    weft__bars_resume(fd);
    return o.err ? o.err : (int)n;
}

int weft_dump_tasks(int fd)
{
    weft__loop *L = weft__tls_loop;
    if (!L)
        return -EPERM;
    if (fd < 0)
        return -EINVAL;
    return weft__dump_loop(L, fd, NULL);
}

/*
 * signal.c - signals as events tasks await (weft_signal_watch, ...), and
 * the SIGINT interrupt behind weft_run (run.c).  A leaf: a loop service
 * registered on first use, a wait kind, wake sources.
 *
 * Map:
 *   - the process-wide table: per signal, its users (watchers, plus
 *     weft_run's interrupt for SIGINT) and the disposition saved when the
 *     first user installed weft's handler, restored when the last leaves;
 *     a delivery counter per signal; 128 slots of loops that use signals.
 *     Installing and removing happen under `mu`, never in the handler.
 *   - the handler: async-signal-safe.  It counts the delivery, then for
 *     each registered loop that watches the signal sets the loop's
 *     `signalled` flag and writes its eventfd (weft__backend_wake: one
 *     write(2)).  The flag is set before the write, so a loop about to
 *     sleep cannot miss it: either its turn hook sees the flag, or the
 *     poll returns because of the write.  Not signalfd: a signalfd only
 *     receives signals blocked in every thread, which a library cannot
 *     impose on its program's threads.
 *   - the loop side: a service whose turn hook costs one relaxed load
 *     unless the flag is set; then it hands each blocked watcher the next
 *     signal with unseen deliveries (or cancels the main task: SIGINT).
 *   - watchers: each remembers, per signal, the delivery count it has seen,
 *     so deliveries not yet taken coalesce into one.  Live watchers are
 *     kept in a process-wide registry, checked under `mu` before a pointer
 *     from the caller is used: a closed or unknown pointer is -EINVAL.
 *
 * Lifetime of a loop's state: a loop is put in a table slot while it has
 * users, and removing it waits until no handler is inside the table walk
 * (`in_handler`), so a handler never touches a loop's state or eventfd
 * after the loop let go of them.
 */
#define _GNU_SOURCE
#include "core.h"

#include "alloc.h"
#include "backend/backend.h"
#include "run.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LOOPS 128
#define SIG_BIT(s) (1ull << ((s)-1))

_Static_assert(NSIG - 1 <= 64, "a signal mask fits in 64 bits");

/* ---- the process-wide table ---- */

typedef struct sigloop sigloop;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* Under mu. */
static unsigned users[NSIG];            /* watchers + interrupts */
static struct sigaction saved[NSIG];    /* what the first user found */
static weft__list live;                 /* open watchers (g_link) */
/* Read by the handler. */
static _Atomic uint64_t deliveries[NSIG];
static atomic_uint watchers[NSIG];      /* open watchers, all loops */
static atomic_uint intr_users;          /* runs taking SIGINT */
static atomic_int sigint_reset;         /* the handler set SIG_DFL */
static _Atomic(sigloop *) loops[MAX_LOOPS];
static atomic_int in_handler;           /* handlers inside the walk */

/* A loop's state: its service. */
struct sigloop {
    weft__service svc;        /* first: the loop's service list */
    weft__loop *L;
    weft__backend *backend;
    atomic_int signalled;     /* the handler has news for this loop */
    atomic_int interrupt;     /* a SIGINT for weft_run's interrupt */
    atomic_int intr_on;       /* this loop takes the interrupt */
    _Atomic uint64_t mask;    /* signals its watchers watch */
    int slot;                 /* in loops[], -1 if not there */
    unsigned nuse;            /* watchers + interrupt: slot while > 0 */
    unsigned nblocked;        /* watchers with a task waiting */
    uint16_t nsig[NSIG];      /* its open watchers per signal */
    weft__list watchers;      /* its open watchers (l_link) */
    weft__sigint *si;         /* weft_run's interrupt state, or NULL */
    /* A function the loop calls between tasks after each new delivery of
     * hook_signo (weft__signal_hook), or NULL. */
    void (*hook)(weft__loop *L);
    int hook_signo;
    uint64_t hook_seen;       /* deliveries[hook_signo] as of the last call */
};

#define WATCH_MAGIC 0x57534947u /* "WSIG" */

typedef struct watch_ent {
    int signo;
    uint64_t seen; /* deliveries[signo] as of the last one returned */
} watch_ent;

struct weft_sigwatch {
    uint32_t magic;
    int n;
    int next;              /* where the next scan starts: fairness */
    weft__link g_link;     /* in `live`, under mu */
    weft__link l_link;     /* in its loop's list, loop thread */
    sigloop *sl;
    weft__record *waiter;  /* the task blocked in next, or NULL */
    watch_ent e[];
};

static bool watchable(int s)
{
    if (s < 1 || s >= NSIG)
        return false;
    switch (s) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
        return false;
    default:
        return s < 32 || s >= SIGRTMIN; /* the C library keeps the rest */
    }
}

/* ---- the handler ---- */

static void on_signal(int signo)
{
    int saved_errno = errno;
    atomic_fetch_add(&in_handler, 1);
    atomic_fetch_add_explicit(&deliveries[signo], 1, memory_order_relaxed);
    /* SIGINT with nobody watching it: weft_run's interrupt.  The next
     * SIGINT gets the default action (a second Ctrl-C kills). */
    bool intr = signo == SIGINT && atomic_load(&intr_users) &&
                !atomic_load(&watchers[SIGINT]);
    if (intr) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGINT, &dfl, NULL);
        atomic_store(&sigint_reset, 1);
    }
    for (int i = 0; i < MAX_LOOPS; i++) {
        sigloop *sl = atomic_load(&loops[i]);
        if (!sl)
            continue;
        if (intr && atomic_load(&sl->intr_on))
            atomic_store(&sl->interrupt, 1);
        else if (!(atomic_load(&sl->mask) & SIG_BIT(signo)))
            continue;
        /* Before the write: see the file's comment. */
        atomic_store_explicit(&sl->signalled, 1, memory_order_release);
        weft__backend_wake(sl->backend);
    }
    atomic_fetch_sub(&in_handler, 1);
    errno = saved_errno;
}

/* ---- installing and removing (under mu) ---- */

static int sig_acquire(int signo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    if (users[signo] == 0) {
        if (sigaction(signo, &sa, &saved[signo]) != 0)
            return -errno;
    } else if (signo == SIGINT && atomic_exchange(&sigint_reset, 0)) {
        /* A watcher takes SIGINT after the interrupt reset it. */
        sigaction(SIGINT, &sa, NULL);
    }
    users[signo]++;
    return 0;
}

static void sig_release(int signo)
{
    if (--users[signo] == 0) {
        sigaction(signo, &saved[signo], NULL);
        if (signo == SIGINT)
            atomic_store(&sigint_reset, 0);
    }
}

/* A new user of the loop's slot. */
static int loop_use(sigloop *sl)
{
    if (sl->nuse == 0) {
        int i = 0;
        while (i < MAX_LOOPS && atomic_load(&loops[i]))
            i++;
        if (i == MAX_LOOPS)
            return -EAGAIN;
        atomic_store(&loops[i], sl);
        sl->slot = i;
    }
    sl->nuse++;
    return 0;
}

static void loop_unuse(sigloop *sl)
{
    if (--sl->nuse)
        return;
    atomic_store(&loops[sl->slot], NULL);
    sl->slot = -1;
    /* A handler that loaded sl before the store may still use it: wait
     * for every handler inside the walk (seq_cst: one that enters later
     * reads NULL). */
    while (atomic_load(&in_handler))
        sched_yield();
}

/* ---- the loop's service ---- */

/* The next signal of w with a delivery not returned yet, marked seen; 0 if
 * none.  Starts after the last one returned, so a signal delivered
 * constantly does not hide the others. */
static int take(weft_sigwatch *w)
{
    for (int k = 0; k < w->n; k++) {
        int i = (w->next + k) % w->n;
        uint64_t c = atomic_load_explicit(&deliveries[w->e[i].signo],
                                          memory_order_relaxed);
        if (c != w->e[i].seen) {
            w->e[i].seen = c;
            w->next = (i + 1) % w->n;
            return w->e[i].signo;
        }
    }
    return 0;
}

/* w's waiter stops waiting (whoever wakes it). */
static weft__record *unblock(weft__loop *L, weft_sigwatch *w)
{
    weft__record *r = w->waiter;
    w->waiter = NULL;
    w->sl->nblocked--;
    weft__source_unref(L);
    return r;
}

static void sig_turn(weft__loop *L, weft__service *sv)
{
    sigloop *sl = (sigloop *)sv;
    if (!atomic_load_explicit(&sl->signalled, memory_order_relaxed))
        return;
    /* Acquire: the handler counted before it set the flag. */
    atomic_exchange_explicit(&sl->signalled, 0, memory_order_acquire);
    if (sl->hook) {
        uint64_t c = atomic_load_explicit(&deliveries[sl->hook_signo],
                                          memory_order_relaxed);
        if (c != sl->hook_seen) {
            sl->hook_seen = c;
            sl->hook(L);
        }
    }
    if (atomic_exchange(&sl->interrupt, 0) && sl->si &&
        !sl->si->interrupted) {
        /* asyncio.run's KeyboardInterrupt: the main task is cancelled,
         * shutdown then cancels the rest. */
        sl->si->interrupted = true;
        if (L->main_idx && !L->main_done)
            weft__cancel(L, L->main_idx);
    }
    if (!sl->nblocked)
        return;
    for (weft__link *k = sl->watchers.head; k; k = k->next) {
        weft_sigwatch *w = weft__container_of(k, weft_sigwatch, l_link);
        int signo;
        if (w->waiter && (signo = take(w))) {
            /* The signal is handed over with the wake-up: kept even if
             * the task is cancelled before it runs. */
            weft__record *r = unblock(L, w);
            r->handoff = (void *)(intptr_t)signo;
            weft__ready(L, r, 0);
        }
    }
}

static void drop(weft__loop *L, weft_sigwatch *w);

static void sig_close(weft__loop *L, weft__service *sv)
{
    sigloop *sl = (sigloop *)sv;
    weft__link *k;
    while ((k = sl->watchers.head))
        drop(L, weft__container_of(k, weft_sigwatch, l_link));
    if (sl->si && sl->si->installed) {
        pthread_mutex_lock(&mu);
        atomic_store(&sl->intr_on, 0);
        atomic_fetch_sub(&intr_users, 1);
        sig_release(SIGINT);
        loop_unuse(sl);
        pthread_mutex_unlock(&mu);
    }
    if (sl->hook) {
        pthread_mutex_lock(&mu);
        int s = sl->hook_signo;
        if (--sl->nsig[s] == 0)
            atomic_fetch_and(&sl->mask, ~SIG_BIT(s));
        sig_release(s);
        loop_unuse(sl);
        pthread_mutex_unlock(&mu);
    }
    weft__free(sl);
}

static const weft__service_ops sig_ops = {
    .turn = sig_turn,
    .close = sig_close,
};

static sigloop *sigloop_get(weft__loop *L)
{
    sigloop *sl = (sigloop *)weft__service_get(L, &sig_ops, sizeof *sl);
    if (sl && !sl->L) {
        sl->L = L;
        sl->backend = L->backend;
        sl->slot = -1;
    }
    return sl;
}

/* ---- the wait ---- */

static void sig_leave(weft__loop *L, weft__record *r)
{
    unblock(L, r->wait_obj);
}

static const char *const sig_names[32] = {
    [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",
    [SIGQUIT] = "SIGQUIT",     [SIGTRAP] = "SIGTRAP",
    [SIGABRT] = "SIGABRT",     [SIGUSR1] = "SIGUSR1",
    [SIGUSR2] = "SIGUSR2",     [SIGPIPE] = "SIGPIPE",
    [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM",
    [SIGCHLD] = "SIGCHLD",     [SIGCONT] = "SIGCONT",
    [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN",
    [SIGTTOU] = "SIGTTOU",     [SIGURG] = "SIGURG",
    [SIGXCPU] = "SIGXCPU",     [SIGXFSZ] = "SIGXFSZ",
    [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
    [SIGWINCH] = "SIGWINCH",   [SIGIO] = "SIGIO",
    [SIGPWR] = "SIGPWR",       [SIGSYS] = "SIGSYS",
};

static const char *sig_name(int s, char *buf, size_t len)
{
    if (s < 32 && sig_names[s])
        return sig_names[s];
    if (s >= SIGRTMIN)
        snprintf(buf, len, "SIGRTMIN+%d", s - SIGRTMIN);
    else
        snprintf(buf, len, "signal %d", s);
    return buf;
}

static void sig_describe(weft__loop *L, weft__record *r, char *buf,
                         size_t len)
{
    (void)L;
    weft_sigwatch *w = r->wait_obj;
    char one[24];
    int at = snprintf(buf, len, "waiting for signal%s ", w->n > 1 ? "s" : "");
    for (int i = 0; i < w->n && at >= 0 && (size_t)at < len; i++)
        at += snprintf(buf + at, len - (size_t)at, "%s%s", i ? ", " : "",
                       sig_name(w->e[i].signo, one, sizeof one));
}

static const weft__wait_kind sig_wait = {
    .leave = sig_leave,
    .describe = sig_describe,
};

/* ---- watchers ---- */

/* Is w a live watcher of the calling thread's loop?  0, -EINVAL (not a
 * live watcher: never dereferenced) or -EPERM (another loop's, or no loop
 * here). */
static int lookup(weft_sigwatch *w, weft__loop *L)
{
    if (!w)
        return -EINVAL;
    int rc = -EINVAL;
    pthread_mutex_lock(&mu);
    for (weft__link *k = live.head; k; k = k->next)
        if (k == &w->g_link) {
            rc = w->magic == WATCH_MAGIC && L && w->sl->L == L ? 0 : -EPERM;
            break;
        }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* Undoes the first `upto` signals of w's registration (under mu). */
static void unregister_sigs(weft_sigwatch *w, int upto)
{
    sigloop *sl = w->sl;
    for (int i = 0; i < upto; i++) {
        int s = w->e[i].signo;
        sig_release(s);
        atomic_fetch_sub(&watchers[s], 1);
        if (--sl->nsig[s] == 0)
            atomic_fetch_and(&sl->mask, ~SIG_BIT(s));
    }
}

/* Under mu: the loop's slot, then each signal - the loop's mask bit and
 * the watcher count first, so the handler wakes the loop (and leaves
 * SIGINT to the watcher) from the moment it is installed - then the
 * counts already delivered, which this watcher will not see. */
static int register_sigs(weft_sigwatch *w)
{
    sigloop *sl = w->sl;
    int rc = loop_use(sl);
    if (rc)
        return rc;
    for (int i = 0; i < w->n; i++) {
        int s = w->e[i].signo;
        if (sl->nsig[s]++ == 0)
            atomic_fetch_or(&sl->mask, SIG_BIT(s));
        atomic_fetch_add(&watchers[s], 1);
        if ((rc = sig_acquire(s))) {
            atomic_fetch_sub(&watchers[s], 1);
            if (--sl->nsig[s] == 0)
                atomic_fetch_and(&sl->mask, ~SIG_BIT(s));
            unregister_sigs(w, i);
            loop_unuse(sl);
            return rc;
        }
        w->e[i].seen = atomic_load(&deliveries[s]);
    }
    return 0;
}

/* Closes w: its waiter (if any) is woken with -EBADF, its signals are
 * released, it is freed. */
static void drop(weft__loop *L, weft_sigwatch *w)
{
    sigloop *sl = w->sl;
    if (w->waiter)
        weft__ready(L, unblock(L, w), -EBADF);
    weft__list_remove(&sl->watchers, &w->l_link);
    pthread_mutex_lock(&mu);
    weft__list_remove(&live, &w->g_link);
    w->magic = 0;
    unregister_sigs(w, w->n);
    loop_unuse(sl);
    pthread_mutex_unlock(&mu);
    weft__free(w);
}

int weft_signal_watch(const int *signals, int n, weft_sigwatch **watch)
{
    if (!signals || !watch || n < 1 || n > WEFT_SIGWATCH_MAX)
        return -EINVAL;
    for (int i = 0; i < n; i++)
        if (!watchable(signals[i]))
            return -EINVAL;
    weft__loop *L = weft__tls_loop;
    if (!L || !L->cur)
        return -EPERM;
    sigloop *sl = sigloop_get(L);
    if (!sl)
        return -ENOMEM;
    weft_sigwatch *w =
        weft__calloc(1, sizeof *w + (size_t)n * sizeof(watch_ent));
    if (!w)
        return -ENOMEM;
    uint64_t seen = 0;
    for (int i = 0; i < n; i++)
        if (!(seen & SIG_BIT(signals[i]))) {
            seen |= SIG_BIT(signals[i]);
            w->e[w->n++].signo = signals[i];
        }
    w->sl = sl;
    pthread_mutex_lock(&mu);
    int rc = register_sigs(w);
    if (rc == 0) {
        w->magic = WATCH_MAGIC;
        weft__list_push(&live, &w->g_link);
    }
    pthread_mutex_unlock(&mu);
    if (rc) {
        weft__free(w);
        return rc;
    }
    weft__list_push(&sl->watchers, &w->l_link);
    *watch = w;
    return 0;
}

int weft_sigwatch_next(weft_sigwatch *w, int *signo)
{
    weft__loop *L = weft__tls_loop;
    weft__record *r = L ? L->cur : NULL;
    int rc = lookup(w, r ? L : NULL);
    if (rc)
        return rc;
    WEFT__RETURN_IF_CANCELLED(L, r);
    if (w->waiter)
        return -EBUSY;
    int s = take(w);
    if (!s) {
        w->waiter = r;
        w->sl->nblocked++;
        /* A signal may come from outside the loop's tasks: not a
         * deadlock while a task waits for one. */
        weft__source_ref(L);
        r->wait_obj = w;
        rc = weft__block(L, r, &sig_wait, WEFT__NO_DEADLINE);
        /* w may be gone now (closed: -EBADF): only r is read. */
        if (rc)
            return rc;
        s = (int)(intptr_t)r->handoff;
    }
    if (signo)
        *signo = s;
    return 0;
}

int weft_sigwatch_close(weft_sigwatch *w)
{
    weft__loop *L = weft__tls_loop;
    int rc = lookup(w, L && L->cur ? L : NULL);
    if (rc)
        return rc;
    drop(L, w);
    return 0;
}

int weft_signal_wait(int signo)
{
    weft_sigwatch *w;
    int rc = weft_signal_watch(&signo, 1, &w);
    if (rc)
        return rc;
    rc = weft_sigwatch_next(w, NULL);
    weft_sigwatch_close(w);
    return rc;
}

/* ---- weft_run's interrupt ---- */

int weft__sigint_begin(weft__loop *L, weft__sigint *si)
{
    si->installed = si->interrupted = false;
    sigloop *sl = sigloop_get(L);
    if (!sl)
        return -ENOMEM;
    sl->si = si;
    pthread_mutex_lock(&mu);
    /* Only over SIG_DFL, as asyncio.run: SIGINT in use by weft (a watcher
     * of another loop) or by the program is left alone.  A full table of
     * loops (-EAGAIN) or a failed sigaction leave SIGINT alone too: the
     * run goes on without the handler. */
    struct sigaction cur;
    if (users[SIGINT] == 0 && sigaction(SIGINT, NULL, &cur) == 0 &&
        !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL &&
        loop_use(sl) == 0) {
        atomic_store(&sl->intr_on, 1);
        atomic_fetch_add(&intr_users, 1);
        if (sig_acquire(SIGINT) == 0) {
            si->installed = true;
        } else {
            atomic_fetch_sub(&intr_users, 1);
            atomic_store(&sl->intr_on, 0);
            loop_unuse(sl);
        }
    }
    pthread_mutex_unlock(&mu);
    return 0;
}

/* ---- a loop's own reaction to a signal ---- */

int weft__signal_parse(const char *text)
{
    if (!text || !*text)
        return -EINVAL;
    char *end;
    long n = strtol(text, &end, 10);
    int s = -1;
    if (end != text && !*end) {
        s = n > 0 && n < NSIG ? (int)n : -1;
    } else {
        const char *bare = strncmp(text, "SIG", 3) == 0 ? text + 3 : text;
        for (int i = 1; i < 32 && s < 0; i++)
            if (sig_names[i] && strcmp(sig_names[i] + 3, bare) == 0)
                s = i;
    }
    return s > 0 && s != SIGINT && watchable(s) ? s : -EINVAL;
}

int weft__signal_hook(weft__loop *L, int signo, void (*fn)(weft__loop *L))
{
    sigloop *sl = sigloop_get(L);
    if (!sl)
        return -ENOMEM;
    if (sl->hook)
        return -EBUSY;
    pthread_mutex_lock(&mu);
    /* Over SIG_DFL only (or a disposition weft installed): a handler of
     * the program's, or SIG_IGN, is left alone. */
    struct sigaction cur;
    int rc = -EBUSY;
    if ((users[signo] > 0 ||
         (sigaction(signo, NULL, &cur) == 0 &&
          !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL)) &&
        (rc = loop_use(sl)) == 0) {
        if (sl->nsig[signo]++ == 0)
            atomic_fetch_or(&sl->mask, SIG_BIT(signo));
        if ((rc = sig_acquire(signo)) == 0) {
            sl->hook = fn;
            sl->hook_signo = signo;
            sl->hook_seen = atomic_load(&deliveries[signo]);
        } else {
            if (--sl->nsig[signo] == 0)
                atomic_fetch_and(&sl->mask, ~SIG_BIT(signo));
            loop_unuse(sl);
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

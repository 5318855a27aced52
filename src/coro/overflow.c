/*
 * overflow.c - the SIGSEGV handler that turns a guard-page hit into a clear
 * message (see overflow.h).
 *
 * The handler is process-wide and reference-counted: installed when the
 * first loop of the process starts, the previous handler restored when the
 * last one closes.  Each loop thread gets an alternate signal stack unless
 * it already has one (AddressSanitizer installs its own).
 */
#define _GNU_SOURCE
#include "overflow.h"

#include "../alloc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#define ALTSTACK_SIZE ((size_t)64 * 1024)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int users;
static struct sigaction previous;

static void put(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void put_u64(uint64_t v)
{
    char buf[24], *p = buf + sizeof buf - 1;
    *p = '\0';
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(p);
}

/* Async-signal-safe: write(2) only. */
void weft__overflow_report(weft__loop *L, weft__record *f, const char *how)
{
    (void)L;
    weft__say_crash(); /* below any bars on stderr */
    put("weft: stack overflow in task ");
    if (f->name && f->name[0]) {
        put("'");
        put(f->name);
        put("' ");
    }
    put("#");
    put_u64(f->idx);
    put(": ");
    put(how);
    put(" (stack of ");
    put_u64(f->stack.size);
    put(" bytes); give it a larger weft_spawn_opts.stack_size\n");
    abort();
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction prev = previous;
    if (prev.sa_flags & SA_SIGINFO) {
        prev.sa_sigaction(sig, si, uc);
    } else if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
        /* Return with the default action in place: the faulting
         * instruction runs again and the fault takes its normal course. */
        signal(sig, SIG_DFL);
    } else {
        prev.sa_handler(sig);
    }
}

/* The interrupted stack pointer. */
static uintptr_t fault_sp(void *uc)
{
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    return (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)u->uc_mcontext.sp;
#else
    (void)u;
    return UINTPTR_MAX;
#endif
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    weft__loop *L = weft__tls_loop;
    weft__record *f = L ? L->cur : NULL;
    if (f && f->stack.lo) {
        if (weft__in_guard(si->si_addr, f->stack.lo))
            weft__overflow_report(L, f, "it ran into its guard page");
        /* A frame larger than the guard jumps over it; the stack pointer
         * below the stack's bottom still tells. */
        if (fault_sp(uc) < (uintptr_t)f->stack.lo &&
            (uintptr_t)si->si_addr < (uintptr_t)f->stack.lo)
            weft__overflow_report(L, f, "a frame larger than its guard "
                                        "page jumped past it");
    }
    chain(sig, si, uc);
}

int weft__overflow_install(weft__overflow_state *st)
{
    memset(st, 0, sizeof *st);
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        void *p = weft__map(ALTSTACK_SIZE, 0);
        if (!p)
            return -ENOMEM;
        stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) != 0) {
            int e = -errno;
            weft__unmap(p, ALTSTACK_SIZE);
            return e;
        }
        st->altstack = p;
        st->altstack_size = ALTSTACK_SIZE;
    }
    pthread_mutex_lock(&mu);
    if (users++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &previous);
    }
    pthread_mutex_unlock(&mu);
    st->installed = true;
    return 0;
}

void weft__overflow_uninstall(weft__overflow_state *st)
{
    if (st->installed) {
        pthread_mutex_lock(&mu);
        if (--users == 0) {
            /* Put the previous handler back unless someone replaced ours
             * meanwhile: theirs stays. */
            struct sigaction cur;
            if (sigaction(SIGSEGV, NULL, &cur) == 0 &&
                (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_segv)
                sigaction(SIGSEGV, &previous, NULL);
        }
        pthread_mutex_unlock(&mu);
        st->installed = false;
    }
    if (st->altstack) {
        stack_t ss = {.ss_flags = SS_DISABLE};
        sigaltstack(&ss, NULL);
        weft__unmap(st->altstack, st->altstack_size);
        st->altstack = NULL;
    }
}

/*
 * run.c - weft_run and weft_run_ex: the core's loop runner (loop.c)
 * composed with Ctrl-C handling as asyncio.run does it (signal.c).
 *
 * On the process's main thread, and only if SIGINT's disposition is the
 * default one, a SIGINT handler is installed for the run: the first SIGINT
 * cancels the main task (signal.c's service does it on the loop thread)
 * and resets SIGINT to its default action, so a second Ctrl-C during
 * cleanup kills the program as the user expects.  The run then returns
 * -EINTR, or with WEFT_RUN_RERAISE_SIGINT dies by SIGINT once everything
 * is cleaned up, so that the shell sees status 130.
 */
#define _GNU_SOURCE
#include "core.h"

#include "run.h"
#include "debug/dumpsig.h"
#include "debug/watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KNOWN_FLAGS (WEFT_RUN_NO_SIGINT | WEFT_RUN_RERAISE_SIGINT)

typedef struct run_ctx {
    unsigned flags;
    weft__sigint si; /* outlives the loop: read after weft__run */
} run_ctx;

static bool on_main_thread(void)
{
    return (pid_t)syscall(SYS_gettid) == getpid();
}

static int started(weft__loop *L, void *ctx)
{
    run_ctx *c = ctx;
    weft__watchdog_watch(L);
    weft__dumpsig_watch(L);
    if ((c->flags & WEFT_RUN_NO_SIGINT) || !on_main_thread())
        return 0;
    return weft__sigint_begin(L, &c->si);
}

/* Dies by SIGINT, as a program without a handler would have. */
static void reraise_sigint(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(SIGINT);
}

int weft_run_ex(weft_fn fn, void *arg, const weft_run_opts *opts,
                void **result)
{
    if (opts && (opts->flags & ~KNOWN_FLAGS))
        return -EINVAL;
    run_ctx c = {.flags = opts ? opts->flags : 0};
    int rc = weft__run(fn, arg, result, started, &c);
    if (c.si.interrupted) {
        rc = -EINTR;
        if (c.flags & WEFT_RUN_RERAISE_SIGINT)
            reraise_sigint();
    }
    return rc;
}

int weft_run(weft_fn fn, void *arg, void **result)
{
    return weft_run_ex(fn, arg, NULL, result);
}

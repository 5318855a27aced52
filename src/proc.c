/*
 * proc.c - child processes (weft_proc).
 *
 * A process is a layer on a registry entry (net/fd_internal.h's ext), as
 * a stream is: the entry's descriptor is the child's "exit descriptor",
 * readable once the child has exited, and the process handle is that
 * entry's handle (generation-checked for free).  The exit descriptor is a
 * pidfd; where the kernel has none, the read end of a pipe whose write end
 * a watcher thread closes when waitid(WNOWAIT) sees the child exit - the
 * same readiness either way, so waiting is one path: weft__fd_io with an
 * operation that reaps with waitpid(pid, WNOHANG) and says -EAGAIN while
 * the child runs.
 *
 * Ordering that keeps pids safe: the child is reaped only here, by pid, so
 * until we reap it its pid cannot name another process (kill is safe);
 * the watcher thread is joined before the reap, so its waitid never looks
 * at a reused pid.
 *
 * Several waiters: one task waits on the exit descriptor (the registry
 * allows one reader), the others in a queue, woken when it returns.
 */
#define _GNU_SOURCE
#include "net/fd_internal.h"

#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Tests set it to take the path of kernels without pidfd_open. */
bool weft__proc_no_pidfd;

typedef struct proc {
    pid_t pid;
    bool reaped;
    bool waiting; /* a task waits on the exit descriptor */
    bool closing; /* weft_proc_close has begun, or spawn is undoing */
    bool watched; /* a watcher thread is to be joined */
    int code;     /* the returncode, once reaped */
    int reap_err; /* -ECHILD if the kernel reaped it */
    int watch_wfd;
    pthread_t watcher;
    weft_stream *stdio[3];
    weft__waitq waiters;
    char name[48]; /* argv[0], for the report at loop close */
} proc;

static const weft__wait_kind exit_wait = {
    .leave = weft__waitq_leave,
    .describe = weft__waitq_describe,
    .name = "a child process's exit",
};

/* ---- reaping ---- */

static void join_watcher(proc *pr)
{
    if (pr->watched) {
        pthread_join(pr->watcher, NULL);
        pr->watched = false;
    }
}

static void record_status(proc *pr, int st)
{
    pr->reaped = true;
    pr->code = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/* waitpid(WNOHANG): 0 reaped (or gone: reap_err), -EAGAIN still running. */
static int reap_now(proc *pr)
{
    int st;
    pid_t r;
    do
        r = waitpid(pr->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return -EAGAIN;
    if (r < 0) {
        pr->reaped = true;
        pr->reap_err = -errno;
        return 0;
    }
    record_status(pr, st);
    return 0;
}

/* The registry's operation on the exit descriptor. */
static ssize_t reap_op(weft__fdent *e, void *ctx)
{
    (void)ctx;
    proc *pr = e->ext;
    if (pr->reaped)
        return 0;
    if (pr->watched) {
        char c;
        ssize_t r = read(e->fd, &c, 1);
        if (r < 0)
            return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
        join_watcher(pr); /* it closed its end: the child has exited */
    }
    return reap_now(pr);
}

/* Blocking kill and reap, where no task can wait: at loop close, and when
 * spawning fails after the child started. */
static void kill_and_reap(proc *pr)
{
    kill(pr->pid, SIGKILL);
    join_watcher(pr);
    int st;
    pid_t r;
    do
        r = waitpid(pr->pid, &st, 0);
    while (r < 0 && errno == EINTR);
    if (r == pr->pid)
        record_status(pr, st);
    else
        pr->reaped = true;
}

static void proc_free(void *ext)
{
    proc *pr = ext;
    weft__loop *L = weft__tls_loop;
    weft__record *f;
    while ((f = weft__waitq_pop(&pr->waiters)))
        weft__ready(L, f, -EBADF);
    if (!pr->reaped) {
        kill_and_reap(pr);
        if (!pr->closing)
            weft_bar_printf(
                "weft: child process %d (%s) was still running when "
                "its loop closed: killed",
                (int)pr->pid, pr->name);
    }
    join_watcher(pr);
    weft__free(pr);
}

/* The process of handle p, or NULL with *rc set.  Call again after every
 * suspension: the handle may have been closed meanwhile. */
static weft__fdent *proc_entry(weft_proc *p, int *rc)
{
    weft__fdent *e = weft__fd_entry((weft_fd *)(void *)p, rc);
    if (e && e->ext_free != proc_free) {
        *rc = -EINVAL; /* a descriptor, or a stream: not a process */
        return NULL;
    }
    return e;
}

static proc *get(weft_proc *p, int *rc)
{
    weft__fdent *e = proc_entry(p, rc);
    return e ? e->ext : NULL;
}

static proc *get_in_task(weft_proc *p, int *rc)
{
    proc *pr = get(p, rc);
    if (pr && !weft__tls_loop->cur) {
        *rc = -EPERM;
        return NULL;
    }
    return pr;
}

/* ---- the exit descriptor ---- */

static void *watch(void *arg)
{
    proc *pr = arg; /* pid and watch_wfd only: fixed while we run */
    siginfo_t si;
    while (waitid(P_PID, (id_t)pr->pid, &si, WEXITED | WNOWAIT) < 0 &&
           errno == EINTR) {
    }
    close(pr->watch_wfd);
    return NULL;
}

/* A pipe whose read end becomes readable (end of file) when the child
 * exits: the read end, or -errno. */
static int start_watcher(proc *pr)
{
    int pp[2];
    if (pipe2(pp, O_CLOEXEC | O_NONBLOCK))
        return -errno;
    pr->watch_wfd = pp[1];
    pthread_attr_t at;
    sigset_t all, old;
    int e = pthread_attr_init(&at);
    if (!e) {
        pthread_attr_setstacksize(&at, 64 * 1024);
        /* Process-directed signals are not for this thread. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        e = pthread_create(&pr->watcher, &at, watch, pr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&at);
    }
    if (e) {
        close(pp[0]);
        close(pp[1]);
        return -e;
    }
    pr->watched = true;
    return pp[0];
}

static int exit_descriptor(proc *pr, unsigned *flags)
{
    if (!weft__proc_no_pidfd) {
#ifdef SYS_pidfd_open
        int fd = (int)syscall(SYS_pidfd_open, pr->pid, 0);
        if (fd >= 0) {
            *flags = 0;
            return fd; /* pidfds are close-on-exec */
        }
        if (errno != ENOSYS)
            return -errno;
#endif
    }
    *flags = WEFT__FD_STREAM;
    return start_watcher(pr);
}

/* ---- spawning ---- */

typedef struct spawn_fds {
    int parent[3]; /* our ends of the pipes, -1 if none */
    int child[3];  /* what is dup2'ed into the child, closed after spawn */
} spawn_fds;

/* fd moved (or copied) to a number >= 3, close-on-exec, so that setting
 * up one standard stream never overwrites the source of another. */
static int high_fd(int fd, bool keep_src)
{
    if (fd >= 3 && !keep_src)
        return fd;
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    if (!keep_src)
        close(fd);
    return h < 0 ? -err : h;
}

static int stdio_action(posix_spawn_file_actions_t *fa, spawn_fds *s, int i,
                        const weft_proc_stdio *io)
{
    switch (io->mode) {
    case WEFT_STDIO_INHERIT:
        return 0;
    case WEFT_STDIO_PIPE: {
        int pp[2];
        if (pipe2(pp, O_CLOEXEC))
            return -errno;
        int child = i == 0 ? pp[0] : pp[1];
        s->parent[i] = i == 0 ? pp[1] : pp[0];
        if ((s->child[i] = high_fd(child, false)) < 0)
            return s->child[i];
        break;
    }
    case WEFT_STDIO_DEVNULL:
        return -posix_spawn_file_actions_addopen(
            fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
    case WEFT_STDIO_FD:
        if ((s->child[i] = high_fd(io->fd, true)) < 0)
            return s->child[i];
        break;
    case WEFT_STDIO_STDOUT:
        return -posix_spawn_file_actions_adddup2(fa, 1, 2);
    }
    return -posix_spawn_file_actions_adddup2(fa, s->child[i], i);
}

static int check_opts(const weft_proc_opts *o)
{
    for (int i = 0; i < 3; i++) {
        weft_stdio_mode m = o->stdio[i].mode;
        if ((unsigned)m > WEFT_STDIO_STDOUT ||
            (m == WEFT_STDIO_STDOUT && i != 2) ||
            (m == WEFT_STDIO_FD && o->stdio[i].fd < 0))
            return -EINVAL;
    }
    return 0;
}

/* posix_spawnp with the actions and attributes opts ask for: 0 or -errno
 * (exec's own error when the program could not run: glibc reports it and
 * reaps the failed child). */
static int start_child(const char *const argv[], const weft_proc_opts *o,
                       spawn_fds *s, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = -posix_spawn_file_actions_init(&fa);
    if (rc)
        return rc;
    if ((rc = -posix_spawnattr_init(&at))) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    for (int i = 0; i < 3 && !rc; i++)
        rc = stdio_action(&fa, s, i, &o->stdio[i]);
    if (!rc && o->cwd)
        rc = -posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    if (!rc) {
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
        if (o->new_process_group)
            flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &all);
        posix_spawnattr_setpgroup(&at, 0);
        posix_spawnattr_setflags(&at, flags);
        char *const *env = o->envp ? o->envp : environ;
        rc = -posix_spawnp(pid, argv[0], &fa, &at, (char *const *)argv, env);
    }
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 3; i++)
        if (s->child[i] >= 0) {
            close(s->child[i]);
            s->child[i] = -1;
        }
    return rc;
}

/* The pipes' streams, from our ends of them. */
static int open_streams(proc *pr, spawn_fds *s, size_t limit)
{
    weft_stream_opts so = {.limit = limit};
    for (int i = 0; i < 3; i++) {
        if (s->parent[i] < 0)
            continue;
        weft_fd *fd;
        int rc = weft_fd_open(s->parent[i], &fd);
        if (rc)
            return rc;
        s->parent[i] = -1; /* the registry's now */
        if ((rc = weft_stream_open(fd, &so, &pr->stdio[i]))) {
            weft_fd_close(fd);
            return rc;
        }
    }
    return 0;
}

int weft_proc_spawn(const char *const argv[], const weft_proc_opts *opts,
                    weft_proc **p)
{
    static const weft_proc_opts inherit_all;
    if (!argv || !argv[0] || !p)
        return -EINVAL;
    weft__loop *L = weft__tls_loop;
    if (!L || !L->cur)
        return -EPERM;
    if (!opts)
        opts = &inherit_all;
    int rc = check_opts(opts);
    if (rc)
        return rc;
    proc *pr = weft__calloc(1, sizeof *pr);
    if (!pr)
        return -ENOMEM;
    snprintf(pr->name, sizeof pr->name, "%s", argv[0]);
    spawn_fds s = {{-1, -1, -1}, {-1, -1, -1}};
    if ((rc = start_child(argv, opts, &s, &pr->pid))) {
        for (int i = 0; i < 3; i++)
            if (s.parent[i] >= 0)
                close(s.parent[i]);
        weft__free(pr);
        return rc;
    }
    /* A child runs: from here on a failure kills and reaps it. */
    pr->closing = true; /* no report while undoing */
    unsigned flags;
    weft_fd *h = NULL;
    int xfd = exit_descriptor(pr, &flags);
    if (xfd < 0)
        rc = xfd;
    else if ((rc = weft__fd_register(L, xfd, flags, &h)))
        close(xfd);
    if (rc) {
        for (int i = 0; i < 3; i++)
            if (s.parent[i] >= 0)
                close(s.parent[i]);
        proc_free(pr);
        return rc;
    }
    weft__fdent *e = weft__fd_entry(h, &rc);
    e->ext = pr;
    e->ext_free = proc_free;
    if ((rc = open_streams(pr, &s, opts->limit))) {
        for (int i = 0; i < 3; i++) {
            if (s.parent[i] >= 0)
                close(s.parent[i]);
            if (pr->stdio[i])
                weft_stream_close(pr->stdio[i]);
        }
        weft_fd_close(h); /* frees pr: kills and reaps the child */
        return rc;
    }
    pr->closing = false;
    *p = (weft_proc *)(void *)h;
    return 0;
}

/* ---- queries ---- */

pid_t weft_proc_pid(weft_proc *p)
{
    int rc;
    proc *pr = get(p, &rc);
    return pr ? pr->pid : rc;
}

int weft_proc_stream(weft_proc *p, int which, weft_stream **s)
{
    int rc;
    proc *pr = get(p, &rc);
    if (!pr)
        return rc;
    if (which < 0 || which > 2 || !s)
        return -EINVAL;
    if (!pr->stdio[which])
        return -ENOENT;
    *s = pr->stdio[which];
    return 0;
}

static int reaped_result(proc *pr, int *returncode)
{
    if (pr->reap_err)
        return pr->reap_err;
    if (returncode)
        *returncode = pr->code;
    return 0;
}

int weft_proc_returncode(weft_proc *p, int *returncode)
{
    int rc;
    weft__fdent *e = proc_entry(p, &rc);
    if (!e)
        return rc;
    proc *pr = e->ext;
    if (!pr->reaped && !pr->waiting) /* else the waiter reaps it */
        reap_op(e, NULL);
    return pr->reaped ? reaped_result(pr, returncode) : -EAGAIN;
}

int weft_proc_signal(weft_proc *p, int sig)
{
    int rc;
    proc *pr = get(p, &rc);
    if (!pr)
        return rc;
    if (sig < 0 || sig >= NSIG)
        return -EINVAL;
    if (pr->reaped)
        return -ESRCH;
    return kill(pr->pid, sig) ? -errno : 0;
}

/* ---- waiting ---- */

static void wake_waiters(weft__loop *L, proc *pr)
{
    weft__record *f;
    while ((f = weft__waitq_pop(&pr->waiters)))
        weft__ready(L, f, 0);
}

int weft_proc_wait(weft_proc *p, int *returncode)
{
    int rc;
    proc *pr = get_in_task(p, &rc);
    if (!pr)
        return rc;
    weft__loop *L = weft__tls_loop;
    for (;;) {
        if (pr->reaped)
            return reaped_result(pr, returncode);
        if ((rc = weft__check(L, L->cur)))
            return rc;
        if (!pr->waiting) {
            pr->waiting = true;
            ssize_t r = weft__fd_io((weft_fd *)(void *)p, 0, reap_op, NULL,
                                    NULL);
            if (r == -EBADF)
                return -EBADF; /* closed meanwhile: pr is gone */
            pr->waiting = false;
            wake_waiters(L, pr); /* one of them waits next if need be */
            if (r < 0)
                return (int)r;
            continue;
        }
        if ((rc = weft__waitq_wait(L, &pr->waiters, &exit_wait,
                                   WEFT__NO_DEADLINE)))
            return rc;
        if (!(pr = get(p, &rc)))
            return -EBADF;
    }
}

int weft_proc_close(weft_proc *p)
{
    int rc;
    proc *pr = get_in_task(p, &rc);
    if (!pr)
        return rc;
    if (pr->closing)
        return -EINVAL; /* another task is closing it */
    pr->closing = true;
    if (!pr->reaped) {
        kill(pr->pid, SIGKILL);
        /* Joining what we killed must not be cut short by cancellation,
         * or the child would be left behind: wait under a shield.  (Only
         * past 65535 nested shields is there none: then wait blocking.) */
        if (weft_shield_begin() == 0) {
            weft_proc_wait(p, NULL);
            weft_shield_end();
        }
        if (!(pr = get(p, &rc)))
            return rc;
        if (!pr->reaped)
            kill_and_reap(pr);
    }
    for (int i = 0; i < 3; i++)
        if (pr->stdio[i])
            weft_stream_close(pr->stdio[i]); /* -EINVAL if closed already */
    weft_fd_close((weft_fd *)(void *)p);
    return 0;
}

/*
 * test_proc.c - child processes (weft/proc.h): returncodes, pipes as
 * streams, communicate without deadlock, stdio modes, environment and
 * working directory, signals, waits under scopes and by several tasks,
 * close and loop close killing and reaping (no zombie, a report), the
 * waiter-thread path of kernels without pidfd, stale handles, the signal
 * state a child starts with, children started by other means left alone,
 * running out of memory at every allocation of a spawn, and for
 * communicate's state.
 */
#define _GNU_SOURCE
#include "check.h"

#include "../src/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern bool weft__proc_no_pidfd;

/* Spawns argv with stdin/stdout/stderr modes given as "ppi" letters:
 * p pipe, n /dev/null, i inherit, o (stderr) the child's stdout. */
static weft_proc *start(const char *modes, const char *const argv[])
{
    weft_proc_opts o = {0};
    for (int i = 0; i < 3; i++)
        o.stdio[i].mode = modes[i] == 'p'   ? WEFT_STDIO_PIPE
                          : modes[i] == 'n' ? WEFT_STDIO_DEVNULL
                          : modes[i] == 'o' ? WEFT_STDIO_STDOUT
                                            : WEFT_STDIO_INHERIT;
    weft_proc *p = NULL;
    int rc = weft_proc_spawn(argv, &o, &p);
    if (rc)
        fprintf(stderr, "spawn %s: %s\n", argv[0], weft_strerror(rc));
    REQUIRE(rc == 0);
    return p;
}

#define SH(script) ((const char *const[]){"sh", "-c", script, NULL})

/* No child of ours is left, reaped or not.  (It reaps one that has
 * exited: call it only when every child should be gone.) */
static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static void *returncodes(void *arg)
{
    (void)arg;
    int code = 99;
    weft_proc *p = start("iii", SH("exit 3"));
    CHECK(weft_proc_pid(p) > 0);
    CHECK_EQ(weft_proc_wait(p, &code), 0);
    CHECK_EQ(code, 3);
    code = 99;
    CHECK_EQ(weft_proc_wait(p, &code), 0); /* again: the same */
    CHECK_EQ(code, 3);
    CHECK_EQ(weft_proc_returncode(p, &code), 0);
    CHECK_EQ(code, 3);
    CHECK_EQ(weft_proc_close(p), 0);

    p = start("iii", SH("kill -TERM $$"));
    CHECK_EQ(weft_proc_wait(p, &code), 0);
    CHECK_EQ(code, -SIGTERM);
    CHECK_EQ(weft_proc_close(p), 0);

    p = start("pii", (const char *const[]){"cat", NULL});
    CHECK_EQ(weft_proc_returncode(p, &code), -EAGAIN); /* cat waits */
    weft_stream *in;
    CHECK_EQ(weft_proc_stream(p, 0, &in), 0);
    CHECK_EQ(weft_stream_close(in), 0); /* end of file: cat exits */
    CHECK_EQ(weft_proc_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    CHECK_EQ(weft_proc_close(p), 0);
    CHECK(no_children());
    return NULL;
}

/* A spawn whose exec fails: the error, and no child left.  (qemu-user
 * runs glibc's vfork-like clone as a fork, so there the exec error cannot
 * reach the parent: the child exits 127 instead.) */
static void exec_fails(const char *const argv[], const weft_proc_opts *o,
                       int want)
{
    weft_proc *p;
    int rc = weft_proc_spawn(argv, o, &p);
    if (rc == 0 && getenv("WEFT_TEST_WRAPPER")) {
        int code = 0;
        CHECK_EQ(weft_proc_wait(p, &code), 0);
        CHECK_EQ(code, 127);
        CHECK_EQ(weft_proc_close(p), 0);
        return;
    }
    CHECK_EQ(rc, want);
    CHECK(no_children());
}

static void *spawn_errors(void *arg)
{
    (void)arg;
    weft_proc *p;
    const char *const missing[] = {"/nonexistent/program", NULL};
    exec_fails(missing, NULL, -ENOENT);
    const char *const nopath[] = {"weft-no-such-program", NULL};
    exec_fails(nopath, NULL, -ENOENT);
    const char *const dir[] = {"/tmp", NULL};
    exec_fails(dir, NULL, -EACCES);

    const char *const t[] = {"true", NULL};
    const char *const empty[] = {NULL};
    CHECK_EQ(weft_proc_spawn(NULL, NULL, &p), -EINVAL);
    CHECK_EQ(weft_proc_spawn(empty, NULL, &p), -EINVAL);
    CHECK_EQ(weft_proc_spawn(t, NULL, NULL), -EINVAL);
    weft_proc_opts o = {0};
    o.stdio[0].mode = WEFT_STDIO_STDOUT;
    CHECK_EQ(weft_proc_spawn(t, &o, &p), -EINVAL);
    o.stdio[0].mode = (weft_stdio_mode)42;
    CHECK_EQ(weft_proc_spawn(t, &o, &p), -EINVAL);
    o.stdio[0].mode = WEFT_STDIO_FD;
    o.stdio[0].fd = -1;
    CHECK_EQ(weft_proc_spawn(t, &o, &p), -EINVAL);
    o.stdio[0].fd = 999; /* not open */
    CHECK_EQ(weft_proc_spawn(t, &o, &p), -EBADF);
    o = (weft_proc_opts){0};
    o.cwd = "/nonexistent/dir";
    exec_fails(t, &o, -ENOENT);
    return NULL;
}

static void *pipes_as_streams(void *arg)
{
    (void)arg;
    weft_proc *p = start("ppi", (const char *const[]){"cat", NULL});
    weft_stream *in, *out, *err;
    CHECK_EQ(weft_proc_stream(p, 0, &in), 0);
    CHECK_EQ(weft_proc_stream(p, 1, &out), 0);
    CHECK_EQ(weft_proc_stream(p, 2, &err), -ENOENT);
    CHECK_EQ(weft_proc_stream(p, 3, &err), -EINVAL);
    CHECK_EQ(weft_proc_stream(p, 0, NULL), -EINVAL);
    for (int i = 0; i < 100; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "line %d\n", i);
        CHECK_EQ(weft_stream_write(in, msg, (size_t)n, NULL), 0);
        const char *line;
        size_t len;
        CHECK_EQ(weft_stream_readline(out, &line, &len), 0);
        CHECK(len == (size_t)n && memcmp(line, msg, len) == 0);
    }
    CHECK_EQ(weft_stream_close(in), 0);
    const char *line;
    size_t len = 1;
    CHECK_EQ(weft_stream_readline(out, &line, &len), 0);
    CHECK_EQ(len, 0); /* end of file */
    int code = -1;
    CHECK_EQ(weft_proc_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    CHECK_EQ(weft_proc_close(p), 0); /* closes out; in is closed already */
    return NULL;
}

static void *communicate_big(void *arg)
{
    (void)arg;
    /* 4 MiB through cat: far beyond a pipe's buffer both ways, so feeding
     * and draining must overlap. */
    size_t n = 4u << 20;
    char *data = malloc(n);
    REQUIRE(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + i / 4099);
    weft_proc *p = start("ppp", (const char *const[]){"cat", NULL});
    char *out = NULL, *err = NULL;
    size_t outlen = 0, errlen = 9;
    int code = -1;
    CHECK_EQ(
        weft_proc_communicate(p, data, n, &out, &outlen, &err, &errlen, &code),
        0);
    CHECK_EQ(code, 0);
    CHECK_EQ(outlen, n);
    CHECK(out && memcmp(out, data, n) == 0 && out[n] == '\0');
    CHECK(err && errlen == 0 && err[0] == '\0');
    free(out);
    free(err);
    CHECK_EQ(weft_proc_close(p), 0);
    free(data);
    return NULL;
}

static void *communicate_streams(void *arg)
{
    (void)arg;
    weft_proc *p = start("ipp", SH("echo out; echo err >&2; exit 5"));
    char *out, *err;
    size_t outlen, errlen;
    int code = -1;
    CHECK_EQ(
        weft_proc_communicate(p, NULL, 0, &out, &outlen, &err, &errlen, &code),
        0);
    CHECK_EQ(code, 5);
    CHECK(check_streq(out, "out\n") && outlen == 4);
    CHECK(check_streq(err, "err\n") && errlen == 4);
    free(out);
    free(err);
    CHECK_EQ(weft_proc_close(p), 0);

    /* stderr into stdout; output dropped when not asked for. */
    p = start("ipo", SH("echo a; echo b >&2"));
    CHECK_EQ(
        weft_proc_communicate(p, NULL, 0, &out, &outlen, &err, &errlen, NULL),
        0);
    CHECK(check_streq(out, "a\nb\n"));
    CHECK(err == NULL && errlen == 0); /* not a pipe */
    free(out);
    CHECK_EQ(weft_proc_close(p), 0);
    p = start("ipp", SH("seq 1 100000; seq 1 1000 >&2"));
    CHECK_EQ(weft_proc_communicate(p, NULL, 0, NULL, NULL, NULL, NULL, &code),
             0);
    CHECK_EQ(code, 0);
    CHECK_EQ(weft_proc_close(p), 0);

    /* A child that never reads its input: not an error. */
    size_t n = 1u << 20;
    char *big = calloc(1, n);
    REQUIRE(big);
    p = start("pii", (const char *const[]){"true", NULL});
    CHECK_EQ(weft_proc_communicate(p, big, n, NULL, NULL, NULL, NULL, &code),
             0);
    CHECK_EQ(code, 0);
    CHECK_EQ(weft_proc_close(p), 0);
    free(big);

    /* Bad arguments. */
    p = start("ipi", (const char *const[]){"true", NULL});
    CHECK_EQ(weft_proc_communicate(p, "x", 1, NULL, NULL, NULL, NULL, NULL),
             -EINVAL); /* stdin is not a pipe */
    CHECK_EQ(weft_proc_communicate(p, NULL, 1, NULL, NULL, NULL, NULL, NULL),
             -EINVAL);
    CHECK_EQ(weft_proc_communicate(p, NULL, 0, &out, NULL, NULL, NULL, NULL),
             -EINVAL);
    CHECK_EQ(weft_proc_communicate(NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL),
             -EINVAL);
    CHECK_EQ(weft_proc_close(p), 0);
    return NULL;
}

static void *stdio_modes_env_cwd(void *arg)
{
    (void)arg;
    /* stdin from /dev/null: cat ends at once. */
    weft_proc *p = start("npi", (const char *const[]){"cat", NULL});
    char *out;
    size_t outlen;
    CHECK_EQ(weft_proc_communicate(p, NULL, 0, &out, &outlen, NULL, NULL, NULL),
             0);
    CHECK_EQ(outlen, 0);
    free(out);
    CHECK_EQ(weft_proc_close(p), 0);

    /* stdout into a descriptor of ours (a pipe read back here), which
     * stays ours and open. */
    int pp[2];
    REQUIRE(pipe2(pp, O_CLOEXEC) == 0);
    weft_proc_opts o = {0};
    o.stdio[1].mode = WEFT_STDIO_FD;
    o.stdio[1].fd = pp[1];
    const char *const hi[] = {"echo", "hi", NULL};
    REQUIRE(weft_proc_spawn(hi, &o, &p) == 0);
    int code = -1;
    CHECK_EQ(weft_proc_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    CHECK_EQ(weft_proc_close(p), 0);
    char buf[8] = {0};
    CHECK_EQ(read(pp[0], buf, sizeof buf), 3);
    CHECK(strcmp(buf, "hi\n") == 0);
    CHECK(fcntl(pp[1], F_GETFD) >= 0);
    close(pp[0]);
    close(pp[1]);

    /* Our stdout and stderr swapped in the child: each source is read
     * before either is overwritten. */
    REQUIRE(pipe2(pp, O_CLOEXEC) == 0);
    int saved = dup(1);
    REQUIRE(saved >= 0 && dup2(pp[1], 1) == 1);
    o = (weft_proc_opts){0};
    o.stdio[1] = (weft_proc_stdio){WEFT_STDIO_FD, 2};
    o.stdio[2] = (weft_proc_stdio){WEFT_STDIO_FD, 1};
    REQUIRE(weft_proc_spawn(SH("echo swapped >&2"), &o, &p) == 0);
    CHECK_EQ(weft_proc_wait(p, NULL), 0);
    CHECK_EQ(weft_proc_close(p), 0);
    REQUIRE(dup2(saved, 1) == 1);
    close(saved);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(read(pp[0], buf, sizeof buf), 8);
    CHECK(memcmp(buf, "swapped\n", 8) == 0);
    close(pp[0]);
    close(pp[1]);

    /* Environment and working directory. */
    char *const env[] = {"WEFT_T=bar", "PATH=/usr/bin:/bin", NULL};
    o = (weft_proc_opts){0};
    o.stdio[1].mode = WEFT_STDIO_PIPE;
    o.envp = env;
    o.cwd = "/";
    REQUIRE(weft_proc_spawn(SH("echo $WEFT_T; pwd; env | wc -l"), &o, &p) == 0);
    CHECK_EQ(
        weft_proc_communicate(p, NULL, 0, &out, &outlen, NULL, NULL, &code), 0);
    /* sh adds PWD (and perhaps SHLVL, _) of its own. */
    CHECK(strncmp(out, "bar\n/\n", 6) == 0);
    CHECK(atoi(out + 6) >= 2 && atoi(out + 6) <= 5);
    free(out);
    CHECK_EQ(weft_proc_close(p), 0);
    return NULL;
}

/* The field of /proc/self/status line `key` printed by the child. */
static void *signal_state(void *arg)
{
    (void)arg;
    /* A mask and an ignored signal in the parent do not reach the child. */
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old);
    struct sigaction ign = {.sa_handler = SIG_IGN}, prev;
    sigaction(SIGUSR2, &ign, &prev);
    weft_proc *p =
        start("ipi", (const char *const[]){"grep", "-E", "^Sig(Blk|Ign)",
                                           "/proc/self/status", NULL});
    sigaction(SIGUSR2, &prev, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    char *out;
    size_t outlen;
    CHECK_EQ(weft_proc_communicate(p, NULL, 0, &out, &outlen, NULL, NULL, NULL),
             0);
    unsigned long long blk = 1, ignored = 1;
    const char *b = out ? strstr(out, "SigBlk:") : NULL;
    const char *g = out ? strstr(out, "SigIgn:") : NULL;
    CHECK(b && sscanf(b + 7, "%llx", &blk) == 1 && blk == 0);
    CHECK(g && sscanf(g + 7, "%llx", &ignored) == 1);
    CHECK(!(ignored & (1ull << (SIGUSR2 - 1))));
    free(out);
    CHECK_EQ(weft_proc_close(p), 0);

    /* A process group of its own: the child's pgrp is its pid. */
    weft_proc_opts o = {0};
    o.stdio[1].mode = WEFT_STDIO_PIPE;
    o.new_process_group = true;
    const char *const stat[] = {"cat", "/proc/self/stat", NULL};
    REQUIRE(weft_proc_spawn(stat, &o, &p) == 0);
    CHECK_EQ(weft_proc_communicate(p, NULL, 0, &out, &outlen, NULL, NULL, NULL),
             0);
    int pid = 0, pgrp = 0;
    const char *rp = strrchr(out, ')');
    CHECK(rp && sscanf(rp + 2, "%*c %*d %d", &pgrp) == 1);
    pid = atoi(out);
    CHECK(pid == weft_proc_pid(p) && pgrp == pid);
    free(out);
    CHECK_EQ(weft_proc_close(p), 0);
    return NULL;
}

static void *signals(void *arg)
{
    (void)arg;
    weft_proc *p = start("iii", (const char *const[]){"sleep", "30", NULL});
    CHECK_EQ(weft_proc_signal(p, 0), 0);
    CHECK_EQ(weft_proc_signal(p, -1), -EINVAL);
    CHECK_EQ(weft_proc_signal(p, 1000), -EINVAL);
    CHECK_EQ(weft_proc_signal(p, SIGTERM), 0);
    int code = 0;
    CHECK_EQ(weft_proc_wait(p, &code), 0);
    CHECK_EQ(code, -SIGTERM);
    CHECK_EQ(weft_proc_signal(p, SIGTERM), -ESRCH); /* reaped */
    CHECK_EQ(weft_proc_close(p), 0);
    return NULL;
}

static void *wait_in_scope(void *arg)
{
    (void)arg;
    weft_proc *p = start("pii", (const char *const[]){"cat", NULL});
    weft_scope *sc;
    REQUIRE(weft_scope_open(0.05, &sc) == 0);
    CHECK_EQ(weft_proc_wait(p, NULL), -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    int code;
    CHECK_EQ(weft_proc_returncode(p, &code), -EAGAIN); /* still runs */
    weft_stream *in;
    REQUIRE(weft_proc_stream(p, 0, &in) == 0);
    CHECK_EQ(weft_stream_close(in), 0);
    CHECK_EQ(weft_proc_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    CHECK_EQ(weft_proc_close(p), 0);

    /* communicate cut by a deadline: its tasks are joined, nothing is
     * handed out, the child still runs until closed. */
    p = start("ppi", (const char *const[]){"sleep", "30", NULL});
    size_t n = 1u << 20;
    char *big = calloc(1, n);
    REQUIRE(big);
    char *out = (char *)1;
    size_t outlen = 1;
    REQUIRE(weft_scope_open(0.05, &sc) == 0);
    CHECK_EQ(weft_proc_communicate(p, big, n, &out, &outlen, NULL, NULL, NULL),
             -ETIMEDOUT);
    CHECK_EQ(weft_scope_close(sc), 1);
    CHECK(out == NULL && outlen == 0);
    CHECK_EQ(weft_proc_returncode(p, &code), -EAGAIN);
    double t0 = weft_now();
    CHECK_EQ(weft_proc_close(p), 0);
    CHECK(weft_now() - t0 < 5); /* killed, not waited for */
    free(big);
    CHECK(no_children());
    return NULL;
}

typedef struct waiter_arg {
    weft_proc *p;
    int code;
} waiter_arg;

static void *waiter(void *arg)
{
    waiter_arg *w = arg;
    return I2P(weft_proc_wait(w->p, &w->code));
}

static void *several_waiters(void *arg)
{
    (void)arg;
    weft_proc *p = start("pii", (const char *const[]){"cat", NULL});
    waiter_arg w[4];
    weft_task *t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (waiter_arg){p, -1};
        REQUIRE(weft_spawn(waiter, &w[i], &t[i]) == 0);
    }
    weft_sleep(0.01);
    /* The one on the exit descriptor leaves: another takes over. */
    CHECK_EQ(weft_task_cancel(t[0]), 0);
    CHECK_EQ(weft_await(t[0], NULL), -ECANCELED);
    weft_stream *in;
    REQUIRE(weft_proc_stream(p, 0, &in) == 0);
    CHECK_EQ(weft_proc_signal(p, SIGKILL), 0);
    for (int i = 1; i < 4; i++) {
        void *r;
        CHECK_EQ(weft_await(t[i], &r), 0);
        CHECK_EQ(P2I(r), 0);
        CHECK_EQ(w[i].code, -SIGKILL);
    }
    CHECK_EQ(weft_proc_close(p), 0);

    /* Closing wakes the waiters of another task with -EBADF. */
    p = start("iii", (const char *const[]){"sleep", "30", NULL});
    for (int i = 0; i < 2; i++) {
        w[i] = (waiter_arg){p, -1};
        REQUIRE(weft_spawn(waiter, &w[i], &t[i]) == 0);
    }
    weft_sleep(0.01);
    CHECK_EQ(weft_proc_close(p), 0);
    for (int i = 0; i < 2; i++) {
        void *r;
        CHECK_EQ(weft_await(t[i], &r), 0);
        /* Woken by the reap (the close waited for it) or by the close. */
        CHECK(P2I(r) == 0 || P2I(r) == -EBADF);
    }
    CHECK(no_children());
    return NULL;
}

static void *close_cancelled(void *arg)
{
    (void)arg;
    weft_proc *p = start("iii", (const char *const[]){"sleep", "30", NULL});
    pid_t pid = weft_proc_pid(p);
    CHECK_EQ(weft_task_cancel(weft_current()), 0);
    CHECK_EQ(weft_sleep(1), -ECANCELED);
    /* Cancelled, yet close kills and reaps. */
    CHECK_EQ(weft_proc_close(p), 0);
    CHECK(kill(pid, 0) < 0 && errno == ESRCH);
    CHECK(no_children());
    return NULL;
}

static void *handles(void *arg)
{
    (void)arg;
    weft_proc *p = start("pii", (const char *const[]){"true", NULL});
    weft_stream *in;
    REQUIRE(weft_proc_stream(p, 0, &in) == 0);
    /* A process is not a stream, nor the reverse. */
    char c;
    CHECK_EQ(weft_stream_read((weft_stream *)(void *)p, &c, 1), -EINVAL);
    CHECK_EQ(weft_proc_wait((weft_proc *)(void *)in, NULL), -EINVAL);
    CHECK_EQ(weft_proc_close(p), 0);
    /* Stale after close; its stream too. */
    CHECK_EQ(weft_proc_pid(p), -EINVAL);
    CHECK_EQ(weft_proc_wait(p, NULL), -EINVAL);
    CHECK_EQ(weft_proc_signal(p, SIGTERM), -EINVAL);
    CHECK_EQ(weft_proc_returncode(p, NULL), -EINVAL);
    CHECK_EQ(weft_proc_close(p), -EINVAL);
    CHECK_EQ(weft_stream_write(in, "x", 1, NULL), -EINVAL);
    CHECK_EQ(weft_proc_close(NULL), -EINVAL);
    /* Not a handle at all: refused (it may decode as another loop's). */
    int rc = weft_proc_wait((weft_proc *)(void *)&c, NULL);
    CHECK(rc == -EINVAL || rc == -EPERM);
    return NULL;
}

static void *others_children(void *arg)
{
    (void)arg;
    /* A child started by other means is left to its parent. */
    pid_t mine = fork();
    if (mine == 0)
        _exit(7);
    REQUIRE(mine > 0);
    weft_proc *p = start("iii", SH("sleep 0.05"));
    int code = -1;
    CHECK_EQ(weft_proc_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    CHECK_EQ(weft_proc_close(p), 0);
    int st = 0;
    CHECK_EQ(waitpid(mine, &st, 0), mine);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    return NULL;
}

/* ---- loop close ---- */

static pid_t left_pid;

static void *leave_running(void *arg)
{
    (void)arg;
    weft_proc *p = start("ppi", (const char *const[]){"sleep", "30", NULL});
    left_pid = weft_proc_pid(p);
    return NULL; /* the handle is left open */
}

static void loop_close_child(void *arg)
{
    (void)arg;
    int rc = weft_run(leave_running, NULL, NULL);
    /* Killed and reaped when the loop closed. */
    bool gone = kill(left_pid, 0) < 0 && errno == ESRCH;
    _exit(rc == 0 && gone && no_children() ? 0 : 1);
}

/* Run from main, outside any loop (the child runs a loop of its own). */
static void loop_close(void *arg)
{
    (void)arg;
    char *err = NULL;
    int st = check_fork(loop_close_child, NULL, &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(err && strstr(err, "weft: child process ") &&
          strstr(err, "(sleep) was still running when its loop closed: "
                      "killed"));
    free(err);
}

/* ---- out of memory ---- */

static void *spawn_oom(void *arg)
{
    (void)arg;
    long n;
    for (n = 1; n < 1000; n++) {
        __atomic_store_n(&weft__alloc_fail_countdown, n, __ATOMIC_RELAXED);
        weft_proc *p;
        weft_proc_opts o = {0};
        for (int i = 0; i < 3; i++)
            o.stdio[i].mode = WEFT_STDIO_PIPE;
        const char *const t[] = {"true", NULL};
        int rc = weft_proc_spawn(t, &o, &p);
        bool injected =
            __atomic_load_n(&weft__alloc_fail_countdown, __ATOMIC_RELAXED) == 0;
        __atomic_store_n(&weft__alloc_fail_countdown, 0, __ATOMIC_RELAXED);
        CHECK(rc == 0 || rc == -ENOMEM);
        if (rc)
            CHECK(
                no_children()); /* never call it with a child alive: it reaps */
        if (rc == 0) {
            CHECK_EQ(weft_proc_wait(p, NULL), 0);
            CHECK_EQ(weft_proc_close(p), 0);
        }
        if (!injected)
            break;
    }
    CHECK(n > 2 && n < 1000);
    return NULL;
}

/* Out of memory for communicate's state: -ENOMEM before anything is fed
 * or read (outputs NULL, the child untouched: a second call does it all),
 * nothing left allocated (the row checks for leaks). */
static void *communicate_oom(void *arg)
{
    (void)arg;
    weft_proc *p = start("ppp", (const char *const[]){"cat", NULL});
    char *out = (char *)(uintptr_t)0x5e5e, *err = out;
    size_t outlen = 7, errlen = 7;
    check_alloc_fail_next();
    int rc = weft_proc_communicate(p, "hi", 2, &out, &outlen, &err, &errlen,
                                   NULL);
    CHECK(check_alloc_fail_hit());
    CHECK_EQ(rc, -ENOMEM);
    CHECK(out == NULL && outlen == 0 && err == NULL && errlen == 0);
    int code = -1;
    CHECK_EQ(
        weft_proc_communicate(p, "hi", 2, &out, &outlen, &err, &errlen, &code),
        0);
    CHECK_EQ(code, 0);
    CHECK(check_streq(out, "hi") && outlen == 2);
    CHECK(check_streq(err, "") && errlen == 0);
    free(out);
    free(err);
    CHECK_EQ(weft_proc_close(p), 0);
    return NULL;
}

/* ---- the waiter-thread path ---- */

static void *thread_path(void *arg)
{
    weft__proc_no_pidfd = true;
    returncodes(arg);
    signals(arg);
    wait_in_scope(arg);
    several_waiters(arg);
    close_cancelled(arg);
    weft__proc_no_pidfd = false;
    return NULL;
}

static void thread_loop_close_child(void *arg)
{
    weft__proc_no_pidfd = true;
    loop_close_child(arg);
}

static void thread_loop_close(void *arg)
{
    (void)arg;
    char *err = NULL;
    int st = check_fork(thread_loop_close_child, NULL, &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(err && strstr(err, "was still running when its loop closed"));
    free(err);
}

/* Outside a task. */
static void outside_a_task(void *arg)
{
    (void)arg;
    weft_proc *p;
    const char *const t[] = {"true", NULL};
    CHECK_EQ(weft_proc_spawn(t, NULL, &p), -EPERM);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("spawn_outside_a_task", outside_a_task, NULL),
    CHECK_TASK("returncodes_exit_signal_running", returncodes, NULL),
    CHECK_TASK("spawn_errors_leave_no_child", spawn_errors, NULL),
    CHECK_TASK("pipes_are_streams", pipes_as_streams, NULL),
    CHECK_TASK("communicate_4mib_through_cat", communicate_big, NULL),
    CHECK_TASK("communicate_stdout_stderr_epipe_args", communicate_streams,
               NULL),
    CHECK_TASK("stdio_devnull_fd_swap_env_cwd", stdio_modes_env_cwd, NULL),
    CHECK_TASK("child_signal_state_and_process_group", signal_state, NULL),
    CHECK_TASK("signals", signals, NULL),
    CHECK_TASK("wait_and_communicate_under_deadline", wait_in_scope, NULL),
    CHECK_TASK("several_waiters_and_close", several_waiters, NULL),
    CHECK_TASK_WANT("close_from_cancelled_task_reaps", close_cancelled, NULL,
                    -ECANCELED),
    CHECK_TASK("stale_and_foreign_handles", handles, NULL),
    CHECK_TASK("others_children_left_alone", others_children, NULL),
    CHECK_PLAIN("loop_close_kills_reaps_reports", loop_close, NULL),
    CHECK_TASK("spawn_out_of_memory_each_allocation", spawn_oom, NULL),
    {"communicate_out_of_memory", communicate_oom, NULL, NULL, 0,
     CHECK_NO_LEAK, 0},
    CHECK_TASK_WANT("without_pidfd_waiter_thread", thread_path, NULL,
                    -ECANCELED),
    CHECK_PLAIN("without_pidfd_loop_close", thread_loop_close, NULL),
};

int main(void)
{
    check_allow_maps(8);
    return CHECK_MAIN(cases);
}

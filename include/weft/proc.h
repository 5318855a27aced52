/*
 * weft/proc.h - child processes (asyncio.create_subprocess_exec, Go's
 * os/exec, Tokio's process::Command).  Included by weft.h.
 *
 *     const char *argv[] = {"sort", NULL};
 *     weft_proc_opts o = {0};
 *     o.stdio[0].mode = WEFT_STDIO_PIPE;
 *     o.stdio[1].mode = WEFT_STDIO_PIPE;
 *     weft_proc *p;
 *     weft_proc_spawn(argv, &o, &p);
 *     char *out;
 *     size_t outlen;
 *     int code;
 *     weft_proc_communicate(p, "b\na\n", 4, &out, &outlen, NULL, NULL, &code);
 *     ...                                   // out is "a\nb\n", code 0
 *     free(out);
 *     weft_proc_close(p);
 *
 * A child is started with posix_spawn: the program is looked up in PATH
 * when its name has no '/' (as execvp), its signal mask is empty and every
 * signal has its default action.  Descriptors weft opens are close-on-exec,
 * so the child inherits only its three standard streams (and what the
 * caller left open without FD_CLOEXEC).
 *
 * Its exit is learnt through a pidfd (Linux 5.3 and later) watched by the
 * loop's poller, or, where the kernel has none, by a thread blocked in
 * waitid() on that one child.  weft reaps only its own children, by pid:
 * there is no SIGCHLD handler and no waitpid(-1), so children the program
 * starts by other means are left alone.  (A SIGCHLD disposition of SIG_IGN
 * makes the kernel reap children itself: weft_proc_wait then fails with
 * -ECHILD.)
 *
 * No zombie is left behind: weft_proc_close kills a child that still runs
 * (SIGKILL) and reaps it; when the loop closes, every child whose handle is
 * still open is killed, reaped and reported on stderr.
 *
 * A returncode is asyncio's: the exit status (0..255) when the child
 * exited, or minus the signal number when a signal killed it.
 *
 * Handles are checked as weft_fd handles are: a closed or never-opened
 * handle is -EINVAL.  A handle belongs to its loop (-EPERM elsewhere).
 * Every call is made from a task; the calls that may suspend obey
 * cancellation and cancel scopes (-ECANCELED, -ETIMEDOUT).
 */
#ifndef WEFT_PROC_H
#define WEFT_PROC_H

#include "base.h"
#include "stream.h"

#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_proc weft_proc;

/* What a child's standard stream is connected to. */
typedef enum weft_stdio_mode {
    WEFT_STDIO_INHERIT = 0, /* the caller's own descriptor 0, 1 or 2 */
    WEFT_STDIO_PIPE,        /* a pipe to a weft_stream (weft_proc_stream) */
    WEFT_STDIO_DEVNULL,     /* /dev/null */
    WEFT_STDIO_FD,          /* the caller's descriptor `fd` (duplicated) */
    WEFT_STDIO_STDOUT,      /* stderr only: the same as the child's stdout */
} weft_stdio_mode;

typedef struct weft_proc_stdio {
    weft_stdio_mode mode;
    int fd; /* WEFT_STDIO_FD only; stays the caller's */
} weft_proc_stdio;

/* Options of weft_proc_spawn; zero-initialise (all inherited). */
typedef struct weft_proc_opts {
    /* stdio[0] stdin, stdio[1] stdout, stdio[2] stderr. */
    weft_proc_stdio stdio[3];
    /* The child's environment, NULL-terminated "NAME=value" strings; NULL
     * for the caller's. */
    char *const *envp;
    /* The child's working directory; NULL for the caller's. */
    const char *cwd;
    /* Start the child in a process group of its own (setpgid(0, 0)), so
     * that a terminal's Ctrl-C does not reach it. */
    bool new_process_group;
    /* The limit of the pipes' streams (weft_stream_opts.limit); 0 for the
     * default. */
    size_t limit;
} weft_proc_opts;

/*
 * Starts argv[0] with the arguments argv (NULL-terminated; copied by the
 * system, not kept).  opts may be NULL (everything inherited).
 * p: receives the handle; close it with weft_proc_close.
 * Errors: -EINVAL (argv, argv[0] or p NULL, an unknown mode, a bad fd for
 * WEFT_STDIO_FD, WEFT_STDIO_STDOUT on stdin or stdout), -EPERM (not in a
 * task), -ENOENT / -EACCES / -ENOEXEC / ... (the program could not be
 * executed: exec's error; no child is left - except under an emulator
 * such as qemu-user, which runs glibc's vfork as a fork: there the child
 * exits 127 instead), -EBADF (a WEFT_STDIO_FD
 * descriptor is not open), -EMFILE, -EAGAIN (process limit), -ENOMEM.
 */
int weft_proc_spawn(const char *const argv[], const weft_proc_opts *opts,
                    weft_proc **p);

/* The child's process id (still valid after it exited, until
 * weft_proc_close).  Errors: -EINVAL, -EPERM. */
pid_t weft_proc_pid(weft_proc *p);

/*
 * The stream of the child's standard stream `which` (0 stdin, 1 stdout,
 * 2 stderr) when it was made a pipe.  The stream belongs to the process:
 * weft_proc_close closes it, but it may be closed earlier with
 * weft_stream_close - close stdin to send the child end of file.  After
 * that the handle is stale (its calls return -EINVAL).
 * Errors: -EINVAL (bad handle, which not 0..2, s NULL), -ENOENT (that
 * stream is not a pipe), -EPERM.
 */
int weft_proc_stream(weft_proc *p, int which, weft_stream **s);

/*
 * Waits until the child has exited and reaps it; returncode (may be NULL)
 * receives its returncode.  Once reaped, returns at once with the same
 * code.  Several tasks may wait at once.  Cancelling the wait leaves the
 * child running.
 * Errors: -ECANCELED, -ETIMEDOUT, -EINVAL, -EPERM, -ECHILD (the kernel
 * reaped the child itself: SIGCHLD is ignored), -EBADF (the handle was
 * closed by another task meanwhile).
 */
int weft_proc_wait(weft_proc *p, int *returncode);

/*
 * 0 and the returncode if the child has been reaped, -EAGAIN if it has not
 * (asyncio's Process.returncode being None); reaps it if it has exited
 * meanwhile.  Does not suspend.  Errors: -EINVAL, -EPERM, -ECHILD.
 */
int weft_proc_returncode(weft_proc *p, int *returncode);

/*
 * Sends signal sig to the child (kill(2)); sig 0 only checks.  Once the
 * child has been reaped nothing is sent (its pid may belong to another
 * process by then): -ESRCH.
 * Errors: -EINVAL (bad handle or signal), -EPERM, -ESRCH.
 */
int weft_proc_signal(weft_proc *p, int sig);

/*
 * asyncio's communicate(): writes the n bytes of input to the child's
 * stdin and closes it, reads its stdout and stderr to their end - all at
 * once, so that neither side blocks on a full pipe - then waits for its
 * exit.  out/outlen and err/errlen (each may be NULL, then that output is
 * read and dropped) receive what the child wrote to its pipes, in buffers
 * allocated with malloc and NUL-terminated (the caller frees them with
 * free()); NULL and 0 when the stream is not a pipe.  returncode: as
 * weft_proc_wait (may be NULL).  A child that exits without reading its
 * input is not an error (the pipe's -EPIPE is ignored, as asyncio does).
 * If the call fails, is cancelled or times out, nothing is returned in
 * out/err (nothing to free), the child keeps running, and the bytes of
 * output read so far are lost; stdin may have been closed.
 * Errors: -EINVAL (bad handle; input NULL with n > 0; input given but
 * stdin not a pipe; outlen NULL with out given, or errlen with err),
 * -EPERM, -ECANCELED, -ETIMEDOUT, -ENOMEM, a read error of the pipes, the
 * errors of weft_proc_wait.
 */
int weft_proc_communicate(weft_proc *p, const void *input, size_t n,
                          char **out, size_t *outlen, char **err,
                          size_t *errlen, int *returncode);

/*
 * Closes the process handle: a child that has not been reaped is killed
 * (SIGKILL) and reaped - this waits for it to die, ignoring cancellation
 * (a killed process exits at once unless the kernel holds it in an
 * uninterruptible wait); its pipes' streams are closed; tasks in
 * weft_proc_wait get -EBADF.
 * Errors: -EINVAL (bad handle), -EPERM.  The handle is freed on success.
 */
int weft_proc_close(weft_proc *p);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_PROC_H */

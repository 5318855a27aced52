/*
 * error.c - weft_strerror.
 *
 * weft's own wording for every code its public headers document, from one
 * X-macro table (as libuv does): tests/test_strerror.c reads the headers
 * and fails on a documented code missing here.  Any other errno - passed
 * on from the system - falls back to the C library's static description.
 * ENOTSUP and EOPNOTSUPP are one number on Linux: one entry says both.
 */
#define _GNU_SOURCE
#include "weft.h"

#include <string.h>

#define WEFT_ERRORS(X)                                                        \
    X(ECANCELED, "operation cancelled")                                       \
    X(ETIMEDOUT, "timed out")                                                 \
    X(EINVAL, "invalid argument (or a handle already consumed)")              \
    X(EPERM, "not allowed here (outside a task, on another loop, or not the " \
             "owner)")                                                        \
    X(EDEADLK, "deadlock: the wait could never end")                          \
    X(EBUSY, "busy (a loop already runs on this thread, another task waits "  \
             "for it, or the object is in use)")                              \
    X(ENOMEM, "out of memory")                                                \
    X(EAGAIN, "not ready yet")                                                \
    X(EOVERFLOW, "too many (scopes, shields or sets open in one task), or "   \
                 "a value too large")                                         \
    X(ESHUTDOWN, "shut down (a queue, or a loop that takes no more work)")    \
    X(EPIPE, "broken (a barrier reset or aborted, or a closed pipe)")         \
    X(ERANGE, "index out of range")                                           \
    X(ENOTSUP, "not supported: a regular file or directory cannot be "       \
               "waited for (always ready), or an option does not apply")      \
    X(EBADF, "not an open file descriptor (or a signal watcher closed "       \
             "while waited on)")                                              \
    X(EINTR, "interrupted by SIGINT (Ctrl-C)")                                \
    X(ENODATA, "the stream ended first (the partial data was handed back)")   \
    X(EMSGSIZE, "too large: no separator within the stream's limit (the "    \
                "data stays buffered), or a datagram too large to send")     \
    X(ENOENT, "not found (no such file, directory, program or host name)")    \
    X(EIO, "input/output failed (a write to the terminal, or a name lookup "  \
           "that failed for good)")                                           \
    X(EMFILE, "out of file descriptors (the process's limit, "               \
              "RLIMIT_NOFILE)")                                               \
    X(ENFILE, "out of file descriptors (the whole system's limit)")           \
    X(EEXIST, "already there (a descriptor registered twice)")                \
    X(EFBIG, "the file is larger than the limit asked for")                   \
    X(EACCES, "permission denied (a file's mode, or a privileged port)")      \
    X(ENAMETOOLONG, "name too long (a Unix socket path above 107 bytes)")     \
    X(ENOSPC, "no room left (a buffer too small for the answer, or a full "   \
              "device)")                                                      \
    X(ECONNREFUSED, "connection refused: nobody listens there")               \
    X(ECONNRESET, "connection reset: the peer went away abruptly")            \
    X(ECONNABORTED, "a connection was aborted before it was accepted")        \
    X(ENOTCONN, "not connected: the socket has no peer")                      \
    X(ENETUNREACH, "no route to that network")                                \
    X(EHOSTUNREACH, "no route to that host")                                  \
    X(EADDRINUSE, "address in use (another socket listens there, or a Unix "  \
                  "socket's file was left behind)")                           \
    X(EAFNOSUPPORT, "address family not supported by this call")              \
    X(ENOTSOCK, "not a socket")                                               \
    X(ENOPROTOOPT, "the socket option does not apply to this kind of "        \
                   "socket")                                                  \
    X(ECHILD, "the child process was reaped by someone else (SIGCHLD "        \
              "ignored)")                                                     \
    X(ESRCH, "the process has exited already")                                \
    X(ENOEXEC, "the program's file is not an executable")

const char *weft_strerror(int err)
{
    if (err == 0)
        return "success";
    /* Error codes are -1 .. -4095: anything else is no errno (and INT_MIN
     * could not even be negated). */
    if (err > 0 || err < -4095)
        return "unknown error";
    switch (-err) {
#define CASE(code, text)                                                      \
    case code:                                                                \
        return text;
        WEFT_ERRORS(CASE)
#undef CASE
    }
    const char *d = strerrordesc_np(-err);
    return d ? d : "unknown error";
}

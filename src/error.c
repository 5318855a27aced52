/*
 * error.c - weft_strerror.
 *
 * weft's own wording for the codes its API documents, from one X-macro
 * table (as libuv does); any other errno falls back to the C library's
 * static description.
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
    X(ENOTSUP, "this kind of file cannot be waited for (always ready)")       \
    X(EBADF, "not an open file descriptor (or a signal watcher closed "       \
             "while waited on)")                                              \
    X(EINTR, "interrupted by SIGINT (Ctrl-C)")                                \
    X(ENODATA, "the stream ended first (the partial data was handed back)")   \
    X(EMSGSIZE, "no separator within the stream's limit (the data stays "    \
                "buffered)")

const char *weft_strerror(int err)
{
    if (err == 0)
        return "success";
    switch (-err) {
#define CASE(code, text)                                                      \
    case code:                                                                \
        return text;
        WEFT_ERRORS(CASE)
#undef CASE
    }
    if (err < 0) {
        const char *d = strerrordesc_np(-err);
        if (d)
            return d;
    }
    return "unknown error";
}

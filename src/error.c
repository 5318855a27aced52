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
    X(EINVAL, "invalid argument")                                             \
    X(EPERM, "not allowed here (outside a task or on another loop)")          \
    X(EDEADLK, "deadlock: nothing can wake the waiting tasks")                \
    X(EBUSY, "busy (a loop already runs on this thread, or the object is "    \
             "in use)")                                                       \
    X(ENOMEM, "out of memory")                                                \
    X(EAGAIN, "not ready yet")                                                \
    X(EOVERFLOW, "value too large")

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

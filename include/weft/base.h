/*
 * weft/base.h - what every part of the API shares: the version, the task
 * body and task handle types, error descriptions and build information.
 * Included by weft.h and by each of the other weft/ headers.
 *
 * The weft/ headers include one another by bare file name ("base.h"), which
 * the compiler looks up next to the including header first: they find their
 * own siblings whether used from the source tree or from an installed copy.
 */
#ifndef WEFT_BASE_H
#define WEFT_BASE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define WEFT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WEFT_PRINTF(f, a)
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Tasks: the body and the handle                                            */
/* ------------------------------------------------------------------------ */

/*
 * A task body, shaped like a pthread start routine.  The returned pointer is
 * the task's result (return integers through intptr_t, as with pthreads).
 */
typedef void *(*weft_fn)(void *arg);

/*
 * A handle to a task.  It is not a pointer you may dereference: it encodes
 * the task's slot, a generation number and its loop, so that every use of a
 * handle is checked.
 *
 * Ownership: each handle has exactly one owner.  weft_await() and
 * weft_task_detach() consume it; after that every call given the handle
 * returns -EINVAL (the generation no longer matches), and never touches
 * another task's memory.  A handle is only meaningful on its own loop:
 * passed to another loop's thread it gives -EPERM, as does a handle of a
 * loop that has closed.  Handles die with their loop; do not keep them past
 * weft_run().  A value that never was a handle is -EINVAL, unless its bits
 * happen to carry the tag (8 bits) of a loop this process has run: then
 * -EPERM, as for that loop's handles.
 */
typedef struct weft_task weft_task;

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* A static description of a weft error code (a negative errno): weft's own
 * words for every code these headers document, the C library's description
 * for any other errno (one passed on from the system), "success" for 0 and
 * "unknown error" for anything else.  Never NULL; callable from any
 * thread. */
const char *weft_strerror(int err);

/* The name of the context-switch implementation ("x86_64", "aarch64",
 * "ucontext") and of the stack guard tier in use ("guard-install",
 * "mprotect", "canary").  Callable from any thread; the guard tier is known
 * once a loop has run (before that: "unknown"). */
const char *weft_switch_name(void);
const char *weft_guard_name(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_BASE_H */

/*
 * backend.h - the poller, behind the handful of functions the loop needs.
 *
 * Exactly one backend is compiled in (epoll.c on Linux; io_uring or kqueue
 * would be other files with the same functions, chosen at build time, as
 * redis's ae_*.c are).  The core never includes a backend's headers.
 *
 * Every backend owns a wake-up channel (an eventfd for epoll) so that other
 * threads can interrupt a poll: weft__backend_wake is the only function here
 * that may be called from another thread.
 */
#ifndef WEFT_BACKEND_H
#define WEFT_BACKEND_H

#include <stdint.h>

typedef struct weft__backend weft__backend;

/* Called for each ready registration: data as registered, events a mask of
 * WEFT_READABLE / WEFT_WRITABLE, plus WEFT__POLL_HUP when the peer hung up
 * or the descriptor has an error (sticky: no later edge will say it). */
#define WEFT__POLL_HUP 4u
typedef void (*weft__ready_fn)(void *ctx, void *data, unsigned events);

int weft__backend_open(weft__backend **out);
void weft__backend_close(weft__backend *b);

/* One-shot interest in fd: reported once, then the registration must be
 * removed with weft__backend_del.  Returns 0 or -errno (-EEXIST when fd is
 * already registered). */
int weft__backend_add(weft__backend *b, int fd, unsigned events, void *data);
void weft__backend_del(weft__backend *b, int fd);

/* Lasting, edge-triggered interest in both directions (the fd registry):
 * each time fd becomes readable or writable (or gets an error or a
 * hang-up) it is reported, until weft__backend_unwatch or close(2).
 * Returns 0 or -errno. */
int weft__backend_watch(weft__backend *b, int fd, void *data);
void weft__backend_unwatch(weft__backend *b, int fd);

/* Waits up to timeout_ns (0: don't block; negative: no limit) and reports
 * ready registrations.  A wake-up from weft__backend_wake ends the wait
 * early.  Returns the number of registrations reported, or -errno. */
int weft__backend_poll(weft__backend *b, int64_t timeout_ns,
                       weft__ready_fn fn, void *ctx);

/* Thread-safe: makes the current or next poll return. */
void weft__backend_wake(weft__backend *b);

const char *weft__backend_name(void);

#endif

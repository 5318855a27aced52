/*
 * transport.h - what a stream (stream.c) reads from and writes to.
 *
 * A stream keeps its buffers and its rules (limits, writer order, broken
 * state) and moves bytes through these four operations only, so that
 * another transport - TLS over the same registered descriptor - can slot
 * in under it without touching the stream.  The plain transport is the
 * descriptor's own calls (fd.h).  Every operation is called from a task of
 * the stream's loop and may suspend; errors are negative errno values as
 * fd.h's calls return them (-EBADF once the descriptor is closed).
 */
#ifndef WEFT_TRANSPORT_H
#define WEFT_TRANSPORT_H

#include "fd_internal.h"

typedef struct weft__transport_ops {
    /* Up to n bytes; 0 at end of stream. */
    ssize_t (*read)(void *ctx, void *buf, size_t n);
    /* All `total` bytes of the vector (which it may advance); *written:
     * the bytes that went out, also on error. */
    int (*writev)(void *ctx, struct iovec *v, int cnt, size_t total,
                  size_t *written);
    /* Half-close: the peer reads end of stream. */
    int (*shutdown_write)(void *ctx);
    /* Releases the transport and its descriptor (always). */
    int (*close)(void *ctx);
} weft__transport_ops;

/* The plain transport; ctx is the weft_fd handle. */
extern const weft__transport_ops weft__fd_transport;

#endif

/*
 * weft/stream.h - buffered streams over a connection (asyncio's
 * StreamReader and StreamWriter, Go's bufio).  Included by weft.h.
 *
 *     weft_stream *s;
 *     weft_open_connection("127.0.0.1", 6379, &s);
 *     weft_stream_write(s, "PING\r\n", 6, NULL);
 *     const char *line;
 *     size_t len;
 *     if (weft_stream_readline(s, &line, &len) == 0)   // "+PONG\r\n"
 *         ...
 *     weft_stream_close(s);
 *
 * Reading.  A stream keeps what it read ahead in a buffer of its own,
 * allocated once (it grows only as far as a line or separator needs,
 * bounded by the limit).  readline and readuntil hand back a pointer into
 * that buffer - no copy, no allocation - valid until the next call on the
 * stream.  The limit (default 64 KiB, asyncio's) bounds how far a
 * separator is looked for: beyond it the call fails with -EMSGSIZE and
 * leaves the data in the buffer, to be read with weft_stream_read.  At end
 * of stream before a separator, or before readexactly's count, the partial
 * data is handed back with -ENODATA: never lost.
 *
 * Writing.  weft_stream_write returns when every byte is in the kernel's
 * buffer (there is no drain() to forget).  Concurrent writers are served
 * in FIFO order and each write stays contiguous.  A write that fails or is
 * cancelled part-way reports how many bytes went out and marks the stream
 * broken: the peer has a cut message, so later writes fail with -EPIPE.
 *
 * Buffered writing (opts.write_buffer, off by default, Go's bufio.Writer):
 * a write that fits in the buffer is copied there and returns at once; one
 * that does not goes out in one system call together with what was
 * buffered.  weft_stream_flush sends what is buffered - call it before
 * waiting for an answer, or the peer never sees the request.  Closing
 * flushes (within a grace period, also from a cancelled task: see
 * weft_stream_close); weft_stream_shutdown_write flushes first.  A send
 * that fails before any of the new bytes went out keeps the rest of the
 * buffer (the stream stays whole); one that fails later marks it broken.
 *
 * A stream is a weft_fd with a buffer: its handle is checked as weft_fd
 * handles are (a closed stream, or anything that never was a stream's
 * handle, is -EINVAL for every call: a second close too).  Use only the stream's calls to
 * read and write it once it is open.  Calls that may suspend are made from
 * a task and obey cancellation and cancel scopes (-ECANCELED/-ETIMEDOUT).
 */
#ifndef WEFT_STREAM_H
#define WEFT_STREAM_H

#include "base.h"
#include "fd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_stream weft_stream;

/* Options of weft_stream_open; zero-initialise. */
typedef struct weft_stream_opts {
    /* How far readline/readuntil look for a separator, in bytes; 0 for
     * 64 KiB.  At most 1 GiB. */
    size_t limit;
    /* Bytes of write buffer (see "Buffered writing"); 0 for none: every
     * write goes to the kernel before it returns.  At most 1 GiB. */
    size_t write_buffer;
    /* How long weft_stream_close may spend flushing the write buffer, in
     * seconds; 0 for 5 s; negative: drop what is buffered. */
    double close_grace;
} weft_stream_opts;

/*
 * Makes a stream of a connected descriptor; the stream owns fd from now on
 * (weft_stream_close closes it).  opts may be NULL.
 * Errors: -EINVAL (bad handle, s NULL, limit or write_buffer over 1 GiB,
 * close_grace NaN, fd already a stream), -EPERM, -ENOMEM (fd is then
 * still the caller's).
 */
int weft_stream_open(weft_fd *fd, const weft_stream_opts *opts,
                     weft_stream **s);

/* asyncio.open_connection(host, port): weft_tcp_connect + a stream.
 * Errors as weft_tcp_connect and weft_stream_open. */
int weft_open_connection(const char *host, int port, weft_stream **s);

/* asyncio.open_unix_connection(path): weft_unix_connect + a stream.
 * Errors as weft_unix_connect and weft_stream_open. */
int weft_open_unix_connection(const char *path, weft_stream **s);

/*
 * Up to n bytes: what is buffered, else what one read brings.  Returns the
 * count, 0 at end of stream, or -ECONNRESET, -ECANCELED, -ETIMEDOUT,
 * -EBUSY (another task reads), -EINVAL, -EPERM, a read error.
 */
ssize_t weft_stream_read(weft_stream *s, void *buf, size_t n);

/*
 * Exactly n bytes into buf.  Returns 0; -ENODATA if the stream ended first
 * (the bytes that came are in buf, *got says how many); other errors as
 * weft_stream_read (*got bytes were taken from the stream and are in buf).
 * got may be NULL.
 */
int weft_stream_readexactly(weft_stream *s, void *buf, size_t n,
                            size_t *got);

/*
 * Reads up to and including the first occurrence of sep (seplen >= 1
 * bytes).  *data receives a pointer into the stream's buffer, valid until
 * the next call on s, and *len the length (separator included).
 * Returns 0; or:
 *   -ENODATA   end of stream first: *data and *len hold the rest (taken from
 *              the stream; *len may be 0);
 *   -EMSGSIZE  no separator within the limit: nothing is taken; *data and *len
 *              show what is buffered (at least the limit) - read it with
 *              weft_stream_read, or close;
 *   -EINVAL (sep NULL or empty, data or len NULL), and the errors of
 *   weft_stream_read.
 */
int weft_stream_readuntil(weft_stream *s, const void *sep, size_t seplen,
                          const char **data, size_t *len);

/* A line: weft_stream_readuntil with "\n", except that at end of stream
 * the last, unterminated line is returned with 0 (and *len 0 once the
 * stream is exhausted), as asyncio's readline does.  Errors as
 * weft_stream_readuntil. */
int weft_stream_readline(weft_stream *s, const char **line, size_t *len);

/* How many bytes the stream has read ahead: what the next read or
 * readuntil can take without a system call (Go's Reader.Buffered).  A
 * server answering pipelined requests can gather its replies while this
 * is above zero and flush before it waits.  Does not suspend.
 * Errors: -EINVAL, -EPERM. */
ssize_t weft_stream_buffered(weft_stream *s);

/*
 * Writes all n bytes (see "Writing" above; with a write buffer, a write
 * that fits is buffered).  written: if not NULL, the bytes of this call
 * that went out (or into the buffer).  Returns 0, or -EPIPE (broken
 * earlier, or the peer went away), -ECONNRESET, -ECANCELED, -ETIMEDOUT,
 * -EBADF (closed meanwhile by another task), -EINVAL, -EPERM.
 */
int weft_stream_write(weft_stream *s, const void *buf, size_t n,
                      size_t *written);

/* Sends what the write buffer holds (nothing to do without one), in turn
 * with the writers.  Errors as weft_stream_write. */
int weft_stream_flush(weft_stream *s);

/* Half-close: flushes the write buffer, then the peer reads end of
 * stream; reading stays possible.
 * Errors: -EINVAL, -EPERM, -ENOTCONN, the errors of weft_stream_flush. */
int weft_stream_shutdown_write(weft_stream *s);

/*
 * Closes the stream and its descriptor (always released).  Bytes in the
 * write buffer are flushed first, from a task, under a shield (so that a
 * cancelled task still flushes) and within opts.close_grace; what cannot
 * be sent in that time is dropped and the error returned.  Buffered bytes
 * that cannot be sent at all - the stream is broken, or close is called
 * outside a task - are dropped with -EPIPE (and silently with a negative
 * close_grace, or when the loop itself closes).  A task blocked in a
 * read or write of the stream is woken with -EBADF.
 * Errors: -EINVAL (NULL, closed or unknown stream: a second close),
 * -EPERM, the flush's error (-ETIMEDOUT: the grace period ran out; -EPIPE,
 * -ECONNRESET), -EPIPE (buffered bytes dropped, above), or close(2)'s
 * error.
 */
int weft_stream_close(weft_stream *s);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_STREAM_H */

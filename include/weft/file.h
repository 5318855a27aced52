/*
 * weft/file.h - files, through the loop's thread pool.  Included by
 * weft.h.
 *
 * A regular file is always "ready" to a poller, yet reading it may block
 * on the disk; so these calls run the system call on the loop's thread
 * pool (as asyncio users do with to_thread or aiofiles) and suspend only
 * the calling task.  The descriptors are ordinary ones (close them with
 * weft_file_close or close(2)).
 *
 * Cancellation: a call whose job is still queued is withdrawn and returns
 * -ECANCELED (or a scope's -ETIMEDOUT) at once; a job already running uses
 * the caller's buffer and path, so the call waits for it to end before
 * returning - never does the pool write into memory whose owner has
 * returned.  All calls are made from a task (-EPERM otherwise); errors are
 * the system call's, as negative errno values (-ENOENT, -EACCES, -EBADF,
 * -EEXIST, -ENOSPC, -EIO, ...), plus -ECANCELED,
 * -ETIMEDOUT, -EINVAL (NULL arguments), -ENOMEM, -EAGAIN (no pool thread
 * could be started).
 *
 * From a compact task (WEFT_SPAWN_COMPACT, weft/task.h), whose frame is not
 * addressable while it waits, buffers, paths and the struct stat that lie
 * in its frame are bounced through the heap: paths and write buffers are
 * copied before the job, read buffers and the struct stat are filled once
 * the task has resumed (a read buffer of n bytes costs an allocation of n
 * bytes while the call lasts).  -ENOMEM when a copy cannot be allocated
 * (nothing was done).  Default tasks' calls use their pointers as they
 * are, at no cost.
 */
#ifndef WEFT_FILE_H
#define WEFT_FILE_H

#include "base.h"

#include <sys/stat.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* open(2) with O_CLOEXEC added; *fd receives the descriptor. */
int weft_file_open(const char *path, int flags, mode_t mode, int *fd);
/* close(2). */
int weft_file_close(int fd);

/* read(2) / pread(2): up to n bytes, 0 at end of file. */
ssize_t weft_file_read(int fd, void *buf, size_t n);
ssize_t weft_file_pread(int fd, void *buf, size_t n, off_t offset);

/* write(2) / pwrite(2) until all n bytes are written (or an error: then
 * *written, if not NULL, says how many were). */
int weft_file_write(int fd, const void *buf, size_t n, size_t *written);
int weft_file_pwrite(int fd, const void *buf, size_t n, off_t offset,
                     size_t *written);

/* fsync(2), stat(2), unlink(2), rename(2). */
int weft_file_fsync(int fd);
int weft_file_stat(const char *path, struct stat *st);
int weft_file_unlink(const char *path);
int weft_file_rename(const char *from, const char *to);

/*
 * The whole file at path: *data receives a malloc'd buffer (the caller
 * frees it with free(3)) of *len bytes, plus a terminating NUL not counted
 * in *len, so text can be used as a string.  Files over max_len bytes
 * (0: 1 GiB) give -EFBIG.
 */
int weft_file_read_all(const char *path, size_t max_len, char **data,
                       size_t *len);

/*
 * Replaces the file at path with len bytes of data, atomically: written to
 * a temporary file next to it, synced, then renamed over it, so a reader
 * sees the old content or the new one, never a part (mode: for a new
 * file, e.g. 0644).
 */
int weft_file_write_all(const char *path, const void *data, size_t len,
                        mode_t mode);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_FILE_H */

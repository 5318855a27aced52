/*
 * test_file.c - files through the thread pool (weft/file.h): open, write,
 * read, pread/pwrite, fsync, stat, rename, unlink, whole-file reads with a
 * size limit, atomic whole-file writes, errors from the system calls, and
 * a call whose job is still queued withdrawn by cancellation, and -ENOMEM
 * (nothing done, no leak) when a call's op cannot be allocated.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void *basics(void *arg)
{
    (void)arg;
    char p[128], q[128];
    path(p, sizeof p, "a.txt");
    path(q, sizeof q, "b.txt");
    int fd;
    REQUIRE(weft_file_open(p, O_CREAT | O_RDWR | O_TRUNC, 0644, &fd) == 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    size_t w = 0;
    CHECK_EQ(weft_file_write(fd, "hello world", 11, &w), 0);
    CHECK_EQ(w, 11);
    CHECK_EQ(weft_file_pwrite(fd, "W", 1, 6, NULL), 0);
    CHECK_EQ(weft_file_fsync(fd), 0);
    char buf[32] = {0};
    CHECK_EQ(weft_file_pread(fd, buf, sizeof buf, 0), 11);
    CHECK(memcmp(buf, "hello World", 11) == 0);
    CHECK_EQ(weft_file_read(fd, buf, sizeof buf), 0); /* at the end */
    CHECK_EQ(weft_file_close(fd), 0);
    struct stat st;
    CHECK_EQ(weft_file_stat(p, &st), 0);
    CHECK_EQ(st.st_size, 11);
    CHECK_EQ(weft_file_rename(p, q), 0);
    CHECK_EQ(weft_file_stat(p, &st), -ENOENT);
    CHECK_EQ(weft_file_unlink(q), 0);
    CHECK_EQ(weft_file_unlink(q), -ENOENT);
    CHECK_EQ(weft_file_open(p, O_RDONLY, 0, &fd), -ENOENT);
    CHECK_EQ(weft_file_read(-1, buf, 1), -EBADF);
    CHECK_EQ(weft_file_open(NULL, O_RDONLY, 0, &fd), -EINVAL);
    CHECK_EQ(weft_file_stat(p, NULL), -EINVAL);
    return NULL;
}

static void *whole_files(void *arg)
{
    (void)arg;
    char p[128];
    path(p, sizeof p, "whole.bin");
    size_t n = 3 << 20;
    char *data = malloc(n);
    REQUIRE(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 13);
    CHECK_EQ(weft_file_write_all(p, data, n, 0640), 0);
    struct stat st;
    CHECK_EQ(weft_file_stat(p, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0640);
    char *back = NULL;
    size_t len = 0;
    CHECK_EQ(weft_file_read_all(p, 0, &back, &len), 0);
    CHECK_EQ(len, n);
    CHECK(back && memcmp(back, data, n) == 0 && back[n] == '\0');
    free(back);
    back = NULL;
    CHECK_EQ(weft_file_read_all(p, n - 1, &back, &len), -EFBIG);
    CHECK(back == NULL);
    /* Replaced atomically: the new content, and no temporary left. */
    CHECK_EQ(weft_file_write_all(p, "short", 5, 0644), 0);
    CHECK_EQ(weft_file_read_all(p, 0, &back, &len), 0);
    CHECK(len == 5 && strcmp(back, "short") == 0);
    free(back);
    CHECK_EQ(weft_file_unlink(p), 0);
    CHECK_EQ(weft_file_read_all(p, 0, &back, &len), -ENOENT);
    char nodir[160];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/f", dir);
    CHECK_EQ(weft_file_write_all(nodir, "x", 1, 0644), -ENOENT);
    free(data);
    return NULL;
}

/* With the pool capped at one busy thread, a second call waits queued;
 * cancelling its task withdraws it: it never runs. */
static void *blocker(void *arg)
{
    (void)arg;
    usleep(100000);
    return NULL;
}

static void *stat_in_task(void *arg)
{
    struct stat st;
    return I2P(weft_file_stat(arg, &st));
}

static void *withdrawn(void *arg)
{
    (void)arg;
    REQUIRE(weft_pool_limit(1) == 0);
    weft_task *b, *t;
    REQUIRE(weft_spawn_blocking(blocker, NULL, &b) == 0);
    REQUIRE(weft_spawn(stat_in_task, dir, &t) == 0);
    weft_sleep(0.01);
    CHECK_EQ(weft_task_cancel(t), 0);
    void *r;
    CHECK_EQ(weft_await(t, &r), -ECANCELED);
    CHECK_EQ(P2I(r), -ECANCELED); /* at once, not after the blocker */
    CHECK_EQ(weft_task_done(b), 0);
    CHECK_EQ(weft_await(b, NULL), 0);
    return NULL;
}

/* Out of memory for a call's op: -ENOMEM before anything runs, nothing
 * left allocated (the case checks for leaks). */
static void *oom(void *arg)
{
    (void)arg;
    char p[128];
    path(p, sizeof p, "oom.txt");
    int fd = -7;
    check_alloc_fail_next();
    int rc = weft_file_open(p, O_CREAT | O_RDWR | O_TRUNC, 0644, &fd);
    CHECK(check_alloc_fail_hit());
    CHECK_EQ(rc, -ENOMEM);
    CHECK_EQ(fd, -7);
    CHECK(access(p, F_OK) != 0); /* never created */
    check_alloc_fail_next();
    rc = weft_file_write_all(p, "x", 1, 0644);
    CHECK(check_alloc_fail_hit());
    CHECK_EQ(rc, -ENOMEM);
    CHECK(access(p, F_OK) != 0);
    REQUIRE(weft_file_open(p, O_CREAT | O_RDWR | O_TRUNC, 0644, &fd) == 0);
    size_t w = 99;
    check_alloc_fail_next();
    rc = weft_file_write(fd, "abc", 3, &w);
    CHECK(check_alloc_fail_hit());
    CHECK_EQ(rc, -ENOMEM);
    CHECK_EQ(w, 0);
    char *data = (char *)(uintptr_t)0x5e5e;
    size_t len = 77;
    check_alloc_fail_next();
    rc = weft_file_read_all(p, 0, &data, &len);
    CHECK(check_alloc_fail_hit());
    CHECK_EQ(rc, -ENOMEM);
    CHECK(data == (char *)(uintptr_t)0x5e5e);
    CHECK_EQ(len, 77);
    /* Memory again: the calls work. */
    CHECK_EQ(weft_file_write(fd, "abc", 3, &w), 0);
    CHECK_EQ(w, 3);
    CHECK_EQ(weft_file_close(fd), 0);
    CHECK_EQ(weft_file_unlink(p), 0);
    return NULL;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/weft-file-%d", (int)getpid());
    REQUIRE(mkdir(dir, 0700) == 0);
    check_begin();
    check_allow_maps(8);
    check_case_alarm_install();
    check_case("open_write_read_stat_rename_unlink", basics, NULL, 0);
    check_case("whole_files_limit_and_atomic_replace", whole_files, NULL, 0);
    check_case("queued_call_withdrawn_by_cancel", withdrawn, NULL, 0);
    check_run_case(&(struct check_case_def){
        .name = "op_oom", .task = oom, .flags = CHECK_NO_LEAK});
    int rc = check_end();
    rmdir(dir);
    return rc;
}

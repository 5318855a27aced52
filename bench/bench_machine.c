/*
 * bench_machine.c - what this machine charges for the two things the
 * other figures are made of: a system call and the first write to a fresh
 * page.  Virtual machines of one kind differ up to 10x on both, so the
 * other rows are only comparable through these (bench/run.sh runs this
 * program first).
 *   getppid     a trivial system call, in a loop of 1,000,000.
 *   page touch  one byte written to each page of a fresh 256 MiB mapping,
 *               in a fresh process after another process touched and freed
 *               more (the hypervisor backs guest memory on first use: the
 *               first process to touch memory pays several times more).
 * Each is the median of 5 fresh processes.
 *
 * Usage: bench_machine [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REPS 5
#define PAGE ((size_t)4096)

static int run_getppid(void *arg, double *out)
{
    long n = *(const long *)arg;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid); /* glibc does not cache it, but be sure */
    out[0] = (double)(bench_now_ns() - t0) / (double)n;
    return 0;
}

static int run_touch(void *arg, double *out)
{
    size_t len = *(const size_t *)arg;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return bench_fail("mmap %zu bytes: %s", len, strerror(errno));
    madvise(p, len, MADV_NOHUGEPAGE);
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < len; i += PAGE)
        ((volatile char *)p)[i] = 1;
    out[0] = (double)(bench_now_ns() - t0) / (double)(len / PAGE);
    return 0;
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    bench_header();
    long calls = bench_scaled(scale, 1000000, 1000);
    size_t len = (size_t)bench_scaled(scale, 65536, 256) * PAGE;
    double v[REPS];
    bench_stat sc, pg;

    for (int r = 0; r < REPS; r++)
        if (bench_run_once(run_getppid, &calls, 1, &v[r]))
            return 1;
    bench_summarise(v, REPS, &sc);
    for (int r = 0; r < REPS; r++)
        if (bench_warm(2 * len) || bench_run_once(run_touch, &len, 1, &v[r]))
            return 1;
    bench_summarise(v, REPS, &pg);

    bench_row("machine: a system call (getppid)", sc.med / 1e3, 3, "us", "-",
              -1, "median of %d processes (%.3f..%.3f), %ld calls each", REPS,
              sc.min / 1e3, sc.max / 1e3, calls);
    bench_row("machine: first write to a fresh 4 KiB page", pg.med / 1e3, 3,
              "us", "-", -1,
              "median of %d processes (%.3f..%.3f), %zu pages each, each "
              "after another process touched and freed twice as much",
              REPS, pg.min / 1e3, pg.max / 1e3, len / PAGE);
    return 0;
}

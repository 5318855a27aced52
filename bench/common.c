/*
 * common.c - helpers shared by the benchmark programs (see common.h).
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bench_scale(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : getenv("WEFT_BENCH_SCALE");
    if (!s || !*s)
        return 1.0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v > 0) || !isfinite(v)) {
        fprintf(stderr, "bad scale '%s' (want a positive number)\n", s);
        exit(2);
    }
    return v;
}

long bench_scaled(double scale, long n, long min)
{
    double v = floor((double)n * scale + 0.5);
    if (v < (double)min)
        return min;
    if (v > 1e15)
        return (long)1e15;
    return (long)v;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_percentile(double *v, int n, double pct)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    /* Nearest rank: the smallest value with at least pct% at or below. */
    long rank = (long)ceil(pct / 100.0 * n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

double bench_median(double *v, int n)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

long bench_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss * 1024L; /* KiB on Linux */
}

long bench_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    long size, resident;
    int n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    if (n != 2)
        return -1;
    return resident * sysconf(_SC_PAGESIZE);
}

long bench_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    long n = 0;
    int c, last = '\n';
    while ((c = getc_unlocked(f)) != EOF) {
        if (c == '\n')
            n++;
        last = c;
    }
    if (last != '\n')
        n++;
    fclose(f);
    return n;
}

long bench_max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (!f)
        return -1;
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

void bench_touch(void *p, size_t len)
{
    long pg = sysconf(_SC_PAGESIZE);
    volatile char *c = p;
    for (size_t i = 0; i < len; i += (size_t)pg)
        c[i] = 0;
    if (len)
        c[len - 1] = 0;
}

long bench_minflt(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_minflt;
}

long bench_status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t len = strlen(field);
    long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, field, len) && line[len] == ':') {
            v = strtol(line + len + 1, NULL, 10) * 1024L;
            break;
        }
    }
    fclose(f);
    return v;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Writes every page of a fresh mapping of `bytes`, in pages of the kind
 * `advice` asks for, and unmaps it. */
static int warm_once(size_t bytes, int advice)
{
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return bench_fail("warm: mmap %zu bytes: %s", bytes, strerror(errno));
    madvise(p, bytes, advice);
    /* Only the pages' being backed matters, not how: in one call where
     * the kernel can. */
    if (madvise(p, bytes, MADV_POPULATE_WRITE) != 0)
        bench_touch(p, bytes);
    munmap(p, bytes);
    return 0;
}

/* Huge pages, then base pages: memory freed in 4 KiB pages is not what the
 * kernel hands out for a 2 MiB one (measured here: a huge page after a
 * 4 KiB-only warm cost 7-12 us per 4 KiB, as memory never touched does;
 * after this warm, 0.5-1), and a program measured after the warm may use
 * either (weft itself asks for 4 KiB pages everywhere). */
static int warm_child(void *arg, double *out)
{
    size_t bytes = *(const size_t *)arg;
    out[0] = 0;
    if (warm_once(bytes, MADV_HUGEPAGE))
        return 1;
    return warm_once(bytes, MADV_NOHUGEPAGE);
}

/* MemAvailable of /proc/meminfo, in bytes; 0 if unknown. */
static size_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[128];
    unsigned long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lu kB", &kib) == 1)
            break;
    fclose(f);
    return (size_t)kib * 1024;
}

int bench_warm(size_t bytes)
{
    /* Never more than the machine has free: the warm is meant to make the
     * run cheaper, not to get a process killed. */
    size_t avail = mem_available();
    if (avail && bytes > avail / 10 * 9)
        bytes = avail / 10 * 9;
    double v;
    return bench_run_once(warm_child, &bytes, 1, &v);
}

/* ---- fresh-process runs ---- */

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got == len ? 0 : -1;
}

int bench_run_once(bench_run_fn fn, void *arg, int nvals, double *out)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        double v[BENCH_MAX_VALUES];
        for (int i = 0; i < BENCH_MAX_VALUES; i++)
            v[i] = NAN;
        int rc = fn(arg, v);
        fflush(stdout);
        if (rc == 0) {
            const char *p = (const char *)v;
            size_t len = (size_t)nvals * sizeof *v, put = 0;
            while (put < len) {
                ssize_t w = write(fds[1], p + put, len - put);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    _exit(3);
                put += (size_t)w;
            }
        }
        _exit(rc ? 1 : 0);
    }
    close(fds[1]);
    int got = read_all(fds[0], out, (size_t)nvals * sizeof *out);
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            return -1;
        }
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "bench: run killed by signal %d (%s)\n",
                WTERMSIG(status), strsignal(WTERMSIG(status)));
        return -1;
    }
    if (WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: run failed (exit status %d)\n",
                WEXITSTATUS(status));
        return -1;
    }
    if (got != 0) {
        fprintf(stderr, "bench: run handed back no result\n");
        return -1;
    }
    return 0;
}

int bench_runs(int reps, int nvals, bench_run_fn fn, void *arg, bench_stat *st)
{
    if (reps < 1 || nvals < 1 || nvals > BENCH_MAX_VALUES) {
        fprintf(stderr, "bench_runs: bad arguments\n");
        return -1;
    }
    double *all = malloc((size_t)reps * (size_t)nvals * sizeof *all);
    double *col = malloc((size_t)reps * sizeof *col);
    if (!all || !col) {
        free(all);
        free(col);
        fprintf(stderr, "bench_runs: out of memory\n");
        return -1;
    }
    int rc = 0;
    for (int r = 0; r < reps && rc == 0; r++)
        rc = bench_run_once(fn, arg, nvals, all + (size_t)r * (size_t)nvals);
    if (rc == 0) {
        for (int i = 0; i < nvals; i++) {
            for (int r = 0; r < reps; r++)
                col[r] = all[(size_t)r * (size_t)nvals + (size_t)i];
            bench_summarise(col, reps, &st[i]);
        }
    }
    free(all);
    free(col);
    return rc;
}

void bench_summarise(double *v, int n, bench_stat *st)
{
    st->sum = 0;
    for (int i = 0; i < n; i++)
        st->sum += v[i];
    st->med = bench_median(v, n); /* sorts v */
    st->min = v[0];
    st->max = v[n - 1];
}

/* ---- output ---- */

void bench_header(void)
{
    const char *e = getenv("WEFT_BENCH_NO_HEADER");
    if (e && *e && strcmp(e, "0") != 0)
        return;
    printf("| workload | value | unit | target | note |\n");
    printf("|---|---:|---|---|---|\n");
    fflush(stdout);
}

void bench_row(const char *workload, double value, int prec, const char *unit,
               const char *target, int met, const char *note_fmt, ...)
{
    char note[512];
    va_list ap;
    va_start(ap, note_fmt);
    vsnprintf(note, sizeof note, note_fmt, ap);
    va_end(ap);
    printf("| %s | %.*f | %s | %s | %s%s |\n", workload, prec, value, unit,
           target, met == 0 ? "MISS; " : "", note);
    fflush(stdout);
}

int bench_fail_at(const char *file, int line, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int bench_weft_run(weft_fn fn, double *out)
{
    int rc = weft_run(fn, out, NULL);
    if (rc)
        return bench_fail("%s: %s", weft_strerror(rc),
                          weft_errmsg() ? weft_errmsg() : "");
    return 0;
}

/*
 * common.h - helpers shared by the benchmark programs: scale, timing,
 * medians, memory readings, fresh-process runs and the table printer.
 *
 * Every program prints rows of one table:
 *
 *     | workload | value | unit | target | note |
 *
 * bench/run.sh prints the header once and sets WEFT_BENCH_NO_HEADER=1; a
 * program run on its own prints the header itself.
 *
 * Each measurement runs in a fresh child process (bench_runs), several
 * times, and the median is reported: a child starts with a small peak RSS,
 * so ru_maxrss measures its own workload only, and one run's heap, stacks
 * or page cache never colour the next.
 */
#ifndef WEFT_BENCH_COMMON_H
#define WEFT_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

/* Most values one run can hand back to the parent. */
#define BENCH_MAX_VALUES 8

/* The scale factor: argv[1] if given, else $WEFT_BENCH_SCALE, else 1.
 * Exits with status 2 on a malformed or non-positive value. */
double bench_scale(int argc, char **argv);

/* n * scale, rounded, at least `min`. */
long bench_scaled(double scale, long n, long min);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Median / percentile (0..100, nearest rank) of v[0..n); v is reordered. */
double bench_median(double *v, int n);
double bench_percentile(double *v, int n, double pct);

/* Peak resident set of this process (getrusage ru_maxrss), in bytes. */
long bench_peak_rss(void);
/* Current resident set (/proc/self/statm), in bytes; -1 on error. */
long bench_rss(void);
/* Lines of /proc/self/maps (mappings); -1 on error. */
long bench_maps(void);
/* vm.max_map_count; -1 if unreadable. */
long bench_max_map_count(void);

/* Pre-faults [p, p + len) so that later writes cost no page fault. */
void bench_touch(void *p, size_t len);

/* Minor page faults of this process so far (getrusage ru_minflt). */
long bench_minflt(void);
/* A "Name:  value kB" field of /proc/self/status (VmPTE, VmRSS...), in
 * bytes; -1 if missing. */
long bench_status_bytes(const char *field);

/*
 * Warms `bytes` of the machine's memory: a child process writes every page
 * of a fresh mapping that size, then exits, freeing it.  On a virtual
 * machine the first process to touch memory no process has used since boot
 * pays several times more per page (the hypervisor backs guest memory on
 * first use); a measurement that touches a lot of memory runs after a warm
 * of more than it uses, so it pays what every later process pays.  At most
 * 90% of the memory available is warmed.  Returns 0, or -1 (reported on
 * stderr).
 */
int bench_warm(size_t bytes);

/*
 * One run of a measurement, executed in a fresh child process: fills
 * out[0..nvals) and returns 0, or prints what went wrong on stderr and
 * returns non-zero (a wrong result, a weft error).
 */
typedef int (*bench_run_fn)(void *arg, double *out);

/* One run of fn in a new child process: 0 and out[0..nvals), or -1 (the
 * failure has been reported on stderr). */
int bench_run_once(bench_run_fn fn, void *arg, int nvals, double *out);

/* Summary of one value over the runs. */
typedef struct bench_stat {
    double med, min, max, sum;
} bench_stat;

/*
 * Runs fn `reps` times, each in a new child process, and summarises each of
 * the nvals values over the runs into st[].  Returns 0, or -1 if any run
 * failed (exited non-zero, crashed, or handed back too little); the failure
 * has been reported on stderr.
 */
int bench_runs(int reps, int nvals, bench_run_fn fn, void *arg, bench_stat *st);

/* Summarises v[0..n) (reordered) into *st. */
void bench_summarise(double *v, int n, bench_stat *st);

/* Prints the table header unless WEFT_BENCH_NO_HEADER is set. */
void bench_header(void);

/*
 * Prints one row.  `prec` digits after the point; `target` may be "-";
 * `met`: 1 met, 0 missed (the note is prefixed "MISS;"), -1 no target.
 */
void bench_row(const char *workload, double value, int prec, const char *unit,
               const char *target, int met, const char *note_fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Reports a failed check (file:line, message) on stderr; returns 1 so a
 * run can `return bench_fail(...)`. */
int bench_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define bench_fail(...) bench_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* Runs fn as a loop's main task with `out` as its argument; 0, or prints
 * weft's error (and message) and returns -1. */
int bench_weft_run(weft_fn fn, double *out);

#endif

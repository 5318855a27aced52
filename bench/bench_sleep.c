/*
 * bench_sleep.c - many tasks asleep at once, beside the page floor.
 *
 * The main task spawns N tasks (100,000, then 1,000,000) that each sleep
 * one second, concurrently, then awaits them all and checks every result
 * (each returns its index; none may wake early).  The floor is what any
 * stackful design pays at least: one fresh 4 KiB page written per task,
 * nothing else (plain C, no runtime, one mapping).  Reported, per N:
 *   overhead    the wall time from the first spawn to the last await, minus
 *               the 1 s every task sleeps: what it costs to start, park,
 *               wake and finish N tasks.  The note splits it: "start" is
 *               the time until the last task is asleep, "exit" is
 *               weft_run's teardown after the main task returned (not
 *               counted in the overhead).
 *   floor       the time to write one byte to each of N fresh pages; the
 *               overhead is judged against it (target <= 1.3x).
 *   memory      resident memory while they all sleep (/proc/self/statm),
 *               minus the resident memory just before the first spawn,
 *               divided by N: each sleeping task's record, stack pages,
 *               slot, timer entry and ready-ring entry.  The handle array
 *               is the caller's and is faulted in before the first reading.
 *               Page tables are not in it (statm counts pages mapped, not
 *               the tables mapping them); "page tables" reports them
 *               (VmPTE, the same way).  Target <= 4,300 B.
 *   faults      minor page faults from the first spawn to the last await,
 *               per task (ru_minflt).  With guard pages every task's stack
 *               is a fresh page: at least 1 per task, or the run measured
 *               warm stacks, not live tasks.
 *   mappings    lines of /proc/self/maps while they all sleep: 1,000,000
 *               sleeping tasks must fit under the stock vm.max_map_count
 *               (65530), i.e. stacks must not cost a mapping each.
 *
 * How it is measured.  On a virtual machine the first process to touch
 * memory that no process has used since boot pays several times more per
 * page, so every run (weft or floor) is a fresh child process, preceded by
 * another child that touches and frees more memory than the run uses
 * (bench_warm).  The kinds of run take turns, each round starting with the
 * next kind; 5 runs of each; medians, with the range.
 *
 * Each round runs, in turn: the floor, default tasks, compact tasks
 * (WEFT_SPAWN_COMPACT: target at most 512 B per task with page tables
 * included, and an overhead below Tokio's), and the peers built in
 * bench/peers/ (Tokio's current_thread runtime, Go with GOMAXPROCS=1; each
 * optional), which run the same workload and measure it the same way.
 *
 * Usage: bench_sleep [scale]   (or WEFT_BENCH_SCALE; default 1)
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLEEP_S 1.0
#define REPS 5
#define TARGET_RATIO 1.3
#define TARGET_PER_TASK 4300.0 /* bytes, page tables apart */
/* Warm more than a run uses: ~4.4 KiB and page tables per task, 6 KiB
 * with room, and the process's own few MiB. */
#define WARM_PER_TASK ((size_t)6 * 1024)
#define WARM_BASE ((size_t)64 << 20)

enum { V_OVERHEAD, V_PER_TASK, V_PTE, V_MINFLT, V_MAPS, V_START, V_EXIT, NV };

typedef struct run_ctx {
    long n;
    unsigned flags; /* weft_spawn_opts.flags: 0 or WEFT_SPAWN_COMPACT */
    long started;
    long early;
    uint64_t t_spawn, t_asleep, t_done, t_main_end;
    long rss0, rss1, pte0, pte1, flt0, flt1, maps;
} run_ctx;

static run_ctx *cur;

static void *sleeper(void *arg)
{
    cur->started++;
    uint64_t t0 = bench_now_ns();
    int rc = weft_sleep(SLEEP_S);
    uint64_t slept = bench_now_ns() - t0;
    if (rc)
        return weft_fail(rc, "weft_sleep: %s", weft_strerror(rc));
    if (slept < (uint64_t)(SLEEP_S * 1e9))
        cur->early++;
    return arg;
}

static void *sleep_main(void *arg)
{
    run_ctx *c = arg;
    long n = c->n;
    weft_task **h = malloc((size_t)n * sizeof *h);
    if (!h)
        return weft_fail(-ENOMEM, "handle array");
    bench_touch(h, (size_t)n * sizeof *h);
    c->rss0 = bench_rss();
    c->pte0 = bench_status_bytes("VmPTE");
    c->flt0 = bench_minflt();

    weft_spawn_opts o = {.flags = c->flags};
    c->t_spawn = bench_now_ns();
    for (long i = 0; i < n; i++) {
        int rc = weft_spawn_ex(sleeper, (void *)(intptr_t)i, &o, &h[i]);
        if (rc)
            return weft_fail(rc, "weft_spawn #%ld", i);
    }
    /* The spawned tasks run before the main task comes round again (FIFO);
     * allow a few more turns rather than rely on the order.  A task that
     * never got to sleep (no memory for its stack) has finished instead. */
    for (int turns = 0; c->started < n && turns < 8; turns++) {
        int rc = weft_yield();
        if (rc)
            return weft_fail(rc, "weft_yield");
    }
    if (c->started < n) {
        for (long i = 0; i < n; i++) {
            int rc = weft_task_result(h[i], NULL);
            if (rc != 0 && rc != -EAGAIN)
                return weft_fail(rc, "task #%ld failed: %s", i,
                                 weft_strerror(rc));
        }
        return weft_fail(-EPROTO, "only %ld of %ld tasks got to sleep",
                         c->started, n);
    }
    c->t_asleep = bench_now_ns();
    c->rss1 = bench_rss();
    c->pte1 = bench_status_bytes("VmPTE");
    c->maps = bench_maps();

    uint64_t sum = 0;
    int sum_ok = 1;
    for (long i = 0; i < n; i++) {
        void *r = NULL;
        int rc = weft_await(h[i], &r);
        if (rc)
            return weft_fail(rc, "weft_await #%ld", i);
        sum_ok &= (intptr_t)r == i;
        sum += (uint64_t)(intptr_t)r;
    }
    c->t_done = bench_now_ns();
    c->flt1 = bench_minflt();
    free(h);
    uint64_t want = (uint64_t)n * (uint64_t)(n - 1) / 2;
    if (!sum_ok || sum != want)
        return weft_fail(-EPROTO, "wrong results: sum %llu, want %llu",
                         (unsigned long long)sum, (unsigned long long)want);
    if (c->early)
        return weft_fail(-EPROTO, "%ld tasks woke before %.1f s", c->early,
                         SLEEP_S);
    if (c->rss0 < 0 || c->rss1 < 0 || c->maps < 0 || c->pte0 < 0 ||
        c->pte1 < 0 || c->flt0 < 0 || c->flt1 < 0)
        return weft_fail(-EIO, "could not read /proc/self");
    c->t_main_end = bench_now_ns();
    return NULL;
}

typedef struct run_arg {
    long n;
    unsigned flags;
    const char *peer; /* a peer's program, or NULL */
} run_arg;

static int run_sleep(void *arg, double *out)
{
    const run_arg *a = arg;
    run_ctx c = {.n = a->n, .flags = a->flags};
    cur = &c;
    int rc = weft_run(sleep_main, &c, NULL);
    uint64_t t_exit = bench_now_ns();
    if (rc) {
        const char *msg = weft_errmsg();
        return bench_fail("weft_run: %s%s%s", weft_strerror(rc),
                          msg ? ": " : "", msg ? msg : "");
    }
    out[V_OVERHEAD] = (double)(c.t_done - c.t_spawn) * 1e-9 - SLEEP_S;
    out[V_PER_TASK] = (double)(c.rss1 - c.rss0) / (double)c.n;
    out[V_PTE] = (double)(c.pte1 - c.pte0) / (double)c.n;
    out[V_MINFLT] = (double)(c.flt1 - c.flt0) / (double)c.n;
    out[V_MAPS] = (double)c.maps;
    out[V_START] = (double)(c.t_asleep - c.t_spawn) * 1e-9;
    out[V_EXIT] = (double)(t_exit - c.t_main_end) * 1e-9;
    return 0;
}

/* A peer (bench/peers/): `peer N SECONDS` runs the same workload in its
 * own fresh process, measured the same way, and prints one line
 * "overhead_s=.. start_s=.. rss_per_task=.. minflt=.. vmpte_kb=..". */
static int run_peer(void *arg, double *out)
{
    const run_arg *a = arg;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "'%s' %ld %.1f", a->peer, a->n, SLEEP_S);
    FILE *p = popen(cmd, "r");
    if (!p)
        return bench_fail("popen %s: %s", a->peer, strerror(errno));
    char line[512] = "";
    char *got = fgets(line, sizeof line, p);
    int st = pclose(p);
    double ov, start, rss;
    long flt, pte_kb;
    if (!got || st != 0 ||
        sscanf(line,
               "overhead_s=%lf start_s=%lf rss_per_task=%lf minflt=%ld "
               "vmpte_kb=%ld",
               &ov, &start, &rss, &flt, &pte_kb) != 5)
        return bench_fail("%s: exit status %d, said: %s", a->peer, st, line);
    for (int i = 0; i < NV; i++)
        out[i] = 0;
    out[V_OVERHEAD] = ov;
    out[V_START] = start;
    out[V_PER_TASK] = rss;
    out[V_MINFLT] = (double)flt / (double)a->n;
    out[V_PTE] = (double)pte_kb * 1024.0 / (double)a->n;
    return 0;
}

/* The floor: one byte written to each of n fresh pages of one mapping. */
static int run_floor(void *arg, double *out)
{
    long n = ((const run_arg *)arg)->n;
    size_t len = (size_t)n * 4096;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return bench_fail("mmap %zu bytes: %s", len, strerror(errno));
    madvise(p, len, MADV_NOHUGEPAGE); /* 4 KiB pages, as stacks get */
    long rss0 = bench_rss(), pte0 = bench_status_bytes("VmPTE");
    long flt0 = bench_minflt();
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < len; i += 4096)
        ((volatile char *)p)[i] = 1;
    uint64_t t1 = bench_now_ns();
    long flt1 = bench_minflt();
    long rss1 = bench_rss(), pte1 = bench_status_bytes("VmPTE");
    if (rss0 < 0 || rss1 < 0 || pte0 < 0 || pte1 < 0)
        return bench_fail("could not read /proc/self");
    for (int i = 0; i < NV; i++)
        out[i] = 0;
    out[V_OVERHEAD] = (double)(t1 - t0) * 1e-9;
    out[V_PER_TASK] = (double)(rss1 - rss0) / (double)n;
    out[V_PTE] = (double)(pte1 - pte0) / (double)n;
    out[V_MINFLT] = (double)(flt1 - flt0) / (double)n;
    return 0;
}

/* What a round runs, each in a fresh process after a warm. */
enum { M_FLOOR, M_DEFAULT, M_COMPACT, M_TOKIO, M_GO, NM };

#ifndef WEFT_PEER_TOKIO_SLEEP
#define WEFT_PEER_TOKIO_SLEEP NULL
#endif
#ifndef WEFT_PEER_GO_SLEEP
#define WEFT_PEER_GO_SLEEP NULL
#endif

/* A peer's program if it was built (it is optional). */
static const char *peer_of(int m)
{
    const char *p = m == M_TOKIO ? WEFT_PEER_TOKIO_SLEEP
                    : m == M_GO  ? WEFT_PEER_GO_SLEEP
                                 : NULL;
    return p && access(p, X_OK) == 0 ? p : NULL;
}

static bool mode_runs(int m)
{
    return m < M_TOKIO || peer_of(m) != NULL;
}

/* One run of each mode, each after a warm, starting with mode `first`. */
static int run_round(long n, int first, double v[NM][NV])
{
    size_t warm = (size_t)n * WARM_PER_TASK + WARM_BASE;
    for (int k = 0; k < NM; k++) {
        int m = (first + k) % NM;
        if (!mode_runs(m))
            continue;
        run_arg a = {.n = n,
                     .flags = m == M_COMPACT ? WEFT_SPAWN_COMPACT : 0,
                     .peer = peer_of(m)};
        bench_run_fn fn = m == M_FLOOR ? run_floor
                          : a.peer     ? run_peer
                                       : run_sleep;
        if (bench_warm(warm) || bench_run_once(fn, &a, NV, v[m]))
            return -1;
    }
    return 0;
}

static double load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* REPS interleaved rounds, summarised per mode and value. */
static int measure(long n, bench_stat st[NM][NV])
{
    static double v[REPS][NM][NV];
    double col[REPS];
    for (int r = 0; r < REPS; r++)
        if (run_round(n, r % NM, v[r]))
            return -1;
    for (int m = 0; m < NM; m++)
        for (int i = 0; i < NV; i++) {
            for (int r = 0; r < REPS; r++)
                col[r] = v[r][m][i];
            bench_summarise(col, REPS, &st[m][i]);
        }
    return 0;
}

static void report_default(long n, int judge, const bench_stat *w,
                           const bench_stat *f, double la0, double la1,
                           long max_maps)
{
    char wl[80], t[32];
    double ratio = w[V_OVERHEAD].med / f[V_OVERHEAD].med;
    snprintf(wl, sizeof wl, "sleep 1 s x %ld: overhead", n);
    bench_row(wl, w[V_OVERHEAD].med, 2, "s", "-", -1,
              "median of %d (%.2f..%.2f); start %.2f s, exit %.2f s; "
              "total = overhead + 1 s; load average %.2f..%.2f",
              REPS, w[V_OVERHEAD].min, w[V_OVERHEAD].max, w[V_START].med,
              w[V_EXIT].med, la0, la1);
    snprintf(wl, sizeof wl, "sleep 1 s x %ld: page floor", n);
    bench_row(wl, f[V_OVERHEAD].med, 2, "s", "-", -1,
              "one fresh 4 KiB page written per task, plain C; median of %d "
              "(%.2f..%.2f), interleaved with weft, each run after a warm",
              REPS, f[V_OVERHEAD].min, f[V_OVERHEAD].max);
    snprintf(wl, sizeof wl, "sleep 1 s x %ld: overhead / floor", n);
    bench_row(wl, ratio, 2, "x", "<= 1.3", judge ? ratio <= TARGET_RATIO : -1,
              "ratio of the medians");
    snprintf(wl, sizeof wl, "sleep 1 s x %ld: memory", n);
    bench_row(wl, w[V_PER_TASK].med, 0, "B/task", "<= 4300",
              judge ? w[V_PER_TASK].med <= TARGET_PER_TASK : -1,
              "RSS while asleep minus before spawning, / N (%.0f..%.0f), "
              "page tables apart; floor %.0f",
              w[V_PER_TASK].min, w[V_PER_TASK].max, f[V_PER_TASK].med);
    snprintf(wl, sizeof wl, "sleep 1 s x %ld: page tables", n);
    bench_row(wl, w[V_PTE].med, 1, "B/task", "-", -1,
              "VmPTE while asleep minus before, / N (%.1f..%.1f); floor %.1f",
              w[V_PTE].min, w[V_PTE].max, f[V_PTE].med);
    snprintf(wl, sizeof wl, "sleep 1 s x %ld: minor faults", n);
    bench_row(wl, w[V_MINFLT].med, 3, "per task", ">= 1",
              judge ? w[V_MINFLT].med >= 1.0 : -1,
              "ru_minflt from the first spawn to the last await, / N "
              "(%.3f..%.3f); floor %.3f; below 1: warm stacks, not live tasks",
              w[V_MINFLT].min, w[V_MINFLT].max, f[V_MINFLT].med);
    snprintf(wl, sizeof wl, "sleep 1 s x %ld: mappings", n);
    snprintf(t, sizeof t, "< %ld", max_maps);
    bench_row(wl, w[V_MAPS].max, 0, "maps", max_maps > 0 ? t : "-",
              max_maps > 0 ? w[V_MAPS].max < (double)max_maps : -1,
              "/proc/self/maps lines while all sleep (max of %d runs); "
              "limit is vm.max_map_count",
              REPS);
}

/* Compact tasks and the peers, beside the default rows. */
static void report_others(long n, int judge, bench_stat st[NM][NV])
{
    char wl[80];
    const bench_stat *c = st[M_COMPACT];
    bool tokio = mode_runs(M_TOKIO);
    double mem = c[V_PER_TASK].med + c[V_PTE].med;
    snprintf(wl, sizeof wl, "sleep 1 s x %ld, compact: overhead", n);
    bench_row(wl, c[V_OVERHEAD].med, 2, "s", tokio ? "< Tokio" : "-",
              judge && tokio ? c[V_OVERHEAD].med < st[M_TOKIO][V_OVERHEAD].med
                             : -1,
              "WEFT_SPAWN_COMPACT; median of %d (%.2f..%.2f); start %.2f s%s",
              REPS, c[V_OVERHEAD].min, c[V_OVERHEAD].max, c[V_START].med,
              tokio ? "" : "; Tokio not built (bench/peers/)");
    snprintf(wl, sizeof wl, "sleep 1 s x %ld, compact: memory", n);
    bench_row(wl, mem, 0, "B/task", "<= 512", judge ? mem <= 512.0 : -1,
              "RSS and page tables, / N: %.0f + %.1f", c[V_PER_TASK].med,
              c[V_PTE].med);
    snprintf(wl, sizeof wl, "sleep 1 s x %ld, compact: minor faults", n);
    bench_row(wl, c[V_MINFLT].med, 3, "per task", "-", -1,
              "ru_minflt from the first spawn to the last await, / N");
    static const char *const names[NM] = {
        [M_TOKIO] = "Tokio (current_thread)", [M_GO] = "Go (GOMAXPROCS=1)"};
    for (int m = M_TOKIO; m < NM; m++) {
        if (!mode_runs(m))
            continue;
        const bench_stat *p = st[m];
        snprintf(wl, sizeof wl, "sleep 1 s x %ld, %s: overhead", n, names[m]);
        bench_row(wl, p[V_OVERHEAD].med, 2, "s", "-", -1,
                  "peer, same workload and measure; median of %d "
                  "(%.2f..%.2f); start %.2f s",
                  REPS, p[V_OVERHEAD].min, p[V_OVERHEAD].max, p[V_START].med);
        snprintf(wl, sizeof wl, "sleep 1 s x %ld, %s: memory", n, names[m]);
        bench_row(wl, p[V_PER_TASK].med + p[V_PTE].med, 0, "B/task", "-", -1,
                  "RSS and page tables, / N: %.0f + %.1f%s", p[V_PER_TASK].med,
                  p[V_PTE].med,
                  p[V_START].med > SLEEP_S
                      ? "; its start outlasts the sleep, so tasks that had "
                        "finished may have left their memory to later ones: "
                        "a low reading"
                      : "");
    }
}

int main(int argc, char **argv)
{
    double scale = bench_scale(argc, argv);
    bench_header();
    long max_maps = bench_max_map_count();
    static const long sizes[] = {100000, 1000000};

    for (int i = 0; i < 2; i++) {
        long n = bench_scaled(scale, sizes[i], 10);
        static bench_stat st[NM][NV];
        double la0 = load1();
        if (measure(n, st))
            return 1;
        const bench_stat *w = st[M_DEFAULT];
        report_default(n, n == sizes[i], w, st[M_FLOOR], la0, load1(),
                       max_maps);
        report_others(n, n == sizes[i], st);
        for (int m = M_DEFAULT; m <= M_COMPACT; m++)
            if (max_maps > 0 && st[m][V_MAPS].max >= (double)max_maps)
                return bench_fail("%.0f mappings, over vm.max_map_count %ld",
                                  st[m][V_MAPS].max, max_maps);
    }
    return 0;
}

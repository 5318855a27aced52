/*
 * check.c - leak accounting and small helpers for the tests (see check.h).
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"
#include "coro/sanitize.h"
#include "core.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int check_failures;

/* The case runner's state (see "named cases" below). */
static struct {
    bool parsed, list, fork, in_child, ran_loop_here;
    char **want; /* names asked for on the command line */
    bool *found; /* want[i] named a case */
    int nwant;
    const char **seen; /* every case name met, for the unknown-name list */
    int nseen, capseen;
    int passed, failed, skipped;
    const char *skip_why;
    bool in_case;
} R;

static void parse_args(void);
static void print_counts(void);

static int fds0, maps0, threads0, maps_allowed = 8;

void check_allow_maps(int extra)
{
    maps_allowed += extra;
}

int check_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static int count_lines(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (!prefix) {
            n++;
        } else if (!strncmp(line, prefix, strlen(prefix))) {
            n = atoi(line + strlen(prefix));
            break;
        }
    }
    fclose(f);
    return n;
}

int check_count_maps(void)
{
    return count_lines("/proc/self/maps", NULL);
}

int check_count_threads_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char path[300], comm[32] = "";
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(comm, sizeof comm, f)) {
            comm[strcspn(comm, "\n")] = '\0';
            n += strcmp(comm, name) == 0;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

int check_count_threads(void)
{
    /* weft's blocked-loop watchdog: one thread, started with the first
     * loop and ended a second after the last loop closed - not a leak. */
    return count_lines("/proc/self/status", "Threads:") -
           check_count_threads_named("weft-watchdog");
}

void check_begin(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    parse_args();
    /* Every default task's record in its stack, not only past the
     * arena's share: the whole suite exercises that placement too. */
    const char *in_stacks = getenv("WEFT_TEST_RECORDS_IN_STACKS");
    if (in_stacks && !strcmp(in_stacks, "1"))
        weft__arena_records = 0;
    check_case_alarm_install();
    fds0 = check_count_fds();
    maps0 = check_count_maps();
    threads0 = check_count_threads();
    /* A thread joined just before may still be counted for a moment. */
    for (int i = 0; i < 20 && threads0 > 1; i++) {
        usleep(1000);
        int n = check_count_threads();
        if (n >= threads0)
            break;
        threads0 = n;
    }
}

int check_end(void)
{
    print_counts();
    long live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
    /* A lookup's resolver thread (detached, src/net/dns.c) may outlive its
     * loop for a moment: it wakes the job, then drops its reference and
     * frees the lookup.  Look again, for at most 0.5 s, as for threads
     * below: a leak is still a leak after that. */
    for (int i = 0; i < 500 && live; i++) {
        usleep(1000);
        live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
    }
    long maps = __atomic_load_n(&weft__map_live, __ATOMIC_RELAXED);
    if (live) {
        fprintf(stderr, "leak: %ld weft allocations still live\n", live);
        check_failures++;
    }
    if (maps) {
        fprintf(stderr, "leak: %ld weft mappings still live\n", maps);
        check_failures++;
    }
    int fds = check_count_fds(), threads = check_count_threads();
    /* A joined thread may still be counted for a moment: pthread_join
     * returns when the kernel clears the thread's id, slightly before the
     * thread leaves the process's count.  Look again, for at most 0.5 s. */
#if WEFT_TSAN
    int settled = threads0 + 1; /* ThreadSanitizer's own thread, maybe */
#else
    int settled = threads0;
#endif
    for (int i = 0; i < 500 && threads > settled; i++) {
        usleep(1000);
        threads = check_count_threads();
    }
#if WEFT_TSAN
    /* ThreadSanitizer starts a background thread of its own. */
    if (threads == threads0 + 1)
        threads = threads0;
#endif
    if (fds != fds0) {
        fprintf(stderr, "leak: %d fds open, %d at start\n", fds, fds0);
        check_failures++;
    }
    /* Fewer is no leak: a thread joined just before check_begin may have
     * still been counted then. */
    if (check_threads_reliable() && threads > threads0) {
        fprintf(stderr, "leak: %d threads, %d at start\n", threads, threads0);
        check_failures++;
    }
    /* Mappings: allow the C library's own (stdio buffers, malloc arenas)
     * a little slack, but not weft-sized growth. */
    int maps_now = check_count_maps();
    /* Sanitizer runtimes map shadow and allocator memory as they go, and
     * qemu-user's view of a guest's mappings splits where a thread's
     * stack lies in one (weft's own mappings are still counted exactly,
     * above). */
    /* A forked case's child leaves the C library's caches to its parent's
     * count: its own mappings are not compared. */
    if (!(WEFT_ASAN || WEFT_TSAN) && !getenv("WEFT_TEST_WRAPPER") &&
        !R.in_child && maps_now > maps0 + maps_allowed) {
        fprintf(stderr, "leak: %d mappings, %d at start\n", maps_now, maps0);
        check_failures++;
    }
    if (check_failures) {
        fprintf(stderr, "%d check(s) failed\n", check_failures);
        return 1;
    }
    if (R.failed) { /* in children of their own (--fork) */
        fprintf(stderr, "%d case(s) failed\n", R.failed);
        return 1;
    }
    return 0;
}

void check_skip(const char *why)
{
    printf("skipped: %s\n", why);
    exit(77);
}

long check_scaled(long n)
{
    const char *s = getenv("WEFT_TEST_SCALE");
    double k = s ? atof(s) : 1.0;
    if (k <= 0)
        k = 1.0;
    long r = (long)((double)n * k);
    return r < 1 ? 1 : r;
}

bool check_threads_reliable(void)
{
    /* qemu-user runs helper threads of its own that come and go. */
    return getenv("WEFT_TEST_WRAPPER") == NULL;
}

bool check_slow_env(void)
{
#if WEFT_ASAN || WEFT_TSAN
    return true;
#else
    /* The runner exports the emulator prefix (qemu-user) it runs us under. */
    return getenv("WEFT_TEST_WRAPPER") != NULL;
#endif
}

int check_fork(void (*fn)(void *), void *arg, char **out)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 2);
        close(p[1]);
        fn(arg);
        fflush(stderr);
        _exit(0);
    }
    close(p[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    REQUIRE(buf);
    for (;;) {
        if (len + 1024 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            REQUIRE(buf);
        }
        ssize_t n = read(p[0], buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (out)
        *out = buf;
    else
        free(buf);
    return status;
}

/* ---- named cases ---- */

const char *check_case_name = "(none)";

const char *check__where(void)
{
    static __thread char buf[160];
    if (!R.in_case)
        return "";
    snprintf(buf, sizeof buf, "[case %s] ", check_case_name);
    return buf;
}

void check__fail(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s:%d: %s\n", check__where(), file, line, msg);
    __atomic_fetch_add(&check_failures, 1, __ATOMIC_RELAXED);
}

/* The program's arguments, from /proc/self/cmdline (main need not pass
 * them).  Under qemu-user the file shows the guest's own command line. */
static void parse_args(void)
{
    if (R.parsed)
        return;
    R.parsed = true;
    const char *e = getenv("WEFT_TEST_FORK");
    R.fork = e && *e && strcmp(e, "0") != 0;
    FILE *f = fopen("/proc/self/cmdline", "re");
    if (!f)
        return;
    static char buf[8192];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    size_t off = strlen(buf) + 1; /* skip argv[0] */
    while (off < len) {
        char *arg = buf + off;
        off += strlen(arg) + 1;
        if (!strcmp(arg, "--list")) {
            R.list = true;
        } else if (!strcmp(arg, "--fork")) {
            R.fork = true;
        } else if (arg[0] == '-' && arg[1] == '-') {
            fprintf(stderr,
                    "usage: test [--list] [--fork] [CASE...]: unknown %s\n",
                    arg);
            exit(2);
        } else {
            R.want = realloc(R.want, sizeof *R.want * (size_t)(R.nwant + 1));
            R.found = realloc(R.found, sizeof *R.found * (size_t)(R.nwant + 1));
            REQUIRE(R.want && R.found);
            R.want[R.nwant] = arg;
            R.found[R.nwant++] = false;
        }
    }
}

/* Is case `name` to run?  Remembers the name. */
static bool selected(const char *name)
{
    if (R.nseen == R.capseen) {
        R.capseen = R.capseen ? 2 * R.capseen : 64;
        R.seen = realloc(R.seen, sizeof *R.seen * (size_t)R.capseen);
        REQUIRE(R.seen);
    }
    R.seen[R.nseen] = strdup(name); /* a case's name may be on its stack */
    REQUIRE(R.seen[R.nseen]);
    R.nseen++;
    if (R.nwant == 0)
        return true;
    bool hit = false;
    for (int i = 0; i < R.nwant; i++)
        if (!strcmp(R.want[i], name))
            hit = R.found[i] = true;
    return hit;
}

/* Exits 2 if a name asked for is no case's. */
static void check_unknown(void)
{
    bool bad = false;
    for (int i = 0; i < R.nwant; i++)
        if (!R.found[i]) {
            fprintf(stderr, "no case named '%s'\n", R.want[i]);
            bad = true;
        }
    if (!bad)
        return;
    fprintf(stderr, "the cases:\n");
    for (int i = 0; i < R.nseen; i++)
        fprintf(stderr, "  %s\n", R.seen[i]);
    exit(2);
}

static int case_timeout(const struct check_case_def *c)
{
    const char *e = getenv("WEFT_TEST_CASE_TIMEOUT");
    if (e && atoi(e) > 0)
        return atoi(e);
    return c->timeout > 0 ? c->timeout : CHECK_CASE_TIMEOUT;
}

/* Runs the case here; returns 0 passed, 1 failed, 77 skipped (and prints
 * the verdict line). */
static int run_here(const struct check_case_def *c)
{
    check_case_name = c->name;
    R.in_case = true;
    R.skip_why = NULL;
    int before = check_failures;
    alarm((unsigned)case_timeout(c));
    double t0 = weft_now();
    if (c->task) {
        R.ran_loop_here = true;
        int rc = weft_run(c->task, c->arg, NULL);
        if (rc != c->want)
            check__fail(__FILE__, __LINE__,
                        "weft_run returned %d (%s%s%s), want %d", rc,
                        weft_strerror(rc), weft_errmsg() ? ": " : "",
                        weft_errmsg() ? weft_errmsg() : "", c->want);
    } else {
        R.ran_loop_here = true; /* the case may have started loops */
        c->plain(c->arg);
    }
    alarm(0);
    long live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
    if ((c->flags & CHECK_NO_LEAK) && live)
        check__fail(__FILE__, __LINE__,
                    "%ld weft allocations live after the case", live);
    R.in_case = false;
    int verdict;
    if (check_failures != before) {
        fprintf(stderr, "case %s: FAILED\n", c->name);
        verdict = 1;
    } else if (R.skip_why) {
        printf("skip %-30s %s\n", c->name, R.skip_why);
        verdict = 77;
    } else {
        printf("ok   %-30s %.3f s\n", c->name, weft_now() - t0);
        verdict = 0;
    }
    check_case_name = "(none)";
    return verdict;
}

static void count(int verdict)
{
    if (verdict == 0)
        R.passed++;
    else if (verdict == 77)
        R.skipped++;
    else
        R.failed++;
}

/* Runs the case in a child of its own under a timeout; returns its
 * verdict.  The child checks for leaks against its own start. */
static int run_forked(const struct check_case_def *c)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        R.in_child = true;
        check_failures = 0;
        check_begin();
        int v = run_here(c);
        if (v != 1 && check_end() != 0) {
            fprintf(stderr, "case %s: FAILED (leak)\n", c->name);
            v = 1;
        }
        fflush(stdout);
        fflush(stderr);
        _exit(v);
    }
    int limit = case_timeout(c) + 5, status = 0;
    double t0 = weft_now();
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "case %s: FAILED (lost the child)\n", c->name);
            return 1;
        }
        if (weft_now() - t0 > limit) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            fprintf(stderr, "case %s: FAILED (timed out after %d s)\n", c->name,
                    limit);
            return 1;
        }
        usleep(2000);
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "case %s: FAILED (signal %d, %s)\n", c->name,
                WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 1;
    }
    int code = WEXITSTATUS(status);
    if (code == 0 || code == 77)
        return code;
    if (code != 1)
        fprintf(stderr, "case %s: FAILED (exit code %d)\n", c->name, code);
    return 1;
}

void check_run_case(const struct check_case_def *c)
{
    parse_args();
    if (!selected(c->name))
        return;
    if (R.list) {
        printf("%s\n", c->name);
        return;
    }
    if (R.fork && !R.ran_loop_here && !(c->flags & CHECK_SERIAL))
        count(run_forked(c));
    else
        count(run_here(c));
}

int check_main(const struct check_case_def *cases, size_t n)
{
    check_begin();
    if (R.list) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", cases[i].name);
        exit(0);
    }
    /* Names first, so that an unknown one runs nothing. */
    bool *run = calloc(n ? n : 1, sizeof *run);
    REQUIRE(run);
    for (size_t i = 0; i < n; i++)
        run[i] = selected(cases[i].name);
    check_unknown();
    R.nwant = 0; /* already chosen: check_run_case need not filter */
    /* With --fork, the forked cases first, while this process has never
     * started a loop; then the serial ones here, in order. */
    for (int pass = R.fork ? 0 : 1; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            bool serial = !R.fork || (cases[i].flags & CHECK_SERIAL);
            if (run[i] && serial == (pass == 1))
                count(R.fork && !serial ? run_forked(&cases[i])
                                        : run_here(&cases[i]));
        }
    free(run);
    return check_end();
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char a[] = "\ncase ";
    static const char b[] = ": TIMED OUT (hang)\n";
    ssize_t w = write(2, a, sizeof a - 1);
    w = write(2, check_case_name, strlen(check_case_name));
    w = write(2, b, sizeof b - 1);
    (void)w;
    _exit(1);
}

void check_case_alarm_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
}

void check_case(const char *name, weft_fn fn, void *arg, int want)
{
    struct check_case_def c = {name, fn, NULL, arg, want, 0, CHECK_CASE_ALARM};
    check_run_case(&c);
}

void check_case_serial(const char *name, weft_fn fn, void *arg, int want)
{
    struct check_case_def c = {
        name, fn, NULL, arg, want, CHECK_SERIAL, CHECK_CASE_ALARM};
    check_run_case(&c);
}

void check_case_skip(const char *why)
{
    R.skip_why = why;
}

/* Prints the case counts (after the cases, before the leak verdict). */
static void print_counts(void)
{
    if (R.in_child || R.list)
        return;
    check_unknown();
    if (R.passed + R.failed + R.skipped == 0)
        return;
    printf("cases: %d passed, %d failed, %d skipped\n", R.passed, R.failed,
           R.skipped);
}

/* ---- helpers shared by the cases ---- */

void check_run_clean(weft_fn fn, void *arg)
{
    int rc = weft_run(fn, arg, NULL);
    if (rc != 0)
        check__fail(__FILE__, __LINE__, "weft_run returned %s (%s)",
                    weft_strerror(rc), weft_errmsg() ? weft_errmsg() : "");
    long live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
    if (live != 0)
        check__fail(__FILE__, __LINE__,
                    "%ld weft allocations live after weft_run", live);
}

uint64_t check_xorshift(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

void check_alloc_fail_next(void)
{
    __atomic_store_n(&weft__alloc_fail_countdown, 1, __ATOMIC_RELAXED);
}

bool check_alloc_fail_hit(void)
{
    return __atomic_exchange_n(&weft__alloc_fail_countdown, 0,
                               __ATOMIC_RELAXED) == 0;
}

void check_yield_until(const int *counter, int target)
{
    for (int i = 0; *counter < target; i++) {
        REQUIRE(i < 100000);
        REQUIRE(weft_yield() == 0);
    }
}

void check_yield_n(int n)
{
    for (int i = 0; i < n; i++)
        REQUIRE(weft_yield() == 0);
}

void check_spin_until(double t)
{
    while (weft_now() < t) {
    }
}

static void *watchdog_main(void *arg)
{
    check_watchdog *w = arg;
    if (weft_sleep(w->secs) == 0) {
        w->fired = 1;
        fprintf(stderr, "%swatchdog: writing to fd %d\n", check__where(),
                w->fd);
        CHECK_EQ(write(w->fd, "!", 1), 1);
    }
    return NULL;
}

void check_watchdog_start(check_watchdog *w, int fd, double secs)
{
    w->fd = fd;
    w->secs = secs;
    w->fired = 0;
    REQUIRE(weft_spawn(watchdog_main, w, &w->task) == 0);
}

void check_watchdog_stop(check_watchdog *w)
{
    weft_task_cancel(w->task);
    CHECK_EQ(weft_await(w->task, NULL), w->fired ? 0 : -ECANCELED);
    CHECK_EQ(w->fired, 0);
}

bool check_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

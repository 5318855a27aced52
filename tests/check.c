/*
 * check.c - leak accounting and small helpers for the tests (see check.h).
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"
#include "coro/sanitize.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int check_failures;

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
    long live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
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
    if (!(WEFT_ASAN || WEFT_TSAN) && !getenv("WEFT_TEST_WRAPPER") &&
        maps_now > maps0 + maps_allowed) {
        fprintf(stderr, "leak: %d mappings, %d at start\n", maps_now, maps0);
        check_failures++;
    }
    if (check_failures) {
        fprintf(stderr, "%d check(s) failed\n", check_failures);
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
    check_case_name = name;
    int before = check_failures;
    alarm(CHECK_CASE_ALARM);
    double t0 = weft_now();
    int rc = weft_run(fn, arg, NULL);
    alarm(0);
    if (rc != want) {
        fprintf(stderr, "case %s: weft_run returned %d (%s), want %d\n", name,
                rc, weft_strerror(rc), want);
        check_failures++;
    }
    if (check_failures != before)
        fprintf(stderr, "case %s: FAILED\n", name);
    else
        printf("ok   %-30s %.3f s\n", name, weft_now() - t0);
}

bool check_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

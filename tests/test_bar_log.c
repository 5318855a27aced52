/*
 * test_bar_log.c - progress bars where the output is not a terminal (a
 * pipe: CI logs, files), the API's argument checks, and counting from many
 * threads.  Cases that print run in a child whose stderr is a pipe; the
 * parent reads it all and checks it line by line (lines parsed back with
 * vt.h's tqdm parser).  It proves:
 * - no "\r" and no escape byte at all; every line ends with "\n" and is a
 *   whole tqdm line with the 10-column bar;
 * - total 100 and 100 updates give one line per tenth: 10%, 20% ... 100%,
 *   each exactly once, in order, each drawn when its tenth was reached -
 *   inside a loop and outside any loop;
 * - 1,000 updates with no yield in between, and a gather of 1,000 tasks that
 *   finish at once, also print one line per tenth, each showing exactly
 *   the count of its tenth (100/1000, 200/1000 ...): the update checks the
 *   tenth itself, not the loop between turns;
 * - weft_gather_ex and weft_map_ex draw their bar on opts.fd (a pipe of
 *   the caller's here: ten lines there, nothing on stderr); a negative fd
 *   is -EINVAL, and the gather's tasks are not consumed by that call;
 * - without a total a short run prints one final line, "desc: 7it [...]";
 * - weft_bar_write / weft_bar_printf lines come out where they were written,
 *   between the progress lines;
 * - a closed pipe costs an error code, not the process: weft_bar_write and
 *   weft_bar_printf return -EIO, bars keep counting, no SIGPIPE kills the
 *   process, none is left pending and the signal mask is as it was;
 * - total 0, negative or infinite: the unknown-total form; NaN: -EINVAL;
 *   opts NULL works; NULL out, negative or NaN mininterval, negative fd or
 *   unit_divisor: -EINVAL, and nothing printed or leaked; the NULL bar is
 *   refused everywhere (update: a no-op, count: 0);
 * - disable=1 and WEFT_PROGRESS=off print nothing (the count still works);
 *   WEFT_PROGRESS=tty forces terminal drawing on a pipe;
 * - a deadlocked loop with a bar open is still detected (-EDEADLK, at
 *   once), and the bar is closed with its loop;
 * - weft_bar_count sums exactly what several pthreads (and pool jobs)
 *   added while the owner counted too, outside and inside a loop;
 * - no leaks (check_end here, and every child checks weft's allocations).
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"
#include "vt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ children */

typedef struct child {
    void (*fn)(void *);
    void *arg;
    const char *const *env;
} child;

static void child_main(void *arg)
{
    child *c = arg;
    check_failures = 0; /* the child's own verdict */
    setenv("LANG", "C.UTF-8", 1);
    setenv("TERM", "xterm", 1);
    unsetenv("LC_ALL");
    unsetenv("LC_CTYPE");
    unsetenv("WEFT_PROGRESS");
    for (const char *const *e = c->env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s",
                 (int)(eq ? eq - *e : (long)strlen(*e)), *e);
        if (eq)
            setenv(name, eq + 1, 1);
        else
            unsetenv(name);
    }
    c->fn(c->arg);
    long live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
    if (live) {
        fprintf(stderr, "leak: %ld weft allocations live\n", live);
        check_failures++;
    }
    fflush(stderr);
    _exit(check_failures ? 1 : 0);
}

/* Runs fn(arg) in a child whose stderr is a pipe (LANG=C.UTF-8, no
 * WEFT_PROGRESS, then env); returns what it wrote, NULL if it failed. */
static char *log_run(const char *name, void (*fn)(void *), void *arg,
                     const char *const *env)
{
    child c = {fn, arg, env};
    char *out = NULL;
    int status = check_fork(child_main, &c, &out);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "%s: child killed by signal %d\n", name,
                WTERMSIG(status));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "%s: child failed (status 0x%x)\n", name, status);
    } else {
        return out;
    }
    check_failures++;
    vt_dump_raw(out, strlen(out), stderr);
    free(out);
    return NULL;
}

/* The output, split into lines: each must end with "\n"; no "\r" and no
 * escape anywhere.  Returns the number of lines (at most max). */
static int split_lines(const char *name, char *out, char **lines, int max)
{
    size_t len = strlen(out);
    if (memchr(out, '\r', len)) {
        fprintf(stderr, "%s: a carriage return in log output\n", name);
        check_failures++;
    }
    if (memchr(out, 0x1b, len)) {
        fprintf(stderr, "%s: an escape byte in log output\n", name);
        check_failures++;
    }
    if (len && out[len - 1] != '\n') {
        fprintf(stderr, "%s: the output does not end with a newline\n", name);
        check_failures++;
    }
    int n = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l && n < max;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    return n;
}

static int expected_pct(long long n, long long total)
{
    char s[16];
    snprintf(s, sizeof s, "%3.0f", (double)n / (double)total * 100);
    return atoi(s);
}

/* A whole tqdm line for desc, with the 10-column bar when there is a total
 * (Unicode blocks: LANG=C.UTF-8). */
static bool log_line_ok(const char *name, const char *line, const char *desc,
                        vt_bar *p)
{
    const char *why = NULL;
    char want[VT_LINE_MAX];
    if (!vt_parse_bar(line, p))
        why = "not a tqdm line";
    else if (strcmp(p->desc, desc))
        why = "wrong desc";
    else if (p->has_total && p->bar_cols != 10)
        why = "the bar is not 10 columns";
    else if (p->has_total && p->pct != expected_pct(p->n, p->total))
        why = "percentage and n/total disagree";
    else if (p->has_total) {
        vt_expected_bar(p->n, p->total, 10, 0, want, sizeof want);
        if (strcmp(want, p->bar))
            why = "the bar does not show n/total";
    }
    if (!why && p->rate <= 0 && strcmp(p->elapsed, "00:00"))
        why = "no rate";
    if (why) {
        fprintf(stderr, "%s: %s: \"%s\"\n", name, why, line);
        check_failures++;
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ tenths */

#define MAX_LINES 256

static void *t_hundred(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 100, .desc = "log", .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 1; i <= 100; i++) {
        weft_bar_update(b, 1);
        if (i == 25 || i == 55 || i == 85)
            CHECK_EQ(weft_bar_printf("note %d", i), 0);
        CHECK_EQ(weft_sleep(0.0003), 0); /* the item's work */
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void c_hundred_loop(void *arg)
{
    CHECK_EQ(weft_run(t_hundred, arg, NULL), 0);
}

static void c_hundred_plain(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 100, .desc = "log", .mininterval = 0.001};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 1; i <= 100; i++) {
        usleep(2000); /* more than mininterval: every tenth is checked */
        weft_bar_update(b, 1);
        if (i == 25 || i == 55 || i == 85)
            CHECK_EQ(weft_bar_printf("note %d", i), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
}

static void test_tenths(const char *name, void (*fn)(void *))
{
    int failures0 = check_failures;
    char *out = log_run(name, fn, NULL, NULL);
    if (!out)
        return;
    char *copy = strdup(out);
    REQUIRE(copy);
    char *lines[MAX_LINES];
    int n = split_lines(name, out, lines, MAX_LINES);
    int seen[11] = {0}, progress = 0, last_pct = 0, notes = 0;
    for (int i = 0; i < n; i++) {
        int k;
        if (sscanf(lines[i], "note %d", &k) == 1) {
            /* written right after update k: after the line for k's tenth,
             * before the next one */
            if (last_pct != k / 10 * 10) {
                fprintf(stderr, "%s: \"%s\" after the %d%% line\n", name,
                        lines[i], last_pct);
                check_failures++;
            }
            notes++;
            continue;
        }
        vt_bar p;
        if (!log_line_ok(name, lines[i], "log", &p))
            continue;
        progress++;
        CHECK(p.has_total && p.total == 100);
        if (p.pct % 10 || p.pct < 10 || p.pct > 100) {
            fprintf(stderr, "%s: a line at %d%%: \"%s\"\n", name, p.pct,
                    lines[i]);
            check_failures++;
            continue;
        }
        if (p.pct < last_pct) {
            fprintf(stderr, "%s: %d%% after %d%%\n", name, p.pct, last_pct);
            check_failures++;
        }
        last_pct = p.pct;
        seen[p.pct / 10]++;
        /* drawn when its tenth was reached, not later */
        CHECK_EQ(p.n, p.pct);
    }
    for (int t = 1; t <= 10; t++)
        if (seen[t] != 1) {
            fprintf(stderr, "%s: the %d%% line printed %d times\n", name,
                    t * 10, seen[t]);
            check_failures++;
        }
    CHECK_EQ(progress, 10);
    CHECK_EQ(notes, 3);
    if (check_failures > failures0)
        vt_dump_raw(copy, strlen(copy), stderr);
    free(copy);
    free(out);
}

/* ---- fast counts: a tenth is printed when it is reached, also when
 * nothing yields in between (the update checks the tenth itself) ---- */

#define FAST_N 1000

static void *t_fast_updates(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = FAST_N, .desc = "fast"};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < FAST_N; i++)
        weft_bar_update(b, 1); /* no yield: the loop never turns */
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void c_fast_updates(void *arg)
{
    CHECK_EQ(weft_run(t_fast_updates, arg, NULL), 0);
}

static void c_fast_plain(void *arg)
{
    t_fast_updates(arg);
}

static void *trivial(void *arg)
{
    return arg;
}

/* weft_gather_ex of 1,000 tasks that finish at once, with a bar. */
static void *t_fast_gather(void *arg)
{
    (void)arg;
    static weft_task *h[FAST_N];
    for (int i = 0; i < FAST_N; i++)
        REQUIRE(weft_spawn(trivial, I2P(i), &h[i]) == 0);
    weft_gather_opts o = {.desc = "fast"};
    CHECK_EQ(weft_gather_ex(h, FAST_N, NULL, NULL, &o), 0);
    return NULL;
}

static void c_fast_gather(void *arg)
{
    CHECK_EQ(weft_run(t_fast_gather, arg, NULL), 0);
}

/* Exactly one line per tenth, each showing the count of its tenth. */
static void test_fast_tenths(const char *name, void (*fn)(void *))
{
    int failures0 = check_failures;
    char *out = log_run(name, fn, NULL, NULL);
    if (!out)
        return;
    char *copy = strdup(out);
    REQUIRE(copy);
    char *lines[MAX_LINES];
    int n = split_lines(name, out, lines, MAX_LINES);
    CHECK_EQ(n, 10);
    for (int i = 0; i < n && i < 10; i++) {
        vt_bar p;
        if (!log_line_ok(name, lines[i], "fast", &p))
            continue;
        if (p.n != (i + 1) * FAST_N / 10 || p.total != FAST_N) {
            fprintf(stderr, "%s: line %d shows %lld/%lld, expected %d/%d\n",
                    name, i + 1, p.n, p.total, (i + 1) * FAST_N / 10, FAST_N);
            check_failures++;
        }
    }
    if (check_failures > failures0)
        vt_dump_raw(copy, strlen(copy), stderr);
    free(copy);
    free(out);
}

/* ---- a gather's or a map's bar on a descriptor of the caller's ---- */

static void *item_id(void *arg)
{
    return arg;
}

/* Everything readable on fd (the write end closed), NUL-terminated. */
static char *slurp(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    REQUIRE(buf);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            REQUIRE(buf);
        }
    }
    buf[len] = '\0';
    return buf;
}

/* Checks that out holds the ten tenths of a bar of 10 named desc. */
static void expect_ten_lines(const char *name, char *out, const char *desc)
{
    char *lines[MAX_LINES];
    int n = split_lines(name, out, lines, MAX_LINES);
    CHECK_EQ(n, 10);
    for (int i = 0; i < n; i++) {
        vt_bar p;
        if (log_line_ok(name, lines[i], desc, &p))
            CHECK(p.n == i + 1 && p.total == 10);
    }
}

static void *t_gather_fd(void *arg)
{
    (void)arg;
    int p[2];
    REQUIRE(pipe(p) == 0);
    weft_task *h[10];
    for (int i = 0; i < 10; i++)
        REQUIRE(weft_spawn(trivial, I2P(i), &h[i]) == 0);
    /* A negative fd is refused before anything is consumed. */
    weft_gather_opts bad = {.desc = "bad", .fd = -1};
    CHECK_EQ(weft_gather_ex(h, 10, NULL, NULL, &bad), -EINVAL);
    void *res[10];
    int errs[10];
    CHECK_EQ(weft_map_ex(item_id, NULL, 10, 2, res, errs, &bad), -EINVAL);
    weft_gather_opts o = {.desc = "gather to fd", .fd = p[1]};
    CHECK_EQ(weft_gather_ex(h, 10, res, NULL, &o), 0);
    for (int i = 0; i < 10; i++)
        CHECK(res[i] == I2P(i));
    weft_gather_opts m = {.desc = "map to fd", .fd = p[1]};
    CHECK_EQ(weft_map_ex(item_id, NULL, 10, 3, res, errs, &m), 0);
    close(p[1]);
    char *out = slurp(p[0]);
    close(p[0]);
    /* The gather's ten lines, then the map's. */
    char *map = strstr(out, "map to fd");
    REQUIRE(map);
    char *gather_part = strndup(out, (size_t)(map - out));
    REQUIRE(gather_part);
    expect_ten_lines("gather with opts.fd", gather_part, "gather to fd");
    expect_ten_lines("map with opts.fd", map, "map to fd");
    free(gather_part);
    free(out);
    return NULL;
}

static void c_gather_fd(void *arg)
{
    CHECK_EQ(weft_run(t_gather_fd, arg, NULL), 0);
}

static void test_gather_fd(void)
{
    char *out = log_run("gather and map with opts.fd", c_gather_fd, NULL, NULL);
    if (out && out[0]) { /* nothing on stderr */
        fprintf(stderr, "gather and map with opts.fd: on stderr: %s\n", out);
        check_failures++;
    }
    free(out);
}

/* ------------------------------------------------------------ no total */

static void *t_seven(void *arg)
{
    weft_bar_opts o = {.total = *(double *)arg, .desc = "desc",
                       .mininterval = 0.001, .postfix = "p=1"};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 7; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.002), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void c_seven(void *arg)
{
    CHECK_EQ(weft_run(t_seven, arg, NULL), 0);
}

static void c_seven_plain(void *arg)
{
    weft_bar_opts o = {.total = *(double *)arg, .desc = "desc",
                       .mininterval = 0.001, .postfix = "p=1"};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 7; i++) {
        weft_bar_update(b, 1);
        usleep(2000);
    }
    CHECK_EQ(weft_bar_close(b), 0);
}

static void test_no_total(double total, void (*fn)(void *), const char *how)
{
    char name[80];
    snprintf(name, sizeof name, "no total (%g, %s)", total, how);
    char *out = log_run(name, fn, &total, NULL);
    if (!out)
        return;
    char *lines[MAX_LINES];
    int n = split_lines(name, out, lines, MAX_LINES);
    CHECK_EQ(n, 1);
    vt_bar p;
    if (n >= 1 && log_line_ok(name, lines[0], "desc", &p)) {
        CHECK(!p.has_total);
        CHECK_EQ(p.n, 7);
        CHECK(!strcmp(p.elapsed, "00:00"));
        CHECK(!strcmp(p.unit, "it/s"));
        CHECK(!strcmp(p.postfix, "p=1"));
        CHECK(!strncmp(lines[0], "desc: 7it [00:00, ", 18));
    }
    free(out);
}

/* opts NULL: no desc, unknown total. */
static void c_null_opts(void *arg)
{
    (void)arg;
    weft_bar *b;
    REQUIRE(weft_bar_new(NULL, &b) == 0);
    weft_bar_update(b, 2);
    weft_bar_update(b, 1);
    CHECK_EQ(weft_bar_count(b), 3);
    CHECK_EQ(weft_bar_close(b), 0);
}

static void test_null_opts(void)
{
    char *out = log_run("opts NULL", c_null_opts, NULL, NULL);
    if (!out)
        return;
    char *lines[MAX_LINES];
    int n = split_lines("opts NULL", out, lines, MAX_LINES);
    CHECK_EQ(n, 1);
    vt_bar p;
    if (n >= 1 && log_line_ok("opts NULL", lines[0], "", &p)) {
        CHECK(!p.has_desc);
        CHECK(!strncmp(lines[0], "3it [00:00, ", 12));
    }
    free(out);
}

/* ------------------------------------------------------------ closed pipe */

static int saved_err = -1; /* the child's real stderr, for its messages */

#define PCHECK(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            dprintf(saved_err, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                         \
            check_failures++;                                                 \
        }                                                                     \
    } while (0)

static void *t_closed(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 10, .desc = "closed", .mininterval = 0.001};
    weft_bar *b;
    PCHECK(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 10; i++) {
        weft_bar_update(b, 1);
        PCHECK(weft_sleep(0.002) == 0);
    }
    PCHECK(weft_bar_printf("in a loop %d", 1) == -EIO);
    PCHECK(weft_bar_count(b) == 10);
    PCHECK(weft_bar_close(b) == 0);
    return NULL;
}

static void c_closed(void *arg)
{
    (void)arg;
    saved_err = dup(2);
    int q[2];
    PCHECK(pipe(q) == 0);
    close(q[0]); /* nobody will ever read */
    PCHECK(dup2(q[1], 2) == 2);
    close(q[1]);
    sigset_t before, after, pending;
    pthread_sigmask(SIG_SETMASK, NULL, &before);

    PCHECK(weft_bar_write("lost") == -EIO);
    PCHECK(weft_bar_printf("lost %d", 2) == -EIO);
    for (int tty = 0; tty < 2; tty++) {
        /* log mode, then drawing as on a terminal (WEFT_PROGRESS=tty) */
        if (tty)
            setenv("WEFT_PROGRESS", "tty", 1);
        weft_bar_opts o = {.total = 10, .desc = "closed",
                           .mininterval = 0.001};
        weft_bar *b;
        PCHECK(weft_bar_new(&o, &b) == 0);
        for (int i = 0; i < 10; i++) {
            weft_bar_update(b, 1);
            usleep(1500);
        }
        PCHECK(weft_bar_refresh(b) == 0);
        PCHECK(weft_bar_write("lost too") == -EIO);
        PCHECK(weft_bar_count(b) == 10);
        PCHECK(weft_bar_close(b) == 0);
        PCHECK(weft_run(t_closed, NULL, NULL) == 0);
    }
    unsetenv("WEFT_PROGRESS");

    /* SIGPIPE: not delivered (we are alive), not left pending, not left
     * blocked */
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    PCHECK(sigismember(&after, SIGPIPE) == sigismember(&before, SIGPIPE));
    PCHECK(sigismember(&after, SIGPIPE) == 0);
    sigpending(&pending);
    PCHECK(sigismember(&pending, SIGPIPE) == 0);
    if (check_failures) {
        long live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
        dprintf(saved_err, "closed pipe: %d failures, %ld live\n",
                check_failures, live);
    }
    dup2(saved_err, 2); /* for child_main's own report */
    close(saved_err);
}

static void test_closed_pipe(void)
{
    char *out = log_run("closed pipe", c_closed, NULL, NULL);
    if (out)
        CHECK_EQ(strlen(out), 0);
    free(out);
}

/* ------------------------------------------------------------ arguments */

static void test_arguments(void)
{
    weft_bar *b = (weft_bar *)&b; /* not touched on error */
    weft_bar *keep = b;
    weft_bar_opts o;

    memset(&o, 0, sizeof o);
    CHECK_EQ(weft_bar_new(&o, NULL), -EINVAL);
    CHECK_EQ(weft_bar_new(NULL, NULL), -EINVAL);
    o.total = NAN;
    CHECK_EQ(weft_bar_new(&o, &b), -EINVAL);
    o.total = 10;
    o.mininterval = -0.5;
    CHECK_EQ(weft_bar_new(&o, &b), -EINVAL);
    o.mininterval = NAN;
    CHECK_EQ(weft_bar_new(&o, &b), -EINVAL);
    o.mininterval = 0;
    o.fd = -1;
    CHECK_EQ(weft_bar_new(&o, &b), -EINVAL);
    o.fd = 0;
    o.unit_divisor = -1024;
    CHECK_EQ(weft_bar_new(&o, &b), -EINVAL);
    CHECK(b == keep);

    weft_bar_update(NULL, 5); /* nothing */
    CHECK_EQ(weft_bar_count(NULL), 0);
    CHECK_EQ(weft_bar_close(NULL), -EINVAL);
    CHECK_EQ(weft_bar_refresh(NULL), -EINVAL);
    CHECK_EQ(weft_bar_set_desc(NULL, "x"), -EINVAL);
    CHECK_EQ(weft_bar_set_postfix(NULL, "x"), -EINVAL);
    CHECK_EQ(weft_bar_write(NULL), -EINVAL);
    int (*printf_)(const char *, ...) = weft_bar_printf;
    CHECK_EQ(printf_(NULL), -EINVAL);
    CHECK_EQ(__atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED), 0);
}

/* Infinite and negative totals are unknown; printing happens in a child. */
static void c_totals(void *arg)
{
    (void)arg;
    const double totals[] = {0, -5, INFINITY, -INFINITY};
    for (int i = 0; i < 4; i++) {
        weft_bar_opts o = {.total = totals[i], .desc = "t"};
        weft_bar *b;
        REQUIRE(weft_bar_new(&o, &b) == 0);
        weft_bar_update(b, (unsigned long long)i + 1);
        CHECK_EQ(weft_bar_close(b), 0);
    }
}

static void test_totals(void)
{
    char *out = log_run("odd totals", c_totals, NULL, NULL);
    if (!out)
        return;
    char *lines[MAX_LINES];
    int n = split_lines("odd totals", out, lines, MAX_LINES);
    CHECK_EQ(n, 4);
    for (int i = 0; i < n; i++) {
        vt_bar p;
        if (log_line_ok("odd totals", lines[i], "t", &p)) {
            CHECK(!p.has_total);
            CHECK_EQ(p.n, i + 1);
        }
    }
    free(out);
}

/* ------------------------------------------------------------ quiet */

static void *t_quiet(void *arg)
{
    weft_bar_opts o = {.total = 10, .desc = "quiet", .mininterval = 0.001,
                       .disable = arg != NULL};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 10; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.001), 0);
    }
    CHECK_EQ(weft_bar_refresh(b), 0);
    CHECK_EQ(weft_bar_count(b), 10);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void c_quiet(void *arg)
{
    CHECK_EQ(weft_run(t_quiet, arg, NULL), 0);
    /* and outside a loop */
    weft_bar_opts o = {.total = 10, .desc = "quiet", .mininterval = 0.001,
                       .disable = arg != NULL};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 10; i++) {
        weft_bar_update(b, 1);
        usleep(1500);
    }
    CHECK_EQ(weft_bar_count(b), 10);
    CHECK_EQ(weft_bar_close(b), 0);
}

static void test_quiet(void)
{
    char *out = log_run("disable=1", c_quiet, "yes", NULL);
    if (out)
        CHECK_EQ(strlen(out), 0);
    free(out);
    out = log_run("WEFT_PROGRESS=off", c_quiet, NULL,
                  (const char *const[]){"WEFT_PROGRESS=off", NULL});
    if (out)
        CHECK_EQ(strlen(out), 0);
    free(out);
}

/* WEFT_PROGRESS=tty on a pipe: drawn in place, "\r" and erase-line. */
static void test_forced_tty(void)
{
    char *out = log_run("WEFT_PROGRESS=tty", c_quiet, NULL,
                        (const char *const[]){"WEFT_PROGRESS=tty", NULL});
    if (out) {
        CHECK(strchr(out, '\r') != NULL);
        CHECK(strstr(out, "\x1b[K") != NULL);
        CHECK(strstr(out, "quiet: 100%|") != NULL);
    }
    free(out);
}

/* ------------------------------------------------------------ deadlock */

static void *t_stuck(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 10, .desc = "stuck", .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    weft_bar_update(b, 3);
    weft_event ev = WEFT_EVENT_INIT;
    weft_event_wait(&ev); /* nobody will set it */
    return NULL;          /* the bar is left open */
}

static void c_stuck(void *arg)
{
    (void)arg;
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_EQ(weft_run(t_stuck, NULL, NULL), -EDEADLK);
    clock_gettime(CLOCK_MONOTONIC, &z);
    double took = (double)(z.tv_sec - a.tv_sec) +
                  (double)(z.tv_nsec - a.tv_nsec) / 1e9;
    if (took > 0.5) {
        fprintf(stderr, "deadlock found after %.2f s\n", took);
        check_failures++;
    }
}

static void test_deadlock(void)
{
    char *out = log_run("deadlock with a bar", c_stuck, NULL, NULL);
    if (out) {
        CHECK(strstr(out, "deadlock") != NULL);
        /* closed with its loop: the final line */
        CHECK(strstr(out, "stuck:  30%|███       | 3/10 [") != NULL);
    }
    free(out);
}

/* ------------------------------------------------------------ threads */

typedef struct hammer {
    weft_bar *bar;
    long n;
    unsigned long long step;
} hammer;

static void *hammer_fn(void *arg)
{
    hammer *h = arg;
    for (long i = 0; i < h->n; i++)
        weft_bar_update(h->bar, h->step);
    return NULL;
}

#define HAMMERS 4

/* HAMMERS pthreads add while the owner adds too. */
static unsigned long long hammer_run(weft_bar *b, long n, bool yield)
{
    pthread_t th[HAMMERS];
    hammer h[HAMMERS];
    unsigned long long expect = 0;
    for (int i = 0; i < HAMMERS; i++) {
        h[i] = (hammer){b, n, (unsigned long long)i + 1};
        expect += (unsigned long long)n * h[i].step;
        REQUIRE(pthread_create(&th[i], NULL, hammer_fn, &h[i]) == 0);
    }
    for (long i = 0; i < n; i++) {
        weft_bar_update(b, 1);
        if (yield && i % 1000 == 0)
            CHECK_EQ(weft_yield(), 0);
    }
    expect += (unsigned long long)n;
    for (int i = 0; i < HAMMERS; i++)
        pthread_join(th[i], NULL);
    return expect;
}

static int devnull = -1;

static void *job_hammer(void *arg)
{
    hammer *h = arg;
    return hammer_fn(h);
}

static void *t_hammer(void *arg)
{
    long n = *(long *)arg;
    weft_bar_opts o = {.total = 1e9, .fd = devnull, .mininterval = 0.001};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    unsigned long long expect = hammer_run(b, n, true);
    CHECK_EQ(weft_bar_count(b), expect);
    /* and pool jobs */
    hammer h = {b, n, 3};
    weft_task *t[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(weft_spawn_blocking(job_hammer, &h, &t[i]) == 0);
    CHECK_EQ(weft_gather(t, 2, NULL, NULL, 0), 0);
    expect += 2 * 3 * (unsigned long long)n;
    CHECK_EQ(weft_bar_count(b), expect);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void test_threads(void)
{
    long n = check_scaled(check_slow_env() ? 20000 : 100000);
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    REQUIRE(devnull >= 0);
    check_allow_maps(4 * HAMMERS + 8); /* glibc's cached stacks, arenas */

    /* outside any loop: the owner's updates redraw inline meanwhile */
    weft_bar_opts o = {.total = 1e9, .fd = devnull, .mininterval = 0.001};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    unsigned long long expect = hammer_run(b, n, false);
    CHECK_EQ(weft_bar_count(b), expect);
    CHECK_EQ(weft_bar_close(b), 0);

    /* a bar with no total, and one disabled */
    for (int k = 0; k < 2; k++) {
        weft_bar_opts q = {.fd = devnull, .disable = k};
        REQUIRE(weft_bar_new(&q, &b) == 0);
        expect = hammer_run(b, n / 4, false);
        CHECK_EQ(weft_bar_count(b), expect);
        CHECK_EQ(weft_bar_close(b), 0);
    }

    /* inside a loop */
    CHECK_EQ(weft_run(t_hammer, &n, NULL), 0);
    close(devnull);
}

/* Cases that run a child function under a name. */
typedef struct named_child {
    const char *name;
    void (*fn)(void *);
} named_child;

static void case_tenths(void *arg)
{
    const named_child *c = arg;
    test_tenths(c->name, c->fn);
}

static void case_fast_tenths(void *arg)
{
    const named_child *c = arg;
    test_fast_tenths(c->name, c->fn);
}

static void case_no_total(void *arg)
{
    const named_child *c = arg;
    test_no_total(0, c->fn, c->name);
}

static const named_child tenths_loop = {"tenths in a loop", c_hundred_loop},
                         tenths_plain = {"tenths outside a loop",
                                         c_hundred_plain},
                         fast_loop = {"tenths of fast updates in a loop",
                                      c_fast_updates},
                         fast_plain = {"tenths of fast updates outside a loop",
                                       c_fast_plain},
                         fast_gather = {"tenths of a gather of fast tasks",
                                        c_fast_gather},
                         seven_loop = {"loop", c_seven},
                         seven_plain = {"plain", c_seven_plain};

static void case_gather_fd(void *arg)
{
    (void)arg;
    test_gather_fd();
}

static void case_null_opts(void *arg)
{
    (void)arg;
    test_null_opts();
}

static void case_closed_pipe(void *arg)
{
    (void)arg;
    test_closed_pipe();
}

static void case_arguments(void *arg)
{
    (void)arg;
    test_arguments();
}

static void case_totals(void *arg)
{
    (void)arg;
    test_totals();
}

static void case_quiet(void *arg)
{
    (void)arg;
    test_quiet();
}

static void case_forced_tty(void *arg)
{
    (void)arg;
    test_forced_tty();
}

static void case_deadlock(void *arg)
{
    (void)arg;
    test_deadlock();
}

static void case_threads(void *arg)
{
    (void)arg;
    test_threads();
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("tenths_in_a_loop", case_tenths, (void *)&tenths_loop),
    CHECK_PLAIN("tenths_outside_a_loop", case_tenths, (void *)&tenths_plain),
    CHECK_PLAIN("fast_tenths_in_a_loop", case_fast_tenths, (void *)&fast_loop),
    CHECK_PLAIN("fast_tenths_outside_a_loop", case_fast_tenths,
                (void *)&fast_plain),
    CHECK_PLAIN("fast_tenths_of_a_gather", case_fast_tenths,
                (void *)&fast_gather),
    CHECK_PLAIN("gather_fd", case_gather_fd, NULL),
    CHECK_PLAIN("no_total_in_a_loop", case_no_total, (void *)&seven_loop),
    CHECK_PLAIN("no_total_outside_a_loop", case_no_total, (void *)&seven_plain),
    CHECK_PLAIN("null_opts", case_null_opts, NULL),
    CHECK_PLAIN("closed_pipe", case_closed_pipe, NULL),
    CHECK_PLAIN("arguments", case_arguments, NULL),
    CHECK_PLAIN("totals", case_totals, NULL),
    CHECK_PLAIN("quiet", case_quiet, NULL),
    CHECK_PLAIN("forced_tty", case_forced_tty, NULL),
    CHECK_PLAIN("deadlock", case_deadlock, NULL),
    CHECK_PLAIN("threads", case_threads, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

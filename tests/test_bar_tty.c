/*
 * test_bar_tty.c - progress bars on a terminal, checked by what a person
 * would see.  Each case runs in a child whose stderr is the slave side of
 * a pseudo-terminal (80 columns unless said otherwise, output processing
 * off, so every byte arrives as written); the parent reads everything from
 * the master side until the child exits and feeds it to the terminal
 * emulator of vt.h (showing "\n" as a terminal with the usual ONLCR does),
 * which fails on any byte it does not expect (a raw escape sequence, a line
 * that would wrap).  Between redraws (each "frame") and at the end, the
 * screen's rows are compared with what must be there.
 *
 * It proves:
 * - a bar of total 5 updated 5 times ends as exactly one line
 *   "desc: 100%|█...█| 5/5 [00:00<00:00, N.NNit/s]", 80 columns wide, the
 *   cursor at the start of the next row; every redraw before that showed
 *   one correct line (percentage, eighth-block bar for n/total, width 80);
 * - the seed's "任务进行中..." takes 13 columns (15 with ": ") and the line is
 *   still exactly 80 columns;
 * - two bars keep one line each (A on the block's first line, B on the
 *   second) through many alternating updates, with weft_bar_write and
 *   weft_bar_printf lines in between: in every frame each bar shows on
 *   exactly one row, B right below A, nothing below B, the written lines
 *   above, in order, each once; at the end both final lines stay;
 * - a value the program prints on the same terminal between redraws lands
 *   on the row below the bar, and the next redraw below it, as under tqdm
 *   (the cursor rests at the end of the bar's line, never in column 0);
 * - weft_bar_update draws a due tick before it returns, as tqdm's update
 *   does: a value printed right after it comes below the line that counts
 *   it;
 * - the first update 1.05 s after creation, after the idle redraw at 1 s,
 *   is drawn at once with tqdm's rate, 1.05s/it (not 1.10s/it: an idle
 *   redraw does not restart mininterval);
 * - the stack overflow report, written from a signal handler, comes on
 *   the row below two open bars, which stay as last drawn;
 * - weft's own lines on stderr (here the report at loop close of a task
 *   that failed and was never awaited) are written above an open bar, which
 *   is then closed below them;
 * - no_leave erases the bar (the rows around it close up); leave keeps the
 *   final line with the average rate over the run (not the smoothed one);
 * - the width follows the terminal: after TIOCSWINSZ to 60 columns the next
 *   redraw is 60 columns wide;
 * - opts.ascii, LANG=C and LC_ALL=C give "#" and digits and no byte >= 0x80;
 * - total 0 (or negative) gives "desc: 7it [00:00, N.NNit/s]"; such a line
 *   longer than the terminal is cut at its width while drawn in place;
 * - control characters in desc and postfix (ESC, C1, DEL, TAB, invalid
 *   UTF-8) show as '?': the emulator would reject them raw;
 * - with no update for 2.5 s inside a loop, the elapsed time on screen
 *   still reaches 00:02 (the loop redraws the line);
 * - weft_bar_update from pool jobs counts exactly; weft_bar_printf from a
 *   pool job while the owner updates leaves the screen intact;
 * - a bar outside any loop redraws inline and ends right;
 * - weft_gather_ex / weft_map_ex with desc show a bar ticking to n/n, with
 *   results in submission order; a caller's bar (opts.bar) ticks and stays
 *   open; weft_gen_set_bar ticks once per value;
 * - WEFT_PROGRESS=off and opts.disable draw nothing; WEFT_PROGRESS=log and
 *   TERM=dumb on a terminal print whole lines, no "\r" and no escape.
 * Every child checks that no weft allocation is left when it is done.
 *
 * Each scenario is a row of one table (`scenarios`, at the end): its case
 * name, the task the child runs and its argument, the terminal's columns
 * and environment, the bars checked in every frame, and the final screen's
 * rows and bar lines.  One runner (run_scenario) does what every row needs;
 * what only one scenario checks is a hook of its row - a frame check with
 * state of its own, an `after` check of the run.  A case runs the rows of
 * its name (gather has two).
 */
#define _GNU_SOURCE
#include "check.h"

#include "alloc.h"
#include "vt.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ROWS 24
#define COLS 80
#define MAX_VALS 16

/* ------------------------------------------------------------ the pty */

static int result_fd = -1; /* in the child: numbers for the parent */

static void report(double v)
{
    ssize_t w = write(result_fd, &v, sizeof v);
    (void)w;
}

typedef struct run {
    char *out; /* everything the child wrote to the terminal */
    size_t len;
    double vals[MAX_VALS]; /* what it reported */
    int nvals;
    int status;
} run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void append(run *r, size_t *cap, const char *buf, size_t n)
{
    if (r->len + n + 1 > *cap) {
        while (r->len + n + 1 > *cap)
            *cap *= 2;
        r->out = realloc(r->out, *cap);
        REQUIRE(r->out);
    }
    memcpy(r->out + r->len, buf, n);
    r->len += n;
    r->out[r->len] = '\0';
}

/* Runs fn(arg) in a child whose stderr is a terminal of `cols` columns,
 * with LANG=C.UTF-8, TERM=xterm and no WEFT_PROGRESS, then the settings of
 * env ("NAME=value", or "NAME" to unset; NULL-terminated, may be NULL). */
static void pty_run(void (*fn)(void *), void *arg, int cols,
                    const char *const *env, run *r)
{
    memset(r, 0, sizeof *r);
    int master, slave, res[2];
    struct winsize ws = {.ws_row = ROWS, .ws_col = (unsigned short)cols};
    REQUIRE(openpty(&master, &slave, NULL, NULL, &ws) == 0);
    struct termios tio;
    REQUIRE(tcgetattr(slave, &tio) == 0);
    tio.c_oflag &= ~(tcflag_t)OPOST; /* the bytes as written */
    REQUIRE(tcsetattr(slave, TCSANOW, &tio) == 0);
    REQUIRE(pipe(res) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        check_failures = 0; /* the child's own verdict */
        close(master);
        close(res[0]);
        result_fd = res[1];
        dup2(slave, 2);
        if (slave != 2)
            close(slave);
        setenv("LANG", "C.UTF-8", 1);
        setenv("TERM", "xterm", 1);
        unsetenv("LC_ALL");
        unsetenv("LC_CTYPE");
        unsetenv("WEFT_PROGRESS");
        for (const char *const *e = env; e && *e; e++) {
            const char *eq = strchr(*e, '=');
            if (!eq) {
                unsetenv(*e);
            } else {
                char name[64];
                snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
                setenv(name, eq + 1, 1);
            }
        }
        fn(arg);
        long live = __atomic_load_n(&weft__alloc_live, __ATOMIC_RELAXED);
        if (live) {
            fprintf(stderr, "leak: %ld weft allocations live\n", live);
            check_failures++;
        }
        _exit(check_failures ? 1 : 0);
    }
    close(res[1]);
    size_t cap = 1 << 16;
    r->out = malloc(cap);
    REQUIRE(r->out);
    r->out[0] = '\0';
    char buf[4096];
    double deadline = now_s() + (check_slow_env() ? 120 : 40);
    bool exited = false;
    /* The parent keeps the slave open: reads never see EIO, and whatever
     * is still buffered when the child exits is drained below. */
    for (;;) {
        struct pollfd p = {master, POLLIN, 0};
        int pr = poll(&p, 1, exited ? 0 : 20);
        if (pr > 0 && (p.revents & POLLIN)) {
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) {
                append(r, &cap, buf, (size_t)n);
                continue;
            }
        }
        if (exited)
            break;
        if (waitpid(pid, &r->status, WNOHANG) == pid) {
            exited = true;
            continue;
        }
        if (now_s() > deadline) {
            fprintf(stderr, "child hangs: killed\n");
            kill(pid, SIGKILL);
            waitpid(pid, &r->status, 0);
            break;
        }
    }
    ssize_t n;
    while (r->nvals < MAX_VALS &&
           (n = read(res[0], &r->vals[r->nvals], sizeof(double))) ==
               (ssize_t)sizeof(double))
        r->nvals++;
    close(res[0]);
    close(master);
    close(slave);
}

/* ------------------------------------------------------------ screens */

static vt V; /* the emulator (large: not on the stack) */
/* The next screen_of wraps at the right margin as terminals do (vt.h's
 * autowrap) instead of failing there. */
static int autowrap_next;
static const char *case_name;
static int frame_failures;

/* A failure inside a frame: reported with the screen, the first few only. */
static void frame_fail(vt *t, const char *fmt, ...)
{
    check_failures++;
    if (frame_failures++ >= 3)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: frame %zu: ", case_name, t->frames);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    vt_dump(t, stderr);
}

static int expected_pct(long long n, long long total)
{
    char s[16];
    snprintf(s, sizeof s, "%3.0f", (double)n / (double)total * 100);
    return atoi(s);
}

/* Is `line` a correct bar line for desc: the percentage and the bar agree
 * with n/total, and the line is `width` columns (0: any)?  Fills *p. */
static bool bar_ok(const char *line, const char *desc, int width, int ascii,
                   vt_bar *p, char *why, size_t cap)
{
    if (!vt_parse_bar(line, p)) {
        snprintf(why, cap, "not a tqdm line: \"%s\"", line);
        return false;
    }
    if (strcmp(p->desc, desc)) {
        snprintf(why, cap, "desc \"%s\", expected \"%s\"", p->desc, desc);
        return false;
    }
    int w = vt_str_width(line);
    if (width && w != width) {
        snprintf(why, cap, "%d columns wide, expected %d: \"%s\"", w, width,
                 line);
        return false;
    }
    if (p->has_total) {
        if (p->n < 0 || p->n > p->total) {
            snprintf(why, cap, "n %lld out of 0..%lld", p->n, p->total);
            return false;
        }
        if (p->pct != expected_pct(p->n, p->total)) {
            snprintf(why, cap, "%d%% for %lld/%lld", p->pct, p->n, p->total);
            return false;
        }
        char want[VT_LINE_MAX];
        vt_expected_bar(p->n, p->total, p->bar_cols, ascii, want, sizeof want);
        if (strcmp(p->bar, want)) {
            snprintf(why, cap,
                     "bar \"%.300s\" for %lld/%lld, expected \"%.300s\"",
                     p->bar, p->n, p->total, want);
            return false;
        }
    }
    return true;
}

/* Rows whose text starts with prefix: how many, and the last one. */
static int rows_with(const vt *t, const char *prefix, int *row)
{
    char line[VT_LINE_MAX];
    int count = 0;
    for (int r = 0; r < t->rows; r++) {
        vt_row(t, r, line, sizeof line);
        if (!strncmp(line, prefix, strlen(prefix))) {
            count++;
            if (row)
                *row = r;
        }
    }
    return count;
}

/* Feeds a child's output to a fresh emulator; on_frame may be NULL.
 * Returns true if the child passed and the output was all understood. */
static bool screen_of(const char *name, run *r, int cols,
                      void (*on_frame)(vt *, void *), void *ctx)
{
    case_name = name;
    frame_failures = 0;
    vt_free(&V);
    vt_init(&V, ROWS, cols);
    V.onlcr = 1; /* the pty passes bytes as written; show "\n" as a
                  * terminal does by default (ONLCR) */
    V.on_frame = on_frame;
    V.ctx = ctx;
    V.autowrap = autowrap_next;
    autowrap_next = 0;
    vt_feed(&V, r->out, r->len);
    vt_finish(&V);
    bool ok = true;
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0) {
        fprintf(stderr, "%s: child failed (status 0x%x)\n", name, r->status);
        check_failures++;
        ok = false;
    }
    if (V.err[0]) {
        fprintf(stderr, "%s: terminal: %s\n", name, V.err);
        check_failures++;
        ok = false;
    }
    if (!ok || frame_failures) {
        vt_dump_raw(r->out, r->len, stderr);
        vt_dump(&V, stderr);
    }
    return ok;
}

static void row_text(int r, char *line)
{
    vt_row(&V, r, line, VT_LINE_MAX);
}

/* The final screen: rows[0..n) as given (NULL: a bar line checked by the
 * caller), the cursor at the start of row n, everything below blank. */
static void expect_rows_then_cursor(const char *const *rows, int n)
{
    char line[VT_LINE_MAX];
    for (int r = 0; r < n; r++) {
        row_text(r, line);
        if (rows[r] && strcmp(line, rows[r])) {
            fprintf(stderr, "%s: row %d is \"%s\", expected \"%s\"\n",
                    case_name, r, line, rows[r]);
            check_failures++;
        }
    }
    for (int r = n; r < V.rows; r++)
        if (!vt_row_blank(&V, r)) {
            row_text(r, line);
            fprintf(stderr, "%s: row %d should be blank: \"%s\"\n", case_name,
                    r, line);
            check_failures++;
        }
    if (V.row != n || V.col != 0) {
        fprintf(stderr, "%s: cursor at %d,%d, expected %d,0\n", case_name,
                V.row, V.col, n);
        check_failures++;
    }
    CHECK_EQ(V.nhistory, 0);
}

/* Checks row r is a correct final bar line: n/total, width, 100%. */
static void expect_final(int r, const char *desc, long long n, long long total,
                         int width, int ascii, vt_bar *p)
{
    char line[VT_LINE_MAX], why[VT_LINE_MAX + 200];
    vt_bar tmp;
    if (!p)
        p = &tmp;
    row_text(r, line);
    if (!bar_ok(line, desc, width, ascii, p, why, sizeof why)) {
        fprintf(stderr, "%s: row %d: %s\n", case_name, r, why);
        check_failures++;
        return;
    }
    CHECK_EQ(p->n, n);
    if (total > 0) {
        CHECK(p->has_total);
        CHECK_EQ(p->total, total);
        CHECK_EQ(p->pct, expected_pct(n, total));
        if (n == total)
            CHECK(!strcmp(p->remaining, "00:00"));
    } else {
        CHECK(!p->has_total);
    }
    CHECK(!strcmp(p->unit, "it/s") || !strcmp(p->unit, "s/it"));
    CHECK(p->rate > 0);
}

/* ---- a generic frame check: the bars named show on one row each, all
 * correct, counts never going back; other non-blank rows are allowed when
 * they start with `text_prefix`. */

#define MAX_BARS 4

/* The bars check_frame follows, as a scenario's row names them. */
typedef struct bars_spec {
    const char *desc[MAX_BARS]; /* NULL after the last */
    int width;                  /* of lines with a total; 0: any */
    int ascii;
    const char *text_prefix; /* other rows allowed; NULL: none */
} bars_spec;

typedef struct frames {
    const char *desc[MAX_BARS];
    int nbars;
    int width; /* of lines with a total; 0: any */
    int ascii;
    const char *text_prefix; /* other rows allowed; NULL: none */
    long long last_n[MAX_BARS];
    bool seen_n[MAX_BARS][64];
    int max_elapsed[MAX_BARS]; /* seconds */
    size_t frames;
} frames;

static void frames_init(frames *f, const bars_spec *b)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < MAX_BARS && b->desc[i]; i++)
        f->desc[f->nbars++] = b->desc[i];
    f->width = b->width;
    f->ascii = b->ascii;
    f->text_prefix = b->text_prefix;
}

static int elapsed_s(const char *s)
{
    int m = 0, sec = 0;
    sscanf(s, "%d:%d", &m, &sec);
    return m * 60 + sec;
}

static void check_frame(vt *t, void *ctx)
{
    frames *f = ctx;
    char line[VT_LINE_MAX], why[VT_LINE_MAX + 200];
    int count[MAX_BARS] = {0};
    f->frames++;
    for (int r = 0; r < t->rows; r++) {
        vt_row(t, r, line, sizeof line);
        if (!line[0])
            continue;
        int k = -1;
        for (int i = 0; i < f->nbars; i++) {
            size_t dl = strlen(f->desc[i]);
            if (!strncmp(line, f->desc[i], dl) &&
                (!dl || !strncmp(line + dl, ": ", 2)))
                k = i;
        }
        if (k < 0) {
            if (!f->text_prefix ||
                strncmp(line, f->text_prefix, strlen(f->text_prefix)))
                frame_fail(t, "unexpected row %d: \"%s\"", r, line);
            continue;
        }
        vt_bar p;
        if (!bar_ok(line, f->desc[k], f->width, f->ascii, &p, why,
                    sizeof why)) {
            frame_fail(t, "row %d: %s", r, why);
            continue;
        }
        count[k]++;
        if (p.n < f->last_n[k])
            frame_fail(t, "%s went back from %lld to %lld", f->desc[k],
                       f->last_n[k], p.n);
        f->last_n[k] = p.n;
        if (p.n >= 0 && p.n < 64)
            f->seen_n[k][p.n] = true;
        int e = elapsed_s(p.elapsed);
        if (e > f->max_elapsed[k])
            f->max_elapsed[k] = e;
    }
    for (int i = 0; i < f->nbars; i++)
        if (count[i] > 1)
            frame_fail(t, "%s shows on %d rows", f->desc[i], count[i]);
}

/* ------------------------------------------------------------ scenarios */

/* Every scenario runs a child under the pty, feeds its output to the
 * emulator with a frame check and compares the final screen with what must
 * be there: that is done here once, for the rows of `scenarios`. */

/* A bar line of the final screen, as expect_final checks it. */
typedef struct final_line {
    int row;
    const char *desc;
    long long n, total; /* total 0: a line without one */
    int width;          /* 0: any */
} final_line;

#define MAX_FINALS 4

typedef struct scene scene;

typedef struct scenario {
    const char *name;      /* the case's: build/tests/test_bar_tty NAME */
    const char *title;     /* what its failures are reported as */
    weft_fn task;          /* run in a loop by the child (run_task), or */
    void (*child)(void *); /* the child itself (it starts no loop) */
    void *arg;
    int cols;               /* of the terminal; 0: COLS */
    const char *const *env; /* set in the child (pty_run) */
    int autowrap;           /* the emulator wraps at the margin (vt.h) */
    bars_spec bars;         /* followed in every frame, if any */
    void (*on_frame)(vt *, scene *); /* a frame check of its own */
    void *state; /* the state of its hooks, zeroed before the run */
    size_t state_size;
    /* The final screen: rows[0..nrows) (BAR_ROW: a bar line checked
     * by finals or a hook), then the cursor, then blank rows; rows NULL:
     * not checked. */
    const char *const *rows;
    int nrows;
    final_line finals[MAX_FINALS]; /* desc NULL after the last */
    int seen;                      /* bar 0 showed every count 0..seen-1 */
    size_t min_frames;             /* redrawn at least this often */
    void (*after)(scene *);        /* its own checks of the run */
    /* `after` runs only on a screen that was understood, unless this is
     * set: its checks need no child (the test's own strings) or look at
     * whatever the child left. */
    bool after_always;
} scenario;

/* A scenario being run: what its hooks see. */
struct scene {
    const scenario *s;
    run r;
    bool ok;                /* the child passed, its output understood */
    frames f;               /* what check_frame saw */
    vt_bar fin[MAX_FINALS]; /* the final bar lines, parsed */
};

/* Left as written: formatted, a list in a macro breaks over lines. */
/* clang-format off */
/* For the rows of the table: the final screen's rows (SCREEN, with BAR_ROW
 * for a bar line), a screen left blank, the child's environment (pty_run's
 * "NAME=value" or "NAME"), the state of the row's hooks. */
#define BAR_ROW NULL
#define SCREEN(...)                                                            \
    .rows = (const char *const[]){__VA_ARGS__},                                \
    .nrows = (int)(sizeof((const char *const[]){__VA_ARGS__}) /                \
                   sizeof(const char *))
#define BLANK_SCREEN .rows = (const char *const[]){NULL}, .nrows = 0
#define ENV(...) .env = (const char *const[]){__VA_ARGS__, NULL}
#define STATE(type) .state = &(type){0}, .state_size = sizeof(type)
/* clang-format on */

/* The child of a row with a task: the task as the main task of a loop,
 * which must return 0 and leave no weft allocation live. */
static void run_task(void *arg)
{
    const scenario *s = arg;
    check_run_clean(s->task, s->arg);
}

/* The emulator's frame callback: the row's own check, or the generic one. */
static void scene_frame(vt *t, void *ctx)
{
    scene *sc = ctx;
    if (sc->s->on_frame)
        sc->s->on_frame(t, sc);
    else
        check_frame(t, &sc->f);
}

/* Bar 0 showed every count 0..seen-1 and there were enough frames. */
static void expect_frames(const scene *sc)
{
    const scenario *s = sc->s;
    for (int n = 0; n < s->seen; n++)
        if (!sc->f.seen_n[0][n]) {
            fprintf(stderr, "%s: %s never showed %d\n", case_name,
                    s->bars.desc[0], n);
            check_failures++;
        }
    if (sc->f.frames < s->min_frames) {
        fprintf(stderr, "%s: %zu frames, expected at least %zu\n", case_name,
                sc->f.frames, s->min_frames);
        check_failures++;
    }
}

/* The final screen the row describes. */
static void expect_screen(scene *sc)
{
    const scenario *s = sc->s;
    if (s->rows)
        expect_rows_then_cursor(s->rows, s->nrows);
    for (int i = 0; i < MAX_FINALS && s->finals[i].desc; i++) {
        const final_line *l = &s->finals[i];
        expect_final(l->row, l->desc, l->n, l->total, l->width, s->bars.ascii,
                     &sc->fin[i]);
    }
    expect_frames(sc);
}

static void run_scenario(const scenario *s)
{
    scene sc;
    memset(&sc, 0, sizeof sc);
    sc.s = s;
    if (s->state)
        memset(s->state, 0, s->state_size);
    frames_init(&sc.f, &s->bars);
    int cols = s->cols ? s->cols : COLS;
    if (s->task)
        pty_run(run_task, (void *)s, cols, s->env, &sc.r);
    else
        pty_run(s->child, s->arg, cols, s->env, &sc.r);
    /* No frame callback where nothing is checked per frame. */
    bool per_frame = s->on_frame || s->bars.desc[0];
    autowrap_next = s->autowrap;
    sc.ok =
        screen_of(s->title, &sc.r, cols, per_frame ? scene_frame : NULL, &sc);
    if (sc.ok)
        expect_screen(&sc);
    if (s->after && (sc.ok || s->after_always))
        s->after(&sc);
    free(sc.r.out);
}

/* ------------------------------------------------------------ cases */

/* Each scenario is its task (what the child draws) and, where its checks
 * are more than rows and bar lines, its hooks; the table at the end says
 * how they run and what the screen must show. */

/* ---- one bar, total 5, updated 5 times ---- */

static void *t_five(void *arg)
{
    weft_bar_opts o = {.total = 5, .desc = arg, .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(weft_sleep(0.015), 0);
        weft_bar_update(b, 1);
    }
    CHECK_EQ(weft_bar_count(b), 5);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void single_after(scene *sc)
{
    const vt_bar *p = &sc->fin[0];
    CHECK(!strcmp(p->elapsed, "00:00"));
    /* the bar is full: 80 - the text around it, all full blocks */
    CHECK(p->bar_cols >= 30);
    char want[VT_LINE_MAX];
    vt_expected_bar(5, 5, p->bar_cols, 0, want, sizeof want);
    CHECK(!strcmp(p->bar, want));
    CHECK(strstr(p->bar, " ") == NULL);
}

#define CJK_DESC "任务进行中..."

/* Runs on any screen (after_always): the widths are the test's own
 * premise, and the cells were always checked. */
static void cjk_after(scene *sc)
{
    CHECK_EQ(vt_str_width(CJK_DESC), 13);
    CHECK_EQ(vt_str_width(CJK_DESC ": "), 15);
    if (sc->ok)
        single_after(sc);
    /* On the screen: five wide characters, "...: ", then "100%|" from
     * column 15 on, and "]" in the last column. */
    CHECK(!strcmp(V.cell[0][0].ch, "任") && V.cell[0][0].half == 1);
    CHECK(V.cell[0][1].half == 2);
    CHECK(!strcmp(V.cell[0][8].ch, "中"));
    CHECK(!strcmp(V.cell[0][10].ch, ".") && !strcmp(V.cell[0][12].ch, "."));
    CHECK(!strcmp(V.cell[0][13].ch, ":"));
    CHECK(!strcmp(V.cell[0][15].ch, "1") && !strcmp(V.cell[0][18].ch, "%") &&
          !strcmp(V.cell[0][19].ch, "|"));
    CHECK(!strcmp(V.cell[0][COLS - 1].ch, "]"));
}

/* ---- two bars and lines written above them ---- */

#define TWO_STEPS 120
#define TWO_MSGS 8 /* i % 15 == 7 for i < TWO_STEPS */

static void *t_two(void *arg)
{
    (void)arg;
    weft_bar_opts oa = {.total = TWO_STEPS, .desc = "A", .mininterval = 0.001};
    weft_bar_opts ob = {.total = TWO_STEPS, .desc = "B", .mininterval = 0.001};
    weft_bar *a, *b;
    REQUIRE(weft_bar_new(&oa, &a) == 0);
    REQUIRE(weft_bar_new(&ob, &b) == 0);
    int msg = 0;
    for (int i = 0; i < TWO_STEPS; i++) {
        weft_bar_update(a, 1);
        CHECK_EQ(weft_sleep(0.0005), 0);
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.0005), 0);
        if (i % 15 == 7) {
            if (msg % 2)
                CHECK_EQ(weft_bar_printf("message %d", msg), 0);
            else {
                char s[32];
                snprintf(s, sizeof s, "message %d\n", msg);
                CHECK_EQ(weft_bar_write(s), 0);
            }
            msg++;
        }
    }
    CHECK_EQ(weft_bar_close(a), 0);
    CHECK_EQ(weft_bar_close(b), 0);
    report(msg);
    return NULL;
}

typedef struct two_ctx {
    bool b_seen;      /* B was created */
    int msgs;         /* messages seen (the highest index + 1) */
    size_t both_open; /* frames with both bars open */
} two_ctx;

static void two_frame(vt *t, scene *sc)
{
    two_ctx *c = sc->s->state;
    check_frame(t, &sc->f);
    char line[VT_LINE_MAX];
    int ra = -1, rb = -1;
    int na = rows_with(t, "A: ", &ra), nb = rows_with(t, "B: ", &rb);
    if (na == 0 && nb == 0 && !c->b_seen)
        return; /* nothing drawn yet */
    if (na == 1 && nb == 0 && !c->b_seen) {
        if (t->row != ra)
            frame_fail(t, "cursor at %d,%d, bar A on row %d", t->row, t->col,
                       ra);
        return; /* before B was created */
    }
    c->b_seen = true;
    if (na != 1 || nb != 1) {
        frame_fail(t, "A on %d rows, B on %d rows", na, nb);
        return;
    }
    if (rb == ra + 1 && t->row == ra) {
        c->both_open++; /* the block: A, then B; the cursor on A */
    } else if (rb == ra + 2 && vt_row_blank(t, ra + 1) && t->row == ra + 1) {
        /* A closed: its final line above, B still on the block's second
         * line */
    } else if (rb == ra + 1 && t->row == rb + 1) {
        /* both closed */
    } else {
        frame_fail(t, "A on row %d, B on row %d, cursor on row %d", ra, rb,
                   t->row);
    }
    for (int r = rb + 1; r < t->rows; r++)
        if (!vt_row_blank(t, r))
            frame_fail(t, "row %d below the bars is not blank", r);
    /* the messages: above the bars, in order, each once (history too) */
    int expect = 0;
    for (size_t i = 0; i < t->nhistory; i++)
        if (!strncmp(t->history[i], "message ", 8)) {
            if (atoi(t->history[i] + 8) != expect)
                frame_fail(t, "history: \"%s\", expected message %d",
                           t->history[i], expect);
            expect++;
        }
    for (int r = 0; r < t->rows; r++) {
        vt_row(t, r, line, sizeof line);
        if (strncmp(line, "message ", 8))
            continue;
        if (r > ra)
            frame_fail(t, "\"%s\" below bar A", line);
        if (atoi(line + 8) != expect)
            frame_fail(t, "row %d: \"%s\", expected message %d", r, line,
                       expect);
        expect++;
    }
    if (expect < c->msgs)
        frame_fail(t, "message %d vanished", c->msgs - 1);
    c->msgs = expect;
}

static void two_after(scene *sc)
{
    const two_ctx *c = sc->s->state;
    REQUIRE(sc->r.nvals == 1);
    int msgs = (int)sc->r.vals[0];
    REQUIRE(msgs == TWO_MSGS); /* the rows of the table */
    /* many frames with both bars moving */
    CHECK(c->both_open >= 20);
}

/* ---- no_leave, and leave with the average rate ---- */

static void *t_no_leave(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_bar_write("text: before"), 0);
    weft_bar_opts o = {
        .total = 10, .desc = "gone", .no_leave = 1, .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 10; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.012), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
    CHECK_EQ(weft_bar_write("text: after"), 0);
    return NULL;
}

/* The bar was there (it left no trace: the table's rows). */
static void no_leave_after(scene *sc)
{
    CHECK(sc->f.seen_n[0][0] && sc->f.seen_n[0][10]);
}

/* ---- the program prints while a bar is drawn ---- */

/* tqdm leaves the cursor at the end of its full-width line, so a value the
 * program prints (Python's print, here a write to the same terminal) starts
 * on the next row and the next redraw comes below it: the screen reads bar,
 * value, bar, value, final line.  A cursor left in column 0 would let the
 * value overwrite the bar's first cells. */
static void *t_print(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 5, .desc = "print"};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 1; i <= 2; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_bar_refresh(b), 0);
        char s[8];
        int n = snprintf(s, sizeof s, "%d\n", i);
        CHECK_EQ(write(2, s, (size_t)n), n); /* print(i) */
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

/* ---- the tick is drawn by the update, before the code goes on ---- */

/* The seed's pattern: pbar.update(1), then the value is printed.  tqdm's
 * update draws the tick before it returns, so the value comes below the
 * line that counts it; a redraw left to a later loop turn would put it
 * below the previous count. */
static void *t_order(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 5, .desc = "order"};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 1; i <= 3; i++) {
        CHECK_EQ(weft_sleep(0.15), 0); /* more than mininterval */
        weft_bar_update(b, 1);
        char s[8];
        int n = snprintf(s, sizeof s, "%d\n", i);
        CHECK_EQ(write(2, s, (size_t)n), n); /* print(value), at once */
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

/* ---- the first rate after an idle second is tqdm's ---- */

/* The update comes 1.05 s after the bar was created, after the idle redraw
 * of the clock at 1 s.  tqdm draws it at once with the rate over those
 * 1.05 s ("1.05s/it"): the idle redraw does not count as the last redraw
 * for progress, so mininterval has long passed. */
typedef struct first_rate {
    double rate;
    char unit[32];
} first_rate;

static void *t_first_rate(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 5, .desc = "first"};
    weft_bar *b;
    double t0 = now_s();
    REQUIRE(weft_bar_new(&o, &b) == 0);
    CHECK_EQ(weft_sleep(1.05), 0);
    weft_bar_update(b, 1);
    report(now_s() - t0);
    CHECK_EQ(weft_sleep(0.05), 0);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

/* Keeps the rate of the first line that shows 1/5. */
static void first_rate_frame(vt *t, scene *sc)
{
    first_rate *f = sc->s->state;
    char line[VT_LINE_MAX];
    for (int r = 0; r < t->rows && !f->unit[0]; r++) {
        vt_bar p;
        vt_row(t, r, line, sizeof line);
        if (vt_parse_bar(line, &p) && p.n == 1) {
            f->rate = p.rate;
            snprintf(f->unit, sizeof f->unit, "%s", p.unit);
        }
    }
}

static void first_rate_after(scene *sc)
{
    const first_rate *f = sc->s->state;
    REQUIRE(sc->r.nvals == 1);
    double took = sc->r.vals[0]; /* creation to update, measured outside */
    if (strcmp(f->unit, "s/it") || f->rate < 1.04 || f->rate > took + 0.011) {
        fprintf(stderr,
                "%s: 1/5 first drawn at %.2f%s, expected %.2fs/it or a "
                "little less\n",
                case_name, f->rate, f->unit, took);
        check_failures++;
    }
}

/* ---- weft's own lines on stderr go above the bars ---- */

static void *t_failing(void *arg)
{
    (void)arg;
    return weft_fail(-EIO, "fire");
}

/* A bar left open, and a task that failed and was never awaited: at loop
 * close the report is written above the bar (through the bar writer), then
 * the bar is closed below it. */
static void *t_report(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 3, .desc = "rep"};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    weft_bar_update(b, 1);
    weft_task *t; /* never awaited */
    REQUIRE(weft_spawn(t_failing, NULL, &t) == 0);
    CHECK_EQ(weft_sleep(0.01), 0);
    CHECK_EQ(weft_bar_refresh(b), 0);
    return NULL; /* the bar is closed with the loop */
}

#define REPORT_COLS 180 /* the report fits on one row */

static void report_after(scene *sc)
{
    (void)sc;
    char line[VT_LINE_MAX];
    row_text(0, line);
    if (strncmp(line, "weft: task #", 12) || !strstr(line, "never awaited") ||
        !strstr(line, ": fire")) {
        fprintf(stderr, "%s: row 0 is \"%s\", expected the report\n", case_name,
                line);
        check_failures++;
    }
}

/* ---- the stack overflow report, from a signal handler, below the bars ---- */

/* Recurses 1 KiB per frame until it runs into the guard page (the bound
 * is never reached: 1 GiB of frames). */
static __attribute__((noinline)) int dive(int depth)
{
    char pad[1024];
    memset(pad, depth, sizeof pad);
    __asm__ volatile("" : : "r"(pad) : "memory");
    if (depth > (1 << 20))
        return pad[0];
    return dive(depth + 1) + pad[0];
}

static void *t_diver(void *arg)
{
    (void)arg;
    return I2P(dive(0));
}

/* Two bars drawn, then a task overflows its stack. */
static void *t_overflow(void *arg)
{
    (void)arg;
    weft_bar_opts oa = {.total = 10, .desc = "A"},
                  ob = {.total = 10, .desc = "B"};
    weft_bar *a, *b;
    REQUIRE(weft_bar_new(&oa, &a) == 0);
    REQUIRE(weft_bar_new(&ob, &b) == 0);
    weft_bar_update(a, 3);
    weft_bar_update(b, 5);
    CHECK_EQ(weft_bar_refresh(a), 0);
    CHECK_EQ(weft_bar_refresh(b), 0);
    weft_spawn_opts o = {.name = "diver", .stack_size = WEFT_STACK_MIN};
    weft_task *t;
    REQUIRE(weft_spawn_ex(t_diver, NULL, &o, &t) == 0);
    weft_await(t, NULL); /* never returns: the process aborts */
    return NULL;
}

/* The child forks the program that aborts (its stderr is the same
 * terminal) and passes if it died of the report's abort. */
static void c_overflow(void *arg)
{
    (void)arg;
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        weft_run(t_overflow, NULL, NULL);
        _exit(3); /* survived: the parent's check fails */
    }
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

/* The handler cannot take the bars' lock: it moves below the block, and the
 * bars stay as last drawn above the report. */
static void overflow_after(scene *sc)
{
    (void)sc;
    static const char head[] = "weft: stack overflow in task 'diver' #";
    char line[VT_LINE_MAX], next[VT_LINE_MAX], last[VT_LINE_MAX];
    row_text(2, line);
    row_text(3, next);
    row_text(4, last);
    /* Under qemu-user the emulator says the program aborted, next. */
    if (strncmp(line, head, sizeof head - 1) ||
        !strstr(next, "weft_spawn_opts.stack_size") ||
        (last[0] && strncmp(last, "qemu: ", 6))) {
        fprintf(stderr,
                "%s: rows 2-4 are \"%s\", \"%s\", \"%s\", expected the "
                "report on rows 2 and 3\n",
                case_name, line, next, last);
        check_failures++;
    }
}

/* ---- a task dump while two bars are drawn ---- */

static void *t_dump(void *arg)
{
    (void)arg;
    weft_bar_opts oa = {.total = 10, .desc = "A"},
                  ob = {.total = 10, .desc = "B"};
    weft_bar *a, *b;
    REQUIRE(weft_bar_new(&oa, &a) == 0);
    REQUIRE(weft_bar_new(&ob, &b) == 0);
    weft_bar_update(a, 3);
    weft_bar_update(b, 5);
    weft_bar_refresh(a);
    weft_bar_refresh(b);
    CHECK_EQ(weft_dump_tasks(2), 1);
    CHECK_EQ(weft_bar_close(a), 0);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* The dump is written where the bars were, whole lines with nothing of
 * the bars left in them, and the bars carry on below it. */
static void dump_after(scene *sc)
{
    (void)sc;
    char line[VT_LINE_MAX];
    row_text(0, line);
    CHECK(!strncmp(line, "weft: 1 task on loop ", 21) && ends_with(line, "):"));
    row_text(1, line);
    CHECK(!strncmp(line, "task 'main' (#1) ", 17) &&
          ends_with(line, ": running (it asked for this dump)"));
    row_text(2, line);
    CHECK(!strncmp(line, "A: 100%", 7) || !strncmp(line, "A:  30%", 7));
    row_text(3, line);
    CHECK(!strncmp(line, "B:  50%", 7));
}

#define AVG_FAST 9

static void *t_average(void *arg)
{
    (void)arg;
    /* The bar's clock starts inside weft_bar_new and stops inside
     * weft_bar_close (the first bar of a process may take milliseconds to
     * create): the average lies between these bounds. */
    double before_new = weft_now();
    weft_bar_opts o = {.total = 10, .desc = "avg", .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    double after_new = weft_now();
    for (int i = 0; i < AVG_FAST; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.011), 0);
    }
    CHECK_EQ(weft_sleep(0.5), 0);
    weft_bar_update(b, 1);
    CHECK_EQ(weft_sleep(0.02), 0); /* a redraw with the smoothed rate */
    double before_close = weft_now();
    CHECK_EQ(weft_bar_close(b), 0);
    report(10 / (weft_now() - before_new));
    report(10 / (before_close - after_new));
    return NULL;
}

/* The final line shows the average rate over the run. */
static void average_after(scene *sc)
{
    const vt_bar *p = &sc->fin[0];
    REQUIRE(sc->r.nvals == 2);
    double lo = sc->r.vals[0], hi = sc->r.vals[1]; /* the average's bounds */
    CHECK(!strcmp(p->unit, "it/s"));
    if (p->rate < lo - 0.01 || p->rate > hi + 0.01) {
        fprintf(stderr,
                "final rate %.2f, the average over the run is %.2f .. "
                "%.2f\n",
                p->rate, lo, hi);
        check_failures++;
    }
}

/* ---- the width follows the terminal ---- */

static void *t_resize(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 20, .desc = "resize", .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 5; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.015), 0);
    }
    struct winsize ws = {.ws_row = ROWS, .ws_col = 60};
    CHECK_EQ(ioctl(2, TIOCSWINSZ, &ws), 0);
    CHECK_EQ(weft_bar_write("now 60 columns"), 0);
    for (int i = 0; i < 15; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.015), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

typedef struct resize_ctx {
    size_t at80, at60; /* frames before and after the resize */
} resize_ctx;

/* The generic check, at the width of the moment. */
static void resize_frame(vt *t, scene *sc)
{
    resize_ctx *c = sc->s->state;
    bool after = rows_with(t, "now 60 columns", NULL) == 1;
    sc->f.width = after ? 60 : 80;
    check_frame(t, &sc->f);
    if (after)
        c->at60++;
    else
        c->at80++;
}

static void resize_after(scene *sc)
{
    const resize_ctx *c = sc->s->state;
    CHECK(c->at80 >= 3);
    CHECK(c->at60 >= 3);
}

/* ---- ASCII bars ---- */

static void *t_ascii(void *arg)
{
    weft_bar_opts o = {
        .total = 7, .desc = "ascii", .mininterval = 0.01, .ascii = arg != NULL};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 7; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.015), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void ascii_after(scene *sc)
{
    for (size_t i = 0; i < sc->r.len; i++)
        if ((unsigned char)sc->r.out[i] >= 0x80) {
            fprintf(stderr, "%s: non-ASCII byte at %zu\n", sc->s->title, i);
            check_failures++;
            break;
        }
    CHECK(strchr(sc->fin[0].bar, '#') != NULL);
}

/* ---- unknown total ---- */

static void *t_unknown(void *arg)
{
    weft_bar_opts o = {
        .total = *(double *)arg, .desc = "desc", .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 7; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.012), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static const double total_zero = 0, total_negative = -3;

static void unknown_after(scene *sc)
{
    const vt_bar *p = &sc->fin[0];
    CHECK(!strcmp(p->elapsed, "00:00"));
    CHECK(!strcmp(p->unit, "it/s"));
    char line[VT_LINE_MAX];
    row_text(0, line);
    CHECK(strstr(line, "desc: 7it [00:00, ") == line);
    CHECK(vt_str_width(line) < COLS); /* not padded to the width */
}

/* A line without a total longer than the terminal is cut at its width
 * while it is drawn in place (it would wrap and break the block). */

#define LONG_DESC                                                              \
    "a description of seventy columns, long enough to push the line out...."

static void *t_long(void *arg)
{
    weft_bar_opts o = {
        .desc = LONG_DESC, .mininterval = 0.01, .no_leave = arg == NULL};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 5; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.012), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

typedef struct long_ctx {
    size_t cut; /* frames showing the line cut */
} long_ctx;

static void long_frame(vt *t, scene *sc)
{
    long_ctx *c = sc->s->state;
    char line[VT_LINE_MAX];
    vt_row(t, 0, line, sizeof line);
    if (!line[0])
        return; /* erased at the end */
    if (vt_str_width(line) != COLS || strncmp(line, LONG_DESC ": ", 72) ||
        !strchr("012345", line[72]) || strncmp(line + 73, "it [00:", 7))
        frame_fail(t, "not the line cut at %d columns: \"%s\"", COLS, line);
    else
        c->cut++;
    for (int r = 1; r < t->rows; r++)
        if (!vt_row_blank(t, r))
            frame_fail(t, "row %d is not blank", r);
}

/* Runs on any screen (after_always): the width is the test's own premise. */
static void long_after(scene *sc)
{
    const long_ctx *c = sc->s->state;
    CHECK_EQ(vt_str_width(LONG_DESC), 70);
    if (sc->ok)
        CHECK(c->cut >= 6);
}

/* ---- control characters are neutralized ---- */

static void *t_escapes(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 3,
                       .desc = "\x1b[31mred\xc2\x9b\xff",
                       .mininterval = 0.01,
                       .postfix = "a\nb\x1b]0;t\x07"};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    weft_bar_update(b, 1);
    CHECK_EQ(weft_sleep(0.015), 0);
    CHECK_EQ(weft_bar_set_desc(b, "tab\there\x7f\r"), 0);
    weft_bar_update(b, 2);
    CHECK_EQ(weft_sleep(0.015), 0);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void escapes_after(scene *sc)
{
    CHECK(!strcmp(sc->fin[0].postfix, "a?b?]0;t?"));
    /* the first description showed too, its ESC as '?' */
    CHECK(strstr(sc->r.out, "?[31mred??: ") != NULL);
    /* only the library's own sequences reached the terminal */
    CHECK(strstr(sc->r.out, "\x1b[31m") == NULL);
    CHECK(strstr(sc->r.out, "\x1b]") == NULL);
}

/* ---- the clock moves without updates ---- */

static void *t_clock(void *arg)
{
    (void)arg;
    weft_bar_opts o = {
        .total = 10, .desc = "clock", .no_leave = 1, .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    weft_bar_update(b, 1);
    CHECK_EQ(weft_sleep(2.5), 0);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void clock_after(scene *sc)
{
    if (sc->f.max_elapsed[0] < 2) {
        fprintf(stderr, "clock: elapsed reached %d s on screen, not 2\n",
                sc->f.max_elapsed[0]);
        check_failures++;
    }
    CHECK_EQ(sc->f.last_n[0], 1);
}

/* ---- pool threads ---- */

#define POOL_JOBS 8
#define POOL_EACH 2000
#define POOL_TOTAL ((POOL_JOBS + 1) * POOL_EACH)

static void *job_updates(void *arg)
{
    for (int i = 0; i < POOL_EACH; i++)
        weft_bar_update(arg, 1);
    return NULL;
}

static void *t_pool(void *arg)
{
    (void)arg;
    weft_bar_opts o = {
        .total = POOL_TOTAL, .desc = "pool", .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    weft_task *t[POOL_JOBS];
    for (int i = 0; i < POOL_JOBS; i++)
        REQUIRE(weft_spawn_blocking(job_updates, b, &t[i]) == 0);
    CHECK_EQ(weft_gather(t, POOL_JOBS, NULL, NULL, 0), 0);
    CHECK_EQ(weft_to_thread(job_updates, b, NULL), 0); /* one more job */
    report((double)weft_bar_count(b));
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

/* The count the child read matches too. */
static void pool_after(scene *sc)
{
    REQUIRE(sc->r.nvals == 1);
    CHECK_EQ(sc->r.vals[0], POOL_TOTAL);
}

/* weft_bar_printf from a pool job while the owner task updates its bar. */

#define PW_LINES 10 /* the table's rows "from the pool 0" .. 9 */

static void *job_prints(void *arg)
{
    (void)arg;
    for (int i = 0; i < PW_LINES; i++) {
        CHECK_EQ(weft_bar_printf("from the pool %d", i), 0);
        usleep(2500);
    }
    return NULL;
}

static void *t_pool_write(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 40, .desc = "owner", .mininterval = 0.001};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    weft_task *t;
    REQUIRE(weft_spawn_blocking(job_prints, NULL, &t) == 0);
    for (int i = 0; i < 40; i++) {
        weft_bar_update(b, 1);
        /* the item's work, on the loop's thread, while the pool job
         * prints */
        double until = now_s() + 0.002;
        while (now_s() < until) {
        }
        CHECK_EQ(weft_sleep(0.001), 0);
    }
    CHECK_EQ(weft_await(t, NULL), 0);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

/* ---- outside any loop ---- */

static void c_plain(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 50, .desc = "plain", .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 50; i++) {
        usleep(3000);
        weft_bar_update(b, 1);
    }
    CHECK_EQ(weft_bar_count(b), 50);
    CHECK_EQ(weft_bar_close(b), 0);
}

/* Redrawn along the way, not only at the start and the end. */
static void plain_after(scene *sc)
{
    int mid = 0;
    for (int n = 1; n < 50; n++)
        mid += sc->f.seen_n[0][n];
    CHECK(mid >= 5);
}

/* ---- gather, map and generators ---- */

#define G_TASKS 6

static void *sleeper(void *arg)
{
    intptr_t i = P2I(arg);
    CHECK_EQ(weft_sleep(0.03 * (double)(G_TASKS - i)), 0);
    return I2P(i * 10);
}

static void *t_gather(void *arg)
{
    (void)arg;
    weft_task *t[G_TASKS];
    void *res[G_TASKS];
    for (intptr_t i = 0; i < G_TASKS; i++)
        REQUIRE(weft_spawn(sleeper, I2P(i), &t[i]) == 0);
    weft_gather_opts o = {.desc = CJK_DESC};
    CHECK_EQ(weft_gather_ex(t, G_TASKS, res, NULL, &o), 0);
    for (int i = 0; i < G_TASKS; i++)
        report((double)P2I(res[i]));
    return NULL;
}

/* The results came in submission order. */
static void gather_after(scene *sc)
{
    REQUIRE(sc->r.nvals == G_TASKS);
    for (int i = 0; i < G_TASKS; i++)
        CHECK_EQ(sc->r.vals[i], i * 10);
}

static void *twice(void *arg)
{
    CHECK_EQ(weft_sleep(0.012), 0);
    return I2P(P2I(arg) * 2);
}

static void *t_map(void *arg)
{
    (void)arg;
    void *items[10], *res[10];
    int err[10];
    for (int i = 0; i < 10; i++)
        items[i] = I2P(i + 1);
    weft_gather_opts o = {.desc = "map"};
    CHECK_EQ(weft_map_ex(twice, items, 10, 3, res, err, &o), 0);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(err[i], 0);
        CHECK_EQ(P2I(res[i]), 2 * (i + 1));
    }
    /* a bar of the caller's ticks and stays open */
    weft_bar_opts bo = {.total = 4, .desc = "mine", .mininterval = 0.001};
    weft_bar *b;
    REQUIRE(weft_bar_new(&bo, &b) == 0);
    weft_task *t[4];
    for (intptr_t i = 0; i < 4; i++)
        REQUIRE(weft_spawn(sleeper, I2P(i + 2), &t[i]) == 0);
    weft_gather_opts go = {.bar = b};
    CHECK_EQ(weft_gather_ex(t, 4, NULL, NULL, &go), 0);
    CHECK_EQ(weft_bar_count(b), 4);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void *producer(void *arg)
{
    (void)arg;
    for (intptr_t i = 1; i <= 5; i++)
        if (weft_gen_yield(I2P(i)))
            break;
    return NULL;
}

static void *t_gen(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 5, .desc = "gen", .mininterval = 0.001};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    weft_gen *g;
    REQUIRE(weft_gen_new(producer, NULL, &g) == 0);
    CHECK_EQ(weft_gen_set_bar(g, b), 0);
    void *v;
    int rc;
    intptr_t expect = 1;
    while ((rc = weft_gen_next(g, &v)) > 0) {
        CHECK_EQ(P2I(v), expect);
        CHECK_EQ(weft_bar_count(b), expect);
        expect++;
        CHECK_EQ(weft_sleep(0.01), 0);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(expect, 6);
    CHECK_EQ(weft_bar_count(b), 5); /* the end is not a value */
    CHECK_EQ(weft_gen_close(g), 0);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

/* ---- the environment ---- */

static void *t_ten(void *arg)
{
    weft_bar_opts o = {.total = 10,
                       .desc = "env",
                       .mininterval = 0.001,
                       .disable = arg != NULL};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 10; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.002), 0);
    }
    CHECK_EQ(weft_bar_count(b), 10);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

/* Nothing reached the terminal. */
static void nothing_after(scene *sc)
{
    CHECK_EQ(sc->r.len, 0);
}

/* One log line: a correct bar line of 10 columns, a later count than the
 * line before (*last).  Returns whether it was a bar line. */
static bool log_line(const char *name, const char *l, long long *last)
{
    vt_bar p;
    char why[VT_LINE_MAX + 200];
    if (!bar_ok(l, "env", 0, 0, &p, why, sizeof why)) {
        fprintf(stderr, "%s: %s\n", name, why);
        check_failures++;
        return false;
    }
    CHECK_EQ(p.bar_cols, 10);
    if (p.n <= *last) { /* one line per tenth, each once */
        fprintf(stderr, "%s: %lld/10 printed after %lld/10\n", name, p.n,
                *last);
        check_failures++;
    }
    *last = p.n;
    return true;
}

/* Log mode on a terminal: whole lines, 10-column bars, no "\r" or ESC; with
 * total 10 and a pause after each update, one line per update (tenth). */
static void log_after(scene *sc)
{
    const run *r = &sc->r;
    CHECK(memchr(r->out, '\r', r->len) == NULL);
    CHECK(memchr(r->out, 0x1b, r->len) == NULL);
    CHECK(r->len > 0 && r->out[r->len - 1] == '\n');
    int lines = 0;
    long long last = -1;
    char *save = NULL, *copy = strdup(r->out);
    REQUIRE(copy);
    for (char *l = strtok_r(copy, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save))
        lines += log_line(sc->s->title, l, &last);
    free(copy);
    CHECK_EQ(lines, 10); /* 1/10 ... 10/10 */
    CHECK_EQ(last, 10);
}

/* ------------------------------------------------------------ the table */

/* One row per scenario, in the order the cases run; a case is its name's
 * rows (gather has two: gather, then map). */
/* Left as written: formatted, each field of a row takes a line. */
/* clang-format off */
static const scenario scenarios[] = {
    /* .seen = 6: every count was drawn, 0/5 (at creation) to 5/5 */
    {.name = "single", .title = "single bar", .task = t_five, .arg = "desc",
     .bars = {.desc = {"desc"}, .width = COLS},
     SCREEN(BAR_ROW), .finals = {{0, "desc", 5, 5, COLS}}, .seen = 6,
     .after = single_after},
    {.name = "cjk", .title = "cjk desc", .task = t_five, .arg = CJK_DESC,
     .bars = {.desc = {CJK_DESC}, .width = COLS},
     SCREEN(BAR_ROW), .finals = {{0, CJK_DESC, 5, 5, COLS}}, .seen = 6,
     .after = cjk_after, .after_always = true},
    {.name = "two_bars", .title = "two bars", .task = t_two,
     .bars = {.desc = {"A", "B"}, .width = COLS, .text_prefix = "message "},
     .on_frame = two_frame, STATE(two_ctx),
     SCREEN("message 0", "message 1", "message 2", "message 3", "message 4",
            "message 5", "message 6", "message 7", BAR_ROW, BAR_ROW),
     .finals = {{TWO_MSGS, "A", TWO_STEPS, TWO_STEPS, COLS},
                {TWO_MSGS + 1, "B", TWO_STEPS, TWO_STEPS, COLS}},
     .min_frames = 20, .after = two_after},
    {.name = "no_leave", .title = "no_leave", .task = t_no_leave,
     .bars = {.desc = {"gone"}, .width = COLS, .text_prefix = "text: "},
     SCREEN("text: before", "text: after"), .after = no_leave_after},
    /* .autowrap (here, in order and in report_above): a bar broken by the
     * text must show on the screen, not stop the emulator */
    {.name = "print_below", .title = "print below the bar", .task = t_print,
     .autowrap = 1, SCREEN(BAR_ROW, "1", BAR_ROW, "2", BAR_ROW),
     .finals = {{0, "print", 1, 5, COLS},
                {2, "print", 2, 5, COLS},
                {4, "print", 2, 5, COLS}}},
    {.name = "order", .title = "update draws before the value",
     .task = t_order, .autowrap = 1,
     SCREEN(BAR_ROW, "1", BAR_ROW, "2", BAR_ROW, "3", BAR_ROW),
     .finals = {{0, "order", 1, 5, COLS},
                {2, "order", 2, 5, COLS},
                {4, "order", 3, 5, COLS},
                {6, "order", 3, 5, COLS}}},
    {.name = "first_rate", .title = "first rate after an idle second",
     .task = t_first_rate, .on_frame = first_rate_frame, STATE(first_rate),
     .after = first_rate_after},
    {.name = "report_above", .title = "report at loop close",
     .task = t_report, .cols = REPORT_COLS, .autowrap = 1,
     SCREEN(BAR_ROW, BAR_ROW), .finals = {{1, "rep", 1, 3, REPORT_COLS}},
     .after = report_after},
    {.name = "overflow_report_below_bars",
     .title = "stack overflow report below the bars", .child = c_overflow,
     .autowrap = 1, /* the report wraps: its rows are checked after */
     .finals = {{0, "A", 3, 10, COLS}, {1, "B", 5, 10, COLS}},
     .after = overflow_after},
    {.name = "dump_above_bars", .title = "dump_above_bars", .task = t_dump,
     SCREEN(BAR_ROW, BAR_ROW, BAR_ROW, BAR_ROW), .after = dump_after},
    {.name = "average_rate", .title = "leave: average rate",
     .task = t_average, .bars = {.desc = {"avg"}, .width = COLS},
     SCREEN(BAR_ROW), .finals = {{0, "avg", 10, 10, COLS}},
     .min_frames = 10 /* redrawn along the way */, .after = average_after},
    {.name = "resize", .title = "resize", .task = t_resize,
     .bars = {.desc = {"resize"}, .width = COLS,
              .text_prefix = "now 60 columns"},
     .on_frame = resize_frame, STATE(resize_ctx),
     SCREEN("now 60 columns", BAR_ROW),
     .finals = {{1, "resize", 20, 20, 60}}, .after = resize_after},
    {.name = "ascii_opt", .title = "opts.ascii", .task = t_ascii,
     .arg = "yes", .bars = {.desc = {"ascii"}, .width = COLS, .ascii = 1},
     SCREEN(BAR_ROW), .finals = {{0, "ascii", 7, 7, COLS}}, .seen = 8,
     .after = ascii_after},
    {.name = "ascii_lang_c", .title = "LANG=C", .task = t_ascii,
     ENV("LANG=C"), .bars = {.desc = {"ascii"}, .width = COLS, .ascii = 1},
     SCREEN(BAR_ROW), .finals = {{0, "ascii", 7, 7, COLS}}, .seen = 8,
     .after = ascii_after},
    {.name = "ascii_lc_all_c", .title = "LC_ALL=C", .task = t_ascii,
     ENV("LC_ALL=C"), .bars = {.desc = {"ascii"}, .width = COLS, .ascii = 1},
     SCREEN(BAR_ROW), .finals = {{0, "ascii", 7, 7, COLS}}, .seen = 8,
     .after = ascii_after},
    {.name = "unknown_total_zero", .title = "unknown total (0)",
     .task = t_unknown, .arg = (void *)&total_zero,
     .bars = {.desc = {"desc"}}, SCREEN(BAR_ROW),
     .finals = {{0, "desc", 7, 0, 0}}, .seen = 8, .after = unknown_after},
    {.name = "unknown_total_negative", .title = "unknown total (-3)",
     .task = t_unknown, .arg = (void *)&total_negative,
     .bars = {.desc = {"desc"}}, SCREEN(BAR_ROW),
     .finals = {{0, "desc", 7, 0, 0}}, .seen = 8, .after = unknown_after},
    {.name = "long_unknown", .title = "long line, no total", .task = t_long,
     .on_frame = long_frame, STATE(long_ctx), BLANK_SCREEN,
     .after = long_after, .after_always = true},
    {.name = "escapes", .title = "escapes", .task = t_escapes,
     SCREEN(BAR_ROW), .finals = {{0, "tab?here??", 3, 3, COLS}},
     .after = escapes_after},
    {.name = "clock", .title = "clock", .task = t_clock,
     .bars = {.desc = {"clock"}, .width = COLS}, BLANK_SCREEN,
     .after = clock_after},
    {.name = "pool_updates", .title = "pool updates", .task = t_pool,
     .bars = {.desc = {"pool"}, .width = COLS}, SCREEN(BAR_ROW),
     .finals = {{0, "pool", POOL_TOTAL, POOL_TOTAL, COLS}},
     .after = pool_after},
    /* each write redraws the bar: at least two frames a line */
    {.name = "pool_write", .title = "printf from the pool",
     .task = t_pool_write,
     .bars = {.desc = {"owner"}, .width = COLS,
              .text_prefix = "from the pool "},
     SCREEN("from the pool 0", "from the pool 1", "from the pool 2",
            "from the pool 3", "from the pool 4", "from the pool 5",
            "from the pool 6", "from the pool 7", "from the pool 8",
            "from the pool 9", BAR_ROW),
     .finals = {{PW_LINES, "owner", 40, 40, COLS}},
     .min_frames = 2 * PW_LINES},
    {.name = "plain", .title = "outside a loop", .child = c_plain,
     .bars = {.desc = {"plain"}, .width = COLS}, SCREEN(BAR_ROW),
     .finals = {{0, "plain", 50, 50, COLS}}, .after = plain_after},
    {.name = "gather", .title = "gather with desc", .task = t_gather,
     .bars = {.desc = {CJK_DESC}, .width = COLS}, SCREEN(BAR_ROW),
     .finals = {{0, CJK_DESC, G_TASKS, G_TASKS, COLS}}, .seen = 1,
     .min_frames = 3, .after = gather_after},
    {.name = "gather", .title = "map with desc", .task = t_map,
     .bars = {.desc = {"map", "mine"}, .width = COLS},
     SCREEN(BAR_ROW, BAR_ROW),
     .finals = {{0, "map", 10, 10, COLS}, {1, "mine", 4, 4, COLS}}},
    {.name = "gen_bar", .title = "generator bar", .task = t_gen,
     .bars = {.desc = {"gen"}, .width = COLS}, SCREEN(BAR_ROW),
     .finals = {{0, "gen", 5, 5, COLS}}, .seen = 6},
    {.name = "nothing_progress_off", .title = "WEFT_PROGRESS=off",
     .task = t_ten, ENV("WEFT_PROGRESS=off"), .after = nothing_after},
    {.name = "nothing_disable", .title = "opts.disable", .task = t_ten,
     .arg = "yes", .after = nothing_after},
    {.name = "log_on_tty_progress_log", .title = "WEFT_PROGRESS=log",
     .task = t_ten, ENV("WEFT_PROGRESS=log"), .after = log_after},
    {.name = "log_on_tty_term_dumb", .title = "TERM=dumb", .task = t_ten,
     ENV("TERM=dumb"), .after = log_after},
};
/* clang-format on */

#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

/* A case: its row and the rows right after it with the same name. */
static void run_case(void *arg)
{
    const scenario *s = arg, *end = scenarios + N_SCENARIOS;
    const char *name = s->name;
    for (; s < end && !strcmp(s->name, name); s++)
        run_scenario(s);
}

/* The case table for check_main: one case per name, in the table's order. */
static size_t cases_of(struct check_case_def *cases)
{
    size_t n = 0;
    for (size_t i = 0; i < N_SCENARIOS; i++)
        if (i == 0 || strcmp(scenarios[i].name, scenarios[i - 1].name))
            cases[n++] = (struct check_case_def)CHECK_PLAIN(
                scenarios[i].name, run_case, (void *)&scenarios[i]);
    return n;
}

int main(void)
{
    int m, sl;
    if (openpty(&m, &sl, NULL, NULL, NULL) != 0)
        check_skip("no pseudo-terminals here");
    close(m);
    close(sl);
    static struct check_case_def cases[N_SCENARIOS];
    int rc = check_main(cases, cases_of(cases));
    vt_free(&V);
    return rc;
}

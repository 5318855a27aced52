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
        vt_expected_bar(p->n, p->total, p->bar_cols, ascii, want,
                        sizeof want);
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
            fprintf(stderr, "%s: row %d should be blank: \"%s\"\n",
                    case_name, r, line);
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
static void expect_final(int r, const char *desc, long long n,
                         long long total, int width, int ascii, vt_bar *p)
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

static void frames_init(frames *f, int width, int ascii)
{
    memset(f, 0, sizeof *f);
    f->width = width;
    f->ascii = ascii;
}

static void frames_add(frames *f, const char *desc)
{
    f->desc[f->nbars++] = desc;
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

/* ------------------------------------------------------------ cases */

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

static void c_five(void *arg)
{
    CHECK_EQ(weft_run(t_five, arg, NULL), 0);
}

static void test_single(const char *desc, const char *name)
{
    run r;
    frames f;
    frames_init(&f, COLS, 0);
    frames_add(&f, desc);
    pty_run(c_five, (void *)desc, COLS, NULL, &r);
    if (screen_of(name, &r, COLS, check_frame, &f)) {
        vt_bar p;
        expect_final(0, desc, 5, 5, COLS, 0, &p);
        CHECK(!strcmp(p.elapsed, "00:00"));
        expect_rows_then_cursor((const char *const[]){NULL}, 1);
        /* every state was drawn, from 0/5 (at creation) to 5/5 */
        for (int n = 0; n <= 5; n++)
            CHECK(f.seen_n[0][n]);
        /* the bar is full: 80 - the text around it, all full blocks */
        CHECK(p.bar_cols >= 30);
        char want[VT_LINE_MAX];
        vt_expected_bar(5, 5, p.bar_cols, 0, want, sizeof want);
        CHECK(!strcmp(p.bar, want));
        CHECK(strstr(p.bar, " ") == NULL);
    }
    free(r.out);
}

static void test_cjk(void)
{
    const char *desc = "任务进行中...";
    CHECK_EQ(vt_str_width(desc), 13);
    CHECK_EQ(vt_str_width("任务进行中...: "), 15);
    test_single(desc, "cjk desc");
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

static void c_two(void *arg)
{
    CHECK_EQ(weft_run(t_two, arg, NULL), 0);
}

typedef struct two_ctx {
    frames f;
    bool b_seen; /* B was created */
    int last_msg; /* highest message index seen */
    size_t both_open;
} two_ctx;

static void two_frame(vt *t, void *ctx)
{
    two_ctx *c = ctx;
    check_frame(t, &c->f);
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
    if (expect - 1 < c->last_msg)
        frame_fail(t, "message %d vanished", c->last_msg);
    c->last_msg = expect - 1;
}

static void test_two_bars(void)
{
    run r;
    two_ctx c;
    memset(&c, 0, sizeof c);
    frames_init(&c.f, COLS, 0);
    frames_add(&c.f, "A");
    frames_add(&c.f, "B");
    c.f.text_prefix = "message ";
    c.last_msg = -1;
    pty_run(c_two, NULL, COLS, NULL, &r);
    if (screen_of("two bars", &r, COLS, two_frame, &c)) {
        REQUIRE(r.nvals == 1);
        int msgs = (int)r.vals[0];
        REQUIRE(msgs == 8);
        const char *rows[16];
        char names[16][32];
        for (int i = 0; i < msgs; i++) {
            snprintf(names[i], sizeof names[i], "message %d", i);
            rows[i] = names[i];
        }
        rows[msgs] = rows[msgs + 1] = NULL;
        expect_rows_then_cursor(rows, msgs + 2);
        expect_final(msgs, "A", TWO_STEPS, TWO_STEPS, COLS, 0, NULL);
        expect_final(msgs + 1, "B", TWO_STEPS, TWO_STEPS, COLS, 0, NULL);
        /* many frames with both bars moving */
        CHECK(c.both_open >= 20);
        CHECK(c.f.frames >= 20);
    }
    free(r.out);
}

/* ---- no_leave, and leave with the average rate ---- */

static void *t_no_leave(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_bar_write("text: before"), 0);
    weft_bar_opts o = {.total = 10, .desc = "gone", .no_leave = 1,
                       .mininterval = 0.01};
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

static void c_no_leave(void *arg)
{
    CHECK_EQ(weft_run(t_no_leave, arg, NULL), 0);
}

static void test_no_leave(void)
{
    run r;
    frames f;
    frames_init(&f, COLS, 0);
    frames_add(&f, "gone");
    f.text_prefix = "text: ";
    pty_run(c_no_leave, NULL, COLS, NULL, &r);
    if (screen_of("no_leave", &r, COLS, check_frame, &f)) {
        /* the bar was there, and left no trace */
        CHECK(f.seen_n[0][0] && f.seen_n[0][10]);
        expect_rows_then_cursor(
            (const char *const[]){"text: before", "text: after"}, 2);
    }
    free(r.out);
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

static void c_print(void *arg)
{
    CHECK_EQ(weft_run(t_print, arg, NULL), 0);
}

static void test_print_below(void)
{
    run r;
    pty_run(c_print, NULL, COLS, NULL, &r);
    autowrap_next = 1;
    if (screen_of("print below the bar", &r, COLS, NULL, NULL)) {
        expect_rows_then_cursor(
            (const char *const[]){NULL, "1", NULL, "2", NULL}, 5);
        vt_bar p;
        expect_final(0, "print", 1, 5, COLS, 0, &p);
        expect_final(2, "print", 2, 5, COLS, 0, &p);
        expect_final(4, "print", 2, 5, COLS, 0, &p);
    }
    free(r.out);
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

static void c_order(void *arg)
{
    CHECK_EQ(weft_run(t_order, arg, NULL), 0);
}

static void test_order(void)
{
    run r;
    pty_run(c_order, NULL, COLS, NULL, &r);
    autowrap_next = 1;
    if (screen_of("update draws before the value", &r, COLS, NULL, NULL)) {
        expect_rows_then_cursor(
            (const char *const[]){NULL, "1", NULL, "2", NULL, "3", NULL}, 7);
        for (int i = 1; i <= 3; i++)
            expect_final(2 * (i - 1), "order", i, 5, COLS, 0, NULL);
        expect_final(6, "order", 3, 5, COLS, 0, NULL);
    }
    free(r.out);
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

static void c_first_rate(void *arg)
{
    CHECK_EQ(weft_run(t_first_rate, arg, NULL), 0);
}

/* Keeps the rate of the first line that shows 1/5. */
static void first_rate_frame(vt *t, void *ctx)
{
    first_rate *f = ctx;
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

static void test_first_rate(void)
{
    run r;
    first_rate f = {0, ""};
    pty_run(c_first_rate, NULL, COLS, NULL, &r);
    if (screen_of("first rate after an idle second", &r, COLS, first_rate_frame,
                  &f)) {
        REQUIRE(r.nvals == 1);
        double took = r.vals[0]; /* creation to update, measured outside */
        if (strcmp(f.unit, "s/it") || f.rate < 1.04 || f.rate > took + 0.011) {
            fprintf(stderr,
                    "%s: 1/5 first drawn at %.2f%s, expected %.2fs/it or a "
                    "little less\n",
                    case_name, f.rate, f.unit, took);
            check_failures++;
        }
    }
    free(r.out);
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

static void c_report(void *arg)
{
    CHECK_EQ(weft_run(t_report, arg, NULL), 0);
}

static void test_report_above(void)
{
    run r;
    enum { WIDE = 180 }; /* the report fits on one row */
    pty_run(c_report, NULL, WIDE, NULL, &r);
    autowrap_next = 1; /* breaking the bar must show, not stop the test */
    if (screen_of("report at loop close", &r, WIDE, NULL, NULL)) {
        char line[VT_LINE_MAX];
        row_text(0, line);
        if (strncmp(line, "weft: task #", 12) ||
            !strstr(line, "never awaited") || !strstr(line, ": fire")) {
            fprintf(stderr, "%s: row 0 is \"%s\", expected the report\n",
                    case_name, line);
            check_failures++;
        }
        expect_rows_then_cursor((const char *const[]){NULL, NULL}, 2);
        expect_final(1, "rep", 1, 3, WIDE, 0, NULL);
    }
    free(r.out);
}

/* ---- a task dump while two bars are drawn ---- */

static void *t_dump(void *arg)
{
    (void)arg;
    weft_bar_opts oa = {.total = 10, .desc = "A"}, ob = {.total = 10,
                                                          .desc = "B"};
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

static void c_dump(void *arg)
{
    CHECK_EQ(weft_run(t_dump, arg, NULL), 0);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* The dump is written where the bars were, whole lines with nothing of
 * the bars left in them, and the bars carry on below it. */
static void test_dump_above_bars(void)
{
    run r;
    pty_run(c_dump, NULL, COLS, NULL, &r);
    if (screen_of("dump_above_bars", &r, COLS, NULL, NULL)) {
        char line[VT_LINE_MAX];
        row_text(0, line);
        CHECK(!strncmp(line, "weft: 1 task on loop ", 21) &&
              ends_with(line, "):"));
        row_text(1, line);
        CHECK(!strncmp(line, "task 'main' (#1) ", 17) &&
              ends_with(line, ": running (it asked for this dump)"));
        row_text(2, line);
        CHECK(!strncmp(line, "A: 100%", 7) || !strncmp(line, "A:  30%", 7));
        row_text(3, line);
        CHECK(!strncmp(line, "B:  50%", 7));
        expect_rows_then_cursor((const char *const[]){NULL, NULL, NULL,
                                                      NULL},
                                4);
    }
    free(r.out);
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

static void c_average(void *arg)
{
    CHECK_EQ(weft_run(t_average, arg, NULL), 0);
}

static void test_average_rate(void)
{
    run r;
    frames f;
    frames_init(&f, COLS, 0);
    frames_add(&f, "avg");
    pty_run(c_average, NULL, COLS, NULL, &r);
    if (screen_of("leave: average rate", &r, COLS, check_frame, &f)) {
        vt_bar p;
        expect_final(0, "avg", 10, 10, COLS, 0, &p);
        expect_rows_then_cursor((const char *const[]){NULL}, 1);
        CHECK(f.frames >= 10); /* redrawn along the way */
        REQUIRE(r.nvals == 2);
        double lo = r.vals[0], hi = r.vals[1]; /* the average's bounds */
        CHECK(!strcmp(p.unit, "it/s"));
        if (p.rate < lo - 0.01 || p.rate > hi + 0.01) {
            fprintf(stderr,
                    "final rate %.2f, the average over the run is %.2f .. "
                    "%.2f\n",
                    p.rate, lo, hi);
            check_failures++;
        }
    }
    free(r.out);
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

static void c_resize(void *arg)
{
    CHECK_EQ(weft_run(t_resize, arg, NULL), 0);
}

typedef struct resize_ctx {
    frames f;
    size_t at80, at60;
} resize_ctx;

static void resize_frame(vt *t, void *ctx)
{
    resize_ctx *c = ctx;
    bool after = rows_with(t, "now 60 columns", NULL) == 1;
    c->f.width = after ? 60 : 80;
    check_frame(t, &c->f);
    if (after)
        c->at60++;
    else
        c->at80++;
}

static void test_resize(void)
{
    run r;
    resize_ctx c;
    memset(&c, 0, sizeof c);
    frames_init(&c.f, COLS, 0);
    frames_add(&c.f, "resize");
    c.f.text_prefix = "now 60 columns";
    pty_run(c_resize, NULL, COLS, NULL, &r);
    if (screen_of("resize", &r, COLS, resize_frame, &c)) {
        CHECK(c.at80 >= 3);
        CHECK(c.at60 >= 3);
        expect_rows_then_cursor((const char *const[]){"now 60 columns", NULL},
                                2);
        expect_final(1, "resize", 20, 20, 60, 0, NULL);
    }
    free(r.out);
}

/* ---- ASCII bars ---- */

static void *t_ascii(void *arg)
{
    weft_bar_opts o = {.total = 7, .desc = "ascii", .mininterval = 0.01,
                       .ascii = arg != NULL};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 7; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.015), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void c_ascii(void *arg)
{
    CHECK_EQ(weft_run(t_ascii, arg, NULL), 0);
}

static void test_ascii(const char *name, void *opt_ascii,
                       const char *const *env)
{
    run r;
    frames f;
    frames_init(&f, COLS, 1);
    frames_add(&f, "ascii");
    pty_run(c_ascii, opt_ascii, COLS, env, &r);
    if (screen_of(name, &r, COLS, check_frame, &f)) {
        vt_bar p;
        expect_final(0, "ascii", 7, 7, COLS, 1, &p);
        expect_rows_then_cursor((const char *const[]){NULL}, 1);
        for (int n = 0; n <= 7; n++)
            CHECK(f.seen_n[0][n]);
        for (size_t i = 0; i < r.len; i++)
            if ((unsigned char)r.out[i] >= 0x80) {
                fprintf(stderr, "%s: non-ASCII byte at %zu\n", name, i);
                check_failures++;
                break;
            }
        CHECK(strchr(p.bar, '#') != NULL);
    }
    free(r.out);
}

/* ---- unknown total ---- */

static void *t_unknown(void *arg)
{
    weft_bar_opts o = {.total = *(double *)arg, .desc = "desc",
                       .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 7; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.012), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void c_unknown(void *arg)
{
    CHECK_EQ(weft_run(t_unknown, arg, NULL), 0);
}

static void test_unknown_total(double total)
{
    run r;
    frames f;
    frames_init(&f, 0, 0);
    frames_add(&f, "desc");
    char name[64];
    snprintf(name, sizeof name, "unknown total (%g)", total);
    pty_run(c_unknown, &total, COLS, NULL, &r);
    if (screen_of(name, &r, COLS, check_frame, &f)) {
        vt_bar p;
        expect_final(0, "desc", 7, 0, 0, 0, &p);
        CHECK(!strcmp(p.elapsed, "00:00"));
        CHECK(!strcmp(p.unit, "it/s"));
        char line[VT_LINE_MAX];
        row_text(0, line);
        CHECK(strstr(line, "desc: 7it [00:00, ") == line);
        CHECK(vt_str_width(line) < COLS); /* not padded to the width */
        expect_rows_then_cursor((const char *const[]){NULL}, 1);
        for (int n = 0; n <= 7; n++)
            CHECK(f.seen_n[0][n]);
    }
    free(r.out);
}

/* A line without a total longer than the terminal is cut at its width
 * while it is drawn in place (it would wrap and break the block). */

#define LONG_DESC                                                             \
    "a description of seventy columns, long enough to push the line out...."

static void *t_long(void *arg)
{
    weft_bar_opts o = {.desc = LONG_DESC, .mininterval = 0.01,
                       .no_leave = arg == NULL};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    for (int i = 0; i < 5; i++) {
        weft_bar_update(b, 1);
        CHECK_EQ(weft_sleep(0.012), 0);
    }
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void c_long(void *arg)
{
    CHECK_EQ(weft_run(t_long, arg, NULL), 0);
}

typedef struct long_ctx {
    size_t cut;
} long_ctx;

static void long_frame(vt *t, void *ctx)
{
    long_ctx *c = ctx;
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

static void test_long_unknown(void)
{
    CHECK_EQ(vt_str_width(LONG_DESC), 70);
    run r;
    long_ctx c = {0};
    pty_run(c_long, NULL, COLS, NULL, &r);
    if (screen_of("long line, no total", &r, COLS, long_frame, &c)) {
        CHECK(c.cut >= 6);
        expect_rows_then_cursor(NULL, 0);
    }
    free(r.out);
}

/* ---- control characters are neutralized ---- */

static void *t_escapes(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 3, .desc = "\x1b[31mred\xc2\x9b\xff",
                       .mininterval = 0.01, .postfix = "a\nb\x1b]0;t\x07"};
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

static void c_escapes(void *arg)
{
    CHECK_EQ(weft_run(t_escapes, arg, NULL), 0);
}

static void test_escapes(void)
{
    run r;
    pty_run(c_escapes, NULL, COLS, NULL, &r);
    if (screen_of("escapes", &r, COLS, NULL, NULL)) {
        vt_bar p;
        expect_final(0, "tab?here??", 3, 3, COLS, 0, &p);
        CHECK(!strcmp(p.postfix, "a?b?]0;t?"));
        expect_rows_then_cursor((const char *const[]){NULL}, 1);
        /* the first description showed too, its ESC as '?' */
        CHECK(strstr(r.out, "?[31mred??: ") != NULL);
        /* only the library's own sequences reached the terminal */
        CHECK(strstr(r.out, "\x1b[31m") == NULL);
        CHECK(strstr(r.out, "\x1b]") == NULL);
    }
    free(r.out);
}

/* ---- the clock moves without updates ---- */

static void *t_clock(void *arg)
{
    (void)arg;
    weft_bar_opts o = {.total = 10, .desc = "clock", .no_leave = 1,
                       .mininterval = 0.01};
    weft_bar *b;
    REQUIRE(weft_bar_new(&o, &b) == 0);
    weft_bar_update(b, 1);
    CHECK_EQ(weft_sleep(2.5), 0);
    CHECK_EQ(weft_bar_close(b), 0);
    return NULL;
}

static void c_clock(void *arg)
{
    CHECK_EQ(weft_run(t_clock, arg, NULL), 0);
}

static void test_clock(void)
{
    run r;
    frames f;
    frames_init(&f, COLS, 0);
    frames_add(&f, "clock");
    pty_run(c_clock, NULL, COLS, NULL, &r);
    if (screen_of("clock", &r, COLS, check_frame, &f)) {
        if (f.max_elapsed[0] < 2) {
            fprintf(stderr, "clock: elapsed reached %d s on screen, not 2\n",
                    f.max_elapsed[0]);
            check_failures++;
        }
        CHECK_EQ(f.last_n[0], 1);
        expect_rows_then_cursor(NULL, 0);
    }
    free(r.out);
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
    weft_bar_opts o = {.total = POOL_TOTAL, .desc = "pool",
                       .mininterval = 0.01};
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

static void c_pool(void *arg)
{
    CHECK_EQ(weft_run(t_pool, arg, NULL), 0);
}

static void test_pool_updates(void)
{
    run r;
    frames f;
    frames_init(&f, COLS, 0);
    frames_add(&f, "pool");
    pty_run(c_pool, NULL, COLS, NULL, &r);
    if (screen_of("pool updates", &r, COLS, check_frame, &f)) {
        REQUIRE(r.nvals == 1);
        CHECK_EQ(r.vals[0], POOL_TOTAL);
        expect_final(0, "pool", POOL_TOTAL, POOL_TOTAL, COLS, 0, NULL);
        expect_rows_then_cursor((const char *const[]){NULL}, 1);
    }
    free(r.out);
}

/* weft_bar_printf from a pool job while the owner task updates its bar. */

#define PW_LINES 10

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

static void c_pool_write(void *arg)
{
    CHECK_EQ(weft_run(t_pool_write, arg, NULL), 0);
}

static void test_pool_write(void)
{
    run r;
    frames f;
    frames_init(&f, COLS, 0);
    frames_add(&f, "owner");
    f.text_prefix = "from the pool ";
    pty_run(c_pool_write, NULL, COLS, NULL, &r);
    if (screen_of("printf from the pool", &r, COLS, check_frame, &f)) {
        const char *rows[PW_LINES + 1];
        char names[PW_LINES][32];
        for (int i = 0; i < PW_LINES; i++) {
            snprintf(names[i], sizeof names[i], "from the pool %d", i);
            rows[i] = names[i];
        }
        rows[PW_LINES] = NULL;
        expect_rows_then_cursor(rows, PW_LINES + 1);
        CHECK(f.frames >= 2 * PW_LINES); /* each write redraws the bar */
        expect_final(PW_LINES, "owner", 40, 40, COLS, 0, NULL);
    }
    free(r.out);
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

static void test_plain(void)
{
    run r;
    frames f;
    frames_init(&f, COLS, 0);
    frames_add(&f, "plain");
    pty_run(c_plain, NULL, COLS, NULL, &r);
    if (screen_of("outside a loop", &r, COLS, check_frame, &f)) {
        expect_final(0, "plain", 50, 50, COLS, 0, NULL);
        expect_rows_then_cursor((const char *const[]){NULL}, 1);
        /* redrawn along the way, not only at the start and the end */
        int mid = 0;
        for (int n = 1; n < 50; n++)
            mid += f.seen_n[0][n];
        CHECK(mid >= 5);
    }
    free(r.out);
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
    weft_gather_opts o = {.desc = "任务进行中..."};
    CHECK_EQ(weft_gather_ex(t, G_TASKS, res, NULL, &o), 0);
    for (int i = 0; i < G_TASKS; i++)
        report((double)P2I(res[i]));
    return NULL;
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

static void c_gather(void *arg)
{
    CHECK_EQ(weft_run(arg ? t_map : t_gather, NULL, NULL), 0);
}

static void test_gather(void)
{
    run r;
    frames f;
    frames_init(&f, COLS, 0);
    frames_add(&f, "任务进行中...");
    pty_run(c_gather, NULL, COLS, NULL, &r);
    if (screen_of("gather with desc", &r, COLS, check_frame, &f)) {
        REQUIRE(r.nvals == G_TASKS);
        for (int i = 0; i < G_TASKS; i++)
            CHECK_EQ(r.vals[i], i * 10);
        expect_final(0, "任务进行中...", G_TASKS, G_TASKS, COLS, 0, NULL);
        expect_rows_then_cursor((const char *const[]){NULL}, 1);
        CHECK(f.seen_n[0][0]);
        CHECK(f.frames >= 3);
    }
    free(r.out);

    frames_init(&f, COLS, 0);
    frames_add(&f, "map");
    frames_add(&f, "mine");
    pty_run(c_gather, "map", COLS, NULL, &r);
    if (screen_of("map with desc", &r, COLS, check_frame, &f)) {
        expect_final(0, "map", 10, 10, COLS, 0, NULL);
        expect_final(1, "mine", 4, 4, COLS, 0, NULL);
        expect_rows_then_cursor((const char *const[]){NULL, NULL}, 2);
    }
    free(r.out);
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

static void c_gen(void *arg)
{
    CHECK_EQ(weft_run(t_gen, arg, NULL), 0);
}

static void test_gen_bar(void)
{
    run r;
    frames f;
    frames_init(&f, COLS, 0);
    frames_add(&f, "gen");
    pty_run(c_gen, NULL, COLS, NULL, &r);
    if (screen_of("generator bar", &r, COLS, check_frame, &f)) {
        expect_final(0, "gen", 5, 5, COLS, 0, NULL);
        expect_rows_then_cursor((const char *const[]){NULL}, 1);
        for (int n = 0; n <= 5; n++)
            CHECK(f.seen_n[0][n]);
    }
    free(r.out);
}

/* ---- the environment ---- */

static void *t_ten(void *arg)
{
    weft_bar_opts o = {.total = 10, .desc = "env", .mininterval = 0.001,
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

static void c_ten(void *arg)
{
    CHECK_EQ(weft_run(t_ten, arg, NULL), 0);
}

static void test_nothing(const char *name, void *disable,
                         const char *const *env)
{
    run r;
    pty_run(c_ten, disable, COLS, env, &r);
    if (screen_of(name, &r, COLS, NULL, NULL))
        CHECK_EQ(r.len, 0);
    free(r.out);
}

/* Log mode on a terminal: whole lines, 10-column bars, no "\r" or ESC; with
 * total 10 and a pause after each update, one line per update (tenth). */
static void test_log_on_tty(const char *name, const char *const *env)
{
    run r;
    pty_run(c_ten, NULL, COLS, env, &r);
    if (screen_of(name, &r, COLS, NULL, NULL)) {
        CHECK(memchr(r.out, '\r', r.len) == NULL);
        CHECK(memchr(r.out, 0x1b, r.len) == NULL);
        CHECK(r.len > 0 && r.out[r.len - 1] == '\n');
        int lines = 0;
        long long last = -1;
        char *save = NULL, *copy = strdup(r.out);
        REQUIRE(copy);
        for (char *l = strtok_r(copy, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            vt_bar p;
            char why[VT_LINE_MAX + 200];
            if (!bar_ok(l, "env", 0, 0, &p, why, sizeof why)) {
                fprintf(stderr, "%s: %s\n", name, why);
                check_failures++;
                continue;
            }
            CHECK_EQ(p.bar_cols, 10);
            if (p.n <= last) { /* one line per tenth, each once */
                fprintf(stderr, "%s: %lld/10 printed after %lld/10\n", name,
                        p.n, last);
                check_failures++;
            }
            last = p.n;
            lines++;
        }
        free(copy);
        CHECK_EQ(lines, 10); /* 1/10 ... 10/10 */
        CHECK_EQ(last, 10);
    }
    free(r.out);
}

/* ---- the cases ---- */

static void case_single(void *arg)
{
    (void)arg;
    test_single("desc", "single bar");
}

static void case_cjk(void *arg)
{
    (void)arg;
    test_cjk();
}

static void case_two_bars(void *arg)
{
    (void)arg;
    test_two_bars();
}

static void case_no_leave(void *arg)
{
    (void)arg;
    test_no_leave();
}

static void case_print_below(void *arg)
{
    (void)arg;
    test_print_below();
}

static void case_order(void *arg)
{
    (void)arg;
    test_order();
}

static void case_first_rate(void *arg)
{
    (void)arg;
    test_first_rate();
}

static void case_report_above(void *arg)
{
    (void)arg;
    test_report_above();
}

static void case_dump_above_bars(void *arg)
{
    (void)arg;
    test_dump_above_bars();
}

static void case_average_rate(void *arg)
{
    (void)arg;
    test_average_rate();
}

static void case_resize(void *arg)
{
    (void)arg;
    test_resize();
}

static void case_long_unknown(void *arg)
{
    (void)arg;
    test_long_unknown();
}

static void case_escapes(void *arg)
{
    (void)arg;
    test_escapes();
}

static void case_clock(void *arg)
{
    (void)arg;
    test_clock();
}

static void case_pool_updates(void *arg)
{
    (void)arg;
    test_pool_updates();
}

static void case_pool_write(void *arg)
{
    (void)arg;
    test_pool_write();
}

static void case_plain(void *arg)
{
    (void)arg;
    test_plain();
}

static void case_gather(void *arg)
{
    (void)arg;
    test_gather();
}

static void case_gen_bar(void *arg)
{
    (void)arg;
    test_gen_bar();
}

typedef struct env_case {
    const char *name;
    void *opt; /* opts.ascii or opts.disable, or NULL */
    const char *const *env;
} env_case;

static const char *const env_lang_c[] = {"LANG=C", NULL},
                         *const env_lc_all_c[] = {"LC_ALL=C", NULL},
                         *const env_off[] = {"WEFT_PROGRESS=off", NULL},
                         *const env_log[] = {"WEFT_PROGRESS=log", NULL},
                         *const env_dumb[] = {"TERM=dumb", NULL};
static const env_case ascii_opt = {"opts.ascii", "yes", NULL},
                      ascii_lang = {"LANG=C", NULL, env_lang_c},
                      ascii_lc_all = {"LC_ALL=C", NULL, env_lc_all_c},
                      nothing_env = {"WEFT_PROGRESS=off", NULL, env_off},
                      nothing_opt = {"opts.disable", "yes", NULL},
                      log_env = {"WEFT_PROGRESS=log", NULL, env_log},
                      log_dumb = {"TERM=dumb", NULL, env_dumb};

static void case_ascii(void *arg)
{
    const env_case *c = arg;
    test_ascii(c->name, c->opt, c->env);
}

static void case_nothing(void *arg)
{
    const env_case *c = arg;
    test_nothing(c->name, c->opt, c->env);
}

static void case_log_on_tty(void *arg)
{
    const env_case *c = arg;
    test_log_on_tty(c->name, c->env);
}

static void case_unknown_total(void *arg)
{
    test_unknown_total(*(const double *)arg);
}

static const double total_zero = 0, total_negative = -3;

static const struct check_case_def cases[] = {
    CHECK_PLAIN("single", case_single, NULL),
    CHECK_PLAIN("cjk", case_cjk, NULL),
    CHECK_PLAIN("two_bars", case_two_bars, NULL),
    CHECK_PLAIN("no_leave", case_no_leave, NULL),
    CHECK_PLAIN("print_below", case_print_below, NULL),
    CHECK_PLAIN("order", case_order, NULL),
    CHECK_PLAIN("first_rate", case_first_rate, NULL),
    CHECK_PLAIN("report_above", case_report_above, NULL),
    CHECK_PLAIN("dump_above_bars", case_dump_above_bars, NULL),
    CHECK_PLAIN("average_rate", case_average_rate, NULL),
    CHECK_PLAIN("resize", case_resize, NULL),
    CHECK_PLAIN("ascii_opt", case_ascii, (void *)&ascii_opt),
    CHECK_PLAIN("ascii_lang_c", case_ascii, (void *)&ascii_lang),
    CHECK_PLAIN("ascii_lc_all_c", case_ascii, (void *)&ascii_lc_all),
    CHECK_PLAIN("unknown_total_zero", case_unknown_total,
                (void *)&total_zero),
    CHECK_PLAIN("unknown_total_negative", case_unknown_total,
                (void *)&total_negative),
    CHECK_PLAIN("long_unknown", case_long_unknown, NULL),
    CHECK_PLAIN("escapes", case_escapes, NULL),
    CHECK_PLAIN("clock", case_clock, NULL),
    CHECK_PLAIN("pool_updates", case_pool_updates, NULL),
    CHECK_PLAIN("pool_write", case_pool_write, NULL),
    CHECK_PLAIN("plain", case_plain, NULL),
    CHECK_PLAIN("gather", case_gather, NULL),
    CHECK_PLAIN("gen_bar", case_gen_bar, NULL),
    CHECK_PLAIN("nothing_progress_off", case_nothing, (void *)&nothing_env),
    CHECK_PLAIN("nothing_disable", case_nothing, (void *)&nothing_opt),
    CHECK_PLAIN("log_on_tty_progress_log", case_log_on_tty, (void *)&log_env),
    CHECK_PLAIN("log_on_tty_term_dumb", case_log_on_tty, (void *)&log_dumb),
};

int main(void)
{
    int m, sl;
    if (openpty(&m, &sl, NULL, NULL, NULL) != 0)
        check_skip("no pseudo-terminals here");
    close(m);
    close(sl);
    int rc = CHECK_MAIN(cases);
    vt_free(&V);
    return rc;
}

/*
 * test_bar_format.c - the progress-bar line formatter and the display
 * width it relies on (src/progress/format.c, src/progress/width.c).  It
 * proves:
 * - every line of tests/fixtures/tqdm_format.txt, printed by tqdm itself
 *   (tools/gen_tqdm_fixtures.py), comes out byte for byte - and cut short
 *   by a small buffer, as a prefix of itself ending on a character;
 * - widths count East Asian wide and fullwidth characters 2 columns and
 *   everything else 1 (combining marks too, as tqdm does); invalid UTF-8
 *   is 1 column a byte; trimming never splits a character;
 * - control characters, DEL, C1 controls and invalid bytes in desc, unit
 *   and postfix print as '?' and are measured as such;
 * - NaN and infinite inputs print '?' where the value is unknown; times
 *   past 2^63 s print '?';
 * - the buffer is never overrun and always terminated (cap 0, 1, tiny),
 *   and the decimal point is '.' whatever the locale.
 *
 * The fixture file is found through, in order: $WEFT_SOURCE_DIR, the
 * directory of this source file (__FILE__, absolute in CMake builds), and
 * tests/fixtures, ../tests/fixtures, ../../tests/fixtures from the current
 * directory (the runner's is the build directory).
 */
#include "check.h"

#include "progress/format.h"
#include "progress/width.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <string.h>

#define FIXTURE "tqdm_format.txt"
#define LINE_CAP 4096

/* ------------------------------------------------------------ helpers */

static weft__meter meter(double n, double total, double elapsed)
{
    weft__meter m = {0};
    m.n = n;
    m.total = total;
    m.elapsed = elapsed;
    m.rate = NAN;
    m.ncols = WEFT__METER_NCOLS_NONE;
    return m;
}

static int check_line(const weft__meter *m, const char *want, int line)
{
    char got[LINE_CAP];
    size_t len = weft__meter_format(m, got, sizeof got);
    if (len == strlen(got) && !strcmp(got, want))
        return 1;
    fprintf(stderr, "%s:%d: line differs\n  want \"%s\"\n  got  \"%s\"\n",
            __FILE__, line, want, got);
    check_failures++;
    return 0;
}
#define CHECK_LINE(m, want) check_line(&(m), want, __LINE__)

static size_t width_of(const char *s)
{
    return weft__utf8_width(s, strlen(s));
}

/* ------------------------------------------------------------ width */

static void test_width(void)
{
    CHECK_EQ(weft__utf8_width(NULL, 0), 0);
    CHECK_EQ(width_of("abc"), 3);
    CHECK_EQ(width_of("任务进行中..."), 13); /* 5 wide + 3 narrow */
    CHECK_EQ(width_of("整体任务进度"), 12);
    CHECK_EQ(width_of("데이터"), 6);
    CHECK_EQ(width_of("\xc3\xa9"), 1);         /* é */
    CHECK_EQ(width_of("e\xcc\x81"), 2);        /* e + combining acute */
    CHECK_EQ(width_of("\xf0\x9f\x9a\x80"), 2); /* rocket, W */
    CHECK_EQ(width_of("\xef\xbd\x86"), 2);     /* fullwidth f, F */
    CHECK_EQ(width_of("\xe2\x96\x88"), 1);     /* full block, A */
    CHECK_EQ(width_of("\xcd\xb8"), 1);         /* unassigned U+0378 */
    CHECK_EQ(width_of("\xf0\xa0\x80\x80"), 2); /* U+20000 */
    CHECK_EQ(width_of("\xf0\xbf\xbf\xbd"), 2); /* U+3FFFD */
    CHECK_EQ(width_of("\xf0\xbf\xbf\xbe"), 1); /* U+3FFFE */
    CHECK_EQ(width_of("\x1b[31m"), 5);         /* ESC is one column */
    CHECK_EQ(weft__utf8_width("a\0b", 3), 3);
    /* Invalid UTF-8: a column a byte. */
    CHECK_EQ(width_of("\xff"), 1);
    CHECK_EQ(width_of("\xe4\xb8"), 2); /* truncated */
    CHECK_EQ(weft__utf8_width("\xe4\xb8\xad", 2), 2);
    CHECK_EQ(width_of("\xc0\xaf"), 2);         /* overlong '/' */
    CHECK_EQ(width_of("\xed\xa0\x80"), 3);     /* surrogate */
    CHECK_EQ(width_of("\xf4\x90\x80\x80"), 4); /* past U+10FFFF */
    CHECK_EQ(width_of("\x80\xbf"), 2);         /* stray continuations */

    CHECK_EQ(weft__cp_width(0), 1);
    CHECK_EQ(weft__cp_width(0x10FF), 1);
    CHECK_EQ(weft__cp_width(0x1100), 2);
    CHECK_EQ(weft__cp_width(0x115F), 2);
    CHECK_EQ(weft__cp_width(0x1160), 1);
    CHECK_EQ(weft__cp_width(0x3000), 2);
    CHECK_EQ(weft__cp_width(0x303F), 1);
    CHECK_EQ(weft__cp_width(0xFF01), 2);
    CHECK_EQ(weft__cp_width(0xFF61), 1);
    CHECK_EQ(weft__cp_width(0x30000), 2);
    CHECK_EQ(weft__cp_width(0x3FFFE), 1);
    CHECK_EQ(weft__cp_width(0x10FFFF), 1);
}

static void test_utf8_next(void)
{
    static const struct {
        const char *s;
        size_t len, want;
        uint32_t cp;
    } cases[] = {
        {"\x7f", 1, 1, 0x7F},
        {"\xc2\x80", 2, 2, 0x80},
        {"\xdf\xbf", 2, 2, 0x7FF},
        {"\xc1\xbf", 2, 0, 0},     /* overlong */
        {"\xe0\x9f\xbf", 3, 0, 0}, /* overlong */
        {"\xe0\xa0\x80", 3, 3, 0x800},
        {"\xed\x9f\xbf", 3, 3, 0xD7FF},
        {"\xed\xa0\x80", 3, 0, 0}, /* surrogate */
        {"\xef\xbf\xbf", 3, 3, 0xFFFF},
        {"\xf0\x8f\xbf\xbf", 4, 0, 0}, /* overlong */
        {"\xf0\x90\x80\x80", 4, 4, 0x10000},
        {"\xf4\x8f\xbf\xbf", 4, 4, 0x10FFFF},
        {"\xf4\x90\x80\x80", 4, 0, 0}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0, 0},
        {"\x80", 1, 0, 0},
        {"\xe4\xb8\xad", 2, 0, 0}, /* cut by len */
        {"\xe4\x41\xad", 3, 0, 0}, /* not a continuation */
        {"\xe4\xb8\xad", 3, 3, 0x4E2D},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t cp = 0xDEAD;
        size_t n = weft__utf8_next(cases[i].s, cases[i].len, &cp);
        CHECK_EQ(n, cases[i].want);
        if (n)
            CHECK_EQ(cp, cases[i].cp);
        else
            CHECK_EQ(cp, 0xDEAD);
    }
}

static void test_trim(void)
{
    const char *cjk = "任务进行中...";
    size_t len = strlen(cjk), cols = 99;

    CHECK_EQ(weft__utf8_trim(cjk, len, 0, &cols), 0);
    CHECK_EQ(cols, 0);
    CHECK_EQ(weft__utf8_trim(cjk, len, 1, &cols), 0);
    CHECK_EQ(weft__utf8_trim(cjk, len, 5, &cols), 6);
    CHECK_EQ(cols, 4);
    CHECK_EQ(weft__utf8_trim(cjk, len, 6, &cols), 9);
    CHECK_EQ(cols, 6);
    CHECK_EQ(weft__utf8_trim(cjk, len, 12, &cols), len - 1);
    CHECK_EQ(cols, 12);
    CHECK_EQ(weft__utf8_trim(cjk, len, 13, &cols), len);
    CHECK_EQ(cols, 13);
    CHECK_EQ(weft__utf8_trim(cjk, len, SIZE_MAX, NULL), len);
    CHECK_EQ(weft__utf8_trim("a\xff\xfe", 3, 2, &cols), 2);
    CHECK_EQ(cols, 2);
    CHECK_EQ(weft__utf8_trim("a\xe4\xb8", 3, 2, &cols), 2);
    CHECK_EQ(weft__utf8_trim("\xe4\xb8\xad", 3, 1, &cols), 0);
    CHECK_EQ(weft__utf8_trim(NULL, 0, 5, &cols), 0);
}

/* ------------------------------------------------------------ fixtures */

static FILE *open_fixture(char *path, size_t cap)
{
    const char *env = getenv("WEFT_SOURCE_DIR");
    if (env && *env) {
        snprintf(path, cap, "%s/tests/fixtures/" FIXTURE, env);
        FILE *f = fopen(path, "rb");
        if (f)
            return f;
    }
    const char *here = __FILE__, *slash = strrchr(here, '/');
    if (slash) {
        snprintf(path, cap, "%.*s/fixtures/" FIXTURE, (int)(slash - here),
                 here);
        FILE *f = fopen(path, "rb");
        if (f)
            return f;
    }
    static const char *const rel[] = {"tests/fixtures/", "../tests/fixtures/",
                                      "../../tests/fixtures/"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(path, cap, "%s" FIXTURE, rel[i]);
        FILE *f = fopen(path, "rb");
        if (f)
            return f;
    }
    return NULL;
}

static char *read_all(FILE *f)
{
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    REQUIRE(buf);
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            REQUIRE(buf);
        }
    }
    buf[len] = '\0';
    return buf;
}

/* Undoes the fixture escapes in place; "\N" alone is NULL. */
static char *unescape(char *s)
{
    if (!strcmp(s, "\\N"))
        return NULL;
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '\\' || !r[1]) {
            *w++ = *r;
            continue;
        }
        r++;
        *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
    }
    *w = '\0';
    return s;
}

/* Byte offset and column of the first difference. */
static void show_diff(const char *want, const char *got)
{
    size_t i = 0;
    while (want[i] && want[i] == got[i])
        i++;
    while (i > 0 && ((unsigned char)want[i] & 0xC0) == 0x80)
        i--; /* back to the start of the character */
    fprintf(stderr, "  first difference at byte %zu, column %zu\n", i,
            weft__utf8_width(want, i));
}

/* Checks every fixture line; with numeric_locale, formats under that
 * LC_NUMERIC (the fixtures themselves are read in the "C" locale). */
static void test_fixtures(const char *numeric_locale)
{
    char path[4096];
    FILE *f = open_fixture(path, sizeof path);
    if (!f) {
        fprintf(stderr, "cannot find fixtures/" FIXTURE " (set "
                        "WEFT_SOURCE_DIR to the source tree)\n");
        check_failures++;
        return;
    }
    char *text = read_all(f);
    fclose(f);

    int lineno = 0, count = 0, bad = 0;
    for (char *ln = text, *end; *ln; ln = end) {
        end = strchr(ln, '\n');
        if (end)
            *end++ = '\0';
        else
            end = ln + strlen(ln);
        lineno++;
        if (ln[0] == '#' || ln[0] == '\0')
            continue;
        char *fld[12];
        int nf = 0;
        for (char *p = ln; nf < 12; nf++) {
            fld[nf] = p;
            char *tab = strchr(p, '\t');
            if (!tab) {
                nf++;
                break;
            }
            *tab = '\0';
            p = tab + 1;
        }
        if (nf != 12) {
            fprintf(stderr, "%s:%d: %d fields, want 12\n", path, lineno, nf);
            check_failures++;
            continue;
        }
        weft__meter m = {
            .n = strtod(fld[0], NULL),
            .total = strtod(fld[1], NULL),
            .elapsed = strtod(fld[2], NULL),
            .rate = strtod(fld[3], NULL),
            .desc = unescape(fld[4]),
            .unit = unescape(fld[5]),
            .unit_scale = atoi(fld[6]),
            .unit_divisor = strtod(fld[7], NULL),
            .postfix = unescape(fld[8]),
            .ncols = atoi(fld[9]),
            .ascii = atoi(fld[10]),
        };
        const char *want = unescape(fld[11]);
        REQUIRE(want);
        char got[LINE_CAP];
        if (numeric_locale)
            setlocale(LC_NUMERIC, numeric_locale);
        size_t len = weft__meter_format(&m, got, sizeof got);
        if (numeric_locale)
            setlocale(LC_NUMERIC, "C");
        count++;
        if (len != strlen(want) || strcmp(got, want)) {
            if (++bad <= 10) {
                fprintf(stderr,
                        "%s:%d: n=%s total=%s elapsed=%s rate=%s desc=%s "
                        "unit=%s unit_scale=%s unit_divisor=%s postfix=%s "
                        "ncols=%s ascii=%s\n  want \"%s\"\n  got  \"%s\"\n",
                        path, lineno, fld[0], fld[1], fld[2], fld[3],
                        m.desc ? m.desc : "NULL", m.unit ? m.unit : "NULL",
                        fld[6], fld[7], m.postfix ? m.postfix : "NULL", fld[9],
                        fld[10], want, got);
                show_diff(want, got);
            }
            continue;
        }
        /* Cut short: the longest prefix ending on a character that fits. */
        size_t cap = len / 2 + 1;
        char small[LINE_CAP];
        size_t cut = weft__meter_format(&m, small, cap);
        uint32_t cp;
        size_t next = weft__utf8_next(want + cut, len - cut, &cp);
        if (cut >= cap || memcmp(small, want, cut) || small[cut] || !next ||
            cut + next < cap) {
            fprintf(stderr, "%s:%d: cap %zu gives \"%s\" (%zu bytes)\n", path,
                    lineno, cap, small, cut);
            bad++;
        }
    }
    free(text);
    if (bad)
        fprintf(stderr, "%d of %d fixture lines differ\n", bad, count);
    check_failures += bad;
    CHECK(count > 1000);
    printf("%d tqdm lines from %s (LC_NUMERIC %s)\n", count, path,
           numeric_locale ? numeric_locale : "C");
}

/* ------------------------------------------------------------ cases */

static void test_basics(void)
{
    weft__meter m = meter(2, 5, 2);
    m.desc = "desc";
    CHECK_LINE(m, "desc:  40%|████      | 2/5 [00:02<00:03,  1.00it/s]");
    m.ascii = 1;
    CHECK_LINE(m, "desc:  40%|####      | 2/5 [00:02<00:03,  1.00it/s]");
    m.ncols = 0;
    CHECK_LINE(m, "desc:  40% 2/5 [00:02<00:03,  1.00it/s]");
    m.ncols = 52; /* 41 columns of text: an 11-column bar */
    CHECK_LINE(m, "desc:  40%|####4      | 2/5 [00:02<00:03,  1.00it/s]");
    m.ncols = 51;
    CHECK_LINE(m, "desc:  40%|####      | 2/5 [00:02<00:03,  1.00it/s]");
    m.ncols = 10;
    CHECK_LINE(m, "desc:  40%");

    /* No total: one form, never trimmed (as tqdm). */
    m = meter(7, 0, 2);
    m.desc = "desc";
    m.ncols = 10;
    CHECK_LINE(m, "desc: 7it [00:02,  3.50it/s]");
    m.total = -5;
    CHECK_LINE(m, "desc: 7it [00:02,  3.50it/s]");
    m.total = 6.4; /* n >= total + 0.5: tqdm drops the total */
    CHECK_LINE(m, "desc: 7it [00:02,  3.50it/s]");
    m.total = 6.6;
    m.ncols = WEFT__METER_NCOLS_NONE;
    CHECK_LINE(m, "desc: 106%|██████████| 7/6.6 [00:02<00:00,  3.50it/s]");

    m = meter(3, 10, 2);
    m.rate = 0.666;
    m.postfix = "loss=0.1";
    CHECK_LINE(m, " 30%|███       | 3/10 [00:02<00:10,  1.50s/it, loss=0.1]");
    m.rate = 0;
    CHECK_LINE(m, " 30%|███       | 3/10 [00:02<?, ?it/s, loss=0.1]");
    m.elapsed = 3723;
    m.rate = NAN;
    m.unit = "B";
    m.unit_scale = 1;
    CHECK_LINE(m, " 30%|███       | 3.00/10.0 [1:02:03<2:24:47, 1.24ks/B, "
                  "loss=0.1]");

    /* unit_divisor that is not a positive number means 1000. */
    m = meter(1500, NAN, 1);
    m.unit_scale = 1;
    CHECK_LINE(m, "1.50kit [00:01, 1.50kit/s]");
    m.unit_divisor = NAN;
    CHECK_LINE(m, "1.50kit [00:01, 1.50kit/s]");
    m.unit_divisor = -1024;
    CHECK_LINE(m, "1.50kit [00:01, 1.50kit/s]");
    m.unit_divisor = 1024;
    CHECK_LINE(m, "1.46kit [00:01, 1.50kit/s]");

    char buf[4] = "xyz";
    CHECK_EQ(weft__meter_format(NULL, buf, sizeof buf), 0);
    CHECK(buf[0] == '\0');
}

static void test_neutralize(void)
{
    weft__meter m = meter(1, NAN, 1);
    m.desc = "a\x1b[31mred\x1b[0m";
    CHECK_LINE(m, "a?[31mred?[0m: 1it [00:01,  1.00it/s]");
    m.desc = "\t\r\n\x7f|\x01\x1f";
    CHECK_LINE(m, "????|??: 1it [00:01,  1.00it/s]");
    m.desc = "c1:\xc2\x9b\xc2\x80 bad:\xff\xfe\xe4\xb8 ok:\xe4\xb8\xad";
    CHECK_LINE(m, "c1:?? bad:???? ok:中: 1it [00:01,  1.00it/s]");
    m.desc = "";
    m.unit = "\x1b]0;x\x07";
    m.postfix = "\x1b[2J";
    CHECK_LINE(m, "1?]0;x? [00:01,  1.00?]0;x?/s, ?[2J]");

    /* Measured as printed: the line fills ncols exactly, as tqdm's does
     * for the text "?[1m". */
    m = meter(3, 7, 65);
    m.desc = "\x1b[1m";
    m.ncols = 60;
    char got[LINE_CAP];
    size_t len = weft__meter_format(&m, got, sizeof got);
    CHECK(!strcmp(got, "?[1m:  43%|████████▏          | 3/7 [01:05<01:26, "
                       "21.67s/it]"));
    CHECK_EQ(weft__utf8_width(got, len), 60);
    m.ncols = 40;
    CHECK_LINE(m, "?[1m:  43%|▍| 3/7 [01:05<01:26, 21.67s/i");
}

static void test_nonfinite(void)
{
    /* n unknown: the no-total form with "?" for n and the rate. */
    weft__meter m = meter(NAN, 5, 2);
    m.desc = "d";
    CHECK_LINE(m, "d: ?it [00:02, ?it/s]");
    m.n = INFINITY;
    CHECK_LINE(m, "d: ?it [00:02, ?it/s]");
    m.n = -INFINITY;
    m.unit_scale = 1;
    m.rate = 3;
    CHECK_LINE(m, "d: ?it [00:02, 3.00it/s]");

    /* total unknown */
    m = meter(2, NAN, 2);
    CHECK_LINE(m, "2it [00:02,  1.00it/s]");
    m.total = INFINITY;
    CHECK_LINE(m, "2it [00:02,  1.00it/s]");
    m.total = -INFINITY;
    CHECK_LINE(m, "2it [00:02,  1.00it/s]");

    /* elapsed unknown: no average rate either */
    m = meter(2, 5, NAN);
    CHECK_LINE(m, " 40%|████      | 2/5 [?<?, ?it/s]");
    m.elapsed = -INFINITY;
    m.rate = 2;
    CHECK_LINE(m, " 40%|████      | 2/5 [?<00:01,  2.00it/s]");

    /* rate NaN or infinite: the average, as for tqdm's rate=None */
    m = meter(2, 5, 2);
    m.rate = INFINITY;
    CHECK_LINE(m, " 40%|████      | 2/5 [00:02<00:03,  1.00it/s]");
    m.rate = -INFINITY;
    CHECK_LINE(m, " 40%|████      | 2/5 [00:02<00:03,  1.00it/s]");

    /* An interval past 2^63 s is "?"; the rate itself prints as tqdm's. */
    m = meter(0, 10, 1);
    m.rate = 1e-30;
    CHECK_LINE(m, "  0%|          | 0/10 [00:01<?, "
                  "999999999999999879147136483328.00s/it]");
    m = meter(0, 10, 1e19); /* tqdm: 2777777777777777:46:40 */
    CHECK_LINE(m, "  0%|          | 0/10 [?<?, ?it/s]");
    m.elapsed = 9.2e18;
    CHECK_LINE(m, "  0%|          | 0/10 [2555555555555555:33:20<?, ?it/s]");

    /* Negative values print as tqdm prints them. */
    m = meter(5, 10, -1.5);
    CHECK_LINE(m, " 50%|█████     | 5/10 [-1:59:59<-1:59:59, -3.33it/s]");
    m = meter(-0.0, 10, 0);
    CHECK_LINE(m, "  0%|          | 0/10 [00:00<?, ?it/s]");
}

/* Every cap from 0 to past the line: a terminated prefix ending on a
 * character, never a byte past cap (each buffer is malloc'd to its exact
 * size for the sanitizers). */
static void test_cap(void)
{
    weft__meter m = meter(3, 7, 65);
    m.desc = "整体任务进度";
    m.postfix = "状态=好";
    m.ncols = 70;
    char full[LINE_CAP];
    size_t full_len = weft__meter_format(&m, full, sizeof full);
    CHECK_EQ(weft__utf8_width(full, full_len), 70);

    CHECK_EQ(weft__meter_format(&m, NULL, 0), 0);
    for (size_t cap = 1; cap <= full_len + 2; cap++) {
        char *buf = malloc(cap);
        REQUIRE(buf);
        size_t len = weft__meter_format(&m, buf, cap);
        uint32_t cp;
        CHECK(len < cap);
        CHECK(buf[len] == '\0');
        CHECK(!memcmp(buf, full, len));
        if (cap > full_len)
            CHECK_EQ(len, full_len);
        else
            CHECK(len + weft__utf8_next(full + len, full_len - len, &cp) >=
                  cap);
        free(buf);
    }

    /* A huge ncols stops at the buffer, quickly. */
    m.ncols = INT_MAX;
    char big[256];
    size_t len = weft__meter_format(&m, big, sizeof big);
    CHECK(len <= sizeof big - 1 && len >= sizeof big - 3);
    const char *head = "整体任务进度:  43%|███";
    CHECK(!strncmp(big, head, strlen(head)));
}

/* tqdm prints "1.50", not "1,50", whatever the C locale says. */
static void test_locale(void)
{
    static const char *const names[] = {"de_DE.UTF-8", "fr_FR.UTF-8",
                                        "de_DE.utf8", "ru_RU.UTF-8"};
    const char *set = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !set; i++)
        set = setlocale(LC_NUMERIC, names[i]);
    if (!set) {
        printf("no locale with a decimal comma here: locale cases not run\n");
        return;
    }
    CHECK(!strcmp(localeconv()->decimal_point, ","));
    weft__meter m = meter(2.5, 10, 3723);
    m.rate = 0.4;
    m.unit_scale = 0;
    CHECK_LINE(m, " 25%|██▌       | 2.5/10 [1:02:03<00:18,  2.50s/it]");
    m.n = 1.5e-5;
    CHECK_LINE(m, "  0%|          | 1.5e-05/10 [1:02:03<00:24,  2.50s/it]");
    m.n = 2500;
    m.total = 1e4;
    m.unit_scale = 1;
    CHECK_LINE(m, " 25%|██▌       | 2.50k/10.0k [1:02:03<5:12:30, 2.50s/it]");
    char name[64];
    snprintf(name, sizeof name, "%s", set);
    setlocale(LC_NUMERIC, "C");
    test_fixtures(name);
}

static void case_width(void *arg)
{
    (void)arg;
    test_width();
}

static void case_utf8_next(void *arg)
{
    (void)arg;
    test_utf8_next();
}

static void case_trim(void *arg)
{
    (void)arg;
    test_trim();
}

static void case_basics(void *arg)
{
    (void)arg;
    test_basics();
}

static void case_neutralize(void *arg)
{
    (void)arg;
    test_neutralize();
}

static void case_nonfinite(void *arg)
{
    (void)arg;
    test_nonfinite();
}

static void case_cap(void *arg)
{
    (void)arg;
    test_cap();
}

static void case_locale(void *arg)
{
    (void)arg;
    test_locale();
}

static void case_fixtures(void *arg)
{
    (void)arg;
    test_fixtures(NULL);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("width", case_width, NULL),
    CHECK_PLAIN("utf8_next", case_utf8_next, NULL),
    CHECK_PLAIN("trim", case_trim, NULL),
    CHECK_PLAIN("fixtures", case_fixtures, NULL),
    CHECK_PLAIN("basics", case_basics, NULL),
    CHECK_PLAIN("neutralize", case_neutralize, NULL),
    CHECK_PLAIN("nonfinite", case_nonfinite, NULL),
    CHECK_PLAIN("cap", case_cap, NULL),
    CHECK_PLAIN("locale", case_locale, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

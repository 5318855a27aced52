/*
 * vt.h - a tiny terminal emulator for the progress-bar tests: what a person
 * would see on the screen, given every byte a program wrote to it.
 *
 * The screen is a grid of rows x cols cells, each holding one UTF-8
 * character.  Understood:
 * - printable UTF-8; East Asian wide characters (CJK, Hangul, fullwidth
 *   forms - enough for the tests' own strings) take two cells;
 * - "\r" (to column 0), "\n" (one row down, same column - the pty's output
 *   processing is off - or to column 0 too with onlcr set, as a terminal
 *   with ONLCR shows it; at the bottom the screen scrolls and the top row
 *   goes to the history);
 * - ESC [ K and ESC [ 0 K (erase to the end of the row), ESC [ J (erase
 *   from the cursor to the end of the screen) and ESC [ n A
 *   (n rows up, n >= 1, default 1).
 * Anything else is an error, and so is moving above the top row: an
 * unexpected byte fails the test rather than being guessed at.  Writing
 * past the right margin is an error too (the line would wrap, and the block
 * of bars would drift), unless `autowrap` is set: then the terminal wraps as
 * xterm and tmux do - writing the last column leaves the cursor past it
 * (col == cols), and only the next printable character goes to the start of
 * the next row.  There, an erase (ESC [ K, ESC [ J) is an error: xterm
 * clears the last cell and tmux does not, so output that does it looks
 * different on different terminals.
 * The first error is kept with its offset.
 *
 * Frames: a redraw of a block of bars, and a line written above them, start
 * with a "\r" on the block's first line, where the screen is whole; the
 * other lines of a redraw start with "\n\r".  So a frame ends at each "\r"
 * that does not directly follow a "\n": on_frame, if set, is called there
 * (before the "\r" moves the cursor), so tests can check what the screen
 * shows between redraws.  The end of the output (vt_finish) ends the last
 * frame.
 *
 * Everything is static inline: each test includes this header and uses what
 * it needs.
 */
#ifndef WEFT_TEST_VT_H
#define WEFT_TEST_VT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VT_MAX_ROWS 64
#define VT_MAX_COLS 200
#define VT_LINE_MAX (VT_MAX_COLS * 4 + 1)

typedef struct vt_cell {
    char ch[5];         /* UTF-8, "" for a blank cell */
    unsigned char half; /* 0: narrow, 1: left half of a wide char, 2: right */
} vt_cell;

typedef struct vt {
    int rows, cols;
    vt_cell cell[VT_MAX_ROWS][VT_MAX_COLS];
    int row, col; /* cursor; col == cols: past the last column */
    char **history; /* rows scrolled off the top, oldest first */
    size_t nhistory, caphistory;
    char err[256];  /* first error, "" if none */
    size_t offset;  /* bytes fed so far */
    int state;      /* 0 ground, 1 after ESC, 2 in CSI */
    char csi[32];
    size_t ncsi;
    unsigned char utf[4];
    int utf_len, utf_need;
    int onlcr;         /* "\n" also returns to column 0 (a tty's ONLCR) */
    int autowrap;      /* wrap at the right margin instead of failing */
    int after_lf;      /* the last byte was "\n" */
    size_t frames, n_cr, n_lf, n_esc;
    void (*on_frame)(struct vt *, void *);
    void *ctx;
} vt;

static inline int vt_cp_width(uint32_t cp)
{
    static const uint32_t wide[][2] = {
        {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},
        {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
        {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE30, 0xFE4F},
        {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
        {0x20000, 0x3FFFD},
    };
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (cp >= wide[i][0] && cp <= wide[i][1])
            return 2;
    return 1;
}

/* Display width of a UTF-8 string by the same rule (invalid bytes: 1). */
static inline int vt_str_width(const char *s)
{
    int w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = *p;
        int n = 1;
        if (*p >= 0xF0)
            cp = *p & 0x07, n = 4;
        else if (*p >= 0xE0)
            cp = *p & 0x0F, n = 3;
        else if (*p >= 0xC0)
            cp = *p & 0x1F, n = 2;
        for (int i = 1; i < n && p[i]; i++)
            cp = cp << 6 | (p[i] & 0x3F);
        w += vt_cp_width(cp);
        for (int i = 0; i < n && *p; i++)
            p++;
    }
    return w;
}

static inline void vt_init(vt *t, int rows, int cols)
{
    memset(t, 0, sizeof *t);
    t->rows = rows < VT_MAX_ROWS ? rows : VT_MAX_ROWS;
    t->cols = cols < VT_MAX_COLS ? cols : VT_MAX_COLS;
}

static inline void vt_free(vt *t)
{
    for (size_t i = 0; i < t->nhistory; i++)
        free(t->history[i]);
    free(t->history);
    t->history = NULL;
    t->nhistory = t->caphistory = 0;
}

static inline void vt_fail(vt *t, const char *what, unsigned byte)
{
    if (!t->err[0])
        snprintf(t->err, sizeof t->err,
                 "%s (byte 0x%02x at offset %zu, cursor row %d col %d)",
                 what, byte, t->offset, t->row, t->col);
}

/* The text of a row, trailing blanks dropped; returns its width in
 * columns (the last non-blank column + 1). */
static inline int vt_row(const vt *t, int r, char *out, size_t cap)
{
    size_t len = 0;
    int width = 0;
    out[0] = '\0';
    for (int c = 0; c < t->cols; c++) {
        const vt_cell *k = &t->cell[r][c];
        if (k->half == 2)
            continue;
        const char *s = k->ch[0] ? k->ch : " ";
        size_t n = strlen(s);
        if (len + n + 1 > cap)
            break;
        memcpy(out + len, s, n);
        len += n;
        out[len] = '\0';
        if (strcmp(s, " ") != 0) {
            width = c + (k->half == 1 ? 2 : 1);
        }
    }
    /* trim to the last non-blank character */
    while (len > 0 && out[len - 1] == ' ')
        out[--len] = '\0';
    return width;
}

static inline int vt_row_blank(const vt *t, int r)
{
    char line[VT_LINE_MAX];
    return vt_row(t, r, line, sizeof line) == 0;
}

static inline void vt_scroll(vt *t)
{
    char line[VT_LINE_MAX];
    vt_row(t, 0, line, sizeof line);
    if (t->nhistory == t->caphistory) {
        size_t cap = t->caphistory ? 2 * t->caphistory : 64;
        char **h = realloc(t->history, cap * sizeof *h);
        if (!h) {
            vt_fail(t, "out of memory", 0);
            return;
        }
        t->history = h;
        t->caphistory = cap;
    }
    t->history[t->nhistory] = strdup(line);
    if (!t->history[t->nhistory]) {
        vt_fail(t, "out of memory", 0);
        return;
    }
    t->nhistory++;
    memmove(&t->cell[0], &t->cell[1],
            (size_t)(t->rows - 1) * sizeof t->cell[0]);
    memset(&t->cell[t->rows - 1], 0, sizeof t->cell[0]);
}

/* Clears a cell, and the other half of a wide character it is part of. */
static inline void vt_clear_cell(vt *t, int r, int c)
{
    vt_cell *k = &t->cell[r][c];
    if (k->half == 1 && c + 1 < t->cols)
        memset(&t->cell[r][c + 1], 0, sizeof *k);
    if (k->half == 2 && c > 0)
        memset(&t->cell[r][c - 1], 0, sizeof *k);
    memset(k, 0, sizeof *k);
}

static inline void vt_put_char(vt *t, const unsigned char *s, int n, uint32_t cp)
{
    int w = vt_cp_width(cp);
    if (t->col + w > t->cols && t->autowrap) {
        if (t->row + 1 == t->rows)
            vt_scroll(t);
        else
            t->row++;
        t->col = 0;
    }
    if (t->col + w > t->cols) {
        vt_fail(t, "text past the right margin (the line would wrap)",
                s[0]);
        return;
    }
    vt_clear_cell(t, t->row, t->col);
    if (w == 2)
        vt_clear_cell(t, t->row, t->col + 1);
    vt_cell *k = &t->cell[t->row][t->col];
    memcpy(k->ch, s, (size_t)n);
    k->ch[n] = '\0';
    k->half = w == 2 ? 1 : 0;
    if (w == 2) {
        t->cell[t->row][t->col + 1].ch[0] = '\0';
        t->cell[t->row][t->col + 1].half = 2;
    }
    t->col += w;
}

static inline void vt_csi(vt *t, unsigned char final)
{
    t->csi[t->ncsi] = '\0';
    for (size_t i = 0; i < t->ncsi; i++)
        if (t->csi[i] < '0' || t->csi[i] > '9') {
            vt_fail(t, "unexpected CSI parameter", (unsigned char)t->csi[i]);
            return;
        }
    long n = t->ncsi ? strtol(t->csi, NULL, 10) : -1;
    if ((final == 'K' || final == 'J') && t->col >= t->cols) {
        vt_fail(t,
                "erase with the cursor past the last column (xterm "
                "clears the last cell, tmux does not)",
                final);
        return;
    }
    if (final == 'K') {
        if (n > 0) {
            vt_fail(t, "unexpected ESC [ n K (only erase to end of line)",
                    final);
            return;
        }
        for (int c = t->col; c < t->cols; c++)
            vt_clear_cell(t, t->row, c);
    } else if (final == 'J') {
        if (n > 0) {
            vt_fail(t, "unexpected ESC [ n J (only erase below)", final);
            return;
        }
        for (int c = t->col; c < t->cols; c++)
            vt_clear_cell(t, t->row, c);
        for (int r = t->row + 1; r < t->rows; r++)
            for (int c = 0; c < t->cols; c++)
                vt_clear_cell(t, r, c);
    } else if (final == 'A') {
        if (n == 0) {
            vt_fail(t, "ESC [ 0 A", final);
            return;
        }
        if (n < 0)
            n = 1;
        if (n > t->row) {
            vt_fail(t, "cursor up past the top of the screen", final);
            return;
        }
        t->row -= (int)n;
        if (t->col >= t->cols)
            t->col = t->cols - 1;
    } else {
        vt_fail(t, "unexpected escape sequence", final);
        return;
    }
}

static inline void vt_byte(vt *t, unsigned char b)
{
    if (t->state == 1) { /* after ESC */
        if (b == '[') {
            t->state = 2;
            t->ncsi = 0;
        } else {
            vt_fail(t, "unexpected byte after ESC", b);
            t->state = 0;
        }
        return;
    }
    if (t->state == 2) { /* in CSI */
        if (b >= 0x40 && b <= 0x7E) {
            t->state = 0;
            vt_csi(t, b);
        } else if (b >= 0x20 && b <= 0x3F && t->ncsi + 1 < sizeof t->csi) {
            t->csi[t->ncsi++] = (char)b;
        } else {
            vt_fail(t, "malformed CSI sequence", b);
            t->state = 0;
        }
        return;
    }
    if (t->utf_need) {
        if ((b & 0xC0) != 0x80) {
            vt_fail(t, "invalid UTF-8 (missing continuation byte)", b);
            t->utf_need = 0;
            return;
        }
        t->utf[t->utf_len++] = b;
        if (--t->utf_need)
            return;
        uint32_t cp;
        int n = t->utf_len;
        if (n == 2)
            cp = (uint32_t)(t->utf[0] & 0x1F) << 6 | (t->utf[1] & 0x3F);
        else if (n == 3)
            cp = (uint32_t)(t->utf[0] & 0x0F) << 12 |
                 (uint32_t)(t->utf[1] & 0x3F) << 6 | (t->utf[2] & 0x3F);
        else
            cp = (uint32_t)(t->utf[0] & 0x07) << 18 |
                 (uint32_t)(t->utf[1] & 0x3F) << 12 |
                 (uint32_t)(t->utf[2] & 0x3F) << 6 | (t->utf[3] & 0x3F);
        uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            vt_fail(t, "invalid UTF-8 (overlong or out of range)", t->utf[0]);
        else if (cp < 0xA0)
            vt_fail(t, "C1 control character", t->utf[0]);
        else
            vt_put_char(t, t->utf, n, cp);
        return;
    }
    if (b == 0x1B) {
        t->state = 1;
        t->n_esc++;
        return;
    }
    int after_lf = t->after_lf;
    t->after_lf = b == '\n';
    if (b == '\r') {
        t->n_cr++;
        if (!after_lf) {
            t->frames++;
            if (t->on_frame)
                t->on_frame(t, t->ctx);
        }
        t->col = 0;
        return;
    }
    if (b == '\n') {
        t->n_lf++;
        if (t->row + 1 == t->rows)
            vt_scroll(t);
        else
            t->row++;
        if (t->col >= t->cols)
            t->col = t->cols - 1;
        if (t->onlcr)
            t->col = 0;
        return;
    }
    if (b < 0x20 || b == 0x7F) {
        vt_fail(t, "unexpected control character", b);
        return;
    }
    if (b < 0x80) {
        vt_put_char(t, &b, 1, b);
        return;
    }
    t->utf_len = 1;
    t->utf[0] = b;
    if (b >= 0xC2 && b <= 0xDF)
        t->utf_need = 1;
    else if (b >= 0xE0 && b <= 0xEF)
        t->utf_need = 2;
    else if (b >= 0xF0 && b <= 0xF4)
        t->utf_need = 3;
    else
        vt_fail(t, "invalid UTF-8 lead byte", b);
}

static inline void vt_feed(vt *t, const char *buf, size_t len)
{
    for (size_t i = 0; i < len && !t->err[0]; i++) {
        vt_byte(t, (unsigned char)buf[i]);
        t->offset++;
    }
}

/* Whether the stream ended cleanly (not inside a sequence or character);
 * the end of the output ends the last frame. */
static inline void vt_finish(vt *t)
{
    if (t->state)
        vt_fail(t, "output ends inside an escape sequence", 0);
    if (t->utf_need)
        vt_fail(t, "output ends inside a UTF-8 character", 0);
    if (!t->err[0]) {
        t->frames++;
        if (t->on_frame)
            t->on_frame(t, t->ctx);
    }
}

static inline void vt_dump(const vt *t, FILE *f)
{
    char line[VT_LINE_MAX];
    fprintf(f, "---- screen (%dx%d, cursor %d,%d, %zu history rows) ----\n",
            t->rows, t->cols, t->row, t->col, t->nhistory);
    for (size_t i = 0; i < t->nhistory; i++)
        fprintf(f, "  h| %s\n", t->history[i]);
    for (int r = 0; r < t->rows; r++) {
        vt_row(t, r, line, sizeof line);
        fprintf(f, "%3d| %s\n", r, line);
    }
    if (t->err[0])
        fprintf(f, "error: %s\n", t->err);
    fprintf(f, "----\n");
}

/* Prints raw output with escapes visible, for failure reports. */
static inline void vt_dump_raw(const char *buf, size_t len, FILE *f)
{
    fprintf(f, "---- raw output (%zu bytes) ----\n", len);
    size_t shown = len > 6000 ? 6000 : len;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n')
            fputs("\\n\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == 0x1B)
            fputs("\\e", f);
        else if (c < 0x20 || c == 0x7F)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    if (shown < len)
        fprintf(f, "... (%zu more bytes)", len - shown);
    fprintf(f, "\n----\n");
}

/* ---- tqdm lines, parsed back ----
 *
 *   desc: 40%|████      | 2/5 [00:02<00:03,  1.00it/s, postfix]
 *   desc: 7it [00:02,  3.50it/s]
 */
typedef struct vt_bar {
    char desc[512];     /* before ": " ("" if none) */
    int has_desc;
    int has_total;      /* the first form */
    int pct;
    char bar[VT_LINE_MAX]; /* between the '|' */
    int bar_cols;
    long long n, total;
    char elapsed[32], remaining[32];
    double rate;        /* -1 for "?" */
    char unit[32];      /* "it/s" or "s/it" */
    char postfix[256];
} vt_bar;

static inline int vt_time_ok(const char *s)
{
    int a, b, c, k = 0;
    if (!strcmp(s, "?"))
        return 1;
    if (sscanf(s, "%2d:%2d%n", &a, &b, &k) == 2 && k == 5 && !s[k] &&
        s[2] == ':' && b < 60)
        return 1;
    k = 0;
    return sscanf(s, "%d:%2d:%2d%n", &a, &b, &c, &k) == 3 && !s[k] &&
           b < 60 && c < 60;
}

/* Copies s[0..n) into dst (cap bytes); 0 if it does not fit. */
static inline int vt_copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return 0;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 1;
}

/* "[ 1.23it/s, postfix]" part after the time(s): rate, unit, postfix. */
static inline int vt_parse_tail(const char *s, vt_bar *p)
{
    const char *end = s + strlen(s);
    if (end == s || end[-1] != ']')
        return 0;
    const char *u = s;
    while (*u == ' ')
        u++;
    if (*u == '?') {
        p->rate = -1;
        u++;
    } else {
        char *e;
        p->rate = strtod(u, &e);
        if (e == u || e[-3] != '.') /* two decimals, "{:5.2f}" */
            return 0;
        if (e - s < 5) /* right-aligned in at least 5 columns */
            return 0;
        u = e;
    }
    if (!strncmp(u, "it/s", 4) || !strncmp(u, "s/it", 4)) {
        vt_copy(p->unit, sizeof p->unit, u, 4);
        u += 4;
    } else {
        return 0;
    }
    if (u == end - 1)
        return 1;
    if (strncmp(u, ", ", 2))
        return 0;
    return vt_copy(p->postfix, sizeof p->postfix, u + 2,
                   (size_t)(end - 1 - (u + 2)));
}

/* Parses a bar line; 1 if it has the tqdm form. */
static inline int vt_parse_bar(const char *s, vt_bar *p)
{
    memset(p, 0, sizeof *p);
    const char *pc = strstr(s, "%|");
    if (pc) {
        p->has_total = 1;
        if (pc - s < 3)
            return 0;
        const char *pf = pc - 3;
        char pct[4] = {pf[0], pf[1], pf[2], 0};
        char *e;
        p->pct = (int)strtol(pct, &e, 10);
        if (*e || pct[2] == ' ')
            return 0;
        if (pf > s) {
            if (pf - s < 2 || strncmp(pf - 2, ": ", 2))
                return 0;
            p->has_desc = 1;
            if (!vt_copy(p->desc, sizeof p->desc, s, (size_t)(pf - 2 - s)))
                return 0;
        }
        const char *b = pc + 2, *be = strstr(b, "| ");
        if (!be || !vt_copy(p->bar, sizeof p->bar, b, (size_t)(be - b)))
            return 0;
        p->bar_cols = vt_str_width(p->bar);
        int k = 0;
        if (sscanf(be + 2, "%lld/%lld [%n", &p->n, &p->total, &k) != 2 || !k)
            return 0;
        const char *t = be + 2 + k, *lt = strchr(t, '<');
        if (!lt || !vt_copy(p->elapsed, sizeof p->elapsed, t,
                            (size_t)(lt - t)))
            return 0;
        const char *cm = strstr(lt + 1, ", ");
        if (!cm || !vt_copy(p->remaining, sizeof p->remaining, lt + 1,
                            (size_t)(cm - lt - 1)))
            return 0;
        if (!vt_time_ok(p->elapsed) || !vt_time_ok(p->remaining))
            return 0;
        return vt_parse_tail(cm + 2, p);
    }
    const char *br = strstr(s, " [");
    if (!br)
        return 0;
    const char *h = s, *colon = NULL;
    for (const char *q = s; q + 1 < br; q++)
        if (q[0] == ':' && q[1] == ' ')
            colon = q;
    if (colon) {
        p->has_desc = 1;
        if (!vt_copy(p->desc, sizeof p->desc, s, (size_t)(colon - s)))
            return 0;
        h = colon + 2;
    }
    char *e;
    p->n = strtoll(h, &e, 10);
    if (e == h || strncmp(e, "it [", 4))
        return 0;
    const char *t = e + 4, *cm = strstr(t, ", ");
    if (!cm || !vt_copy(p->elapsed, sizeof p->elapsed, t, (size_t)(cm - t)))
        return 0;
    if (!vt_time_ok(p->elapsed))
        return 0;
    return vt_parse_tail(cm + 2, p);
}

/* The bar tqdm draws for n/total in len columns. */
static inline void vt_expected_bar(long long n, long long total, int len, int ascii,
                            char *out, size_t cap)
{
    static const char *const utf[] = {" ", "▏", "▎", "▍", "▌",
                                      "▋", "▊", "▉", "█"};
    static const char *const asc[] = {" ", "1", "2", "3", "4", "5",
                                      "6", "7", "8", "9", "#"};
    const char *const *set = ascii ? asc : utf;
    int nsyms = ascii ? 10 : 8;
    double frac = (double)n / (double)total;
    if (frac > 1)
        frac = 1;
    long long k = (long long)(frac * len * nsyms);
    long long full = k / nsyms;
    out[0] = '\0';
    size_t used = 0;
    for (long long i = 0; i < len; i++) {
        const char *c = i < full ? set[nsyms] : i == full ? set[k % nsyms]
                                                          : " ";
        size_t m = strlen(c);
        if (used + m + 1 > cap)
            break;
        memcpy(out + used, c, m + 1);
        used += m;
    }
}

#endif

/*
 * width.h - display width of UTF-8 text in terminal columns, counted the way
 * tqdm counts it (tqdm.utils.disp_len).
 *
 * tqdm gives a character 2 columns if its Unicode East_Asian_Width is W
 * (wide) or F (fullwidth), and 1 column otherwise: combining marks, zero
 * width and control characters count 1 too.  This module does exactly that,
 * from a table embedded in width.c, so the result never depends on the
 * locale (wcwidth does).
 *
 * Invariants:
 * - a byte that does not start a valid UTF-8 sequence (stray continuation
 *   byte, overlong form, surrogate, code point past U+10FFFF, truncated
 *   sequence) is one unit of its own, 1 column wide;
 * - so every unit is 1 or 2 columns, and the width of a prefix never
 *   exceeds the width of the whole.
 * Every function reads exactly len bytes (NUL bytes included) and needs no
 * terminator; s may be NULL when len is 0.
 */
#ifndef WEFT_PROGRESS_WIDTH_H
#define WEFT_PROGRESS_WIDTH_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the character at s (len > 0 bytes).  Returns the length of its
 * valid UTF-8 sequence (1 to 4) and stores the code point in *cp, or returns
 * 0 if s[0] starts no valid sequence (*cp is then untouched). */
size_t weft__utf8_next(const char *s, size_t len, uint32_t *cp);

/* Columns of one code point: 2 if East_Asian_Width is W or F, else 1. */
int weft__cp_width(uint32_t cp);

/* Columns of the len bytes at s. */
size_t weft__utf8_width(const char *s, size_t len);

/* Byte length of the longest prefix of s that is at most max_cols columns
 * wide; it never ends inside a character.  If cols is not NULL it receives
 * the prefix's width. */
size_t weft__utf8_trim(const char *s, size_t len, size_t max_cols,
                       size_t *cols);

#endif

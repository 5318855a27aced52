/*
 * test_strerror.c - weft_strerror has weft's own words for every error
 * code the public headers document.
 *
 * Reads include/weft.h and the headers under include/weft/ (from
 * WEFT_INCLUDE_DIR, set by the build), collects every "-Exxx" they mention
 * and checks that weft_strerror gives each a text of its own: not NULL, not
 * "unknown error", and not the C library's description (strerrordesc_np), which
 * speaks of the system ("Cannot send after transport endpoint shutdown")
 * rather than of what weft's call meant.  A name the test cannot map to a
 * number (a typo in a header) fails too.  Codes no header documents (those
 * passed on from the system) keep the C library's description; 0 is
 * "success".
 */
#define _GNU_SOURCE
#include "check.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#ifndef WEFT_INCLUDE_DIR
#error "WEFT_INCLUDE_DIR must name the public headers' directory"
#endif

/* The errno names the C library does not give back for a number, because
 * they share it with another name. */
static const struct {
    const char *name;
    int code;
} aliases[] = {
    {"ENOTSUP", ENOTSUP},
    {"EWOULDBLOCK", EWOULDBLOCK},
    {"EDEADLOCK", EDEADLOCK},
};

static int errno_of(const char *name)
{
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(aliases[i].name, name) == 0)
            return aliases[i].code;
    for (int e = 1; e < 4096; e++) {
        const char *n = strerrorname_np(e);
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return 0;
}

#define MAX_NAMES 256
static char names[MAX_NAMES][32];
static int n_names;

static void note(const char *name)
{
    for (int i = 0; i < n_names; i++)
        if (strcmp(names[i], name) == 0)
            return;
    REQUIRE(n_names < MAX_NAMES);
    snprintf(names[n_names++], sizeof names[0], "%s", name);
}

/* Every "-E" followed by capitals and digits in the file. */
static void scan(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        CHECK(0);
        return;
    }
    int c, prev = 0;
    while ((c = getc(f)) != EOF) {
        if (prev == '-' && c == 'E') {
            char name[32] = "E";
            size_t n = 1;
            while ((c = getc(f)) != EOF && (isupper(c) || isdigit(c)))
                if (n < sizeof name - 1)
                    name[n++] = (char)c;
            name[n] = '\0';
            if (n > 2)
                note(name);
        }
        prev = c;
    }
    fclose(f);
}

static void scan_headers(void)
{
    scan(WEFT_INCLUDE_DIR "/weft.h");
    DIR *d = opendir(WEFT_INCLUDE_DIR "/weft");
    REQUIRE(d != NULL);
    struct dirent *e;
    int headers = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".h") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/weft/%s", WEFT_INCLUDE_DIR, e->d_name);
        scan(path);
        headers++;
    }
    closedir(d);
    CHECK(headers > 5);
}

/* Every documented code has weft's words. */
static void case_documented(void *arg)
{
    (void)arg;
    scan_headers();
    /* The headers name at least the codes every call documents. */
    CHECK(n_names >= 10);
    int missing = 0;
    for (int i = 0; i < n_names; i++) {
        int e = errno_of(names[i]);
        if (!e) {
            fprintf(stderr, "-%s: not an errno name this test knows\n",
                    names[i]);
            CHECK(0);
            continue;
        }
        const char *w = weft_strerror(-e);
        const char *libc = strerrordesc_np(e);
        if (!w || strcmp(w, "unknown error") == 0 ||
            (libc && strcmp(w, libc) == 0)) {
            fprintf(stderr,
                    "-%s: weft_strerror gives \"%s\", not weft's "
                    "own text\n",
                    names[i], w ? w : "(null)");
            missing++;
        }
    }
    CHECK_EQ(missing, 0);
    printf("%d documented codes, each with weft's own text\n", n_names);
}

/* Other codes. */
static void case_other(void *arg)
{
    (void)arg;
    CHECK(strcmp(weft_strerror(0), "success") == 0);
    /* A code no header documents: the C library's description. */
    CHECK(strcmp(weft_strerror(-EXDEV), strerrordesc_np(EXDEV)) == 0);
    /* Not an error code at all; INT_MIN cannot be negated (UBSan). */
    CHECK(strcmp(weft_strerror(1), "unknown error") == 0);
    CHECK(strcmp(weft_strerror(-100000), "unknown error") == 0);
    CHECK(strcmp(weft_strerror(INT_MIN), "unknown error") == 0);
    CHECK(strcmp(weft_strerror(INT_MAX), "unknown error") == 0);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("every_documented_code", case_documented, NULL),
    CHECK_PLAIN("other_codes", case_other, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

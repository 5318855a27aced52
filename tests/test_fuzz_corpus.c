/*
 * test_fuzz_corpus.c - the fuzz targets' inputs replayed in an ordinary
 * build (any compiler, no libFuzzer): every file of fuzz/corpus/stream/
 * through fuzz/fuzz_stream.c's entry point, then scripts from a fixed
 * pseudo-random sequence.  The target abort()s on any violation of its
 * oracle; here each input is a named case under the harness's alarm, and
 * check_end checks for leaks over all of them.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#ifndef WEFT_FUZZ_CORPUS
#error "WEFT_FUZZ_CORPUS (the corpus directory) must be defined"
#endif

#define INPUT_CAP (70 * 1024)
#define RANDOM_SCRIPTS 200

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

static uint8_t input[INPUT_CAP];

/* WEFT_FUZZ_LAST=path: each input is written there before it runs, so the
 * one that aborted can be replayed (fuzz_stream path) and kept. */
static void save_input(size_t n)
{
    const char *path = getenv("WEFT_FUZZ_LAST");
    FILE *f = path ? fopen(path, "wb") : NULL;
    if (f) {
        fwrite(input, 1, n, f);
        fclose(f);
    }
}

static void input_case(void *arg)
{
    size_t n = *(size_t *)arg;
    save_input(n);
    LLVMFuzzerTestOneInput(input, n); /* aborts on a violation */
}

/* Runs input[0..n) as case `name` (input holds it before the case runs,
 * so a forked case's child has it too). */
static void run_input(const char *name, size_t n)
{
    struct check_case_def c = {name, NULL, input_case,      &n,
                               0,    0,    CHECK_CASE_ALARM};
    check_run_case(&c);
}

static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        REQUIRE(f);
        size_t n = fread(input, 1, sizeof input, f);
        fclose(f);
        char name[300];
        snprintf(name, sizeof name, "stream/%s", e->d_name);
        run_input(name, n);
        count++;
    }
    closedir(d);
    return count;
}

/* xorshift64: the same scripts on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
    return check_xorshift(&rng);
}

/* A script header that favours small limits and chunks, then data drawn
 * from a small alphabet so that separators occur. */
static size_t random_script(void)
{
    size_t n = 0;
    input[n++] = (uint8_t)(next() & 3);
    for (int i = 0; i < 4; i++)
        input[n++] = (uint8_t)("\n\r:ab"[next() % 5]);
    size_t limit = next() % 3 ? 1 + next() % 300 : 0;
    input[n++] = (uint8_t)limit;
    input[n++] = (uint8_t)(limit >> 8);
    input[n++] = (uint8_t)(next() % 16);
    for (int i = 0; i < 15; i++) {
        size_t k = 1 + next() % (next() % 2 ? 8 : 2000);
        input[n++] = (uint8_t)k;
        input[n++] = (uint8_t)(k >> 8);
        input[n++] = (uint8_t)next();
    }
    input[n++] = (uint8_t)(next() % 32);
    for (int i = 0; i < 31; i++) {
        size_t k = next() % (next() % 2 ? 16 : 1000);
        input[n++] = (uint8_t)next();
        input[n++] = (uint8_t)k;
        input[n++] = (uint8_t)(k >> 8);
    }
    size_t len = next() % (next() % 8 ? 2000 : 20000);
    for (size_t i = 0; i < len; i++)
        input[n++] = (uint8_t)("\n\r:ab xyz"[next() % 9]);
    return n;
}

int main(void)
{
    check_begin();
    int files = replay_dir(WEFT_FUZZ_CORPUS "/stream");
    CHECK(files > 0);
    for (int i = 0; i < RANDOM_SCRIPTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "random/%d", i);
        run_input(name, random_script());
    }
    return check_end();
}

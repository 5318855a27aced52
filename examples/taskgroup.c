/*
 * taskgroup.c - structured concurrency, following asyncio.TaskGroup,
 * asyncio.as_completed and asyncio.wait: tasks spawned into a group are all
 * joined by weft_group_wait, and a failure cancels the rest and is kept with
 * its message; a task set hands tasks back in the order they finish; and
 * weft_wait waits for the first of several.  Runs in about a tenth of a
 * second.
 *
 * The "downloads" are sleeps of a few hundredths of a second.
 */
#include "weft.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

/* An error code's name, for printing. */
static const char *code_name(int rc)
{
    switch (rc) {
    case 0:
        return "0";
    case -ECANCELED:
        return "-ECANCELED";
    case -ECONNRESET:
        return "-ECONNRESET";
    default:
        return weft_strerror(rc);
    }
}

typedef struct file {
    const char *name;
    double seconds; /* how long it takes to download */
} file;

/* async def download(f): await asyncio.sleep(f.seconds); return f.name */
static void *download(void *arg)
{
    file *f = arg;
    int rc = weft_sleep(f->seconds);
    if (rc != 0) {
        printf("   %s: stopped, %s\n", f->name, code_name(rc));
        return NULL;
    }
    printf("   %s: downloaded\n", f->name);
    return (void *)f->name;
}

/* The same, without a line of its own. */
static void *fetch(void *arg)
{
    file *f = arg;
    int rc = weft_sleep(f->seconds);
    return rc == 0 ? (void *)f->name : NULL;
}

/* 1. async with asyncio.TaskGroup() as tg: tg.create_task(download(f)) */
static void all_succeed(void)
{
    printf("1. three downloads in a task group\n");
    static file files[] = {{"a.txt", 0.03}, {"b.txt", 0.01}, {"c.txt", 0.02}};
    weft_group *g;
    weft_group_new(&g); /* async with asyncio.TaskGroup() as tg: */
    for (int i = 0; i < 3; i++)
        weft_group_spawn(g, download, &files[i], NULL); /* tg.create_task */
    int rc = weft_group_wait(g); /* the end of the `async with` block */
    /* They ran at once: they finished in order of length, not of spawning. */
    printf("   weft_group_wait returned %s: all three finished\n",
           code_name(rc));
    weft_group_free(g);
}

/* A mirror that goes down: every transfer from it fails at that moment. */
static weft_event mirror_down = WEFT_EVENT_INIT;

static void *from_mirror(void *arg)
{
    file *f = arg;
    int rc = weft_event_wait(&mirror_down);
    if (rc != 0)
        return NULL;
    printf("   %s: connection reset\n", f->name);
    return weft_fail(-ECONNRESET, "%s: connection reset by the mirror",
                     f->name);
}

/* 2. A child fails: the group cancels the others, and every failure is
 * kept with its message (asyncio raises an ExceptionGroup holding them
 * all; a child the group cancelled is not a failure). */
static void some_fail(void)
{
    printf("2. a task group where two downloads fail\n");
    static file small = {"small.txt", 0.01}, big = {"big.iso", 10};
    static file c = {"c.dat", 0}, d = {"d.dat", 0};
    weft_group *g;
    weft_task *small_t, *big_t;
    weft_group_new(&g);
    weft_group_spawn(g, download, &small, &small_t); /* borrowed handles */
    weft_group_spawn(g, download, &big, &big_t);
    weft_group_spawn(g, from_mirror, &c, NULL);
    weft_group_spawn(g, from_mirror, &d, NULL);

    /* The owner's code in the block runs alongside its children. */
    weft_sleep(0.02);
    printf("   the mirror goes down\n");
    weft_event_set(&mirror_down); /* c.dat and d.dat fail together */
    /* Once a child has failed, the owner's waits inside the group fail
     * too: it is cancelled along with the other children. */
    int owner_rc = weft_sleep(10);

    int rc = weft_group_wait(g); /* joins them all, cancelled ones too */
    printf("   the owner's sleep in the block returned %s\n",
           code_name(owner_rc));
    const char *why = weft_errmsg(); /* the first failure's message */
    printf("   weft_group_wait returned %s (%s)\n", code_name(rc),
           why ? why : "no message");
    int n = weft_group_failures(g);
    printf("   weft_group_failures: %d\n", n);
    for (int i = 0; i < n; i++) {
        int code;
        const char *msg;
        weft_group_failure(g, (size_t)i, &code, &msg, NULL);
        printf("     %s: %s\n", code_name(code), msg ? msg : "no message");
    }
    printf("   small.txt finished with %s, big.iso with %s (not a "
           "failure)\n",
           code_name(weft_task_result(small_t, NULL)),
           code_name(weft_task_result(big_t, NULL)));
    weft_group_free(g); /* the borrowed handles die with it */
}

/* 3. for t in asyncio.as_completed(tasks): print(await t) */
static void completion_order(void)
{
    printf("3. results in completion order (as_completed)\n");
    static file files[] = {
        {"slow.bin", 0.03}, {"quick.bin", 0.01}, {"medium.bin", 0.02}};
    weft_taskset *set;
    weft_taskset_new(&set);
    for (int i = 0; i < 3; i++) {
        weft_task *t;
        weft_spawn(fetch, &files[i], &t);
        weft_taskset_add(set, t); /* the set owns it now */
    }
    weft_task *t;
    int k = 1;
    while (weft_taskset_next(set, &t) == 1) { /* the next one to finish */
        void *name;
        weft_await(t, &name); /* finished already: does not wait */
        printf("   result %d: %s\n", k++, (const char *)name);
    }
    weft_taskset_free(set);
}

/* 4. done, pending = await asyncio.wait(tasks, FIRST_COMPLETED) */
static void first_completed(void)
{
    printf("4. the first of two mirrors to answer (asyncio.wait)\n");
    static file eu = {"mirror-eu", 0.02}, us = {"mirror-us", 10};
    weft_task *t[2];
    weft_spawn(download, &eu, &t[0]);
    weft_spawn(download, &us, &t[1]);
    int done = weft_wait(t, 2, WEFT_WAIT_FIRST_COMPLETED);
    printf("   weft_wait returned %d; mirror-eu done: %d, mirror-us done: "
           "%d\n",
           done, weft_task_done(t[0]), weft_task_done(t[1]));
    /* weft_wait cancels nothing: the loser is cancelled and awaited here. */
    weft_task_cancel(t[1]);
    int rc = weft_await(t[1], NULL);
    printf("   mirror-us cancelled: its await returned %s\n", code_name(rc));
    void *r;
    weft_await(t[0], &r); /* finished already */
    printf("   the answer came from %s\n", (const char *)r);
}

static void *main_task(void *arg)
{
    (void)arg;
    all_succeed();
    some_fail();
    completion_order();
    first_completed();
    return NULL;
}

int main(void)
{
    int rc = weft_run(main_task, NULL, NULL); /* asyncio.run(main()) */
    if (rc != 0) {
        fprintf(stderr, "%s\n",
                weft_errmsg() ? weft_errmsg() : weft_strerror(rc));
        return 1;
    }
    return 0;
}

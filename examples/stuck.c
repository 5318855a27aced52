/*
 * stuck.c - a program whose tasks are stuck, and how it tells you where:
 * a task watches SIGQUIT (Ctrl-\) and prints every task, with what it
 * waits for and its backtrace, as Go prints its goroutines - without
 * stopping the program.
 *
 *     build/examples/stuck            # then press Ctrl-\ (or kill -QUIT)
 *     build/examples/stuck --once     # dump once after 0.1 s and exit
 *     build/examples/stuck --once --compact
 *                                     # the waiting tasks compact ones
 *
 * Link with -rdynamic (as the build does for this example) so that the
 * backtraces name the program's own functions.
 */
#include <weft.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

static weft_lock lock;

void *fetch_config(void *arg);
void *wait_for_config(void *arg);
void *update_cache(void *arg);

/* Takes the lock and never gives it back: the bug to find. */
void *fetch_config(void *arg)
{
    (void)arg;
    weft_lock_acquire(&lock);
    weft_sleep(3600); /* "a slow network call" */
    return NULL;
}

void *update_cache(void *arg)
{
    (void)arg;
    if (weft_lock_acquire(&lock) == 0) /* stuck behind fetch_config */
        weft_lock_release(&lock);
    return NULL;
}

void *wait_for_config(void *arg)
{
    weft_await(arg, NULL);
    return NULL;
}

static void *dump_on_sigquit(void *arg)
{
    (void)arg;
    int quit = SIGQUIT, signo;
    weft_sigwatch *w;
    if (weft_signal_watch(&quit, 1, &w) != 0)
        return NULL;
    while (weft_sigwatch_next(w, &signo) == 0)
        weft_dump_tasks(2);
    weft_sigwatch_close(w);
    return NULL;
}

static int compact;

static void *main_task(void *arg)
{
    int once = arg != NULL;
    weft_spawn_opts o = {.name = "fetch"};
    /* Compact tasks share one stack: an idle one keeps only its bytes. */
    weft_spawn_opts c = {.flags = compact ? WEFT_SPAWN_COMPACT : 0};
    weft_task *fetch, *waiter, *cache, *dumper;
    weft_spawn_ex(fetch_config, NULL, &o, &fetch);
    int rc = weft_spawn_ex(wait_for_config, fetch, &c, &waiter);
    if (rc == 0)
        rc = weft_spawn_ex(update_cache, NULL, &c, &cache);
    if (rc != 0) { /* -ENOTSUP: compact tasks, in a ucontext build */
        fprintf(stderr, "stuck: %s\n", weft_strerror(rc));
        return NULL;
    }
    if (once) {
        weft_sleep(0.1);
        weft_dump_tasks(2);
    } else {
        weft_spawn(dump_on_sigquit, NULL, &dumper);
        fprintf(stderr, "stuck: press Ctrl-\\ for a task dump, Ctrl-C to "
                        "stop\n");
        weft_await(waiter, NULL); /* forever, unless interrupted */
    }
    return NULL; /* the loop cancels and joins what is left */
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: stuck [--once] [--compact]\n"
               "  Starts tasks that get stuck on a lock; prints a dump of\n"
               "  every task on SIGQUIT (Ctrl-\\), or once after 0.1 s with\n"
               "  --once.  --compact: the waiting tasks are compact tasks.\n");
        return 0;
    }
    int once = argc > 1 && strcmp(argv[1], "--once") == 0;
    compact = argc > 2 && strcmp(argv[2], "--compact") == 0;
    int rc = weft_run(main_task, once ? (void *)1 : NULL, NULL);
    return rc == 0 || rc == -EINTR ? 0 : 1;
}

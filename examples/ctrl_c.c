/*
 * ctrl_c.c - stopping a program cleanly on Ctrl-C and on SIGTERM, as
 * asyncio.run and loop.add_signal_handler do it.
 *
 * Three workers run in a task group for about five seconds, printing their
 * progress now and then.  Stop them early:
 * - Ctrl-C: weft_run_ex cancels the main task; the group cancels the
 *   workers; each cleans up (under a shield, so cleanup may still await);
 *   the main task prints a last line; then, with WEFT_RUN_RERAISE_SIGINT,
 *   the program dies by SIGINT, so that the shell sees status 130 as for
 *   any interrupted program.  A second Ctrl-C during cleanup kills at once.
 * - SIGTERM (kill PID): a task waiting in weft_signal_wait cancels the main
 *   task the same way, and the program exits with status 0.
 */
#include "weft.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

static int got_sigterm;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    int rc = 0;
    for (int step = 1; step <= 100 && rc == 0; step++) {
        rc = weft_sleep(0.05); /* -ECANCELED once we are stopped */
        if (rc == 0 && step % 20 == 0)
            printf("worker %d: step %d\n", id, step);
    }
    /* Cancelled or done: clean up.  Under a shield, awaiting still works
     * (flushing a file, saying goodbye to a server, ...). */
    weft_shield_begin();
    printf("worker %d: cleaning up\n", id);
    weft_sleep(0.01);
    weft_shield_end();
    return NULL;
}

/* loop.add_signal_handler(SIGTERM, main_task.cancel) */
static void *on_sigterm(void *arg)
{
    weft_task *main_task = arg;
    if (weft_signal_wait(SIGTERM) == 0) {
        got_sigterm = 1;
        printf("SIGTERM: stopping\n");
        weft_task_cancel(main_task);
    }
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_task *watcher;
    if (weft_spawn(on_sigterm, weft_current(), &watcher) == 0)
        weft_task_detach(watcher); /* cancelled when main returns */

    weft_group *g;
    if (weft_group_new(&g) != 0)
        return NULL;
    for (int id = 1; id <= 3; id++)
        weft_group_spawn(g, worker, (void *)(intptr_t)id, NULL);
    printf("3 workers running; press Ctrl-C to stop them\n");
    int rc = weft_group_wait(g); /* -ECANCELED on Ctrl-C or SIGTERM */
    weft_group_free(g);
    printf("main: %s, every worker cleaned up\n",
           rc == 0 ? "all work done" : "stopped early");
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines out before a re-raise */
    weft_run_opts opts = {.flags = WEFT_RUN_RERAISE_SIGINT};
    int rc = weft_run_ex(main_task, NULL, &opts, NULL);
    /* Not reached after Ctrl-C: the program died by SIGINT. */
    if (got_sigterm)
        return 0;
    if (rc != 0)
        fprintf(stderr, "ctrl_c: %s\n", weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}

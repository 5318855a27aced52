/*
 * completed_task.c - the seed's Task.CompletedTask: a coroutine that
 * finishes at once with None.
 *
 *     # Task.CompletedTask
 *     async def completed_task():
 *           return None
 *
 * The seed only defines completed_task; like the other examples, this one
 * runs it and prints the result, as
 *
 *     print(asyncio.run(completed_task()))      # None
 *
 * weft_task_completed() makes a task that has already finished with a
 * value (C#'s Task.FromResult; with NULL, Task.CompletedTask): awaiting it
 * returns at once.  NULL plays Python's None.
 */
#include "weft.h"

#include <stdint.h>
#include <stdio.h>

/* async def completed_task(): return None */
static weft_task *completed_task(void)
{
    weft_task *task = NULL;
    weft_task_completed(NULL, &task); /* NULL on -ENOMEM: await says -EINVAL */
    return task;
}

/* asyncio.run(completed_task()): the main task awaits it. */
static void *main_task(void *arg)
{
    (void)arg;
    void *result = NULL;
    int rc = weft_await(completed_task(), &result);
    if (rc != 0)
        return weft_fail(rc, "completed_task: %s", weft_strerror(rc));
    return result;
}

int main(void)
{
    void *o;
    int rc = weft_run(main_task, NULL, &o);
    if (rc != 0) {
        fprintf(stderr, "%s\n",
                weft_errmsg() ? weft_errmsg() : weft_strerror(rc));
        return 1;
    }
    if (o == NULL)
        printf("None\n"); /* print(None) */
    else
        printf("%ld\n", (long)(intptr_t)o);
    return 0;
}

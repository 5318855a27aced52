/*
 * weft/gen.h - async generators (async def with yield consumed by async
 * for; C#'s IAsyncEnumerable).  Included by weft.h.
 *
 *     static void *count(void *arg) {           // the producer
 *         for (intptr_t i = 1; i <= 3; i++)
 *             if (weft_gen_yield((void *)i))   // -ECANCELED: closed early
 *                 break;
 *         return NULL;
 *     }
 *     ...
 *     weft_gen *g;
 *     weft_gen_new(count, NULL, &g);
 *     void *v;
 *     int rc;
 *     while ((rc = weft_gen_next(g, &v)) > 0)  // async for v in count():
 *         printf("%ld\n", (long)(intptr_t)v);
 *     weft_gen_close(g);                       // rc: 0 done, < 0 error
 *
 * The producer is a task that runs only while the consumer waits in
 * weft_gen_next (no read-ahead): each value is handed over as soon as it is
 * yielded.  All calls must come from tasks of the generator's loop.
 *
 * A weft_gen * is a checked handle: once the generator is closed (from the
 * moment weft_gen_close begins), and for anything that never was a
 * generator's handle, every call returns -EINVAL, in every build.  A live
 * generator's handle used outside its loop is -EPERM, and the generator is
 * not touched.
 */
#ifndef WEFT_GEN_H
#define WEFT_GEN_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_gen weft_gen;

struct weft_bar; /* weft/bar.h */

/* A generator producing with fn(arg); nothing runs until the first next.
 * *gen is the caller's, to weft_gen_close.  One never closed is finalized
 * when the loop closes.  Errors: -EINVAL (fn or gen NULL; debug builds:
 * arg points into a compact task's frame, which the producer must not use
 * while that task waits - WEFT_SPAWN_COMPACT in weft/task.h), -EPERM,
 * -ENOMEM. */
int weft_gen_new(weft_fn fn, void *arg, weft_gen **gen);

/* Runs the producer until it yields: 1 and *value set; 0 when it has
 * returned (exhausted; and every later call); negative: the producer's
 * error (weft_fail, once), or -ECANCELED.  A consumer cancelled inside next
 * cancels the producer and returns -ECANCELED once the producer stopped -
 * unless the producer still yields a value (from a shielded scope): next
 * then returns it, and the consumer's next suspending call sees the
 * cancellation.
 * Errors: -EBUSY (another task is inside next or close), -EPERM (not a
 * task of the generator's loop), -EINVAL (NULL value; NULL, closed or
 * unknown generator), -ENOMEM. */
int weft_gen_next(weft_gen *gen, void **value);

/* Inside the producer: hands value to the consumer and suspends until the
 * next weft_gen_next.  -ECANCELED when the generator is being closed (or
 * the producer cancelled): clean up and return.  A producer suspended here
 * is woken only by the consumer's next (the yield returns 0; if it was
 * cancelled, or a cancel scope of its own expired meanwhile, its next
 * suspending call fails), by weft_gen_close or by the loop's shutdown
 * (-ECANCELED).  -EINVAL if the caller is not a generator's producer;
 * -EPERM outside a task. */
int weft_gen_yield(void *value);

/* Closes the generator: a producer still running is cancelled, allowed to
 * clean up, and joined; then everything is freed.  Errors: -EBUSY (a task
 * is inside next), -EPERM (not a task of its loop), -EINVAL (NULL, closed
 * or unknown generator: a second close). */
int weft_gen_close(weft_gen *gen);

/* Ticks `bar` (the caller's; NULL to stop) once per value weft_gen_next
 * returns: async for under a tqdm bar (a bar closed meanwhile is not
 * ticked).  Errors: -EINVAL (NULL, closed or unknown generator), -EPERM
 * (not on the generator's loop). */
int weft_gen_set_bar(weft_gen *gen, struct weft_bar *bar);

/* async for: runs the body for each value; rc ends as 0 or the error.
 *     int rc;
 *     WEFT_GEN_FOREACH(g, v, rc) { use(v); } */
#define WEFT_GEN_FOREACH(gen, var, rc)                                        \
    for (void *var = NULL; ((rc) = weft_gen_next((gen), &var)) > 0;)

#ifdef __cplusplus
}
#endif

#endif

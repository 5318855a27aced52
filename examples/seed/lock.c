/*
 * lock.c - the seed's asyncio.Lock: `async with lock:` holds the lock for
 * the block; a task that wants it meanwhile is suspended, and the event loop
 * runs the others.
 *
 *     lock = asyncio.Lock()
 *     async def M1():
 *        async with lock:
 *              await asyncio.sleep(1)
 *              return 10
 *
 * The seed (its header comment) only defines M1; like the other examples,
 * this one runs it and prints the result, as
 *
 *     print(asyncio.run(M1()))      # 10, after 1 second
 *
 * (times WEFT_SEED_TIME_SCALE, see seed.h).  WEFT_WITH_LOCK is `async with
 * lock:` - the lock is released however the block is left, `return`
 * included.
 */
#include "weft.h"

#include "seed.h"

#include <stdint.h>
#include <stdio.h>

static weft_lock lock = WEFT_LOCK_INIT; /* lock = asyncio.Lock() */

/* async def M1() */
static void *M1(void *arg)
{
    (void)arg;
    int rc;
    WEFT_WITH_LOCK(&lock, rc) /* async with lock: */
    {
        weft_sleep(seed_seconds(1)); /* await asyncio.sleep(1) */
        return (void *)(intptr_t)10; /* return 10 */
    }
    return weft_fail(rc, "lock: %s", weft_strerror(rc)); /* not acquired */
}

int main(void)
{
    void *result;
    int rc = weft_run(M1, NULL, &result); /* asyncio.run(M1()) */
    if (rc != 0) {
        fprintf(stderr, "%s\n",
                weft_errmsg() ? weft_errmsg() : weft_strerror(rc));
        return 1;
    }
    printf("%ld\n", (long)(intptr_t)result); /* print(...) */
    return 0;
}

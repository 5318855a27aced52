/*
 * task_int.c - the seed's Task<int>: a coroutine that sleeps `delay`
 * seconds and returns delay.
 *
 *     # Task<int>
 *     async def M1(delay: int) -> int:
 *         await asyncio.sleep(delay)
 *         return delay
 *
 *     # 1
 *     o = asyncio.run(M1(1))
 *     print(o)
 *
 * Prints 1 after one second (times WEFT_SEED_TIME_SCALE, see seed.h).
 * A task returns a pointer; an int travels in it through intptr_t.
 */
#include "weft.h"

#include "seed.h"

#include <stdint.h>
#include <stdio.h>

/* async def M1(delay: int) -> int */
static void *M1(void *arg)
{
    intptr_t delay = (intptr_t)arg;
    weft_sleep(seed_seconds((double)delay)); /* await asyncio.sleep(delay) */
    return (void *)delay;                    /* return delay */
}

int main(void)
{
    void *o;
    int rc = weft_run(M1, (void *)(intptr_t)1, &o); /* o = asyncio.run(M1(1)) */
    if (rc != 0) {
        fprintf(stderr, "M1: %s\n", weft_strerror(rc));
        return 1;
    }
    printf("%ld\n", (long)(intptr_t)o); /* print(o) */
    return 0;
}

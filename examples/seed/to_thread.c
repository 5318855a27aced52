/*
 * to_thread.c - the seed's asyncio.to_thread: a blocking function runs on
 * the thread pool while the event loop stays free.
 *
 *     def M1(x):
 *         time.sleep(x)
 *         return x
 *
 *     async def M2():
 *         result = await asyncio.to_thread(M1, x = 10)
 *         return result
 *
 * The seed (its header comment) only defines M1 and M2; like the other
 * examples, this one runs M2 and prints the result, as
 *
 *     print(asyncio.run(M2()))      # 10, after 10 seconds
 *
 * (times WEFT_SEED_TIME_SCALE, see seed.h).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "weft.h"

#include "seed.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* time.sleep(seconds): blocks the calling thread. */
static void blocking_sleep(double seconds)
{
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* def M1(x): an ordinary blocking function, run on a pool thread. */
static void *M1(void *arg)
{
    intptr_t x = (intptr_t)arg;
    blocking_sleep(seed_seconds((double)x)); /* time.sleep(x) */
    return (void *)x;                        /* return x */
}

/* async def M2() */
static void *M2(void *arg)
{
    (void)arg;
    void *result = NULL;
    /* result = await asyncio.to_thread(M1, x = 10) */
    int rc = weft_to_thread(M1, (void *)(intptr_t)10, &result);
    if (rc != 0)
        return weft_fail(rc, "to_thread: %s", weft_strerror(rc));
    return result; /* return result */
}

int main(void)
{
    void *result;
    int rc = weft_run(M2, NULL, &result); /* asyncio.run(M2()) */
    if (rc != 0) {
        fprintf(stderr, "%s\n",
                weft_errmsg() ? weft_errmsg() : weft_strerror(rc));
        return 1;
    }
    printf("%ld\n", (long)(intptr_t)result); /* print(...) */
    return 0;
}

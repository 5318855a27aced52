/*
 * seed.h - what the seed examples share: the seed's delays (seconds), scaled
 * by the environment variable WEFT_SEED_TIME_SCALE (a float, default 1) so
 * that the tests can run the examples in a fraction of the time.
 *
 *     weft_sleep(seed_seconds(delay));   // await asyncio.sleep(delay)
 */
#ifndef WEFT_SEED_H
#define WEFT_SEED_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* WEFT_SEED_TIME_SCALE, read once: a finite number >= 0, else 1. */
static inline double seed_time_scale(void)
{
    static double scale = -1;
    if (scale < 0) {
        const char *s = getenv("WEFT_SEED_TIME_SCALE");
        char *end = NULL;
        double k = s ? strtod(s, &end) : 1.0;
        if (s && (end == s || *end != '\0' || !isfinite(k) || k < 0)) {
            fprintf(stderr,
                    "WEFT_SEED_TIME_SCALE=%s is not a number >= 0; "
                    "using 1\n",
                    s);
            k = 1.0;
        }
        scale = k;
    }
    return scale;
}

/* The seed's `seconds`, as this run should wait them. */
static inline double seed_seconds(double seconds)
{
    return seconds * seed_time_scale();
}

#endif

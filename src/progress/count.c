/*
 * count.c - how many bars a loop redraws, for weft_loop_metrics.
 */
#include "bar_internal.h"

#include "../stats.h"

unsigned weft__bars_open_on(const weft__loop *L)
{
    unsigned n = 0;
    pthread_mutex_lock(&weft__bars_mu);
    for (weft__bar *b = weft__bars; b; b = b->next)
        n += b->loop == L;
    pthread_mutex_unlock(&weft__bars_mu);
    return n;
}

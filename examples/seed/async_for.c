/*
 * async_for.c - the seed's non-blocking version: M2 is an async generator
 * that awaits the coroutines one after the other and yields each result as
 * soon as it has it; main consumes it with `async for`.
 *
 *     # [ 非阻塞 ] 1,... 2,... 3,...
 *     async def M2():
 *         from tqdm.asyncio import tqdm
 *         coroutines = [M1(i) for i in [1, 2, 3, 4, 5]]
 *
 *         # [ 进度条 ] 共 5 个任务度
 *         with tqdm(total = len(coroutines), desc="整体任务进度",
 *                   leave=True) as pbar:
 *             for task in coroutines:
 *                 result = await task
 *                 # [ 更新进度条 ] 完成任务度 +1
 *                 pbar.update(1)
 *                 yield result
 *
 *     async def main():
 *         # M2: 返回异步迭代器 ( IAsyncEnumerable )
 *         # 在 Python 中 async for : 用于异步迭代
 *         async for x in M2():
 *             print(x)
 *
 *     asyncio.run(main())
 *
 * (the `with` line wrapped), with M1 from task_int.c (sleeps `delay`
 * seconds, returns delay).  Prints 1 after 1 second, 2 after 3, 3 after 6,
 * 4 after 10 and 5 after 15 (times WEFT_SEED_TIME_SCALE, see seed.h): each
 * line as soon as it is ready.
 *
 * A coroutine object does not run until it is awaited, so `await task` is
 * a plain call of M1 here: it runs on the generator's own stack.  The bar
 * "整体任务进度" is tqdm's line, on stderr, left there when it closes.
 */
#include "weft.h"

#include "seed.h"

#include <stdint.h>
#include <stdio.h>

#define N 5

/* async def M1(delay: int) -> int */
static void *M1(void *arg)
{
    intptr_t delay = (intptr_t)arg;
    weft_sleep(seed_seconds((double)delay)); /* await asyncio.sleep(delay) */
    return (void *)delay;                    /* return delay */
}

/* async def M2(): the generator's producer. */
static void *M2(void *arg)
{
    (void)arg;
    /* coroutines = [M1(i) for i in [1, 2, 3, 4, 5]]: nothing runs yet */
    static const intptr_t delays[N] = {1, 2, 3, 4, 5};
    /* with tqdm(total=len(coroutines), desc="整体任务进度", leave=True)
     *         as pbar: */
    weft_bar *pbar = NULL;
    weft_bar_opts o = {.total = N, .desc = "整体任务进度"}; /* leave: default */
    weft_bar_new(&o, &pbar); /* without memory for it, no bar: still runs */
    for (size_t i = 0; i < N; i++) {          /* for task in coroutines: */
        void *result = M1((void *)delays[i]); /* result = await task */
        weft_bar_update(pbar, 1);             /* pbar.update(1) */
        if (weft_gen_yield(result) != 0)      /* yield result */
            break; /* the consumer closed the generator early */
    }
    weft_bar_close(pbar); /* leaving the with block */
    return NULL;
}

/* async def main() */
static void *main_task(void *arg)
{
    (void)arg;
    weft_gen *g;
    int rc = weft_gen_new(M2, NULL, &g);
    if (rc != 0)
        return weft_fail(rc, "M2: %s", weft_strerror(rc));
    WEFT_GEN_FOREACH(g, x, rc) /* async for x in M2(): */
    {
        printf("%ld\n", (long)(intptr_t)x); /* print(x) */
        fflush(stdout);                     /* now, even into a pipe */
    }
    weft_gen_close(g);
    if (rc < 0)
        return weft_fail(rc, "M2: %s", weft_strerror(rc));
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

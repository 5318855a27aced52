/*
 * gather.c - the seed's blocking gather: five coroutines run at once, and
 * their results come back together, in submission order.
 *
 *     # [ 阻塞 ] 等待所有任务完成 ( 按提交顺序返回 )
 *     async def M2():
 *         from tqdm.asyncio import tqdm
 *         coroutines = [M1(i) for i in [1, 2, 3, 4, 5]]
 *
 *         # 使用 tqdm 包装协程列表
 *         res = await tqdm.gather(*coroutines, desc="任务进行中...")
 *         return res
 *
 *     async def main():
 *         for x in await M2():
 *             print(x)
 *
 *     asyncio.run(main())
 *
 * with M1 from task_int.c (sleeps `delay` seconds, returns delay).  Prints
 * 1 to 5, one per line, after 5 seconds - the longest sleep, not the sum
 * (times WEFT_SEED_TIME_SCALE, see seed.h).
 *
 * The coroutines become tasks (weft_spawn) and weft_gather_ex awaits them
 * all under tqdm's progress bar "任务进行中..." on stderr, which ticks as
 * each task finishes: tqdm.gather.
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

/* async def M2(): res receives the N results in submission order.  Returns
 * 0 or the first error. */
static int M2(void *res[N])
{
    static const intptr_t delays[N] = {1, 2, 3, 4, 5};
    weft_task *coroutines[N]; /* coroutines = [M1(i) for i in [1, ..., 5]] */
    size_t n;
    int rc = 0;
    for (n = 0; n < N; n++)
        if ((rc = weft_spawn(M1, (void *)delays[n], &coroutines[n])) != 0)
            break;

    /* res = await tqdm.gather(*coroutines, desc="任务进行中...") */
    weft_gather_opts o = {.desc = "任务进行中..."};
    int grc = weft_gather_ex(coroutines, n, res, NULL, &o);
    return rc != 0 ? rc : grc;
}

/* async def main() */
static void *main_task(void *arg)
{
    (void)arg;
    void *res[N];
    int rc = M2(res); /* await M2() */
    if (rc != 0)
        return weft_fail(rc, "M2: %s", weft_strerror(rc));
    for (size_t i = 0; i < N; i++)               /* for x in ...: */
        printf("%ld\n", (long)(intptr_t)res[i]); /* print(x) */
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

# async_for.py - the seed's non-blocking async for under a tqdm bar, as
# Python runs it: the twin of async_for.c.  Delays scaled by
# WEFT_SEED_TIME_SCALE (seed.py).
import asyncio

from seed import seconds


async def M1(delay: int) -> int:
    await asyncio.sleep(seconds(delay))
    return delay


# [ 非阻塞 ] 1,... 2,... 3,...
async def M2():
    from tqdm.asyncio import tqdm
    coroutines = [M1(i) for i in [1, 2, 3, 4, 5]]

    # [ 进度条 ] 共 5 个任务度
    with tqdm(total=len(coroutines), desc="整体任务进度",
              leave=True) as pbar:
        for task in coroutines:
            result = await task
            # [ 更新进度条 ] 完成任务度 +1
            pbar.update(1)
            yield result


async def main():
    # M2: 返回异步迭代器 ( IAsyncEnumerable )
    # 在 Python 中 async for : 用于异步迭代
    async for x in M2():
        print(x)

asyncio.run(main())

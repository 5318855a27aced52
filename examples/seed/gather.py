# gather.py - the seed's blocking tqdm.gather, as Python runs it: the twin
# of gather.c.  Delays scaled by WEFT_SEED_TIME_SCALE (seed.py).
import asyncio

from seed import seconds


async def M1(delay: int) -> int:
    await asyncio.sleep(seconds(delay))
    return delay


# [ 阻塞 ] 等待所有任务完成 ( 按提交顺序返回 )
async def M2():
    from tqdm.asyncio import tqdm
    coroutines = [M1(i) for i in [1, 2, 3, 4, 5]]

    # 使用 tqdm 包装协程列表
    res = await tqdm.gather(*coroutines, desc="任务进行中...")
    return res


async def main():
    for x in await M2():
        print(x)

asyncio.run(main())

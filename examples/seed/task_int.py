# task_int.py - the seed's Task<int>, as Python runs it: the twin of
# task_int.c.  Delays scaled by WEFT_SEED_TIME_SCALE (seed.py).
import asyncio

from seed import seconds


# Task<int>
async def M1(delay: int) -> int:
    await asyncio.sleep(seconds(delay))
    return delay

# 1
o = asyncio.run(M1(1))
print(o)

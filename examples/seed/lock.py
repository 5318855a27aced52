# lock.py - the seed's asyncio.Lock, as Python runs it: the twin of
# lock.c.  Delays scaled by WEFT_SEED_TIME_SCALE (seed.py).
import asyncio

from seed import seconds

lock = asyncio.Lock()


async def M1():
    async with lock:
        await asyncio.sleep(seconds(1))
        return 10

print(asyncio.run(M1()))

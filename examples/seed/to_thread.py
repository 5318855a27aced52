# to_thread.py - the seed's asyncio.to_thread, as Python runs it: the twin
# of to_thread.c.  Delays scaled by WEFT_SEED_TIME_SCALE (seed.py).
import asyncio
import time

from seed import seconds


def M1(x):
    time.sleep(seconds(x))
    return x


async def M2():
    result = await asyncio.to_thread(M1, x=10)
    return result

print(asyncio.run(M2()))

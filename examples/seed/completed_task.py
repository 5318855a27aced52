# completed_task.py - the seed's Task.CompletedTask, as Python runs it: the
# twin of completed_task.c.
import asyncio


# Task.CompletedTask
async def completed_task():
    return None

print(asyncio.run(completed_task()))

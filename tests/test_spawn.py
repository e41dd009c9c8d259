"""The background-work helper: bounded, deadlined, referenced, failures counted."""

from __future__ import annotations

import asyncio

from proxy.spawn import Spawner


async def test_limit_drops_extra_work_instead_of_queueing():
    spawner = Spawner("t", limit=2)
    release = asyncio.Event()
    started = []

    async def work(i=len(started)):
        started.append(i)
        await release.wait()

    assert spawner.spawn(work) and spawner.spawn(work)
    assert not spawner.spawn(work)
    await asyncio.sleep(0)
    assert (spawner.running, spawner.dropped, len(started)) == (2, 1, 2)
    release.set()
    await spawner.close(wait_s=1)
    assert spawner.running == 0


async def test_deadline_and_failures_are_counted_not_raised():
    spawner = Spawner("t", timeout_s=0.05)

    async def slow():
        await asyncio.sleep(10)

    async def broken():
        raise ValueError("boom")

    spawner.spawn(slow)
    spawner.spawn(broken)
    await asyncio.sleep(0.2)
    assert spawner.failed == 2 and spawner.running == 0


async def test_close_cancels_what_is_left():
    spawner = Spawner("t")
    cancelled = asyncio.Event()

    async def forever():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    spawner.spawn(forever)
    await asyncio.sleep(0)
    await spawner.close()
    assert cancelled.is_set() and spawner.running == 0

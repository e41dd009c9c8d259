"""The one way background work is started.

A bare `create_task` can be garbage-collected mid-flight and its errors go
nowhere. `Spawner` keeps a reference to every task, bounds how many run at
once (extra work is dropped and counted, never queued without limit), puts a
deadline on each, and logs failures. Work spawned here never touches a
client's response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("llm_router.spawn")


class Spawner:
    def __init__(self, name: str, *, limit: int | None = None, timeout_s: float | None = None):
        self.name = name
        self.limit = limit
        self.timeout_s = timeout_s
        self.dropped = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Callable[[], Awaitable[object]]) -> bool:
        """Start `work()` in the background; False if the limit is reached and it was dropped."""
        if self.limit is not None and len(self._tasks) >= self.limit:
            self.dropped += 1
            return False
        task = asyncio.get_running_loop().create_task(self._run(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(self, work: Callable[[], Awaitable[object]]) -> None:
        try:
            if self.timeout_s is None:
                await work()
            else:
                async with asyncio.timeout(self.timeout_s):
                    await work()
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self.failed += 1
            log.warning("background task timed out", spawner=self.name, timeout_s=self.timeout_s)
        except Exception as exc:  # background work must never crash the server; it is logged and counted
            self.failed += 1
            log.error("background task failed", spawner=self.name, error=repr(exc))

    async def close(self, wait_s: float = 0.0) -> None:
        """Give running tasks up to `wait_s` to finish, then cancel the rest."""
        if self._tasks and wait_s > 0:
            await asyncio.wait(set(self._tasks), timeout=wait_s)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

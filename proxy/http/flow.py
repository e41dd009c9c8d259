"""Flow control shared by the listener's and the upstream client's connections.

Writing: the transport calls `pause_writing` when its buffer passes the
high-water mark and `resume_writing` when it drained; a writer that must not
outrun the peer awaits `drain()` in between. Reading: a `BodyBuffer` holds a
body as it arrives and pauses the socket while its reader lags.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable


class WriteFlow(asyncio.Protocol):
    __slots__ = ()

    writing_paused: bool
    closed: bool
    _drain_waiter: asyncio.Future[None] | None

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def drain(self) -> None:
        if self.writing_paused and not self.closed:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    def fail_drain(self, exc: BaseException) -> None:
        """The connection is gone: a writer waiting for it to drain gets `exc`."""
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class BodyBuffer:
    """A message body as it arrives from a connection, handed to one reader.

    Past `high` unread bytes it calls `pause` (stop reading the socket), and
    `resume` once the reader took them: a slow reader slows the sender down
    instead of filling memory.
    """

    __slots__ = ("_buffered", "_chunks", "_high", "_pause", "_paused", "_resume", "_waiter", "done", "exc")

    def __init__(self, high: int, pause: Callable[[], None], resume: Callable[[], None]):
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self.done = False
        self.exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._high = high
        self._pause = pause
        self._resume = resume
        self._paused = False

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > self._high and not self._paused:
            self._paused = True
            self._pause()
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def fail(self, exc: BaseException) -> bool:
        """End the body with `exc` for the reader; False if it had already ended."""
        if self.done:
            return False
        self.exc = exc
        self.done = True
        self._wake()
        return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def next(self) -> bytes:
        """All that arrived since the last call (at least a byte), or b"" at the end; raises how it broke off."""
        while True:
            chunks = self._chunks
            if chunks:
                data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self._buffered = 0
                if self._paused:
                    self._paused = False
                    self._resume()
                return data
            if self.exc is not None:
                raise self.exc
            if self.done:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

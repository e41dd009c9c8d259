"""Structured JSON logs on standard output.

One line per event, rendered with orjson. Lines are written through a small
buffer flushed every 100 ms (and at 64 KiB, and at exit), like nginx's
`access_log ... buffer=`: one write per request would cost a system call on
the hot path. Nothing here ever receives a request's headers wholesale:
callers pass named fields, so an `Authorization` header or API key cannot end
up in a log line by accident.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
from typing import IO, Any

import orjson
import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
FLUSH_INTERVAL_S = 0.1
FLUSH_BYTES = 64 * 1024


class BufferedLineWriter:
    """A structlog logger that batches lines and flushes them from the event loop."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self._parts: list[bytes] = []
        self._size = 0
        self._scheduled = False
        atexit.register(self.flush)

    def msg(self, message: bytes) -> None:
        self._parts.append(message + b"\n")
        self._size += len(message) + 1
        if self._size >= FLUSH_BYTES:
            self.flush()
        elif not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # outside the event loop (start-up, CLI): write at once
                self.flush()
                return
            self._scheduled = True
            loop.call_later(FLUSH_INTERVAL_S, self.flush)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg

    def flush(self) -> None:
        self._scheduled = False
        if not self._parts:
            return
        data = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):  # stdout closed or gone: logging must never break serving
            pass


_writer: BufferedLineWriter | None = None
_info_enabled = True


def configure(level: str = "info", stream: IO[bytes] | None = None) -> None:
    global _writer, _info_enabled
    _info_enabled = _LEVELS[level] <= logging.INFO
    if _writer is not None:
        _writer.flush()
    _writer = BufferedLineWriter(stream if stream is not None else sys.stdout.buffer)
    writer = _writer

    def factory(*_args: Any) -> BufferedLineWriter:
        return writer

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    # Libraries (the webhook's aiohttp server, onnxruntime, LiteLLM) report through stdlib
    # logging; keep them on stderr at warning and above.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")


class _Clock:
    """ISO-8601 UTC timestamps, formatted once per second: an access line is written per request."""

    __slots__ = ("_second", "_prefix")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        t = time.time()
        second = int(t)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((t - second) * 1_000_000):06d}Z"


_clock = _Clock()


def access(fields: dict[str, object]) -> None:
    """Write one access line, in the same JSON shape as structlog's, without its processor chain
    (a line per request is on the hot path; the chain costs more than the rest of the line)."""
    if _writer is None or not _info_enabled:
        return
    fields["event"] = "request"
    fields["level"] = "info"
    fields["timestamp"] = _clock.now()
    _writer.msg(orjson.dumps(fields))


def flush() -> None:
    if _writer is not None:
        _writer.flush()

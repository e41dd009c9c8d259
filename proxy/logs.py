"""Structured JSON logs on standard output.

One line per event, rendered with orjson. Nothing here ever receives a
request's headers wholesale: callers pass named fields, so an
`Authorization` header or API key cannot end up in a log line by accident.
"""

from __future__ import annotations

import logging
import sys

import orjson
import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure(level: str = "info", stream: object | None = None) -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.BytesLoggerFactory(stream if stream is not None else sys.stdout.buffer),
        cache_logger_on_first_use=False,
    )
    # aiohttp reports client disconnects and bad requests through stdlib logging;
    # keep them, but in the same JSON stream and at warning and above.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")

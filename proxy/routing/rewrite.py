"""Changing the requested model in a request body, and nothing else.

The canary arm must send the app's request with only `model` changed, so the
value is replaced in place in the original bytes: whitespace, key order,
number formatting and escapes stay exactly as the app wrote them. Re-encoding
is the fallback for bodies whose top-level `model` is not near the start.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')
# Past this offset the depth scan below would cost more than re-encoding.
_SCAN_LIMIT = 64 * 1024


def _depth_at(body: bytes, end: int) -> int:
    """Object/array nesting depth at offset `end` (string contents skipped)."""
    depth = 0
    in_string = False
    escaped = False
    for byte in body[:end]:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
        elif byte in (0x7D, 0x5D):  # } ]
            depth -= 1
    return depth


def with_model(body: bytes, payload: dict[str, Any], model: str) -> bytes:
    encoded = orjson.dumps(model)
    for match in _MODEL.finditer(body):
        if match.start() > _SCAN_LIMIT:
            break
        if _depth_at(body, match.start()) == 1:
            key_end = body.index(b":", match.start()) + 1
            value_start = body.index(b'"', key_end)
            return body[:value_start] + encoded + body[match.end():]
    return orjson.dumps({**payload, "model": model})


def for_shadow(payload: dict[str, Any], model: str) -> bytes:
    """The shadow call's body: the same request to `model`, not streamed (its answer is compared whole)."""
    shadow = {k: v for k, v in payload.items() if k not in ("stream", "stream_options")}
    shadow["model"] = model
    return orjson.dumps(shadow)

"""Changing the requested model in a request body, and nothing else.

The canary arm must send the app's request with only `model` changed, so the
value is replaced in place in the original bytes: whitespace, key order,
number formatting and escapes stay exactly as the app wrote them. Re-encoding
is the fallback for bodies whose top-level `model` is not near the start.

Finding the top-level key costs a few C-level passes over the bytes before
it (see `_depth_at`), not a Python loop per byte.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
# Past this offset a body is re-encoded instead (kept from the byte-by-byte scan this replaced, so the
# output for such bodies is unchanged).
_SCAN_LIMIT = 64 * 1024


def _depth_at(body: bytes, end: int) -> int:
    """Object/array nesting depth at offset `end`, outside strings; -1 if `end` is inside a string.

    `body` is valid JSON (the caller parsed it): backslashes only occur in
    escape pairs inside strings, so once the pairs are gone every quote
    opens or closes a string, and the pieces between quotes alternate
    between outside and inside. All of it runs in C (no loop over bytes).
    """
    prefix = body[:end]
    if b'"' in prefix:
        if b"\\" in prefix:
            prefix = _ESCAPE.sub(b"", prefix)
        pieces = prefix.split(b'"')
        if len(pieces) % 2 == 0:
            return -1  # an odd number of quotes before `end`: it is inside a string
        prefix = b"".join(pieces[0::2])
    return prefix.count(b"{") + prefix.count(b"[") - prefix.count(b"}") - prefix.count(b"]")


def with_model(body: bytes, payload: dict[str, Any], model: str) -> bytes:
    search = _MODEL.search
    match = search(body)
    while match is not None and match.start() <= _SCAN_LIMIT:
        if _depth_at(body, match.start()) == 1:
            key_end = body.index(b":", match.start()) + 1
            value_start = body.index(b'"', key_end)
            return body[:value_start] + orjson.dumps(model) + body[match.end():]
        match = search(body, match.end())
    return orjson.dumps({**payload, "model": model})


def for_shadow(payload: dict[str, Any], model: str) -> bytes:
    """The shadow call's body: the same request to `model`, not streamed (its answer is compared whole)."""
    shadow = {k: v for k, v in payload.items() if k not in ("stream", "stream_options")}
    shadow["model"] = model
    return orjson.dumps(shadow)

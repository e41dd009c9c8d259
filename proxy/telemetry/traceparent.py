"""W3C Trace Context `traceparent`, parsed and written without the propagator API.

The SDK's propagator goes through a regex, a context object and a span
wrapper (~10 us); a request needs three integers out of a 55-byte header.
"""

from __future__ import annotations

import re

# version - trace-id - parent-id - flags, lower-case hex only; a later version
# than 00 may append fields after a '-'.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL).fullmatch


_VERSION_00 = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}").fullmatch
_ODD = frozenset("13579bdf")


def parse_traceparent_hex(value: str) -> tuple[int, int, bool, str] | None:
    """(trace_id, parent span_id, sampled, trace_id as 32 hex digits), or None for a header the spec says to ignore."""
    if len(value) == 55 and _VERSION_00(value) is not None:
        # The usual header, read by position; no groups, no strip.
        trace_hex = value[3:35]
        trace_id = int(trace_hex, 16)
        span_id = int(value[36:52], 16)
        if not trace_id or not span_id:
            return None
        return trace_id, span_id, value[54] in _ODD, trace_hex
    m = _TRACEPARENT(value) or _TRACEPARENT(value.strip())
    if m is None:
        return None
    version, trace_hex, span_hex, flags, rest = m.groups()
    # Version 00 is exactly 55 characters; ff is invalid.
    if version == "ff" or (rest is not None and version == "00"):
        return None
    trace_id = int(trace_hex, 16)
    span_id = int(span_hex, 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, bool(int(flags, 16) & 1), trace_hex


def parse_traceparent(value: str) -> tuple[int, int, bool] | None:
    """(trace_id, parent span_id, sampled), or None for a header the spec says to ignore."""
    parsed = parse_traceparent_hex(value)
    return parsed[:3] if parsed is not None else None


def format_traceparent(trace_id: int, span_id: int, sampled: bool) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"

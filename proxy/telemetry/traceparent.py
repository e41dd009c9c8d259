"""W3C Trace Context `traceparent`, parsed and written without the propagator API.

The SDK's propagator goes through a regex, a context object and a span
wrapper (~10 us); a request needs three integers out of a 55-byte header.
"""

from __future__ import annotations

_HEX = frozenset("0123456789abcdef")


def parse_traceparent(value: str) -> tuple[int, int, bool] | None:
    """(trace_id, parent span_id, sampled), or None for a header the spec says to ignore."""
    value = value.strip()
    if len(value) < 55 or value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    version = value[:2]
    # Version 00 is exactly 55 characters; a later version may append fields after a '-'.
    if version == "ff" or (version == "00" and len(value) != 55) or (len(value) > 55 and value[55] != "-"):
        return None
    if not _HEX.issuperset(value[:2] + value[3:35] + value[36:52] + value[53:55]):
        return None
    trace_id = int(value[3:35], 16)
    span_id = int(value[36:52], 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, bool(int(value[53:55], 16) & 1)


def format_traceparent(trace_id: int, span_id: int, sampled: bool) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"

"""Finished spans as plain data, and their OTLP protobuf encoding.

Why not the SDK's span and exporter objects: measured on this project's
2-core machine, an SDK span with ~25 attributes costs ~28 us to create, set
and end, and the OTLP exporter's encoder another ~80 us per span, while a
whole proxied request has a budget of ~150 us. A span here is one slotted
object filled once at the end of the request (~3 us), and the export thread
writes the protobuf wire format directly (~6 us per span): the attributes
that repeat from request to request (route, mode, models, flags, status)
travel as one `labels` dict whose encoding is cached per distinct set, so
only the numbers and ids are encoded each time. `to_readable` converts to
the SDK's `ReadableSpan` for any SDK `SpanExporter` (tests use the in-memory
one).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

AttrValue = str | bool | int | float | tuple[str, ...]

KIND_INTERNAL = 1
KIND_SERVER = 2
KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_ERROR = 2
# Span.flags (field 16): W3C trace flags in bits 0-7; bit 8 says bit 9 is
# known; bit 9 = the parent is remote (it came in a traceparent header).
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200


class SpanData:
    __slots__ = (
        "attributes",
        "end_ns",
        "kind",
        "labels",
        "links",
        "name",
        "parent_remote",
        "parent_span_id",
        "span_id",
        "start_ns",
        "status_code",
        "status_message",
        "trace_id",
        "trace_state",
    )  # fmt: skip

    def __init__(
        self,
        trace_id: int,
        span_id: int,
        parent_span_id: int,
        name: str,
        start_ns: int,
        end_ns: int,
        attributes: dict[str, AttrValue],
        *,
        kind: int = KIND_CLIENT,
        parent_remote: bool = True,
        trace_state: str = "",
        status_code: int = STATUS_UNSET,
        status_message: str = "",
        links: Sequence[tuple[int, int, Mapping[str, AttrValue]]] = (),
        labels: Mapping[str, AttrValue] | None = None,
    ):
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.parent_remote = parent_remote
        self.trace_state = trace_state
        self.name = name
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.attributes = attributes
        self.status_code = status_code
        self.status_message = status_message
        self.links = links
        self.labels = labels or {}
        """Attributes whose values repeat from request to request (route, models, flags): encoded once per distinct set."""


# --- protobuf wire format -------------------------------------------------------

_pack_d = struct.Struct("<d").pack
_pack_q = struct.Struct("<Q").pack
_pack_i = struct.Struct("<I").pack


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,)) if n >= 0 else _varint(n + (1 << 64))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _ld(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return tag + _varint(len(payload)) + payload


def _any_value(value: AttrValue) -> bytes:
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_d(value)
    if isinstance(value, tuple):  # ArrayValue (field 5) of AnyValue (field 1)
        return _ld(b"\x2a", b"".join(_ld(b"\x0a", _any_value(v)) for v in value))
    return _ld(b"\x0a", str(value).encode())


def _key_value(key: str, value: AttrValue) -> bytes:
    return _ld(b"\x0a", key.encode()) + _ld(b"\x12", _any_value(value))


class Encoder:
    """Builds `ExportTraceServiceRequest` bytes for a batch of spans of one resource."""

    _CACHE_LIMIT = 4096

    def __init__(self, resource: bytes, scope: bytes):
        self._resource_field = _ld(b"\x0a", resource)
        self._scope_field = _ld(b"\x0a", scope)
        self._prefix_cache: dict[tuple[bytes, str], bytes] = {}
        self._label_cache: dict[tuple[tuple[str, AttrValue], ...], bytes] = {}

    def _labels(self, labels: Mapping[str, AttrValue]) -> bytes:
        # One dict lookup for ~20 attributes: a proxy sees few distinct
        # (route, mode, arm, models, status, ...) combinations.
        key = tuple(labels.items())
        blob = self._label_cache.get(key)
        if blob is None:
            blob = b"".join(_ld(b"\x4a", _key_value(k, v)) for k, v in key)
            if len(self._label_cache) < self._CACHE_LIMIT:
                self._label_cache[key] = blob
        return blob

    def _attributes(self, attributes: Mapping[str, AttrValue], tag: bytes) -> list[bytes]:
        cache = self._prefix_cache
        out = []
        for key, value in attributes.items():
            if type(value) is float:
                # A double's field has a fixed length: cache everything but the 8 value bytes.
                prefix = cache.get((tag, key))
                if prefix is None:
                    k = key.encode()
                    inner = b"\x0a" + _varint(len(k)) + k + b"\x12\x09\x21"
                    prefix = tag + _varint(len(inner) + 8) + inner
                    if len(cache) < self._CACHE_LIMIT:
                        cache[(tag, key)] = prefix
                out.append(prefix + _pack_d(value))  # type: ignore[arg-type]
            else:
                out.append(_ld(tag, _key_value(key, value)))
        return out

    def span(self, s: SpanData) -> bytes:
        parts = [
            b"\x0a\x10", s.trace_id.to_bytes(16, "big"),
            b"\x12\x08", s.span_id.to_bytes(8, "big"),
        ]  # fmt: skip
        if s.trace_state:
            parts.append(_ld(b"\x1a", s.trace_state.encode()))
        if s.parent_span_id:
            parts += (b"\x22\x08", s.parent_span_id.to_bytes(8, "big"))
        parts.append(_ld(b"\x2a", s.name.encode()))
        parts += (b"\x30", _varint(s.kind), b"\x39", _pack_q(s.start_ns), b"\x41", _pack_q(s.end_ns))
        if s.labels:
            parts.append(self._labels(s.labels))
        parts += self._attributes(s.attributes, b"\x4a")
        for trace_id, span_id, attrs in s.links:
            link = [b"\x0a\x10", trace_id.to_bytes(16, "big"), b"\x12\x08", span_id.to_bytes(8, "big")]
            link += self._attributes(attrs, b"\x22")
            link += (b"\x35", _pack_i(0x101))
            parts.append(_ld(b"\x6a", b"".join(link)))
        if s.status_code:
            status = (
                (_ld(b"\x12", s.status_message.encode()) if s.status_message else b"")
                + b"\x18"
                + _varint(s.status_code)
            )
            parts.append(_ld(b"\x7a", status))
        flags = 0x01 | _HAS_IS_REMOTE | (_IS_REMOTE if s.parent_span_id and s.parent_remote else 0)
        parts += (b"\x85\x01", _pack_i(flags))
        return b"".join(parts)

    def request(self, spans: Sequence[SpanData]) -> bytes:
        scope_spans = self._scope_field + b"".join(_ld(b"\x12", self.span(s)) for s in spans)
        resource_spans = self._resource_field + _ld(b"\x12", scope_spans)
        return _ld(b"\x0a", resource_spans)


# --- the SDK's shape, for SDK exporters ------------------------------------------

_KINDS = {KIND_INTERNAL: SpanKind.INTERNAL, KIND_SERVER: SpanKind.SERVER, KIND_CLIENT: SpanKind.CLIENT}


def to_readable(s: SpanData, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    flags = TraceFlags(TraceFlags.SAMPLED)
    state = TraceState.from_header([s.trace_state]) if s.trace_state else TraceState()
    parent = SpanContext(s.trace_id, s.parent_span_id, s.parent_remote, flags, state) if s.parent_span_id else None
    links = [Link(SpanContext(t, i, False, flags), dict(a)) for t, i, a in s.links]
    status = Status(StatusCode.ERROR, s.status_message or None) if s.status_code == STATUS_ERROR else Status()
    return ReadableSpan(
        name=s.name,
        context=SpanContext(s.trace_id, s.span_id, False, flags, state),
        parent=parent,
        resource=resource,
        attributes={k: list(v) if isinstance(v, tuple) else v for k, v in (*s.labels.items(), *s.attributes.items())},
        links=links,
        kind=_KINDS.get(s.kind, SpanKind.INTERNAL),
        instrumentation_scope=scope,
        status=status,
        start_time=s.start_ns,
        end_time=s.end_ns,
    )

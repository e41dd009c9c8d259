"""OTLP protobuf wire format for finished spans, written without the protobuf runtime.

`Encoder.finished` writes a request's span straight from its `RequestRecord`
(~2.5 us per span): the attributes that repeat from request to request
(route, mode, models, flags, status) are encoded once per distinct
`label_key` and cached, so per span only the ids, times, token counts,
doubles (one `struct` call) and request ids are written. `Encoder.span`
encodes a `SpanData` (shadow spans) the plain way; tests check both give the
same bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from proxy.record import RequestRecord
from proxy.telemetry import attributes as A
from proxy.telemetry.span_attributes import span_attributes
from proxy.telemetry.spans import (
    KIND_CLIENT,
    STATUS_ERROR,
    AttrValue,
    Finished,
    SpanData,
)

# Span.flags (field 16): W3C trace flags in bits 0-7; bit 8 says bit 9 is
# known; bit 9 = the parent is remote (it came in a traceparent header).
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

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


def _double_prefix(tag: bytes, key: str) -> bytes:
    """Everything of a double-valued attribute but its 8 value bytes."""
    k = key.encode()
    inner = b"\x0a" + _varint(len(k)) + k + b"\x12\x09\x21"
    return tag + _varint(len(inner) + 8) + inner


def _plain(key: str, value: AttrValue) -> bytes:
    """One span attribute (field 9), encoded the plain way."""
    return _ld(b"\x4a", _key_value(key, value))


# Fast paths for the per-request values of `Encoder.finished`; anything they
# do not cover (a long string, a huge or negative int, an unexpected type)
# goes through `_plain`, and tests check both give the same bytes.
_BYTE = [bytes((i,)) for i in range(256)]
_MASK64 = (1 << 64) - 1
_ids = struct.Struct(">BBQQBBQ").pack  # trace_id (field 1, 16 bytes) and span_id (field 2, 8 bytes)
_ids_parent = struct.Struct(">BBQQBBQBBQ").pack  # ... and parent_span_id (field 4)
_kind_times = struct.Struct("<BBBQBQ").pack  # kind (6), start (7), end (8)
_FLAGS_ROOT = b"\x85\x01" + _pack_i(0x01 | _HAS_IS_REMOTE)
_FLAGS_REMOTE_PARENT = b"\x85\x01" + _pack_i(0x01 | _HAS_IS_REMOTE | _IS_REMOTE)
_P_COST = _double_prefix(b"\x4a", A.ESTIMATED_COST)
_P_SCORE = _double_prefix(b"\x4a", A.SCORE)
_P_COUNTERFACTUAL = _double_prefix(b"\x4a", A.COUNTERFACTUAL_COST)
_P_SAVINGS = _double_prefix(b"\x4a", A.SAVINGS)
_P_FIRST_CHUNK = _double_prefix(b"\x4a", A.TIME_TO_FIRST_CHUNK_MS)
# (prefix, double) pairs in one struct call: the cost, score, counterfactual, savings (and first chunk) of a request.
_pack_doubles4 = struct.Struct(
    "<" + "".join(f"{len(p)}sd" for p in (_P_COST, _P_SCORE, _P_COUNTERFACTUAL, _P_SAVINGS))
).pack
_pack_doubles5 = struct.Struct(
    "<" + "".join(f"{len(p)}sd" for p in (_P_COST, _P_SCORE, _P_COUNTERFACTUAL, _P_SAVINGS, _P_FIRST_CHUNK))
).pack


def _int_prefixes(key: str) -> tuple[bytes, bytes, bytes]:
    """For a varint value of 1, 2 and 3 bytes: everything of the attribute before the value's varint."""
    k = key.encode()
    kq = b"\x0a" + _varint(len(k)) + k
    out = []
    for n in (1, 2, 3):
        kv_len = len(kq) + 2 + 1 + n  # key field, value tag + length, AnyValue tag + varint
        out.append(b"\x4a" + _varint(kv_len) + kq + b"\x12" + bytes((1 + n,)) + b"\x18")
    return out[0], out[1], out[2]


_P_INPUT = _int_prefixes(A.GEN_AI_USAGE_INPUT_TOKENS)
_P_OUTPUT = _int_prefixes(A.GEN_AI_USAGE_OUTPUT_TOKENS)
_P_CACHED = _int_prefixes(A.CACHED_INPUT_TOKENS)


def _int_attr(parts: list[bytes], prefixes: tuple[bytes, bytes, bytes], key: str, value: int) -> None:
    if type(value) is int and 0 <= value < 0x200000:
        if value < 0x80:
            parts += (prefixes[0], _BYTE[value])
        elif value < 0x4000:
            parts += (prefixes[1], bytes((value & 0x7F | 0x80, value >> 7)))
        else:
            parts += (prefixes[2], bytes((value & 0x7F | 0x80, (value >> 7) & 0x7F | 0x80, value >> 14)))
    else:
        parts.append(_plain(key, value))


def _str_prefixes(key: str) -> list[bytes]:
    """By the UTF-8 length n of a string value: everything of the attribute before the string's bytes.

    Only for lengths where every varint is one byte; longer values take `_plain`.
    """
    k = key.encode()
    kq = b"\x0a" + _varint(len(k)) + k
    out = []
    for n in range(0x80):
        size = len(kq) + n + 4  # KeyValue: key field, 0x12 + length, AnyValue 0x0a + length + bytes
        if size >= 0x80:
            break
        out.append(bytes((0x4A, size)) + kq + bytes((0x12, n + 2, 0x0A, n)))
    return out


_S_REQUEST_ID = _str_prefixes(A.REQUEST_ID)
_S_UPSTREAM_REQUEST_ID = _str_prefixes(A.UPSTREAM_REQUEST_ID)


def _str_attr(parts: list[bytes], prefixes: list[bytes], key: str, value: str) -> None:
    if type(value) is str:
        b = value.encode()
        if len(b) < len(prefixes):
            parts += (prefixes[len(b)], b)
            return
    parts.append(_plain(key, value))


class Encoder:
    """Builds `ExportTraceServiceRequest` bytes for a batch of spans of one resource."""

    _CACHE_LIMIT = 4096

    def __init__(self, resource: bytes, scope: bytes, *, capture_content: bool = False):
        self._resource_field = _ld(b"\x0a", resource)
        self._scope_field = _ld(b"\x0a", scope)
        self._prefix_cache: dict[tuple[bytes, str], bytes] = {}
        self._label_cache: dict[tuple[tuple[str, AttrValue], ...], bytes] = {}
        self._record_cache: dict[tuple, tuple[bytes, bytes, bytes]] = {}
        self.capture_content = capture_content
        """Whether `finished` adds the prompt and completion text (`telemetry.capture_content`)."""

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

    def item(self, s: SpanData | Finished) -> bytes:
        """One span as a `ScopeSpans.spans` field (tag, length, body), ready for `envelope`."""
        body = self.span(s) if type(s) is SpanData else self.finished(s)  # type: ignore[arg-type]
        n = len(body)
        if n < 0x80:
            return b"\x12" + _BYTE[n] + body
        if n < 0x4000:
            return b"\x12" + bytes((n & 0x7F | 0x80, n >> 7)) + body
        return b"\x12" + _varint(n) + body

    def envelope(self, items: Sequence[bytes]) -> bytes:
        """The `ExportTraceServiceRequest` for spans already encoded by `item`, in the order given."""
        scope_spans = self._scope_field + b"".join(items)
        resource_spans = self._resource_field + _ld(b"\x12", scope_spans)
        return _ld(b"\x0a", resource_spans)

    def request(self, spans: Sequence[SpanData | Finished]) -> bytes:
        """One request for a batch of `SpanData` and `Finished` request spans, in the order given."""
        return self.envelope([self.item(s) for s in spans])

    # --- a request's span straight from its record ---------------------------------------

    def finished(self, span: Finished) -> bytes:
        """The same bytes as `span(finished_span_data(span, capture_content))`, without building a `SpanData`.

        The attributes that repeat (see `span_attributes`) are looked up by a
        tuple of the record's fields, so on a hit only the ids, times, numbers
        and request ids are encoded; a miss encodes them the plain way, once.
        """
        r = span.record
        key = span.key
        usage = r.usage
        cached = self._record_cache.get(key)
        if cached is None:
            cached = self._record_labels(key, r, key[-1])
        name, labels, status = cached
        parent = span.parent_span_id
        trace_id = span.trace_id_int
        if span.trace_state:
            parts = [
                _ids(0x0A, 0x10, trace_id >> 64, trace_id & _MASK64, 0x12, 0x08, span.span_id),
                _ld(b"\x1a", span.trace_state.encode()),
            ]
            if parent:
                parts += (b"\x22\x08", parent.to_bytes(8, "big"))
        elif parent:
            parts = [_ids_parent(0x0A, 0x10, trace_id >> 64, trace_id & _MASK64, 0x12, 0x08, span.span_id, 0x22, 0x08, parent)]
        else:
            parts = [_ids(0x0A, 0x10, trace_id >> 64, trace_id & _MASK64, 0x12, 0x08, span.span_id)]
        start_ns = r.start_time_ns
        end_ns = span.end_ns or start_ns + int(r.duration_ms * 1_000_000)
        parts += (name, _kind_times(0x30, KIND_CLIENT, 0x39, start_ns, 0x41, end_ns), labels)
        # The values, in span_attributes' order.
        if usage is not None:
            _int_attr(parts, _P_INPUT, A.GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens)
            _int_attr(parts, _P_OUTPUT, A.GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens)
            if usage.cached_input_tokens:
                _int_attr(parts, _P_CACHED, A.CACHED_INPUT_TOKENS, usage.cached_input_tokens)
        cost, score, counterfactual, savings, first_chunk = (
            r.cost_usd, r.score, r.counterfactual_cost_usd, r.savings_usd, r.first_chunk_ms
        )  # fmt: skip
        if type(cost) is float and type(score) is float and type(counterfactual) is float and type(savings) is float:
            # The usual priced and classified request: its doubles in one pack.
            if type(first_chunk) is float:
                parts.append(_pack_doubles5(_P_COST, cost, _P_SCORE, score, _P_COUNTERFACTUAL, counterfactual,
                                            _P_SAVINGS, savings, _P_FIRST_CHUNK, first_chunk))  # fmt: skip
                first_chunk = None
            else:
                parts.append(_pack_doubles4(_P_COST, cost, _P_SCORE, score, _P_COUNTERFACTUAL, counterfactual,
                                            _P_SAVINGS, savings))  # fmt: skip
        else:
            if cost is not None:
                parts += (_P_COST, _pack_d(cost)) if type(cost) is float else (_plain(A.ESTIMATED_COST, cost),)
            if score is not None:
                parts += (_P_SCORE, _pack_d(float(score)))
            if counterfactual is not None:
                parts += (
                    (_P_COUNTERFACTUAL, _pack_d(counterfactual))
                    if type(counterfactual) is float
                    else (_plain(A.COUNTERFACTUAL_COST, counterfactual),)
                )
            if savings is not None:
                parts += (_P_SAVINGS, _pack_d(savings)) if type(savings) is float else (_plain(A.SAVINGS, savings),)
        if first_chunk is not None:
            parts += (_P_FIRST_CHUNK, _pack_d(float(first_chunk)))
        _str_attr(parts, _S_REQUEST_ID, A.REQUEST_ID, r.request_id)
        if r.upstream_request_id:
            _str_attr(parts, _S_UPSTREAM_REQUEST_ID, A.UPSTREAM_REQUEST_ID, r.upstream_request_id)
        if self.capture_content:
            if r.prompt_text is not None:
                parts.append(_plain(A.PROMPT_TEXT, r.prompt_text))
            if r.completion_text is not None:
                parts.append(_plain(A.COMPLETION_TEXT, r.completion_text))
        if status:
            parts.append(status)
        parts.append(_FLAGS_REMOTE_PARENT if parent else _FLAGS_ROOT)
        return b"".join(parts)

    def _record_labels(self, key: tuple, r: RequestRecord, error_type: str | None) -> tuple[bytes, bytes, bytes]:
        """(name field, labels, status field) of a record, encoded the plain way and cached under `key`."""
        labels, _ = span_attributes(r, error_type, False)
        name = _ld(b"\x2a", f"llm-router {r.route}".encode())
        blob = b"".join(_ld(b"\x4a", _key_value(k, v)) for k, v in labels.items())
        status = _ld(b"\x7a", _ld(b"\x12", error_type.encode()) + b"\x18" + _varint(STATUS_ERROR)) if error_type else b""
        if len(self._record_cache) < self._CACHE_LIMIT:
            self._record_cache[key] = (name, blob, status)
        return name, blob, status

"""A request's trace identity, and finished spans as plain data.

Why not the SDK's span and exporter objects: measured on this project's
2-core machine, an SDK span with ~25 attributes costs ~28 us to create, set
and end, and the OTLP exporter's encoder another ~80 us per span, while a
whole proxied request has a budget of ~60 us. Here a request carries one
slotted `RequestSpan` (ids only); `Telemetry.finish` queues that span with a
reference to the finished `RequestRecord`, building no attributes at all,
and the export thread writes the protobuf wire format straight from the
record (`proxy.telemetry.otlp`). `to_readable` converts to the SDK's `ReadableSpan`
for any SDK `SpanExporter` (tests and the demo use the in-memory one).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from proxy.record import RequestRecord
from proxy.telemetry.span_attributes import span_attributes

AttrValue = str | bool | int | float | tuple[str, ...]

KIND_INTERNAL = 1
KIND_SERVER = 2
KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_ERROR = 2


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


class RequestSpan:
    """The trace identity of one request; cheap enough to exist for every request."""

    __slots__ = (
        "cost_usd",
        "duration_ms",
        "end_ns",
        "incoming_traceparent",
        "key",
        "parent_span_id",
        "record",
        "route",
        "sampled",
        "span_id",
        "trace_hex",
        "trace_id_int",
        "trace_state",
    )
    # Set by `Telemetry.finish` only on a span it queues for export (unset otherwise):
    # `record`, the finished RequestRecord; `key`, its `label_key`; `end_ns`, the
    # span's end, or 0 for start + duration.
    record: RequestRecord
    key: tuple
    end_ns: int

    def __init__(
        self,
        trace_id: int,
        span_id: int,
        parent_span_id: int,
        trace_state: str,
        sampled: bool,
        route: str = "-",
        trace_hex: str | None = None,
    ):
        self.trace_id_int = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.trace_state = trace_state
        self.sampled = sampled
        self.route = route
        self.trace_hex = trace_hex
        """`trace_id_int` as 32 hex digits when already known (it came in a traceparent), else None."""
        self.incoming_traceparent: str | None = None
        self.cost_usd: float | None = None
        self.duration_ms: float | None = None

    @property
    def name(self) -> str:
        return f"llm-router {self.route}"

    @property
    def trace_id(self) -> str | None:
        """32 hex digits for log lines, or None when there is no trace (no tracing and no incoming traceparent)."""
        if not self.trace_id_int:
            return None
        if self.trace_hex is None:
            self.trace_hex = self.trace_id_int.to_bytes(16, "big").hex()
        return self.trace_hex

    def rename(self, route: str) -> None:
        """The route is known only after routing; `finish` also renames from `record.route`."""
        self.route = route

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Set `traceparent` (and `tracestate`) for the upstream call."""
        if self.span_id:
            # to_bytes().hex() is about twice as fast as a `:032x` format.
            trace_hex = self.trace_hex
            if trace_hex is None:
                trace_hex = self.trace_hex = self.trace_id_int.to_bytes(16, "big").hex()
            span_hex = self.span_id.to_bytes(8, "big").hex()
            headers["traceparent"] = f"00-{trace_hex}-{span_hex}-{'01' if self.sampled else '00'}"
        elif self.incoming_traceparent:
            # Not tracing here: stay invisible and hand the app's context on unchanged.
            headers["traceparent"] = self.incoming_traceparent
        if self.trace_state:
            headers["tracestate"] = self.trace_state


Finished = RequestSpan
"""A request's span as `Telemetry.finish` queues it: with `record`, `key` and `end_ns` set."""


def finished_span_data(item: Finished, capture_content: bool) -> SpanData:
    """The `SpanData` for a queued request span: what SDK exporters get, and what `Encoder.finished` must match."""
    r = item.record
    error_type = item.key[-1]
    labels, values = span_attributes(r, error_type, capture_content)
    return SpanData(
        item.trace_id_int,
        item.span_id,
        item.parent_span_id,
        f"llm-router {r.route}",
        r.start_time_ns,
        item.end_ns or r.start_time_ns + int(r.duration_ms * 1_000_000),
        values,
        labels=labels,
        kind=KIND_CLIENT,
        trace_state=item.trace_state,
        status_code=STATUS_ERROR if error_type else 0,
        status_message=error_type or "",
    )


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

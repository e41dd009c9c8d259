"""The hand-written OTLP span encoding decodes, with opentelemetry-proto, to what was put in."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from proxy.telemetry.otlp import Encoder
from proxy.telemetry.spans import KIND_CLIENT, STATUS_ERROR, SpanData
from tests.telemetry.receiver import attrs

RESOURCE = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="r"))])
SCOPE = InstrumentationScope(name="llm_router", version="1")


def decode(data: bytes) -> list[Span]:
    request = ExportTraceServiceRequest.FromString(data)
    (rs,) = request.resource_spans
    assert rs.resource == RESOURCE
    (ss,) = rs.scope_spans
    assert ss.scope == SCOPE
    return list(ss.spans)


def test_every_field_and_value_type_round_trips() -> None:
    encoder = Encoder(RESOURCE.SerializeToString(), SCOPE.SerializeToString())
    labels = {"route": "default", "flag": True, "off": False, "status": 200, "reasons": ("stop", "length")}
    values = {"cost": 0.00123, "tokens": 2**40, "negative": -7, "zero": 0, "id": "req-ü", "big": "x" * 300}
    span = SpanData(
        (1 << 127) | 5, (1 << 63) | 9, 77, "llm-router default", 1_700_000_000_000_000_000, 1_700_000_000_500_000_000,
        values, labels=labels, kind=KIND_CLIENT, trace_state="v=1", status_code=STATUS_ERROR, status_message="502",
        links=[(3, 4, {"why": "shadow"})],
    )  # fmt: skip
    for _ in range(2):  # the second pass is served from the label cache
        (s,) = decode(encoder.request([span]))
        assert s.trace_id == span.trace_id.to_bytes(16, "big") and s.span_id == span.span_id.to_bytes(8, "big")
        assert s.parent_span_id == (77).to_bytes(8, "big") and s.trace_state == "v=1"
        assert (s.name, s.kind) == ("llm-router default", Span.SPAN_KIND_CLIENT)
        assert (s.start_time_unix_nano, s.end_time_unix_nano) == (span.start_ns, span.end_ns)
        assert s.status.code == Status.STATUS_CODE_ERROR and s.status.message == "502"
        assert attrs(s) == {**labels, **values, "reasons": ["stop", "length"]}
        assert s.links[0].trace_id == (3).to_bytes(16, "big") and attrs(s.links[0]) == {"why": "shadow"}
        assert s.flags & 0xFF == 1 and s.flags & 0x300 == 0x300  # sampled; parent known to be remote


def test_a_batch_of_many_spans() -> None:
    encoder = Encoder(RESOURCE.SerializeToString(), SCOPE.SerializeToString())
    spans = [SpanData(i + 1, i + 1, 0, f"s{i}", i, i + 1, {"i": i}, labels={"r": "x"}) for i in range(600)]
    decoded = decode(encoder.request(spans))
    assert [s.name for s in decoded] == [f"s{i}" for i in range(600)]
    assert all(not s.parent_span_id and s.flags & 0x300 == 0x100 for s in decoded)

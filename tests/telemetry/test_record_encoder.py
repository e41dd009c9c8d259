"""`Encoder.finished` (a request's span straight from its record, with cached fragments) writes
exactly the bytes of the plain path (`span_attributes` -> `SpanData` -> `Encoder.span`), and they
decode with opentelemetry-proto to the record's attributes."""

from __future__ import annotations

import random

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from proxy.record import RequestRecord, Usage
from proxy.telemetry import RequestSpan
from proxy.telemetry import attributes as A
from proxy.telemetry.otlp import Encoder
from proxy.telemetry.span_attributes import label_key, span_attributes
from proxy.telemetry.spans import SpanData, finished_span_data
from tests.telemetry import records
from tests.telemetry.receiver import attrs
from tests.telemetry.test_encoder import RESOURCE, SCOPE, decode


def encoder(capture_content: bool = False) -> Encoder:
    return Encoder(RESOURCE.SerializeToString(), SCOPE.SerializeToString(), capture_content=capture_content)


def item(r: RequestRecord, *, parent: int = 0, state: str = "", trace_id: int = (1 << 127) | 5, span_id: int = 9):
    error = r.error or (str(r.status) if r.status >= 500 else None)
    span = RequestSpan(trace_id, span_id, parent, state, True, r.route)
    span.record, span.key, span.end_ns = r, label_key(r, error), 0
    return span


def plain(encoder: Encoder, it: tuple) -> bytes:
    return encoder.span(finished_span_data(it, encoder.capture_content))


def random_record(rng: random.Random, i: int) -> RequestRecord:
    """Every field the span reads, each with its usual values and the edges of the fast paths."""

    def pick(*options: object) -> object:
        return rng.choice(options)

    ints = (0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 2**40)
    r = records.record(
        request_id=pick(f"req-{i}", "", "ü" * 40, "x" * 120, "x" * 121, "y" * 126, "z" * 300),
        method=pick("POST", "GET"),
        path=pick("/v1/chat/completions", "/v1/embeddings", "/" + "p" * 200),
        route=pick("default", "support", "chat", "ré"),
        mode=pick("passthrough", "canary", "shadow"),
        arm=pick(None, "control", "router"),
        upstream=pick("openai", "azure"),
        operation=pick(None, "chat", "embeddings"),
        provider=pick("openai", "azure.ai.openai"),
        stream=pick(True, False),
        requested_model=pick(None, "gpt-4o", "gpt-4o-mini"),
        model_used=pick(None, "gpt-4o", "gpt-4o-mini"),
        response_model=pick(None, "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"),
        router_model=pick(None, "gpt-4o-mini"),
        tier=pick(None, "simple", "complex"),
        score=pick(None, 0.21, 1, 0.0),
        stage=pick(None, "rules", "tfidf"),
        status=pick(0, 200, 400, 499, 502, 504),
        error=pick(None, None, "upstream_timeout", "client_disconnected"),
        fallback=pick(True, False),
        escalated=pick(True, False),
        fail_open=pick(True, False),
        usage=pick(
            None,
            Usage(rng.choice(ints), rng.choice(ints), rng.choice((0, 0, 5, 200, 20000))),
            Usage(12, 5, 0, estimated=True),
        ),
        finish_reason=pick(None, "stop", "length"),
        cost_usd=pick(None, 0.00123, 0.0, 0),
        counterfactual_cost_usd=pick(None, 0.0123, 3),
        savings_usd=pick(None, 0.011, -0.5, 0),
        first_chunk_ms=pick(None, 85.0, 3),
        duration_ms=pick(120.0, 0.5, 99999.25),
        upstream_request_id=pick(None, "", "chatcmpl-abc", "c" * 200),
        prompt_text=pick(None, "hi", "p" * 500),
        completion_text=pick(None, "hello"),
    )
    return r


@pytest.mark.parametrize("capture_content", [False, True])
def test_same_bytes_as_the_plain_encoder(capture_content: bool) -> None:
    rng = random.Random(7)
    fast, reference = encoder(capture_content), encoder(capture_content)
    items = []
    for i in range(3000):
        r = random_record(rng, i)
        parent = rng.choice((0, 0, rng.getrandbits(64) or 1))
        state = rng.choice(("", "", "vendor=abc"))
        items.append(item(r, parent=parent, state=state, trace_id=rng.getrandbits(128) or 1, span_id=rng.getrandbits(64) or 1))
    for _ in range(2):  # the second pass is served from the caches
        for it in items:
            assert fast.finished(it) == plain(reference, it), it.record
    # A batch mixing queued records and SpanData encodes as the plain batch does.
    shadow = finished_span_data(items[1], capture_content)
    shadow.links = [(3, 4, {"why": "shadow"})]
    mixed = [*items[:300], shadow, *items[300:600]]
    as_data = [s if isinstance(s, SpanData) else finished_span_data(s, capture_content) for s in mixed]
    assert fast.request(mixed) == reference.request(as_data)
    assert len(decode(fast.request(mixed))) == 601


def test_decodes_to_the_record() -> None:
    enc = encoder()
    r = records.canary()
    r.cost_usd, r.counterfactual_cost_usd, r.savings_usd = 0.0003, 0.005, 0.0047
    r.upstream_request_id = "chatcmpl-123"
    it = item(r, parent=77, state="v=1")
    for _ in range(2):
        (s,) = decode(enc.request([it]))
        assert s.trace_id == ((1 << 127) | 5).to_bytes(16, "big") and s.span_id == (9).to_bytes(8, "big")
        assert s.parent_span_id == (77).to_bytes(8, "big") and s.trace_state == "v=1"
        assert (s.name, s.kind) == ("llm-router support", Span.SPAN_KIND_CLIENT)
        assert (s.start_time_unix_nano, s.end_time_unix_nano) == (r.start_time_ns, r.start_time_ns + 120_000_000)
        assert s.status.code == Status.STATUS_CODE_UNSET
        assert s.flags & 0xFF == 1 and s.flags & 0x300 == 0x300
        labels, values = span_attributes(r, None, False)
        expected = {**labels, **values, A.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"]}
        assert attrs(s) == expected
        assert attrs(s)[A.GEN_AI_USAGE_INPUT_TOKENS] == 1000 and attrs(s)[A.REQUEST_ID] == "req-1"


def test_error_status_and_root_flags() -> None:
    enc = encoder()
    r = records.record(status=504, error="upstream_timeout", requested_model="gpt-4o")
    (s,) = decode(enc.request([item(r)]))
    assert s.status.code == Status.STATUS_CODE_ERROR and s.status.message == "upstream_timeout"
    assert attrs(s)[A.ERROR_TYPE] == "upstream_timeout"
    assert not s.parent_span_id and s.flags & 0x300 == 0x100


def test_cache_is_bounded_and_still_correct_when_full() -> None:
    enc = encoder()
    enc._CACHE_LIMIT = 2  # type: ignore[misc]
    its = [item(records.record(route=f"route-{i}", requested_model="gpt-4o")) for i in range(5)]
    for it in its:
        assert enc.finished(it) == plain(encoder(), it)
    assert len(enc._record_cache) == 2

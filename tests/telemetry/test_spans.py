"""Span attributes per rollout mode, costs by hand, parenting and propagation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from proxy.pricing import PriceTable
from proxy.record import Usage
from proxy.telemetry import Telemetry, TelemetrySettings
from proxy.telemetry import attributes as A
from tests.telemetry import records

APP_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
APP_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{APP_TRACE}-{APP_SPAN}-01"


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def telemetry(prices: PriceTable, exporter: InMemorySpanExporter) -> Iterator[Telemetry]:
    t = Telemetry.create(TelemetrySettings(), prices, environ={}, span_exporter=exporter)
    yield t
    t._worker.shutdown()  # type: ignore[union-attr]


def finished(telemetry: Telemetry, exporter: InMemorySpanExporter):
    telemetry.force_flush()
    return exporter.get_finished_spans()


def by_hand(prices: PriceTable, model: str, usage: Usage) -> float:
    p = prices.get(model)
    assert p is not None
    return (
        (usage.input_tokens - usage.cached_input_tokens) * p.input
        + usage.cached_input_tokens * p.cached_input
        + usage.output_tokens * p.output
    )


def test_passthrough_attributes(telemetry: Telemetry, exporter: InMemorySpanExporter, prices: PriceTable) -> None:
    r = records.passthrough()
    span = telemetry.start(r, {"traceparent": TRACEPARENT})
    telemetry.finish(r, span)
    (s,) = finished(telemetry, exporter)
    a = s.attributes
    cost = by_hand(prices, "gpt-4o", Usage(1200, 300, 200))
    assert s.name == "llm-router default"
    assert s.kind == SpanKind.CLIENT
    assert a[A.MODEL_USED] == "gpt-4o"
    assert a[A.ESTIMATED_COST] == pytest.approx(cost)
    assert r.cost_usd == pytest.approx(cost)
    assert a[A.CLASSIFIED_INTENT] == "simple"
    assert a[A.GEN_AI_OPERATION_NAME] == "chat"
    assert a[A.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[A.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert a[A.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 1200
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 300
    assert a[A.ROUTE] == "default"
    assert a[A.MODE] == "passthrough"
    assert a[A.ARM] == "control"
    assert a[A.SCORE] == pytest.approx(0.21)
    assert a[A.STAGE] == "rules"
    assert a[A.REQUESTED_MODEL] == "gpt-4o"
    assert a[A.COUNTERFACTUAL_COST] == pytest.approx(cost)
    assert a[A.SAVINGS] == 0.0
    assert a[A.FALLBACK] is False
    assert a[A.ESCALATED] is False
    assert a[A.ROUTER_MODEL] == "gpt-4o-mini"
    assert s.status.status_code == StatusCode.UNSET
    assert A.PROMPT_TEXT not in a and A.COMPLETION_TEXT not in a


def test_canary_attributes_and_savings(
    telemetry: Telemetry, exporter: InMemorySpanExporter, prices: PriceTable
) -> None:
    r = records.canary()
    span = telemetry.start(r, {})
    telemetry.finish(r, span)
    (s,) = finished(telemetry, exporter)
    a = s.attributes
    usage = Usage(1000, 250, 0)
    actual = by_hand(prices, "gpt-4o-mini", usage)
    counterfactual = by_hand(prices, "gpt-4o", usage)
    # $0.15/$0.60 vs $2.50/$10 per million tokens.
    assert actual == pytest.approx(1000 * 0.15e-6 + 250 * 0.60e-6)
    assert counterfactual == pytest.approx(1000 * 2.5e-6 + 250 * 10e-6)
    assert s.name == "llm-router support"
    assert s.parent is None
    assert a[A.MODEL_USED] == "gpt-4o-mini"
    assert a[A.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert a[A.REQUESTED_MODEL] == "gpt-4o"
    assert a[A.ESTIMATED_COST] == pytest.approx(actual)
    assert a[A.COUNTERFACTUAL_COST] == pytest.approx(counterfactual)
    assert a[A.SAVINGS] == pytest.approx(counterfactual - actual)
    assert r.savings_usd == pytest.approx(counterfactual - actual)
    assert (a[A.MODE], a[A.ARM], a[A.STAGE], a[A.CLASSIFIED_INTENT]) == ("canary", "router", "tfidf", "simple")
    assert a[A.TIME_TO_FIRST_CHUNK_MS] == 85.0
    assert a[A.STREAMED] is True


def test_shadow_span_is_linked_and_carries_the_diff(
    telemetry: Telemetry, exporter: InMemorySpanExporter, prices: PriceTable
) -> None:
    primary = records.shadow_primary()
    span = telemetry.start(primary, {"traceparent": TRACEPARENT})
    telemetry.finish(primary, span)
    shadow = records.shadow_call()
    telemetry.shadow(span, shadow, {"similarity": 0.83, "length_ratio": 0.95})
    main, side = finished(telemetry, exporter)
    assert main.attributes[A.MODE] == "shadow"
    assert A.SHADOW not in main.attributes
    a = side.attributes
    assert a[A.SHADOW] is True
    assert side.name == "llm-router default shadow"
    assert side.context.trace_id == main.context.trace_id
    assert side.parent is not None and side.parent.span_id == int(APP_SPAN, 16)
    (link,) = side.links
    assert (link.context.trace_id, link.context.span_id) == (main.context.trace_id, main.context.span_id)
    assert a[A.MODEL_USED] == "gpt-4o-mini"
    assert a["llm_router.shadow.similarity"] == pytest.approx(0.83)
    assert a["llm_router.shadow.length_ratio"] == pytest.approx(0.95)
    assert a["llm_router.shadow.primary_cost"] == pytest.approx(by_hand(prices, "gpt-4o", Usage(800, 400)))
    assert a["llm_router.shadow.shadow_cost"] == pytest.approx(by_hand(prices, "gpt-4o-mini", Usage(800, 380)))
    assert a["llm_router.shadow.primary_latency_ms"] == 120.0
    assert a["llm_router.shadow.shadow_latency_ms"] == 95.0


def test_incoming_traceparent_is_the_parent_and_is_propagated(
    telemetry: Telemetry, exporter: InMemorySpanExporter
) -> None:
    r = records.passthrough()
    span = telemetry.start(r, {"traceparent": TRACEPARENT, "tracestate": "vendor=abc"})
    upstream: dict[str, str] = {}
    span.inject(upstream)
    telemetry.finish(r, span)
    (s,) = finished(telemetry, exporter)
    assert span.trace_id == APP_TRACE
    assert s.context.trace_id == int(APP_TRACE, 16)
    assert s.parent is not None and s.parent.span_id == int(APP_SPAN, 16) and s.parent.is_remote
    assert upstream["traceparent"] == f"00-{APP_TRACE}-{s.context.span_id:016x}-01"
    assert upstream["tracestate"] == "vendor=abc"
    assert s.context.trace_state.get("vendor") == "abc"


def test_unsampled_parent_records_nothing_but_propagates(telemetry: Telemetry, exporter: InMemorySpanExporter) -> None:
    r = records.passthrough()
    span = telemetry.start(r, {"traceparent": f"00-{APP_TRACE}-{APP_SPAN}-00"})
    headers: dict[str, str] = {}
    span.inject(headers)
    telemetry.finish(r, span)
    assert finished(telemetry, exporter) == ()
    assert headers["traceparent"].startswith(f"00-{APP_TRACE}-") and headers["traceparent"].endswith("-00")
    assert r.cost_usd is not None  # costs and metrics still counted


@pytest.mark.parametrize(
    "bad",
    ["garbage", f"ff-{APP_TRACE}-{APP_SPAN}-01", f"00-{'0' * 32}-{APP_SPAN}-01", f"00-{APP_TRACE}-{APP_SPAN}-01-extra"],
)
def test_malformed_traceparent_starts_a_new_trace(telemetry: Telemetry, bad: str) -> None:
    span = telemetry.start(records.passthrough(), {"traceparent": bad})
    assert span.parent_span_id == 0 and span.trace_id and span.trace_id != APP_TRACE


def test_errors_set_status_and_error_type(telemetry: Telemetry, exporter: InMemorySpanExporter) -> None:
    upstream_down = records.record(status=502, requested_model="gpt-4o", model_used="gpt-4o", tier=None)
    timed_out = records.record(status=504, error="upstream_timeout", requested_model="gpt-4o")
    client_error = records.record(status=400, requested_model="gpt-4o")
    for r in (upstream_down, timed_out, client_error):
        telemetry.finish(r, telemetry.start(r, {}))
    down, timeout, bad_request = finished(telemetry, exporter)
    assert down.status.status_code == StatusCode.ERROR and down.attributes[A.ERROR_TYPE] == "502"
    assert down.attributes[A.CLASSIFIED_INTENT] == "unknown"
    assert timeout.status.status_code == StatusCode.ERROR and timeout.attributes[A.ERROR_TYPE] == "upstream_timeout"
    assert bad_request.status.status_code == StatusCode.UNSET and A.ERROR_TYPE not in bad_request.attributes


def test_content_only_with_capture_content(prices: PriceTable) -> None:
    exporter = InMemorySpanExporter()
    t = Telemetry.create(TelemetrySettings(capture_content=True), prices, environ={}, span_exporter=exporter)
    try:
        r = records.passthrough()
        r.prompt_text, r.completion_text = "hi", "hello"
        t.finish(r, t.start(r, {}))
        (s,) = finished(t, exporter)
        assert (s.attributes[A.PROMPT_TEXT], s.attributes[A.COMPLETION_TEXT]) == ("hi", "hello")
    finally:
        t._worker.shutdown()  # type: ignore[union-attr]


def test_without_an_exporter_nothing_is_built(prices: PriceTable) -> None:
    t = Telemetry.create(None, prices, environ={})
    assert t._worker is None and not t.tracing
    r = records.canary()
    span = t.start(r, {"traceparent": TRACEPARENT})
    headers: dict[str, str] = {}
    span.inject(headers)
    t.finish(r, span)
    assert headers == {"traceparent": TRACEPARENT}  # the app's context passes through untouched
    assert span.trace_id == APP_TRACE  # still joins logs to the app's trace
    assert r.cost_usd is not None and r.savings_usd is not None
    assert t.instruments.requests.values


def test_unknown_model_cost_is_absent_not_fatal(telemetry: Telemetry, exporter: InMemorySpanExporter) -> None:
    r = records.record(requested_model="my-private-model", model_used="my-private-model", usage=Usage(5, 5))
    telemetry.finish(r, telemetry.start(r, {}))
    (s,) = finished(telemetry, exporter)
    assert A.ESTIMATED_COST not in s.attributes and r.cost_usd is None
    assert telemetry.prices.unknown_models["my-private-model"] >= 1


def test_access_fields_join_logs_and_traces(telemetry: Telemetry) -> None:
    r = records.canary()
    span = telemetry.start(r, {"traceparent": TRACEPARENT})
    telemetry.finish(r, span)
    fields = telemetry.access_fields(r, span)
    assert fields["trace_id"] == APP_TRACE
    assert (fields["model_used"], fields["classified_intent"], fields["arm"], fields["route"]) == (
        "gpt-4o-mini",
        "simple",
        "router",
        "support",
    )
    assert fields["estimated_cost"] == r.cost_usd


def test_a_telemetry_failure_never_reaches_the_request(telemetry: Telemetry) -> None:
    r = records.canary()
    r.usage = "not a usage"  # type: ignore[assignment]
    telemetry.finish(r, telemetry.start(r, {}))
    telemetry.shadow(telemetry.start(r, {}), r, {})
    assert telemetry.errors == 2
    assert "llm_router_telemetry_errors_total 2" in telemetry.prometheus_lines()

"""A real OTLP round trip: spans and metrics exported to a receiver on loopback, over both protocols."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from proxy.pricing import PriceTable
from proxy.telemetry import Telemetry, TelemetrySettings
from proxy.telemetry import attributes as A
from tests.telemetry import records
from tests.telemetry.receiver import Received, attrs, grpc_server, http_app

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load()


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[Received, int]]:
    received = Received()
    server, port = grpc_server(received)
    yield received, port
    server.stop(grace=None)


async def exercise(telemetry: Telemetry) -> None:
    primary = records.shadow_primary()
    span = telemetry.start(primary, {"traceparent": TRACEPARENT})
    telemetry.finish(primary, span)
    telemetry.shadow(span, records.shadow_call(), {"similarity": 0.9, "length_ratio": 1.1})
    canary = records.canary()
    telemetry.finish(canary, telemetry.start(canary, {}))
    telemetry.set_breaker_state("openai", "gpt-4o", "open")
    await asyncio.to_thread(telemetry.force_flush)  # the receiver may share this event loop
    await telemetry.shutdown()


def check(received: Received) -> None:
    spans = received.spans()
    assert len(spans) == 3
    resource, primary = spans[0]
    assert resource["service.name"] == "router-under-test"
    assert resource["deployment.environment"] == "test"
    assert primary.name == "llm-router default"
    assert primary.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert primary.parent_span_id.hex() == "00f067aa0ba902b7"
    a = attrs(primary)
    assert a[A.MODEL_USED] == "gpt-4o" and a[A.CLASSIFIED_INTENT] == "simple"
    assert isinstance(a[A.ESTIMATED_COST], float) and a[A.ESTIMATED_COST] > 0
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 800 and a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    shadow = attrs(spans[1][1])
    assert shadow[A.SHADOW] is True and shadow["llm_router.shadow.similarity"] == 0.9
    assert spans[1][1].links[0].span_id == primary.span_id
    canary = attrs(spans[2][1])
    assert canary[A.ARM] == "router" and canary[A.SAVINGS] > 0

    metrics = received.metric_names()
    for name in ("llm_router.requests", "gen_ai.client.token.usage", "gen_ai.client.operation.duration",
                 "llm_router.cost", "llm_router.savings", "llm_router.breaker.state", "llm_router.shadow.similarity"):  # fmt: skip
        assert name in metrics, name
    tokens = metrics["gen_ai.client.token.usage"]
    points = {
        (p_attrs := attrs(p))[A.GEN_AI_REQUEST_MODEL] + "/" + str(p_attrs[A.GEN_AI_TOKEN_TYPE]): p
        for p in tokens.histogram.data_points
    }
    assert points["gpt-4o-mini/input"].sum == 1000 and points["gpt-4o-mini/input"].count == 1
    requests = {tuple(attrs(p).values()): p.as_double for p in metrics["llm_router.requests"].sum.data_points}
    assert requests[("support", "canary", "router", "simple", "gpt-4o-mini", "200")] == 1
    assert metrics["llm_router.requests"].sum.is_monotonic


def settings(endpoint: str, protocol: str) -> TelemetrySettings:
    return TelemetrySettings(
        otlp_endpoint=endpoint, protocol=protocol, service_name="router-under-test",  # type: ignore[arg-type]
        headers={"x-api-key": "k"}, resource_attributes={"deployment.environment": "test"},
    )  # fmt: skip


async def test_http_protobuf(aiohttp_server, prices: PriceTable) -> None:
    received = Received()
    server = await aiohttp_server(http_app(received))
    telemetry = Telemetry.create(settings(f"http://127.0.0.1:{server.port}/", "http/protobuf"), prices, environ={})
    await exercise(telemetry)
    check(received)
    assert all(h["Content-Type"] == "application/x-protobuf" and h["x-api-key"] == "k" for h in received.headers)


async def test_grpc(grpc_receiver: tuple[Received, int], prices: PriceTable) -> None:
    received, port = grpc_receiver
    telemetry = Telemetry.create(settings(f"http://127.0.0.1:{port}", "grpc"), prices, environ={})
    await exercise(telemetry)
    check(received)
    assert received.headers[0]["x-api-key"] == "k"


async def test_endpoint_from_environment(aiohttp_server, prices: PriceTable) -> None:
    received = Received()
    server = await aiohttp_server(http_app(received))
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.port}", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "OTEL_SERVICE_NAME": "from-env"}  # fmt: skip
    telemetry = Telemetry.create(TelemetrySettings(), prices, environ=env)
    r = records.canary()
    telemetry.finish(r, telemetry.start(r, {}))
    await asyncio.to_thread(telemetry.force_flush)
    await telemetry.shutdown()
    ((resource, span),) = received.spans()
    assert resource["service.name"] == "from-env" and span.name == "llm-router support"


async def test_a_dead_receiver_is_counted_not_raised(prices: PriceTable) -> None:
    telemetry = Telemetry.create(
        TelemetrySettings(otlp_endpoint="http://127.0.0.1:9", protocol="http/protobuf", timeout_s=1), prices, environ={}
    )
    r = records.canary()
    telemetry.finish(r, telemetry.start(r, {}))
    await asyncio.to_thread(telemetry.force_flush)
    await telemetry.shutdown()
    text = "\n".join(telemetry.prometheus_lines())
    assert 'llm_router_telemetry_export_failures_total{signal="traces"} 1' in text

"""Spans from the real pipeline: the contract attributes with hand-computed costs,
the app's trace continued upstream, streamed usage captured, shadow spans linked."""

from __future__ import annotations

import asyncio

import openai
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.test_pipeline import FAQ, HARD, routed_config, sdk

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


async def start_traced(start_sidecar, config, exporter):
    return await start_sidecar(config, span_exporter=exporter)


def spans(running, exporter):
    running.sidecar.telemetry.force_flush()
    return exporter.get_finished_spans()


def price(running, model: str, prompt: int, completion: int) -> float:
    p = running.sidecar.runtime.loaded.prices.get(model)
    return prompt * p.input + completion * p.output


async def test_canary_span_carries_the_contract_attributes(upstream, start_sidecar, tmp_path, exporter):
    running = await start_traced(start_sidecar, routed_config(upstream, tmp_path, mode="canary", percent=100), exporter)
    async with sdk(running) as c:
        await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": FAQ}],
                                        extra_headers={"traceparent": TRACEPARENT})
    (span,) = spans(running, exporter)
    a = span.attributes
    assert span.name == "llm-router chat"
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"
    # The fake reports 12 prompt and 5 completion tokens.
    cheap, dear = price(running, "gpt-4o-mini", 12, 5), price(running, "gpt-4o", 12, 5)
    assert a["model_used"] == "gpt-4o-mini"
    assert a["estimated_cost"] == pytest.approx(cheap)
    assert a["classified_intent"] == "simple"
    assert a["llm_router.counterfactual_cost"] == pytest.approx(dear)
    assert a["llm_router.savings"] == pytest.approx(dear - cheap)
    assert (a["llm_router.route"], a["llm_router.mode"], a["llm_router.arm"]) == ("chat", "canary", "router")
    assert a["llm_router.requested_model"] == "gpt-4o"
    assert a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.usage.output_tokens"] == 5
    assert a["gen_ai.operation.name"] == "chat"
    sent = upstream.requests[-1].headers["traceparent"]
    assert sent.split("-")[1] == TRACE_ID and sent.split("-")[2] != "00f067aa0ba902b7"


async def test_passthrough_span_records_the_would_be_choice(upstream, start_sidecar, tmp_path, exporter):
    running = await start_traced(start_sidecar, routed_config(upstream, tmp_path, mode="passthrough"), exporter)
    async with sdk(running) as c:
        await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": HARD}])
    (span,) = spans(running, exporter)
    a = span.attributes
    assert a["model_used"] == "gpt-4o" and a["classified_intent"] == "complex"
    assert a["llm_router.mode"] == "passthrough" and a["llm_router.arm"] == "control"
    assert a["estimated_cost"] == pytest.approx(price(running, "gpt-4o", 12, 5))
    assert a["llm_router.savings"] == pytest.approx(0.0)


async def test_streamed_usage_is_counted_and_hidden(upstream, start_sidecar, tmp_path, exporter):
    running = await start_traced(start_sidecar, routed_config(upstream, tmp_path, mode="canary", percent=100), exporter)
    async with sdk(running) as c:
        stream = await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": FAQ}],
                                                 stream=True, extra_headers={"x-fake-chunks": "7"})
        chunks = [ch async for ch in stream]
    assert all(ch.usage is None for ch in chunks)
    (span,) = spans(running, exporter)
    # The fake's usage chunk: 10 prompt tokens, one completion token per content chunk.
    assert span.attributes["gen_ai.usage.input_tokens"] == 10
    assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert span.attributes["estimated_cost"] == pytest.approx(price(running, "gpt-4o-mini", 10, 7))


async def test_failed_request_span_is_an_error(start_sidecar, tmp_path, exporter, unused_tcp_port):
    from tests.conftest import base_config

    running = await start_traced(start_sidecar, base_config(f"http://127.0.0.1:{unused_tcp_port}"), exporter)
    async with sdk(running) as c:
        with pytest.raises(openai.APIStatusError):
            await c.models.list()
    (span,) = spans(running, exporter)
    assert not span.status.is_ok
    assert span.attributes["error.type"] == "upstream_connect_error"


async def test_shadow_call_gets_its_own_linked_span(upstream, start_sidecar, tmp_path, exporter):
    running = await start_traced(start_sidecar, routed_config(upstream, tmp_path, mode="shadow", percent=100), exporter)
    async with sdk(running) as c:
        await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": FAQ}])
    for _ in range(100):
        if running.sidecar.shadow.written:
            break
        await asyncio.sleep(0.02)
    found = spans(running, exporter)
    assert len(found) == 2
    primary = next(s for s in found if not s.attributes.get("llm_router.shadow"))
    shadow = next(s for s in found if s.attributes.get("llm_router.shadow"))
    assert primary.attributes["model_used"] == "gpt-4o"
    assert shadow.attributes["model_used"] == "gpt-4o-mini"
    assert shadow.attributes["llm_router.shadow.similarity"] == 1.0
    assert shadow.links[0].context.span_id == primary.context.span_id

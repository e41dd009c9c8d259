"""The admin listener: health, readiness, redacted config, Prometheus metrics."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import base_config


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            return r.status, await r.text()


async def test_health_and_readiness(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    assert (await get(running.admin_url + "/healthz"))[0] == 200
    status, body = await get(running.admin_url + "/readyz")
    assert status == 200 and '"ready"' in body
    running.sidecar.draining = True
    assert (await get(running.admin_url + "/readyz"))[0] == 503


async def test_config_redacts_secrets(upstream, start_sidecar):
    config = base_config(upstream.url)
    config["upstreams"]["openai"]["headers"] = {"api-key": "azure-secret-value"}
    config["telemetry"] = {"headers": {"x-honeycomb-team": "otel-secret-value"}}
    running = await start_sidecar(config)
    status, body = await get(running.admin_url + "/config")
    assert status == 200
    assert "azure-secret-value" not in body and "otel-secret-value" not in body
    assert '"api-key": "***redacted***"' in body


async def test_metrics_parse_and_move(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url, routes=[{"name": "models", "match": {"path": "/v1/models"}}]))
    for _ in range(3):
        await get(running.url + "/v1/models")
    status, text = await get(running.admin_url + "/metrics")
    assert status == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("llm_router_requests_total", (("route", "models"), ("status", "200")))] == 3
    assert samples[("llm_router_inflight_requests", ())] == 0
    assert samples[("llm_router_config_generation", ())] == 1


async def test_unknown_paths_and_methods_get_a_clear_answer(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    status, body = await get(running.admin_url + "/nope")
    assert status == 404 and "/healthz, /readyz, /config, /metrics" in body
    async with aiohttp.ClientSession() as s, s.post(running.admin_url + "/readyz") as r:
        assert r.status == 405 and r.headers["Allow"] == "GET, HEAD"

"""Fault injection through the real sidecar: retries, fallbacks across providers,
breakers, rate limits, the last resort, and no retry storms."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import openai
import orjson
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.test_pipeline import FAQ, chat_models, routed_config, sdk


def resilient_config(upstream, tmp_path, *, fallbacks=("gpt-4o",), resilience=None, **kw) -> dict:
    """Canary at 100 %: FAQ requests are routed to gpt-4o-mini with the given fallbacks."""
    policy = {"tiers": {
        "simple": {"model": "gpt-4o-mini", "fallbacks": list(fallbacks)},
        "standard": {"model": "gpt-4o"}, "complex": {"model": "gpt-4o"}}}
    config = routed_config(upstream, tmp_path, mode="canary", percent=100, policy=policy, **kw)
    config["resilience"] = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, **(resilience or {})}
    return config


async def ask(client, **headers):
    return await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": FAQ}], extra_headers=headers)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_failing_model_falls_back(upstream, start_sidecar, tmp_path, status):
    running = await start_sidecar(resilient_config(upstream, tmp_path))
    async with sdk(running) as c:
        raw = await ask(c, **{"x-fake-model-status": f"gpt-4o-mini={status}"})
    assert raw.parse().model == "gpt-4o"
    assert raw.headers["x-llm-router-model"] == "gpt-4o"
    # one retry of the cheap model, then its fallback
    assert chat_models(upstream) == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o"]


async def test_a_retry_recovers_a_flaky_model(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(resilient_config(upstream, tmp_path))
    async with sdk(running) as c:
        raw = await ask(c, **{"x-fake-flaky": "k=1"})
    assert raw.parse().model == "gpt-4o-mini"
    assert chat_models(upstream) == ["gpt-4o-mini", "gpt-4o-mini"]


async def test_retry_after_is_honoured(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(resilient_config(upstream, tmp_path, fallbacks=()))
    async with sdk(running) as c:
        started = time.monotonic()
        with pytest.raises(openai.RateLimitError) as info:
            await ask(c, **{"x-fake-status": "429", "x-fake-retry-after": "0.4"})
    assert time.monotonic() - started >= 0.4
    assert len(upstream.requests) == 2
    # No fallback left: the app sees the upstream's own answer, headers included.
    assert info.value.response.headers["retry-after"] == "0.4"


async def test_client_errors_are_never_retried_or_fallen_back(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(resilient_config(upstream, tmp_path))
    async with sdk(running) as c:
        for status, exc in ((400, openai.BadRequestError), (401, openai.AuthenticationError), (404, openai.NotFoundError),
                            (422, openai.UnprocessableEntityError)):
            with pytest.raises(exc):
                await ask(c, **{"x-fake-model-status": f"gpt-4o-mini={status}"})
    assert chat_models(upstream) == ["gpt-4o-mini"] * 4


async def test_hang_past_the_timeout_falls_back(upstream, start_sidecar, tmp_path):
    config = resilient_config(upstream, tmp_path, resilience={"retries": 0})
    config["upstreams"]["openai"]["timeouts"] = {"first_byte_s": 0.3}
    running = await start_sidecar(config)
    async with sdk(running) as c:
        started = time.monotonic()
        raw = await ask(c, **{"x-fake-model-delay": "gpt-4o-mini=5"})
    assert time.monotonic() - started < 2
    assert raw.parse().model == "gpt-4o"


async def test_malformed_answer_falls_back(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(resilient_config(upstream, tmp_path, resilience={"retries": 0}))
    async with sdk(running) as c:
        raw = await ask(c, **{"x-fake-model-malformed": "gpt-4o-mini"})
    assert raw.parse().model == "gpt-4o"


async def test_unreachable_upstream_goes_to_the_last_resort(upstream, start_sidecar, tmp_path, unused_tcp_port, aiohttp_server):
    from tests.fakes.openai_upstream import FakeUpstream

    local = FakeUpstream()
    local_server = await aiohttp_server(local.app())
    config = resilient_config(upstream, tmp_path, fallbacks=("dead-model",),
                              resilience={"retries": 0, "last_resort": "llama3-local"})
    config["upstreams"]["dead"] = {"base_url": f"http://127.0.0.1:{unused_tcp_port}", "models": ["dead-*"]}
    config["upstreams"]["local"] = {"base_url": f"http://127.0.0.1:{local_server.port}", "models": ["llama3-*"]}
    running = await start_sidecar(config)
    async with sdk(running) as c:
        raw = await ask(c, **{"x-fake-model-status": "gpt-4o-mini=503"})
    assert raw.parse().model == "llama3-local"
    assert [orjson.loads(r.body)["model"] for r in local.requests] == ["llama3-local"]


async def test_everything_down_gives_a_clear_503_naming_the_models(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(resilient_config(upstream, tmp_path, resilience={"retries": 0}))
    async with sdk(running) as c:
        with pytest.raises(openai.InternalServerError) as info:
            await ask(c, **{"x-fake-status": "503"})
    assert info.value.status_code == 503
    assert info.value.body["code"] == "all_models_failed"
    assert "gpt-4o-mini (HTTP 503)" in info.value.message and "gpt-4o (HTTP 503)" in info.value.message


async def test_breaker_opens_and_recovers(upstream, start_sidecar, tmp_path):
    config = resilient_config(upstream, tmp_path, resilience={
        "retries": 0, "breaker": {"failures": 2, "window_s": 10, "cooldown_s": 0.4}})
    running = await start_sidecar(config)
    async with sdk(running) as c:
        for _ in range(2):
            await ask(c, **{"x-fake-model-status": "gpt-4o-mini=503"})
        assert running.sidecar.dispatcher.breaker_states()["openai/gpt-4o-mini"] == "open"
        async with aiohttp.ClientSession() as s, s.get(running.admin_url + "/readyz") as r:
            assert r.status == 200 and (await r.json())["breakers"]["openai/gpt-4o-mini"] == "open"
        before = chat_models(upstream).count("gpt-4o-mini")
        raw = await ask(c)  # healthy now, but the breaker skips the cheap model until the cooldown
        assert raw.parse().model == "gpt-4o"
        assert chat_models(upstream).count("gpt-4o-mini") == before
        await asyncio.sleep(0.5)
        raw = await ask(c)  # the probe succeeds and closes the breaker
        assert raw.parse().model == "gpt-4o-mini"
    assert running.sidecar.dispatcher.breaker_states()["openai/gpt-4o-mini"] == "closed"
    async with aiohttp.ClientSession() as s, s.get(running.admin_url + "/metrics") as r:
        assert 'llm_router_breaker_state{' in await r.text()


async def test_rate_limit_spills_to_the_fallback_then_429s(upstream, start_sidecar, tmp_path):
    config = resilient_config(upstream, tmp_path)
    config["upstreams"]["openai"]["rate_limits"] = {"gpt-4o-mini": {"rpm": 1}, "gpt-4o": {"rpm": 1}}
    running = await start_sidecar(config)
    async with sdk(running) as c:
        first = await ask(c)
        second = await ask(c)
        with pytest.raises(openai.RateLimitError) as info:
            await ask(c)
    assert (first.parse().model, second.parse().model) == ("gpt-4o-mini", "gpt-4o")
    assert int(info.value.response.headers["retry-after"]) >= 1


async def test_fallback_through_litellm_to_anthropic(upstream, start_sidecar, tmp_path, aiohttp_server, monkeypatch):
    anthropic = FakeAnthropic()
    server = await aiohttp_server(anthropic.app())
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", "sk-ant-test")
    config = resilient_config(upstream, tmp_path, fallbacks=("claude-3-haiku-20240307",), resilience={"retries": 0})
    config["upstreams"]["anthropic"] = {"provider": "anthropic", "api_key_env": "FAKE_ANTHROPIC_KEY",
                                        "base_url": f"http://127.0.0.1:{server.port}"}
    running = await start_sidecar(config)
    async with sdk(running) as c:
        raw = await ask(c, **{"x-fake-model-status": "gpt-4o-mini=503"})
        reply = raw.parse()
        stream = await c.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": FAQ}], stream=True,
            extra_headers={"x-fake-model-status": "gpt-4o-mini=503"})
        chunks = [ch async for ch in stream]
    assert reply.choices[0].message.content == "Hello from the fake Claude"
    assert reply.model == "claude-3-haiku-20240307"
    assert reply.usage.prompt_tokens == 11
    assert raw.headers["x-llm-router-model"] == "claude-3-haiku-20240307"
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == "Hello there"
    assert all(ch.usage is None for ch in chunks), "the app did not ask for the usage chunk"
    assert anthropic.api_keys == ["sk-ant-test", "sk-ant-test"], "the provider key comes from the env, never the app"


async def test_no_retry_storm_under_a_burst(upstream, start_sidecar, tmp_path):
    config = resilient_config(upstream, tmp_path, resilience={"retries": 2})
    running = await start_sidecar(config)
    n = 500
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as s:
        async def one() -> int:
            async with s.post(running.url + "/v1/chat/completions",
                              json={"model": "gpt-4o", "messages": [{"role": "user", "content": FAQ}]},
                              headers={"x-fake-status": "503"}) as r:
                body = await r.json()
                assert "error" in body
                return r.status
        statuses = await asyncio.gather(*[one() for _ in range(n)])
    assert set(statuses) == {503}
    calls = len(upstream.requests)
    # Never more than the configured attempts per request (3 per model, 2 models) ...
    assert calls <= n * 3 * 2
    # ... and far fewer in practice: once the breakers open, requests skip the failing models
    # (only the first wave of up to 100 in-flight requests reaches them).
    assert calls < n, calls


async def test_shadow_call_to_a_translated_provider(upstream, start_sidecar, tmp_path, aiohttp_server, monkeypatch):
    import json

    anthropic = FakeAnthropic()
    server = await aiohttp_server(anthropic.app())
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", "sk-ant-test")
    policy = {"tiers": {"simple": {"model": "claude-3-haiku-20240307"}, "standard": {"model": "gpt-4o"},
                        "complex": {"model": "gpt-4o"}}}
    config = routed_config(upstream, tmp_path, mode="shadow", percent=100, policy=policy)
    config["upstreams"]["anthropic"] = {"provider": "anthropic", "api_key_env": "FAKE_ANTHROPIC_KEY",
                                        "base_url": f"http://127.0.0.1:{server.port}"}
    running = await start_sidecar(config)
    async with sdk(running) as c:
        raw = await ask(c)
    assert raw.parse().model == "gpt-4o"
    for _ in range(200):
        if running.sidecar.shadow.written:
            break
        await asyncio.sleep(0.02)
    record = json.loads((tmp_path / "shadow.jsonl").read_text().splitlines()[0])
    assert (record["shadow_model"], record["shadow_status"]) == ("claude-3-haiku-20240307", 200)
    assert record["shadow_input_tokens"] == 11 and record["shadow_cost_usd"] > 0
    assert len(anthropic.requests) == 1

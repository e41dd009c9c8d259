"""The rollout engine end to end: the official openai SDK -> sidecar (real classifier
and policy) -> fake upstream that records which model each call asked for."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import openai
import orjson
import pytest
import yaml

from tests.conftest import base_config

ROOT = Path(__file__).resolve().parents[1]
FAQ = "What are your opening hours on Sunday?"
HARD = ("Prove that for every prime p > 3, p^2 - 1 is divisible by 24, then generalize the argument "
        "to p^4 - 1 and write a Python function that verifies it for the first 10,000 primes.")


def policy_file(tmp_path: Path, **overrides: object) -> str:
    policy = yaml.safe_load((ROOT / "policies" / "default.yaml").read_text())
    policy["classifier"] = {
        "stages": ["rules", "tfidf"],
        "model_dir": str(ROOT / "policies" / "models"),
        "exemplars": str(ROOT / "policies" / "exemplars" / "exemplars.yaml"),
    }
    policy.update(overrides)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return str(path)


def routed_config(upstream, tmp_path, *, mode: str, percent: float = 100, sticky: str | None = None, **extra) -> dict:
    route = {"name": "chat", "match": {"path": "/v1/chat/completions"}, "mode": mode, "percent": percent}
    if sticky:
        route["sticky"] = sticky
    config = base_config(upstream.url, policy=policy_file(tmp_path, **extra.pop("policy", {})), routes=[route])
    config["shadow"] = {"log": str(tmp_path / "shadow.jsonl"), **extra.pop("shadow", {})}
    config.update(extra)
    return config


def sdk(running) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=running.url + "/v1", api_key="sk-test", max_retries=0)


def chat_models(upstream) -> list[str]:
    return [orjson.loads(r.body)["model"] for r in upstream.requests if r.path == "/v1/chat/completions"]


async def ask(client, text: str, model: str = "gpt-4o", **kw):
    return await client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], **kw)


async def test_passthrough_classifies_but_forwards_byte_for_byte(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="passthrough"))
    body = ('{ "model" :"gpt-4o",\n "messages": [{"role":"user","content":"%s"}], "temperature": 1.0E0 }' % FAQ).encode()
    async with aiohttp.ClientSession() as s:
        async with s.post(running.url + "/v1/chat/completions", data=body,
                          headers={"Content-Type": "application/json", "Authorization": "Bearer sk-x"}) as r:
            assert r.status == 200
            assert r.headers["x-llm-router-tier"] == "simple"
            assert r.headers["x-llm-router-mode"] == "passthrough"
            assert r.headers["x-llm-router-arm"] == "control"
            assert r.headers["x-llm-router-model"] == "gpt-4o"
    assert [r.body for r in upstream.requests] == [body]


async def test_canary_routes_simple_down_and_hard_stays(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="canary", percent=100))
    async with sdk(running) as c:
        easy = await ask(c, FAQ)
        hard = await ask(c, HARD)
    assert chat_models(upstream) == ["gpt-4o-mini", "gpt-4o"]
    assert easy.headers["x-llm-router-model"] == "gpt-4o-mini"
    assert easy.headers["x-llm-router-arm"] == "router"
    assert easy.headers["x-llm-router-tier"] == "simple"
    assert hard.headers["x-llm-router-tier"] == "complex"
    assert easy.parse().model == "gpt-4o-mini"
    first = orjson.loads(upstream.requests[0].body)
    assert first == {"messages": [{"role": "user", "content": FAQ}], "model": "gpt-4o-mini"}


async def test_never_upgrade_holds(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="canary", percent=100))
    async with sdk(running) as c:
        raw = await ask(c, HARD, model="gpt-4o-mini")
    assert chat_models(upstream) == ["gpt-4o-mini"]
    assert raw.headers["x-llm-router-tier"] == "complex"


async def test_canary_percent_is_sticky_and_grows_monotonically(upstream, start_sidecar, tmp_path):
    config = routed_config(upstream, tmp_path, mode="canary", percent=30, sticky="header:x-user-id")
    running = await start_sidecar(config)
    users = [f"user-{i}" for i in range(2000)]

    async def arms(keys):
        sem = asyncio.Semaphore(32)
        async with sdk(running) as c:
            async def one(u):
                async with sem:
                    raw = await ask(c, FAQ, extra_headers={"x-user-id": u})
                    return u, raw.headers["x-llm-router-arm"]
            return dict(await asyncio.gather(*[one(u) for u in keys]))

    first = await arms(users)
    share = sum(a == "router" for a in first.values()) / len(users)
    assert abs(share - 0.30) <= 0.03, share
    again = await arms(users[:300])
    assert all(first[u] == again[u] for u in users[:300])

    config["routes"][0]["percent"] = 60
    running.config_path.write_text(yaml.safe_dump(config))
    for _ in range(250):
        if running.sidecar.runtime.generation == 2:
            break
        await asyncio.sleep(0.02)
    after = await arms(users[:500])
    assert all(after[u] == "router" for u in users[:500] if first[u] == "router")
    assert sum(a == "router" for a in after.values()) > sum(first[u] == "router" for u in users[:500])


async def test_shadow_returns_the_primary_at_once_and_logs_the_diff(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="shadow", percent=100))
    log_path = tmp_path / "shadow.jsonl"
    async with sdk(running) as c:
        started = time.monotonic()
        raw = await ask(c, FAQ, extra_headers={"x-fake-model-delay": "gpt-4o-mini=2"})
        elapsed = time.monotonic() - started
    assert elapsed < 1.5, "the shadow call's delay must not reach the client"
    reply = raw.parse()
    assert reply.model == "gpt-4o"
    assert raw.headers["x-llm-router-model"] == "gpt-4o"
    for _ in range(200):
        if log_path.exists() and log_path.read_text().strip():
            break
        await asyncio.sleep(0.05)
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert len(records) == 1
    rec = records[0]
    assert rec["primary_model"] == "gpt-4o" and rec["shadow_model"] == "gpt-4o-mini"
    assert rec["route"] == "chat" and rec["tier"] == "simple"
    assert rec["primary_status"] == 200 and rec["shadow_status"] == 200
    assert rec["similarity"] == 1.0
    assert rec["shadow_latency_ms"] >= 2000
    assert rec["primary_cost_usd"] > rec["shadow_cost_usd"] > 0
    assert "primary_text" not in rec
    assert sorted(chat_models(upstream)) == ["gpt-4o", "gpt-4o-mini"]
    shadow_body = orjson.loads(next(r.body for r in upstream.requests if b"gpt-4o-mini" in r.body))
    assert "stream" not in shadow_body


async def test_streamed_request_is_shadowed_without_streaming(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="shadow", percent=100))
    async with sdk(running) as c:
        stream = await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": FAQ}], stream=True)
        text = "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])
    assert text.startswith("tok1")
    log_path = tmp_path / "shadow.jsonl"
    for _ in range(200):
        if log_path.exists() and log_path.read_text().strip():
            break
        await asyncio.sleep(0.05)
    rec = json.loads(log_path.read_text().splitlines()[0])
    assert rec["stream"] is True and rec["shadow_status"] == 200
    shadow_body = orjson.loads(next(r.body for r in upstream.requests if b"gpt-4o-mini" in r.body))
    assert "stream" not in shadow_body


async def test_shadow_budget_pauses_shadowing(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="shadow", percent=100,
                                                shadow={"daily_budget_usd": 0.0000001}))
    async with sdk(running) as c:
        await ask(c, FAQ)
        for _ in range(100):
            if running.sidecar.shadow.written == 1:
                break
            await asyncio.sleep(0.02)
        await ask(c, FAQ)
        await ask(c, FAQ)
    await asyncio.sleep(0.2)
    assert running.sidecar.shadow.written == 1
    assert running.sidecar.shadow.budget_paused == 2
    assert chat_models(upstream).count("gpt-4o-mini") == 1


async def test_shadow_overflow_is_dropped_not_queued(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="shadow", percent=100,
                                                shadow={"max_concurrency": 1}))
    async with sdk(running) as c:
        await asyncio.gather(*[ask(c, FAQ, extra_headers={"x-fake-model-delay": "gpt-4o-mini=0.5"}) for _ in range(5)])
    assert running.sidecar.shadow.dropped == 4


async def test_guardrail_escalates_a_refusal(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="canary", percent=100))
    async with sdk(running) as c:
        raw = await ask(c, FAQ, extra_headers={"x-fake-model-reply": "gpt-4o-mini=Sorry, I don't know."})
    assert chat_models(upstream) == ["gpt-4o-mini", "gpt-4o"]
    assert raw.parse().choices[0].message.content == f"echo: {FAQ}"
    assert raw.headers["x-llm-router-model"] == "gpt-4o"


async def test_streaming_canary_hides_the_usage_chunk_it_asked_for(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="canary", percent=100))
    async with sdk(running) as c:
        stream = await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": FAQ}], stream=True)
        chunks = [ch async for ch in stream]
    sent = orjson.loads(upstream.requests[-1].body)
    assert sent["model"] == "gpt-4o-mini" and sent["stream_options"] == {"include_usage": True}
    assert all(ch.usage is None for ch in chunks)
    assert all(ch.choices for ch in chunks)


async def test_fail_open_when_the_classifier_raises(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="canary", percent=100))

    async def broken(_request):
        raise RuntimeError("classifier exploded")

    running.sidecar.runtime.router.classifier.aclassify = broken
    async with sdk(running) as c:
        raw = await ask(c, FAQ)
    assert raw.parse().choices[0].message.content == f"echo: {FAQ}"
    assert chat_models(upstream) == ["gpt-4o"]
    assert running.sidecar.counters.fail_open == 1
    assert "x-llm-router-arm" not in raw.headers


async def test_bypass_header_skips_routing_and_is_stripped(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="canary", percent=100))
    async with sdk(running) as c:
        await ask(c, FAQ, extra_headers={"x-llm-router-bypass": "1"})
    assert chat_models(upstream) == ["gpt-4o"]
    assert "x-llm-router-bypass" not in upstream.requests[-1].headers


@pytest.mark.parametrize("mode", ["shadow", "canary"])
def test_routed_modes_need_a_policy(tmp_path, mode):
    from proxy.config import ConfigError, load

    path = tmp_path / "proxy.yaml"
    path.write_text(yaml.safe_dump({"routes": [{"name": "r", "mode": mode, "percent": 5}]}))
    with pytest.raises(ConfigError, match="needs a routing policy"):
        load(path)


async def test_streaming_guardrail_checks_the_first_tokens_before_release(upstream, start_sidecar, tmp_path):
    guard = {"stream_buffer_tokens": 3, "min_chars": 1, "refusal_patterns": ["I don't know"], "escalate_to": "standard"}
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="canary", percent=100, policy={"guardrail": guard}))
    async with sdk(running) as c:
        refused = await c.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": FAQ}], stream=True,
            extra_headers={"x-fake-model-reply": "gpt-4o-mini=Sorry, I don't know the opening hours at all."})
        text = "".join([ch.choices[0].delta.content or "" async for ch in refused if ch.choices])
        assert text == "tok1 tok2 tok3 tok4 "
        assert chat_models(upstream) == ["gpt-4o-mini", "gpt-4o"]

        fine = await c.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": FAQ}], stream=True,
            extra_headers={"x-fake-model-reply": "gpt-4o-mini=We open at nine and close at five on Sunday."})
        text = "".join([ch.choices[0].delta.content or "" async for ch in fine if ch.choices])
        assert text == "We open at nine and close at five on Sunday."
        assert chat_models(upstream)[-1] == "gpt-4o-mini"


async def test_policy_edits_apply_without_restart(upstream, start_sidecar, tmp_path):
    running = await start_sidecar(routed_config(upstream, tmp_path, mode="canary", percent=100))
    async with sdk(running) as c:
        await ask(c, FAQ)
        policy_path = tmp_path / "policy.yaml"
        policy = yaml.safe_load(policy_path.read_text())
        policy["tiers"]["simple"]["model"] = "gpt-3.5-turbo"
        policy_path.write_text(yaml.safe_dump(policy))
        for _ in range(250):
            if running.sidecar.runtime.generation == 2:
                break
            await asyncio.sleep(0.02)
        await ask(c, FAQ)
    assert chat_models(upstream) == ["gpt-4o-mini", "gpt-3.5-turbo"]

"""The relay through the official openai SDK and a raw client, against the fake upstream."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time

import aiohttp
import openai
import orjson
import pytest
from yarl import URL

from tests.conftest import base_config


def client(running, **kwargs) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=running.url + "/v1", api_key="sk-test-123", max_retries=0, **kwargs)


async def test_chat_completion_round_trip(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    async with client(running) as c:
        reply = await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "echo: hi"
    assert reply.model == "gpt-4o"
    seen = upstream.requests[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer sk-test-123"
    assert orjson.loads(seen.body) == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


async def test_request_and_response_are_byte_faithful(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    body = b'{"weird":  "spacing" ,"k":[1,2]}'
    headers = {
        "Authorization": "Bearer sk-app",
        "X-Custom": "value-1",
        "Content-Type": "application/json",
        "Proxy-Authorization": "Basic secret",
        "X-Llm-Router-Route": "ignored",
        "Connection": "keep-alive, x-hop",
        "X-Hop": "per-connection",
    }
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        url = URL(running.url + "/echo/a%2Fb?x=1&y=%2F&x=2", encoded=True)
        async with s.post(url, data=body, headers=headers) as r:
            echoed = await r.json()
            assert r.headers["x-request-id"] == "req_echo"
            assert r.headers["x-ratelimit-limit-requests"] == "500"
            assert r.headers["set-cookie"] == "a=1"
    assert echoed["method"] == "POST"
    assert echoed["raw_path"] == "/echo/a%2Fb?x=1&y=%2F&x=2"
    assert upstream.requests[-1].body == body
    sent = {k.lower(): v for k, v in echoed["headers"]}
    assert sent["authorization"] == "Bearer sk-app"
    assert sent["x-custom"] == "value-1"
    assert sent["content-type"] == "application/json"
    for dropped in ("proxy-authorization", "x-llm-router-route", "x-hop"):
        assert dropped not in sent
    # Nothing invented on the app's behalf.
    assert "user-agent" not in sent or sent["user-agent"].startswith("Python/")


async def test_compressed_bodies_pass_untouched(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    raw = gzip.compress(b'{"model": "gpt-4o"}' * 100)
    async with aiohttp.ClientSession() as s:
        async with s.post(running.url + "/echo", data=raw, headers={"Content-Encoding": "gzip"}) as r:
            echoed = await r.json()
    assert echoed["body_sha256"] == hashlib.sha256(raw).hexdigest()
    assert dict((k.lower(), v) for k, v in echoed["headers"])["content-encoding"] == "gzip"


async def test_stream_chunks_arrive_before_upstream_finishes(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    async with client(running) as c:
        stream = await c.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "count"}], stream=True,
            extra_headers={"x-fake-chunks": "6", "x-fake-chunk-delay": "0.15"},
        )
        arrivals = []
        text = ""
        async for chunk in stream:
            arrivals.append(time.monotonic())
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    assert text == "tok1 tok2 tok3 tok4 tok5 "
    finished = upstream.stream_finished_at[-1]
    # The first chunk was in the app's hands while the upstream still had most of the stream to send.
    assert arrivals[0] < finished - 0.5


async def test_other_endpoints_pass_through(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    async with client(running) as c:
        emb = await c.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        assert len(emb.data) == 2
        models = await c.models.list()
        assert [m.id async for m in models] == ["gpt-4o", "gpt-4o-mini"]
        comp = await c.completions.create(model="gpt-3.5-turbo-instruct", prompt="hello")
        assert comp.choices[0].text == " world"
        resp = await c.responses.create(model="gpt-4o", input="hi")
        assert resp.output_text == "hello"
        payload = bytes(range(256)) * 4000
        f = await c.files.create(file=("data.jsonl", payload), purpose="batch")
        assert f.bytes == len(payload)
        assert f.model_extra["sha256"] == hashlib.sha256(payload).hexdigest()
        audio = await c.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF" + b"\0" * 5000))
        assert audio.text == "transcribed 5004 bytes"
    assert {r.path for r in upstream.requests} >= {
        "/v1/embeddings", "/v1/models", "/v1/completions", "/v1/responses", "/v1/files", "/v1/audio/transcriptions",
    }


async def test_rate_limit_reaches_the_sdk_with_its_headers(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    async with client(running) as c:
        with pytest.raises(openai.RateLimitError) as info:
            await c.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-fake-status": "429", "x-fake-retry-after": "7"},
            )
    err = info.value
    assert err.response.headers["retry-after"] == "7"
    assert err.response.headers["x-request-id"] == "req_fake_error"
    assert err.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert err.body["message"] == "fake upstream error 429"


@pytest.mark.parametrize("status,exc", [(400, openai.BadRequestError), (401, openai.AuthenticationError), (500, openai.InternalServerError), (503, openai.InternalServerError)])
async def test_upstream_errors_unchanged(upstream, start_sidecar, status, exc):
    running = await start_sidecar(base_config(upstream.url))
    async with client(running) as c:
        with pytest.raises(exc) as info:
            await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                            extra_headers={"x-fake-status": str(status)})
    assert info.value.status_code == status
    assert info.value.body["type"] == "fake_error"


async def test_ten_megabyte_body(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    big = "x" * (10 * 1024 * 1024)
    async with client(running) as c:
        reply = await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": big}])
    assert reply.choices[0].message.content.startswith("echo: xxx")
    assert len(upstream.requests[-1].body) > 10 * 1024 * 1024


async def test_body_over_the_limit_is_refused_with_a_clear_error(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url, limits={"max_body_mb": 1}))
    async with client(running) as c:
        with pytest.raises(openai.APIStatusError) as info:
            await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "y" * (2 * 1024 * 1024)}])
    assert info.value.status_code == 413
    assert "limits.max_body_mb" in info.value.message
    assert upstream.requests == []


async def test_concurrent_requests(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    async with client(running) as c:
        replies = await asyncio.gather(*[
            c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"n{i}"}], extra_headers={"x-fake-delay": "0.05"})
            for i in range(60)
        ])
    assert sorted(r.choices[0].message.content for r in replies) == sorted(f"echo: n{i}" for i in range(60))


async def test_unreachable_upstream_gives_openai_shaped_502(start_sidecar, unused_tcp_port):
    running = await start_sidecar(base_config(f"http://127.0.0.1:{unused_tcp_port}"))
    async with client(running) as c:
        with pytest.raises(openai.APIStatusError) as info:
            await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 502
    assert info.value.body["code"] == "upstream_connect_error"
    assert "could not connect to upstream 'openai'" in info.value.body["message"]
    assert info.value.response.headers["x-llm-router-error"] == "upstream_connect_error"


async def test_first_byte_timeout_gives_504(upstream, start_sidecar):
    config = base_config(upstream.url)
    config["upstreams"]["openai"]["timeouts"] = {"first_byte_s": 0.3}
    running = await start_sidecar(config)
    async with client(running) as c:
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as info:
            await c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}], extra_headers={"x-fake-delay": "5"})
    assert time.monotonic() - started < 3
    assert info.value.status_code == 504
    assert info.value.body["code"] == "upstream_first_byte_timeout"
    assert "timeouts.first_byte_s" in info.value.body["message"]


async def test_upstream_dropping_mid_stream_ends_the_client_stream(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    received = []
    async with client(running) as c:
        stream = await c.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True,
            extra_headers={"x-fake-chunks": "10", "x-fake-drop-after": "3"},
        )
        started = time.monotonic()
        with pytest.raises(openai.APIError) as info:
            async for chunk in stream:
                received.append(chunk)
    assert time.monotonic() - started < 3
    assert len(received) == 3
    assert "broke off the stream" in info.value.message


async def test_stream_idle_timeout_ends_the_client_stream(upstream, start_sidecar):
    config = base_config(upstream.url)
    config["upstreams"]["openai"]["timeouts"] = {"stream_idle_s": 0.3}
    running = await start_sidecar(config)
    async with client(running) as c:
        stream = await c.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True,
            extra_headers={"x-fake-chunks": "10", "x-fake-stall-after": "2"},
        )
        with pytest.raises(openai.APIError) as info:
            async for _ in stream:
                pass
    assert "timeouts.stream_idle_s" in info.value.message


async def test_client_disconnect_mid_stream_cancels_the_upstream_call(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    async with aiohttp.ClientSession() as s:
        resp = await s.post(
            running.url + "/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": True},
            headers={"x-fake-chunks": "100", "x-fake-chunk-delay": "0.05"},
        )
        await resp.content.readany()
        resp.close()
    for _ in range(100):
        if upstream.cancelled:
            break
        await asyncio.sleep(0.02)
    assert upstream.cancelled == ["/v1/chat/completions"]
    assert upstream.stream_finished_at == []

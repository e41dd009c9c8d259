"""The proxy in front of llmock, an OpenAI mock written by others, driven by the
official SDK: a shared misunderstanding between our fake and our proxy would
not survive this."""

from __future__ import annotations

import time

import openai
import pytest
from llmock.scenarios import Delay, Fail, StreamFault
from llmock.testing import LLMockServer

from tests.conftest import base_config


@pytest.fixture(scope="module")
def llmock_server():
    with LLMockServer() as server:
        yield server


@pytest.fixture
async def sdk(llmock_server, start_sidecar):
    llmock_server.state.scenarios.clear()
    running = await start_sidecar(base_config(llmock_server.url))
    async with openai.AsyncOpenAI(base_url=running.url + "/v1", api_key="sk-test", max_retries=0) as client:
        yield client


async def test_chat_and_models(sdk):
    reply = await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Say hello"}])
    assert reply.choices[0].message.content
    assert reply.usage.total_tokens > 0
    models = [m.id async for m in await sdk.models.list()]
    assert models


async def test_stream_with_usage_chunk(sdk):
    stream = await sdk.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Tell me a story"}], stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    assert text
    assert usage is not None and usage.completion_tokens > 0


async def test_rate_limit_with_retry_after(sdk, llmock_server):
    llmock_server.state.scenarios.add(Fail(429, retry_after=3))
    with pytest.raises(openai.RateLimitError) as info:
        await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert info.value.response.headers["retry-after"] == "3"


async def test_disconnected_stream_surfaces_as_an_error(sdk, llmock_server):
    llmock_server.state.scenarios.add(StreamFault("disconnect", after_chunks=2))
    stream = await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True)
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass


async def test_latency_is_carried_not_added(sdk, llmock_server):
    llmock_server.state.scenarios.add(Delay(0.4))
    started = time.monotonic()
    await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert 0.4 <= time.monotonic() - started < 5

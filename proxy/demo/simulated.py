"""A simulated OpenAI-compatible upstream for the demo. Nothing it says comes from a model.

Answers are canned text picked deterministically from the prompt, so a run
is repeatable; the cheaper model's answer shares most words with the larger
model's, less so for longer prompts. Token counts are real counts of that
text (tiktoken, local files), and latency follows typical per-model
time-to-first-token and per-token rates, scaled down so the demo is quick.
Every answer carries `"simulated": true` and the `x-simulated: true` header.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from proxy.record import Usage
from proxy.telemetry.usage import estimate_usage

# Seconds to first token and per output token, typical of the public APIs.
LATENCY = {"gpt-4o": (0.45, 0.012), "gpt-4o-mini": (0.35, 0.007)}
DEFAULT_LATENCY = (0.5, 0.012)
SCALE = 1 / 50
"""Simulated latencies are this share of the typical ones, so 300 requests take seconds."""
NO_DELAY_HEADER = "x-simulated-no-delay"
PHASE_HEADER = "x-demo-phase"

_WORDS = (
    "the a to of and in is for that you it on with as your this be can are or by from at an will not have "
    "if use we more one all which when their also each other into time than only first two new some these "
    "may way then step value result answer number account card payment order example function return list "
    "string input output check case data set make first next because so total each per need rate balance "
    "question help provide following here note see below above sure simple result given method approach "
    "solution problem therefore since where while about after before under over between both through"
).split()


@dataclass
class Served:
    phase: str
    model: str
    usage: Usage
    latency_s: float


@dataclass
class SimulatedUpstream:
    scale: float = SCALE
    served: list[Served] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        return app

    async def models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "owned_by": "simulated"} for m in LATENCY]
        return web.json_response({"object": "list", "data": data}, headers={"x-simulated": "true"})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        payload = orjson.loads(await request.read())
        model = str(payload.get("model") or "gpt-4o")
        text = answer_text(payload, model)
        usage = estimate_usage(payload, text, model=model)
        delay = 0.0 if request.headers.get(NO_DELAY_HEADER) == "1" else self.latency(model, usage.output_tokens)
        await asyncio.sleep(delay)
        self.served.append(Served(request.headers.get(PHASE_HEADER, ""), model, usage, time.perf_counter() - started))
        usage_body = {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                      "total_tokens": usage.input_tokens + usage.output_tokens}
        ident = "chatcmpl-sim-" + hashlib.sha256(text.encode()).hexdigest()[:12]
        if payload.get("stream") is True:
            return await self._stream(request, payload, ident, model, text, usage_body)
        body = {"id": ident, "object": "chat.completion", "created": int(time.time()), "model": model,
                "simulated": True,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage_body}
        return web.Response(body=orjson.dumps(body), content_type="application/json",
                            headers={"x-simulated": "true", "x-request-id": ident})

    async def _stream(self, request: web.Request, payload: dict[str, Any], ident: str, model: str, text: str,
                      usage: dict[str, int]) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "text/event-stream", "x-simulated": "true"})
        await resp.prepare(request)
        base = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        await resp.write(_sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text},
                                                    "finish_reason": None}]}))
        await resp.write(_sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        if (payload.get("stream_options") or {}).get("include_usage"):
            await resp.write(_sse({**base, "choices": [], "usage": usage}))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    def latency(self, model: str, output_tokens: int) -> float:
        first, per_token = LATENCY.get(model, DEFAULT_LATENCY)
        return (first + per_token * output_tokens) * self.scale


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _prompt(payload: dict[str, Any]) -> str:
    parts = []
    for message in payload.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
    return "\n".join(parts)


def _stream_of_ints(seed: bytes):
    counter = 0
    while True:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        for i in range(0, 32, 2):
            yield int.from_bytes(block[i:i + 2], "big")
        counter += 1


def answer_text(payload: dict[str, Any], model: str) -> str:
    """The canned answer: a length that grows with the prompt, words drawn from the prompt's hash."""
    prompt = _prompt(payload)
    seed = hashlib.sha256(prompt.encode()).digest()
    ints = _stream_of_ints(seed)
    words = max(1, len(prompt.split()))
    length = min(450, 35 + int(words * 2.5)) + next(ints) % 25
    base = [_WORDS[next(ints) % len(_WORDS)] for _ in range(length)]
    if model != "gpt-4o":
        # The smaller model drifts further from the larger one as prompts get longer.
        drift = min(0.6, words / 400)
        other = _stream_of_ints(seed + model.encode())
        base = [f"{w}s" if next(other) % 1000 < drift * 1000 else w for w in base]
        base = base[: max(1, int(len(base) * 0.96))]
    return f"[simulated {model} answer] " + " ".join(base)

"""A mock OpenAI upstream for benchmarks: aiohttp's low-level server on uvloop.

Serves `POST /v1/chat/completions` (JSON, or SSE when the body asks for
`"stream": true`), `GET /v1/models`, `GET /healthz`, and accepts OTLP/HTTP
exports (`POST /v1/traces`, `/v1/metrics`, `/v1/logs`) so that telemetry has a
receiver.

Two modes, chosen per request by the requested model name so that every proxy
in front (including ones that rewrite the request, like LiteLLM) selects it the
same way: a model name containing `realistic` waits `--first-chunk-ms` before
the first SSE chunk and `--chunk-interval-ms` between chunks (non-streaming:
the same total before the JSON answer); anything else answers instantly.

The request body is not JSON-parsed: `stream`, `include_usage` and the model
are found with byte searches, and response bodies are built once per model and
cached, so the mock spends as little of its core as possible.

Run: python bench/mock_upstream.py --port 19000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import time

from aiohttp import web
from aiohttp.web_server import Server

MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')
STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
# Also an OTLP/HTTP sink, so a proxy's telemetry export has somewhere to go: an empty protobuf
# body is a valid Export*ServiceResponse.
OTLP_PATHS = frozenset(("/v1/traces", "/v1/metrics", "/v1/logs"))
CREATED = 1764300000
CONTENT = (
    "Sure. The capital of France is Paris, which is also its largest city. It sits on the Seine "
    "and has been the country's political and cultural centre for centuries."
)
WORDS = CONTENT.split(" ")


def completion_body(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench0000000000000000000000",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": CONTENT, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 42,
                "completion_tokens": 37,
                "total_tokens": 79,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_bench",
        },
        separators=(",", ":"),
    ).encode()


def stream_chunks(model: str, n: int, include_usage: bool) -> list[bytes]:
    def event(delta: dict, finish: str | None, usage: dict | None = None, choices: bool = True) -> bytes:
        obj = {
            "id": "chatcmpl-bench0000000000000000000000",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
        }
        if usage is not None:
            obj["usage"] = usage
        return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

    per = max(1, len(WORDS) // max(1, n - 2))
    pieces = [" ".join(WORDS[i : i + per]) + " " for i in range(0, len(WORDS), per)]
    chunks = [event({"role": "assistant", "content": "", "refusal": None}, None)]
    for i in range(max(0, n - 2)):
        chunks.append(event({"content": pieces[i] if i < len(pieces) else ""}, None))
    chunks.append(event({}, "stop"))
    if include_usage:
        usage = {"prompt_tokens": 42, "completion_tokens": 37, "total_tokens": 79}
        chunks.append(event({}, None, usage=usage, choices=False))
    chunks.append(b"data: [DONE]\n\n")
    return chunks


class Mock:
    def __init__(self, first_chunk_ms: float, interval_ms: float, chunks: int) -> None:
        self.first_chunk_s = first_chunk_ms / 1000
        self.interval_s = interval_ms / 1000
        self.chunks = chunks
        self._bodies: dict[bytes, bytes] = {}
        self.otlp: dict[str, tuple[int, int]] = {}
        self._streams: dict[tuple[bytes, bool], list[bytes]] = {}
        self.headers = {
            "Content-Type": "application/json",
            "x-request-id": "req_bench",
            "openai-processing-ms": "1",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
        }
        models = [{"id": m, "object": "model", "created": CREATED, "owned_by": "bench"}
                  for m in ("bench-instant", "bench-realistic", "gpt-4o", "gpt-4o-mini")]
        self.models_body = json.dumps({"object": "list", "data": models}).encode()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if request.method == "POST" and path.endswith("/chat/completions"):
            body = await request.read()
            m = MODEL_RE.search(body)
            model = m.group(1) if m else b"gpt-4o-mini"
            realistic = b"realistic" in model
            if STREAM_RE.search(body):
                return await self.stream(request, model, realistic, b"include_usage" in body)
            cached = self._bodies.get(model)
            if cached is None:
                cached = self._bodies[model] = completion_body(model.decode())
            if realistic:
                await asyncio.sleep(self.first_chunk_s + self.interval_s * self.chunks)
            return web.Response(body=cached, headers=self.headers)
        if request.method == "POST" and path in OTLP_PATHS:
            n, size = self.otlp.get(path, (0, 0))
            self.otlp[path] = (n + 1, size + len(await request.read()))
            return web.Response(body=b"", content_type="application/x-protobuf")
        if path.endswith("/models"):
            return web.Response(body=self.models_body, headers=self.headers)
        if path in ("/healthz", "/health"):
            return web.Response(text="ok")
        return web.Response(status=404, body=b'{"error":{"message":"not found","type":"invalid_request_error","code":null}}',
                            content_type="application/json")

    async def stream(self, request: web.BaseRequest, model: bytes, realistic: bool, usage: bool) -> web.StreamResponse:
        key = (model, usage)
        chunks = self._streams.get(key)
        if chunks is None:
            chunks = self._streams[key] = stream_chunks(model.decode(), self.chunks, usage)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "x-request-id": "req_bench"})
        await resp.prepare(request)
        if realistic:
            await asyncio.sleep(self.first_chunk_s)
        for i, chunk in enumerate(chunks):
            if realistic and i:
                await asyncio.sleep(self.interval_s)
            await resp.write(chunk)
        await resp.write_eof()
        return resp


async def serve(args: argparse.Namespace) -> None:
    mock = Mock(args.first_chunk_ms, args.chunk_interval_ms, args.chunks)
    server = Server(mock.handle, access_log=None)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(server, args.host, args.port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"mock upstream listening on http://{args.host}:{args.port} at {time.time():.3f}", flush=True)
    await stop.wait()
    print("otlp received: " + json.dumps({p: {"posts": n, "bytes": b} for p, (n, b) in mock.otlp.items()}),
          flush=True)
    srv.close()
    await server.shutdown(1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=19000)
    p.add_argument("--first-chunk-ms", type=float, default=50.0)
    p.add_argument("--chunk-interval-ms", type=float, default=3.0)
    p.add_argument("--chunks", type=int, default=20)
    args = p.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

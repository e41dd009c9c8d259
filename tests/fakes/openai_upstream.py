"""A fake OpenAI-compatible upstream on loopback.

It answers the endpoints the proxy must carry (chat completions, completions,
embeddings, models, responses, files, audio) and misbehaves on request, steered
by request headers so a test can ask for it through any client:

    x-fake-status: 429          answer with this status and an OpenAI error body
    x-fake-retry-after: 7       ... and this retry-after header
    x-fake-delay: 1.5           wait this long before the response headers
    x-fake-chunks: 20           number of SSE content chunks in a stream
    x-fake-chunk-delay: 0.05    pause between chunks
    x-fake-drop-after: 3        cut the connection after this many chunks
    x-fake-stall-after: 3       stop sending (but keep the connection) after this many chunks
    x-fake-model-delay: m=2     wait 2 s, only when the request asks for model m
    x-fake-model-reply: m=text  answer `text`, only when the request asks for model m
    x-fake-model-status: m=503  answer this error status, only when the request asks for model m
    x-fake-model-malformed: m   answer 200 with a body that is not JSON, only for model m
    x-fake-flaky: key=2         answer 503 to the first 2 requests carrying this key, then normally

Every request is recorded in `FakeUpstream.requests` with its raw body.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import time
from dataclasses import dataclass, field

import orjson
from aiohttp import web


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    header_items: list[tuple[str, str]]
    body: bytes


@dataclass
class FakeUpstream:
    requests: list[Received] = field(default_factory=list)
    flaky: dict[str, int] = field(default_factory=dict)
    stream_finished_at: list[float] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Received(
                method=request.method,
                path=request.path,
                query=request.query_string,
                headers={k.lower(): v for k, v in request.headers.items()},
                header_items=list(request.headers.items()),
                body=body,
            )
        )
        h = request.headers
        if "x-fake-delay" in h:
            await asyncio.sleep(float(h["x-fake-delay"]))
        status = None
        if "x-fake-flaky" in h:
            key, _, times = h["x-fake-flaky"].partition("=")
            self.flaky[key] = self.flaky.get(key, 0) + 1
            if self.flaky[key] <= int(times):
                status = 503
        if "x-fake-model-status" in h and request.path == "/v1/chat/completions":
            picked = _for_model(h["x-fake-model-status"], orjson.loads(body)["model"])
            status = int(picked) if picked else status
        if "x-fake-model-malformed" in h and request.path == "/v1/chat/completions":
            if orjson.loads(body)["model"] == h["x-fake-model-malformed"]:
                return web.Response(body=b'{"id": "chatcmpl-broken", "choi', content_type="application/json")
        if "x-fake-status" in h:
            status = int(h["x-fake-status"])
        if status is not None:
            headers = {"x-request-id": "req_fake_error", "x-ratelimit-remaining-requests": "0"}
            if "x-fake-retry-after" in h:
                headers["retry-after"] = h["x-fake-retry-after"]
            return web.json_response(
                {"error": {"message": f"fake upstream error {status}", "type": "fake_error", "code": str(status), "param": None}},
                status=status,
                headers=headers,
            )
        path = request.path
        if path == "/echo" or path.startswith("/echo/"):
            return self._echo(request, body)
        if path == "/v1/models":
            return _json({"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in ("gpt-4o", "gpt-4o-mini")]})
        if path == "/v1/chat/completions":
            payload = orjson.loads(body)
            model_delay = _for_model(h.get("x-fake-model-delay"), payload["model"])
            if model_delay is not None:
                await asyncio.sleep(float(model_delay))
            reply = _for_model(h.get("x-fake-model-reply"), payload["model"])
            if reply is not None:
                payload["_reply"] = reply
            if payload.get("stream"):
                return await self._stream_chat(request, payload)
            return _json(_chat_completion(payload))
        if path == "/v1/completions":
            payload = orjson.loads(body)
            return _json({"id": "cmpl-fake", "object": "text_completion", "created": 0, "model": payload["model"],
                          "choices": [{"text": " world", "index": 0, "logprobs": None, "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        if path == "/v1/embeddings":
            payload = orjson.loads(body)
            inputs = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
            return _json({"object": "list", "model": payload["model"],
                          "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(len(inputs))],
                          "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}})
        if path == "/v1/responses":
            payload = orjson.loads(body)
            return _json(_response_object(payload))
        if path in ("/v1/files", "/v1/audio/transcriptions"):
            return await self._multipart(request, body)
        return _json({"error": {"message": f"fake upstream has no {path}", "type": "invalid_request_error", "code": None, "param": None}}, status=404)

    def _echo(self, request: web.Request, body: bytes) -> web.Response:
        return _json({
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "headers": list(request.headers.items()),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_len": len(body),
        }, headers={"x-request-id": "req_echo", "x-ratelimit-limit-requests": "500", "set-cookie": "a=1"})

    async def _stream_chat(self, request: web.Request, payload: dict) -> web.StreamResponse:
        h = request.headers
        chunks = int(h.get("x-fake-chunks", "5"))
        delay = float(h.get("x-fake-chunk-delay", "0"))
        drop_after = int(h["x-fake-drop-after"]) if "x-fake-drop-after" in h else None
        stall_after = int(h["x-fake-stall-after"]) if "x-fake-stall-after" in h else None
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "x-request-id": "req_fake_stream"})
        await resp.prepare(request)
        model = payload["model"]
        reply_words = payload["_reply"].split(" ") if payload.get("_reply") else None
        if reply_words:
            chunks = len(reply_words) + 1
        try:
            for i in range(chunks):
                if drop_after is not None and i == drop_after:
                    assert request.transport is not None
                    request.transport.close()
                    return resp
                if stall_after is not None and i == stall_after:
                    await asyncio.sleep(3600)
                if i == 0:
                    delta = {"role": "assistant", "content": ""}
                elif reply_words:
                    delta = {"content": reply_words[i - 1] + (" " if i < len(reply_words) else "")}
                else:
                    delta = {"content": f"tok{i} "}
                await resp.write(_sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                                       "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
                if delay:
                    await asyncio.sleep(delay)
            await resp.write(_sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
            if (payload.get("stream_options") or {}).get("include_usage"):
                await resp.write(_sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                                       "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": chunks, "total_tokens": 10 + chunks}}))
            await resp.write(b"data: [DONE]\n\n")
            self.stream_finished_at.append(time.monotonic())
            await resp.write_eof()
        except (asyncio.CancelledError, ConnectionResetError):
            self.cancelled.append(request.path)
            raise
        return resp

    async def _multipart(self, request: web.Request, body: bytes) -> web.Response:
        # Parse from the recorded bytes: the body must arrive intact to parse.
        message = email.message_from_bytes(
            b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n" + body, policy=email.policy.HTTP
        )
        fields: dict[str, object] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            if part.get_filename():
                fields[name] = {"filename": part.get_filename(), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            else:
                fields[name] = data.decode()
        f = fields["file"]
        assert isinstance(f, dict)
        if request.path == "/v1/files":
            return _json({"id": "file-fake", "object": "file", "bytes": f["size"], "created_at": 0, "filename": f["filename"],
                          "purpose": fields.get("purpose", ""), "status": "processed", "sha256": f["sha256"]})
        return _json({"text": f"transcribed {f['size']} bytes"})


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    base = {"x-request-id": "req_fake", "x-ratelimit-remaining-tokens": "99000"}
    base.update(headers or {})
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=base)


def _sse(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _for_model(spec: str | None, model: str) -> str | None:
    if not spec:
        return None
    name, _, value = spec.partition("=")
    return value if name == model else None


def _chat_completion(payload: dict) -> dict:
    last = payload["messages"][-1]["content"] if payload.get("messages") else ""
    text = payload.get("_reply") or f"echo: {last if isinstance(last, str) else 'multi-part'}"[:200]
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": payload["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }


def _response_object(payload: dict) -> dict:
    return {
        "id": "resp_fake", "object": "response", "created_at": 0, "status": "completed", "model": payload["model"],
        "output": [{"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": "hello", "annotations": []}]}],
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
    }

"""Send one request to an upstream, and relay its answer back as it arrives.

`send` opens the upstream exchange and maps the proxy's own failures (no
connection, deadline passed) to an OpenAI-shaped error. `respond` relays the
upstream's status, headers and bytes unchanged: small bodies in one write,
event streams and large or unsized bodies chunk by chunk, never buffered.
`read_body` reads a whole answer for callers that must look at it before the
app does (the guardrail, shadow calls).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Protocol

from multidict import CIMultiDict

from proxy.http import messages as web
from proxy.http.errors import ProxyError, UpstreamTimeout, UpstreamUnreachable
from proxy.http.headers import client_response_headers
from proxy.http.outbound import ClientError, ConnectError, ConnectTimeout, PayloadError, Response
from proxy.http.upstream import UpstreamClient
from proxy.record import RequestRecord

# Bodies up to this size with a known length are answered in one piece.
BUFFER_LIMIT = 1 << 20


class StreamTap(Protocol):
    """Sees every chunk of a relayed stream; returns the bytes the app should get."""

    def feed(self, chunk: bytes) -> bytes: ...

    def close(self) -> bytes: ...


def _describe(exc: BaseException | None) -> str:
    text = (str(exc) or type(exc).__name__) if exc is not None else "unknown error"
    return text[:300]


async def send(
    upstream: UpstreamClient,
    method: str,
    raw_path: str,
    headers: CIMultiDict[str],
    body: bytes | None,
    first_byte_s: float | None = None,
) -> Response:
    timeouts = upstream.timeouts
    first_byte_s = timeouts.first_byte_s if first_byte_s is None else first_byte_s
    try:
        return await upstream.http.request(method, raw_path, headers.items(), body, first_byte_s=first_byte_s)
    except ConnectTimeout:
        raise UpstreamTimeout(
            f"llm-router could not connect to upstream '{upstream.name}' ({upstream.base_url}) "
            f"within {timeouts.connect_s:g}s (timeouts.connect_s)",
            code="upstream_connect_timeout",
        ) from None
    except TimeoutError:
        raise UpstreamTimeout(
            f"upstream '{upstream.name}' ({upstream.base_url}) sent no response headers "
            f"within {first_byte_s:g}s (timeouts.first_byte_s, or what was left of resilience.deadline_s)",
            code="upstream_first_byte_timeout",
        ) from None
    except ConnectError as exc:
        raise UpstreamUnreachable(
            f"llm-router could not connect to upstream '{upstream.name}' ({upstream.base_url}): {_describe(exc.os_error or exc)}",
            code="upstream_connect_error",
        ) from None
    except ClientError as exc:
        raise UpstreamUnreachable(
            f"upstream '{upstream.name}' ({upstream.base_url}) failed before answering: {_describe(exc)}",
            code="upstream_connection_error",
        ) from None


def is_event_stream(upstream_resp: Response) -> bool:
    return upstream_resp.content_type == "text/event-stream"


def buffered(upstream_resp: Response) -> bool:
    length = upstream_resp.content_length
    return not is_event_stream(upstream_resp) and length is not None and length <= BUFFER_LIMIT


async def read_body(upstream_resp: Response, upstream: UpstreamClient) -> bytes:
    try:
        return await upstream_resp.read()
    except TimeoutError:
        upstream_resp.close()
        raise UpstreamTimeout(
            f"upstream '{upstream.name}' did not finish its response within {upstream.timeouts.total_s:g}s (timeouts.total_s)",
            code="upstream_total_timeout",
        ) from None
    except ClientError as exc:
        upstream_resp.close()
        raise UpstreamUnreachable(
            f"upstream '{upstream.name}' broke off its response: {_describe(exc)}", code="upstream_incomplete"
        ) from None


def buffered_response(
    upstream_resp: Response, data: bytes, extra_headers: Mapping[str, str] | None
) -> web.Response:
    headers = client_response_headers(upstream_resp.headers)
    if extra_headers:
        headers.update(extra_headers)
    return web.Response(status=upstream_resp.status, reason=upstream_resp.reason, body=data, headers=headers)


async def respond(
    request: web.Request,
    upstream_resp: Response,
    upstream: UpstreamClient,
    record: RequestRecord,
    extra_headers: Mapping[str, str] | None = None,
    tap: StreamTap | None = None,
    on_body: object = None,
) -> web.StreamResponse:
    """Relay the upstream's answer to the app; `on_body(bytes)` sees a buffered body."""
    record.status = upstream_resp.status
    record.upstream_request_id = upstream_resp.headers.get("x-request-id")
    try:
        if buffered(upstream_resp):
            data = await read_body(upstream_resp, upstream)
            record.bytes_out = len(data)
            if on_body is not None:
                on_body(data)  # type: ignore[operator]
            return buffered_response(upstream_resp, data, extra_headers)
        record.streamed = True
        return await _stream(request, upstream_resp, upstream, record, extra_headers, tap)
    finally:
        upstream_resp.release()


async def _stream(
    request: web.Request,
    upstream_resp: Response,
    upstream: UpstreamClient,
    record: RequestRecord,
    extra_headers: Mapping[str, str] | None,
    tap: StreamTap | None,
    held: list[bytes] | None = None,
) -> web.StreamResponse:
    headers = client_response_headers(upstream_resp.headers)
    if extra_headers:
        headers.update(extra_headers)
    is_sse = is_event_stream(upstream_resp)
    out = web.StreamResponse(status=upstream_resp.status, reason=upstream_resp.reason, headers=headers)
    length = upstream_resp.content_length
    if length is not None and tap is None:
        out.content_length = length
    await out.prepare(request)
    for chunk in held or ():
        await out.write(chunk)
    idle_s = upstream.timeouts.stream_idle_s
    loop = asyncio.get_running_loop()
    failure: ProxyError | None = None
    complete = False
    try:
        # One timeout context, pushed forward before every read, rather than a new timer per chunk.
        async with asyncio.timeout(None) as idle:
            while True:
                idle.reschedule(loop.time() + idle_s)
                chunk = await upstream_resp.content.readany()
                if not chunk:
                    complete = True
                    if tap is not None and (rest := tap.close()):
                        record.bytes_out += len(rest)
                        await out.write(rest)
                    break
                if record.first_chunk_ms is None:
                    record.first_chunk_ms = (time.perf_counter() - record.started) * 1000
                if tap is not None:
                    chunk = tap.feed(chunk)
                    if not chunk:
                        continue
                record.bytes_out += len(chunk)
                await out.write(chunk)
    except TimeoutError:
        if idle.expired():
            failure = UpstreamTimeout(
                f"upstream '{upstream.name}' sent nothing for {idle_s:g}s in the middle of a stream (timeouts.stream_idle_s)",
                code="upstream_stream_idle",
            )
        else:
            failure = UpstreamTimeout(
                f"upstream '{upstream.name}' did not finish its stream within {upstream.timeouts.total_s:g}s (timeouts.total_s)",
                code="upstream_total_timeout",
            )
    except PayloadError as exc:
        failure = UpstreamUnreachable(
            f"upstream '{upstream.name}' broke off the stream: {_describe(exc)}", code="upstream_stream_broken"
        )
    except ClientError as exc:
        failure = UpstreamUnreachable(
            f"upstream '{upstream.name}' failed during the stream: {_describe(exc)}", code="upstream_stream_broken"
        )
    finally:
        if not complete:
            # Closing (not releasing) drops the upstream connection, which stops the generation there.
            upstream_resp.close()
    if failure is not None:
        record.error = failure.code
        if is_sse:
            # An error event is what OpenAI's own streams send; the SDKs raise it as an APIError.
            await out.write(b"data: " + failure.body() + b"\n\n")
            await out.write_eof()
        elif request.transport is not None:
            # A byte stream cut short must look cut short, not complete.
            request.transport.close()
        return out
    await out.write_eof()
    return out


async def respond_held(
    request: web.Request,
    upstream_resp: Response,
    upstream: UpstreamClient,
    record: RequestRecord,
    held: list[bytes],
    extra_headers: Mapping[str, str] | None = None,
    tap: StreamTap | None = None,
) -> web.StreamResponse:
    """Continue a stream whose first chunks were held back (and checked) before the app saw them."""
    record.status = upstream_resp.status
    record.streamed = True
    try:
        return await _stream(request, upstream_resp, upstream, record, extra_headers, tap, held)
    finally:
        upstream_resp.release()


async def respond_translated(
    request: web.Request,
    translated: object,
    record: RequestRecord,
    extra_headers: Mapping[str, str] | None,
    observer: object,
) -> web.StreamResponse:
    """Relay an answer that LiteLLM translated from another provider into OpenAI's format."""
    record.status = translated.status  # type: ignore[attr-defined]
    headers = CIMultiDict(extra_headers or {})
    body = translated.body  # type: ignore[attr-defined]
    if body is not None:
        record.bytes_out = len(body)
        observer.on_body(body)  # type: ignore[attr-defined]
        headers["Content-Type"] = "application/json"
        return web.Response(status=record.status, body=body, headers=headers)
    headers["Content-Type"] = "text/event-stream"
    headers["Cache-Control"] = "no-cache"
    record.streamed = True
    out = web.StreamResponse(status=record.status, headers=headers)
    await out.prepare(request)
    tap = observer.tap_sse()  # type: ignore[attr-defined]
    try:
        async for chunk in translated.chunks:  # type: ignore[attr-defined]
            if record.first_chunk_ms is None:
                record.first_chunk_ms = (time.perf_counter() - record.started) * 1000
            chunk = tap.feed(chunk)
            if chunk:
                record.bytes_out += len(chunk)
                await out.write(chunk)
        rest = tap.close()
        if rest:
            await out.write(rest)
    except ProxyError as exc:
        record.error = exc.code
        await out.write(b"data: " + exc.body() + b"\n\n")
    except Exception as exc:  # a provider error after the first byte can only end the stream, with its reason
        from proxy.dispatch.litellm_bridge import ProviderError

        if not isinstance(exc, ProviderError):
            raise
        record.error = f"provider_{exc.status}"
        await out.write(b"data: " + exc.body() + b"\n\n")
    await out.write_eof()
    return out

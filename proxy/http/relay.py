"""Forward one request to an upstream and relay the answer back as it arrives.

Small bodies are read whole and answered in one write; event streams and large
or unsized bodies are relayed chunk by chunk, never buffered. The upstream's
status, headers and bytes reach the app unchanged; only the proxy's own
failures (no connection, deadline passed, upstream broke mid-answer) become
an OpenAI-shaped error.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from proxy.http.errors import ProxyError, UpstreamTimeout, UpstreamUnreachable
from proxy.http.headers import client_response_headers, upstream_request_headers
from proxy.http.upstream import UpstreamClient

# Bodies up to this size with a known length are answered in one piece.
_BUFFER_LIMIT = 1 << 20


@dataclass(slots=True)
class RelayResult:
    status: int = 0
    bytes_out: int = 0
    upstream_headers_ms: float = 0.0
    streamed: bool = False
    upstream_request_id: str | None = None
    error: str | None = None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]


async def relay(
    request: web.BaseRequest,
    body: bytes | None,
    upstream: UpstreamClient,
    result: RelayResult,
    response_headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    url = upstream.url_for(request.raw_path)
    headers = upstream_request_headers(request.headers, upstream.extra_headers)
    timeouts = upstream.timeouts
    # aiohttp sends bytes objects over 1 MiB from a file-like payload; say so up front instead of being warned.
    data: bytes | io.BytesIO | None = io.BytesIO(body) if body is not None and len(body) > _BUFFER_LIMIT else body
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeouts.first_byte_s):
            upstream_resp = await upstream.session.request(
                request.method, url, data=data, headers=headers, allow_redirects=False
            )
    except aiohttp.ConnectionTimeoutError:
        raise UpstreamTimeout(
            f"llm-router could not connect to upstream '{upstream.name}' ({upstream.base_url}) "
            f"within {timeouts.connect_s:g}s (timeouts.connect_s)",
            code="upstream_connect_timeout",
        ) from None
    except TimeoutError:
        raise UpstreamTimeout(
            f"upstream '{upstream.name}' ({upstream.base_url}) sent no response headers "
            f"within {timeouts.first_byte_s:g}s (timeouts.first_byte_s)",
            code="upstream_first_byte_timeout",
        ) from None
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamUnreachable(
            f"llm-router could not connect to upstream '{upstream.name}' ({upstream.base_url}): {_describe(exc.os_error)}",
            code="upstream_connect_error",
        ) from None
    except aiohttp.ClientError as exc:
        raise UpstreamUnreachable(
            f"upstream '{upstream.name}' ({upstream.base_url}) failed before answering: {_describe(exc)}",
            code="upstream_connection_error",
        ) from None
    result.upstream_headers_ms = (time.perf_counter() - started) * 1000
    result.status = upstream_resp.status
    result.upstream_request_id = upstream_resp.headers.get("x-request-id")
    try:
        out_headers = client_response_headers(upstream_resp.headers)
        if response_headers:
            out_headers.update(response_headers)
        length = upstream_resp.content_length
        is_sse = upstream_resp.content_type == "text/event-stream"
        if not is_sse and length is not None and length <= _BUFFER_LIMIT:
            data = await _read_all(upstream_resp, upstream)
            result.bytes_out = len(data)
            return web.Response(status=upstream_resp.status, reason=upstream_resp.reason, body=data, headers=out_headers)
        result.streamed = True
        return await _stream(request, upstream_resp, upstream, out_headers, length, is_sse, result)
    finally:
        upstream_resp.release()


async def _read_all(upstream_resp: aiohttp.ClientResponse, upstream: UpstreamClient) -> bytes:
    try:
        return await upstream_resp.read()
    except TimeoutError:
        upstream_resp.close()
        raise UpstreamTimeout(
            f"upstream '{upstream.name}' did not finish its response within {upstream.timeouts.total_s:g}s (timeouts.total_s)",
            code="upstream_total_timeout",
        ) from None
    except aiohttp.ClientError as exc:
        upstream_resp.close()
        raise UpstreamUnreachable(
            f"upstream '{upstream.name}' broke off its response: {_describe(exc)}", code="upstream_incomplete"
        ) from None


async def _stream(
    request: web.BaseRequest,
    upstream_resp: aiohttp.ClientResponse,
    upstream: UpstreamClient,
    out_headers: object,
    length: int | None,
    is_sse: bool,
    result: RelayResult,
) -> web.StreamResponse:
    out = web.StreamResponse(status=upstream_resp.status, reason=upstream_resp.reason, headers=out_headers)
    if length is not None:
        out.content_length = length
    await out.prepare(request)
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
                    break
                result.bytes_out += len(chunk)
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
    except aiohttp.ClientPayloadError as exc:
        failure = UpstreamUnreachable(
            f"upstream '{upstream.name}' broke off the stream: {_describe(exc)}", code="upstream_stream_broken"
        )
    except aiohttp.ClientError as exc:
        failure = UpstreamUnreachable(
            f"upstream '{upstream.name}' failed during the stream: {_describe(exc)}", code="upstream_stream_broken"
        )
    finally:
        if not complete:
            # Closing (not releasing) drops the upstream connection, which stops the generation there.
            upstream_resp.close()
    if failure is not None:
        result.error = failure.code
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

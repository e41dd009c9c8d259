"""HTTP/1.1 from the app: the proxy listener's connections, on asyncio protocols.

Each connection parses requests with `httptools` (llhttp) and runs one handler
task per request, in order (pipelined requests wait their turn). The handler
gets a `Request` as soon as the head has arrived, reads the body through it,
and either returns a `Response` (written in one piece) or writes a
`StreamResponse` itself (prepare, write as chunks arrive, write_eof). A client
that goes away cancels its handler, which closes the upstream call.

    server = InboundServer(handler)
    await loop.create_server(server, host, port)     # the server is the protocol factory
    ...
    await server.shutdown(timeout=drain_s)           # finish in-flight requests, then close

The request and answer types live in `proxy.http.messages` and are re-exported
here: the subset of aiohttp's `web` the sidecar used, without what a relay
never needs and pays for on every request.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httptools
import structlog
from multidict import CIMultiDict

from proxy.http.flow import WriteFlow
from proxy.http.messages import (
    NO_BODY_STATUS,
    Request,
    Response,
    StreamResponse,
    encode_head,
    error_body,
    reason_phrase,
)

log = structlog.get_logger("llm_router")

# Request heads past these are refused (431): a request line or header that long is an attack or a bug.
MAX_FIELD_BYTES = 1 << 16
MAX_HEAD_BYTES = 1 << 18
_KEEPALIVE_S = 75.0


Handler = Callable[[Request], Awaitable[Response | StreamResponse]]


class Connection(WriteFlow):
    """One client connection: parse, run handlers in order, write their answers."""

    __slots__ = (
        "_body_paused",
        "_drain_waiter",
        "_headers",
        "_upgraded",
        "_url",
        "closed",
        "head_bytes",
        "head_sent",
        "last_active",
        "loop",
        "parser",
        "queue",
        "request",
        "response_keep_alive",
        "server",
        "ssl_context",
        "task",
        "transport",
        "writing_paused",
    )

    def __init__(self, server: InboundServer):
        self.server = server
        self.loop = server.loop or asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.closed = False
        self.request: Request | None = None  # the one being received
        self.queue: collections.deque[Request] = collections.deque()  # received, waiting for a handler
        self.task: asyncio.Task[None] | None = None
        self.head_bytes = 0
        self.writing_paused = False
        self.response_keep_alive = True
        self.head_sent = False
        self.last_active = time.monotonic()
        self._url: list[bytes] = []
        self._headers: list[tuple[bytes, bytes]] = []
        self._drain_waiter: asyncio.Future[None] | None = None
        self._body_paused = False
        self._upgraded = False
        self.ssl_context: Any = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ssl_context = transport.get_extra_info("sslcontext")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass  # not TCP (a TLS transport over a tunnel, a Unix socket)
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self._upgraded:
            return  # bytes after a CONNECT or Upgrade request: not HTTP we can relay
        self.last_active = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # CONNECT inside a kept-alive connection, or an Upgrade request: answer it, then close.
            self._upgraded = True
            if self.request is not None:
                self.request._finish()
                self.request.keep_alive = False
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _HeadTooLarge):
                self._refuse(431, f"request line or a header is longer than {MAX_FIELD_BYTES} bytes, or the head "
                                  f"longer than {MAX_HEAD_BYTES}", "request_header_too_large")
            else:
                self._refuse(400, f"malformed HTTP request: {cause or exc}", "bad_http_request")
        except httptools.HttpParserError as exc:
            self._refuse(400, f"malformed HTTP request: {exc}", "bad_http_request")

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        if self.request is not None:
            self.request._fail(ConnectionResetError("the client closed the connection in the middle of its request"))
        for queued in self.queue:
            queued._fail(ConnectionResetError("the client closed the connection"))
        self.queue.clear()
        if self.task is not None and not self.task.done():
            self.task.cancel()  # the app went away: stop working (and calling the upstream) for it
        self.fail_drain(ConnectionResetError("the client closed the connection"))

    # -- httptools callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = []
        self._headers = []
        self.head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        self.head_bytes += len(url)
        if self.head_bytes > MAX_FIELD_BYTES:
            raise _HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        size = len(name) + len(value)
        self.head_bytes += size + 4
        if size > MAX_FIELD_BYTES or self.head_bytes > MAX_HEAD_BYTES:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        parser = self.parser
        headers: CIMultiDict[str] = CIMultiDict(
            [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._headers])
        target = (self._url[0] if len(self._url) == 1 else b"".join(self._url)).decode("latin-1")
        request = Request(self, parser.get_method().decode("ascii", "replace"), target,
                          parser.get_http_version(), headers, parser.should_keep_alive())
        self.request = request
        if self.task is None:
            self._start(request)
        else:
            self.queue.append(request)
            if len(self.queue) > 16 and self.transport is not None:
                self.transport.pause_reading()  # a client pipelining without reading its answers

    def on_body(self, body: bytes) -> None:
        if self.request is not None:
            self.request._feed(body)

    def on_message_complete(self) -> None:
        request, self.request = self.request, None
        if request is not None:
            request._finish()

    # -- handlers ---------------------------------------------------------------------------------

    def _start(self, request: Request) -> None:
        self.task = self.loop.create_task(self._run(request))

    async def _run(self, request: Request) -> None:
        server = self.server
        server.inflight += 1
        self.head_sent = False
        try:
            try:
                response = await server.handler(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("request handler failed", error=repr(exc)[:300], path=request.path, exc_info=exc)
                if self.head_sent:
                    self._close()  # a head is out already: a cut-short answer must look cut short
                    return
                response = Response(status=500, body=error_body(
                    f"llm-router failed to handle the request: {type(exc).__name__}", "internal_error", "proxy_error"),
                    headers={"Content-Type": "application/json", "x-llm-router-error": "internal_error"})
            if self.closed:
                return
            if isinstance(response, Response):
                self._write_response(request, response)
            elif isinstance(response, StreamResponse):
                if not response.prepared:
                    await response.prepare(request)
                await response.write_eof()
            if self.writing_paused:
                await self.drain()
        except (asyncio.CancelledError, ConnectionResetError):
            self._close()
            return
        finally:
            server.inflight -= 1
            server.request_done()
        self._next(request)

    def _next(self, done: Request) -> None:
        """After an answer: the next pipelined request, or wait for one, or close."""
        self.task = None
        if self.closed:
            return
        if not self.response_keep_alive or not done.keep_alive or self._upgraded or self.server.closing:
            self._close()
            return
        if not done._complete:
            # The handler answered without reading the whole body (an early error): the rest cannot be skipped safely.
            self._close()
            return
        self.response_keep_alive = True
        self.last_active = time.monotonic()
        if self.queue:
            nxt = self.queue.popleft()
            if self.transport is not None and len(self.queue) <= 16:
                self.transport.resume_reading()
            self._start(nxt)

    def keep_alive_for(self, request: Request) -> bool:
        return request.keep_alive and not self.server.closing and not self._upgraded

    def head(self, request: Request, status: int, reason: str | None, headers: CIMultiDict[str],
             length: int | None, chunked: bool, keep_alive: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason_phrase(status, reason)}\r\n"]
        for name, value in headers.items():
            lines.append(f"{name}: {value}\r\n")
        if length is not None:
            lines.append(f"Content-Length: {length}\r\n")
        elif chunked:
            lines.append("Transfer-Encoding: chunked\r\n")
        if not keep_alive:
            lines.append("Connection: close\r\n")
        elif request.version == "1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        return encode_head("".join(lines))

    def _write_response(self, request: Request, response: Response) -> None:
        keep_alive = self.keep_alive_for(request)
        self.response_keep_alive = keep_alive
        status = response.status
        body = response.body or b""
        no_body = status in NO_BODY_STATUS or status < 200
        head = self.head(request, status, response.reason, response.headers, None if no_body else len(body),
                         False, keep_alive)
        if request.method == "HEAD" or no_body or not body:
            self.write_raw(head)
        elif len(body) < 65536:
            self.write_raw(head + body)
        else:
            self.write_raw(head)
            self.write_raw(body)

    # -- writing and flow control ------------------------------------------------------------------

    def write_raw(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise ConnectionResetError("the client closed the connection")
        self.transport.write(data)

    def send_continue(self) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def pause_body(self) -> None:
        if not self._body_paused and self.transport is not None and not self.closed:
            self._body_paused = True
            self.transport.pause_reading()

    def resume_body(self) -> None:
        if self._body_paused and self.transport is not None and not self.closed:
            self._body_paused = False
            self.transport.resume_reading()

    def _refuse(self, status: int, message: str, code: str) -> None:
        """A request we cannot parse: say why, then close (nothing after it can be trusted)."""
        if self.transport is not None and not self.closed and self.task is None:
            body = error_body(message, code)
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nx-llm-router-error: %s\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (status, reason_phrase(status, None).encode(), code.encode(), len(body), body))
        if self.request is not None:
            self.request._fail(ConnectionResetError(message))
        self._close()

    def _close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def close_if_idle(self, now: float, idle_s: float) -> None:
        if self.task is None and self.request is None and not self.queue and now - self.last_active >= idle_s:
            self._close()


class _HeadTooLarge(Exception):
    pass


class InboundServer:
    """The protocol factory for the proxy listener (and for intercepted TLS connections), with a graceful shutdown."""

    def __init__(self, handler: Handler, *, keepalive_s: float = _KEEPALIVE_S):
        self.handler = handler
        self.keepalive_s = keepalive_s
        self.connections: set[Connection] = set()
        self.inflight = 0
        self.closing = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._idle_sweep: asyncio.TimerHandle | None = None
        self._drained: asyncio.Event | None = None

    def __call__(self) -> Connection:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
            self._schedule_sweep()
        return Connection(self)

    def _schedule_sweep(self) -> None:
        assert self.loop is not None
        self._idle_sweep = self.loop.call_later(min(self.keepalive_s, 10.0), self._sweep)

    def _sweep(self) -> None:
        now = time.monotonic()
        for conn in list(self.connections):
            conn.close_if_idle(now, self.keepalive_s)
        if not self.closing:
            self._schedule_sweep()

    def request_done(self) -> None:
        if self.closing and self.inflight == 0 and self._drained is not None:
            self._drained.set()

    async def shutdown(self, timeout: float) -> None:
        """Close idle connections now, let in-flight requests finish for up to `timeout` seconds, then cut the rest."""
        self.closing = True
        if self._idle_sweep is not None:
            self._idle_sweep.cancel()
        for conn in list(self.connections):
            conn.close_if_idle(float("inf"), 0.0)
        if self.inflight:
            self._drained = asyncio.Event()
            try:
                async with asyncio.timeout(timeout):
                    await self._drained.wait()
            except TimeoutError:
                log.warning("drain deadline passed; cutting the requests still in flight", inflight=self.inflight)
        tasks = [conn.task for conn in self.connections if conn.task is not None and not conn.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        self.connections.clear()


__all__ = ["Connection", "InboundServer", "Request", "Response", "StreamResponse"]

"""HTTP/1.1 to the upstreams: pooled keep-alive connections on asyncio protocols.

A relay has no use for most of what a general HTTP client does (cookies,
redirects, decompression, proxies from the environment, re-quoting URLs), and
paid for it on every request: this client sends the head and body it is given
in one write, parses the answer with `httptools` (llhttp, the parser Node.js
uses) and hands the body over as it arrives, with flow control. About a quarter
of the CPU the sidecar spent per request went to the general-purpose client.

    client = HttpClient("https://api.openai.com", limit=100, keepalive_s=60, connect_s=5, total_s=600)
    resp = await client.request("POST", "/v1/chat/completions", headers, body, first_byte_s=60)
    chunk = await resp.content.readany()   # b"" at the end
    resp.release()                         # back to the pool once the body is complete, else closed

Errors: `ConnectError` (with the OS error) and `ConnectTimeout` for a
connection that could not be opened, `TimeoutError` when the first byte or the
total deadline passed, `Disconnected` when the upstream closed before its
answer, `PayloadError` when it broke off in the middle of one, `BadResponse`
when what it sent is not HTTP.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.http.client_errors import (
    BadResponse,
    ClientError,
    ConnectError,
    ConnectTimeout,
    Disconnected,
    PayloadError,
)
from proxy.http.flow import BodyBuffer, WriteFlow

# A response body buffered past this (the app reads slower than the upstream sends) pauses the socket.
_HIGH_WATER = 1 << 19
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "CONNECT", "DELETE"})


def _encode_head(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # a configured header with non-Latin-1 text: send its UTF-8 bytes
        return text.encode("utf-8")


class Response:
    """The upstream's answer: status and headers now, the body as it arrives."""

    __slots__ = ("_body", "_conn", "_deadline", "_released", "content_length", "content_type", "headers",
                 "reason", "status")

    def __init__(self, conn: _Connection, status: int, reason: str, headers: CIMultiDict[str]):
        self.status = status
        self.reason = reason
        self.headers = CIMultiDictProxy(headers)
        length = headers.get("Content-Length")
        self.content_length: int | None = int(length) if length is not None and length.isdigit() else None
        ctype = headers.get("Content-Type")
        self.content_type = ctype.partition(";")[0].strip().lower() if ctype else "application/octet-stream"
        self._conn: _Connection | None = conn
        self._body = BodyBuffer(_HIGH_WATER, conn.pause, conn.resume)
        self._released = False
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def content(self) -> Response:
        """The body reader (`readany`, `read`); the response itself, as in aiohttp."""
        return self

    # -- fed by the connection ----------------------------------------------------------

    @property
    def _done(self) -> bool:
        return self._body.done

    def _feed(self, data: bytes) -> None:
        self._body.feed(data)

    def _finish(self) -> None:
        self._body.finish()
        self._cancel_deadline()

    def _fail(self, exc: BaseException) -> None:
        if self._body.fail(exc):
            self._cancel_deadline()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    # -- read by the relay --------------------------------------------------------------

    async def readany(self) -> bytes:
        """All of the body that arrived since the last read (at least a byte), or b"" at its end."""
        return await self._body.next()

    async def read(self) -> bytes:
        """The whole (rest of the) body."""
        parts = []
        while chunk := await self.readany():
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def release(self) -> None:
        """Done with this answer: a complete one gives its connection back to the pool, anything else closes it."""
        if self._released:
            return
        self._released = True
        conn, self._conn = self._conn, None
        self._cancel_deadline()
        if conn is not None:
            if self._body.done and self._body.exc is None and conn.message_complete:
                conn.response_released()
            else:
                conn.abort()

    def close(self) -> None:
        """Drop the connection now (stops an upstream generation that is still running)."""
        self._released = True
        conn, self._conn = self._conn, None
        self._cancel_deadline()
        if not self._body.done:
            self._fail(PayloadError("response closed before its end"))
        if conn is not None:
            conn.abort()


class _Connection(WriteFlow):
    """One keep-alive connection to an upstream; one exchange at a time."""

    __slots__ = ("_drain_waiter", "_eof_body", "_head_only", "_head_waiter", "_headers", "_lost", "_paused",
                 "_reason", "_skip", "client", "closed", "idle_since", "loop", "message_complete", "parser",
                 "response", "reusable", "transport", "writing_paused")

    def __init__(self, client: HttpClient):
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.message_complete = True
        self.reusable = False
        self.closed = False
        self.idle_since = 0.0
        # The loop the connection lives on (asyncio.get_running_loop() costs a getpid() call on 3.11).
        self.loop = asyncio.get_running_loop()
        self._head_waiter: asyncio.Future[Response] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._skip = False
        self._head_only = False
        self._eof_body = False
        self._paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self.writing_paused = False
        self._lost: BaseException | None = None

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._broken(BadResponse(f"upstream sent a malformed HTTP response: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        self.client._forget(self)
        resp = self.response
        if self._head_waiter is not None and not self._head_waiter.done():
            error = Disconnected("upstream closed the connection before answering" + (f": {exc}" if exc else ""))
            self._head_waiter.set_exception(self._lost or error)
        elif resp is not None and not self.message_complete:
            if self._eof_body and exc is None:
                self.message_complete = True  # a body delimited by the end of the connection
                resp._finish()
            else:
                resp._fail(self._lost or PayloadError(
                    "upstream closed the connection in the middle of its response" + (f": {exc}" if exc else "")))
        self.fail_drain(ConnectionResetError("upstream connection lost"))

    # -- httptools callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._headers = []
        self._reason = b""

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self._skip = True  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            return
        headers: CIMultiDict[str] = CIMultiDict(
            [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._headers])
        resp = self.response = Response(self, status, self._reason.decode("latin-1"), headers)
        self.message_complete = False
        self.reusable = self.parser.should_keep_alive()
        self._eof_body = "Content-Length" not in headers and "chunked" not in headers.get("Transfer-Encoding", "").lower()
        if self._head_only or status in (204, 304):
            self._eof_body = False
            self._finish_message(resp)
            self.reusable = self.reusable and not self._head_only
        waiter = self._head_waiter
        self._head_waiter = None
        if waiter is None or waiter.done():
            self.abort()  # an answer nobody asked for (or one past its deadline): the connection is spent
            return
        waiter.set_result(resp)

    def on_body(self, body: bytes) -> None:
        resp = self.response
        if resp is not None and not self._skip and not self.message_complete:
            resp._feed(body)

    def on_message_complete(self) -> None:
        if self._skip:
            self._skip = False
            return
        resp = self.response
        if resp is not None and not self.message_complete:
            self._finish_message(resp)

    def _finish_message(self, resp: Response) -> None:
        self.message_complete = True
        resp._finish()

    # -- used by the client and the response ----------------------------------------------

    def _broken(self, exc: BaseException) -> None:
        self._lost = exc
        if self._head_waiter is not None and not self._head_waiter.done():
            self._head_waiter.set_exception(exc)
            self._head_waiter = None
        if self.response is not None and not self.message_complete:
            self.response._fail(exc)
        self.abort()

    def pause(self) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        self.reusable = False
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.abort()
        self.client._forget(self)

    def response_released(self) -> None:
        self.response = None
        self.resume()
        if self.reusable and not self.closed and self.transport is not None and not self.transport.is_closing():
            self.client._put_back(self)
        else:
            self.abort()


class HttpClient:
    """A bounded pool of keep-alive connections to one origin (scheme, host, port)."""

    def __init__(self, base_url: str, *, limit: int = 100, keepalive_s: float = 60.0, connect_s: float = 10.0,
                 total_s: float | None = None, ssl_context: ssl.SSLContext | bool = True):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        default_port = (self.https and self.port == 443) or (not self.https and self.port == 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if default_port else f"{host}:{self.port}"
        self.prefix = parts.path.rstrip("/")
        self.limit = limit if limit and limit > 0 else 0
        self.keepalive_s = keepalive_s
        self.connect_s = connect_s
        self.total_s = total_s
        if self.https:
            if ssl_context is True:
                ssl_context = ssl.create_default_context()
                ssl_context.set_alpn_protocols(["http/1.1"])
            elif ssl_context is False:
                ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ssl_context.check_hostname = False
                ssl_context.verify_mode = ssl.CERT_NONE
        self._ssl: ssl.SSLContext | None = ssl_context if self.https else None  # type: ignore[assignment]
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._opening = 0
        self._waiters: collections.deque[asyncio.Future[_Connection | None]] = collections.deque()
        self._closed = False
        # Bound on first use (as the connections are); get_running_loop() costs a getpid() on 3.11.
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def connections(self) -> int:
        return len(self._all)

    @property
    def idle(self) -> int:
        return len(self._idle)

    # -- the pool -------------------------------------------------------------------------

    async def _acquire(self, deadline: float, loop: asyncio.AbstractEventLoop) -> _Connection:
        now = loop.time()
        idle = self._idle
        while idle:
            conn = idle.pop()
            if conn.closed or conn.transport is None or conn.transport.is_closing():
                continue
            if now - conn.idle_since > self.keepalive_s:
                conn.abort()
                continue
            return conn
        if self.limit and len(self._all) + self._opening >= self.limit:
            waiter: asyncio.Future[_Connection | None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    conn = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None and waiter.result():
                    self._put_back(waiter.result())  # type: ignore[arg-type]
                else:
                    waiter.cancel()
                raise
            if conn is not None:
                return conn
        return await self._open()

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        self._opening += 1
        try:
            async with asyncio.timeout(self.connect_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self), self.host, self.port, ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                    ssl_handshake_timeout=self.connect_s if self._ssl is not None else None,
                )
        except TimeoutError:
            raise ConnectTimeout(f"no connection to {self.host}:{self.port} within {self.connect_s:g}s") from None
        except ssl.SSLError as exc:
            raise ConnectError(f"TLS handshake with {self.host}:{self.port} failed: {exc}", exc) from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {self.host}:{self.port}: {exc}", exc) from None
        finally:
            self._opening -= 1
        self._all.add(conn)
        return conn

    def _put_back(self, conn: _Connection) -> None:
        if self._closed:
            conn.abort()
            return
        if self._hand_to_waiter(conn):
            return
        conn.idle_since = conn.loop.time()
        self._idle.append(conn)

    def _forget(self, conn: _Connection) -> None:
        if conn in self._all:
            self._all.discard(conn)
            try:
                self._idle.remove(conn)
            except ValueError:
                pass
            # A slot opened: a waiter may now open a connection of its own.
            self._hand_to_waiter(None)

    def _hand_to_waiter(self, conn: _Connection | None) -> bool:
        """Wake the oldest caller still waiting for a slot with `conn` (None: open your own); False if none waits."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    # -- one exchange ---------------------------------------------------------------------

    async def request(self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes | None,
                      *, first_byte_s: float) -> Response:
        """Send one request; return once the answer's head arrived (the body follows through the response)."""
        if self._closed:
            raise ConnectError("the upstream client is closed")
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        started = loop.time()
        first_deadline = started + first_byte_s
        conn = await self._acquire(first_deadline, loop)
        try:
            lines = [f"{method} {self.prefix}{target} HTTP/1.1\r\nHost: {self.host_header}\r\n"]
            for name, value in headers:
                lines.append(f"{name}: {value}\r\n")
            if body is not None:
                lines.append(f"Content-Length: {len(body)}\r\n\r\n")
            elif method not in _BODYLESS_METHODS:
                lines.append("Content-Length: 0\r\n\r\n")
            else:
                lines.append("\r\n")
            head = _encode_head("".join(lines))
            conn._head_only = method == "HEAD"
            conn._lost = None
            waiter: asyncio.Future[Response] = loop.create_future()
            conn._head_waiter = waiter
            transport = conn.transport
            assert transport is not None
            if body is None:
                transport.write(head)
            elif len(body) < 65536:
                transport.write(head + body)
            else:
                transport.write(head)
                transport.write(body)
                await conn.drain()
            timer = loop.call_at(first_deadline, _expire, waiter)
            try:
                resp = await waiter
            finally:
                timer.cancel()
        except BaseException:
            conn._head_waiter = None
            conn.abort()
            raise
        if self.total_s is not None and not resp._done:
            resp._deadline = loop.call_at(started + self.total_s, _total_expired, resp)
        return resp

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._all):
            conn.abort()
        self._all.clear()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectError("the upstream client is closed"))


def _expire(waiter: asyncio.Future[Response]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _total_expired(resp: Response) -> None:
    resp._deadline = None
    if not resp._done:
        resp._fail(TimeoutError())
        conn, resp._conn = resp._conn, None
        if conn is not None:
            conn.abort()


__all__ = [
    "BadResponse", "ClientError", "ConnectError", "ConnectTimeout", "Disconnected", "HttpClient",
    "PayloadError", "Response",
]

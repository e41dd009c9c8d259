"""The request and the answers the listener's handlers see and return.

`Request` is one request from the app: its head at once, its body as it
arrives (`content.read()`, `iter_any()`). A handler returns a `Response`
(written in one piece) or writes a `StreamResponse` itself: `prepare`, then
`write` as chunks arrive, then `write_eof`. The subset of aiohttp's `web`
names the sidecar used, on `proxy.http.inbound`'s connections.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote

import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from proxy.http.flow import BodyBuffer

if TYPE_CHECKING:
    from proxy.http.inbound import Connection

# An unread request body buffered past this pauses the socket until the handler reads.
BODY_HIGH_WATER = 1 << 20

_REASONS = {s.value: s.phrase for s in http.HTTPStatus}
NO_BODY_STATUS = frozenset({204, 304})


def reason_phrase(status: int, reason: str | None) -> str:
    return reason if reason else _REASONS.get(status, "Unknown")


def encode_head(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def error_body(message: str, code: str, type_: str = "invalid_request_error") -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type_, "code": code, "param": None}})


class Request:
    """One request from the app: head now, body through `content` (or `read()`)."""

    __slots__ = (
        "__weakref__",
        "_body",
        "_continue",
        "_url",
        "chunked",
        "content_length",
        "headers",
        "keep_alive",
        "method",
        "path",
        "protocol",
        "query_string",
        "raw_path",
        "version",
    )

    def __init__(self, protocol: Connection, method: str, target: str, version: str,
                 headers: CIMultiDict[str], keep_alive: bool):
        self.protocol = protocol
        self.method = method
        self.raw_path = target
        self.version = version
        self.headers = CIMultiDictProxy(headers)
        self.keep_alive = keep_alive
        self._url: URL | None = None
        if target[:1] == "/":
            path, _, self.query_string = target.partition("?")
        else:  # absolute-form (a forward proxy request) or "*"
            url = self._url = URL(target, encoded=True) if "://" in target else URL("/")
            path, self.query_string = url.raw_path, url.raw_query_string
        self.path = unquote(path) if "%" in path else path
        length = headers.get("Content-Length")
        self.content_length: int | None = int(length) if length is not None and length.isdigit() else None
        self.chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        self._body = BodyBuffer(BODY_HIGH_WATER, protocol.pause_body, protocol.resume_body)
        self._continue = headers.get("Expect", "").lower() == "100-continue"

    # -- what the pipeline reads ------------------------------------------------------------

    @property
    def transport(self) -> asyncio.Transport | None:
        return self.protocol.transport if not self.protocol.closed else None

    @property
    def content(self) -> Request:
        """The body reader (`read`, `iter_any`); the request itself."""
        return self

    @property
    def body_exists(self) -> bool:
        return bool(self.content_length) or self.chunked

    @property
    def url(self) -> URL:
        """The full URL: as sent for absolute-form requests, else built from the Host header."""
        if self._url is None:
            scheme = "https" if self.protocol.ssl_context is not None else "http"
            self._url = URL(f"{scheme}://{self.headers.get('Host', 'localhost')}{self.raw_path}", encoded=True)
        return self._url

    @property
    def origin_target(self) -> str:
        """The path and query in origin form ("/v1/...?..."), whatever form the app sent."""
        if self.raw_path[:1] == "/":
            return self.raw_path
        return self.url.raw_path_qs

    async def read(self) -> bytes:
        parts = [chunk async for chunk in self.iter_any()]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def iter_any(self):  # type: ignore[no-untyped-def]
        if self._continue:
            self._continue = False
            self.protocol.send_continue()
        while chunk := await self._body.next():
            yield chunk

    # -- fed by the connection --------------------------------------------------------------

    @property
    def _complete(self) -> bool:
        return self._body.done

    def _feed(self, data: bytes) -> None:
        self._body.feed(data)

    def _finish(self) -> None:
        self._body.finish()

    def _fail(self, exc: BaseException) -> None:
        self._body.fail(exc)


class Response:
    """An answer written in one piece."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, *, status: int = 200, reason: str | None = None, body: bytes = b"",
                 headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None, content_type: str | None = None):
        self.status = status
        self.reason = reason
        self.body = body
        self.headers: CIMultiDict[str] = headers if isinstance(headers, CIMultiDict) else CIMultiDict(headers or ())
        if content_type is not None:
            self.headers["Content-Type"] = content_type


class StreamResponse:
    """An answer written as it is produced: chunked, or with a length set before `prepare`."""

    __slots__ = (
        "_chunked",
        "_conn",
        "_finished",
        "_no_body",
        "_started",
        "content_length",
        "headers",
        "reason",
        "status",
    )

    def __init__(self, *, status: int = 200, reason: str | None = None,
                 headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None):
        self.status = status
        self.reason = reason
        self.headers: CIMultiDict[str] = headers if isinstance(headers, CIMultiDict) else CIMultiDict(headers or ())
        self.content_length: int | None = None
        self._conn: Connection | None = None
        self._chunked = False
        self._no_body = False
        self._started = False
        self._finished = False

    @property
    def prepared(self) -> bool:
        return self._started

    async def prepare(self, request: Request) -> StreamResponse:
        if self._started:
            return self
        conn = request.protocol
        self._conn = conn
        self._started = True
        self._no_body = request.method == "HEAD" or self.status in NO_BODY_STATUS or self.status < 200
        length = None if self._no_body and self.status in NO_BODY_STATUS else self.content_length
        keep_alive = conn.keep_alive_for(request)
        if length is None and not self._no_body:
            if request.version == "1.1":
                self._chunked = True
            else:
                keep_alive = False  # HTTP/1.0: the body ends where the connection does
        conn.response_keep_alive = keep_alive
        conn.head_sent = True
        conn.write_raw(conn.head(request, self.status, self.reason, self.headers, length, self._chunked, keep_alive))
        return self

    async def write(self, data: bytes) -> None:
        conn = self._conn
        if conn is None:
            raise RuntimeError("write() before prepare()")
        if conn.closed:
            raise ConnectionResetError("the client closed the connection")
        if self._no_body or not data:
            return
        if self._chunked:
            conn.write_raw(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            conn.write_raw(data)
        if conn.writing_paused:
            await conn.drain()

    async def write_eof(self) -> None:
        if self._finished:
            return
        self._finished = True
        conn = self._conn
        if conn is None or conn.closed:
            return
        if self._chunked:
            conn.write_raw(b"0\r\n\r\n")
        if conn.writing_paused:
            await conn.drain()

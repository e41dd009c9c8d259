"""HTTP/1.1 on the wire, both ways: what the listener accepts from apps and what the upstream client copes with.

The listener is driven with raw loopback connections (pipelining, HTTP/1.0,
chunked uploads, `Expect: 100-continue`, HEAD, garbage); the upstream client
talks to small loopback servers that answer the way real servers sometimes do
(no length, interim 100s, closed idle connections, answers cut short).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from proxy.http.outbound import BadResponse, ConnectError, HttpClient, PayloadError
from tests.conftest import base_config


async def _exchange(url: str, raw: bytes, *, until_close: bool = True, timeout: float = 5.0) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(raw)
    try:
        if until_close:
            return await asyncio.wait_for(reader.read(), timeout)
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    finally:
        writer.close()


def _responses(data: bytes) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """Split Content-Length-framed responses (status line, headers, body)."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        length = int(headers.get(b"content-length", b"0"))
        out.append((lines[0], headers, rest[:length]))
        data = rest[length:]
    return out


CHAT = orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})


@pytest.fixture
async def proxy_url(upstream, start_sidecar) -> str:
    running = await start_sidecar(base_config(upstream.url))
    return running.url


async def test_pipelined_requests_are_answered_in_order(proxy_url, upstream):
    one = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
    two = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(CHAT), CHAT))
    answers = _responses(await _exchange(proxy_url, one + two))
    assert [status for status, _, _ in answers] == [b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK"]
    assert orjson.loads(answers[0][2])["object"] == "list"
    assert orjson.loads(answers[1][2])["object"] == "chat.completion"
    assert answers[1][1][b"connection"] == b"close"
    assert [r.path for r in upstream.requests] == ["/v1/models", "/v1/chat/completions"]


async def test_http10_client_gets_a_closed_connection_and_an_unchunked_stream(proxy_url):
    body = orjson.dumps({"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    raw = await _exchange(proxy_url, b"POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower()
    assert rest.startswith(b"data: {") and rest.rstrip().endswith(b"data: [DONE]")


async def test_chunked_upload_reaches_the_upstream_whole(proxy_url, upstream):
    half = len(CHAT) // 2
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, CHAT[:half], len(CHAT) - half, CHAT[half:])
    raw = await _exchange(proxy_url, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
    assert raw.startswith(b"HTTP/1.1 200")
    received = upstream.requests[-1]
    assert received.body == CHAT
    assert received.headers["content-length"] == str(len(CHAT))
    assert "transfer-encoding" not in received.headers


async def test_expect_100_continue_gets_an_interim_answer(proxy_url, upstream):
    host, port = proxy_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(CHAT))
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(CHAT)
        final = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert final.startswith(b"HTTP/1.1 200")
    finally:
        writer.close()
    assert "expect" not in upstream.requests[-1].headers  # the proxy sends the body at once
    assert upstream.requests[-1].body == CHAT


async def test_head_request_gets_headers_only(proxy_url):
    raw = await _exchange(proxy_url, b"HEAD /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 ") and rest == b""


async def test_garbage_gets_a_clear_400_and_a_closed_connection(proxy_url):
    raw = await _exchange(proxy_url, b"this is not HTTP\r\n\r\n")
    status, headers, body = _responses(raw)[0]
    assert status.startswith(b"HTTP/1.1 400")
    assert headers[b"x-llm-router-error"] == b"bad_http_request"
    assert "malformed HTTP request" in orjson.loads(body)["error"]["message"]


async def test_keep_alive_connection_serves_many_requests(proxy_url, upstream):
    host, port = proxy_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for _ in range(5):
            writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(CHAT), CHAT))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            assert head.startswith(b"HTTP/1.1 200") and orjson.loads(body)["object"] == "chat.completion"
    finally:
        writer.close()
    assert len(upstream.requests) == 5


# -- the upstream client against servers that misbehave ---------------------------------------

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Script], Awaitable[tuple[str, list[int]]]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> tuple[str, list[int]]:
        connections: list[int] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(1)
            try:
                await script(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", connections

    yield start
    for server in servers:
        server.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


async def test_client_reads_a_body_delimited_by_the_end_of_the_connection(raw_server):
    async def script(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"ok\":")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b" true}")
        await writer.drain()

    url, _ = await raw_server(script)
    client = HttpClient(url)
    try:
        resp = await client.request("GET", "/x", [], None, first_byte_s=5)
        assert resp.content_length is None
        assert await resp.read() == b'{"ok": true}'
        resp.release()
    finally:
        await client.close()


async def test_client_skips_interim_answers(raw_server):
    async def script(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.2)

    url, _ = await raw_server(script)
    client = HttpClient(url)
    try:
        resp = await client.request("POST", "/x", [], b"{}", first_byte_s=5)
        assert resp.status == 201 and resp.reason == "Created"
        assert await resp.read() == b"ok"
        resp.release()
    finally:
        await client.close()


async def test_client_reuses_a_connection_and_replaces_one_the_server_closed(raw_server):
    async def script(reader, writer):
        for _ in range(2):  # answers two requests, then closes the idle connection
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    url, connections = await raw_server(script)
    client = HttpClient(url)
    try:
        for _ in range(4):
            resp = await client.request("GET", "/x", [], None, first_byte_s=5)
            assert await resp.read() == b"ok"
            resp.release()
            await asyncio.sleep(0.02)  # lets the server's close arrive before the next request
        assert len(connections) == 2
    finally:
        await client.close()


async def test_client_pool_limit_queues_requests_on_one_connection(raw_server):
    async def script(reader, writer):
        while True:
            await _read_request(reader)
            await asyncio.sleep(0.02)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    url, connections = await raw_server(script)
    client = HttpClient(url, limit=1)

    async def one() -> bytes:
        resp = await client.request("GET", "/x", [], None, first_byte_s=5)
        try:
            return await resp.read()
        finally:
            resp.release()

    try:
        assert await asyncio.gather(*(one() for _ in range(5))) == [b"ok"] * 5
        assert len(connections) == 1
    finally:
        await client.close()


async def test_client_reports_an_answer_cut_short(raw_server):
    async def script(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")
        await writer.drain()

    url, _ = await raw_server(script)
    client = HttpClient(url)
    try:
        resp = await client.request("GET", "/x", [], None, first_byte_s=5)
        with pytest.raises(PayloadError, match="middle of its response"):
            await resp.read()
        resp.release()
        assert client.connections == 0
    finally:
        await client.close()


async def test_client_total_deadline_ends_a_slow_body(raw_server):
    async def script(reader, writer):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
        await writer.drain()
        await asyncio.sleep(5)

    url, _ = await raw_server(script)
    client = HttpClient(url, total_s=0.2)
    try:
        resp = await client.request("GET", "/x", [], None, first_byte_s=5)
        assert await resp.readany() == b"ok"
        with pytest.raises(TimeoutError):
            await resp.readany()
        resp.release()
    finally:
        await client.close()


async def test_client_first_byte_deadline_drops_the_connection(raw_server):
    async def script(reader, writer):
        await _read_request(reader)
        await asyncio.sleep(5)

    url, _ = await raw_server(script)
    client = HttpClient(url)
    try:
        with pytest.raises(TimeoutError):
            await client.request("GET", "/x", [], None, first_byte_s=0.1)
        assert client.connections == 0
    finally:
        await client.close()


async def test_client_names_garbage_and_refused_connections(raw_server, unused_tcp_port):
    async def script(reader, writer):
        await _read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)

    url, _ = await raw_server(script)
    client = HttpClient(url)
    try:
        with pytest.raises(BadResponse, match="malformed HTTP response"):
            await client.request("GET", "/x", [], None, first_byte_s=5)
    finally:
        await client.close()
    refused = HttpClient(f"http://127.0.0.1:{unused_tcp_port}")
    with pytest.raises(ConnectError, match="cannot connect to 127.0.0.1"):
        await refused.request("GET", "/x", [], None, first_byte_s=5)
    await refused.close()


# -- the listener when its handler fails ----------------------------------------------------------


@pytest.fixture
async def serve_handler() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    from proxy.http.inbound import InboundServer

    servers: list[tuple[asyncio.Server, InboundServer]] = []

    async def start(handler) -> str:  # type: ignore[no-untyped-def]
        inbound = InboundServer(handler)
        server = await asyncio.get_running_loop().create_server(inbound, "127.0.0.1", 0)
        servers.append((server, inbound))
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server, inbound in servers:
        server.close()
        await inbound.shutdown(1)


async def test_a_failing_handler_gets_an_openai_shaped_500(serve_handler):
    async def handler(request):  # type: ignore[no-untyped-def]
        raise ValueError("bug")

    url = await serve_handler(handler)
    status, headers, body = _responses(await _exchange(url, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))[0]
    assert status.startswith(b"HTTP/1.1 500") and headers[b"x-llm-router-error"] == b"internal_error"
    assert orjson.loads(body)["error"]["code"] == "internal_error"


async def test_a_handler_failing_mid_stream_leaves_the_stream_visibly_cut(serve_handler):
    from proxy.http.inbound import StreamResponse

    async def handler(request):  # type: ignore[no-untyped-def]
        out = StreamResponse(headers={"Content-Type": "text/event-stream"})
        await out.prepare(request)
        await out.write(b"data: one\n\n")
        raise ValueError("bug after the head")

    url = await serve_handler(handler)
    raw = await _exchange(url, b"GET /v1/x HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    assert body == b"b\r\ndata: one\n\n\r\n"  # no terminating chunk, no second head: the client sees a cut stream

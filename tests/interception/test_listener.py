"""The one listener: reverse-proxy, absolute-form and intercepted CONNECT through
the sidecar's handler; bad input closes one connection and nothing else."""

from __future__ import annotations

import asyncio
import json
import ssl

import aiohttp
import pytest

from proxy.http.inbound import InboundServer, Request, Response
from proxy.interception.listener import intercepted_host, start_listener
from proxy.interception.settings import InterceptionSettings
from tests.interception.conftest import client_ctx, connect_tunnel, proxy_config


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    return head, await reader.readexactly(length)


async def _echo_through(reader, writer, path: str = "/echo/x?a=1") -> dict:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: api.openai.com\r\n\r\n".encode())
    head, body = await _read_response(reader)
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body)


@pytest.fixture
async def proxy(start_proxy, tls_upstream, other_ca_pem):
    proxy = await start_proxy(proxy_config(tls_upstream.url, other_ca_pem))
    proxy.upstream = tls_upstream
    return proxy


async def _intercepted(proxy, ca_files, host: str = "api.openai.com"):
    reader, writer, head = await connect_tunnel(proxy.port, f"{host}:443")
    assert head == b"HTTP/1.1 200 Connection Established\r\n\r\n"
    await writer.start_tls(client_ctx(ca_files.bundle), server_hostname=host)
    return reader, writer


@pytest.mark.both_loops
async def test_keep_alive_requests_in_one_tunnel_reach_the_upstream(proxy, ca_files):
    reader, writer = await _intercepted(proxy, ca_files)
    assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
    for i in range(5):
        echoed = await _echo_through(reader, writer, f"/echo/{i}?q=%20x")
        assert echoed["raw_path"] == f"/echo/{i}?q=%20x"
    writer.close()
    assert len(proxy.upstream.requests) == 5
    assert proxy.listener.stats.connects == 1 and proxy.listener.stats.intercepted == 1


async def test_leaf_is_minted_once_per_host_then_served_from_cache(proxy, ca_files):
    for _ in range(3):
        reader, writer = await _intercepted(proxy, ca_files)
        await _echo_through(reader, writer)
        writer.close()
    leaves = proxy.listener.leaves
    assert (leaves.stats.minted, leaves.stats.hits) == (1, 2)
    reader, writer = await _intercepted(proxy, ca_files, "api.openai.com")
    cert = writer.get_extra_info("ssl_object").getpeercert()
    assert cert["subjectAltName"] == (("DNS", "api.openai.com"),)
    writer.close()


async def test_wildcard_hosts_are_intercepted_with_their_own_leaf(start_proxy, tls_upstream, other_ca_pem, ca_files):
    config = proxy_config(tls_upstream.url, other_ca_pem)
    config["upstreams"]["openai"]["hosts"] = ["*.openai.azure.com"]  # the loopback fake stands in for Azure
    proxy = await start_proxy(config, {"hosts": ["*.openai.azure.com"]})
    reader, writer = await _intercepted(proxy, ca_files, "east.openai.azure.com")
    assert writer.get_extra_info("ssl_object").getpeercert()["subjectAltName"] == (("DNS", "east.openai.azure.com"),)
    await _echo_through(reader, writer)
    writer.close()


async def test_intercepted_host_tells_tunnel_requests_from_reverse_proxy_ones(start_proxy, ca_files, tmp_path):
    seen: list[tuple[str | None, str, str]] = []

    async def handler(request: Request) -> Response:
        seen.append((intercepted_host(request), request.url.scheme, request.raw_path))
        return Response(body=b"ok")

    server = InboundServer(handler)
    settings = InterceptionSettings(hosts=["api.openai.com", "*.example.test"], ca_cert=str(ca_files.cert), ca_key=str(ca_files.key))
    listener = await start_listener(server, "127.0.0.1", 0, settings, tmp_path)
    try:
        port = listener.address[1]
        for host in ("api.openai.com", "a.example.test"):
            reader, writer, _ = await connect_tunnel(port, f"{host}:443")
            await writer.start_tls(client_ctx(ca_files.bundle), server_hostname=host)
            writer.write(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
            await _read_response(reader)
            writer.close()
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/v1/models") as resp:
            assert resp.status == 200
    finally:
        await listener.close()
        await server.shutdown(1)
    assert seen == [("api.openai.com", "https", "/v1/models"), ("a.example.test", "https", "/v1/models"), (None, "http", "/v1/models")]


async def test_reverse_proxy_requests_share_the_listener(proxy):
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(proxy.url + "/echo/plain?x=1") as resp:
                assert resp.status == 200
                assert (await resp.json())["raw_path"] == "/echo/plain?x=1"
    # One connection, kept alive: the listener saw it once and handed it over.
    assert proxy.listener.stats.connections == 1
    assert proxy.listener.stats.connects == 0


async def test_a_request_split_inside_the_method_is_still_handed_over(proxy):
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    for piece in (b"G", b"ET /echo/s", b"plit HTTP/1.1\r\nHost: x\r\n\r\n"):
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.01)
    head, body = await _read_response(reader)
    assert head.startswith(b"HTTP/1.1 200") and json.loads(body)["path"] == "/echo/split"
    writer.close()


async def test_absolute_form_request_reaches_the_handler_with_an_origin_form_target(ca_files, tmp_path):
    """What the handler gets for `POST http://host/...` (HTTP_PROXY style)."""
    seen: list[dict[str, str]] = []

    async def handler(request: Request) -> Response:
        seen.append({"path": request.path, "raw_path": request.raw_path, "origin_target": request.origin_target,
                     "url": str(request.url), "host": request.url.host})
        return Response(body=b"ok")

    server = InboundServer(handler)
    listener = await start_listener(server, "127.0.0.1", 0, None, tmp_path)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.address[1])
        writer.write(b"POST http://api.openai.com/v1/a%2Fb?x=%20 HTTP/1.1\r\nHost: other.example\r\ncontent-length: 0\r\n\r\n")
        await _read_response(reader)
        writer.close()
    finally:
        await listener.close()
        await server.shutdown(1)
    assert seen == [{
        "path": "/v1/a/b",  # decoded
        "raw_path": "http://api.openai.com/v1/a%2Fb?x=%20",  # the absolute URI as sent
        "origin_target": "/v1/a%2Fb?x=%20",  # origin-form, still encoded: what to forward
        "url": "http://api.openai.com/v1/a%2Fb?x=%20",
        "host": "api.openai.com",  # from the URI, not the Host header
    }]


async def test_connect_without_a_ca_is_refused_with_a_fix(start_proxy, tls_upstream, other_ca_pem):
    proxy = await start_proxy(proxy_config(tls_upstream.url, other_ca_pem), with_ca=False)
    reader, writer, head = await connect_tunnel(proxy.port, "api.openai.com:443")
    assert head.startswith(b"HTTP/1.1 503")
    assert b"llm-router ca init" in await reader.read()
    writer.close()


@pytest.mark.both_loops
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"CONNECT api.openai.com HTTP/1.1\r\n\r\n", b"400"),
        (b"CONNECT api.openai.com:99999 HTTP/1.1\r\n\r\n", b"400"),
        (b"CONNECT  HTTP/1.1\r\n\r\n", b"400"),
        (b"CONNECT bad_host!:443 HTTP/1.1\r\n\r\n", b"400"),
        (b"CONNECT api.openai.com:443 SPDY/3\r\n\r\n", b"400"),
        (b"CONNECT api.openai.com:443 HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
        (b"CONNECT api.openai.com:443 HTTP/1.1\r\nX-Big: " + b"a" * 20000, b"431"),
    ],
    ids=["no-port", "bad-port", "no-target", "bad-host", "bad-version", "huge-head", "endless-head"],
)
async def test_bad_connect_is_answered_and_closed_and_others_still_served(proxy, ca_files, request_bytes, status):
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(request_bytes)
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:100]
    writer.close()
    reader, writer = await _intercepted(proxy, ca_files)
    await _echo_through(reader, writer)
    writer.close()


@pytest.mark.both_loops
async def test_tls_garbage_and_vanishing_clients_affect_no_one_else(proxy, ca_files):
    # A healthy tunnel stays open across all of it.
    healthy_reader, healthy_writer = await _intercepted(proxy, ca_files)
    await _echo_through(healthy_reader, healthy_writer)

    reader, writer, _ = await connect_tunnel(proxy.port, "api.openai.com:443")
    writer.write(b"\x16\x03\x01\x00\x05garbage that is no ClientHello" * 10)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()

    _, writer, _ = await connect_tunnel(proxy.port, "api.openai.com:443")
    writer.transport.abort()  # gone before the handshake

    reader, writer, _ = await connect_tunnel(proxy.port, "api.openai.com:443")
    writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # half a ClientHello, then gone
    await writer.drain()
    writer.transport.abort()

    _, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"CONNECT api.open")  # gone mid-head
    await writer.drain()
    writer.transport.abort()

    # A client that does not trust our CA fails its own handshake.
    reader, writer, _ = await connect_tunnel(proxy.port, "api.openai.com:443")
    with pytest.raises(ssl.SSLCertVerificationError):
        await writer.start_tls(ssl.create_default_context(), server_hostname="api.openai.com")
    writer.close()

    await asyncio.sleep(0.1)
    await _echo_through(healthy_reader, healthy_writer)
    healthy_writer.close()
    reader, writer = await _intercepted(proxy, ca_files)
    await _echo_through(reader, writer)
    writer.close()
    closed = proxy.listener.stats.closed
    assert closed.get("tls_handshake_failed", 0) >= 2
    assert not proxy.listener._pending  # nothing left half-open


async def test_slow_handshake_is_timed_out(start_proxy, tls_upstream, other_ca_pem):
    proxy = await start_proxy(proxy_config(tls_upstream.url, other_ca_pem), {"handshake_timeout_s": 0.2})
    reader, writer, _ = await connect_tunnel(proxy.port, "api.openai.com:443")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # never sent a ClientHello
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"CONNECT api.openai.com:443 HTTP/1.1\r\n")  # never finishes the head
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert proxy.listener.stats.closed.get("handshake_timeout") == 2


async def test_hot_reload_applies_to_new_tunnels(proxy, ca_files):
    reader, writer = await _intercepted(proxy, ca_files)
    proxy.listener.update(
        InterceptionSettings(hosts=["api.openai.com"], tunnel_others=False, ca_cert=str(ca_files.cert), ca_key=str(ca_files.key)),
        proxy.config_dir,
    )
    _, w2, head = await connect_tunnel(proxy.port, "example.test:443")
    assert head.startswith(b"HTTP/1.1 403")
    w2.close()
    # The tunnel opened before the reload keeps working, with its leaf cache kept (same CA files).
    await _echo_through(reader, writer)
    writer.close()
    assert proxy.listener.leaves.stats.minted == 1


async def test_close_stops_accepting(proxy):
    port = proxy.port
    await proxy.listener.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_reload_with_a_new_ca_mints_from_it_and_a_broken_one_keeps_the_old(proxy, ca_files, tmp_path):
    from proxy.interception.ca import CAError, create_ca

    new_cert, new_key = create_ca(tmp_path / "new-ca")
    proxy.listener.update(InterceptionSettings(ca_cert=str(new_cert), ca_key=str(new_key)), proxy.config_dir)
    _, writer, _ = await connect_tunnel(proxy.port, "api.openai.com:443")
    with pytest.raises(ssl.SSLCertVerificationError):  # the leaf now comes from the new CA
        await writer.start_tls(client_ctx(ca_files.bundle), server_hostname="api.openai.com")
    writer.close()
    reader, writer, _ = await connect_tunnel(proxy.port, "api.openai.com:443")
    await writer.start_tls(client_ctx(new_cert), server_hostname="api.openai.com")
    await _echo_through(reader, writer)
    writer.close()

    with pytest.raises(CAError, match="llm-router ca init"):
        proxy.listener.update(InterceptionSettings(ca_cert="missing.crt", ca_key="missing.key"), proxy.config_dir)
    reader, writer, _ = await connect_tunnel(proxy.port, "api.openai.com:443")
    await writer.start_tls(client_ctx(new_cert), server_hostname="api.openai.com")
    await _echo_through(reader, writer)
    writer.close()


async def test_start_with_a_broken_ca_fails_with_a_fix(tmp_path):
    from proxy.interception.ca import CAError

    with pytest.raises(CAError, match="llm-router ca init"):
        await start_listener(InboundServer(lambda r: Response()), "127.0.0.1", 0,
                             InterceptionSettings(ca_cert="ca/ca.crt", ca_key="ca/ca.key"), tmp_path)


async def test_watched_names_the_ca_files(proxy, ca_files):
    assert proxy.listener.watched == (ca_files.cert.resolve(), ca_files.key.resolve())
    proxy.listener.update(None, proxy.config_dir)
    assert proxy.listener.watched == ()


async def test_oversized_request_inside_a_tunnel_closes_only_that_tunnel(proxy, ca_files):
    other_reader, other_writer = await _intercepted(proxy, ca_files)
    reader, writer = await _intercepted(proxy, ca_files)
    # Past the 64 KiB a header may take: the proxy answers 431 and closes that connection.
    writer.write(b"GET /echo/x HTTP/1.1\r\nHost: api.openai.com\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"request_header_too_large" in answer
    writer.close()
    await _echo_through(other_reader, other_writer)
    other_writer.close()
    assert [r.path for r in proxy.upstream.requests] == ["/echo/x"]  # only the healthy tunnel's request

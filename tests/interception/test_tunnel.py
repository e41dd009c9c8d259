"""Blind tunnels: CONNECT to a host that is not intercepted reaches it untouched,
with the client verifying the destination's own certificate, not ours."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from tests.interception.conftest import connect_tunnel, proxy_config


@pytest.fixture
async def proxy(start_proxy, tls_upstream, other_ca_pem):
    return await start_proxy(proxy_config(tls_upstream.url, other_ca_pem))


def _trusting(cafile) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


@pytest.mark.both_loops
async def test_blind_tunnel_reaches_the_real_server_and_its_certificate(proxy, tls_echo, other_ca_pem, ca_files):
    reader, writer, head = await connect_tunnel(proxy.port, f"127.0.0.1:{tls_echo.port}")
    assert head == b"HTTP/1.1 200 Connection Established\r\n\r\n"
    # Verified against the echo server's CA only: our CA could not have signed what we get.
    await writer.start_tls(_trusting(other_ca_pem), server_hostname="echo.test")
    peer = writer.get_extra_info("ssl_object").getpeercert()
    assert ("DNS", "echo.test") in peer["subjectAltName"]
    for i in range(3):
        writer.write(b"line %d\n" % i)
        assert await asyncio.wait_for(reader.readline(), 5) == b"echo: line %d\n" % i
    assert proxy.listener.stats.tunnels == 1 and proxy.listener.stats.tunnels_open == 1
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.05)
    assert proxy.listener.stats.tunnels_open == 0
    assert tls_echo.peers == ["echo.test"]


async def test_our_ca_is_not_what_a_blind_tunnel_serves(proxy, tls_echo, ca_files):
    _, writer, _ = await connect_tunnel(proxy.port, f"127.0.0.1:{tls_echo.port}")
    with pytest.raises(ssl.SSLCertVerificationError):
        await writer.start_tls(_trusting(ca_files.cert), server_hostname="echo.test")
    writer.close()


async def test_large_transfer_both_ways_with_flow_control(proxy, tls_echo, other_ca_pem):
    reader, writer, _ = await connect_tunnel(proxy.port, f"127.0.0.1:{tls_echo.port}")
    await writer.start_tls(_trusting(other_ca_pem), server_hostname="echo.test")
    line = b"x" * 16383 + b"\n"
    count = 512  # 8 MiB each way

    async def send() -> None:
        for _ in range(count):
            writer.write(line)
            await writer.drain()

    sender = asyncio.create_task(send())
    received = 0
    while received < count:
        assert await asyncio.wait_for(reader.readline(), 10) == b"echo: " + line
        received += 1
    await sender
    writer.close()


async def test_blind_tunnels_refused_when_tunnel_others_is_false(start_proxy, tls_upstream, other_ca_pem, tls_echo, ca_files):
    proxy = await start_proxy(proxy_config(tls_upstream.url, other_ca_pem), {"tunnel_others": False})
    reader, writer, head = await connect_tunnel(proxy.port, f"127.0.0.1:{tls_echo.port}")
    assert head.startswith(b"HTTP/1.1 403")
    assert b"tunnel_others" in await reader.read()
    writer.close()
    # Intercepted hosts still work.
    _, writer, head = await connect_tunnel(proxy.port, "api.openai.com:443")
    assert head.startswith(b"HTTP/1.1 200")
    writer.close()
    assert tls_echo.peers == []


async def test_tunnel_allow_and_ports(start_proxy, tls_upstream, other_ca_pem, tls_echo):
    proxy = await start_proxy(proxy_config(tls_upstream.url, other_ca_pem), {"tunnel_allow": ["127.0.0.1", "*.example.test"], "tunnel_ports": [tls_echo.port]})
    _, writer, head = await connect_tunnel(proxy.port, "elsewhere.test:443")
    assert head.startswith(b"HTTP/1.1 403")
    writer.close()
    _, writer, head = await connect_tunnel(proxy.port, "127.0.0.1:1")
    assert head.startswith(b"HTTP/1.1 403")
    writer.close()
    _, writer, head = await connect_tunnel(proxy.port, f"127.0.0.1:{tls_echo.port}")
    assert head.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_unreachable_destination_is_a_502(proxy):
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    writer.write(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 502")
    writer.close()
    assert proxy.listener.stats.closed == {"tunnel_connect_failed": 1}


async def test_idle_tunnel_is_closed(start_proxy, tls_upstream, other_ca_pem, tls_echo):
    proxy = await start_proxy(proxy_config(tls_upstream.url, other_ca_pem), {"tunnel_idle_s": 0.2})
    reader, writer, _ = await connect_tunnel(proxy.port, f"127.0.0.1:{tls_echo.port}")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert proxy.listener.stats.tunnels_open == 0


async def test_listener_close_ends_blind_tunnels(proxy, tls_echo):
    reader, writer, _ = await connect_tunnel(proxy.port, f"127.0.0.1:{tls_echo.port}")
    await proxy.listener.close()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert proxy.listener.stats.tunnels_open == 0

"""The sidecar behind the interception listener, a TLS fake upstream standing in
for api.openai.com, and TLS echo servers standing in for other hosts; all on loopback.

Tests here run on uvloop, the loop the sidecar runs on; those marked
`both_loops` also run on asyncio's own loop.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
import uvloop
import yaml
from aiohttp import web

from proxy.config import load
from proxy.interception.bundle import write_bundle
from proxy.interception.ca import create_ca
from proxy.http.inbound import InboundServer
from proxy.interception.listener import Listener, start_listener
from proxy.interception.settings import InterceptionSettings
from proxy.server import Sidecar
from tests.fakes.openai_upstream import FakeUpstream


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_loops: also run on asyncio's default event loop")


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    if item.get_closest_marker("both_loops"):
        return {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}
    return {"uvloop": uvloop.new_event_loop}


@dataclass(frozen=True)
class CAFiles:
    dir: Path
    cert: Path
    key: Path
    bundle: Path


@pytest.fixture(scope="session")
def ca_files(tmp_path_factory: pytest.TempPathFactory) -> CAFiles:
    d = tmp_path_factory.mktemp("ca")
    cert, key = create_ca(d)
    bundle = d / "ca-bundle.pem"
    write_bundle(bundle, cert)
    return CAFiles(d, cert, key, bundle)


@pytest.fixture(scope="session")
def other_ca() -> trustme.CA:
    """The CA of the servers that stand in for the world: the real api.openai.com and non-intercepted hosts."""
    return trustme.CA()


@pytest.fixture(scope="session")
def other_ca_pem(other_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("other-ca") / "other-ca.pem"
    other_ca.cert_pem.write_to_path(str(path))
    return path


def _server_ctx(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(ctx)
    return ctx


@pytest.fixture
async def tls_upstream(aiohttp_server, other_ca: trustme.CA) -> FakeUpstream:
    fake = FakeUpstream()
    server = await aiohttp_server(fake.app(), auto_decompress=False, ssl=_server_ctx(other_ca, "127.0.0.1"))
    fake.url = f"https://127.0.0.1:{server.port}"  # type: ignore[attr-defined]
    return fake


@dataclass
class EchoServer:
    port: int
    peers: list[str]


@pytest.fixture
async def tls_echo(other_ca: trustme.CA) -> AsyncIterator[EchoServer]:
    """A TLS server for `echo.test` / 127.0.0.1 that answers each line with `echo: <line>`; `peers` holds each client's SNI."""
    peers: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(b"echo: " + line)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass  # the client hung up; nothing to answer
        finally:
            writer.close()

    ctx = _server_ctx(other_ca, "echo.test", "127.0.0.1")
    # Records the SNI each client sent: it must arrive untouched through a blind tunnel.
    ctx.sni_callback = lambda _obj, name, _ctx: peers.append(name or "")  # type: ignore[assignment]
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    yield EchoServer(server.sockets[0].getsockname()[1], peers)
    server.close()


@dataclass
class Proxy:
    sidecar: Sidecar
    listener: Listener
    web_server: InboundServer
    config_dir: Path

    @property
    def port(self) -> int:
        return self.listener.address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


StartProxy = Callable[..., Awaitable[Proxy]]


def proxy_config(upstream_url: str, upstream_ca: Path) -> dict[str, object]:
    return {
        "listen": "127.0.0.1:0",
        "admin": "127.0.0.1:0",
        "upstreams": {"openai": {"base_url": upstream_url, "ca_file": str(upstream_ca)}},
        "logging": {"level": "warning", "access_log": False},
    }


@pytest.fixture
async def start_proxy(tmp_path: Path, ca_files: CAFiles) -> AsyncIterator[StartProxy]:
    """Start the sidecar's handler behind `start_listener`, the way `serve()` wires them."""
    started: list[Proxy] = []

    async def start(config: dict[str, object], interception: dict[str, object] | None = None, *, with_ca: bool = True) -> Proxy:
        path = tmp_path / "proxy.yaml"
        path.write_text(yaml.safe_dump(config))
        loaded = load(path)
        sidecar = Sidecar(loaded)
        sidecar.apply(loaded)
        web_server = InboundServer(sidecar.handle)
        fields = dict(interception or {})
        if with_ca:
            fields.setdefault("ca_cert", str(ca_files.cert))
            fields.setdefault("ca_key", str(ca_files.key))
        settings = InterceptionSettings.model_validate(fields)
        listener = await start_listener(web_server, "127.0.0.1", 0, settings, tmp_path)
        proxy = Proxy(sidecar, listener, web_server, tmp_path)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        await proxy.listener.close()
        await proxy.web_server.shutdown(2)
        await proxy.sidecar.pool.close()


def client_ctx(cafile: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def connect_tunnel(port: int, target: str, *, extra: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Open a connection to the proxy, send CONNECT, and return the reader, writer and the response head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n".encode() + extra + b"\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head

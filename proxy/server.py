"""The sidecar process: the proxy listener, the admin listener, config hot
reload and graceful shutdown.

`Sidecar` holds the active `Runtime` (compiled config + upstream clients) as
one reference that a reload swaps; each request reads it once when it starts,
so a reload never changes a request in flight.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from proxy import logs
from proxy.config import ConfigError, Loaded
from proxy.config.address import parse_hostport
from proxy.config.watcher import ConfigWatcher
from proxy.http.errors import BadRequest, ProxyError
from proxy.http.relay import RelayResult, relay
from proxy.http.upstream import UpstreamClient, UpstreamPool
from proxy.routing.table import RouteTable

log = structlog.get_logger("llm_router")
access = structlog.get_logger("llm_router.access")

ROUTE_HEADER = "x-llm-router-route"


@dataclass(frozen=True, slots=True)
class Runtime:
    loaded: Loaded
    generation: int
    routes: RouteTable
    upstreams: Mapping[str, UpstreamClient]
    max_body: int
    access_log: bool


@dataclass
class Counters:
    requests: dict[tuple[str, int], int] = field(default_factory=dict)
    client_disconnects: int = 0

    def count(self, route: str, status: int) -> None:
        key = (route, status)
        self.requests[key] = self.requests.get(key, 0) + 1


class Sidecar:
    def __init__(self, loaded: Loaded):
        self.pool = UpstreamPool()
        self.counters = Counters()
        self.inflight = 0
        self.ready = False
        self.draining = False
        self.started_at = time.monotonic()
        self._generation = 0
        # Request ids: a random per-process prefix and a counter; unique without a syscall per request.
        self._id_prefix = os.urandom(4).hex()
        self._id_counter = itertools.count(1)
        self._initial = loaded
        self.runtime: Runtime | None = None
        self.watcher: ConfigWatcher | None = None
        self.listen_address: tuple[str, int] | None = None
        self.admin_address: tuple[str, int] | None = None

    def _request_id(self) -> str:
        return f"{self._id_prefix}{next(self._id_counter):08x}"

    def apply(self, loaded: Loaded) -> Runtime:
        """Compile `loaded` and make it the runtime for new requests (must run on the event loop)."""
        config = loaded.config
        self._generation += 1
        self.runtime = Runtime(
            loaded=loaded,
            generation=self._generation,
            routes=RouteTable.build(list(config.routes)),
            upstreams=self.pool.sync(dict(config.upstreams), loaded.config_path),
            max_body=int(config.limits.max_body_mb * 1024 * 1024),
            access_log=config.logging.access_log,
        )
        return self.runtime

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        runtime = self.runtime
        assert runtime is not None
        self.inflight += 1
        result = RelayResult()
        route_name = "-"
        upstream_name = "-"
        bytes_in = 0
        try:
            if request.method == "CONNECT":
                raise BadRequest(
                    "CONNECT is not accepted on this listener; point the app at it with OPENAI_BASE_URL instead",
                    status=405,
                    code="connect_not_supported",
                )
            body = await _read_body(request, runtime.max_body)
            bytes_in = len(body) if body else 0
            headers = request.headers
            model = _sniff_model(body) if runtime.routes.needs_model else None
            route = runtime.routes.select(request.path, headers, model, headers.get(ROUTE_HEADER))
            route_name = route.name
            upstream = runtime.upstreams[route.upstream]
            upstream_name = upstream.name
            response = await relay(request, body, upstream, result)
        except ProxyError as exc:
            result.status = exc.status
            result.error = exc.code
            response = exc.response()
        except (ConnectionResetError, asyncio.CancelledError):
            # The app went away; the upstream call was closed on the way out.
            self.counters.client_disconnects += 1
            result.error = result.error or "client_disconnected"
            result.status = 499
            raise
        finally:
            self.inflight -= 1
            self.counters.count(route_name, result.status)
            if runtime.access_log:
                access.info(
                    "request",
                    request_id=self._request_id(),
                    method=request.method,
                    path=request.path,
                    route=route_name,
                    upstream=upstream_name,
                    status=result.status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    upstream_ms=round(result.upstream_headers_ms, 3),
                    bytes_in=bytes_in,
                    bytes_out=result.bytes_out,
                    streamed=result.streamed,
                    upstream_request_id=result.upstream_request_id,
                    error=result.error,
                )
        return response


async def _read_body(request: web.BaseRequest, limit: int) -> bytes | None:
    if not request.body_exists:
        return None
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(length, limit)
    if length is not None:
        return await request.content.read()
    # Chunked upload: read with a running total so an endless body cannot exhaust memory.
    parts = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(size: int, limit: int) -> BadRequest:
    return BadRequest(
        f"request body of {size} bytes is larger than the limit of {limit} bytes; raise limits.max_body_mb in proxy.yaml",
        status=413,
        code="request_too_large",
    )


def _sniff_model(body: bytes | None) -> str | None:
    if not body or body[:1] != b"{":
        return None
    import orjson

    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    model = parsed.get("model") if isinstance(parsed, dict) else None
    return model if isinstance(model, str) else None


async def serve(
    loaded: Loaded,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Sidecar], object] | None = None,
    handle_signals: bool = True,
) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set), then drain and return the exit code."""
    from proxy.admin import build_admin_app

    sidecar = Sidecar(loaded)
    sidecar.apply(loaded)
    config = loaded.config
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

    server = web.Server(
        sidecar.handle,
        handler_cancellation=True,
        access_log=None,
        auto_decompress=False,
        max_field_size=65536,
        max_line_size=65536,
    )
    drain = config.shutdown.drain_s
    runner = web.ServerRunner(server, shutdown_timeout=drain)
    admin_runner = web.AppRunner(build_admin_app(sidecar), access_log=None, shutdown_timeout=1)
    await runner.setup()
    await admin_runner.setup()
    host, port = parse_hostport(config.listen)
    admin_host, admin_port = parse_hostport(config.admin)
    watcher = sidecar.watcher = ConfigWatcher(loaded, sidecar)
    try:
        await web.TCPSite(runner, host, port, backlog=1024, reuse_address=True).start()
        await web.TCPSite(admin_runner, admin_host, admin_port, reuse_address=True).start()
        watcher.start()
        sidecar.listen_address = runner.addresses[0][:2]
        sidecar.admin_address = admin_runner.addresses[0][:2]
        sidecar.ready = True
        log.info("llm-router ready", listen="%s:%d" % sidecar.listen_address, admin="%s:%d" % sidecar.admin_address,
                 config=str(loaded.config_path),
                 startup_ms=round((time.monotonic() - sidecar.started_at) * 1000, 1))
        if on_ready is not None:
            on_ready(sidecar)
        await stop.wait()
        sidecar.draining = True
        log.info("shutting down: draining in-flight requests", inflight=sidecar.inflight, drain_s=drain)
    finally:
        await watcher.stop()
        await runner.cleanup()
        await admin_runner.cleanup()
        await sidecar.pool.close()
        log.info("llm-router stopped")
        logs.flush()
    return 0


__all__ = ["ConfigError", "Runtime", "Sidecar", "serve"]

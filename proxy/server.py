"""The sidecar process: the proxy listener, the admin listener, config hot
reload and graceful shutdown.

`Sidecar` holds the active `Runtime` (compiled config + upstream clients) as
one reference that a reload swaps; each request reads it once when it starts,
so a reload never changes a request in flight.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import signal
import time
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass, field

import structlog

from proxy.http.inbound import InboundServer, Request

from proxy import logs
from proxy.config import ConfigError, Loaded
from proxy.config.address import parse_hostport
from proxy.config.watcher import ConfigWatcher
from proxy.http.upstream import UpstreamClient, UpstreamPool
from proxy.dispatch.dispatcher import Dispatcher
from proxy.interception.listener import intercepted_host, start_listener
from proxy.observe import Observer
from proxy.pipeline import Pipeline
from proxy.record import RequestRecord
from proxy.routing.shadow import ShadowRunner
from proxy.routing.table import RouteTable

log = structlog.get_logger("llm_router")


@dataclass(frozen=True, slots=True)
class Runtime:
    loaded: Loaded
    generation: int
    routes: RouteTable
    upstreams: Mapping[str, UpstreamClient]
    max_body: int
    access_log: bool

    @property
    def router(self) -> Any:  # proxy.routing.router.Router | None
        return self.loaded.router


@dataclass
class Counters:
    requests: dict[tuple[str, int], int] = field(default_factory=dict)
    client_disconnects: int = 0
    fail_open: int = 0

    def count(self, route: str, status: int) -> None:
        key = (route, status)
        self.requests[key] = self.requests.get(key, 0) + 1


class Sidecar:
    def __init__(self, loaded: Loaded, *, span_exporter: Any = None):
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
        self.runtime: Runtime | None = None
        self.watcher: ConfigWatcher | None = None
        self.listen_address: tuple[str, int] | None = None
        self.admin_address: tuple[str, int] | None = None
        self.telemetry: Any = None
        self._span_exporter = span_exporter
        self._retired_telemetry: list[Any] = []
        self.capture_content = False
        self.shadow = ShadowRunner(loaded.config.shadow, loaded.prices)
        self.dispatcher = Dispatcher(on_breaker_change=self._breaker_changed)
        self.listener: Any = None
        self.pipeline = Pipeline(self)
        self.handle = self.pipeline.handle

    def _breaker_changed(self, upstream: str, model: str, state: str) -> None:
        log.warning("circuit breaker changed state", upstream=upstream, model=model, state=state)
        if self.telemetry is not None:
            self.telemetry.set_breaker_state(upstream, model, state)

    def next_request_id(self) -> str:
        return f"{self._id_prefix}{next(self._id_counter):08x}"

    def apply(self, loaded: Loaded) -> Runtime:
        """Compile `loaded` and make it the runtime for new requests (must run on the event loop)."""
        config = loaded.config
        self._generation += 1
        self.runtime = Runtime(
            loaded=loaded,
            generation=self._generation,
            routes=RouteTable.build(list(config.routes), config.default_route),
            upstreams=self.pool.sync(dict(config.upstreams), loaded.config_path),
            max_body=int(config.limits.max_body_mb * 1024 * 1024),
            access_log=config.logging.access_log,
        )
        self.shadow.prices = loaded.prices
        self.shadow.reconfigure(config.shadow)
        self.dispatcher.configure(config)
        self._apply_telemetry(loaded)
        if self.listener is not None:
            try:
                self.listener.update(config.interception, loaded.config_path.parent)
            except Exception as exc:  # a broken new CA keeps the running one; the rest of the reload applies
                log.error("interception CA change rejected; the previous CA stays active", error=str(exc))
        return self.runtime

    def upstream_for(self, request: Request, runtime: Runtime, route: Any) -> UpstreamClient:
        """The route's upstream, unless the app addressed another host (HTTPS_PROXY tunnel or absolute-form)."""
        host = intercepted_host(request)
        scheme = "https"
        if host is None and request.raw_path[:1] != "/":
            host, scheme = request.url.host, request.url.scheme
        if host is None:
            return runtime.upstreams[route.upstream]
        for client in runtime.upstreams.values():
            if client.serves_host(host):
                return client
        if host == "api.openai.com":
            return runtime.upstreams[route.upstream]
        port = request.url.port if scheme == "http" else None
        return self.pool.dynamic(f"{scheme}://{host}" + (f":{port}" if port and port != 80 else ""))

    def shadow_client(self, flow: Any, model: str) -> Any:
        """Where a shadow call to `model` goes: a pooled raw client, or a translated provider's settings."""
        name = self.dispatcher.target(model, flow.upstream.name)
        client = flow.runtime.upstreams.get(name)
        if client is not None:
            return client
        settings = flow.runtime.loaded.config.upstreams.get(name)
        return settings if settings is not None and settings.provider != "openai" else flow.upstream

    def _apply_telemetry(self, loaded: Loaded) -> None:
        from proxy.telemetry import Telemetry

        settings = loaded.config.telemetry
        current = self.telemetry
        if current is not None and current.settings == settings:
            current.prices = loaded.prices
            return
        self.telemetry = Telemetry.create(settings, loaded.prices, span_exporter=self._span_exporter)
        self.capture_content = settings.capture_content
        self.shadow.telemetry = self.telemetry
        self.shadow.capture_content = settings.capture_content
        if current is not None:
            self._retired_telemetry.append(current)

    def finish(self, record: RequestRecord, span: Any, runtime: Runtime) -> None:
        """Account for a finished request: counters, span, access log line."""
        self.counters.count(record.route, record.status)
        self.telemetry.finish(record, span)
        if runtime.access_log:
            logs.access(dict(
                request_id=record.request_id,
                trace_id=span.trace_id,
                method=record.method,
                path=record.path,
                route=record.route,
                mode=record.mode,
                arm=record.arm,
                upstream=record.upstream,
                status=record.status,
                duration_ms=round(record.duration_ms, 3),
                upstream_ms=round(record.upstream_ms, 3),
                first_chunk_ms=round(record.first_chunk_ms, 3) if record.first_chunk_ms is not None else None,
                classify_ms=round(record.classify_ms, 3) if record.classify_ms is not None else None,
                bytes_in=record.bytes_in,
                bytes_out=record.bytes_out,
                streamed=record.streamed,
                requested_model=record.requested_model,
                model_used=record.model_used or record.response_model,
                classified_intent=record.tier or ("unknown" if record.fail_open else None),
                score=record.score,
                estimated_cost=record.cost_usd,
                savings=record.savings_usd,
                escalated=record.escalated or None,
                fail_open=record.fail_open or None,
                upstream_request_id=record.upstream_request_id,
                error=record.error,
            ))

    def observer(self, record: RequestRecord, payload: dict[str, Any] | None, hide_usage: bool) -> Observer:
        keep_text = self.capture_content or record.extra.get("shadow") == "started"
        return Observer(record, payload, hide_usage, keep_text)


async def serve(
    loaded: Loaded,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Sidecar], object] | None = None,
    handle_signals: bool = True,
    span_exporter: Any = None,
) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set), then drain and return the exit code.

    `span_exporter`: an OpenTelemetry SDK `SpanExporter` that also receives every span
    (the demo keeps them in memory; tests assert on them)."""
    from proxy.admin import admin_handler

    sidecar = Sidecar(loaded, span_exporter=span_exporter)
    sidecar.apply(loaded)
    config = loaded.config
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

    server = InboundServer(sidecar.pipeline.handle)
    drain = config.shutdown.drain_s
    admin_server = InboundServer(admin_handler(sidecar))
    admin_listener: asyncio.Server | None = None
    host, port = parse_hostport(config.listen)
    admin_host, admin_port = parse_hostport(config.admin)
    watcher = sidecar.watcher = ConfigWatcher(loaded, sidecar)
    try:
        sidecar.listener = await start_listener(server, host, port, config.interception, loaded.config_path.parent)
        admin_listener = await loop.create_server(admin_server, admin_host, admin_port, reuse_address=True)
        _write_trust_bundle(loaded)
        watcher.start()
        sidecar.listen_address = sidecar.listener.address
        sidecar.admin_address = admin_listener.sockets[0].getsockname()[:2]
        if handle_signals:  # the process is the sidecar (in-process callers keep their own GC settings)
            _settle_garbage_collector()
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
        if sidecar.listener is not None:
            await sidecar.listener.close()
        await server.shutdown(timeout=drain)
        if admin_listener is not None:  # probes see "draining" until the drain is over
            admin_listener.close()
        await admin_server.shutdown(timeout=1)
        await sidecar.shadow.close(wait_s=min(drain, 5.0))
        await sidecar.pool.close()
        for telemetry in [sidecar.telemetry, *sidecar._retired_telemetry]:
            await telemetry.shutdown()
        log.info("llm-router stopped")
        logs.flush()
    return 0


TRUST_BUNDLE_ENV = "LLM_ROUTER_TRUST_BUNDLE"


def _settle_garbage_collector() -> None:
    """Move what start-up built (modules, schemas, models: ~70,000 objects) out of the collector's
    sight, and collect less often: a request makes few reference cycles, and full collections
    over the start-up objects paused the loop for 20-55 ms under load."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _write_trust_bundle(loaded: Loaded) -> None:
    """In a pod, the webhook asks the sidecar to write the app's trust bundle (system CAs + ours) here."""
    target = os.environ.get(TRUST_BUNDLE_ENV)
    if not target:
        return
    from proxy.interception.bundle import BundleError, write_bundle

    interception = loaded.config.interception
    files = interception.resolve(loaded.config_path.parent) if interception is not None else None
    if files is None:
        log.warning("no interception CA configured; the trust bundle was not written", path=target)
        return
    try:
        write_bundle(Path(target), files[0])
    except BundleError as exc:
        log.error("could not write the trust bundle", path=target, error=str(exc))
        return
    log.info("trust bundle written", path=target)


__all__ = ["ConfigError", "Runtime", "Sidecar", "serve"]

"""The one proxy listener: reverse-proxy, absolute-form and CONNECT on one port.

Each accepted connection starts with `_Front`, which looks at the first
bytes once. Anything but `CONNECT ` is handed, transport and bytes, to a
fresh HTTP protocol from the server's factory, and the front is gone:
plain traffic pays one prefix check per connection and nothing per request.
A `CONNECT` is read up to its blank line and decided by `connect.decide`:

- intercept: answer 200, TLS with the host's minted leaf (`loop.start_tls`),
  then hand the TLS transport to a fresh HTTP protocol, so the requests
  in the tunnel run through exactly the handler reverse-proxy requests do;
- tunnel: connect to the destination, answer 200, join the two (`tunnel.py`);
- refuse: an HTTP error and close.

Every failure before the handoff (garbage, oversized head, bad TLS, a
client that vanishes) closes that one connection with a logged reason.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import structlog

from proxy.interception.connect import (
    CONNECT_PREFIX,
    ESTABLISHED,
    HEAD_END,
    Action,
    BadConnect,
    Target,
    decide,
    parse_head,
    status_response,
)
from proxy.interception.leaves import HostContext, LeafCache
from proxy.interception.runtime import Runtime, compile_runtime
from proxy.interception.settings import InterceptionSettings
from proxy.interception.tunnel import Tunnel

# What serves a handed-over connection: `InboundServer` (or any asyncio protocol factory, aiohttp's `web.Server` too).
ProtocolFactory = Callable[[], asyncio.Protocol]

log = structlog.get_logger("llm_router.interception")


@dataclass
class ListenerStats:
    """Counters for /metrics; `closed` counts connections ended before the handoff, by reason."""

    connections: int = 0
    connects: int = 0
    intercepted: int = 0
    tunnels: int = 0
    tunnels_open: int = 0
    closed: dict[str, int] = field(default_factory=dict)

    def close_reason(self, reason: str) -> None:
        self.closed[reason] = self.closed.get(reason, 0) + 1


class Listener:
    def __init__(self, web_server: ProtocolFactory, state: Runtime, loop: asyncio.AbstractEventLoop):
        self.web_server = web_server
        self.state = state
        self.stats = ListenerStats()
        self.loop = loop
        self._server: asyncio.AbstractServer | None = None
        self._pending: set[_Front] = set()
        self._tunnels: set[Tunnel] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None and self._server.sockets
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    @property
    def leaves(self) -> LeafCache | None:
        return self.state.leaves

    @property
    def watched(self) -> tuple[Path, ...]:
        """The CA files in use: a config watcher that also watches these can call `update` when a Secret rotates."""
        return self.state.ca_files or ()

    def update(self, settings: InterceptionSettings | None, config_dir: Path) -> None:
        """Use new settings for new connections; raises `CAError` (keeping the old ones) if the CA cannot be loaded."""
        self.state = compile_runtime(settings, config_dir, self.state)

    async def close(self) -> None:
        """Stop accepting; end connections not yet handed over and the blind tunnels.

        Connections already handed over (reverse-proxy and intercepted ones)
        belong to the HTTP server and are drained by its shutdown.
        """
        if self._server is not None:
            self._server.close()
        for front in list(self._pending):
            front.abort("shutdown")
        for tunnel in list(self._tunnels):
            tunnel.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: object) -> None:
        task = self.loop.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _tunnel_closed(self, tunnel: Tunnel) -> None:
        self._tunnels.discard(tunnel)
        self.stats.tunnels_open -= 1


_INITIAL, _HEAD, _WORKING, _TLS, _DONE = range(5)


class _Front(asyncio.Protocol):
    __slots__ = ("buffer", "listener", "peer", "phase", "target", "timer", "transport")

    def __init__(self, listener: Listener):
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.phase = _INITIAL
        self.timer: asyncio.TimerHandle | None = None
        self.peer: object = None
        self.target: Target | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only compatible with it.
        self.transport = cast(asyncio.Transport, transport)
        listener = self.listener
        listener.stats.connections += 1
        listener._pending.add(self)
        self.timer = listener.loop.call_later(listener.state.settings.handshake_timeout_s, self._timed_out)

    def data_received(self, data: bytes) -> None:
        phase = self.phase
        if phase == _INITIAL:
            if self.buffer:
                data = self.buffer + data
                self.buffer = b""
            if data[:8] != CONNECT_PREFIX:
                if len(data) < 8 and CONNECT_PREFIX.startswith(data):
                    self.buffer = data  # "CONN" so far: wait for the rest of the method
                    return
                assert self.transport is not None
                self._handoff(self.transport, data)
                return
            self.phase = _HEAD
            self.listener.stats.connects += 1
            self.peer = self.transport.get_extra_info("peername") if self.transport else None
        elif phase in (_WORKING, _TLS):
            # Bytes inside the TLS session before the handoff, or sent before our 200: kept for whoever takes over.
            self.buffer += data
            return
        elif phase != _HEAD:
            return
        self.buffer += data
        end = self.buffer.find(HEAD_END)
        settings = self.listener.state.settings
        if end < 0:
            if len(self.buffer) > settings.max_header_bytes:
                self._refuse(431, f"CONNECT head larger than interception.max_header_bytes ({settings.max_header_bytes})",
                             "head_too_large")
            return
        if end > settings.max_header_bytes:
            self._refuse(431, f"CONNECT head larger than interception.max_header_bytes ({settings.max_header_bytes})",
                         "head_too_large")
            return
        head, rest = self.buffer[:end], self.buffer[end + len(HEAD_END):]
        self.buffer = rest
        try:
            target = parse_head(head)
        except BadConnect as exc:
            self._refuse(400, str(exc), "bad_connect", line=head.partition(b"\r\n")[0][:120].decode("ascii", "replace"))
            return
        self.target = target
        state = self.listener.state
        decision = decide(target, state.settings, have_ca=state.leaves is not None)
        if decision.action is Action.REFUSE:
            self._refuse(decision.status, decision.reason, f"refused_{decision.status}")
        elif decision.action is Action.INTERCEPT:
            assert state.leaves is not None
            self._intercept(target, state.leaves)
        else:
            self._open_tunnel(target, state.settings)

    def eof_received(self) -> bool | None:
        if self.phase in (_INITIAL, _HEAD):
            self.abort("client_eof")
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.phase != _DONE:
            self._finish("client_disconnected")

    # -- outcomes ------------------------------------------------------------------------

    def _finish(self, reason: str | None) -> None:
        self.phase = _DONE
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.listener._pending.discard(self)
        if reason is not None:
            self.listener.stats.close_reason(reason)

    def _handoff(self, transport: asyncio.Transport, data: bytes) -> None:
        self._finish(None)
        handler = self.listener.web_server()
        handler.connection_made(transport)
        transport.set_protocol(handler)
        if data:
            handler.data_received(data)

    def abort(self, reason: str, **fields: object) -> None:
        transport = self.transport
        self._finish(reason)
        log.info("proxy connection closed", reason=reason, peer=_peer(self.peer), target=_str(self.target), **fields)
        if transport is not None:
            transport.abort()

    def _refuse(self, status: int, reason: str, code: str, **fields: object) -> None:
        transport = self.transport
        self._finish(code)
        log.warning("CONNECT refused", status=status, reason=reason, peer=_peer(self.peer), target=_str(self.target), **fields)
        if transport is not None and not transport.is_closing():
            transport.write(status_response(status, reason))
            transport.close()

    def _timed_out(self) -> None:
        self.timer = None
        if self.phase == _INITIAL and not self.buffer:
            # An idle connection that never sent a byte: no reason worth a log line.
            self._finish("idle")
            if self.transport is not None:
                self.transport.abort()
            return
        self.abort("handshake_timeout")

    def _intercept(self, target: Target, leaves: LeafCache) -> None:
        if self.buffer:
            self.abort("data_before_established")  # a TLS client waits for our 200; anything else is not one
            return
        try:
            ctx = leaves.context_for(target.host)
        except (ValueError, ssl.SSLError) as exc:
            self._refuse(502, f"cannot mint a certificate for {target.host}: {exc}", "mint_failed")
            return
        assert self.transport is not None
        self.listener.stats.intercepted += 1
        self.phase = _TLS
        # Hold the ClientHello in the kernel until start_tls has put the TLS protocol in place;
        # read before that, it would reach us instead and the handshake would stall.
        self.transport.pause_reading()
        self.transport.write(ESTABLISHED)
        self.listener._spawn(self._start_tls(ctx))

    async def _start_tls(self, ctx: HostContext) -> None:
        transport = self.transport
        assert transport is not None
        timeout = self.listener.state.settings.handshake_timeout_s
        try:
            # We stay the app protocol during the handshake: bytes that arrive right after it are buffered.
            tls = await self.listener.loop.start_tls(
                transport, self, ctx, server_side=True, ssl_handshake_timeout=timeout
            )
        except asyncio.CancelledError:
            self.abort("shutdown")
            raise
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
            if self.phase != _DONE:
                self.abort("tls_handshake_failed", error=_describe(exc))
            return
        if self.phase == _DONE or tls is None:
            if tls is not None:
                tls.abort()
            return
        pending, self.buffer = self.buffer, b""
        self._handoff(tls, pending)

    def _open_tunnel(self, target: Target, settings: InterceptionSettings) -> None:
        assert self.transport is not None
        self.phase = _WORKING
        self.transport.pause_reading()
        self.listener._spawn(self._connect(target, settings))

    async def _connect(self, target: Target, settings: InterceptionSettings) -> None:
        listener = self.listener
        tunnel = Tunnel(listener.loop, settings.tunnel_idle_s, listener._tunnel_closed)
        try:
            async with asyncio.timeout(settings.tunnel_connect_timeout_s):
                await listener.loop.create_connection(tunnel.server_protocol, target.host, target.port)
        except asyncio.CancelledError:
            self.abort("shutdown")
            raise
        except (OSError, TimeoutError) as exc:
            if self.phase != _DONE:
                self._refuse(502 if not isinstance(exc, TimeoutError) else 504,
                             f"cannot connect to {target}: {_describe(exc)}", "tunnel_connect_failed")
            return
        if self.phase == _DONE:  # the client left while we were connecting; the tunnel was never counted
            if tunnel.server.transport is not None:
                tunnel.server.transport.close()
            return
        transport = self.transport
        assert transport is not None
        pending, self.buffer = self.buffer, b""
        self._finish(None)
        listener.stats.tunnels += 1
        listener.stats.tunnels_open += 1
        listener._tunnels.add(tunnel)
        transport.write(ESTABLISHED)
        tunnel.attach_client(transport, pending)


def _describe(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:200]


def _peer(peer: object) -> str | None:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return None


def _str(target: Target | None) -> str | None:
    return str(target) if target is not None else None


def intercepted_host(request: Any) -> str | None:
    """The host the app believed it was talking to, for a request inside an intercepted tunnel; else None."""
    ctx = request.protocol.ssl_context
    return ctx.host if isinstance(ctx, HostContext) else None


async def start_listener(
    web_server: ProtocolFactory,
    host: str,
    port: int,
    settings: InterceptionSettings | None,
    config_dir: Path,
    *,
    backlog: int = 1024,
) -> Listener:
    """Bind `host:port` (port 0: any free port) and serve it; raises `CAError` if the configured CA is unusable."""
    loop = asyncio.get_running_loop()
    listener = Listener(web_server, compile_runtime(settings, config_dir), loop)
    listener._server = await loop.create_server(
        lambda: _Front(listener), host, port, backlog=backlog, reuse_address=True
    )
    return listener

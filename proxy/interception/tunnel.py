"""Blind byte tunnels: two transports joined by two small protocols.

No tasks and no copies beyond the transports' own buffers: each side writes
what it reads into the other, and when one side's write buffer fills
(`pause_writing`) the other side stops reading until it drains, so a fast
sender cannot make the proxy buffer without limit. Half-closes are passed
on, and the tunnel ends when both directions are done, either side drops,
or nothing moved for `idle_s`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast


class _Half(asyncio.Protocol):
    __slots__ = ("eof", "peer", "transport", "tunnel")

    def __init__(self, tunnel: Tunnel):
        self.tunnel = tunnel
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only compatible with it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        tunnel = self.tunnel
        tunnel.last_active = tunnel.loop.time()
        tunnel.bytes += len(data)
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None:
            return False
        if peer.eof:
            self.tunnel.close()
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
            # Keep our transport open: the other direction may still carry data.
            return True
        self.tunnel.close()
        return False

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.transport.is_closing():
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.tunnel.close(abort=exc is not None)


class Tunnel:
    """A client transport joined to a destination transport."""

    def __init__(self, loop: asyncio.AbstractEventLoop, idle_s: float, on_close: Callable[[Tunnel], None]):
        self.loop = loop
        self.idle_s = idle_s
        self.last_active = loop.time()
        self.bytes = 0
        self.client = _Half(self)
        self.server = _Half(self)
        self.client.peer, self.server.peer = self.server, self.client
        self._on_close = on_close
        self._closed = False
        self._idle_handle: asyncio.TimerHandle | None = None

    def server_protocol(self) -> asyncio.Protocol:
        return self.server

    def attach_client(self, transport: asyncio.Transport, pending: bytes) -> None:
        """Make `transport` (already connected, reading paused) the client side and start both directions."""
        transport.set_protocol(self.client)
        self.client.connection_made(transport)
        if pending and self.server.transport is not None:
            self.server.transport.write(pending)
        transport.resume_reading()
        self._idle_handle = self.loop.call_later(self.idle_s, self._check_idle)

    def _check_idle(self) -> None:
        # One timer per tunnel, re-armed from the last activity, instead of a timer reset per chunk.
        remaining = self.last_active + self.idle_s - self.loop.time()
        if remaining <= 0:
            self.close()
        else:
            self._idle_handle = self.loop.call_later(remaining, self._check_idle)

    def close(self, *, abort: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        for half in (self.client, self.server):
            if half.transport is not None and not half.transport.is_closing():
                # close() flushes what is buffered; abort() after a reset, when nobody is there to read it.
                if abort:
                    half.transport.abort()
                else:
                    half.transport.close()
        self._on_close(self)

"""Pooled connections to the configured upstreams.

One `HttpClient` per upstream, shared by every request, so connections are
kept alive and bounded (a connection per request is how proxies run out of
sockets). A reload that changes an upstream gets a new client; the old one
is closed only after the requests still using it had time to finish.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from yarl import URL

from proxy.config.loader import resolve
from proxy.config.schema import Timeouts, Upstream
from proxy.http.outbound import HttpClient
from proxy.spawn import Spawner


@dataclass(frozen=True, slots=True)
class UpstreamClient:
    name: str
    base_url: str
    http: HttpClient
    timeouts: Timeouts
    extra_headers: tuple[tuple[str, str], ...]
    hosts: tuple[str, ...] = ()
    """Host patterns this upstream serves for intercepted traffic (its own host first)."""

    def serves_host(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.hosts)


def _ssl_context(settings: Upstream, config_path: Path) -> ssl.SSLContext | bool:
    if not settings.base_url.startswith("https:"):
        return True
    if not settings.tls_verify:
        return False
    ctx = ssl.create_default_context(cafile=str(resolve(config_path, settings.ca_file)) if settings.ca_file else None)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _extra_headers(settings: Upstream) -> tuple[tuple[str, str], ...]:
    extra = list(settings.headers.items())
    if settings.api_key_env:
        extra.append(("Authorization", f"Bearer {os.environ.get(settings.api_key_env, '')}"))
    return tuple(extra)


class UpstreamPool:
    def __init__(self, close_grace_s: float = 60.0):
        self._clients: dict[str, tuple[tuple[Upstream, Path], UpstreamClient]] = {}
        self._close_grace_s = close_grace_s
        self._retired: list[UpstreamClient] = []
        self._dynamic: dict[str, UpstreamClient] = {}
        self._closer = Spawner("upstream-close")

    def sync(self, upstreams: dict[str, Upstream], config_path: Path) -> dict[str, UpstreamClient]:
        """Make the pool match `upstreams`, reusing sessions whose settings did not change."""
        active: dict[str, UpstreamClient] = {}
        for name, settings in upstreams.items():
            if settings.provider != "openai":
                continue  # reached through LiteLLM, which keeps its own connections
            key = (settings, config_path)
            current = self._clients.get(name)
            if current is not None and current[0] == key:
                active[name] = current[1]
                continue
            if current is not None:
                self._retire(current[1])
            client = self._open(name, settings, config_path)
            self._clients[name] = (key, client)
            active[name] = client
        for name in list(self._clients):
            if name not in active:
                self._retire(self._clients.pop(name)[1])
        return active

    def _open(self, name: str, settings: Upstream, config_path: Path) -> UpstreamClient:
        assert settings.base_url is not None
        t = settings.timeouts
        http = HttpClient(
            settings.base_url,
            limit=settings.max_connections,
            keepalive_s=settings.keepalive_s,
            connect_s=t.connect_s,
            total_s=t.total_s,
            ssl_context=_ssl_context(settings, config_path),
        )
        return UpstreamClient(
            name=name,
            base_url=settings.base_url,
            hosts=tuple(h for h in (URL(settings.base_url).host, *settings.hosts) if h),
            http=http,
            timeouts=t,
            extra_headers=_extra_headers(settings),
        )

    def dynamic(self, base_url: str) -> UpstreamClient:
        """A client for a host the app addressed directly (through a tunnel) that no upstream entry names."""
        client = self._dynamic.get(base_url)
        if client is None:
            client = self._dynamic[base_url] = self._open(base_url, Upstream(base_url=base_url), Path("."))
        return client

    def _retire(self, client: UpstreamClient) -> None:
        # Requests that started before the reload still hold this session.
        self._retired.append(client)

        async def close_later() -> None:
            await asyncio.sleep(self._close_grace_s)
            self._retired.remove(client)
            await client.http.close()

        self._closer.spawn(close_later)

    async def close(self) -> None:
        await self._closer.close()
        clients = [client for _, client in self._clients.values()] + self._retired + list(self._dynamic.values())
        self._dynamic.clear()
        self._clients.clear()
        self._retired = []
        for client in clients:
            await client.http.close()

"""Pooled connections to the configured upstreams.

One `ClientSession` per upstream, shared by every request, so connections are
kept alive and bounded (a connection per request is how proxies run out of
sockets). A reload that changes an upstream gets a new session; the old one
is closed only after the requests still using it had time to finish.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from yarl import URL

from proxy.config.loader import resolve
from proxy.config.schema import Timeouts, Upstream
from proxy.spawn import Spawner

# aiohttp would otherwise invent these when the app did not send them; the
# upstream must see the app's headers, not ours.
_SKIP_AUTO = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


@dataclass(frozen=True, slots=True)
class UpstreamClient:
    name: str
    base_url: str
    session: aiohttp.ClientSession
    timeouts: Timeouts
    client_timeout: aiohttp.ClientTimeout
    extra_headers: tuple[tuple[str, str], ...]
    hosts: tuple[str, ...] = ()
    """Host patterns this upstream serves for intercepted traffic (its own host first)."""
    _urls: dict[str, URL] = field(default_factory=dict)

    def serves_host(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.hosts)

    def url_for(self, raw_path: str) -> URL:
        """The upstream URL for a request's raw path and query, kept byte for byte (no re-quoting)."""
        url = self._urls.get(raw_path)
        if url is None:
            # Apps hit a handful of paths; the cache is bounded in case one sends unique query strings.
            if len(self._urls) >= 1024:
                self._urls.clear()
            url = self._urls[raw_path] = URL(self.base_url + raw_path, encoded=True)
        return url


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
        connector = aiohttp.TCPConnector(
            limit=settings.max_connections,
            limit_per_host=0,
            keepalive_timeout=settings.keepalive_s,
            ssl=_ssl_context(settings, config_path),
            ttl_dns_cache=300,
        )
        t = settings.timeouts
        client_timeout = aiohttp.ClientTimeout(total=t.total_s, connect=t.connect_s, sock_connect=t.connect_s)
        session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_SKIP_AUTO,
            timeout=client_timeout,
            trust_env=False,
            requote_redirect_url=False,
        )
        assert settings.base_url is not None
        return UpstreamClient(
            name=name,
            base_url=settings.base_url,
            hosts=tuple(h for h in (URL(settings.base_url).host, *settings.hosts) if h),
            session=session,
            timeouts=t,
            client_timeout=client_timeout,
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
            await client.session.close()

        self._closer.spawn(close_later)

    async def close(self) -> None:
        await self._closer.close()
        clients = [client for _, client in self._clients.values()] + self._retired + list(self._dynamic.values())
        self._dynamic.clear()
        self._clients.clear()
        self._retired = []
        for client in clients:
            await client.session.close()

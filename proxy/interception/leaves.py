"""Server-side TLS contexts for intercepted hosts, one per host, minted on first use.

Each host gets its own `ssl.SSLContext` holding its leaf, so the context a
tunnel was served with also says which host the app asked for
(`HostContext.host`). `ssl` can only load a certificate chain from a path;
the PEM goes through an anonymous in-memory file (`memfd_create`, or a pipe
where that is missing), so a leaf key never touches a disk.
"""

from __future__ import annotations

import os
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # cryptography is loaded only once a CA is configured
    from proxy.interception.ca import CertificateAuthority, Leaf


class HostContext(ssl.SSLContext):
    """A server TLS context serving one intercepted host's leaf."""

    host: str
    not_after: float


@dataclass
class LeafStats:
    minted: int = 0
    hits: int = 0
    evicted: int = 0
    last_mint_ms: float = 0.0


def _load_chain(ctx: ssl.SSLContext, pem: bytes) -> None:
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("llm-router-leaf", os.MFD_CLOEXEC)
        try:
            os.write(fd, pem)
            ctx.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    # A pipe holds up to 64 KiB before a write blocks; a leaf chain is ~2 KiB.
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, pem)
        os.close(write_fd)
        write_fd = -1
        ctx.load_cert_chain(f"/dev/fd/{read_fd}")
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def server_context(leaf: Leaf, ca: CertificateAuthority) -> HostContext:
    ctx = HostContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # The requests inside are served by an HTTP/1.1 handler; offering h2 would break clients that pick it.
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.options |= ssl.OP_NO_COMPRESSION
    _load_chain(ctx, leaf.chain_pem(ca.cert_pem))
    ctx.host = leaf.host
    ctx.not_after = leaf.not_after.timestamp()
    return ctx


class LeafCache:
    """LRU of host -> `HostContext`, re-minted once half the leaf's validity has passed."""

    def __init__(self, ca: CertificateAuthority, *, size: int, validity_days: int):
        self.ca = ca
        self.size = size
        self.validity_days = validity_days
        self.stats = LeafStats()
        self._contexts: OrderedDict[str, HostContext] = OrderedDict()
        self._refresh_after: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._contexts)

    def context_for(self, host: str) -> HostContext:
        ctx = self._contexts.get(host)
        now = time.time()
        if ctx is not None and now < self._refresh_after[host]:
            self._contexts.move_to_end(host)
            self.stats.hits += 1
            return ctx
        started = time.perf_counter()
        leaf = self.ca.mint(host, self.validity_days)
        ctx = server_context(leaf, self.ca)
        self.stats.last_mint_ms = (time.perf_counter() - started) * 1000
        self.stats.minted += 1
        self._contexts[host] = ctx
        self._contexts.move_to_end(host)
        self._refresh_after[host] = now + (ctx.not_after - now) / 2
        while len(self._contexts) > self.size:
            old, _ = self._contexts.popitem(last=False)
            del self._refresh_after[old]
            self.stats.evicted += 1
        return ctx

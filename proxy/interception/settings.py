"""The `interception:` section of `proxy.yaml`.

Field docstrings are the config reference. Paths are relative to the config
file; `resolve()` turns them into absolute ones for a given config directory.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A host glob: DNS labels, where a label may be `*` (any one or more labels when leading,
# as in `*.openai.azure.com`) or contain `*` inside it (`*-openai.example.com`).
_HOST_GLOB = re.compile(r"^(\*|[A-Za-z0-9*]([A-Za-z0-9*-]{0,61}[A-Za-z0-9*])?)(\.[A-Za-z0-9*]([A-Za-z0-9*-]{0,61}[A-Za-z0-9*])?)*$")


def _check_globs(values: list[str], field: str) -> list[str]:
    out = []
    for value in values:
        host = value.strip().lower().rstrip(".")
        if "://" in host or "/" in host:
            raise ValueError(
                f"{field}: '{value}' is a URL; give the bare host name, for example api.openai.com"
            )
        if ":" in host and not _is_ip(host):
            raise ValueError(
                f"{field}: '{value}' has a port; give the bare host name (every port of the host matches)"
            )
        if not (_is_ip(host) or _HOST_GLOB.match(host)):
            raise ValueError(
                f"{field}: '{value}' is not a host name or glob; write it like api.openai.com or *.openai.azure.com"
            )
        out.append(host)
    return out


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class InterceptionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    hosts: list[str] = ["api.openai.com"]
    """Hosts whose HTTPS traffic is intercepted: a `CONNECT` to one of them is answered with TLS from a certificate minted by the sidecar's CA, and the requests inside go through the router like reverse-proxy requests. Globs allowed: `*.openai.azure.com` matches any subdomain (not the bare domain). Matched case-insensitively, on every port."""

    ca_cert: str | None = None
    """PEM certificate of the interception CA (from `llm-router ca init`), relative to this file. Unset: `CONNECT` to an intercepted host is refused with 503 and a log line saying to run `llm-router ca init`; other hosts are still tunnelled."""

    ca_key: str | None = None
    """PEM private key of the interception CA, relative to this file. Keep it readable by the sidecar only (mode 0600); it is never logged or served. Set together with `ca_cert`."""

    tunnel_others: bool = True
    """`CONNECT` to a host that is not intercepted opens a blind byte tunnel (no TLS termination, no inspection). `false`: such a `CONNECT` is refused with 403, so the app can reach only the intercepted hosts through the proxy."""

    tunnel_allow: list[str] = []
    """Host globs that blind tunnels may reach (`*.googleapis.com`, `10.0.0.5`). Empty: any host. A `CONNECT` to any other host is refused with 403."""

    tunnel_ports: list[Annotated[int, Field(ge=1, le=65535)]] = []
    """Destination ports that blind tunnels may reach (`[443]` keeps them to HTTPS). Empty: any port, since an app that has `HTTPS_PROXY` set sends all its HTTPS calls here, whatever the port."""

    leaf_validity_days: Annotated[int, Field(ge=1, le=397)] = 7
    """Days a minted leaf certificate is valid. Leaves are re-minted in memory well before they expire, so short is safe; browsers and Apple platforms reject more than 397 days."""

    leaf_cache_size: Annotated[int, Field(ge=1, le=100_000)] = 256
    """How many hosts' leaf certificates (and TLS contexts) are kept; the least recently used is dropped past this."""

    max_header_bytes: Annotated[int, Field(ge=256, le=1_048_576)] = 16384
    """Largest `CONNECT` request head (request line and headers) accepted, in bytes. A larger one closes the connection with a logged reason."""

    handshake_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    """Seconds a new connection has to send its first request (any kind), and a `CONNECT` client to finish its head and the TLS handshake; a slower connection is closed. Requests after the first are governed by the HTTP server's keep-alive timeout."""

    tunnel_connect_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    """Seconds to open the TCP connection to a blind tunnel's destination; past it the client gets 504 (an unreachable destination gets 502 at once)."""

    tunnel_idle_s: Annotated[float, Field(gt=0)] = 3600.0
    """Seconds a blind tunnel may carry no bytes in either direction before both sides are closed."""

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        return _check_globs(v, "hosts")

    @field_validator("tunnel_allow")
    @classmethod
    def _allow(cls, v: list[str]) -> list[str]:
        return _check_globs(v, "tunnel_allow")

    @model_validator(mode="after")
    def _pair(self) -> InterceptionSettings:
        if (self.ca_cert is None) != (self.ca_key is None):
            missing = "ca_key" if self.ca_key is None else "ca_cert"
            raise ValueError(
                f"ca_cert and ca_key go together; set {missing} too (both are written by `llm-router ca init --out DIR`)"
            )
        return self

    def resolve(self, config_dir: Path) -> tuple[Path, Path] | None:
        """Absolute (cert, key) paths, or None when no CA is configured."""
        if self.ca_cert is None or self.ca_key is None:
            return None
        return (config_dir / self.ca_cert).resolve(), (config_dir / self.ca_key).resolve()

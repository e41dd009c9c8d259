"""Pure decisions about a `CONNECT`: parse its head, then intercept, tunnel or refuse.

No sockets here; the listener feeds bytes in and acts on what comes out.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass
from enum import Enum

from proxy.interception.settings import InterceptionSettings

CONNECT_PREFIX = b"CONNECT "
HEAD_END = b"\r\n\r\n"
_REQUEST_LINE = re.compile(rb"^CONNECT ([^\s]+) HTTP/1\.[01]$")
_HOSTNAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$")


class BadConnect(ValueError):
    """The CONNECT head cannot be used; the message is what the client and the log are told."""


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_head(head: bytes) -> Target:
    """The target of a complete CONNECT head (request line + headers, without the blank line)."""
    line, _, _ = head.partition(b"\r\n")
    match = _REQUEST_LINE.match(line)
    if match is None:
        raise BadConnect("malformed CONNECT request line; expected 'CONNECT host:port HTTP/1.1'")
    return parse_authority(match.group(1).decode("ascii", "replace"))


def parse_authority(authority: str) -> Target:
    if authority.startswith("["):
        host, sep, rest = authority[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise BadConnect(f"bad CONNECT target '{authority[:100]}'; expected [v6-address]:port")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise BadConnect(f"bad IPv6 address in CONNECT target '{authority[:100]}'") from None
    else:
        host, sep, port_text = authority.rpartition(":")
        if not sep or not host:
            raise BadConnect(f"CONNECT target '{authority[:100]}' has no port; expected host:port")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BadConnect(f"bad port in CONNECT target '{authority[:100]}'")
    host = host.lower().rstrip(".")
    if ":" not in host and not _HOSTNAME.match(host):
        raise BadConnect(f"bad host name in CONNECT target '{authority[:100]}'")
    return Target(host, int(port_text))


def host_matches(host: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(host, glob) for glob in globs)


class Action(Enum):
    INTERCEPT = "intercept"
    TUNNEL = "tunnel"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    status: int = 200
    reason: str = ""


def decide(target: Target, settings: InterceptionSettings, *, have_ca: bool) -> Decision:
    if host_matches(target.host, settings.hosts):
        if not have_ca:
            return Decision(
                Action.REFUSE,
                503,
                f"{target.host} is intercepted but no CA is configured; run `llm-router ca init --out DIR` "
                "and set interception.ca_cert and interception.ca_key in proxy.yaml",
            )
        return Decision(Action.INTERCEPT)
    if not settings.tunnel_others:
        return Decision(
            Action.REFUSE, 403,
            f"tunnels to hosts other than interception.hosts are off (interception.tunnel_others: false); {target} refused",
        )
    if settings.tunnel_allow and not host_matches(target.host, settings.tunnel_allow):
        return Decision(Action.REFUSE, 403, f"{target.host} is not in interception.tunnel_allow")
    if settings.tunnel_ports and target.port not in settings.tunnel_ports:
        return Decision(Action.REFUSE, 403, f"port {target.port} is not in interception.tunnel_ports")
    return Decision(Action.TUNNEL)


def status_response(status: int, reason: str) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, for refusals before any tunnel exists."""
    phrase = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large",
              502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(status, "Error")
    body = (reason + "\n").encode("utf-8", "replace")
    return (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode("ascii") + body


ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"

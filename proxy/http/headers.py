"""Which headers cross the proxy, in each direction.

Hop-by-hop headers belong to one connection and are never forwarded
(RFC 9110 section 7.6.1), nor are headers the `Connection` header names.
The router owns the `x-llm-router-*` namespace: client copies are stripped
before forwarding, and the router's own response headers overwrite.
"""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Recomputed for the body actually sent; Host comes from the upstream URL; the body is sent
# with the head, so the app's `Expect: 100-continue` was answered by the proxy, not forwarded.
_REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "expect"}
_RESPONSE_DROP = HOP_BY_HOP | {"content-length"}
ROUTER_PREFIX = "x-llm-router-"


def _connection_listed(headers: CIMultiDictProxy[str]) -> frozenset[str]:
    value = headers.get("Connection")
    if not value:
        return frozenset()
    return frozenset(token.strip().lower() for token in value.split(","))


def upstream_request_headers(
    incoming: CIMultiDictProxy[str], extra: tuple[tuple[str, str], ...] = ()
) -> CIMultiDict[str]:
    listed = _connection_listed(incoming)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        lower = name.lower()
        if lower in _REQUEST_DROP or lower in listed or lower.startswith(ROUTER_PREFIX):
            continue
        out.add(name, value)
    for name, value in extra:
        out[name] = value
    return out


def client_response_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    listed = _connection_listed(upstream)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.items():
        lower = name.lower()
        if lower in _RESPONSE_DROP or lower in listed:
            continue
        out.add(name, value)
    return out

"""CONNECT parsing and the intercept/tunnel/refuse decision: pure functions, no sockets."""

from __future__ import annotations

import pytest

from proxy.interception.connect import (
    Action,
    BadConnect,
    Target,
    decide,
    host_matches,
    parse_head,
    status_response,
)
from proxy.interception.settings import InterceptionSettings


@pytest.mark.parametrize(
    ("head", "target"),
    [
        (b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443", Target("api.openai.com", 443)),
        (b"CONNECT API.OpenAI.com.:8443 HTTP/1.0", Target("api.openai.com", 8443)),
        (b"CONNECT 127.0.0.1:1 HTTP/1.1", Target("127.0.0.1", 1)),
        (b"CONNECT [::1]:443 HTTP/1.1", Target("::1", 443)),
    ],
)
def test_parse(head, target):
    assert parse_head(head) == target


@pytest.mark.parametrize(
    "head",
    [
        b"CONNECT api.openai.com HTTP/1.1",
        b"CONNECT api.openai.com:0 HTTP/1.1",
        b"CONNECT api.openai.com:65536 HTTP/1.1",
        b"CONNECT :443 HTTP/1.1",
        b"CONNECT [::1 HTTP/1.1",
        b"CONNECT [nothex]:443 HTTP/1.1",
        b"CONNECT a..b:443 HTTP/1.1",
        b"CONNECT api.openai.com:443 HTTP/2",
        b"CONNECT api.openai.com:443",
        b"connect api.openai.com:443 HTTP/1.1",
        b"\x16\x03\x01 garbage",
    ],
)
def test_parse_rejects(head):
    with pytest.raises(BadConnect):
        parse_head(head)


def test_target_str_brackets_ipv6():
    assert str(Target("::1", 443)) == "[::1]:443"
    assert str(Target("a.test", 443)) == "a.test:443"


def test_globs():
    assert host_matches("east.openai.azure.com", ["*.openai.azure.com"])
    assert not host_matches("openai.azure.com", ["*.openai.azure.com"])
    assert not host_matches("api.openai.com.evil.test", ["api.openai.com"])


def _decide(host: str, port: int = 443, have_ca: bool = True, **fields):
    return decide(Target(host, port), InterceptionSettings(**fields), have_ca=have_ca)


def test_decisions():
    assert _decide("api.openai.com").action is Action.INTERCEPT
    assert _decide("example.test").action is Action.TUNNEL
    no_ca = _decide("api.openai.com", have_ca=False)
    assert (no_ca.action, no_ca.status) == (Action.REFUSE, 503) and "llm-router ca init" in no_ca.reason
    # Without a CA, other hosts are still tunnelled.
    assert _decide("example.test", have_ca=False).action is Action.TUNNEL
    assert _decide("example.test", tunnel_others=False).status == 403
    assert _decide("example.test", tunnel_allow=["*.googleapis.com"]).status == 403
    assert _decide("x.googleapis.com", tunnel_allow=["*.googleapis.com"]).action is Action.TUNNEL
    assert _decide("example.test", 22, tunnel_ports=[443]).status == 403
    # Intercepted hosts ignore the tunnel rules: they never become tunnels.
    assert _decide("api.openai.com", 8443, tunnel_others=False, tunnel_ports=[443]).action is Action.INTERCEPT


def test_status_response_is_complete_and_closes():
    data = status_response(403, "no")
    assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"connection: close\r\n" in data and data.endswith(b"\r\n\r\nno\n")

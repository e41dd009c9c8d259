"""The official openai Python SDK, configured only by environment variables, in a
subprocess: which variables route it through the proxy and make it trust our CA.

Each case asserts where the request ended up: at the fake upstream through
interception, or nowhere (the subprocess refuses to resolve non-loopback
names, so a client that bypasses the proxy fails instead of going out).
"""

from __future__ import annotations

import sys

import pytest

from tests.interception.conftest import proxy_config
from tests.interception.sdk import HERE, clean_env, run_client

CLIENT = [sys.executable, str(HERE / "clients" / "openai_python.py")]


@pytest.fixture
async def proxy(start_proxy, tls_upstream, other_ca_pem):
    proxy = await start_proxy(proxy_config(tls_upstream.url, other_ca_pem))
    proxy.upstream = tls_upstream
    return proxy


async def test_https_proxy_and_ssl_cert_file_reach_upstream_through_interception(proxy, ca_files):
    env = clean_env(HTTPS_PROXY=proxy.url, SSL_CERT_FILE=str(ca_files.bundle))
    plain = await run_client([*CLIENT, "chat"], env)
    stream = await run_client([*CLIENT, "stream"], env)
    assert plain["ok"], plain
    assert plain["base_url"] == "https://api.openai.com/v1/"
    assert stream["ok"], stream
    assert stream["chunks"] >= 2 and stream["content"]
    paths = [r.path for r in proxy.upstream.requests]
    assert paths == ["/v1/chat/completions", "/v1/chat/completions"]
    assert proxy.upstream.requests[0].headers["authorization"] == "Bearer sk-test-interception"
    # Counted like any reverse-proxy request, by the same handler.
    assert sum(n for (_, status), n in proxy.sidecar.counters.requests.items() if status == 200) == 2
    assert proxy.listener.stats.intercepted == 2
    assert proxy.listener.leaves.stats.minted == 1  # the second run was served from the cache


@pytest.mark.parametrize(
    "variables",
    [{"https_proxy": "{proxy}"}, {"ALL_PROXY": "{proxy}"}, {"all_proxy": "{proxy}"}],
    ids=["https_proxy", "ALL_PROXY", "all_proxy"],
)
async def test_other_proxy_spellings_are_honoured(proxy, ca_files, variables):
    env = clean_env(SSL_CERT_FILE=str(ca_files.bundle), **{k: v.format(proxy=proxy.url) for k, v in variables.items()})
    result = await run_client([*CLIENT, "chat"], env)
    assert result["ok"], result
    assert len(proxy.upstream.requests) == 1


async def test_http_proxy_alone_is_not_used_for_https(proxy, ca_files):
    env = clean_env(HTTP_PROXY=proxy.url, SSL_CERT_FILE=str(ca_files.bundle))
    result = await run_client([*CLIENT, "chat"], env)
    assert not result["ok"]
    assert "direct connection to api.openai.com attempted" in " ".join(result["error"])
    assert proxy.listener.stats.connections == 0


async def test_no_proxy_sends_the_host_direct(proxy, ca_files):
    env = clean_env(HTTPS_PROXY=proxy.url, NO_PROXY="api.openai.com", SSL_CERT_FILE=str(ca_files.bundle))
    result = await run_client([*CLIENT, "chat"], env)
    assert not result["ok"]
    assert "direct connection to api.openai.com attempted" in " ".join(result["error"])
    assert proxy.listener.stats.connections == 0


async def test_requests_ca_bundle_is_ignored_so_ssl_cert_file_is_needed(proxy, ca_files):
    env = clean_env(HTTPS_PROXY=proxy.url, REQUESTS_CA_BUNDLE=str(ca_files.bundle))
    result = await run_client([*CLIENT, "chat"], env)
    assert not result["ok"]
    assert "CERTIFICATE_VERIFY_FAILED" in " ".join(result["error"])
    assert proxy.upstream.requests == []

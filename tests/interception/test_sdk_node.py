"""The official openai Node SDK (from npm), configured only by its environment,
in a subprocess: which variables route it through the proxy and make it
trust our CA, on the Node found on this machine.

Needs `node` and `npm ci --prefix tests/interception/node`; skipped otherwise.
A guard (`node/guard.cjs`) refuses to resolve non-loopback names, so a client
that bypasses the proxy fails instead of going out.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.interception.conftest import proxy_config
from tests.interception.sdk import HERE, clean_env, run_client

NODE_DIR = HERE / "node"
NODE = shutil.which("node")

if NODE is None:
    pytest.skip("node is not installed", allow_module_level=True)
if not (NODE_DIR / "node_modules" / "openai").is_dir() or not (NODE_DIR / "node_modules" / "undici").is_dir():
    pytest.skip("the Node SDK is not installed; run: npm ci --prefix tests/interception/node", allow_module_level=True)

NODE_VERSION = tuple(int(p) for p in subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout.strip().lstrip("v").split(".")[:2])
# fetch follows HTTPS_PROXY under NODE_USE_ENV_PROXY=1 from Node 24.0 and 22.21 (per Node's changelog).
NATIVE_ENV_PROXY = NODE_VERSION >= (24, 0) or (22, 21) <= NODE_VERSION < (23, 0)
CLIENT = [NODE, "--require", str(NODE_DIR / "guard.cjs"), str(NODE_DIR / "client.mjs")]
PRELOAD = f"--require {NODE_DIR / 'env-proxy.cjs'}"


@pytest.fixture
async def proxy(start_proxy, tls_upstream, other_ca_pem):
    proxy = await start_proxy(proxy_config(tls_upstream.url, other_ca_pem))
    proxy.upstream = tls_upstream
    return proxy


@pytest.mark.skipif(NATIVE_ENV_PROXY, reason="this Node's fetch can follow HTTPS_PROXY by itself")
async def test_https_proxy_alone_is_ignored_by_this_node(proxy, ca_files):
    env = clean_env(HTTPS_PROXY=proxy.url, NODE_USE_ENV_PROXY="1", NODE_EXTRA_CA_CERTS=str(ca_files.bundle))
    result = await run_client([*CLIENT, "chat"], env)
    assert not result["ok"]
    assert "direct connection to api.openai.com attempted" in " ".join(result["error"])
    assert proxy.listener.stats.connections == 0


@pytest.mark.skipif(not NATIVE_ENV_PROXY, reason=f"Node {NODE_VERSION[0]}.{NODE_VERSION[1]}'s fetch ignores NODE_USE_ENV_PROXY (needs 22.21+ or 24+)")
async def test_node_use_env_proxy(proxy, ca_files):
    env = clean_env(HTTPS_PROXY=proxy.url, NODE_USE_ENV_PROXY="1", NODE_EXTRA_CA_CERTS=str(ca_files.bundle))
    result = await run_client([*CLIENT, "chat"], env)
    assert result["ok"], result
    assert len(proxy.upstream.requests) == 1


async def test_preloaded_env_proxy_agent_and_extra_ca_reach_upstream_through_interception(proxy, ca_files):
    env = clean_env(HTTPS_PROXY=proxy.url, NODE_OPTIONS=PRELOAD, NODE_EXTRA_CA_CERTS=str(ca_files.bundle))
    plain = await run_client([*CLIENT, "chat"], env)
    stream = await run_client([*CLIENT, "stream"], env)
    assert plain["ok"], plain
    assert plain["base_url"] == "https://api.openai.com/v1"
    assert stream["ok"], stream
    assert stream["chunks"] >= 2 and stream["content"]
    assert [r.path for r in proxy.upstream.requests] == ["/v1/chat/completions"] * 2
    assert proxy.listener.stats.intercepted >= 2


async def test_lowercase_https_proxy_and_no_proxy(proxy, ca_files):
    base = {"https_proxy": proxy.url, "NODE_OPTIONS": PRELOAD, "NODE_EXTRA_CA_CERTS": str(ca_files.bundle)}
    assert (await run_client([*CLIENT, "chat"], clean_env(**base)))["ok"]
    bypass = await run_client([*CLIENT, "chat"], clean_env(NO_PROXY="api.openai.com", **base))
    assert not bypass["ok"]
    assert "direct connection to api.openai.com attempted" in " ".join(bypass["error"])
    assert len(proxy.upstream.requests) == 1


async def test_without_extra_ca_certs_our_leaf_is_rejected(proxy):
    env = clean_env(HTTPS_PROXY=proxy.url, NODE_OPTIONS=PRELOAD)
    result = await run_client([*CLIENT, "chat"], env)
    assert not result["ok"]
    assert "UNABLE_TO_VERIFY_LEAF_SIGNATURE" in " ".join(result["error"]) or "certificate" in " ".join(result["error"])
    assert proxy.upstream.requests == []
    assert proxy.listener.stats.closed.get("tls_handshake_failed") == 1


async def test_extra_ca_certs_adds_to_the_bundled_roots_so_the_ca_alone_is_enough(proxy, ca_files):
    env = clean_env(HTTPS_PROXY=proxy.url, NODE_OPTIONS=PRELOAD, NODE_EXTRA_CA_CERTS=str(ca_files.cert))
    result = await run_client([*CLIENT, "chat"], env)
    assert result["ok"], result

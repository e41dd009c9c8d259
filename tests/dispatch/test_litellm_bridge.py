"""LiteLLM is imported only when a translated provider is configured."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from proxy.config import load
    from proxy.server import serve

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(serve(load(sys.argv[1]), stop=stop, on_ready=lambda s: stop.set(), handle_signals=False))
        await task
        print("litellm" in sys.modules)

    asyncio.run(main())
""")


def run(tmp_path: Path, config: dict) -> str:
    path = tmp_path / "proxy.yaml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_not_imported_without_a_translated_upstream(tmp_path):
    config = {"listen": "127.0.0.1:0", "admin": "127.0.0.1:0", "policy": str(ROOT / "policies" / "default.yaml"),
              "logging": {"level": "error"},
              "routes": [{"name": "chat", "match": {"path": "/v1/chat/completions"}, "mode": "canary", "percent": 5}]}
    assert run(tmp_path, config) == "False"


def test_imported_when_one_is_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_KEY", "x")
    config = {"listen": "127.0.0.1:0", "admin": "127.0.0.1:0", "logging": {"level": "error"},
              "upstreams": {"openai": {}, "claude": {"provider": "anthropic", "api_key_env": "SOME_KEY"}}}
    assert run(tmp_path, config) == "True"


def test_unknown_provider_is_a_config_problem(tmp_path, monkeypatch):
    from proxy.config import ConfigError, load

    monkeypatch.setenv("SOME_KEY", "x")
    path = tmp_path / "proxy.yaml"
    path.write_text(yaml.safe_dump({"upstreams": {"openai": {}, "x": {"provider": "nosuchprovider", "api_key_env": "SOME_KEY"}}}))
    try:
        load(path)
    except ConfigError as exc:
        assert "LiteLLM knows no provider 'nosuchprovider'" in str(exc)
    else:
        raise AssertionError("an unknown provider must be refused")

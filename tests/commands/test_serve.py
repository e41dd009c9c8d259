"""`llm-router serve` as a real process: JSON logs, readiness, graceful SIGTERM drain."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import aiohttp
import orjson
import yaml

from tests.conftest import base_config


async def start_process(tmp_path, config: dict) -> tuple[asyncio.subprocess.Process, dict, list[dict]]:
    path = tmp_path / "proxy.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "serve", "-c", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[dict] = []
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert raw, (await proc.stderr.read()).decode()
        line = orjson.loads(raw)
        lines.append(line)
        if line["event"] == "llm-router ready":
            return proc, line, lines


async def test_serve_logs_json_and_drains_on_sigterm(upstream, tmp_path):
    config = base_config(upstream.url, logging={"level": "info", "access_log": True})
    proc, ready, lines = await start_process(tmp_path, config)
    url = "http://" + ready["listen"]
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(url + "/v1/models", headers={"Authorization": "Bearer sk-secret-key"}) as r:
                assert r.status == 200
            slow = asyncio.ensure_future(s.get(url + "/v1/models", headers={"x-fake-delay": "1.0"}))
            await asyncio.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            resp = await slow
            assert resp.status == 200, "the in-flight request must complete during the drain"
            resp.release()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    rest = (await proc.stdout.read()).splitlines()
    events = lines + [orjson.loads(raw) for raw in rest if raw.strip()]
    access = [e for e in events if e["event"] == "request"]
    assert len(access) == 2
    first = access[0]
    assert first["route"] == "unmatched" and first["status"] == 200 and first["path"] == "/v1/models"
    assert {"request_id", "duration_ms", "upstream_ms", "bytes_in", "bytes_out", "upstream_request_id"} <= first.keys()
    everything = b"".join(orjson.dumps(e) for e in events)
    assert b"sk-secret-key" not in everything
    assert any(e["event"] == "llm-router stopped" for e in events)


async def test_serve_refuses_a_bad_config_with_exit_1(tmp_path):
    path = tmp_path / "proxy.yaml"
    path.write_text("listen: nowhere\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "serve", "-c", str(path), stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    assert proc.returncode == 1
    assert f"{path}:1: listen: 'nowhere' is not host:port" in err.decode()


async def test_ready_quickly(upstream, tmp_path):
    started = time.monotonic()
    proc, ready, _ = await start_process(tmp_path, base_config(upstream.url, logging={"level": "info", "access_log": False}))
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get("http://" + ready["admin"] + "/readyz") as r:
                assert r.status == 200
        assert time.monotonic() - started < 15  # generous: start-up time is measured in bench/, not here
    finally:
        proc.terminate()
        assert await proc.wait() == 0

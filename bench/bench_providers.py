"""What a LiteLLM-translated upstream costs: start-up time and memory of the
sidecar with and without one configured, and per-call latency of the
translated path versus the raw OpenAI-compatible path, measured in one run
with the variants alternated.

    python bench/bench_providers.py [--rounds 3] [--calls 200]

The sidecar runs as its own process; the fake OpenAI and Anthropic upstreams
run in this process on loopback (both aiohttp, both answering at once), so
the difference between the two paths is the sidecar's translation cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.anthropic_upstream import FakeAnthropic  # noqa: E402
from tests.fakes.openai_upstream import FakeUpstream  # noqa: E402

FAQ = "What are your opening hours on Sunday?"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_fakes() -> tuple[str, str, list[web.AppRunner]]:
    runners = []
    urls = []
    for app in (FakeUpstream().app(), FakeAnthropic().app()):
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}")
    return urls[0], urls[1], runners


def write_config(folder: Path, openai_url: str, anthropic_url: str, translated: bool) -> tuple[Path, int, int]:
    policy = yaml.safe_load((ROOT / "policies" / "default.yaml").read_text())
    policy["classifier"] = {"stages": ["rules", "tfidf"], "model_dir": str(ROOT / "policies" / "models"),
                            "exemplars": str(ROOT / "policies" / "exemplars" / "exemplars.yaml")}
    policy["tiers"]["simple"] = {"model": "claude-3-haiku-20240307" if translated else "gpt-4o-mini", "fallbacks": []}
    policy["never_upgrade"] = False
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy))
    port, admin = free_port(), free_port()
    config = {
        "listen": f"127.0.0.1:{port}", "admin": f"127.0.0.1:{admin}", "policy": "policy.yaml",
        "upstreams": {"openai": {"base_url": openai_url}},
        "routes": [{"name": "chat", "match": {"path": "/v1/chat/completions"}, "mode": "canary", "percent": 100}],
        "logging": {"level": "warning", "access_log": False},
        "resilience": {"retries": 0},
    }
    if translated:
        config["upstreams"]["anthropic"] = {"provider": "anthropic", "api_key_env": "BENCH_ANTHROPIC_KEY",
                                            "base_url": anthropic_url}
    path = folder / f"proxy-{'translated' if translated else 'raw'}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, port, admin


async def start_sidecar(path: Path, admin: int) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "BENCH_ANTHROPIC_KEY": "sk-ant-bench"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "proxy", "serve", "-c", str(path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    async with aiohttp.ClientSession() as s:
        while True:
            try:
                async with s.get(f"http://127.0.0.1:{admin}/readyz") as r:
                    if r.status == 200:
                        return proc, time.perf_counter() - started
            except aiohttp.ClientError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > 60:
                raise RuntimeError(f"sidecar did not become ready: {path}")
            await asyncio.sleep(0.01)


async def calls(port: int, n: int, stream: bool) -> list[float]:
    out = []
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": FAQ}], "stream": stream}
    async with aiohttp.ClientSession() as s:
        for _ in range(n):
            t = time.perf_counter()
            async with s.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body) as r:
                await r.read()
                assert r.status == 200, r.status
            out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 100 else max(values)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    openai_url, anthropic_url, runners = await start_fakes()
    results: dict[str, dict[str, list[float]]] = {v: {"ready_s": [], "rss_mb": [], "lat": [], "lat_stream": []}
                                                  for v in ("raw", "translated")}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.rounds):
                for variant in ("raw", "translated"):
                    path, port, admin = write_config(Path(tmp), openai_url, anthropic_url, variant == "translated")
                    proc, ready = await start_sidecar(path, admin)
                    try:
                        results[variant]["ready_s"].append(ready)
                        await calls(port, 20, False)  # warm-up
                        results[variant]["rss_mb"].append(rss_mb(proc.pid))
                        results[variant]["lat"] += await calls(port, args.calls, False)
                        results[variant]["lat_stream"] += await calls(port, args.calls, True)
                    finally:
                        proc.terminate()
                        proc.wait(10)
    finally:
        for runner in runners:
            await runner.cleanup()
    raw, tr = results["raw"], results["translated"]
    print(f"| figure | raw OpenAI-compatible path | LiteLLM-translated path | added |")
    print("|---|---:|---:|---:|")
    med = statistics.median
    print(f"| time to /readyz (median of {args.rounds}) | {med(raw['ready_s']):.2f} s | {med(tr['ready_s']):.2f} s | "
          f"+{med(tr['ready_s']) - med(raw['ready_s']):.2f} s |")
    print(f"| RSS after warm-up | {med(raw['rss_mb']):.0f} MB | {med(tr['rss_mb']):.0f} MB | +{med(tr['rss_mb']) - med(raw['rss_mb']):.0f} MB |")
    for key, label in (("lat", "non-streaming"), ("lat_stream", "streaming")):
        a, b = raw[key], tr[key]
        print(f"| {label} call p50 / p99 | {med(a):.2f} / {pct(a, 99):.2f} ms | {med(b):.2f} / {pct(b, 99):.2f} ms | "
              f"+{med(b) - med(a):.2f} ms p50 |")


if __name__ == "__main__":
    asyncio.run(main())

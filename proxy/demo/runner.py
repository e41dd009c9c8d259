"""Run the demo: simulated upstream + real sidecar on loopback, traffic through the openai SDK.

Phases, all against one in-process sidecar:

1. shadow: every request answered by the requested model, the router's
   choice asked in the background, diffs written to the shadow log;
2. canary: every request answered by the router's choice (guardrail on);
3. overhead: the same small requests sent straight to the simulated upstream
   and through the sidecar, one at a time with the simulated delay switched
   off, so the difference is the sidecar's own cost.

Spans go to an in-memory exporter (and to OTLP as well when
OTEL_EXPORTER_OTLP_ENDPOINT is set); the summary is computed from them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from proxy.analysis.progress import Progress
from proxy.demo.simulated import NO_DELAY_HEADER, PHASE_HEADER, SimulatedUpstream

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_POLICY = ROOT / "policies" / "default.yaml"
ROUTE_HEADER = "x-llm-router-route"
SDK_HEADERS = ("x-llm-router-model", "x-llm-router-tier", "x-llm-router-arm")


@dataclass
class Reply:
    phase: str
    model: str | None
    tier: str | None
    arm: str | None
    ok: bool
    latency_s: float


@dataclass
class DemoRun:
    workdir: Path
    config_path: Path
    shadow_log: Path
    sidecar_log: Path
    upstream: SimulatedUpstream
    replies: list[Reply] = field(default_factory=list)
    spans: list[Any] = field(default_factory=list)
    overhead: dict[str, list[float]] = field(default_factory=dict)
    otlp_endpoint: str | None = None
    wall_s: float = 0.0
    shadow_written: int = 0
    shadow_dropped: int = 0


def write_config(workdir: Path, upstream_url: str, policy: Path) -> Path:
    config = {
        "listen": "127.0.0.1:0",
        "admin": "127.0.0.1:0",
        # Classifier artifact paths in the policy are relative to the policy file, so point at it where it lies.
        "policy": str(policy.resolve()),
        "upstreams": {"openai": {"base_url": upstream_url}},
        "routes": [
            {"name": "shadow", "match": {"path": "/v1/chat/completions"}, "mode": "shadow", "percent": 100},
            {"name": "canary", "match": {"path": "/v1/chat/completions"}, "mode": "canary", "percent": 100},
            # Same as canary; its own name keeps the latency probe out of the savings figures.
            {"name": "overhead", "match": {"path": "/v1/chat/completions"}, "mode": "canary", "percent": 100},
        ],
        "shadow": {"log": str(workdir / "shadow.jsonl"), "max_concurrency": 64, "timeout_s": 30},
        # The answers are canned, so capturing them is harmless, and it lets `llm-router report` show worst diffs.
        "telemetry": {"capture_content": True},
        "logging": {"level": "info", "access_log": True},
        "shutdown": {"drain_s": 5},
    }
    path = workdir / "proxy.yaml"
    path.write_text("# Written by `llm-router demo`: the sidecar in front of a SIMULATED upstream.\n"
                    + yaml.safe_dump(config, sort_keys=False))
    return path


async def run_demo(rows: list[dict[str, Any]], workdir: Path, *, concurrency: int = 8, overhead_n: int = 100,
                   policy: Path = SHIPPED_POLICY, progress: bool | None = None) -> DemoRun:
    from proxy import logs

    started = time.perf_counter()
    sim = SimulatedUpstream()
    sim_runner = web.AppRunner(sim.app(), access_log=None)
    await sim_runner.setup()
    site = web.TCPSite(sim_runner, "127.0.0.1", 0)
    await site.start()
    host, port = sim_runner.addresses[0][:2]
    upstream_url = f"http://{host}:{port}"
    config_path = write_config(workdir, upstream_url, policy)
    run = DemoRun(workdir, config_path, workdir / "shadow.jsonl", workdir / "sidecar.log", sim)
    log_stream = open(run.sidecar_log, "ab")  # noqa: SIM115 - closed in finally, after the sidecar stopped
    logs.configure("info", log_stream)
    try:
        await _with_sidecar(run, rows, upstream_url, concurrency, overhead_n, progress)
    finally:
        logs.flush()
        logs.configure("warning")
        log_stream.close()
        await sim_runner.cleanup()
    run.wall_s = time.perf_counter() - started
    return run


async def _with_sidecar(run: DemoRun, rows: list[dict[str, Any]], upstream_url: str, concurrency: int,
                        overhead_n: int, progress: bool | None) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    from proxy.config import load
    from proxy.server import Sidecar, serve

    loaded = await asyncio.to_thread(load, run.config_path)
    exporter = InMemorySpanExporter()
    stop = asyncio.Event()
    ready: asyncio.Future[Sidecar] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(loaded, stop=stop, on_ready=ready.set_result, handle_signals=False,
                                     span_exporter=exporter))
    try:
        done, _ = await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        sidecar = ready.result()
        # Every span is kept in memory for the summary; OTEL_* settings still apply, so an
        # endpoint in the environment gets the same spans.
        telemetry = sidecar.telemetry
        resolved = telemetry.settings.resolve()
        run.otlp_endpoint = resolved.endpoint if resolved else None
        proxy_url = "http://{}:{}/v1".format(*sidecar.listen_address)
        total = 2 * len(rows) + 2 * min(overhead_n, len(rows))
        with Progress(total, "demo (simulated upstream)", unit="req", enabled=progress) as bar:
            await _send_all(run, rows, proxy_url, "shadow", concurrency, bar)
            await _send_all(run, rows, proxy_url, "canary", concurrency, bar)
            await _overhead(run, rows[:overhead_n], proxy_url, upstream_url + "/v1", bar)
        await _drain_shadow(sidecar)
        run.shadow_written, run.shadow_dropped = sidecar.shadow.written, sidecar.shadow.dropped
        telemetry.force_flush()
        run.spans = list(exporter.get_finished_spans())
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        if loaded.router is not None:
            loaded.router.classifier.close()


def _client(base_url: str) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=base_url, api_key="sk-simulated-demo-key", max_retries=0, timeout=30)


def request_body(row: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI request in a traffic row: the `x_*` bookkeeping keys and `usage` are not sent."""
    return {k: v for k, v in row.items() if not k.startswith("x_") and k != "usage"}


async def _one(client: Any, row: dict[str, Any], headers: dict[str, str]) -> tuple[Any, float]:
    body = request_body(row)
    started = time.perf_counter()
    raw = await client.chat.completions.with_raw_response.create(**body, extra_headers=headers)
    return raw, time.perf_counter() - started


async def _send_all(run: DemoRun, rows: list[dict[str, Any]], proxy_url: str, phase: str, concurrency: int,
                    bar: Progress) -> None:
    import openai

    sem = asyncio.Semaphore(concurrency)
    headers = {ROUTE_HEADER: phase, PHASE_HEADER: phase}
    async with _client(proxy_url) as client:
        async def send(row: dict[str, Any]) -> None:
            async with sem:
                try:
                    raw, latency = await _one(client, row, headers)
                    h = raw.headers
                    raw.parse()
                    run.replies.append(Reply(phase, h.get(SDK_HEADERS[0]), h.get(SDK_HEADERS[1]),
                                             h.get(SDK_HEADERS[2]), True, latency))
                except openai.APIError:
                    run.replies.append(Reply(phase, None, None, None, False, 0.0))
                bar.advance(1, 1)

        await asyncio.gather(*(send(row) for row in rows))


async def _overhead(run: DemoRun, rows: list[dict[str, Any]], proxy_url: str, direct_url: str, bar: Progress) -> None:
    direct, proxied = [], []
    headers = {NO_DELAY_HEADER: "1", PHASE_HEADER: "overhead", ROUTE_HEADER: "overhead"}
    async with _client(direct_url) as d, _client(proxy_url) as p:
        await _one(d, rows[0], headers)  # warm both connections and code paths once
        await _one(p, rows[0], headers)
        for row in rows:
            # Alternate which goes first so neither side always gets the warmer cache.
            for client, sink in ((d, direct), (p, proxied)) if len(direct) % 2 == 0 else ((p, proxied), (d, direct)):
                sink.append((await _one(client, row, headers))[1])
                bar.advance(1, 1)
    run.overhead = {"direct": direct, "proxied": proxied}


async def _drain_shadow(sidecar: Any, timeout_s: float = 20.0) -> None:
    """Wait for background shadow calls to finish so the log is complete before it is read."""
    deadline = time.monotonic() + timeout_s
    while sidecar.shadow.spawner.running and time.monotonic() < deadline:
        await asyncio.sleep(0.02)

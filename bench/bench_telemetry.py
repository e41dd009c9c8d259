"""Per-request CPU cost of telemetry (a harness, not a test).

    python bench/bench_telemetry.py [-n 20000] [--rounds 5] [--compare HEAD] [--ref REV]

What one request pays, as the pipeline calls it: `telemetry.start(record,
headers)` with the request's `CIMultiDict` headers (half carry the app's
`traceparent`), `span.inject(out_headers)`, and `telemetry.finish(record,
span)` with a filled `RequestRecord` (a passthrough/control-arm request and a
streamed canary/router-arm request, alternating; unique request ids). Spans
are encoded on the request's thread in batches (`export.ENCODE_BATCH`; here,
with no event loop running, inside the `finish` call that completes a batch)
and sent by the export thread.

Cases:
- `off`: no exporter configured (metrics and costs only);
- `encode only`: tracing on, OTLP sender replaced by one that discards the
  body (so the figure is the request path plus the encoding, no I/O);
- `http/protobuf` and `grpc`: a real OTLP exporter to a receiver on loopback
  that discards what it gets. The receiver runs in a child process, as a
  collector would, so its CPU is not billed here.

Figures, per request, best (min) and median over `--rounds` rounds:
- `req`: CPU of the request's own thread (`time.thread_time`) for
  start+inject+finish;
- `export`: CPU of every other thread of this process (the export thread:
  HTTP or gRPC client) and of `force_flush`, measured until every span was
  handed to the receiver;
- `total`: the process's CPU for both. On the sidecar's single core this is
  what throughput pays.

`--ref REV` runs the same harness against the `proxy` package of a git
revision (extracted with `git archive` into a temporary directory; the
working tree and git state are untouched). `--compare REV` runs REV first,
then the working tree, and prints both.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRACE_BASE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_BASE = 0x00F067AA0BA902B7


# --- receivers (child processes) ----------------------------------------------------


def _serve_http(port_out) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web

    async def sink(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def main() -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/traces", sink)
        app.router.add_post("/v1/metrics", sink)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def _serve_grpc(port_out) -> None:  # type: ignore[no-untyped-def]
    from concurrent import futures

    import grpc

    def discard(request: bytes, context: object) -> bytes:
        return b""

    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(discard)},
    )
    metrics = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        {"Export": grpc.unary_unary_rpc_method_handler(discard)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=[("grpc.max_receive_message_length", -1)])
    server.add_generic_rpc_handlers((handler, metrics))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    port_out.send(port)
    threading.Event().wait()


def _start(target) -> tuple[multiprocessing.Process, int]:  # type: ignore[no-untyped-def]
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=target, args=(child,), daemon=True)
    proc.start()
    return proc, parent.recv()


# --- workload ----------------------------------------------------------------------------


def make_requests(n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    """(record, headers) pairs as the pipeline has them when it calls finish()."""
    from multidict import CIMultiDict

    from proxy.record import RequestRecord, Usage

    out = []
    now = time.time_ns()
    for i in range(seed, seed + n):
        headers = CIMultiDict(
            {
                "Host": "127.0.0.1:8080",
                "Content-Type": "application/json",
                "Authorization": "Bearer sk-test",
                "User-Agent": "OpenAI/Python 1.50.0",
                "Content-Length": "412",
            }
        )
        common: dict = {
            "request_id": f"req-{i:08x}", "method": "POST", "path": "/v1/chat/completions",
            "started": time.perf_counter(), "start_time_ns": now + i * 1000, "operation": "chat",
            "upstream": "openai", "status": 200, "upstream_request_id": f"chatcmpl-{i:012x}",
        }  # fmt: skip
        if i % 2:
            # The app's own trace: a distinct trace and parent id per request, as in real traffic.
            headers["traceparent"] = f"00-{TRACE_BASE ^ i:032x}-{SPAN_BASE ^ i:016x}-01"
            record = RequestRecord(
                **common, route="default", mode="passthrough", arm="control", requested_model="gpt-4o",
                model_used="gpt-4o", response_model="gpt-4o-2024-08-06", router_model="gpt-4o-mini",
                tier="simple", intent="faq", score=0.21 + (i % 7) / 100, stage="rules", classify_ms=0.05,
                usage=Usage(1200 + i % 300, 300 + i % 50, 200), finish_reason="stop",
                duration_ms=120.0 + i % 40, upstream_ms=110.0,
            )  # type: ignore[arg-type]  # fmt: skip
        else:
            record = RequestRecord(
                **common, route="support", mode="canary", arm="router", requested_model="gpt-4o",
                model_used="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18", router_model="gpt-4o-mini",
                tier="simple", intent="support", score=0.12 + (i % 5) / 100, stage="tfidf", classify_ms=0.4,
                usage=Usage(1000 + i % 200, 250 + i % 60, 0), finish_reason="stop", stream=True,
                first_chunk_ms=85.0 + i % 20, duration_ms=400.0 + i % 90, upstream_ms=390.0,
            )  # type: ignore[arg-type]  # fmt: skip
        out.append((record, headers))
    return out


class _NullSender:
    def send(self, signal: str, body: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def one_round(telemetry, n: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Warm-up: fill caches, open the exporter's connection."""
    from multidict import CIMultiDict

    for record, headers in make_requests(n, seed):
        span = telemetry.start(record, headers)
        span.inject(CIMultiDict())
        telemetry.finish(record, span)
    telemetry.force_flush()


def measure(telemetry, n: int, rounds: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from multidict import CIMultiDict

    # Request-thread CPU of the loop alone (force_flush excluded), and everything else.
    reqs, exports, totals = [], [], []
    one_round(telemetry, min(n, 4000), 10**7)  # warm caches, connections
    for r in range(rounds):
        work = make_requests(n, r * n)
        outs = [CIMultiDict() for _ in range(n)]
        gc.collect()
        start, finish = telemetry.start, telemetry.finish
        p0, t0 = time.process_time(), time.thread_time()
        for (record, headers), out in zip(work, outs):
            span = start(record, headers)
            span.inject(out)
            finish(record, span)
        t1 = time.thread_time()
        telemetry.force_flush()
        p1 = time.process_time()
        req = (t1 - t0) / n * 1e6
        total = (p1 - p0) / n * 1e6
        reqs.append(req)
        totals.append(total)
        exports.append(total - req)
    return {
        "req_min": min(reqs), "req_med": statistics.median(reqs),
        "export_min": min(exports), "export_med": statistics.median(exports),
        "total_min": min(totals), "total_med": statistics.median(totals),
    }  # fmt: skip


def run(n: int, rounds: int, cases: list[str]) -> dict[str, dict[str, float]]:
    from proxy.pricing import PriceTable
    from proxy.telemetry import Telemetry, TelemetrySettings

    prices = PriceTable.load()
    results: dict[str, dict[str, float]] = {}
    procs = []
    try:
        for case in cases:
            if case == "off":
                telemetry = Telemetry.create(None, prices, environ={})
            elif case == "encode":
                settings = TelemetrySettings(otlp_endpoint="http://127.0.0.1:9", protocol="http/protobuf", metrics=False)
                telemetry = Telemetry.create(settings, prices, environ={})
                telemetry._worker._sender = _NullSender()  # type: ignore[union-attr]
            else:
                proc, port = _start(_serve_http if case == "http" else _serve_grpc)
                procs.append(proc)
                protocol = "http/protobuf" if case == "http" else "grpc"
                settings = TelemetrySettings(otlp_endpoint=f"http://127.0.0.1:{port}", protocol=protocol)
                telemetry = Telemetry.create(settings, prices, environ={})
            try:
                results[case] = measure(telemetry, n, rounds)
            finally:
                asyncio.run(telemetry.shutdown())
    finally:
        for proc in procs:
            proc.kill()
    return results


LABELS = {
    "off": "off (no exporter)",
    "encode": "on, encode only (null sender)",
    "http": "on, OTLP http/protobuf loopback",
    "grpc": "on, OTLP grpc loopback",
}


def show(title: str, results: dict[str, dict[str, float]]) -> None:
    print(title)
    print(f"  {'case':34s} {'req us':>14s} {'export us':>14s} {'total us':>14s}   (min / median of rounds)")
    for case, r in results.items():
        print(
            f"  {LABELS[case]:34s} {r['req_min']:6.2f} /{r['req_med']:6.2f} {r['export_min']:6.2f} /{r['export_med']:6.2f}"
            f" {r['total_min']:6.2f} /{r['total_med']:6.2f}"
        )


def run_ref(ref: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """This harness in a child interpreter, importing `proxy` from git revision `ref`."""
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "proxy", "policies"], check=True,
                                 capture_output=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": tmp, "BENCH_TELEMETRY_JSON": "1"}
        cmd = [sys.executable, __file__, "-n", str(args.n), "--rounds", str(args.rounds), "--cases", args.cases]
        out = subprocess.run(cmd, env=env, cwd=tmp, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", default="off,encode,http,grpc")
    parser.add_argument("--ref", help="measure the proxy package of this git revision instead of the working tree")
    parser.add_argument("--compare", metavar="REV", help="measure REV, then the working tree")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    if os.environ.get("BENCH_TELEMETRY_JSON"):
        sys.path.insert(0, os.getcwd())
        print(json.dumps(run(args.n, args.rounds, cases)))
        return
    if args.ref:
        show(f"{args.ref}: {args.n} requests x {args.rounds} rounds, Python {sys.version.split()[0]}", run_ref(args.ref, args))
        return
    if args.compare:
        before = run_ref(args.compare, args)
        show(f"before ({args.compare}): {args.n} requests x {args.rounds} rounds", before)
    sys.path.insert(0, str(REPO))
    after = run(args.n, args.rounds, cases)
    show(f"working tree: {args.n} requests x {args.rounds} rounds, Python {sys.version.split()[0]}", after)
    if args.compare:
        print("  total CPU per request, before -> after (min):")
        for case in cases:
            print(f"  {LABELS[case]:34s} {before[case]['total_min']:6.2f} -> {after[case]['total_min']:6.2f} us")


if __name__ == "__main__":
    main()

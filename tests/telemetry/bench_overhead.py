"""Per-request cost of telemetry: start() + finish() with and without an OTLP exporter.

Not a test (pytest does not collect it). Run: `python -m tests.telemetry.bench_overhead [N]`.

The OTLP receiver runs in a child process, as a collector would, so its CPU
is not billed to the proxy. Two figures per case:
- `hot path`: wall time of start()+finish() on the request's own thread
  (what a request waits);
- `cpu/req`: this process's CPU time per request including the export
  thread's encoding and sending, measured until every span has been
  acknowledged (what throughput pays).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import statistics
import sys
import time

from proxy.pricing import PriceTable
from proxy.telemetry import Telemetry, TelemetrySettings
from proxy.telemetry.usage import SSETap
from tests.telemetry import records

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _serve(port_out: multiprocessing.connection.Connection) -> None:  # type: ignore[name-defined]
    from aiohttp import web

    async def sink(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", sink)
        app.router.add_post("/v1/metrics", sink)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def _serve_grpc(port_out: multiprocessing.connection.Connection) -> None:  # type: ignore[name-defined]
    import threading

    from tests.telemetry.receiver import Received, grpc_server

    class Discard(Received):
        def __init__(self) -> None:
            super().__init__()
            self.traces = self.metrics = self.headers = _Sink()  # type: ignore[assignment]

    _, port = grpc_server(Discard())
    port_out.send(port)
    threading.Event().wait()


class _Sink(list):  # type: ignore[type-arg]
    def append(self, item: object) -> None:
        pass


def run(telemetry: Telemetry, n: int) -> tuple[float, float, float]:
    recs = [records.canary() if i % 2 else records.shadow_primary() for i in range(n)]
    headers = [{"traceparent": TRACEPARENT} if i % 2 else {} for i in range(n)]
    lat = []
    gc.collect()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    pc = time.perf_counter
    for r, h in zip(recs, headers, strict=True):
        t0 = pc()
        span = telemetry.start(r, h)
        span.inject({})
        telemetry.finish(r, span)
        lat.append(pc() - t0)
    hot = time.perf_counter() - wall0
    telemetry.force_flush()
    cpu = time.process_time() - cpu0
    return hot / n * 1e6, statistics.median(lat) * 1e6, cpu / n * 1e6


def bench_sse(n_chunks: int = 20000) -> float:
    chunk = (
        b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",'
        b'"choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}],"usage":null}\n\n'
    )
    tap = SSETap(hide_usage_chunk=True)
    t0 = time.perf_counter()
    for _ in range(n_chunks):
        tap.feed(chunk)
    return (time.perf_counter() - t0) / n_chunks * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    prices = PriceTable.load()
    parent, child = multiprocessing.Pipe()
    receiver = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
    receiver.start()
    port = parent.recv()
    grpc_parent, grpc_child = multiprocessing.Pipe()
    grpc_receiver = multiprocessing.Process(target=_serve_grpc, args=(grpc_child,), daemon=True)
    grpc_receiver.start()
    grpc_port = grpc_parent.recv()
    try:
        off = Telemetry.create(None, prices, environ={})
        run(off, 2000)  # warm caches
        cases = {"off (no exporter)": off}
        for protocol, target in (("http/protobuf", port), ("grpc", grpc_port)):
            settings = TelemetrySettings(
                otlp_endpoint=f"http://127.0.0.1:{target}", protocol=protocol, span_batch_delay_s=0.2
            )
            cases[f"on ({protocol} to loopback)"] = Telemetry.create(settings, prices, environ={})
        print(f"{n} requests each, Python {sys.version.split()[0]}")
        for name, telemetry in cases.items():
            run(telemetry, 2000)
            mean, p50, cpu = run(telemetry, n)
            print(f"{name:32s} hot path mean {mean:6.1f} us  p50 {p50:6.1f} us  cpu/req incl. export {cpu:6.1f} us")
            asyncio.run(telemetry.shutdown())
        print(f"SSE tap per chunk (hide_usage_chunk, text kept): {bench_sse():.2f} us")
    finally:
        receiver.kill()
        grpc_receiver.kill()


if __name__ == "__main__":
    main()

"""A closed-loop HTTP load generator (aiohttp client on uvloop), run as its own process.

`compare.py` uses it for streaming time-to-first-chunk (wrk cannot see inside a
response) and, when wrk is not installed, for latency and throughput too.

    python bench/loadgen.py --url URL --bodies-file BODIES.jsonl --concurrency 10 \
        --duration 3 --max-requests 100000 [--stream] [--warmup 20] [--header K:V]

Each of `--concurrency` workers sends one request at a time over a keep-alive
connection, until `--duration` seconds or `--max-requests` requests, whichever
comes first. Latency is measured from just before the request is sent until
the whole body is read; with `--stream`, the time to the first body chunk (the
first SSE event) is measured too. Prints one JSON object on stdout; times are
microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time

import aiohttp


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def summarize(values_ns: list[int], prefix: str) -> dict[str, float | None]:
    us = sorted(v / 1000 for v in values_ns)
    out: dict[str, float | None] = {f"{prefix}p{q}_us": percentile(us, q) for q in (50, 90, 99)}
    out[f"{prefix}max_us"] = us[-1] if us else None
    out[f"{prefix}mean_us"] = sum(us) / len(us) if us else None
    return out


async def run(args: argparse.Namespace) -> dict:
    with open(args.bodies_file, "rb") as f:
        bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    turn = [0]
    headers = {"Content-Type": "application/json"}
    for h in args.header:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    latencies: list[int] = []
    ttfbs: list[int] = []
    chunks: list[int] = []
    errors: dict[str, int] = {}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:

        async def one(record: bool) -> None:
            body = bodies[turn[0] % len(bodies)]
            turn[0] += 1
            t0 = time.perf_counter_ns()
            first = 0
            n = 0
            try:
                async with session.post(args.url, data=body, headers=headers) as resp:
                    if args.stream:
                        while True:
                            data = await resp.content.readany()
                            if not data:
                                break
                            if not first:
                                first = time.perf_counter_ns()
                            n += 1
                    else:
                        await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            t1 = time.perf_counter_ns()
            if status != 200:
                errors[f"status_{status}"] = errors.get(f"status_{status}", 0) + 1
                return
            if record:
                latencies.append(t1 - t0)
                if args.stream:
                    ttfbs.append((first or t1) - t0)
                    chunks.append(n)

        for _ in range(args.warmup):
            await one(False)
        budget = [args.max_requests]
        deadline = time.perf_counter() + args.duration

        async def worker() -> None:
            while budget[0] > 0 and time.perf_counter() < deadline:
                budget[0] -= 1
                await one(True)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - start
    out: dict = {
        "tool": "loadgen.py",
        "concurrency": args.concurrency,
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "duration_s": elapsed,
        "rps": len(latencies) / elapsed if elapsed > 0 else 0.0,
    }
    out.update(summarize(latencies, ""))
    if args.stream:
        out.update(summarize(ttfbs, "ttfb_"))
        out["chunks_mean"] = sum(chunks) / len(chunks) if chunks else None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--bodies-file", required=True, help="one JSON request body per line, sent in turn")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--max-requests", type=int, default=100_000)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--stream", action="store_true")
    p.add_argument("--header", action="append", default=[])
    args = p.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`llm-router demo`: see the router work end to end, offline, in well under a minute."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import orjson

DEFAULT_TRAFFIC = Path(__file__).resolve().parents[2] / "examples" / "traffic.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=None, metavar="N",
                        help="send only the first N requests of the traffic file (default: all)")
    parser.add_argument("--traffic", type=Path, default=DEFAULT_TRAFFIC,
                        help="JSONL of OpenAI chat requests (default: the bundled examples/traffic.jsonl)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="write the config, shadow log and sidecar logs here and keep them")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")


def load_rows(path: Path, limit: int | None) -> list[dict]:
    rows = []
    with open(path, "rb") as stream:
        for line in stream:
            if limit is not None and len(rows) >= limit:
                break
            if line.strip():
                row = orjson.loads(line)
                if isinstance(row, dict) and isinstance(row.get("model"), str) and isinstance(row.get("messages"), list):
                    rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    from proxy.demo.runner import run_demo
    from proxy.demo.summary import render

    try:
        import openai  # noqa: F401 - the demo drives the sidecar with the official SDK
    except ImportError:
        print("llm-router demo needs the openai package: pip install openai", file=sys.stderr)
        return 2
    if not args.traffic.is_file():
        print(f"llm-router demo: {args.traffic} does not exist", file=sys.stderr)
        return 2
    try:
        rows = load_rows(args.traffic, args.requests)
    except orjson.JSONDecodeError as exc:
        print(f"llm-router demo: {args.traffic} is not JSONL of chat requests: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"llm-router demo: no chat requests in {args.traffic}", file=sys.stderr)
        return 2
    print(f"llm-router demo: {len(rows)} requests from {args.traffic}, sent twice (shadow, then canary) "
          "through the real sidecar to a SIMULATED OpenAI upstream on loopback", file=sys.stderr)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        workdir, cleanup = args.keep.resolve(), None
    else:
        workdir = Path(tempfile.mkdtemp(prefix="llm-router-demo-"))
        cleanup = workdir
    try:
        result = asyncio.run(run_demo(rows, workdir, concurrency=args.concurrency,
                                      overhead_n=min(100, len(rows))))
        if args.keep is not None:
            with open(workdir / "simulated_upstream.jsonl", "wb") as out:
                for served in result.upstream.served:
                    out.write(orjson.dumps({"phase": served.phase, "model": served.model, "simulated": True,
                                            "input_tokens": served.usage.input_tokens,
                                            "output_tokens": served.usage.output_tokens}) + b"\n")
        print(render(result, kept=args.keep is not None))
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
    return 0

"""`llm-router classify TEXT` or `--input IN.jsonl --output OUT.jsonl`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

from proxy.classifier.commands.common import (
    USER_ERRORS,
    add_policy_argument,
    fail,
    load_classifier,
)
from proxy.classifier.datasets import read_batch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="one prompt to classify")
    parser.add_argument("--input", type=Path, help="JSONL batch: each line has `id` and `text` or `messages`")
    parser.add_argument("--output", type=Path, help="where to write the batch results (default: stdout)")
    add_policy_argument(parser)


def _record(result, latency_ms: float) -> dict:
    return {"tier": result.tier, "score": result.score, "intent": result.intent,
            "stage": result.stage, "latency_ms": round(latency_ms, 3)}


def run(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.input is None):
        return fail("give either TEXT or --input IN.jsonl (not both)")
    try:
        rows = read_batch(args.input) if args.input else None
        classifier = load_classifier(args)
    except USER_ERRORS as exc:
        return fail(exc)
    try:
        if rows is None:
            start = time.perf_counter()
            result = classifier.classify_row({"text": args.text})
            print(orjson.dumps(_record(result, (time.perf_counter() - start) * 1000)).decode())
            return 0
        lines = []
        for row in rows:
            start = time.perf_counter()
            result = classifier.classify_row(row.data)
            lines.append(orjson.dumps({"id": row.data["id"],
                                       **_record(result, (time.perf_counter() - start) * 1000)}))
        payload = b"".join(line + b"\n" for line in lines)
        if args.output:
            args.output.write_bytes(payload)
        else:
            sys.stdout.write(payload.decode())
        return 0
    finally:
        classifier.close()

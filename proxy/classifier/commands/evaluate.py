"""`llm-router eval --data LABELED.jsonl [--outcomes OUT.jsonl] [--json]`.

Tier metrics on labeled data (accuracy, macro-F1, per-tier precision and
recall, confusion matrix, dangerous misroutes, latency), and with
`--outcomes` the RouteLLM cost-quality sweep for a strong/weak model pair.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from proxy.classifier.commands.common import (
    USER_ERRORS,
    add_policy_argument,
    fail,
    load_classifier,
)
from proxy.classifier.datasets import DataError, read_labeled, read_outcomes
from proxy.classifier.metrics import find_model, percentile, routing_curve, tier_metrics
from proxy.classifier.tfidf_model import TIERS

DEFAULT_STRONG = "gpt-4-1106-preview"
DEFAULT_WEAK = "mixtral-8x7b-chat"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, help="labeled JSONL: id, text or messages, tier")
    parser.add_argument("--outcomes", type=Path, action="append", default=[],
                        help="outcome JSONL (per-model score and cost); repeatable")
    parser.add_argument("--strong", default=DEFAULT_STRONG, help=f"strong model (default {DEFAULT_STRONG})")
    parser.add_argument("--weak", default=DEFAULT_WEAK, help=f"weak model (default {DEFAULT_WEAK})")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    add_policy_argument(parser)


def _timed(classifier, rows: list[dict[str, Any]]) -> tuple[list, list[float]]:
    results, latencies = [], []
    for row in rows:
        start = time.perf_counter()
        results.append(classifier.classify_row(row))
        latencies.append((time.perf_counter() - start) * 1000)
    return results, latencies


def _latency(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(latencies, 50), 4), "p99_ms": round(percentile(latencies, 99), 4)}


def evaluate_labeled(classifier, path: Path) -> dict[str, Any]:
    rows = [r.data for r in read_labeled(path)]
    results, latencies = _timed(classifier, rows)
    report = tier_metrics([r["tier"] for r in rows], [x.tier for x in results])
    report["latency"] = _latency(latencies)
    report["stages"] = {s: sum(x.stage == s for x in results) for s in ("rules", "tfidf", "embedding")}
    by_source: dict[str, list[str]] = {}
    for row, result in zip(rows, results):
        if "source" in row:
            by_source.setdefault(str(row["source"]), []).append(result.tier)
    report["by_source"] = {s: {t: round(v.count(t) / len(v), 4) for t in TIERS} for s, v in by_source.items()}
    return report


def _cost(row: dict[str, Any], model: str, cell: dict[str, Any]) -> float:
    """The recorded call cost, else the prompt's input cost from `prices_per_mtok` (a lower bound)."""
    if isinstance(cell.get("cost_usd"), (int, float)):
        return float(cell["cost_usd"])
    prices = (row.get("prices_per_mtok") or {}).get(model)
    tokens = row.get("est_prompt_tokens")
    if isinstance(prices, dict) and isinstance(tokens, (int, float)):
        return float(tokens) * float(prices.get("input") or 0.0) / 1e6
    return 0.0


def evaluate_outcomes(classifier, path: Path, strong: str, weak: str) -> dict[str, Any]:
    rows = read_outcomes(path)
    scores, s_q, w_q, s_c, w_c = [], [], [], [], []
    for row in rows:
        results = row.data["results"]
        names = find_model(results, strong), find_model(results, weak)
        if None in names:
            missing = strong if names[0] is None else weak
            raise DataError(f"{path}:{row.line}: no results for model {missing!r}; "
                            f"pick one of {', '.join(sorted(results))} with --strong/--weak")
        cells = [results[n] for n in names]
        if any(not isinstance(c, dict) or not isinstance(c.get("score"), (int, float)) for c in cells):
            continue  # a model without a score on this prompt: the pair cannot be compared
        scores.append(classifier.classify_row(row.data).score)
        s_q.append(float(cells[0]["score"]))
        w_q.append(float(cells[1]["score"]))
        s_c.append(_cost(row.data, names[0], cells[0]))
        w_c.append(_cost(row.data, names[1], cells[1]))
    if not scores:
        raise DataError(f"{path}: no row has scores for both {strong} and {weak}")
    curve = routing_curve(*(np.asarray(a, dtype=np.float64) for a in (scores, s_q, w_q, s_c, w_c)))
    return {"file": str(path), "strong": strong, "weak": weak, **curve}


def _print_labeled(report: dict[str, Any]) -> None:
    print(f"rows: {report['n']}  accuracy: {report['accuracy']:.4f}  macro-F1: {report['macro_f1']:.4f}")
    print(f"dangerous misroutes (complex -> simple): {report['dangerous_misroutes']} "
          f"= {report['dangerous_misroute_rate'] * 100:.2f} % of complex")
    print("tier       precision  recall  f1      support")
    for tier, m in report["per_tier"].items():
        print(f"{tier:10s} {m['precision']:.4f}     {m['recall']:.4f}  {m['f1']:.4f}  {m['support']}")
    print("confusion (rows = truth, columns = predicted: simple standard complex)")
    for tier, line in zip(TIERS, report["confusion"]["matrix"]):
        print(f"  {tier:10s} " + " ".join(f"{v:8d}" for v in line))
    print(f"latency per request: p50 {report['latency']['p50_ms']:.3f} ms, p99 {report['latency']['p99_ms']:.3f} ms")
    print("deciding stage: " + ", ".join(f"{k} {v}" for k, v in report["stages"].items()))


def _print_outcomes(report: dict[str, Any]) -> None:
    print(f"\n{report['file']}: strong={report['strong']} weak={report['weak']} rows={report['n']}")
    print(f"quality weak {report['quality_weak']:.4f}, strong {report['quality_strong']:.4f}")
    if report["apgr"] is None:
        print(report["note"])
        return
    cpt = {k: "n/a" if report[k] is None else f"{report[k]:.1f} %" for k in ("cpt50", "cpt80")}
    print(f"APGR {report['apgr']:.4f} (random = 0.5)  CPT(50%) {cpt['cpt50']}  CPT(80%) {cpt['cpt80']}")
    print("strong calls  quality  PGR     cost/call USD")
    for p in report["curve"]:
        print(f"{p['strong_pct']:10.1f} %  {p['quality']:.4f}  {p['pgr']:+.3f}  {p['cost_per_call']:.6f}")


def run(args: argparse.Namespace) -> int:
    if args.data is None and not args.outcomes:
        return fail("give --data LABELED.jsonl and/or --outcomes OUTCOMES.jsonl")
    try:
        classifier = load_classifier(args)
    except USER_ERRORS as exc:
        return fail(exc)
    try:
        report: dict[str, Any] = {}
        if args.data:
            report["labeled"] = evaluate_labeled(classifier, args.data)
        if args.outcomes:
            report["outcomes"] = [evaluate_outcomes(classifier, p, args.strong, args.weak) for p in args.outcomes]
    except USER_ERRORS as exc:
        return fail(exc)
    finally:
        classifier.close()
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return 0
    if "labeled" in report:
        _print_labeled(report["labeled"])
    for item in report.get("outcomes", []):
        _print_outcomes(item)
    return 0

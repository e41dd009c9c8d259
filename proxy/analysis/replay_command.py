"""`llm-router replay TRAFFIC.jsonl`: what the router would have saved on this traffic, offline."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson
import yaml

from proxy.analysis.progress import Progress
from proxy.analysis.replay import OUTPUT_TOKENS, Setup, replay

SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("traffic", type=Path, help="JSONL: one OpenAI chat request body per line, optional \"usage\"")
    parser.add_argument("-c", "--config", type=Path, default=None,
                        help="proxy.yaml whose policy to apply (default: ./proxy.yaml if present)")
    parser.add_argument("--report", type=Path, default=None, metavar="FILE.html", help="also write an HTML report")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--stages", default=None,
                        help="classifier stages, e.g. rules,tfidf (default: the policy's, without embedding)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: one per core for files over 8 MB, else 1)")
    parser.add_argument("--outcomes", type=Path, default=None, metavar="OUTCOMES.jsonl",
                        help="routing outcomes (per-model scores per prompt) for a cost-vs-quality curve")
    parser.add_argument("--outcome-models", default=None, metavar="CHEAP,STRONG",
                        help="model names in the outcomes file (default: the simple and standard tiers' models)")
    parser.add_argument("--output-tokens", default=None, metavar="simple=N,standard=N,complex=N",
                        help="completion tokens assumed per tier for rows without usage (default 100/300/600)")


def policy_for(config: Path | None) -> tuple[Path, str]:
    """The policy file to apply, and a sentence saying where it came from."""
    if config is None and Path("proxy.yaml").is_file():
        config = Path("proxy.yaml")
    if config is None:
        return SHIPPED_POLICY, f"no proxy.yaml here: using the shipped policy {SHIPPED_POLICY}"
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    named = data.get("policy") if isinstance(data, dict) else None
    if not named:
        return SHIPPED_POLICY, f"{config} names no policy: using the shipped policy {SHIPPED_POLICY}"
    path = Path(named) if Path(named).is_absolute() else config.parent / named
    return path, f"policy {path} (from {config})"


def _output_tokens(spec: str | None) -> dict[str, int]:
    tokens = dict(OUTPUT_TOKENS)
    for item in filter(None, (spec or "").split(",")):
        tier, _, n = item.partition("=")
        if tier.strip() not in tokens or not n.strip().isdigit():
            raise ValueError(f"--output-tokens {spec!r}: write it as simple=100,standard=300,complex=600")
        tokens[tier.strip()] = int(n)
    return tokens


def run(args: argparse.Namespace) -> int:
    from proxy.analysis import replay_output
    from proxy.analysis.html_report import write
    from proxy.config import ConfigError
    from proxy.config.loader import load_policy

    if not args.traffic.is_file():
        print(f"llm-router replay: {args.traffic} does not exist", file=sys.stderr)
        return 2
    try:
        policy_path, where = policy_for(args.config)
        policy = load_policy(policy_path)
        tokens = _output_tokens(args.output_tokens)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        print(f"llm-router replay: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"llm-router replay: {exc}", file=sys.stderr)
        return 2
    stages = tuple(args.stages.split(",")) if args.stages else tuple(
        s for s in policy.classifier.stages if s != "embedding")
    outcome_models = None
    if args.outcome_models:
        names = [n.strip() for n in args.outcome_models.split(",")]
        if len(names) != 2 or not all(names):
            print("llm-router replay: --outcome-models takes two names: CHEAP,STRONG", file=sys.stderr)
            return 2
        outcome_models = (names[0], names[1])
    if args.outcomes is not None and not args.outcomes.is_file():
        print(f"llm-router replay: {args.outcomes} does not exist", file=sys.stderr)
        return 2
    setup = Setup(policy_path.resolve(), stages, tokens, args.outcomes.resolve() if args.outcomes else None,
                  outcome_models)
    started = time.perf_counter()
    with Progress(args.traffic.stat().st_size, f"replay {args.traffic.name}", unit="rows") as bar:
        totals = replay(args.traffic, setup, workers=args.workers,
                        on_chunk=lambda nbytes, nlines: bar.advance(nbytes, nlines))
    elapsed = time.perf_counter() - started
    token_note = (f"Tokens: {totals.requests - totals.estimated_input:,} rows carried usage; "
                  f"{totals.estimated_input:,} were estimated (input: counted locally with tiktoken; output: "
                  f"{tokens['simple']}/{tokens['standard']}/{tokens['complex']} tokens for simple/standard/complex, "
                  "capped by max_tokens; the same count is priced for both strategies).")
    meta = {"file": str(args.traffic), "policy": str(policy_path), "policy_note": where, "stages": list(stages),
            "output_tokens": tokens, "token_note": token_note,
            "outcomes": str(args.outcomes) if args.outcomes else None,
            "outcome_models": list(outcome_models or (policy.tiers.simple.model, policy.tiers.standard.model)), "elapsed_s": round(elapsed, 3),
            "rows_per_s": round(totals.lines / elapsed) if elapsed > 0 else None}
    for message in totals.bad.lines(str(args.traffic)):
        print(message, file=sys.stderr)
    printed = replay_output.text(totals, meta)
    if args.json:
        sys.stdout.write(orjson.dumps(replay_output.to_json(totals, meta), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        skipped = "" if "embedding" in stages else " (embedding stage skipped offline: milliseconds per row; --stages to include it)"
        print(f"replay of {args.traffic}: {totals.requests:,} requests, {where}")
        print(f"classifier stages: {', '.join(stages)}{skipped}")
        print(token_note)
        if totals.unpriced:
            print(f"{totals.unpriced:,} request(s) left out: no price for {', '.join(totals.unpriced_models)}; "
                  "add them under `prices:` in the policy")
        if totals.bad.count:
            print(f"{totals.bad.count:,} malformed line(s) skipped (listed on stderr)")
        print()
        print(printed)
        print(f"replayed {totals.lines:,} lines in {elapsed:.2f} s ({meta['rows_per_s'] or 0:,} rows/s)")
    if args.report is not None:
        write(args.report, replay_output.html(totals, meta, printed))
        print(f"HTML report: {args.report}", file=sys.stderr)
    return 0

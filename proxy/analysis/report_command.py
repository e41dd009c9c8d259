"""`llm-router report SHADOW.jsonl`: is the router's choice good enough, and what would it save?"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from proxy.analysis.jsonl import chunks, parse_object
from proxy.analysis.progress import Progress
from proxy.analysis.shadow_report import Rule, ShadowTotals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shadow_log", type=Path, help="the sidecar's shadow log (JSONL, shadow.log in proxy.yaml)")
    parser.add_argument("--report", type=Path, default=None, metavar="FILE.html", help="also write an HTML report")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--similarity", type=float, default=Rule.similarity,
                        help="similarity that counts as agreement (default %(default)s)")
    parser.add_argument("--min-samples", type=int, default=Rule.min_samples,
                        help="shadowed requests needed before recommending (default %(default)s)")
    parser.add_argument("--shadow-share", type=float, default=100.0, metavar="PERCENT",
                        help="percent of the route's traffic that was shadowed, to project full volume (default 100)")


def read(path: Path) -> ShadowTotals:
    totals = ShadowTotals()
    with open(path, "rb") as stream, Progress(path.stat().st_size, f"report {path.name}", unit="records") as bar:
        for first, lines, nbytes in chunks(stream):
            for offset, line in enumerate(lines):
                if not line.strip():
                    continue
                totals.lines += 1
                record, why = parse_object(line)
                if record is None:
                    totals.bad.add(first + offset, why or "unreadable")
                else:
                    totals.add(first + offset, record)
            bar.advance(nbytes, len(lines))
    return totals


def run(args: argparse.Namespace) -> int:
    from proxy.analysis import report_output
    from proxy.analysis.html_report import write

    if not args.shadow_log.is_file():
        print(f"llm-router report: {args.shadow_log} does not exist", file=sys.stderr)
        return 2
    if not 0 < args.shadow_share <= 100:
        print("llm-router report: --shadow-share is a percent between 0 and 100", file=sys.stderr)
        return 2
    rule = Rule(similarity=args.similarity, min_samples=args.min_samples)
    totals = read(args.shadow_log)
    meta = {"file": str(args.shadow_log), "shadow_share": args.shadow_share / 100}
    for message in totals.bad.lines(str(args.shadow_log)):
        print(message, file=sys.stderr)
    printed = report_output.text(totals, rule, meta)
    if args.json:
        sys.stdout.write(orjson.dumps(report_output.to_json(totals, rule, meta), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        span = (f" from {totals.first_ts:%Y-%m-%d %H:%M:%S} to {totals.last_ts:%Y-%m-%d %H:%M:%S} UTC"
                if totals.first_ts and totals.last_ts else "")
        print(f"shadow log {args.shadow_log}: {totals.records:,} records{span}"
              + (f"; {totals.bad.count:,} malformed line(s) skipped (listed on stderr)" if totals.bad.count else ""))
        print()
        print(printed, end="")
    if args.report is not None:
        write(args.report, report_output.html(totals, rule, meta, printed))
        print(f"HTML report: {args.report}", file=sys.stderr)
    return 0

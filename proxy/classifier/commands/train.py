"""`llm-router train --data TRAIN.jsonl [--dev DEV.jsonl] [--out policies/models]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from proxy.classifier.commands.common import USER_ERRORS, fail

DEFAULT_EXEMPLARS = Path("policies/exemplars/exemplars.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="labeled training JSONL")
    parser.add_argument("--dev", type=Path, help="labeled dev JSONL: calibration and reported metrics")
    parser.add_argument("--out", type=Path, default=Path("policies/models"), help="artifact folder")
    parser.add_argument("--exemplars", type=Path, default=DEFAULT_EXEMPLARS,
                        help="exemplar prompts per tier (embedding stage and extra training rows)")
    parser.add_argument("--outcomes", type=Path, action="append", default=[],
                        help="routing outcome JSONL to derive extra labels from (repeatable)")
    parser.add_argument("--C", dest="c", type=float, default=2.0, help="inverse L2 strength of the LR")
    parser.add_argument("--no-holdout", action="store_true",
                        help="skip the source-held-out validation (faster; calibration uses dev only)")


def run(args: argparse.Namespace) -> int:
    # Imported here: scikit-learn is only needed when training.
    from proxy.classifier.build import train

    exemplars = args.exemplars if args.exemplars and args.exemplars.exists() else None
    try:
        metadata = train(args.data, args.dev, args.out, exemplars, list(args.outcomes),
                         c=args.c, holdout=not args.no_holdout)
    except (*USER_ERRORS, ValueError) as exc:
        return fail(exc)
    thresholds = metadata["calibration"]["thresholds"]
    print(f"wrote {args.out} (simple < {thresholds['simple']}, complex >= {thresholds['complex']})")
    return 0

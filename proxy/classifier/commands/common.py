"""Pieces the classifier commands share: the --policy option and error reporting."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from proxy.classifier.artifacts import ArtifactError
from proxy.classifier.cascade import Classifier
from proxy.classifier.datasets import DataError
from proxy.classifier.policy_file import PolicyError, load_settings

# Errors a user can fix from the message alone: printed as one line, exit 1.
USER_ERRORS = (DataError, PolicyError, ArtifactError)


def add_policy_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy", type=Path, default=None,
        help="policy file whose `classifier:` section to use "
             "(default: policies/default.yaml if present, else built-in defaults)",
    )


def load_classifier(args: argparse.Namespace) -> Classifier:
    settings, base_dir = load_settings(args.policy)
    return Classifier.load(settings, base_dir)


def fail(message: object) -> int:
    print(f"llm-router: error: {message}", file=sys.stderr)
    return 1

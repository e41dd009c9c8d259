"""`llm-router check`: validate proxy.yaml and the policy it names."""

from __future__ import annotations

import argparse
import sys

from proxy.commands.serve import add_config_argument as add_arguments
from proxy.config import ConfigError, load

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace) -> int:
    try:
        loaded = load(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
        return 1
    config = loaded.config
    policy = f", policy {loaded.policy_path}" if loaded.policy_path else ""
    print(f"{loaded.config_path}: ok ({len(config.routes)} route(s), {len(config.upstreams)} upstream(s){policy})")
    return 0

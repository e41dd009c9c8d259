"""`llm-router serve`: run the sidecar."""

from __future__ import annotations

import argparse
import asyncio
import sys

from proxy.config import ConfigError, load

DEFAULT_CONFIG = "proxy.yaml"


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="config file (default: %(default)s)")


add_arguments = add_config_argument


def run(args: argparse.Namespace) -> int:
    from proxy import logs

    try:
        loaded = load(args.config)
    except ConfigError as exc:
        print(f"llm-router: cannot start, the config has problems:\n{exc}", file=sys.stderr)
        return 1
    logs.configure(loaded.config.logging.level)
    from proxy.server import serve

    try:
        import uvloop
    except ImportError:  # uvloop is optional (not built for every platform); asyncio's loop works too
        return asyncio.run(serve(loaded))
    return uvloop.run(serve(loaded))

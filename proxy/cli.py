"""The `llm-router` command line.

Each command lives in its own module and is imported only when it runs, so
`llm-router serve` never pays for the training or reporting code. A command
module exposes `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("proxy.commands.serve", "run the sidecar"),
    "check": ("proxy.commands.check", "validate proxy.yaml and the policy it names"),
    "schema": ("proxy.commands.schema", "print the JSON Schema of proxy.yaml or of the policy file"),
    "classify": ("proxy.classifier.commands.classify", "classify one text or a JSONL batch"),
    "train": ("proxy.classifier.commands.train", "train and export the complexity classifier"),
    "eval": ("proxy.classifier.commands.evaluate", "evaluate the classifier on labeled data"),
    "replay": ("proxy.analysis.replay_command", "offline what-if: the savings table for a traffic file"),
    "report": ("proxy.analysis.report_command", "analyse a shadow log: agreement, diffs, projected savings"),
    "demo": ("proxy.demo.command", "see the router work end to end against a simulated upstream"),
    "ca": ("proxy.interception.command", "create the interception CA and the trust bundle"),
    "webhook": ("proxy.webhook.command", "run the Kubernetes mutating admission webhook"),
}


def build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-router",
        description="A sidecar that routes OpenAI traffic to cheaper models by request complexity.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

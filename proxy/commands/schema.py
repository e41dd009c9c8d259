"""`llm-router schema`: the JSON Schema of proxy.yaml or of the policy file, generated from the schema code."""

from __future__ import annotations

import argparse

import orjson


def generate(kind: str) -> dict[str, object]:
    if kind == "policy":
        from proxy.config.policy import Policy

        schema = Policy.model_json_schema()
        schema["title"] = "llm-router policy"
    else:
        from proxy.config.schema import ProxyConfig

        schema = ProxyConfig.model_json_schema()
        schema["title"] = "llm-router proxy.yaml"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render(kind: str) -> bytes:
    return orjson.dumps(generate(kind), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", choices=["proxy", "policy"], default="proxy")
    parser.add_argument("--out", help="write to this file instead of standard output")


def run(args: argparse.Namespace) -> int:
    data = render(args.kind)
    if args.out:
        with open(args.out, "wb") as f:
            f.write(data)
    else:
        print(data.decode(), end="")
    return 0

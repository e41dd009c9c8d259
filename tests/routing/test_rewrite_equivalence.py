"""The C-level depth scan of `with_model` gives the bytes the byte-by-byte scan gave.

`reference_with_model` is the implementation `with_model` replaced (a loop
over the bytes before each candidate key). Both must agree on every bundled
traffic request, written the ways clients write JSON, and on generated
bodies full of nested `model` keys, brackets, quotes and escapes inside
strings. The one intended difference is a candidate that starts inside a
string (a key ending in `\\"model`), which the old scan took for the
top-level key.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.routing.rewrite import _depth_at, with_model

ROOT = Path(__file__).resolve().parents[2]
_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')


def reference_depth_at(body: bytes, end: int) -> tuple[int, bool]:
    depth = 0
    in_string = False
    escaped = False
    for byte in body[:end]:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):
            depth += 1
        elif byte in (0x7D, 0x5D):
            depth -= 1
    return depth, in_string


def reference_with_model(body: bytes, payload: dict[str, Any], model: str) -> bytes:
    encoded = orjson.dumps(model)
    for match in _MODEL.finditer(body):
        if match.start() > 64 * 1024:
            break
        if reference_depth_at(body, match.start())[0] == 1:
            key_end = body.index(b":", match.start()) + 1
            value_start = body.index(b'"', key_end)
            return body[:value_start] + encoded + body[match.end():]
    return orjson.dumps({**payload, "model": model})


def encodings(payload: dict[str, Any]) -> list[bytes]:
    """The ways apps write the same request: compact, spaced, indented, ASCII-escaped, model last."""
    model_last = {k: v for k, v in payload.items() if k != "model"}
    if "model" in payload:
        model_last["model"] = payload["model"]
    return [
        orjson.dumps(payload),
        orjson.dumps(model_last),
        json.dumps(payload).encode(),
        json.dumps(model_last, ensure_ascii=False).encode(),
        json.dumps(model_last, indent=2).encode(),
        json.dumps(payload, separators=(",", " : ")).encode(),
    ]


def traffic() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (ROOT / "examples" / "traffic.jsonl").read_bytes().splitlines()]


TRICKY_STRINGS = ['say "model": "x"', '{"model": "nested"}', "]]}}[[{{", "back\\slash\\", '\\"model\\"',
                  "tab\tnew\nline", "ünïcødé ✓ \u2028", '"', "\\", "model", "", '"model":"gpt-4o"']


def random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.random()
    if depth > 3 or kind < 0.35:
        return rng.choice([rng.choice(TRICKY_STRINGS), rng.randint(-5, 10**6), rng.random(), True, None])
    if kind < 0.65:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["model", "messages", "content", "x", rng.choice(TRICKY_STRINGS), "say \\\"model"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def generated(n: int) -> list[dict[str, Any]]:
    rng = random.Random(20240611)
    out = []
    for _ in range(n):
        payload = {key: random_value(rng, 1) for key in rng.sample(["metadata", "messages", "tools", "x"], 3)}
        if rng.random() < 0.9:
            payload["model"] = rng.choice(["gpt-4o", "o1", 'we"ird\\model', "ünï"])
        out.append(payload)
    return out


def test_same_bytes_as_the_byte_scan_on_the_bundled_traffic():
    checked = 0
    for payload in traffic():
        for body in encodings(payload):
            for model in ("gpt-4o-mini", 'quote"and\\slash', "ünïcødé"):
                assert with_model(body, payload, model) == reference_with_model(body, payload, model)
                checked += 1
    assert checked == 300 * 6 * 3


def test_same_bytes_as_the_byte_scan_on_generated_bodies():
    in_place = 0
    for payload in generated(400):
        re_encoded = orjson.dumps({**payload, "model": "gpt-4o-mini"})
        for body in encodings(payload):
            assert orjson.loads(body) == payload
            out = with_model(body, payload, "gpt-4o-mini")
            assert out == reference_with_model(body, payload, "gpt-4o-mini")
            in_place += out != re_encoded
    assert in_place > 1000  # most bodies were rewritten in place, not re-encoded


def test_depth_matches_the_byte_scan_at_every_quote():
    for payload in generated(150) + traffic()[:50]:
        for body in encodings(payload):
            for position in (m.start() for m in re.finditer(rb'"', body)):
                depth, in_string = reference_depth_at(body, position)
                assert _depth_at(body, position) == (-1 if in_string else depth), (body, position)


@pytest.mark.parametrize("body", [
    b'{"say \\"model": "x", "model": "gpt-4o"}',
    b'{"a": {"b \\"model" : "keep"}, "model":"gpt-4o"}',
])
def test_a_key_ending_in_an_escaped_model_is_not_the_model_key(body):
    # The byte scan took the escaped `"model"` inside the first key for the top-level key and changed
    # that key's value instead; only the real top-level value may change.
    out = with_model(body, orjson.loads(body), "gpt-4o-mini")
    assert out == body.replace(b'"gpt-4o"', b'"gpt-4o-mini"')

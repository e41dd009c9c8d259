"""The traceparent parser (a regex, and a by-position fast path for the usual header) accepts and
rejects exactly what the W3C Trace Context rules say, checked against a plain reading of them."""

from __future__ import annotations

import random

import pytest

from proxy.telemetry.traceparent import format_traceparent, parse_traceparent, parse_traceparent_hex

BASE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
_HEX = frozenset("0123456789abcdef")


def reference(value: str) -> tuple[int, int, bool] | None:
    """The rules, one by one: lower-case hex fields at fixed offsets; version ff invalid; version 00
    exactly 55 characters; a later version may go on after a '-'; all-zero ids invalid."""
    value = value.strip()
    if len(value) < 55 or value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    version = value[:2]
    if version == "ff" or (version == "00" and len(value) != 55) or (len(value) > 55 and value[55] != "-"):
        return None
    if not _HEX.issuperset(value[:2] + value[3:35] + value[36:52] + value[53:55]):
        return None
    trace_id = int(value[3:35], 16)
    span_id = int(value[36:52], 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, bool(int(value[53:55], 16) & 1)


@pytest.mark.parametrize(
    "value",
    [
        BASE, f" {BASE} ", f"{BASE}\n", "01-" + BASE[3:], "01-" + BASE[3:] + "-x", "01-" + BASE[3:] + "x",
        "00-" + BASE[3:] + "-x", "ff" + BASE[2:], BASE.upper(), "00-" + "0" * 32 + BASE[35:],
        BASE[:36] + "0" * 16 + BASE[52:], BASE[:-2] + "00", BASE[:-2] + "ff", BASE[:-2] + "0g", "", "garbage",
        BASE[:-1], "+0-" + BASE[3:], "00-+" + BASE[4:], BASE[:11] + "_" + BASE[12:], "0a-" + BASE[3:] + "-any\nthing",
    ],
)  # fmt: skip
def test_edge_cases(value: str) -> None:
    assert parse_traceparent(value) == reference(value)


def test_random_corruptions() -> None:
    rng = random.Random(5)
    chars = "0123456789abcdefABCDEF- _+\n\tx"
    valid = 0
    for flags in range(256):
        value = BASE[:-2] + f"{flags:02x}"
        assert parse_traceparent(value) == reference(value) == (0x4BF92F3577B34DA6A3CE929D0E0E4736, 0xF067AA0BA902B7, bool(flags & 1))
    for _ in range(30000):
        s = list(BASE + rng.choice(["", "", "-", "-ab", "x"]))
        for _ in range(rng.randint(0, 3)):
            s[rng.randrange(len(s))] = rng.choice(chars)
        if rng.random() < 0.1:
            s.insert(0, rng.choice(" \t"))
        value = "".join(s)
        expected = reference(value)
        valid += expected is not None
        assert parse_traceparent(value) == expected, value
    assert 1000 < valid < 29000  # both outcomes well exercised


def test_hex_form_and_round_trip() -> None:
    trace_id, span_id, sampled, trace_hex = parse_traceparent_hex(BASE)  # type: ignore[misc]
    assert trace_hex == BASE[3:35] and int(trace_hex, 16) == trace_id
    assert format_traceparent(trace_id, span_id, sampled) == BASE

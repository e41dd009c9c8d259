"""The routing-quality bounds harness, on synthetic outcome tables whose answers are known."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from . import load_bench_script

bounds = load_bench_script("apgr_bounds")
OTHERS = [f"other-{i}" for i in range(6)]


def write_table(path: Path, weak_fails_with_others: bool, rows: int = 400) -> Path:
    """Strong always right. Hard prompts (a quarter) fail most other models; the weak model
    fails either exactly the hard ones or a random quarter unrelated to hardness."""
    rng = random.Random(7)
    lines = []
    for i in range(rows):
        hard = i % 4 == 0
        weak_fails = hard if weak_fails_with_others else rng.random() < 0.25
        results = {"gpt-4-1106-preview": {"score": 1.0, "cost_usd": 0.01},
                   "mistralai/mixtral-8x7b-chat": {"score": 0.0 if weak_fails else 1.0, "cost_usd": 0.001}}
        for name in OTHERS:
            fails = rng.random() < (0.8 if hard else 0.1)
            results[name] = {"score": 0.0 if fails else 1.0, "cost_usd": 0.001}
        lines.append(json.dumps({"id": str(i), "text": "x" * (1 + i % 13), "results": results}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_difficulty_routers_find_failures_that_follow_difficulty(tmp_path):
    report = bounds.bounds(write_table(tmp_path / "t.jsonl", True), bounds.STRONG, bounds.WEAK)
    apgr = report["apgr"]
    assert report["other_models"] == len(OTHERS)
    # Perfect routing recovers the whole gap once the failing quarter is sent up: 1 - 0.25 / 2.
    assert apgr["oracle (strong minus weak)"] == pytest.approx(0.875, abs=0.001)
    assert apgr["known difficulty (other models' failure share)"] > 0.8
    assert apgr["learned from the other models' results (5-fold CV)"] > 0.8


def test_difficulty_routers_are_near_random_when_the_weak_model_fails_at_random(tmp_path):
    report = bounds.bounds(write_table(tmp_path / "t.jsonl", False), bounds.STRONG, bounds.WEAK)
    apgr = report["apgr"]
    assert apgr["oracle (strong minus weak)"] > 0.8
    assert abs(apgr["known difficulty (other models' failure share)"] - 0.5) < 0.1
    assert abs(apgr["learned from the other models' results (5-fold CV)"] - 0.5) < 0.1


def test_command_prints_json_and_names_a_missing_model(tmp_path, capsys):
    table = write_table(tmp_path / "t.jsonl", True, rows=80)
    assert bounds.main([str(table), "--no-classifier", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["rows"] == 80 and report["weak"] == "mistralai/mixtral-8x7b-chat"
    with pytest.raises(SystemExit, match="no results for gpt-5"):
        bounds.main([str(table), "--no-classifier", "--strong", "gpt-5"])

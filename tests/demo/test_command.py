"""`llm-router demo` end to end in a subprocess: it finishes, stops everything, and its savings
table matches a hand computation from the simulated upstream's usage and the price table."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from proxy.analysis.tables import money
from proxy.pricing import PriceTable

ROOT = Path(__file__).resolve().parents[2]


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy", "demo", *args], capture_output=True, text=True,
                          timeout=90, cwd=ROOT, check=False)


def cells(out: str, first: str) -> list[str]:
    for line in out.splitlines():
        parts = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and parts[0].startswith(first):
            return parts
    raise AssertionError(f"no row {first!r} in:\n{out}")


def test_demo_table_matches_a_hand_computation(tmp_path):
    keep = tmp_path / "demo"
    result = demo("--requests", "20", "--keep", str(keep))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SIMULATED UPSTREAM" in out and "SIMULATED" in result.stderr
    served = [json.loads(line) for line in (keep / "simulated_upstream.jsonl").read_text().splitlines()]
    canary = [s for s in served if s["phase"] == "canary"]
    assert len(canary) == 20 and all(s["simulated"] for s in canary)
    prices = PriceTable.load()

    def cost(model: str, s: dict) -> float:
        p = prices.get(model)
        return s["input_tokens"] * p.input + s["output_tokens"] * p.output

    no_router = sum(cost("gpt-4o", s) for s in canary)
    with_router = sum(cost(s["model"], s) for s in canary)
    tokens = sum(s["input_tokens"] + s["output_tokens"] for s in canary)
    assert any(s["model"] == "gpt-4o-mini" for s in canary), "some requests should be routed down"
    assert cells(out, "no router") == ["no router (all requested model)", "20", f"{tokens:,}", money(no_router),
                                       money(no_router / 20 * 1e6)]
    assert cells(out, "with router") == ["with router (by tier)", "20", f"{tokens:,}", money(with_router),
                                         money(with_router / 20 * 1e6)]
    saved = no_router - with_router
    assert cells(out, "savings")[3] == f"{money(saved)} ({saved / no_router * 100:.1f}%)"
    # Classification mix and where things went.
    mix = {t: int(cells(out, t)[1]) for t in ("simple", "standard", "complex")}
    assert sum(mix.values()) == 20
    assert mix["simple"] == sum(s["model"] == "gpt-4o-mini" for s in canary)
    assert re.search(r"shadow log: .*shadow\.jsonl \(\d+ records\)", out)
    assert "added by the sidecar" in out
    assert "spans:" in out and "collected in memory" in out
    assert (keep / "shadow.jsonl").is_file() and (keep / "proxy.yaml").is_file()


def test_demo_without_keep_leaves_no_files(tmp_path):
    result = demo("--requests", "3")
    assert result.returncode == 0, result.stderr
    workdir = re.search(r"work dir: (\S+) \(deleted on exit", result.stdout).group(1)
    assert not Path(workdir).exists()

"""Keeps the benchmark harness from rotting: `bench/compare.py --quick` against the real llm-router.

Checks that a smoke run finishes, writes both outputs with plausible numbers
and leaves no process behind. It asserts nothing about speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _serve_import_error() -> str | None:
    try:
        import proxy.commands.serve  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def _cmdlines() -> list[str]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return out


@pytest.mark.skipif(_serve_import_error() is not None,
                    reason=f"llm-router's serve command is not importable yet: {_serve_import_error()}")
@pytest.mark.timeout(90)
def test_quick_run_writes_sane_results(tmp_path: Path) -> None:
    variants = tmp_path / "variants.yaml"
    variants.write_text(
        "- name: passthrough\n  config: {}\n"
        "- name: misspelled\n  description: must be skipped, check rejects it\n"
        "  config: {no_such_key_anywhere: 1}\n"
    )
    md, js = tmp_path / "RESULTS.md", tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "compare.py"), "--quick", "--no-install", "--no-litellm",
         "--variants-file", str(variants), "--variants", "passthrough,misspelled",
         "--results-md", str(md), "--results-json", str(js)],
        capture_output=True, text=True, timeout=80, cwd=REPO, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    result = json.loads(js.read_text())
    summary = result["summary"]

    assert set(summary) >= {"direct", "llm-router:passthrough"}
    assert "check" in result["skipped"]["llm-router:misspelled"]
    assert result["skipped"]["litellm"] == "--no-litellm"

    direct, router = summary["direct"], summary["llm-router:passthrough"]
    for row in (direct, router):
        assert 0 < row["p50_c1_us"] <= row["p99_c1_us"] < 1_000_000
        assert 0 < row["p50_c10_us"] < 2_000_000
        assert 45_000 < row["ttfb_p50_us"] < 2_000_000  # the mock waits 50 ms before the first chunk
        assert row["stream_total_p50_us"] > row["ttfb_p50_us"]
    raw = result["raw"]["llm-router:passthrough"]
    for section in ("c1", "c10"):
        assert all(r["errors"] == 0 and r["requests"] > 0 for r in raw["latency"][section])
    assert all(level["rps"] > 0 for t in raw["throughput"] for level in t["levels"])
    assert all(s["chunks_mean"] >= 1 and s["errors"] == 0 for s in raw["stream"])
    assert router["added_p50_c1_us"] is not None
    assert 5 < router["rss_idle_mb"] <= router["rss_peak_mb"] < 4096
    assert 0 < router["ready_s"] < 20
    assert router["saturation_rps"] > 0
    assert 1 < router["cpu_us_per_req_peak"] < 1_000_000

    text = md.read_text()
    for heading in ("## Machine", "## Versions", "## Results", "## Ratios", "## Targets"):
        assert heading in text
    assert "| llm-router:passthrough |" in text
    assert "--quick" in result["command"]

    mock_port = result["commands"]["mock"].rsplit(" ", 1)[1]
    leftovers = [c for c in _cmdlines() if "mock_upstream.py" in c and c.rstrip().endswith(mock_port)
                 or result["scratch"] in c]
    assert not leftovers, leftovers

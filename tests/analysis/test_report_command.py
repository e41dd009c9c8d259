"""`llm-router report` on a crafted shadow log: exact aggregates, advice, projection, bad lines."""

from __future__ import annotations

import json

import pytest

from proxy.analysis.shadow_report import Group, Rule, recommend
from proxy.cli import main


def record(i: int, tier: str, sim: float, primary: float, shadow: float, *, ts: str, status: int = 200,
           texts: tuple[str, str] | None = None) -> dict:
    rec = {"ts": ts, "request_id": f"r{i}", "route": "chat", "tier": tier, "score": 0.1, "stage": "tfidf",
           "intent": None, "stream": False, "similarity": sim, "length_ratio": 1.0,
           "primary_model": "gpt-4o", "primary_status": 200, "primary_cost_usd": primary,
           "primary_latency_ms": 400.0 + i, "primary_input_tokens": 10, "primary_output_tokens": 10,
           "primary_finish_reason": "stop",
           "shadow_model": "gpt-4o-mini", "shadow_status": status, "shadow_cost_usd": shadow,
           "shadow_latency_ms": 200.0 + i, "shadow_input_tokens": 10, "shadow_output_tokens": 10,
           "shadow_finish_reason": "stop"}
    if texts:
        rec["primary_text"], rec["shadow_text"] = texts
    return rec


@pytest.fixture
def shadow_log(tmp_path):
    rows = [
        record(1, "simple", 0.95, 0.004, 0.0004, ts="2026-11-01T00:00:00.000+00:00", texts=("a b c", "a b c")),
        record(2, "simple", 0.91, 0.002, 0.0002, ts="2026-11-01T00:20:00.000+00:00", texts=("x y", "x z")),
        record(3, "simple", 0.50, 0.002, 0.0002, ts="2026-11-01T00:40:00.000+00:00", texts=("long answer", "no")),
        record(4, "standard", 0.0, 0.010, None, ts="2026-11-01T01:00:00.000+00:00", status=500),
    ]
    path = tmp_path / "shadow.jsonl"
    lines = [json.dumps(r) for r in rows]
    lines.insert(2, "{oops")
    lines.insert(4, json.dumps({"ts": "x", "similarity": 1}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_exact_aggregates(shadow_log, capsys):
    assert main(["report", str(shadow_log), "--json", "--min-samples", "2"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["records"] == 4
    simple, standard = data["groups"]
    assert (simple["tier"], simple["records"], simple["compared"], simple["shadow_errors"]) == ("simple", 3, 3, 0)
    assert simple["similarity"]["p50"] == 0.91
    assert simple["similarity"]["p10"] == 0.50
    assert simple["similarity"]["mean"] == pytest.approx((0.95 + 0.91 + 0.50) / 3)
    assert simple["similarity"]["share_at_least_0.9"] == pytest.approx(2 / 3)
    assert simple["cost_actual_usd"] == pytest.approx(0.008)
    assert simple["cost_counterfactual_usd"] == pytest.approx(0.0008)
    assert simple["savings_usd"] == pytest.approx(0.0072)
    assert simple["latency_ms_p50"] == {"primary": 402.0, "shadow": 202.0}
    assert simple["recommendation"]["verdict"] == "not_ready"
    # The standard record's shadow call failed: counted, not compared, not priced.
    assert (standard["records"], standard["compared"], standard["shadow_errors"], standard["priced"]) == (1, 0, 1, 0)
    assert standard["recommendation"]["verdict"] == "wait"
    # 4 records over one hour = 96 a day; 3 priced records saved $0.0072, $0.0024 each.
    projection = data["projection"]
    assert projection["requests_per_day"] == pytest.approx(96)
    assert projection["savings_per_request"] == pytest.approx(0.0024)
    assert projection["monthly_savings"] == pytest.approx(0.0024 * 96 * 30)
    assert [w["line"] for w in data["worst_diffs"]] == [4, 2, 1]
    assert data["bad_lines"]["count"] == 2
    assert f"{shadow_log}:3: not valid JSON" in out.err
    assert f"{shadow_log}:5: no \"route\" and \"tier\" strings" in out.err


def test_text_output_names_the_verdict_and_the_rule(shadow_log, capsys):
    assert main(["report", str(shadow_log), "--min-samples", "2", "--shadow-share", "10"]) == 0
    out = capsys.readouterr().out
    assert "chat / simple tier: similarity ≥ 0.9 on 66.7% of 3 — not ready" in out
    assert "rule: ready when ≥ 2 samples" in out
    # 10 % of the traffic was shadowed: the projection scales up to 960 requests a day.
    assert "(960 requests/day, scaled by --shadow-share): $69.1200" in out
    assert "worst diffs (content was captured):" in out


@pytest.mark.parametrize(("sims", "errors", "verdict"), [
    ([0.95] * 29, 0, "wait"),
    ([0.95] * 100, 2, "fix"),
    ([0.95] * 96 + [0.1] * 4, 0, "ready"),
    ([0.95] * 85 + [0.1] * 15, 0, "review"),
    ([0.95] * 50 + [0.1] * 50, 0, "not_ready"),
])
def test_recommendation_rule(sims, errors, verdict):
    group = Group(records=len(sims) + errors, shadow_errors=errors)
    group.similarities.extend(sims)
    assert recommend(group, Rule())[0] == verdict

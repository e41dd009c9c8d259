"""`llm-router replay` on crafted files: exact costs for known tokens and prices, bad lines, labels, HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.analysis.replay import OUTPUT_TOKENS, Setup, replay
from proxy.analysis.replay_output import to_json
from proxy.cli import main
from tests.analysis.conftest import FAQ, HARD, cost

STANDARD = "Write a python function to find the maximum of three numbers."


def chat(text: str, model: str = "big-model", **extra: object) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def write_lines(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def run_json(capsys, *argv: str) -> tuple[dict, str]:
    assert main(["replay", *argv, "--json"]) == 0
    out = capsys.readouterr()
    return json.loads(out.out), out.err


def test_known_usage_gives_exact_costs(tmp_path, config_path, capsys):
    traffic = write_lines(tmp_path / "traffic.jsonl", [
        chat(FAQ, usage=usage(1000, 500)),
        chat(STANDARD, usage=usage(2000, 1000)),
        chat(HARD, usage=usage(3000, 2000)),
        chat(FAQ, model="cheap-model", usage=usage(100, 100)),  # never_upgrade: stays on the cheap model
    ])
    data, _ = run_json(capsys, str(traffic), "-c", str(config_path))
    no_router = cost("big-model", 1000, 500) + cost("big-model", 2000, 1000) + cost("big-model", 3000, 2000) \
        + cost("cheap-model", 100, 100)
    with_router = cost("cheap-model", 1000, 500) + cost("mid-model", 2000, 1000) + cost("big-model", 3000, 2000) \
        + cost("cheap-model", 100, 100)
    assert data["requests"] == 4
    assert data["tokens"] == 1500 + 3000 + 5000 + 200
    assert data["estimated_usage_rows"] == 0
    assert data["cost_usd"]["no_router"] == pytest.approx(no_router, rel=1e-12)
    assert data["cost_usd"]["with_router"] == pytest.approx(with_router, rel=1e-12)
    assert data["cost_usd"]["savings"] == pytest.approx(no_router - with_router, rel=1e-12)
    assert data["cost_per_1m_requests_usd"]["with_router"] == pytest.approx(with_router / 4 * 1e6, rel=1e-12)
    tiers = data["tiers"]
    assert (tiers["simple"]["requests"], tiers["standard"]["requests"], tiers["complex"]["requests"]) == (2, 1, 1)
    assert tiers["simple"]["models"] == {"cheap-model": 2}
    assert tiers["standard"]["models"] == {"mid-model": 1}
    assert tiers["simple"]["cost_with_router_usd"] == pytest.approx(cost("cheap-model", 1100, 600), rel=1e-12)


def test_table_is_printed_in_the_contract_form(tmp_path, config_path, capsys):
    traffic = write_lines(tmp_path / "t.jsonl", [chat(FAQ, usage=usage(1000, 500)), chat(HARD, usage=usage(1000, 500))])
    assert main(["replay", str(traffic), "-c", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert table_row(out, "strategy") == ["strategy", "requests", "tokens", "cost", "cost per 1M requests"]
    # no router: 2 x ($0.01 + $0.01) = $0.04; with router: $0.002 + $0.02 = $0.022; saved $0.018 = 45%.
    assert table_row(out, "no router") == ["no router (all requested model)", "2", "3,000", "$0.0400", "$20,000.00"]
    assert table_row(out, "with router") == ["with router (by tier)", "2", "3,000", "$0.0220", "$11,000.00"]
    assert table_row(out, "savings") == ["savings", "", "", "$0.0180 (45.0%)", "$9,000.00 (45.0%)"]


def table_row(out: str, first_cell: str) -> list[str]:
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(first_cell):
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r} in:\n{out}")


def test_missing_usage_is_estimated_and_capped_by_max_tokens(tmp_path, config_path, capsys):
    traffic = write_lines(tmp_path / "t.jsonl", [chat(FAQ), chat(FAQ + " ", max_tokens=7)])
    data, _ = run_json(capsys, str(traffic), "-c", str(config_path))
    assert data["estimated_usage_rows"] == 2
    simple = data["tiers"]["simple"]
    assert simple["output_tokens"] == OUTPUT_TOKENS["simple"] + 7
    assert simple["input_tokens"] > 2 * 8  # counted locally: the words plus the chat framing


def test_malformed_lines_are_reported_by_number_and_skipped(tmp_path, config_path, capsys):
    traffic = write_lines(tmp_path / "t.jsonl", [
        chat(FAQ, usage=usage(10, 10)),
        "{not json",
        "",
        "[1, 2]",
        {"messages": [{"role": "user", "content": "no model"}]},
        {"model": "big-model", "prompt": "not chat"},
        chat(HARD, usage=usage(10, 10)),
    ])
    data, err = run_json(capsys, str(traffic), "-c", str(config_path))
    assert data["requests"] == 2
    assert data["bad_lines"]["count"] == 4
    assert [e["line"] for e in data["bad_lines"]["examples"]] == [2, 4, 5, 6]
    assert f"{traffic}:2: not valid JSON" in err
    assert f"{traffic}:4: expected a JSON object, got list; line skipped" in err
    assert f"{traffic}:5: no \"model\" string" in err
    assert f"{traffic}:6: no \"messages\" list" in err


def test_labeled_complex_sent_to_simple_is_a_dangerous_misroute(tmp_path, config_path, capsys):
    traffic = write_lines(tmp_path / "t.jsonl", [
        chat(FAQ, x_tier="complex", usage=usage(10, 10)),
        chat(HARD, x_tier="complex", usage=usage(10, 10)),
        chat(FAQ, tier="simple", usage=usage(10, 10)),
    ])
    data, _ = run_json(capsys, str(traffic), "-c", str(config_path))
    assert data["dangerous_misroutes"] == {"count": 1, "labeled_complex": 2, "rate": 0.5, "example_lines": [1]}
    assert {"label": "simple", "predicted": "simple", "count": 1} in data["confusion"]


def test_config_without_policy_falls_back_to_the_shipped_one(tmp_path, capsys):
    config = tmp_path / "proxy.yaml"
    config.write_text("listen: 127.0.0.1:8080\n")
    traffic = write_lines(tmp_path / "t.jsonl", [chat(FAQ, model="gpt-4o", usage=usage(1000, 100))])
    assert main(["replay", str(traffic), "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "names no policy: using the shipped policy" in out
    assert "gpt-4o-mini" in out


def test_worker_processes_give_the_same_totals(tmp_path, policy_path):
    rows = [chat(FAQ, usage=usage(10 + i, 5)) if i % 3 else chat(HARD, x_tier="complex") for i in range(300)]
    traffic = write_lines(tmp_path / "t.jsonl", rows[:150] + ["{bad"] + rows[150:])
    setup = Setup(policy_path, ("rules", "tfidf"), dict(OUTPUT_TOKENS))
    meta = {"file": "t"}
    serial = to_json(replay(traffic, setup, workers=1, chunk_lines=40), meta)
    parallel = to_json(replay(traffic, setup, workers=2, chunk_lines=40), meta)
    assert serial == parallel
    assert serial["requests"] == 300
    assert serial["bad_lines"]["examples"] == [{"line": 151, "reason": serial["bad_lines"]["examples"][0]["reason"]}]


def test_html_report_holds_the_printed_figures(tmp_path, config_path, capsys):
    traffic = write_lines(tmp_path / "t.jsonl", [chat(FAQ, usage=usage(1000, 500)), chat(HARD, usage=usage(1000, 500))])
    report = tmp_path / "out.html"
    assert main(["replay", str(traffic), "-c", str(config_path), "--report", str(report)]) == 0
    html = report.read_text()
    assert html.startswith("<!doctype html>")
    assert "<svg" in html and "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for figure in ("$0.0400", "$0.0220", "45.0%", "$9,000.00"):
        assert figure in html


def test_outcomes_give_quality_for_the_router_and_each_extreme(tmp_path, config_path, capsys):
    traffic = write_lines(tmp_path / "t.jsonl", [
        chat(FAQ, x_id="q1", usage=usage(10, 10)),
        chat(HARD, usage=usage(10, 10)),          # matched by its text
        chat(STANDARD, usage=usage(10, 10)),      # no outcome row: not counted
    ])
    outcomes = write_lines(tmp_path / "outcomes.jsonl", [
        {"id": "q1", "text": "something else", "results": {"small": {"score": 1.0}, "large": {"score": 1.0}}},
        {"id": "q2", "text": HARD, "results": {"small": {"score": 0.0}, "large": {"score": 1.0}}},
    ])
    data, _ = run_json(capsys, str(traffic), "-c", str(config_path), "--outcomes", str(outcomes),
                       "--outcome-models", "small,large")
    # The FAQ goes to the cheap model (1.0), the hard one to the strong model (1.0).
    assert data["quality"] == {"matched_rows": 2, "router": 1.0, "all_strong": 1.0, "all_cheap": 0.5}
    assert data["threshold_sweep"][0]["quality"] == 1.0 and data["threshold_sweep"][-1]["quality"] == 0.5

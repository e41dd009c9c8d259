"""The classify, train and eval commands through the real CLI entry point."""

import json

from proxy.cli import main

from .conftest import DATA


def test_classify_text(capsys, policy_file):
    assert main(["classify", "--policy", str(policy_file), "how do I reset my password?"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"tier", "score", "intent", "stage", "latency_ms"}
    assert out["tier"] == "simple"


def test_classify_batch_keeps_order(tmp_path, policy_file):
    src = tmp_path / "in.jsonl"
    rows = [{"id": "b", "text": "Prove that there are infinitely many primes."},
            {"id": "a", "messages": [{"role": "user", "content": "thanks!"}]},
            {"id": 3, "text": "what's the weather in paris"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dst = tmp_path / "out.jsonl"
    assert main(["classify", "--policy", str(policy_file), "--input", str(src), "--output", str(dst)]) == 0
    got = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [g["id"] for g in got] == ["b", "a", 3]
    assert [g["tier"] for g in got] == ["complex", "simple", "simple"]
    assert all(set(g) == {"id", "tier", "score", "intent", "stage", "latency_ms"} for g in got)


def test_eval_json(capsys, policy_file):
    code = main(["eval", "--policy", str(policy_file), "--data", str(DATA / "sample_dev.jsonl"),
                 "--outcomes", str(DATA / "sample_outcomes.jsonl"), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    labeled = report["labeled"]
    for key in ("accuracy", "macro_f1", "per_tier", "confusion", "dangerous_misroute_rate", "latency"):
        assert key in labeled
    assert labeled["per_tier"]["simple"]["recall"] >= 0.9
    outcome = report["outcomes"][0]
    assert outcome["weak"] == "mixtral-8x7b-chat"
    for key in ("apgr", "cpt50", "cpt80", "curve"):
        assert key in outcome


def test_eval_text_report(capsys, policy_file):
    assert main(["eval", "--policy", str(policy_file), "--data", str(DATA / "sample_dev.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "dangerous misroutes" in out and "macro-F1" in out and "p99" in out


def test_malformed_line_names_file_and_line(tmp_path, capsys, policy_file):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "ok"}\n{"id": 2, "text": \n')
    assert main(["classify", "--policy", str(policy_file), "--input", str(bad)]) == 1
    assert f"{bad}:2: malformed JSON" in capsys.readouterr().err


def test_missing_text_and_unknown_tier(tmp_path, capsys, policy_file):
    bad = tmp_path / "labeled.jsonl"
    bad.write_text('{"id": 1, "text": "hi", "tier": "simple"}\n{"id": 2, "tier": "simple"}\n')
    assert main(["eval", "--policy", str(policy_file), "--data", str(bad)]) == 1
    assert f"{bad}:2: missing text" in capsys.readouterr().err
    bad.write_text('{"id": 1, "text": "hi", "tier": "trivial"}\n')
    assert main(["train", "--data", str(bad), "--out", str(tmp_path / "m")]) == 1
    assert f"{bad}:1: unknown tier 'trivial'" in capsys.readouterr().err


def test_bad_policy_section_is_reported(tmp_path, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text("classifier:\n  thresholds: {simple: 0.9, complex: 0.5}\n")
    assert main(["classify", "--policy", str(policy), "hello"]) == 1
    err = capsys.readouterr().err
    assert str(policy) in err and "classifier.thresholds" in err


def test_bad_exemplar_file_is_reported(tmp_path, capsys):
    from .conftest import MODELS

    exemplars = tmp_path / "ex.yaml"
    exemplars.write_text("simple:\n  - hi: there\n")
    policy = tmp_path / "p.yaml"
    policy.write_text(f"classifier:\n  model_dir: {MODELS}\n  exemplars: {exemplars}\n")
    assert main(["classify", "--policy", str(policy), "hello"]) == 1
    assert "quote a prompt" in capsys.readouterr().err


def test_eval_estimates_cost_from_prices_when_missing(tmp_path, capsys, policy_file):
    rows = [{"id": i, "text": text, "est_prompt_tokens": 100,
             "prices_per_mtok": {"big": {"input": 1.0}, "small": {"input": 0.1}},
             "results": {"big": {"score": 1.0, "cost_usd": None}, "small": {"score": s, "cost_usd": None}}}
            for i, (text, s) in enumerate([("hi", 1.0), ("Prove Fermat's little theorem.", 0.0)])]
    path = tmp_path / "o.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", "--policy", str(policy_file), "--outcomes", str(path),
                 "--strong", "big", "--weak", "small", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["outcomes"][0]
    assert report["cost_per_call_strong"] > report["cost_per_call_weak"] > 0
    assert report["apgr"] > 0.5  # the proof goes to the strong model first

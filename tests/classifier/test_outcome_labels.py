import json

from proxy.classifier.outcome_labels import outcome_rows


def test_outcome_labels_skip_held_out_rows(tmp_path):
    path = tmp_path / "o.jsonl"
    rows = [
        {"id": "a", "text": "easy q", "orig_split": "train", "results": {"m": {"score": 1.0}, "n": {"score": 1.0}}},
        {"id": "b", "text": "hard q", "orig_split": "train", "results": {"m": {"score": 0.0}, "n": {"score": 0.0}}},
        {"id": "c", "text": "test q", "orig_split": "test", "results": {"m": {"score": 0.0}}},
        {"id": "d", "text": "Test Q!", "orig_split": "train", "results": {"m": {"score": 0.0}}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = {r["id"]: r["tier"] for r in outcome_rows([path])}
    assert got == {"a": "standard", "b": "complex"}  # never simple; c and its copy d held out

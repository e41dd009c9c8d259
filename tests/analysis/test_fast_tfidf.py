"""Replay's numpy TF-IDF stage agrees with the onnxruntime one the sidecar serves with."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from proxy.analysis.fast_tfidf import NumpyTfidf
from proxy.analysis.replay import OUTPUT_TOKENS, Replayer, Setup
from proxy.classifier import Classifier
from proxy.config.loader import load_policy

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "default.yaml"


def test_same_probabilities_as_the_onnx_graph():
    from proxy.classifier.tfidf_model import TfidfModel

    onnx_model, fast = TfidfModel(ROOT / "policies" / "models"), NumpyTfidf(ROOT / "policies" / "models")
    for tokens in (["what", "is", "the", "capital"], ["§len3", "prove", "that", "prove"], [], ["zzz-unknown"]):
        assert fast.probabilities(tokens) == pytest.approx(onnx_model.probabilities(tokens), abs=1e-6)


def test_replay_classifies_the_bundled_traffic_as_the_sidecar_would():
    policy = load_policy(POLICY)
    served = Classifier.load(policy.classifier.model_copy(update={"stages": ["rules", "tfidf"]}), POLICY.parent)
    replayer = Replayer(Setup(POLICY, ("rules", "tfidf"), dict(OUTPUT_TOKENS)))
    rows = [orjson.loads(line) for line in (ROOT / "examples" / "traffic.jsonl").read_bytes().splitlines()]
    for row in rows:
        mine, theirs = replayer.classifier.classify(row), served.classify(row)
        assert (mine.tier, mine.stage) == (theirs.tier, theirs.stage)
        assert mine.score == pytest.approx(theirs.score, abs=2e-6)

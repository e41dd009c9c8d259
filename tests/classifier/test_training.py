"""Training on the shipped sample: determinism and ONNX parity."""

from pathlib import Path

import numpy as np
import pytest

from proxy.classifier.datasets import read_labeled
from proxy.classifier.tfidf_model import TfidfModel
from proxy.cli import main

from .conftest import DATA, EXEMPLARS


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> list[Path]:
    outs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(name)
        code = main(["train", "--data", str(DATA / "sample_train.jsonl"), "--dev",
                     str(DATA / "sample_dev.jsonl"), "--out", str(out), "--exemplars", str(EXEMPLARS)])
        assert code == 0
        outs.append(out)
    return outs


def test_training_is_byte_reproducible(trained):
    a, b = trained
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert {"tfidf_lr.onnx", "tfidf_vocab.json", "classifier.json", "exemplar_vectors.npz"} <= set(names)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_metadata_has_version_hash_thresholds_metrics(trained):
    import json

    meta = json.loads((trained[0] / "classifier.json").read_text())
    assert meta["version"] and len(meta["inputs"]["train"]["sha256"]) == 64
    t = meta["calibration"]["thresholds"]
    assert 0 < t["simple"] < t["complex"] < 1
    assert "dangerous_misroute_rate" in meta["dev_metrics"]
    assert meta["onnx_parity_max_abs_diff"] < 1e-5


def test_onnx_matches_scikit_learn(trained):
    from proxy.classifier.training import fit, make_examples

    rows = [r.data for r in read_labeled(DATA / "sample_train.jsonl")]
    dev = [r.data for r in read_labeled(DATA / "sample_dev.jsonl")]
    fitted = fit(make_examples(rows, 6000))
    from proxy.classifier.build import _export

    out = trained[0].parent / "parity"
    out.mkdir(exist_ok=True)
    _export(fitted, out)
    served = TfidfModel(out)
    examples = make_examples(dev, 6000)
    reference = fitted.probabilities([e.tokens for e in examples])
    onnx_probs = np.stack([served.probabilities(e.tokens) for e in examples])
    assert np.max(np.abs(reference - onnx_probs)) < 1e-5


def test_serving_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from proxy.classifier import Classifier, ClassifierSettings;"
            "c = Classifier.load(ClassifierSettings(stages=['rules','tfidf']), Path('policies'));"
            "c.classify({'messages': [{'role': 'user', 'content': 'hi'}]});"
            "bad = [m for m in ('sklearn', 'skl2onnx', 'onnx', 'tokenizers') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

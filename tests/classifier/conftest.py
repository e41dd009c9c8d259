from __future__ import annotations

from pathlib import Path

import pytest

from proxy.classifier import Classifier, ClassifierSettings

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
MODELS = REPO / "policies" / "models"
EXEMPLARS = REPO / "policies" / "exemplars" / "exemplars.yaml"


def shipped_settings(**overrides) -> ClassifierSettings:
    return ClassifierSettings(model_dir=str(MODELS), exemplars=str(EXEMPLARS), **overrides)


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    loaded = Classifier.load(shipped_settings(), REPO / "policies")
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def cheap_classifier() -> Classifier:
    return Classifier.load(shipped_settings(stages=["rules", "tfidf"]), REPO / "policies")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        f"tiers: {{simple: {{model: a}}}}\nclassifier:\n  stages: [rules, tfidf, embedding]\n"
        f"  model_dir: {MODELS}\n  exemplars: {EXEMPLARS}\n"
    )
    return path

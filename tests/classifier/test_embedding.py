import shutil

import numpy as np

from proxy.classifier.embedding import EmbeddingStage, load_exemplars

from .conftest import EXEMPLARS, MODELS


def test_encoder_gives_unit_vectors_and_meaningful_neighbours(classifier):
    stage = classifier._embedding
    vector = stage.encoder.encode("set an alarm for seven")
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    simple, _ = stage.score("wake me up at 6 tomorrow")
    hard, _ = stage.score("prove that every finite integral domain is a field")
    assert simple < 0.3
    assert hard > 0.7


def test_edited_exemplars_are_embedded_at_load(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS, models)
    edited = tmp_path / "exemplars.yaml"
    edited.write_text("simple:\n  - what time is it\ncomplex:\n  - derive the navier-stokes equations\n")
    stage = EmbeddingStage(models, edited)
    sample = int(np.load(models / "exemplar_vectors.npz")["sample_tiers"].shape[0])
    assert stage.index.vectors.shape[0] == 2 + sample
    assert len(load_exemplars(EXEMPLARS)) > 200

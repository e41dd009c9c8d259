"""The rules + TF-IDF cascade gives exactly the outputs recorded before the speed work.

The golden file holds, for every bundled traffic request, every row of the
classifier test samples and hand-written odd shapes, the tier, score, intent,
stage, reasons and whether the embedding stage would be asked. See
`tests/classifier/golden.py` for the inputs and how the file was made.
"""

from __future__ import annotations

import json

import pytest

from .golden import GOLDEN, inputs, lean_classifier, outputs


@pytest.fixture(scope="module")
def golden() -> list[dict]:
    return [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]


def test_golden_covers_every_input(golden):
    assert [row["name"] for row in golden] == [name for name, _, _ in inputs()]
    assert sum(row["name"].startswith("traffic:") for row in golden) == 300


def test_same_outputs_as_before(golden):
    actual = outputs(lean_classifier())
    mismatches = [(want["name"], want, got) for want, got in zip(golden, actual, strict=True) if want != got]
    assert not mismatches, f"{len(mismatches)} of {len(golden)} differ; first: {mismatches[:3]}"

"""Stage 2 at serve time: TF-IDF + logistic regression in onnxruntime.

The ONNX graph takes the *sparse* term counts of one request (vocabulary
indices and sublinear term frequencies) and does the IDF weighting, the L2
normalisation and the linear layer with a softmax. Feeding indices instead
of a dense vocabulary-sized vector keeps the per-request cost proportional
to the request's length, not to the vocabulary (sub-0.1 ms per call).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import orjson

TIERS: tuple[str, ...] = ("simple", "standard", "complex")
# Expected tier on a 0..1 scale: monotone in "needs a stronger model".
TIER_VALUES = np.array([0.0, 0.5, 1.0], dtype=np.float32)

ONNX_FILE = "tfidf_lr.onnx"
VOCAB_FILE = "tfidf_vocab.json"


def sublinear_counts(tokens: list[str], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Vocabulary indices and 1 + ln(count) for the known tokens (sorted by index)."""
    # map/Counter keep the per-token loop in C: this runs for every request.
    counts = Counter(map(index.get, tokens))
    counts.pop(None, None)
    keys = sorted(counts)
    idx = np.array(keys, dtype=np.int64)
    tf = (1.0 + np.log(np.array([counts[i] for i in keys], dtype=np.float64))).astype(np.float32)
    return idx, tf


def make_session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One thread each: the proxy serves many small requests concurrently;
    # intra-op threads would only add wake-up latency for a microsecond graph.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class TfidfModel:
    """The exported vectorizer vocabulary plus the ONNX session."""

    def __init__(self, model_dir: Path) -> None:
        vocab = orjson.loads((model_dir / VOCAB_FILE).read_bytes())
        self.index: dict[str, int] = {tok: i for i, tok in enumerate(vocab["tokens"])}
        self.session = make_session(model_dir / ONNX_FILE)

    def probabilities(self, tokens: list[str]) -> np.ndarray:
        idx, tf = sublinear_counts(tokens, self.index)
        return self.session.run(None, {"idx": idx, "tf": tf})[0][0]

    def score(self, tokens: list[str]) -> tuple[float, np.ndarray]:
        probs = self.probabilities(tokens)
        return float(probs @ TIER_VALUES), probs

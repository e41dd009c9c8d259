"""The TF-IDF + logistic-regression stage computed with numpy, for bulk replay.

The same arithmetic as the exported ONNX graph (`proxy.classifier.onnx_export`),
read from that graph's own weights, without a session call per row: the call
overhead is a third of the stage's cost when millions of short requests are
scored in a loop. The serving path keeps onnxruntime; replay tests check that
both give the same tiers.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import orjson

from proxy.classifier.tfidf_model import ONNX_FILE, TIER_VALUES, VOCAB_FILE


class NumpyTfidf:
    def __init__(self, model_dir: Path) -> None:
        import onnx
        from onnx import numpy_helper

        vocab = orjson.loads((model_dir / VOCAB_FILE).read_bytes())["tokens"]
        self.index: dict[str, int] = {tok: i for i, tok in enumerate(vocab)}
        weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(model_dir / ONNX_FILE)).graph.initializer}
        self.idf = weights["idf"].astype(np.float32)
        self.weights = weights["weights"].astype(np.float32)  # [vocabulary, classes]
        self.intercept = weights["intercept"].reshape(-1).astype(np.float32)

    def probabilities(self, tokens: list[str]) -> np.ndarray:
        get = self.index.get
        counts = Counter(get(t) for t in tokens)
        counts.pop(None, None)
        n = len(counts)
        if n:
            idx = np.fromiter(counts.keys(), np.int64, n)
            tf = np.log(np.fromiter(counts.values(), np.float32, n)) + np.float32(1.0)
            tfidf = tf * self.idf[idx]
            norm = max(float(np.sqrt(tfidf @ tfidf)), 1e-12)
            logits = (tfidf / np.float32(norm)) @ self.weights[idx] + self.intercept
        else:
            logits = self.intercept
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def score(self, tokens: list[str]) -> tuple[float, np.ndarray]:
        probs = self.probabilities(tokens)
        return float(probs @ TIER_VALUES), probs

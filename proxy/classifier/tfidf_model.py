"""Stage 2 at serve time: TF-IDF + logistic regression in onnxruntime.

The ONNX graph takes the *sparse* term counts of one request (vocabulary
indices and sublinear term frequencies) and does the IDF weighting, the L2
normalisation and the linear layer with a softmax. Feeding indices instead
of a dense vocabulary-sized vector keeps the per-request cost proportional
to the request's length, not to the vocabulary (sub-0.1 ms per call).

The request path (`score_words`) skips building the token strings: bigrams
are looked up as word pairs in a dictionary keyed by pairs, term
frequencies come from a precomputed table, and the session is called with
its names and run options made once. The result is the same as
`score(analyze(...))` (tests/classifier/test_tfidf_fast.py and the golden
outputs check it).
"""

from __future__ import annotations

from collections import Counter
from itertools import chain, pairwise
from pathlib import Path

import numpy as np
import orjson

try:  # the C loop behind Counter(iterable), without Counter's per-call set-up
    from collections import _count_elements
except ImportError:  # pragma: no cover - other Python implementations
    def _count_elements(mapping, iterable):
        get = mapping.get
        for item in iterable:
            mapping[item] = get(item, 0) + 1

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


# 1 + ln(count) as float32, exactly as `sublinear_counts` computes it, for the
# counts a request has in practice; larger counts take the general path.
_TF_TABLE_SIZE = 256
_TF_TABLE: list[float] = (1.0 + np.log(np.arange(_TF_TABLE_SIZE, dtype=np.float64).clip(1.0))).astype(
    np.float32).tolist()
# Term frequencies of requests whose known tokens all occur once (shared, read-only).
_ONES = np.ones(4096, dtype=np.float32)
_ONES.flags.writeable = False


def expected_tier(probs: np.ndarray) -> float:
    """`float(probs @ TIER_VALUES)` for float32 `probs`, without numpy's per-call overhead.

    With TIER_VALUES = (0, 0.5, 1) the float32 dot product is the float32
    rounding of p1 / 2 + p2, whatever the summation order (0 * p0 adds
    nothing, and halving is exact unless p1 is subnormal). In float64 that
    sum is exact or off by far less than half a float32 step, so rounding it
    to float32 gives the same value.
    """
    _, p1, p2 = probs.tolist()
    if p1 < 1e-30:
        return float(probs @ TIER_VALUES)
    return float(np.float32(p1 * 0.5 + p2))


assert TIER_VALUES.tolist() == [0.0, 0.5, 1.0], "expected_tier assumes these tier values"


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
        # Request-path lookups: words (no space) by themselves, bigrams by word pair.
        words: dict[str, str] = {}
        self._unigram: dict[str, int] = {}
        self._bigram: dict[tuple[str, str], int] = {}
        for tok, i in self.index.items():
            if " " in tok:
                first, second = tok.split(" ", 1)
                pair = (words.setdefault(first, first), words.setdefault(second, second))
                self._bigram[pair] = i
            else:
                self._unigram[words.setdefault(tok, tok)] = i
        self._run = _fast_run(self.session)

    def probabilities(self, tokens: list[str]) -> np.ndarray:
        idx, tf = sublinear_counts(tokens, self.index)
        return self._run({"idx": idx, "tf": tf})[0][0]

    def word_probabilities(self, words: list[str], pseudo: list[str] | tuple[str, ...] = ()) -> np.ndarray:
        """`probabilities` of `words`, their bigrams and the `pseudo` tokens (markers, length)."""
        counts: dict[int | None, int] = {}
        _count_elements(counts, chain(map(self._unigram.get, words), map(self._bigram.get, pairwise(words)),
                                      map(self.index.get, pseudo)))
        unknown = counts.pop(None, 0)
        keys = sorted(counts)
        n = len(keys)
        idx = np.array(keys, dtype=np.int64)
        if n == 2 * len(words) - (1 if words else 0) + len(pseudo) - unknown:
            # Every known token once (many requests): the term frequencies are all 1 + ln(1) = 1.
            tf = _ONES[:n] if n <= _ONES.size else np.ones(n, dtype=np.float32)
        else:
            values = list(map(counts.__getitem__, keys))
            if max(values) < _TF_TABLE_SIZE:
                tf = np.array(list(map(_TF_TABLE.__getitem__, values)), dtype=np.float32)
            else:
                tf = (1.0 + np.log(np.array(values, dtype=np.float64))).astype(np.float32)
        return self._run({"idx": idx, "tf": tf})[0][0]

    def score_words(self, words: list[str], pseudo: list[str] | tuple[str, ...] = ()) -> float:
        """`score(...)[0]` for the tokens `analyze` would make from `words` and `pseudo`."""
        return expected_tier(self.word_probabilities(words, pseudo))

    def score(self, tokens: list[str]) -> tuple[float, np.ndarray]:
        probs = self.probabilities(tokens)
        return float(probs @ TIER_VALUES), probs


def _fast_run(session):
    """`session.run(None, feeds)` without the per-call argument handling of the Python wrapper."""
    outputs = [o.name for o in session.get_outputs()]
    inner = getattr(session, "_sess", None)
    if inner is None or not callable(getattr(inner, "run", None)):
        return lambda feeds: session.run(outputs, feeds)
    import onnxruntime as ort

    options = ort.RunOptions()
    run = inner.run
    return lambda feeds: run(outputs, feeds, options)

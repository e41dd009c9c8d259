"""The request path's TF-IDF scoring equals scoring the token list `analyze` builds.

`TfidfModel.word_probabilities` looks bigrams up as word pairs and takes
term frequencies from a table; `word_tokens` has an ASCII fast path. Both
must give exactly (bit for bit) what the training-time path gives.
"""

from __future__ import annotations

import random
from itertools import pairwise

import numpy as np
import pytest

from proxy.classifier.features import (
    _TOKEN,
    analyze,
    normalize,
    pseudo_tokens,
    word_tokens,
)
from proxy.classifier.request_text import view_of_text
from proxy.classifier.rules import apply_rules
from proxy.classifier.tfidf_model import _TF_TABLE, TfidfModel, sublinear_counts

from .conftest import MODELS
from .test_rules_fast import corpus_texts, generated_texts


@pytest.fixture(scope="module")
def model() -> TfidfModel:
    return TfidfModel(MODELS)


def reference_word_tokens(text: str) -> list[str]:
    return [("<num>" if len(tok) < 4 else "<num4>") if tok[0].isdigit() else tok for tok in _TOKEN.findall(text)]


TEXTS = corpus_texts() + generated_texts(500, 3) + [
    "", "?", "the the the the", "42", "1234 12345 7", "abc123def", "x²", "፩ and ① and ٣", "Ünïcödé 12 ǅ",
    "what is 2+2? " * 40, "the " * 300, "§len3 <num> # $ |",
]


def test_word_tokens_fast_path_equals_the_unicode_tokenizer():
    for text in TEXTS:
        for variant in (text, text.lower(), normalize(text)):
            assert word_tokens(variant) == reference_word_tokens(variant), variant


def test_tf_table_equals_the_per_request_computation(model):
    # Count c of one token next to tokens seen once, in arrays of several lengths.
    vocab = list(model.index)[:300]
    for count in range(1, len(_TF_TABLE)):
        for others in (0, 3, 17):
            tokens = [vocab[0]] * count + vocab[1 : 1 + others]
            _, tf = sublinear_counts(tokens, model.index)
            assert tf[0] == np.float32(_TF_TABLE[count]), count


def test_word_probabilities_equal_probabilities_of_the_analyzed_tokens(model):
    checked = 0
    for text in TEXTS:
        view = view_of_text(text)
        rules = apply_rules(view, text)
        words = word_tokens(normalize(text))
        fast = model.word_probabilities(words, pseudo_tokens(rules, view))
        slow = model.probabilities(analyze(text, rules, view))
        assert np.array_equal(fast, slow), text
        assert model.score_words(words, pseudo_tokens(rules, view)) == model.score(analyze(text, rules, view))[0]
        checked += 1
    assert checked == len(TEXTS)


def test_repeated_tokens_beyond_the_table(model):
    rng = random.Random(5)
    known = [t for t in model.index if " " not in t and not t.startswith("§")][:50]
    for size in (300, 900):  # the 900-word text has tokens seen more than 255 times
        words = [rng.choice(known[:2]) for _ in range(size)]
        tokens = words + [" ".join(p) for p in pairwise(words)] + ["§len7"]
        assert np.array_equal(model.word_probabilities(words, ["§len7"]), model.probabilities(tokens))


def test_expected_tier_equals_the_numpy_dot_product():
    from proxy.classifier.tfidf_model import TIER_VALUES, expected_tier

    rng = np.random.default_rng(3)
    logits = rng.normal(0.0, rng.uniform(0.1, 40.0, size=(20000, 1)), size=(20000, 3)).astype(np.float32)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    edge = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.2, 1e-38, 0.8], [0.5, 0.5, 0.0], [0, 1e-45, 1]], np.float32)
    for row in np.concatenate([probs, edge]):
        assert expected_tier(row) == float(row @ TIER_VALUES), row.tolist()

"""Fit the TF-IDF + logistic regression stage with scikit-learn.

Training only (the serve path never imports scikit-learn). Determinism:
rows are sorted by id before fitting, the vocabulary is sorted, lbfgs is
deterministic, and the exported bytes carry no timestamps, so the same
inputs give byte-identical artifacts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from proxy.classifier.features import analyze, bounded_text
from proxy.classifier.request_text import view_of_row
from proxy.classifier.rules import apply_rules
from proxy.classifier.tfidf_model import TIER_VALUES, TIERS

DEFAULT_C = 2.0
MIN_DF = 2


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    tokens: list[str]
    tier: int
    source: str
    weight: float = 1.0


def tokenize(data: dict[str, Any], max_chars: int) -> list[str]:
    view = view_of_row(data)
    text = bounded_text(view.text, max_chars)
    return analyze(text, apply_rules(view, text), view)


def make_examples(rows: list[dict[str, Any]], max_chars: int, weight: float = 1.0) -> list[Example]:
    return [
        Example(
            id=str(row.get("id", "")),
            tokens=tokenize(row, max_chars),
            tier=TIERS.index(row["tier"]),
            source=str(row.get("source") or "unknown"),
            weight=float(row.get("weight", weight)),
        )
        for row in rows
    ]


def source_weights(examples: list[Example]) -> np.ndarray:
    """Damp big sources so each source's style counts, not its row count.

    Within a tier, a source with n rows gets total weight ~ sqrt(n): 1350
    near-identical intent queries should not outweigh 123 logic puzzles 10:1,
    or the model learns the sources instead of the tiers.
    """
    per_source = Counter(e.source for e in examples)
    raw = np.array([e.weight / np.sqrt(per_source[e.source]) for e in examples], dtype=np.float64)
    tiers = np.array([e.tier for e in examples])
    out = np.empty_like(raw)
    # Balance the tiers too (same total weight per tier present).
    for tier in np.unique(tiers):
        mask = tiers == tier
        out[mask] = raw[mask] / raw[mask].sum()
    return out * len(examples) / out.sum()


@dataclass
class Fitted:
    vectorizer: Any
    model: Any

    def probabilities(self, token_lists: list[list[str]]) -> np.ndarray:
        return self.model.predict_proba(self.vectorizer.transform(token_lists))

    def scores(self, token_lists: list[list[str]]) -> np.ndarray:
        return self.probabilities(token_lists) @ TIER_VALUES.astype(np.float64)


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def fit(examples: list[Example], c: float = DEFAULT_C) -> Fitted:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    ordered = sorted(examples, key=lambda e: (e.source, e.id, e.tier))
    vectorizer = TfidfVectorizer(
        analyzer=_identity, sublinear_tf=True, min_df=MIN_DF, norm="l2", dtype=np.float32
    )
    matrix = vectorizer.fit_transform([e.tokens for e in ordered])
    labels = np.array([e.tier for e in ordered])
    model = LogisticRegression(C=c, max_iter=3000, tol=1e-6)
    model.fit(matrix, labels, sample_weight=source_weights(ordered))
    return Fitted(vectorizer, model)


def source_holdout_scores(examples: list[Example], c: float = DEFAULT_C,
                          only: list[str] | None = None,
                          fitted_out: dict[str, Fitted] | None = None) -> dict[str, np.ndarray]:
    """Score each source with a model trained on all the *other* sources.

    The honest estimate of how the model treats a kind of prompt it has not
    seen: evaluation traffic comes from sources the training data lacks.
    `only` limits which sources are held out in turn (the rest always train).
    """
    sources = sorted({e.source for e in examples} if only is None else set(only))
    out: dict[str, np.ndarray] = {}
    for source in sources:
        rest = [e for e in examples if e.source != source]
        held = [e for e in examples if e.source == source]
        if not held or len({e.tier for e in rest}) < len(TIERS):
            continue
        fitted = fit(rest, c)
        out[source] = fitted.scores([e.tokens for e in held])
        if fitted_out is not None:
            fitted_out[source] = fitted
    return out

"""The classifier cascade: rules -> TF-IDF/LR -> embedding similarity.

`Classifier.classify` is pure and synchronous: artifacts are loaded once by
`Classifier.load`, and a call only reads them. The embedding stage costs
milliseconds, so `aclassify` runs it on a dedicated one-thread executor and
only for requests the cheap stages leave ambiguous; clear requests never
leave the event loop's thread.

Score combination leans up on purpose ("when in doubt, route up"): markers
found by the rules set a floor the later stages cannot go below, and the
embedding stage moves a score only as far as its nearest exemplars are close.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

from proxy.classifier.artifacts import read_metadata
from proxy.classifier.features import (
    bounded_text,
    normalize,
    pseudo_tokens,
    word_tokens,
)
from proxy.classifier.request_text import RequestView, view_of_request, view_of_row
from proxy.classifier.rules import RuleResult, apply_rules
from proxy.classifier.settings import AmbiguityBand, ClassifierSettings, Thresholds

NO_RULES = RuleResult(markers=(), points=0, intent=None, simple_intent=False, words=0)


@dataclass(frozen=True, slots=True)
class Classification:
    tier: str
    """simple | standard | complex"""
    score: float
    """Monotone complexity score in [0, 1]; higher needs a stronger model."""
    intent: str | None
    """A known intent or the kind of work (e.g. greeting, coding, math), when one is recognised."""
    stage: str
    """The stage that decided the tier: rules | tfidf | embedding."""
    reasons: tuple[str, ...]


class _Partial(NamedTuple):
    """Result of the cheap stages, plus what the embedding stage needs."""

    score: float
    stage: str
    rules: RuleResult
    text: str
    reasons: tuple[str, ...]
    ambiguous: bool


def _lift(score: float, floor: float) -> float:
    # Above the floor, and still ordered by the model's own score.
    return score if score >= floor else floor + 0.1 * (1.0 - floor) * score


class Classifier:
    def __init__(self, settings: ClassifierSettings, thresholds: Thresholds,
                 band: AmbiguityBand, tfidf: Any, embedding: Any, metadata: dict[str, Any]) -> None:
        self.settings = settings
        self.thresholds = thresholds
        self.band = band
        self.metadata = metadata
        self._tfidf = tfidf
        self._embedding = embedding
        self._executor: ThreadPoolExecutor | None = None
        self._pending = 0
        self.embedding_skipped = 0
        self._use_rules = "rules" in settings.stages
        # TfidfModel scores words directly (no bigram strings); any other scorer with the
        # `score(tokens)` interface (e.g. a scikit-learn model in held-out runs) gets analyze()'s tokens.
        self._score_words = getattr(tfidf, "score_words", None) or self._score_tokens

    @classmethod
    def load(cls, settings: ClassifierSettings, base_dir: Path) -> Classifier:
        """Load the artifacts named by `settings`, relative to the policy folder `base_dir`."""
        model_dir = (Path(base_dir) / settings.model_dir).resolve()
        needs_model = "tfidf" in settings.stages or settings.thresholds is None or settings.ambiguous is None
        metadata = read_metadata(model_dir) if needs_model else {}
        calibrated = metadata.get("calibration", {})
        thresholds = settings.thresholds or Thresholds(**calibrated.get("thresholds", {}))
        band = settings.ambiguous or AmbiguityBand(**calibrated.get("ambiguous", {}))
        tfidf = embedding = None
        if "tfidf" in settings.stages:
            from proxy.classifier.tfidf_model import TfidfModel

            tfidf = TfidfModel(model_dir)
        if "embedding" in settings.stages:
            from proxy.classifier.embedding import EmbeddingStage

            embedding = EmbeddingStage(model_dir, Path(base_dir) / settings.exemplars)
        return cls(settings, thresholds, band, tfidf, embedding, metadata)

    # -- public API ---------------------------------------------------------

    def classify(self, request: dict[str, Any]) -> Classification:
        partial = self._cheap(view_of_request(request))
        if partial.ambiguous and self._embedding is not None:
            return self._with_embedding(partial, *self._embedding.score(partial.text))
        return self._finish(partial)

    async def aclassify(self, request: dict[str, Any]) -> Classification:
        partial = self._cheap(view_of_request(request))
        if not (partial.ambiguous and self._embedding is not None):
            return self._finish(partial)
        if self._pending >= self.settings.embedding_max_pending:
            # Busy: decide without the embedding stage, but an unresolved ambiguous request goes up.
            self.embedding_skipped += 1
            score = max(partial.score, self.thresholds.simple)
            return self._make(score, partial.stage, partial.rules, partial.reasons + ("embedding:skipped_busy",))
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classifier-embedding")
        loop = asyncio.get_running_loop()
        self._pending += 1
        try:
            emb, sim = await loop.run_in_executor(self._executor, self._embedding.score, partial.text)
        finally:
            self._pending -= 1
        return self._with_embedding(partial, emb, sim)

    def classify_row(self, row: dict[str, Any]) -> Classification:
        """A JSONL row with `text` or `messages` (batch and eval inputs)."""
        view = view_of_row(row)
        partial = self._cheap(view)
        if partial.ambiguous and self._embedding is not None:
            return self._with_embedding(partial, *self._embedding.score(partial.text))
        return self._finish(partial)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def tier_of(self, score: float) -> str:
        if score < self.thresholds.simple:
            return "simple"
        return "complex" if score >= self.thresholds.complex else "standard"

    # -- stages -------------------------------------------------------------

    def _floor(self, rules: RuleResult) -> float:
        if rules.floor == "complex":
            return self.thresholds.complex
        if rules.floor == "standard":
            return self.thresholds.simple
        return 0.0

    def _cheap(self, view: RequestView) -> _Partial:
        text = bounded_text(view.text, self.settings.max_chars)
        lower = text.lower()
        rules = apply_rules(view, text, lower) if self._use_rules else NO_RULES
        reasons = tuple(["marker:" + m for m in rules.markers])
        if self._tfidf is not None:
            # The tokens of features.analyze(text, rules, view), without building the bigram strings;
            # normalize() is plain lower-casing for ASCII text.
            words = word_tokens(lower if text.isascii() else normalize(text))
            model_score = self._score_words(words, pseudo_tokens(rules, view))
            stage = "tfidf"
        else:
            # Without the learned stage the rules give a coarse score by themselves.
            model_score, stage = min(1.0, 0.25 + 0.2 * rules.points), "rules"
        reasons += (f"{stage}:{model_score:.3f}",)
        if rules.simple_intent:
            cap = self.thresholds.simple * 0.5
            score = min(model_score, cap * (0.5 + 0.5 * model_score))
            return _Partial(score, "rules", rules, text, reasons + (f"intent:{rules.intent}",), False)
        floor = self._floor(rules)
        score = _lift(model_score, floor)
        if self.tier_of(score) != self.tier_of(model_score):
            stage = "rules"
        if rules.floor == "complex":
            return _Partial(score, stage, rules, text, reasons + ("floor:complex",), False)
        ambiguous = self.band.low <= score < self.band.high
        return _Partial(score, stage, rules, text, reasons, ambiguous)

    def _score_tokens(self, words: list[str], pseudo: list[str]) -> float:
        return self._tfidf.score([*words, *map(" ".join, pairwise(words)), *pseudo])[0]

    def _with_embedding(self, partial: _Partial, emb: float, similarity: float) -> Classification:
        # Trust the neighbours in proportion to how close they are: a request
        # unlike every exemplar (cosine ~0.25) leaves the score where it was.
        # The rule floor is applied again afterwards, so the embedding stage
        # can never take a request with hard-work markers down to simple.
        confidence = min(1.0, max(0.0, (similarity - 0.25) / 0.35))
        weight = self.settings.embedding_weight * confidence
        score = partial.score + weight * (emb - partial.score)
        score = _lift(score, self._floor(partial.rules))
        stage = partial.stage
        if self.tier_of(score) != self.tier_of(partial.score):
            stage = "embedding"
        reasons = partial.reasons + (f"embedding:{emb:.3f}", f"nearest:{similarity:.3f}")
        return self._make(score, stage, partial.rules, reasons)

    def _finish(self, partial: _Partial) -> Classification:
        return self._make(partial.score, partial.stage, partial.rules, partial.reasons)

    def _make(self, score: float, stage: str, rules: RuleResult, reasons: tuple[str, ...]) -> Classification:
        score = min(1.0, max(0.0, score))
        return Classification(self.tier_of(score), round(score, 6), rules.intent, stage, reasons)

"""The `classifier:` section of the policy file.

Parsed strictly (unknown keys are errors) so a typo such as `treshold` is
reported instead of silently falling back to a default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

StageName = Literal["rules", "tfidf", "embedding"]
STAGE_ORDER: tuple[str, ...] = ("rules", "tfidf", "embedding")


class Thresholds(BaseModel):
    """Cut points on the complexity score that turn it into a tier."""

    model_config = ConfigDict(extra="forbid")

    simple: float = 0.35
    """Scores below this value go to the `simple` tier."""

    complex: float = 0.7
    """Scores at or above this value go to the `complex` tier; anything between is `standard`."""

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        for name in ("simple", "complex"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"thresholds.{name} is {value}: scores live in [0, 1]; "
                    f"set thresholds.{name} to a number between 0 and 1"
                )
        if self.simple >= self.complex:
            raise ValueError(
                f"thresholds.simple ({self.simple}) must be lower than thresholds.complex "
                f"({self.complex}); lower `simple` or raise `complex` so a standard band remains"
            )
        return self


class AmbiguityBand(BaseModel):
    """Score range (from rules + TF-IDF) that counts as ambiguous and is sent to the embedding stage."""

    model_config = ConfigDict(extra="forbid")

    low: float = 0.15
    """Lower edge of the band (inclusive). Scores below it are trusted as clearly simple."""

    high: float = 0.75
    """Upper edge of the band (exclusive). Scores at or above it are trusted as clearly complex."""

    @model_validator(mode="after")
    def _ordered(self) -> AmbiguityBand:
        if not 0.0 <= self.low < self.high <= 1.0:
            raise ValueError(
                f"ambiguous band [{self.low}, {self.high}) is not a range inside [0, 1]; "
                "set `low` below `high`, both between 0 and 1"
            )
        return self


class ClassifierSettings(BaseModel):
    """How requests are scored for complexity (the policy file's `classifier:` section)."""

    model_config = ConfigDict(extra="forbid")

    stages: list[StageName] = ["rules", "tfidf", "embedding"]
    """Stages of the cascade, in order: `rules` (regex and keyword heuristics), `tfidf`
    (TF-IDF + logistic regression in onnxruntime), `embedding` (MiniLM similarity to the
    exemplar sets, only for requests the earlier stages leave ambiguous)."""

    thresholds: Thresholds | None = None
    """Score cut points for the tiers. Omit to use the values calibrated at training time
    (stored in the model metadata)."""

    model_dir: str = "models"
    """Folder of the trained artifacts, relative to the policy file's folder."""

    exemplars: str = "exemplars/exemplars.yaml"
    """Exemplar prompts per tier for the embedding stage, relative to the policy file's folder."""

    ambiguous: AmbiguityBand | None = None
    """Score band that triggers the embedding stage. Omit to use the calibrated band from the
    model metadata."""

    embedding_weight: float = 0.8
    """How far the embedding stage may move an ambiguous score towards its own (0 = not at
    all, 1 = all the way), scaled down further when the nearest exemplars are not close.
    Rule floors still apply afterwards."""

    embedding_max_pending: int = Field(default=2, ge=1)
    """Embedding computations running or queued at once. When that many are in flight, another
    ambiguous request does not wait for the embedding stage: it is decided without it and, since
    it stayed ambiguous, never placed in the simple tier ("when in doubt, route up"). This bounds
    the latency and CPU the stage can add under load."""

    max_chars: int = 6000
    """Longest text looked at per request (head and tail are kept); bounds the per-request cost."""

    @field_validator("stages")
    @classmethod
    def _stages_valid(cls, stages: list[str]) -> list[str]:
        if not stages:
            raise ValueError(
                "stages is empty; list at least one of rules, tfidf, embedding "
                "(e.g. stages: [rules, tfidf])"
            )
        if len(set(stages)) != len(stages):
            raise ValueError(f"stages {stages} names a stage twice; list each stage once")
        if [s for s in STAGE_ORDER if s in stages] != list(stages):
            raise ValueError(
                f"stages {stages} are out of order; they run cheapest first: "
                "write them in the order rules, tfidf, embedding"
            )
        return stages

    @field_validator("embedding_weight")
    @classmethod
    def _weight_valid(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"embedding_weight is {value}; set it between 0 and 1")
        return value

    @field_validator("max_chars")
    @classmethod
    def _max_chars_valid(cls, value: int) -> int:
        if value < 200:
            raise ValueError(f"max_chars is {value}; set it to at least 200 characters")
        return value

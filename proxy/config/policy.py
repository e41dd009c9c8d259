"""The typed schema of the routing policy file (`policies/default.yaml`).

A policy is data: which model serves each tier, which models to fall back
to, how the classifier decides the tier, and when a cheap answer is not good
enough. It never contains code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from proxy.classifier.settings import ClassifierSettings
from proxy.config.schema import Strict
from proxy.pricing import PriceOverride

Tier = Literal["simple", "standard", "complex"]
TIERS: tuple[Tier, ...] = ("simple", "standard", "complex")


class TierPolicy(Strict):
    model: str
    """Model that serves requests of this tier when the router decides."""
    fallbacks: list[str] = []
    """Models tried in order when the tier's model fails (connection error, timeout, 5xx, 429 after retries)."""

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("model must be a model name such as gpt-4o-mini")
        return v


class Tiers(Strict):
    simple: TierPolicy
    """FAQ-style and short factual requests."""
    standard: TierPolicy
    """Routine generation with a known pattern."""
    complex: TierPolicy
    """Multi-step reasoning, hard code, math and long context."""


class Guardrail(Strict):
    enabled: bool = True
    """Check the cheap model's answer before returning it in canary mode, and escalate when it fails."""
    min_chars: Annotated[int, Field(ge=0)] = 1
    """An answer shorter than this many characters fails the check."""
    refusal_patterns: list[str] = ["I don't know", "as an AI", "I can't help with", "I cannot help with"]
    """Case-insensitive phrases that mark an answer as a refusal or non-answer."""
    escalate_to: Tier = "standard"
    """Tier whose model answers instead when the check fails."""
    stream_buffer_tokens: Annotated[int, Field(ge=0)] = 0
    """For streaming requests, hold back the first N tokens to check them before releasing the stream. 0: stream straight through, unchecked."""


class Policy(Strict):
    tiers: Tiers
    """Model per tier."""
    never_upgrade: bool = True
    """The router's choice never costs more than the model the app asked for."""
    classifier: ClassifierSettings = ClassifierSettings()
    """How requests are classified into tiers."""
    guardrail: Guardrail = Guardrail()
    """Post-generation quality check for cheap answers."""
    prices: dict[str, PriceOverride] = {}
    """USD prices per model that override the bundled price table (negotiated prices, models it lacks)."""

"""What a replay adds up: requests, tokens and cost per tier, for both strategies.

Plain data with `merge`, so chunks classified in worker processes can be
summed in the parent in file order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from proxy.analysis.jsonl import BadLines

TIERS = ("simple", "standard", "complex")
BINS = 100
"""Score histogram resolution for the threshold sweep (0.01 wide bins)."""
MAX_EXAMPLES = 20


@dataclass
class TierTotals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_requested: float = 0.0
    """USD had every request gone to the model the app asked for."""
    cost_router: float = 0.0
    """USD with the router's choice for this tier."""
    models: Counter[str] = field(default_factory=Counter)

    def merge(self, other: TierTotals) -> None:
        self.requests += other.requests
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_requested += other.cost_requested
        self.cost_router += other.cost_router
        self.models.update(other.models)


@dataclass
class ScoreBins:
    """Per score bin: rows, cost if sent to the simple model or to the next tier up, labels."""

    rows: list[int] = field(default_factory=lambda: [0] * BINS)
    cost_simple: list[float] = field(default_factory=lambda: [0.0] * BINS)
    cost_upper: list[float] = field(default_factory=lambda: [0.0] * BINS)
    labeled_complex: list[int] = field(default_factory=lambda: [0] * BINS)
    labeled_simple: list[int] = field(default_factory=lambda: [0] * BINS)

    def add(self, score: float, cost_simple: float, cost_upper: float, label: str | None) -> None:
        i = min(BINS - 1, max(0, int(score * BINS)))
        self.rows[i] += 1
        self.cost_simple[i] += cost_simple
        self.cost_upper[i] += cost_upper
        if label == "complex":
            self.labeled_complex[i] += 1
        elif label == "simple":
            self.labeled_simple[i] += 1

    def merge(self, other: ScoreBins) -> None:
        for name in ("rows", "cost_simple", "cost_upper", "labeled_complex", "labeled_simple"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for i, v in enumerate(theirs):
                mine[i] += v

    def sweep(self) -> list[dict[str, float]]:
        """Cost and dangerous-misroute rate for each simple threshold (every 0.05)."""
        total_complex = sum(self.labeled_complex)
        out = []
        for step in range(21):
            cut = step * BINS // 20
            cost = sum(self.cost_simple[:cut]) + sum(self.cost_upper[cut:])
            below_complex = sum(self.labeled_complex[:cut])
            out.append({
                "threshold": step / 20,
                "share_simple": sum(self.rows[:cut]) / max(1, sum(self.rows)),
                "cost": cost,
                "dangerous_rate": below_complex / total_complex if total_complex else None,
            })
        return out


@dataclass
class ReplayTotals:
    lines: int = 0
    """Non-blank lines read."""
    unpriced: int = 0
    """Requests left out of the cost sums because a model has no price."""
    unpriced_models: Counter[str] = field(default_factory=Counter)
    estimated_input: int = 0
    """Requests whose tokens were counted locally (no `usage` in the row)."""
    tiers: dict[str, TierTotals] = field(default_factory=lambda: {t: TierTotals() for t in TIERS})
    stages: Counter[str] = field(default_factory=Counter)
    requested_models: Counter[str] = field(default_factory=Counter)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(label, predicted tier) for labeled rows."""
    dangerous_lines: list[int] = field(default_factory=list)
    bins: ScoreBins = field(default_factory=ScoreBins)
    quality: Any = None
    """`proxy.analysis.outcomes.Quality` when an outcomes file was given."""
    bad: BadLines = field(default_factory=BadLines)

    def merge(self, other: ReplayTotals) -> None:
        self.lines += other.lines
        self.unpriced += other.unpriced
        self.unpriced_models.update(other.unpriced_models)
        self.estimated_input += other.estimated_input
        for tier, totals in other.tiers.items():
            self.tiers[tier].merge(totals)
        self.stages.update(other.stages)
        self.requested_models.update(other.requested_models)
        self.confusion.update(other.confusion)
        room = MAX_EXAMPLES - len(self.dangerous_lines)
        self.dangerous_lines.extend(other.dangerous_lines[:max(0, room)])
        self.bins.merge(other.bins)
        if other.quality is not None:
            if self.quality is None:
                self.quality = type(other.quality)()
            self.quality.merge(other.quality)
        self.bad.merge(other.bad)

    # -- derived figures -----------------------------------------------------

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.tiers.values())

    @property
    def tokens(self) -> int:
        return sum(t.input_tokens + t.output_tokens for t in self.tiers.values())

    @property
    def cost_requested(self) -> float:
        return sum(t.cost_requested for t in self.tiers.values())

    @property
    def cost_router(self) -> float:
        return sum(t.cost_router for t in self.tiers.values())

    @property
    def labeled(self) -> int:
        return sum(self.confusion.values())

    def dangerous(self) -> dict[str, Any] | None:
        """True complex requests the router would send to the simple tier."""
        complex_rows = sum(n for (label, _), n in self.confusion.items() if label == "complex")
        if not complex_rows:
            return None
        n = self.confusion.get(("complex", "simple"), 0)
        return {"count": n, "labeled_complex": complex_rows, "rate": n / complex_rows,
                "example_lines": sorted(self.dangerous_lines)}

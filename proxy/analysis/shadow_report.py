"""Aggregates of a shadow log: agreement, cost actual vs counterfactual, volume, worst diffs.

A shadow record pairs the answer the app received (`primary_*`, the model
it asked for) with the router's choice asked the same question in the
background (`shadow_*`). Per route and tier this adds up how alike the two
answers were and what the router's choice would have cost instead.
Memory is bounded: 8 bytes per record for exact quantiles, plus a fixed
number of worst-diff examples.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from array import array
from dataclasses import dataclass, field
from typing import Any

from proxy.analysis.jsonl import BadLines

SIM_BINS = 10
WORST = 5


@dataclass
class Rule:
    """When a route and tier are ready for canary (see `recommend`)."""

    similarity: float = 0.9
    ready_share: float = 0.95
    review_share: float = 0.80
    min_samples: int = 30
    max_error_rate: float = 0.01


@dataclass
class Group:
    records: int = 0
    shadow_errors: int = 0
    primary_errors: int = 0
    unpriced: int = 0
    cost_actual: float = 0.0
    cost_counterfactual: float = 0.0
    priced: int = 0
    similarities: array = field(default_factory=lambda: array("d"))
    primary_latency: array = field(default_factory=lambda: array("d"))
    shadow_latency: array = field(default_factory=lambda: array("d"))
    models: dict[str, int] = field(default_factory=dict)

    def quantile(self, q: float, values: array | None = None) -> float | None:
        data = sorted(self.similarities if values is None else values)
        if not data:
            return None
        # Nearest rank: a value that was actually observed.
        return data[max(0, math.ceil(q * len(data)) - 1)]

    def share_at_least(self, threshold: float) -> float | None:
        if not self.similarities:
            return None
        return sum(1 for s in self.similarities if s >= threshold) / len(self.similarities)

    def histogram(self) -> list[int]:
        counts = [0] * SIM_BINS
        for s in self.similarities:
            counts[min(SIM_BINS - 1, max(0, int(s * SIM_BINS)))] += 1
        return counts


@dataclass
class ShadowTotals:
    groups: dict[tuple[str, str], Group] = field(default_factory=dict)
    first_ts: dt.datetime | None = None
    last_ts: dt.datetime | None = None
    worst: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    bad: BadLines = field(default_factory=BadLines)
    lines: int = 0

    def add(self, lineno: int, rec: dict[str, Any]) -> None:
        tier, route = rec.get("tier"), rec.get("route")
        if not isinstance(tier, str) or not isinstance(route, str):
            self.bad.add(lineno, "no \"route\" and \"tier\" strings: not a shadow log record")
            return
        group = self.groups.setdefault((route, tier), Group())
        group.records += 1
        shadow_ok = rec.get("shadow_status") == 200
        primary_ok = rec.get("primary_status") == 200
        group.shadow_errors += not shadow_ok
        group.primary_errors += not primary_ok
        model = rec.get("shadow_model")
        if isinstance(model, str):
            group.models[model] = group.models.get(model, 0) + 1
        sim = rec.get("similarity")
        if shadow_ok and primary_ok and isinstance(sim, (int, float)):
            group.similarities.append(float(sim))
            self._worst(float(sim), lineno, rec)
        for key, values in (("primary_latency_ms", group.primary_latency), ("shadow_latency_ms", group.shadow_latency)):
            value = rec.get(key)
            if isinstance(value, (int, float)):
                values.append(float(value))
        actual, counterfactual = rec.get("primary_cost_usd"), rec.get("shadow_cost_usd")
        if isinstance(actual, (int, float)) and isinstance(counterfactual, (int, float)):
            group.priced += 1
            group.cost_actual += actual
            group.cost_counterfactual += counterfactual
        else:
            group.unpriced += 1
        self._stamp(rec.get("ts"))

    def _stamp(self, value: object) -> None:
        if not isinstance(value, str):
            return
        try:
            ts = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.UTC)
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts

    def _worst(self, sim: float, lineno: int, rec: dict[str, Any]) -> None:
        if not (isinstance(rec.get("primary_text"), str) and isinstance(rec.get("shadow_text"), str)):
            return
        item = (-sim, -lineno, {k: rec.get(k) for k in ("route", "tier", "similarity", "primary_model",
                                                         "shadow_model", "primary_text", "shadow_text")} | {"line": lineno})
        # A min-heap on -similarity keeps the WORST lowest similarities.
        if len(self.worst) < WORST:
            heapq.heappush(self.worst, item)
        elif item[:2] > self.worst[0][:2]:
            heapq.heapreplace(self.worst, item)

    def worst_diffs(self) -> list[dict[str, Any]]:
        return [entry for _, _, entry in sorted(self.worst, key=lambda x: (-x[0], -x[1]))]

    # -- derived --------------------------------------------------------------

    @property
    def records(self) -> int:
        return sum(g.records for g in self.groups.values())

    @property
    def duration_s(self) -> float | None:
        if self.first_ts is None or self.last_ts is None or self.last_ts <= self.first_ts:
            return None
        return (self.last_ts - self.first_ts).total_seconds()

    def monthly_projection(self, shadow_share: float = 1.0) -> dict[str, float] | None:
        """Savings over 30 days at the observed request rate; `shadow_share`: the part of traffic the log saw."""
        duration = self.duration_s
        priced = sum(g.priced for g in self.groups.values())
        if duration is None or not priced:
            return None
        saved = sum(g.cost_actual - g.cost_counterfactual for g in self.groups.values())
        per_day = self.records / duration * 86400 / shadow_share
        return {"requests_per_day": per_day, "savings_per_request": saved / priced,
                "monthly_savings": saved / priced * per_day * 30}


def recommend(group: Group, rule: Rule) -> tuple[str, str]:
    """(verdict, sentence). Verdicts: wait, fix, ready, review, not_ready."""
    n = len(group.similarities)
    if group.records < rule.min_samples or n == 0:
        return "wait", f"keep shadowing: {group.records} samples, the rule needs at least {rule.min_samples}"
    errors = group.shadow_errors / group.records
    if errors > rule.max_error_rate:
        return "fix", f"{errors * 100:.1f}% of shadow calls failed: fix that before a canary"
    share = group.share_at_least(rule.similarity) or 0.0
    said = f"similarity ≥ {rule.similarity:g} on {share * 100:.1f}% of {n}"
    if share >= rule.ready_share:
        return "ready", f"{said} — ready for canary (start at a few percent)"
    if share >= rule.review_share:
        return "review", f"{said} — read the worst diffs, then canary at a small percent"
    return "not_ready", f"{said} — not ready: the cheaper model answers differently too often"

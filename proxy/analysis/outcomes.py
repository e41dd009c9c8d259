"""Routing outcomes joined to replayed traffic: how good the answers would have been.

An outcomes file (`{"id", "text", "results": {model: {"score", "cost_usd"}}}`)
says how well each model answered each prompt. Replay looks a traffic row up
by `x_id`/`id`, else by its last user message, and takes two models' scores:
the cheap one (the simple tier's) and the strong one (the other tiers'). The
outcome table may name other models than the policy (a benchmark's), so both
names can be given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from proxy.analysis.totals import BINS


def load(path: Path, cheap: str, strong: str) -> dict[str, tuple[float, float]]:
    """id or text -> (cheap model's score, strong model's score), for rows that score both."""
    table: dict[str, tuple[float, float]] = {}
    with open(path, "rb") as stream:
        for line in stream:
            if not line.strip():
                continue
            row = orjson.loads(line)
            results = row.get("results") if isinstance(row, dict) else None
            if not isinstance(results, dict):
                continue
            a, b = (results.get(cheap) or {}).get("score"), (results.get(strong) or {}).get("score")
            if isinstance(a, (int, float)) and isinstance(b, (int, float)):
                for key in (row.get("id"), row.get("text")):
                    if isinstance(key, str):
                        table[key.strip()] = (float(a), float(b))
    return table


def lookup(table: dict[str, tuple[float, float]], row: dict[str, Any]) -> tuple[float, float] | None:
    for key in (row.get("x_id"), row.get("id")):
        if isinstance(key, str) and key in table:
            return table[key]
    messages = row.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return table.get(message["content"].strip())
    return None


@dataclass
class Quality:
    """Per score bin: matched rows and the summed scores of the cheap and the strong model."""

    matched: list[int] = field(default_factory=lambda: [0] * BINS)
    cheap: list[float] = field(default_factory=lambda: [0.0] * BINS)
    strong: list[float] = field(default_factory=lambda: [0.0] * BINS)
    router: float = 0.0
    """Summed score of the model the policy actually picked."""

    def add(self, score: float, cheap: float, strong: float, routed_cheap: bool) -> None:
        i = min(BINS - 1, max(0, int(score * BINS)))
        self.matched[i] += 1
        self.cheap[i] += cheap
        self.strong[i] += strong
        self.router += cheap if routed_cheap else strong

    def merge(self, other: Quality) -> None:
        for name in ("matched", "cheap", "strong"):
            mine = getattr(self, name)
            for i, v in enumerate(getattr(other, name)):
                mine[i] += v
        self.router += other.router

    @property
    def rows(self) -> int:
        return sum(self.matched)

    def at(self, cut: int) -> float | None:
        """Mean score when bins below `cut` go to the cheap model and the rest to the strong one."""
        n = self.rows
        return (sum(self.cheap[:cut]) + sum(self.strong[cut:])) / n if n else None

    def summary(self) -> dict[str, Any] | None:
        n = self.rows
        if not n:
            return None
        return {"matched_rows": n, "router": self.router / n, "all_strong": self.at(0), "all_cheap": self.at(BINS)}

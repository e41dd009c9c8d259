"""Training labels from routing outcome tables.

A prompt that cheap models already solve is not complex, whatever its
source says; one that most models fail is. Outcome rows therefore become
extra training rows labeled `standard` (most models succeed) or `complex`
(most fail). They never become `simple`: benchmark questions are not the FAQ
and command traffic the simple tier is for, and a wrong `simple` is the
expensive mistake.

Rows a table marks as held out (`orig_split: test`), and any row sharing
their text, are skipped so routing metrics on those rows stay honest.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from proxy.classifier.datasets import read_outcomes

OUTCOME_WEIGHT = 0.5
SOLVED = 0.5
# Factoid QA is scored by answer overlap (F1), which measures phrasing more than
# difficulty; short factoid questions belong to the simple tier's sources.
SKIP_TASKS = frozenset({"natural_qa"})
_KEY = re.compile(r"\W+")


def text_key(text: str) -> str:
    return _KEY.sub("", text.lower())[:160]


def mean_score(results: dict[str, Any]) -> float | None:
    scores = [r.get("score") for r in results.values() if isinstance(r, dict)]
    scores = [float(s) for s in scores if isinstance(s, (int, float))]
    return sum(scores) / len(scores) if scores else None


def outcome_rows(paths: list[Path]) -> list[dict[str, Any]]:
    tables = [(path, [row.data for row in read_outcomes(path)]) for path in paths]
    held_keys = {text_key(r["text"]) for _, rows in tables for r in rows
                 if "test" in str(r.get("orig_split", ""))}
    out: list[dict[str, Any]] = []
    for path, rows in tables:
        for row in rows:
            task = str(row.get("task") or path.stem)
            if task in SKIP_TASKS or "test" in str(row.get("orig_split", "")):
                continue
            if text_key(row["text"]) in held_keys:
                continue
            mean = mean_score(row["results"])
            if mean is None:
                continue
            out.append({"id": str(row.get("id")), "text": row["text"],
                        "tier": "standard" if mean >= SOLVED else "complex",
                        "source": f"outcome:{task}", "weight": OUTCOME_WEIGHT})
    return out

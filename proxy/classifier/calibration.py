"""Pick the tier thresholds from dev data and source-held-out scores.

The simple threshold is the one that matters for safety: it is the largest
value that keeps both the dev dangerous-misroute rate and the held-out
(unseen-source) rate of hard prompts sent to `simple` within bounds, as long
as dev simple recall stays acceptable. Held-out scores come from models that
never saw the prompt's source, which is what production traffic looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = np.round(np.arange(0.05, 0.61, 0.01), 2)
MAX_DEV_DANGEROUS = 0.005
MAX_HELDOUT_DANGEROUS = 0.08
MIN_SIMPLE_RECALL = 0.92


@dataclass(frozen=True, slots=True)
class Scored:
    """Raw TF-IDF scores plus the rule verdicts that bound them."""

    scores: np.ndarray
    floors: np.ndarray  # 0 none, 1 standard, 2 complex
    simple_intent: np.ndarray
    tiers: np.ndarray  # 0 simple, 1 standard, 2 complex


def predict(data: Scored, t_simple: float, t_complex: float) -> np.ndarray:
    pred = np.where(data.scores < t_simple, 0, np.where(data.scores >= t_complex, 2, 1))
    pred = np.maximum(pred, data.floors)
    return np.where(data.simple_intent, 0, pred)


def _rates(data: Scored, t_simple: float) -> tuple[float, float]:
    pred = predict(data, t_simple, 1.01)
    complex_rows, simple_rows = data.tiers == 2, data.tiers == 0
    dangerous = float(np.mean(pred[complex_rows] == 0)) if complex_rows.any() else 0.0
    recall = float(np.mean(pred[simple_rows] == 0)) if simple_rows.any() else 1.0
    return dangerous, recall


def choose_simple(dev: Scored, heldout: Scored | None) -> tuple[float, list[dict[str, float]]]:
    table = []
    best = None
    fallback = None
    for t in GRID:
        dangerous, recall = _rates(dev, t)
        held = _rates(heldout, t)[0] if heldout is not None else 0.0
        table.append({"t": float(t), "dev_dangerous": dangerous, "dev_simple_recall": recall,
                      "heldout_dangerous": held})
        if dangerous <= 2 * MAX_DEV_DANGEROUS and recall >= MIN_SIMPLE_RECALL and fallback is None:
            fallback = float(t)
        if dangerous <= MAX_DEV_DANGEROUS and held <= MAX_HELDOUT_DANGEROUS:
            best = float(t)
    if best is None or _rates(dev, best)[1] < MIN_SIMPLE_RECALL:
        # Safety bounds and recall conflict: keep recall, at the lowest such threshold.
        best = fallback if fallback is not None else float(GRID[0])
    return best, table


def choose_complex(dev: Scored, t_simple: float) -> float:
    """Maximise dev macro-F1 over the standard/complex split (no safety impact)."""
    best_t, best_f1 = 0.7, -1.0
    for t in np.round(np.arange(t_simple + 0.1, 0.96, 0.01), 2):
        pred = predict(dev, t_simple, float(t))
        f1s = []
        for tier in (0, 1, 2):
            tp = np.sum((pred == tier) & (dev.tiers == tier))
            p = tp / max(1, np.sum(pred == tier))
            r = tp / max(1, np.sum(dev.tiers == tier))
            f1s.append(2 * p * r / (p + r) if p + r else 0.0)
        if np.mean(f1s) > best_f1 + 1e-9:
            best_t, best_f1 = float(t), float(np.mean(f1s))
    return best_t


def ambiguous_band(t_simple: float, t_complex: float) -> dict[str, float]:
    """Scores near the simple boundary, where a wrong call is costly, go to the embedding stage."""
    return {"low": round(t_simple / 3, 4), "high": round((t_simple + t_complex) / 2, 4)}

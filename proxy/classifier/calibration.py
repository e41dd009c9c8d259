"""Pick the tier thresholds from dev data and source-held-out scores.

The simple threshold is the one that matters for safety. It is the lowest
value at which the full cascade reaches the simple-recall target on dev,
stepped further down if the dev dangerous-misroute rate, or the rate of the
worst unseen complex source (scores from models that never saw that
source, which is what production traffic looks like), exceeds its bound.
The complex threshold only splits standard from complex work and is tuned
for dev macro-F1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GRID = np.round(np.arange(0.05, 0.61, 0.01), 2)
MIN_SIMPLE_RECALL = 0.92  # the target is 0.90; the margin absorbs dev-set noise
MAX_DEV_DANGEROUS = 0.01
MAX_HELDOUT_DANGEROUS = 0.05


@dataclass(frozen=True, slots=True)
class Scored:
    """Raw TF-IDF scores plus the rule verdicts that bound them."""

    scores: np.ndarray
    floors: np.ndarray  # 0 none, 1 standard, 2 complex
    simple_intent: np.ndarray
    tiers: np.ndarray  # 0 simple, 1 standard, 2 complex
    groups: np.ndarray  # source of each row


def predict(data: Scored, t_simple: float, t_complex: float) -> np.ndarray:
    pred = np.where(data.scores < t_simple, 0, np.where(data.scores >= t_complex, 2, 1))
    pred = np.maximum(pred, data.floors)
    return np.where(data.simple_intent, 0, pred)


def _rates(data: Scored, t_simple: float) -> tuple[float, float, float]:
    """(dangerous rate, simple recall, worst complex source's dangerous rate)."""
    pred = predict(data, t_simple, 1.01)
    complex_rows, simple_rows = data.tiers == 2, data.tiers == 0
    dangerous = float(np.mean(pred[complex_rows] == 0)) if complex_rows.any() else 0.0
    recall = float(np.mean(pred[simple_rows] == 0)) if simple_rows.any() else 1.0
    worst = 0.0
    for group in np.unique(data.groups[complex_rows]):
        rows = complex_rows & (data.groups == group)
        worst = max(worst, float(np.mean(pred[rows] == 0)))
    return dangerous, recall, worst


def choose_simple(dev_rates: Callable[[float], tuple[float, float]],
                  heldout: Scored | None) -> tuple[float, list[dict[str, float]]]:
    """The lowest threshold that reaches the simple-recall target, within the safety bounds.

    `dev_rates(t)` gives (dangerous rate, simple recall) of the full cascade on
    dev at simple threshold t. Lowest, because every step up buys a little
    recall with a little more risk; once recall is on target, more risk is
    not worth it. If the safety bounds fail there, step down until they hold
    (recall gives way).
    """
    table = []
    for t in GRID:
        dangerous, recall = dev_rates(float(t))
        worst = _rates(heldout, t)[2] if heldout is not None else 0.0
        table.append({"t": float(t), "dev_dangerous": round(dangerous, 4),
                      "dev_simple_recall": round(recall, 4), "heldout_worst_source_dangerous": round(worst, 4)})
    reaching = [row for row in table if row["dev_simple_recall"] >= MIN_SIMPLE_RECALL]
    start = reaching[0]["t"] if reaching else table[-1]["t"]
    for row in reversed([r for r in table if r["t"] <= start]):
        if row["dev_dangerous"] <= MAX_DEV_DANGEROUS and row["heldout_worst_source_dangerous"] <= MAX_HELDOUT_DANGEROUS:
            return row["t"], table
    return table[0]["t"], table


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
    """Scores from near-certainly simple up to the complex threshold go to the embedding stage.

    Below a third of the simple threshold the cheap stages are reliable; above
    the complex threshold a second opinion could only lower the tier.
    """
    return {"low": round(t_simple / 3, 4), "high": round(t_complex, 4)}

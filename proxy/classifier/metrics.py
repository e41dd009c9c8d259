"""Evaluation figures: tier metrics, and the RouteLLM cost-quality curve.

The routing curve follows RouteLLM (arXiv 2406.18665): sweep a threshold on
the complexity score; requests above it go to the strong model. At each
share of strong calls c, PGR(c) = (quality(c) - quality_weak) /
(quality_strong - quality_weak); APGR is the area under PGR over c in
[0, 1] (random routing gives 0.5); CPT(x) is the smallest share of strong
calls with PGR >= x. Requests with equal scores cannot be ordered by the
router, so a tie group counts at its expected value (random order inside
the group), which stops constant scores from looking like a ranking.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from proxy.classifier.tfidf_model import TIERS


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


def tier_metrics(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    n = len(truth)
    index = {t: i for i, t in enumerate(TIERS)}
    confusion = np.zeros((3, 3), dtype=np.int64)
    for t, p in zip(truth, predicted):
        confusion[index[t], index[p]] += 1
    per_tier: dict[str, dict[str, float]] = {}
    f1s = []
    for i, tier in enumerate(TIERS):
        tp = confusion[i, i]
        support = int(confusion[i].sum())
        predicted_n = int(confusion[:, i].sum())
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_tier[tier] = {"precision": round(float(precision), 4), "recall": round(float(recall), 4),
                          "f1": round(float(f1), 4), "support": support}
        if support:
            f1s.append(f1)
    complex_n = int(confusion[2].sum())
    return {
        "n": n,
        "accuracy": round(float(np.trace(confusion) / n), 4) if n else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "per_tier": per_tier,
        "confusion": {"rows_truth_cols_predicted": list(TIERS),
                      "matrix": confusion.tolist()},
        "dangerous_misroute_rate": round(float(confusion[2, 0] / complex_n), 4) if complex_n else 0.0,
        "dangerous_misroutes": int(confusion[2, 0]),
    }


def _expected_gains(scores: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Gains in routing order (score descending), tie groups replaced by their mean."""
    order = np.argsort(-scores, kind="stable")
    s, g = scores[order], gains[order].astype(np.float64)
    out = g.copy()
    start = 0
    for end in range(1, len(s) + 1):
        if end == len(s) or s[end] != s[start]:
            out[start:end] = g[start:end].mean()
            start = end
    return out


def routing_curve(scores: np.ndarray, strong: np.ndarray, weak: np.ndarray,
                  strong_cost: np.ndarray, weak_cost: np.ndarray) -> dict[str, Any]:
    n = len(scores)
    q_weak, q_strong = float(weak.mean()), float(strong.mean())
    gap = q_strong - q_weak
    gains = _expected_gains(scores, strong - weak)
    quality = (weak.sum() + np.concatenate([[0.0], np.cumsum(gains)])) / n  # k = 0..n strong calls
    cost_gain = _expected_gains(scores, strong_cost - weak_cost)
    cost = (weak_cost.sum() + np.concatenate([[0.0], np.cumsum(cost_gain)])) / n
    share = np.arange(n + 1) / n
    result: dict[str, Any] = {
        "n": n, "quality_weak": round(q_weak, 4), "quality_strong": round(q_strong, 4),
        "cost_per_call_weak": float(weak_cost.mean()), "cost_per_call_strong": float(strong_cost.mean()),
    }
    if gap <= 0:
        result.update(apgr=None, cpt50=None, cpt80=None, curve=[],
                      note="the strong model is not better than the weak one here; PGR undefined")
        return result
    pgr = (quality - q_weak) / gap
    result["apgr"] = round(float(np.sum((pgr[1:] + pgr[:-1]) / 2) / n), 4)
    for target in (0.5, 0.8):
        hit = np.nonzero(pgr >= target - 1e-12)[0]
        result[f"cpt{int(target * 100)}"] = round(float(share[hit[0]] * 100), 2) if len(hit) else None
    points = sorted({round(float(p) * n) for p in np.linspace(0, 1, 11)})
    result["curve"] = [
        {"strong_pct": round(float(share[k] * 100), 1), "quality": round(float(quality[k]), 4),
         "pgr": round(float(pgr[k]), 4), "cost_per_call": float(cost[k])}
        for k in points
    ]
    return result


def find_model(results: dict[str, Any], name: str) -> str | None:
    """Match a model name exactly or by its last path part (`mixtral-8x7b-chat` matches
    `mistralai/mixtral-8x7b-chat`)."""
    if name in results:
        return name
    matches = [key for key in results if key.rsplit("/", 1)[-1] == name]
    return matches[0] if len(matches) == 1 else None

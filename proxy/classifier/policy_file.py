"""Read the `classifier:` section of a policy file, and nothing else.

The full policy schema belongs to the policy loader; the commands here only
need this one key, so they parse it on their own and leave the rest alone.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from proxy.classifier.settings import ClassifierSettings

DEFAULT_POLICY = Path("policies/default.yaml")
# A source checkout or editable install keeps policies/ beside the package,
# so the commands also work when run from another folder.
CHECKOUT_POLICIES = Path(__file__).resolve().parents[2] / "policies"


class PolicyError(ValueError):
    """The policy file or its classifier section is invalid."""


def load_settings(policy: Path | None) -> tuple[ClassifierSettings, Path]:
    """(settings, base_dir). Without --policy: ./policies/default.yaml, else the checkout's
    policies/default.yaml, else built-in defaults with artifacts under ./policies."""
    if policy is None:
        if DEFAULT_POLICY.exists():
            policy = DEFAULT_POLICY
        elif Path("policies").is_dir() or not CHECKOUT_POLICIES.is_dir():
            return ClassifierSettings(), Path("policies")
        elif (CHECKOUT_POLICIES / DEFAULT_POLICY.name).exists():
            policy = CHECKOUT_POLICIES / DEFAULT_POLICY.name
        else:
            return ClassifierSettings(), CHECKOUT_POLICIES
    try:
        data = yaml.safe_load(policy.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise PolicyError(f"{policy}: cannot read ({exc.strerror}); check --policy") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{policy}: not valid YAML ({exc})") from exc
    section = data.get("classifier", {}) if isinstance(data, dict) else {}
    try:
        settings = ClassifierSettings.model_validate(section or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"classifier.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"{policy}: {problems}") from exc
    return settings, policy.parent

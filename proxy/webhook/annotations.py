"""The `llm-router.io/` labels and annotations a pod sets, read into plain values.

Opt-in is a label as well as an annotation because only labels can be matched
by the MutatingWebhookConfiguration's objectSelector (pod-level opt-in in a
namespace that is not labelled). Opt-out may be either. An invalid value is
never fatal: it is ignored and reported back as an admission warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "llm-router.io/"
INJECT = PREFIX + "inject"
MODE = PREFIX + "mode"
PERCENT = PREFIX + "percent"
ROUTE = PREFIX + "route"
OVERRIDE_ENV = PREFIX + "override-env"
EXCLUDE_CONTAINERS = PREFIX + "exclude-containers"
STATUS = PREFIX + "status"
# Label set on injected pods, so a NetworkPolicy can single them out.
INJECTED_LABEL = PREFIX + "injected"

MODES = ("passthrough", "shadow", "canary")
_ROUTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Overrides:
    """Per-pod settings, handed to the sidecar as environment variables."""

    mode: str | None = None
    percent: str | None = None
    route: str | None = None
    override_env: bool = False
    exclude_containers: frozenset[str] = frozenset()

    def sidecar_env(self) -> list[tuple[str, str]]:
        pairs = [("LLM_ROUTER_MODE", self.mode), ("LLM_ROUTER_PERCENT", self.percent), ("LLM_ROUTER_ROUTE", self.route)]
        return [(name, value) for name, value in pairs if value is not None]


def _bool(value: str) -> bool | None:
    lowered = value.strip().lower()
    return {"true": True, "false": False}.get(lowered)


def injection_wanted(
    labels: Mapping[str, str], annotations: Mapping[str, str], require_opt_in: bool
) -> tuple[bool, str, list[str]]:
    """Whether to inject, why, and warnings about unreadable values.

    Opt-out wins over opt-in, so a pod labelled in by a template and annotated
    out by a person stays out.
    """
    warnings: list[str] = []
    votes: list[bool] = []
    for source, mapping in (("label", labels), ("annotation", annotations)):
        if INJECT not in mapping:
            continue
        vote = _bool(str(mapping[INJECT]))
        if vote is None:
            warnings.append(f'{source} {INJECT}="{mapping[INJECT]}" is not "true" or "false"; ignored')
        else:
            votes.append(vote)
    if False in votes:
        return False, "pod opted out", warnings
    if True in votes:
        return True, "pod opted in", warnings
    if require_opt_in:
        return False, "pod did not opt in", warnings
    return True, "namespace opted in", warnings


def read_overrides(annotations: Mapping[str, str]) -> tuple[Overrides, list[str]]:
    warnings: list[str] = []
    mode = annotations.get(MODE)
    if mode is not None and mode not in MODES:
        warnings.append(f'{MODE}="{mode}" is not one of {", ".join(MODES)}; ignored')
        mode = None
    percent = annotations.get(PERCENT)
    if percent is not None:
        percent = _percent(percent)
        if percent is None:
            warnings.append(f'{PERCENT}="{annotations[PERCENT]}" is not a number from 0 to 100; ignored')
    route = annotations.get(ROUTE)
    if route is not None and not _ROUTE_NAME.match(route):
        warnings.append(f'{ROUTE}="{route}" is not a route name (letters, digits, ".", "_", "-"); ignored')
        route = None
    override_env = False
    if OVERRIDE_ENV in annotations:
        flag = _bool(annotations[OVERRIDE_ENV])
        if flag is None:
            warnings.append(f'{OVERRIDE_ENV}="{annotations[OVERRIDE_ENV]}" is not "true" or "false"; ignored')
        override_env = bool(flag)
    excluded = frozenset(n.strip() for n in annotations.get(EXCLUDE_CONTAINERS, "").split(",") if n.strip())
    overrides = Overrides(mode, percent, route, override_env, excluded)
    return overrides, warnings


def _percent(raw: str) -> str | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    if not 0 <= value <= 100:  # also rejects NaN
        return None
    # Normalised so the sidecar never has to parse "5.", "05" or "1e1".
    return format(value, ".10g")

"""The router's decision for one classified request: which arm, which model.

Pure: a function of the route, the policy, the price table, the
classification and the request's sticky key. I/O and classification happen
around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from proxy.routing.bucket import in_router_arm
from proxy.routing.table import CompiledRoute

CONTROL = "control"
ROUTER = "router"
STICKY_HEADER = "x-llm-router-sticky"


class Prices(Protocol):
    def get(self, model: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Decision:
    tier: str
    score: float
    stage: str
    intent: str | None
    arm: str
    router_model: str
    """The policy's model for the tier, after never_upgrade; may equal the requested model."""
    reason: str
    """Why the router model is what it is (`tier`, `never_upgrade`, `unpriced`)."""

    @property
    def rewrites(self) -> bool:
        return self.arm == ROUTER and self.reason == "tier"


def sticky_key(route: CompiledRoute, headers: Mapping[str, str], payload: Mapping[str, Any], request_id: str) -> str:
    explicit = headers.get(STICKY_HEADER)
    if explicit:
        return explicit
    if route.sticky == "user":
        user = payload.get("user")
        if isinstance(user, str) and user:
            return user
    elif route.sticky is not None:
        value = headers.get(route.sticky[len("header:"):])
        if value:
            return value
    # No sticky key: each request is assigned on its own.
    return request_id


def _costlier(prices: Prices, candidate: str, requested: str) -> bool | None:
    """True if `candidate` costs more than `requested`; None if either price is unknown."""
    a, b = prices.get(candidate), prices.get(requested)
    if a is None or b is None:
        return None
    return a.input > b.input or a.output > b.output


def decide(
    *,
    route: CompiledRoute,
    tiers: Any,
    never_upgrade: bool,
    prices: Prices,
    requested_model: str,
    classification: Any,
    key: str,
) -> Decision:
    tier = classification.tier
    candidate = getattr(tiers, tier).model
    reason = "tier"
    if candidate == requested_model:
        reason = "same_model"
    elif never_upgrade:
        costlier = _costlier(prices, candidate, requested_model)
        if costlier is None:
            # Without both prices the router cannot promise not to upgrade: leave the request alone.
            candidate, reason = requested_model, "unpriced"
        elif costlier:
            candidate, reason = requested_model, "never_upgrade"
    # Passthrough never acts on the choice: every request is in the control arm, the choice is only recorded.
    arm = ROUTER if route.mode != "passthrough" and in_router_arm(route.salt, key, route.percent) else CONTROL
    return Decision(
        tier=tier,
        score=classification.score,
        stage=classification.stage,
        intent=classification.intent,
        arm=arm,
        router_model=candidate,
        reason=reason,
    )

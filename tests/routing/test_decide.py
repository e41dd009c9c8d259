"""The router's choice: the tier's model, never costlier than the requested one, in a sticky arm."""

from __future__ import annotations

from types import SimpleNamespace

from multidict import CIMultiDict

from proxy.config.policy import Policy
from proxy.config.schema import Route
from proxy.pricing import PriceTable
from proxy.routing.decide import CONTROL, ROUTER, decide, sticky_key
from proxy.routing.table import compile_route

POLICY = Policy.model_validate({"tiers": {
    "simple": {"model": "gpt-4o-mini"}, "standard": {"model": "gpt-4o"}, "complex": {"model": "o1"}}})
PRICES = PriceTable.load()


def classification(tier: str) -> SimpleNamespace:
    return SimpleNamespace(tier=tier, score={"simple": 0.1, "standard": 0.5, "complex": 0.9}[tier], stage="rules", intent=None)


def route(**kw) -> object:
    return compile_route(Route.model_validate({"name": "r", "mode": "canary", "percent": 100, **kw}))


def test_simple_request_goes_to_the_cheap_model():
    d = decide(route=route(), tiers=POLICY.tiers, never_upgrade=True, prices=PRICES,
               requested_model="gpt-4o", classification=classification("simple"), key="k")
    assert (d.arm, d.router_model, d.reason, d.rewrites) == (ROUTER, "gpt-4o-mini", "tier", True)


def test_never_upgrade_keeps_the_requested_model_when_the_tier_model_costs_more():
    d = decide(route=route(), tiers=POLICY.tiers, never_upgrade=True, prices=PRICES,
               requested_model="gpt-4o-mini", classification=classification("complex"), key="k")
    assert (d.router_model, d.reason, d.rewrites) == ("gpt-4o-mini", "never_upgrade", False)
    up = decide(route=route(), tiers=POLICY.tiers, never_upgrade=False, prices=PRICES,
                requested_model="gpt-4o-mini", classification=classification("complex"), key="k")
    assert up.router_model == "o1"


def test_unpriced_requested_model_is_left_alone():
    d = decide(route=route(), tiers=POLICY.tiers, never_upgrade=True, prices=PRICES,
               requested_model="my-finetune-xyz", classification=classification("simple"), key="k")
    assert (d.router_model, d.reason, d.rewrites) == ("my-finetune-xyz", "unpriced", False)


def test_percent_zero_is_control():
    d = decide(route=route(percent=0), tiers=POLICY.tiers, never_upgrade=True, prices=PRICES,
               requested_model="gpt-4o", classification=classification("simple"), key="k")
    assert d.arm == CONTROL and not d.rewrites


def test_sticky_key_sources():
    hdrs = CIMultiDict({"x-user-id": "u1"})
    assert sticky_key(route(sticky="header:x-user-id"), hdrs, {}, "req") == "u1"
    assert sticky_key(route(sticky="user"), CIMultiDict(), {"user": "u2"}, "req") == "u2"
    assert sticky_key(route(sticky="user"), CIMultiDict({"x-llm-router-sticky": "explicit"}), {"user": "u2"}, "req") == "explicit"
    assert sticky_key(route(sticky="header:x-user-id"), CIMultiDict(), {}, "req-7") == "req-7"

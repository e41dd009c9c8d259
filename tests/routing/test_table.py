"""Route selection is a pure function: first match wins, a named route overrides."""

from __future__ import annotations

from multidict import CIMultiDict

from proxy.config.schema import Route
from proxy.routing.table import UNMATCHED, RouteTable

TABLE = RouteTable.build([
    Route.model_validate({"name": "support", "match": {"path": "/v1/chat/completions", "headers": {"X-Team": "support"}}}),
    Route.model_validate({"name": "minis", "match": {"model": ["gpt-4o-mini*", "o1-mini"]}}),
    Route.model_validate({"name": "chat", "match": {"path": "/v1/chat/completions"}}),
    Route.model_validate({"name": "anyv1", "match": {"path": "/v1/*", "headers": {"x-present": "*"}}}),
])


def pick(path: str, headers: dict[str, str] | None = None, model: str | None = None, named: str | None = None) -> str:
    return TABLE.select(path, CIMultiDict(headers or {}), model, named).name


def test_first_match_wins():
    assert pick("/v1/chat/completions", {"x-team": "support"}) == "support"
    assert pick("/v1/chat/completions", {"x-team": "sales"}) == "chat"
    assert pick("/v1/chat/completions", model="gpt-4o-mini-2024-07-18") == "minis"
    assert pick("/v1/embeddings", model="o1-mini") == "minis"


def test_prefix_paths_and_header_presence():
    assert pick("/v1/embeddings", {"X-Present": "anything"}) == "anyv1"
    assert pick("/v1/embeddings") == UNMATCHED
    assert pick("/v2/embeddings", {"x-present": "1"}) == UNMATCHED


def test_named_route_overrides_matching_and_unknown_names_are_ignored():
    assert pick("/v1/embeddings", named="support") == "support"
    assert pick("/v1/chat/completions", named="nope") == "chat"


def test_model_matchers_need_the_body_and_others_do_not():
    assert TABLE.needs_model
    assert not RouteTable.build([Route(name="a")]).needs_model

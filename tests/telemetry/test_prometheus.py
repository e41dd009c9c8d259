"""The Prometheus text parses, counters move, and the Grafana dashboard only queries metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.pricing import PriceTable
from proxy.record import Usage
from proxy.telemetry import Telemetry
from tests.telemetry import records

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "llm-router.json"


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry.create(None, PriceTable.load(), environ={})


def samples(telemetry: Telemetry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = "\n".join(telemetry.prometheus_lines()) + "\n"
    out = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("llm_router_")
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(all_samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, l), v in all_samples.items() if n == name and labels.items() <= dict(l).items())


def drive(telemetry: Telemetry) -> None:
    for r in (records.passthrough(), records.canary(), records.shadow_primary()):
        telemetry.finish(r, telemetry.start(r, {}))
    fail_open = records.record(fail_open=True, requested_model="gpt-4o", model_used="gpt-4o", usage=Usage(10, 1))
    telemetry.finish(fail_open, telemetry.start(fail_open, {}))
    primary = telemetry.start(records.shadow_primary(), {})
    telemetry.shadow(primary, records.shadow_call(), {"similarity": 0.85, "length_ratio": 0.9})
    telemetry.shadow_dropped()
    telemetry.shadow_budget_paused()
    telemetry.set_breaker_state("openai", "gpt-4o", "half_open")
    telemetry.prices.cost("mystery-model", Usage(1, 1))


def test_text_parses_and_counters_move(telemetry: Telemetry) -> None:
    before = samples(telemetry)
    assert value(before, "llm_router_routed_requests_total") == 0
    drive(telemetry)
    after = samples(telemetry)
    assert value(after, "llm_router_routed_requests_total") == 4
    assert (
        value(
            after,
            "llm_router_routed_requests_total",
            route="support",
            arm="router",
            tier="simple",
            model="gpt-4o-mini",
            status="200",
        )
        == 1
    )
    assert value(after, "llm_router_cost_usd_total") > 0
    assert value(after, "llm_router_savings_usd_total", arm="router") > 0
    assert value(after, "llm_router_savings_usd_total", arm="control") == 0
    assert value(after, "llm_router_gen_ai_client_token_usage_sum", gen_ai_token_type="input") == 1200 + 1000 + 800 + 10
    assert value(after, "llm_router_gen_ai_client_operation_duration_seconds_count") == 4
    assert value(after, "llm_router_time_to_first_chunk_seconds_count") == 1
    assert value(after, "llm_router_classifier_duration_seconds_count", stage="tfidf") == 1
    assert value(after, "llm_router_fail_open_total") == 1
    assert value(after, "llm_router_shadow_requests_total", outcome="ok") == 1
    assert value(after, "llm_router_shadow_similarity_bucket", le="0.9") == 1
    assert value(after, "llm_router_shadow_similarity_bucket", le="0.8") == 0
    assert value(after, "llm_router_shadow_dropped_total") == 1
    assert value(after, "llm_router_shadow_budget_paused_total") == 1
    assert value(after, "llm_router_breaker_state", upstream="openai", model="gpt-4o") == 1
    assert value(after, "llm_router_price_unknown_total", model="mystery-model") == 1
    drive(telemetry)
    assert value(samples(telemetry), "llm_router_routed_requests_total") == 8


def test_label_values_are_escaped(telemetry: Telemetry) -> None:
    r = records.record(route='we"ird\\route\nname', requested_model="gpt-4o", model_used="gpt-4o")
    telemetry.finish(r, telemetry.start(r, {}))
    assert value(samples(telemetry), "llm_router_routed_requests_total", route='we"ird\\route\nname') == 1


def test_series_are_capped(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proxy.telemetry.metrics.MAX_SERIES", 3)
    for i in range(10):
        r = records.record(requested_model=f"model-{i}", model_used=f"model-{i}")
        telemetry.finish(r, telemetry.start(r, {}))
    s = samples(telemetry)
    assert len([k for k in s if k[0] == "llm_router_routed_requests_total"]) == 4
    assert value(s, "llm_router_routed_requests_total", model="other") == 7


def test_dashboard_queries_only_metrics_that_exist(telemetry: Telemetry) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 20
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in (
        "cost per hour by model",
        "savings",
        "share by tier",
        "share by arm",
        "p95 by model",
        "shadow agreement",
    ):
        assert topic in titles, topic
    drive(telemetry)
    exposed = {name for name, _ in samples(telemetry)}
    queried = {m for e in exprs for m in re.findall(r"\bllm_router_[a-z0-9_]+", e)}
    missing = queried - exposed
    assert not missing, f"dashboard queries metrics the sidecar does not expose: {sorted(missing)}"


def test_counters_survive_a_config_reload(telemetry: Telemetry) -> None:
    drive(telemetry)
    reloaded = Telemetry.create(None, telemetry.prices, environ={}, previous=telemetry)
    drive(reloaded)
    assert value(samples(reloaded), "llm_router_routed_requests_total") == 8

"""`Instruments.record` (per-combination plans of cached series) counts exactly what the plain,
one-family-call-per-figure path counts: same series, same order, same sums, same overflow."""

from __future__ import annotations

import random

import pytest

from proxy.record import RequestRecord, Usage
from proxy.telemetry import instruments as instruments_module
from proxy.telemetry.instruments import Instruments
from tests.telemetry import records


def random_record(rng: random.Random) -> tuple[RequestRecord, str | None]:
    def pick(*options: object) -> object:
        return rng.choice(options)

    r = records.record(
        route=pick("default", "support", "chat"),
        mode=pick("passthrough", "canary"),
        arm=pick(None, "control", "router", ""),
        tier=pick(None, "simple", "complex"),
        requested_model=pick(None, "gpt-4o", *(f"m-{i}" for i in range(6))),
        model_used=pick(None, "gpt-4o-mini"),
        response_model=pick(None, "gpt-4o-mini-2024-07-18"),
        operation=pick(None, "chat", "embeddings"),
        status=pick(200, 400, 502),
        stage=pick(None, "rules", "tfidf"),
        usage=pick(None, Usage(rng.randrange(0, 100000), rng.randrange(0, 5000))),
        cost_usd=pick(None, rng.random() / 100, 0.0),
        counterfactual_cost_usd=pick(None, rng.random() / 10),
        savings_usd=pick(None, rng.random() / 10 - 0.05),
        first_chunk_ms=pick(None, rng.random() * 3000),
        classify_ms=pick(None, rng.random() * 5),
        duration_ms=rng.random() * 100000,
        fail_open=pick(False, True),
    )
    return r, pick(None, "502", "upstream_timeout")


def snapshot(instruments: Instruments) -> list[list[tuple[object, object]]]:
    return [[(k, list(v) if isinstance(v, list) else v) for k, v in f.values.items()] for f in instruments.families]


@pytest.mark.parametrize("max_series", [2000, 7])
def test_plans_count_what_the_plain_path_counts(monkeypatch: pytest.MonkeyPatch, max_series: int) -> None:
    monkeypatch.setattr("proxy.telemetry.metrics.MAX_SERIES", max_series)
    rng = random.Random(3)
    planned, plain = Instruments(), Instruments()
    for _ in range(5000):
        r, error_type = random_record(rng)
        planned.record(r, error_type)
        plain._record_plain(r, error_type)
    assert len(planned._plans) > 100
    assert snapshot(planned) == snapshot(plain)  # the same series in the same order, with equal values
    assert planned.prometheus_lines(unknown_prices={}, spans_dropped=0, export_failures={}) == plain.prometheus_lines(
        unknown_prices={}, spans_dropped=0, export_failures={}
    )
    assert planned.otlp() and [m.name for m in planned.otlp()] == [m.name for m in plain.otlp()]


def test_beyond_the_plan_limit_requests_are_still_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instruments_module, "PLAN_LIMIT", 2)
    instruments = Instruments()
    for i in range(5):
        instruments.record(records.record(route=f"r{i}", requested_model="gpt-4o", cost_usd=1.0), None)
    assert len(instruments._plans) == 2
    assert sum(cell[0] for cell in instruments.requests.values.values()) == 5  # type: ignore[index]
    assert sum(cell[0] for cell in instruments.cost.values.values()) == 5.0  # type: ignore[index]

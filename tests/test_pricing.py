"""Price table: layering, lookup variants, unknown models, and no litellm import."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pydantic
import pytest

from proxy.pricing import ModelPrice, PriceOverride, PriceTable, litellm_price_file, read_shipped
from proxy.record import Usage

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "policies" / "prices.yaml"


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def test_litellm_map_is_read_without_importing_litellm() -> None:
    code = (
        "import sys; from proxy.pricing import PriceTable; t = PriceTable.load(); "
        "assert t.get('gpt-4o') is not None; assert 'litellm' not in sys.modules, 'litellm was imported'"
    )
    # In a fresh process: other tests in this one may import LiteLLM on purpose.
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_gpt4o_prices_come_from_the_litellm_map(table: PriceTable) -> None:
    path = litellm_price_file()
    assert path is not None
    raw = orjson.loads(path.read_bytes())["gpt-4o"]
    price = table.get("gpt-4o")
    assert price == ModelPrice(
        raw["input_cost_per_token"], raw["output_cost_per_token"], raw["cache_read_input_token_cost"]
    )
    assert table.source("gpt-4o") == "litellm"


def test_cost_by_hand(table: PriceTable) -> None:
    p = table.get("gpt-4o-mini")
    assert p is not None
    usage = Usage(input_tokens=1000, output_tokens=200, cached_input_tokens=400)
    assert table.cost("gpt-4o-mini", usage) == pytest.approx(600 * p.input + 400 * p.cached_input + 200 * p.output)
    # gpt-4o list price: $2.50 / $10 per million, cached input $1.25.
    assert table.cost("gpt-4o", Usage(1_000_000, 1_000_000, 0)) == pytest.approx(12.5)
    assert table.cost("gpt-4o", Usage(1_000_000, 0, 1_000_000)) == pytest.approx(1.25)


def test_cached_tokens_never_exceed_input(table: PriceTable) -> None:
    assert table.cost("gpt-4o", Usage(10, 0, 50)) == pytest.approx(table.cost("gpt-4o", Usage(10, 0, 10)))


def test_shipped_table_fills_what_litellm_lacks(table: PriceTable) -> None:
    shipped = read_shipped(SHIPPED)
    assert "claude-3-haiku-20240307" in shipped
    assert table.source("claude-3-haiku-20240307") == "shipped"
    assert table.get("claude-3-haiku-20240307") == ModelPrice(0.25e-6, 1.25e-6, 0.03e-6)
    assert table.get("claude-3-5-sonnet-20241022") == ModelPrice(3e-6, 15e-6, 0.3e-6)


def test_policy_models_all_have_prices(table: PriceTable) -> None:
    import yaml

    policy = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    for tier in policy["tiers"].values():
        for model in [tier["model"], *tier.get("fallbacks", [])]:
            assert table.get(model) is not None, model


def test_override_order(tmp_path: Path) -> None:
    shipped = tmp_path / "prices.yaml"
    shipped.write_text(
        "models:\n  gpt-4o: {input_per_mtok: 1, output_per_mtok: 2}\n  mine: {input_per_mtok: 5, output_per_mtok: 6}\n"
    )
    layered = PriceTable.load(shipped=shipped)
    assert layered.get("gpt-4o") == ModelPrice(1e-6, 2e-6, 1e-6)  # shipped beats litellm
    assert layered.source("gpt-4o") == "shipped"
    overridden = PriceTable.load(
        {"gpt-4o": PriceOverride(input_per_mtok=0.5, output_per_mtok=1, cached_input_per_mtok=0.1)}, shipped=shipped
    )
    price = overridden.get("gpt-4o")  # config beats both
    assert price is not None
    assert (price.input, price.output, price.cached_input) == pytest.approx((0.5e-6, 1e-6, 0.1e-6))
    assert overridden.source("gpt-4o") == "config"
    assert overridden.get("mine") == ModelPrice(5e-6, 6e-6, 5e-6)


def test_without_litellm_only_configured_prices(tmp_path: Path) -> None:
    table = PriceTable.load(
        {"a": PriceOverride(input_per_mtok=1, output_per_mtok=1)}, shipped=SHIPPED, use_litellm=False
    )
    assert table.get("gpt-4o") is None
    assert table.get("a") is not None


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("openai/gpt-4o", "gpt-4o"),
        ("GPT-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-2031-01-01", "gpt-4o"),
        ("anthropic/claude-3-haiku-20240307", "claude-3-haiku-20240307"),
    ],
)
def test_prefixed_and_dated_variants(table: PriceTable, alias: str, canonical: str) -> None:
    assert table.get(alias) == table.get(canonical) is not None


def test_unknown_model_is_counted_not_raised(table: PriceTable) -> None:
    before = table.unknown_models["no-such-model"]
    assert table.cost("no-such-model", Usage(10, 10)) is None
    assert table.cost("no-such-model", Usage(10, 10)) is None
    assert table.unknown_models["no-such-model"] == before + 2
    assert table.cost(None, Usage(1, 1)) is None
    assert table.cost("gpt-4o", None) is None


def test_override_rejects_unknown_keys() -> None:
    with pytest.raises(pydantic.ValidationError):
        PriceOverride.model_validate({"input_per_mtok": 1, "output_per_mtok": 1, "per_request": 3})
    with pytest.raises(pydantic.ValidationError):
        PriceOverride.model_validate({"input_per_mtok": -1, "output_per_mtok": 1})


def test_with_overrides_reuses_the_base_and_keeps_counts(table: PriceTable) -> None:
    base_gpt4o = table.get("gpt-4o")
    table.cost("still-unknown", Usage(1, 1))
    started = time.perf_counter()
    reloaded = table.with_overrides({"gpt-4o": PriceOverride(input_per_mtok=1, output_per_mtok=1)})
    assert time.perf_counter() - started < 0.05
    assert reloaded.get("gpt-4o") == ModelPrice(1e-6, 1e-6, 1e-6) and reloaded.source("gpt-4o") == "config"
    assert table.get("gpt-4o") == base_gpt4o  # the old table is untouched
    assert reloaded.with_overrides({}).get("gpt-4o") == base_gpt4o  # an override removed on reload is gone
    assert reloaded.unknown_models["still-unknown"] >= 1


def test_cost_is_exactly_the_model_price_arithmetic(table: PriceTable, monkeypatch: pytest.MonkeyPatch) -> None:
    """`PriceTable.cost` inlines `ModelPrice.cost` for speed: bit-for-bit the same figure, memoised or not."""
    usages = [Usage(i * 37, i * 11, min(i * 13, 5000) if i % 3 else i * 50) for i in range(200)]
    for memo_limit in (4096, 0):
        monkeypatch.setattr("proxy.pricing._MEMO_LIMIT", memo_limit)
        fresh = table.with_overrides({})
        for model in ("gpt-4o", "gpt-4o-mini", "openai/gpt-4o-2024-08-06"):
            price = fresh.get(model)
            assert price is not None
            for usage in usages:
                assert fresh.cost(model, usage) == price.cost(usage)

"""What a request cost: per-token prices by model, and the USD for a `Usage`.

Prices come from three layers, first match wins:

1. `prices:` overrides in the policy file (negotiated prices, private models),
2. `policies/prices.yaml`, our own small table for models LiteLLM's map lacks,
3. LiteLLM's bundled `model_prices_and_context_window_backup.json`.

The LiteLLM file is read straight from the installed package directory:
importing `litellm` costs seconds and pulls in half of PyPI, and all we need
is three numbers per model. The table is built once at start-up (about
20 ms for the ~3.5 MB map) and every lookup after that is a dict hit.
An unknown model is a counted warning, never an error: the request it
belongs to was already answered.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
import pydantic
import structlog
import yaml

from proxy.record import Usage

log = structlog.get_logger("llm_router.pricing")

LITELLM_PRICE_FILE = "model_prices_and_context_window_backup.json"
SHIPPED_PRICES = Path("policies") / "prices.yaml"
_MTOK = 1e6
# Lookups are memoised, and model names come from clients: bound both maps so
# a client inventing names cannot grow them without limit.
_MEMO_LIMIT = 4096
_UNKNOWN_LIMIT = 256
_MISSING = object()
_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per token. `cached_input` applies to the cached part of the input."""

    input: float
    output: float
    cached_input: float

    def cost(self, usage: Usage) -> float:
        # OpenAI counts cached tokens inside prompt_tokens, so the uncached
        # part is the difference; clamp in case a provider reports otherwise.
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        return (
            (usage.input_tokens - cached) * self.input + cached * self.cached_input + usage.output_tokens * self.output
        )


class PriceOverride(pydantic.BaseModel, extra="forbid"):
    """A model's price in USD per million tokens, as price pages quote it."""

    input_per_mtok: float = pydantic.Field(ge=0)
    """USD per million input (prompt) tokens."""
    output_per_mtok: float = pydantic.Field(ge=0)
    """USD per million output (completion) tokens."""
    cached_input_per_mtok: float | None = pydantic.Field(default=None, ge=0)
    """USD per million input tokens served from the provider's prompt cache; omit to charge them as input."""
    source: str | None = None
    """Where the figure comes from (a price page, a contract); for people, not used in the computation."""

    def to_price(self) -> ModelPrice:
        cached = self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        # Divide rather than multiply by 1e-6: 1.25 / 1e6 is the nearest double to 1.25e-6.
        return ModelPrice(self.input_per_mtok / _MTOK, self.output_per_mtok / _MTOK, cached / _MTOK)


def litellm_price_file() -> Path | None:
    """The bundled price map inside the installed litellm package, found without importing it."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / LITELLM_PRICE_FILE
        if candidate.is_file():
            return candidate
    return None


def _read_litellm(path: Path) -> dict[str, ModelPrice]:
    prices: dict[str, ModelPrice] = {}
    for name, entry in orjson.loads(path.read_bytes()).items():
        if not isinstance(entry, dict):
            continue
        inp = entry.get("input_cost_per_token")
        out = entry.get("output_cost_per_token", 0.0)
        # `sample_spec` and a few entries carry placeholder strings: skip any non-number.
        if not isinstance(inp, (int, float)) or not isinstance(out, (int, float)):
            continue
        cached = entry.get("cache_read_input_token_cost")
        if not isinstance(cached, (int, float)):
            cached = inp
        prices[name] = ModelPrice(float(inp), float(out), float(cached))
    return prices


def read_shipped(path: Path) -> dict[str, PriceOverride]:
    """`policies/prices.yaml`: `models: {name: PriceOverride}`; a bad entry is an error at start-up."""
    data = yaml.safe_load(path.read_text()) or {}
    models = data.get("models", {}) if isinstance(data, dict) else {}
    return {str(name): PriceOverride.model_validate(entry) for name, entry in models.items()}


def _default_shipped() -> Path | None:
    # The repo checkout (tests, `pip install -e`) and the image's working
    # directory (/app/policies) both hold the file; an installed wheel does not.
    for base in (Path(__file__).resolve().parents[1], Path.cwd()):
        candidate = base / SHIPPED_PRICES
        if candidate.is_file():
            return candidate
    return None


class PriceTable:
    """Model name -> `ModelPrice`; build with `PriceTable.load`."""

    def __init__(self, prices: Mapping[str, ModelPrice], sources: Mapping[str, str] | None = None):
        self._base = dict(prices)
        self._base_sources = dict(sources or {})
        self._prices = self._base
        self._sources = self._base_sources
        self._memo: dict[str, ModelPrice | None] = {}
        self.unknown_models: Counter[str] = Counter()
        """Cost look-ups that found no price, by model name (bounded; the rest count as `other`)."""

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, PriceOverride] = {},
        *,
        shipped: Path | None = None,
        litellm: Path | None = None,
        use_litellm: bool = True,
    ) -> PriceTable:
        """Overrides > shipped table > LiteLLM map. Paths default to the repo/image file and the installed package."""
        prices: dict[str, ModelPrice] = {}
        sources: dict[str, str] = {}
        litellm_path = litellm or (litellm_price_file() if use_litellm else None)
        if litellm_path is not None:
            prices.update(_read_litellm(litellm_path))
            sources.update(dict.fromkeys(prices, "litellm"))
        else:
            log.warning("price_map_missing", reason="litellm is not installed; only configured prices are known")
        shipped_path = shipped or _default_shipped()
        if shipped_path is not None:
            for name, override in read_shipped(shipped_path).items():
                prices[name] = override.to_price()
                sources[name] = "shipped"
        return cls(prices, sources).with_overrides(overrides)

    def with_overrides(self, overrides: Mapping[str, PriceOverride]) -> PriceTable:
        """The same base (shipped + LiteLLM) under new config overrides, without re-reading any file.

        For a policy reload: ~1 ms instead of ~35 ms, and the unknown-model
        counts carry over so the Prometheus counter does not reset.
        """
        table = PriceTable.__new__(PriceTable)
        table._base = self._base
        table._base_sources = self._base_sources
        table._prices = {**self._base, **{name: o.to_price() for name, o in overrides.items()}}
        table._sources = {**self._base_sources, **dict.fromkeys(overrides, "config")}
        table._memo = {}
        table.unknown_models = self.unknown_models
        return table

    def __len__(self) -> int:
        return len(self._prices)

    def source(self, model: str) -> str | None:
        """`config`, `shipped` or `litellm` for the entry `get(model)` resolves to."""
        key = self._resolve(model)
        return self._sources.get(key) if key else None

    def _resolve(self, model: str) -> str | None:
        prices = self._prices
        if model in prices:
            return model
        candidates = [model.lower()]
        # `openai/gpt-4o`, `anthropic/claude-...`: the router and LiteLLM both
        # spell models with a provider prefix that the map keys lack.
        if "/" in model:
            candidates.append(candidates[0].rsplit("/", 1)[1])
        for name in list(candidates):
            # Dated snapshots (`gpt-4o-2024-11-20`, `claude-3-haiku-20240307`)
            # are priced like their alias when the map has no entry of their own.
            undated = _DATE_SUFFIX.sub("", name)
            if undated != name:
                candidates.append(undated)
        for name in candidates:
            if name in prices:
                return name
        return None

    def get(self, model: str | None) -> ModelPrice | None:
        if not model:
            return None
        try:
            return self._memo[model]
        except KeyError:
            pass
        key = self._resolve(model)
        price = self._prices[key] if key else None
        if len(self._memo) < _MEMO_LIMIT:
            self._memo[model] = price
        return price

    def cost(self, model: str | None, usage: Usage | None) -> float | None:
        """USD for `usage` on `model`; None (and counted) when the model has no price."""
        if usage is None or not model:
            return None
        # Every finished request comes here (twice when routed): the memo hit
        # and `ModelPrice.cost` are inlined, with the same arithmetic.
        price = self._memo.get(model, _MISSING)
        if price is _MISSING:
            price = self.get(model)
        if price is None:
            self._count_unknown(model)
            return None
        inp = usage.input_tokens
        cached = usage.cached_input_tokens
        if cached > inp:  # noqa: PLR1730 - a builtin call costs more than the comparison
            cached = inp
        return (inp - cached) * price.input + cached * price.cached_input + usage.output_tokens * price.output  # type: ignore[union-attr]

    def _count_unknown(self, model: str) -> None:
        unknown = self.unknown_models
        if model not in unknown:
            if len(unknown) >= _UNKNOWN_LIMIT:
                model = "other"
            else:
                log.warning("model_price_unknown", model=model, fix="add it under `prices:` in the policy file")
        unknown[model] += 1

"""Replay a traffic file offline: classify each request, apply the policy, price both strategies.

No request leaves the machine. Per row: the classifier's cheap stages give
the tier, `proxy.routing.decide` gives the model the router would have sent
it to (never_upgrade included), and the row's `usage` (or a local token
count) is priced for that model and for the model the app asked for.

The embedding stage is left out by default: it costs milliseconds per
ambiguous row against tens of microseconds for rules + TF-IDF, so a million
rows would take most of an hour instead of under a minute. Large files are
spread over worker processes, chunk by chunk, and summed in file order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from proxy.analysis.jsonl import chunks, parse_object
from proxy.analysis.totals import TIERS, ReplayTotals
from proxy.config.schema import Route
from proxy.record import Usage
from proxy.routing.decide import decide
from proxy.routing.table import compile_route

OUTPUT_TOKENS = {"simple": 100, "standard": 300, "complex": 600}
"""Completion tokens assumed per classified tier when a row has no `usage`
(typical answer lengths: a short FAQ answer, a function, a worked solution);
capped by the row's own max_tokens. Both strategies get the same count."""

MEMO_LIMIT = 50_000
MEMO_PROBE = 20_000
"""After this many lookups with under 1 % hits the memo is switched off: unique traffic only pays for it."""
PARALLEL_BYTES = 8 * 1024 * 1024
"""Files smaller than this are replayed in-process: starting workers costs more than it saves."""

_ROUTE = compile_route(Route(name="replay", mode="canary", percent=100))


@dataclass(frozen=True, slots=True)
class Plan:
    routed: str
    simple_model: str
    requested_price: Any
    routed_price: Any
    simple_price: Any
    upper_price: Any


@dataclass(frozen=True)
class Setup:
    """What every worker needs to rebuild the same router: picklable paths and names."""

    policy_path: Path
    stages: tuple[str, ...]
    output_tokens: dict[str, int]
    outcomes: Path | None = None
    outcome_models: tuple[str, str] | None = None
    """(cheap, strong) model names in the outcomes file; default: the simple and standard tiers' models."""


class Replayer:
    def __init__(self, setup: Setup):
        from proxy.classifier import Classifier
        from proxy.config.loader import load_policy
        from proxy.pricing import PriceTable

        self.setup = setup
        self.policy: Any = load_policy(setup.policy_path)
        settings = self.policy.classifier.model_copy(update={"stages": list(setup.stages)})
        loaded = Classifier.load(settings, setup.policy_path.parent)
        if "tfidf" in setup.stages and "embedding" not in setup.stages:
            from proxy.analysis.fast_tfidf import NumpyTfidf

            # Same cascade, same thresholds; only the TF-IDF stage's arithmetic runs in numpy.
            model_dir = (setup.policy_path.parent / settings.model_dir).resolve()
            loaded = Classifier(settings, loaded.thresholds, loaded.band, NumpyTfidf(model_dir), None,
                                loaded.metadata)
        self.classifier = loaded
        self.prices = PriceTable.load(self.policy.prices)
        self._memo: dict[bytes, Any] | None = {}
        self._lookups = self._hits = 0
        self._choice: dict[tuple[str, str], str] = {}
        self._plans: dict[tuple[str, str], Plan] = {}
        from proxy.telemetry.usage import estimate_usage, usage_from_dict

        self._estimate, self._given = estimate_usage, usage_from_dict
        self.outcomes: dict[str, tuple[float, float]] | None = None
        if setup.outcomes is not None:
            from proxy.analysis import outcomes

            cheap, strong = setup.outcome_models or (self.policy.tiers.simple.model, self.policy.tiers.standard.model)
            self.outcomes = outcomes.load(setup.outcomes, cheap, strong)

    def model_for(self, tier: str, requested: str) -> str:
        """The router's model for `tier` when the app asked for `requested` (never_upgrade applied)."""
        key = (tier, requested)
        model = self._choice.get(key)
        if model is None:
            fake = SimpleNamespace(tier=tier, score=0.0, stage="replay", intent=None)
            model = decide(route=_ROUTE, tiers=self.policy.tiers, never_upgrade=self.policy.never_upgrade,
                           prices=self.prices, requested_model=requested, classification=fake,
                           key="replay").router_model
            self._choice[key] = model
        return model

    def plan(self, tier: str, requested: str) -> Plan:
        """Models and prices for one (tier, requested model) pair, looked up once."""
        key = (tier, requested)
        plan = self._plans.get(key)
        if plan is None:
            routed = self.model_for(tier, requested)
            upper = self.model_for("standard" if tier == "simple" else tier, requested)
            get = self.prices.get
            simple = self.model_for("simple", requested)
            plan = self._plans[key] = Plan(routed, simple, get(requested), get(routed), get(simple), get(upper))
        return plan

    def classify(self, row: dict[str, Any]) -> Any:
        # Real traffic repeats itself (templates, retries): the same conversation is classified once.
        memo = self._memo
        if memo is None:
            return self.classifier.classify(row)
        key = orjson.dumps([row.get("messages"), row.get("tools"), row.get("response_format")])
        self._lookups += 1
        hit = memo.get(key)
        if hit is not None:
            self._hits += 1
            return hit
        if self._lookups == MEMO_PROBE and self._hits * 100 < self._lookups:
            self._memo = None
        elif len(memo) >= MEMO_LIMIT:
            memo.clear()
        result = self.classifier.classify(row)
        if self._memo is not None:
            memo[key] = result
        return result

    def usage(self, row: dict[str, Any], tier: str) -> tuple[Usage, bool]:
        given = self._given(row.get("usage"))
        if given is not None:
            return given, False
        usage = self._estimate(row, "")
        out = self.setup.output_tokens[tier]
        cap = row.get("max_completion_tokens", row.get("max_tokens"))
        if isinstance(cap, int) and cap > 0:
            out = min(out, cap)
        usage.output_tokens = out
        return usage, True

    def add_line(self, totals: ReplayTotals, lineno: int, line: bytes) -> None:
        if not line.strip():
            return
        totals.lines += 1
        row, why = parse_object(line)
        if row is None:
            totals.bad.add(lineno, why or "unreadable")
            return
        requested = row.get("model")
        if not isinstance(requested, str) or not requested:
            totals.bad.add(lineno, "no \"model\" string: not an OpenAI chat request")
            return
        if not isinstance(row.get("messages"), list):
            totals.bad.add(lineno, "no \"messages\" list: not an OpenAI chat request")
            return
        try:
            result = self.classify(row)
        except Exception as exc:  # noqa: BLE001 - one odd request must not end a million-row replay; it is reported
            totals.bad.add(lineno, f"the classifier failed on this request ({type(exc).__name__}: {str(exc)[:80]})")
            return
        tier = result.tier
        plan = self.plan(tier, requested)
        routed = plan.routed
        if plan.requested_price is None or plan.routed_price is None:
            totals.unpriced += 1
            totals.unpriced_models[requested if plan.requested_price is None else routed] += 1
            return
        usage, estimated = self.usage(row, tier)
        cost_requested = plan.requested_price.cost(usage)
        cost_router = plan.routed_price.cost(usage)
        totals.estimated_input += estimated
        t = totals.tiers[tier]
        t.requests += 1
        t.input_tokens += usage.input_tokens
        t.output_tokens += usage.output_tokens
        t.cost_requested += cost_requested
        t.cost_router += cost_router
        t.models[routed] += 1
        totals.stages[result.stage] += 1
        totals.requested_models[requested] += 1
        label = row.get("x_tier", row.get("tier"))
        if label in TIERS:
            totals.confusion[(label, tier)] += 1
            if label == "complex" and tier == "simple" and len(totals.dangerous_lines) < 20:
                totals.dangerous_lines.append(lineno)
        cost_simple = plan.simple_price.cost(usage) if plan.simple_price else 0.0
        cost_upper = plan.upper_price.cost(usage) if plan.upper_price else 0.0
        totals.bins.add(result.score, cost_simple, cost_upper, label if label in TIERS else None)
        if self.outcomes is not None:
            self._add_outcome(totals, row, result.score, routed == plan.simple_model)

    def _add_outcome(self, totals: ReplayTotals, row: dict[str, Any], score: float, routed_cheap: bool) -> None:
        from proxy.analysis.outcomes import Quality, lookup

        found = lookup(self.outcomes or {}, row)
        if found is not None:
            if totals.quality is None:
                totals.quality = Quality()
            totals.quality.add(score, found[0], found[1], routed_cheap)

    def chunk(self, first: int, lines: list[bytes]) -> ReplayTotals:
        totals = ReplayTotals()
        for offset, line in enumerate(lines):
            self.add_line(totals, first + offset, line)
        return totals


# One Replayer per worker process, built by the pool initializer: the
# classifier's ONNX session cannot be pickled, so each process loads its own.
_worker: Replayer | None = None


def _init_worker(setup: Setup) -> None:
    global _worker
    _worker = Replayer(setup)


def _work(first: int, lines: list[bytes]) -> ReplayTotals:
    assert _worker is not None
    return _worker.chunk(first, lines)


def replay(path: Path, setup: Setup, *, workers: int | None = None, chunk_lines: int = 2000,
           on_chunk: Callable[[int, int], None] = lambda nbytes, nlines: None) -> ReplayTotals:
    """Totals for the traffic file at `path`; `on_chunk(bytes, lines)` after each chunk (progress)."""
    size = path.stat().st_size
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if size >= PARALLEL_BYTES else 1
    totals = ReplayTotals()
    with open(path, "rb") as stream:
        if workers <= 1:
            replayer = Replayer(setup)
            for first, lines, nbytes in chunks(stream, chunk_lines):
                totals.merge(replayer.chunk(first, lines))
                on_chunk(nbytes, len(lines))
            return totals
        _parallel(chunks(stream, chunk_lines), setup, workers, totals, on_chunk)
    return totals


def _parallel(source: Iterable[tuple[int, list[bytes], int]], setup: Setup, workers: int,
              totals: ReplayTotals, on_chunk: Callable[[int, int], None]) -> None:
    # fork: workers start in milliseconds and share the imported modules; the
    # parent has not loaded the classifier, so there is no native state to duplicate.
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    pending: list[tuple[Future[ReplayTotals], int, int]] = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(setup,)) as pool:
        for first, lines, nbytes in source:
            pending.append((pool.submit(_work, first, lines), nbytes, len(lines)))
            # Bounded memory: at most a few chunks per worker are in flight.
            while len(pending) >= workers * 3:
                _take(pending, totals, on_chunk)
        while pending:
            _take(pending, totals, on_chunk)


def _take(pending: list[tuple[Future[ReplayTotals], int, int]], totals: ReplayTotals,
          on_chunk: Callable[[int, int], None]) -> None:
    future, nbytes, nlines = pending.pop(0)
    totals.merge(future.result())
    on_chunk(nbytes, nlines)

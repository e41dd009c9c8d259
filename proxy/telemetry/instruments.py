"""The router's metrics: what is counted per request, under which names.

Prometheus names are prefixed `llm_router_` (the admin page appends them to
the sidecar's own lines); OTLP names follow the GenAI semantic conventions
where one exists (`gen_ai.client.token.usage`,
`gen_ai.client.operation.duration`) and are `llm_router.*` otherwise.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Mapping

from opentelemetry.proto.metrics.v1 import metrics_pb2

from proxy.record import RequestRecord
from proxy.telemetry import attributes as A
from proxy.telemetry.span_attributes import label_key
from proxy.telemetry.metrics import Counter, Family, Gauge, Histogram, escape_label, otlp_metrics, prometheus_lines

BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

# Bucket boundaries recommended by the GenAI semantic conventions.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
FIRST_CHUNK_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
CLASSIFIER_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
SIMILARITY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

PLAN_LIMIT = 4096
"""Distinct (route, mode, arm, tier, model, status, ...) combinations given a plan; the rest are counted plainly."""

_GEN_AI = (A.GEN_AI_OPERATION_NAME, A.GEN_AI_PROVIDER_NAME, A.GEN_AI_REQUEST_MODEL, A.GEN_AI_RESPONSE_MODEL)
_COST = ("route", "arm", "tier", "model")


class Instruments:
    def __init__(self) -> None:
        self.start_ns = time.time_ns()  # start of every cumulative OTLP series
        self.requests = Counter(
            "llm_router_routed_requests_total", "llm_router.requests",
            "Requests finished, by route, rollout mode and arm, tier, model used and response status.",
            ("route", "mode", "arm", "tier", "model", "status"), "{request}",
        )  # fmt: skip
        self.token_usage = Histogram(
            "llm_router_gen_ai_client_token_usage", "gen_ai.client.token.usage",
            "Tokens per request, by token type (input/output).", (*_GEN_AI, A.GEN_AI_TOKEN_TYPE), "{token}",
            bounds=TOKEN_BUCKETS,
        )  # fmt: skip
        self.duration = Histogram(
            "llm_router_gen_ai_client_operation_duration_seconds", "gen_ai.client.operation.duration",
            "Seconds from request arrival to the end of the answer.", (*_GEN_AI, A.ERROR_TYPE), "s",
            bounds=DURATION_BUCKETS,
        )  # fmt: skip
        self.cost = Counter(
            "llm_router_cost_usd_total",
            "llm_router.cost",
            "USD spent, from reported (or estimated) token usage.",
            _COST,
            "USD",
        )
        self.counterfactual = Counter(
            "llm_router_counterfactual_cost_usd_total", "llm_router.counterfactual_cost",
            "USD the requested model would have cost for the same usage.", _COST, "USD",
        )  # fmt: skip
        self.savings = Counter(
            "llm_router_savings_usd_total",
            "llm_router.savings",
            "USD saved: counterfactual cost minus cost.",
            _COST,
            "USD",
        )
        self.first_chunk = Histogram(
            "llm_router_time_to_first_chunk_seconds", "llm_router.time_to_first_chunk",
            "Seconds from request arrival to the first streamed chunk.", ("route", "model"), "s",
            bounds=FIRST_CHUNK_BUCKETS,
        )  # fmt: skip
        self.classifier_duration = Histogram(
            "llm_router_classifier_duration_seconds", "llm_router.classifier.duration",
            "Seconds spent classifying a request, by the stage that decided.", ("stage",), "s",
            bounds=CLASSIFIER_BUCKETS,
        )  # fmt: skip
        self.fail_open = Counter(
            "llm_router_fail_open_total", "llm_router.fail_open",
            "Requests passed through untouched because a routing stage failed.", ("route",),
        )  # fmt: skip
        self.shadow_requests = Counter(
            "llm_router_shadow_requests_total", "llm_router.shadow.requests",
            "Shadow calls completed, by outcome (ok/error).", ("route", "tier", "model", "outcome"),
        )  # fmt: skip
        self.shadow_similarity = Histogram(
            "llm_router_shadow_similarity", "llm_router.shadow.similarity",
            "Similarity of the shadow answer to the primary answer (0..1).", ("route", "tier", "model"),
            bounds=SIMILARITY_BUCKETS,
        )  # fmt: skip
        self.shadow_cost = Counter(
            "llm_router_shadow_cost_usd_total",
            "llm_router.shadow.cost",
            "USD spent on shadow calls.",
            ("route", "model"),
            "USD",
        )
        self.shadow_dropped = Counter(
            "llm_router_shadow_dropped_total", "llm_router.shadow.dropped",
            "Shadow calls not made because the concurrency limit was reached (or another reason).", ("reason",),
        )  # fmt: skip
        self.shadow_budget_paused = Counter(
            "llm_router_shadow_budget_paused_total", "llm_router.shadow.budget_paused",
            "Shadow calls skipped because the daily shadow budget was spent.", (),
        )  # fmt: skip
        self.breaker_state = Gauge(
            "llm_router_breaker_state", "llm_router.breaker.state",
            "Circuit breaker state per upstream and model: 0 closed, 1 half-open, 2 open.", ("upstream", "model"),
        )  # fmt: skip
        self._plans: dict[tuple, list] = {}
        self.families: tuple[Family, ...] = (
            self.requests, self.token_usage, self.duration, self.cost, self.counterfactual, self.savings,
            self.first_chunk, self.classifier_duration, self.fail_open, self.shadow_requests,
            self.shadow_similarity, self.shadow_cost, self.shadow_dropped, self.shadow_budget_paused,
            self.breaker_state,
        )  # fmt: skip

    def record(self, r: RequestRecord, error_type: str | None, key: tuple | None = None) -> None:
        """Add one finished request to every family it belongs in.

        The series a request adds to depend only on a few of its fields, so
        they are looked up once per distinct combination (a "plan": the
        families' value cells, each created on its first use, exactly when
        `_record_plain` would create it) and a request then only adds to
        list items: no label tuples, no family method calls. `key`:
        `label_key(r, error_type)` when the caller has it already.
        """
        if key is None:
            key = label_key(r, error_type)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= PLAN_LIMIT:
                self._record_plain(r, error_type)
                return
            plan = self._new_plan(key, r, error_type)
        plan[0][0] += 1
        if r.operation:
            usage = r.usage
            if usage is not None:
                value = usage.input_tokens
                cell = plan[1] or self._plan_cell(plan, 1)
                cell[0] += value
                cell[1 + bisect_left(TOKEN_BUCKETS, value)] += 1
                value = usage.output_tokens
                cell = plan[2] or self._plan_cell(plan, 2)
                cell[0] += value
                cell[1 + bisect_left(TOKEN_BUCKETS, value)] += 1
            seconds = r.duration_ms / 1000.0
            cell = plan[3] or self._plan_cell(plan, 3)
            cell[0] += seconds
            cell[1 + bisect_left(DURATION_BUCKETS, seconds)] += 1
        amount = r.cost_usd
        if amount is not None:
            (plan[4] or self._plan_cell(plan, 4))[0] += amount
        amount = r.counterfactual_cost_usd
        if amount is not None:
            (plan[5] or self._plan_cell(plan, 5))[0] += amount
        amount = r.savings_usd
        if amount is not None:
            (plan[6] or self._plan_cell(plan, 6))[0] += amount
        if r.first_chunk_ms is not None:
            seconds = r.first_chunk_ms / 1000.0
            cell = plan[7] or self._plan_cell(plan, 7)
            cell[0] += seconds
            cell[1 + bisect_left(FIRST_CHUNK_BUCKETS, seconds)] += 1
        if r.classify_ms is not None:
            seconds = r.classify_ms / 1000.0
            cell = plan[8] or self._plan_cell(plan, 8)
            cell[0] += seconds
            cell[1 + bisect_left(CLASSIFIER_BUCKETS, seconds)] += 1
        if r.fail_open:
            (plan[9] or self._plan_cell(plan, 9))[0] += 1

    def _new_plan(self, key: tuple, r: RequestRecord, error_type: str | None) -> list:
        model = r.model_used or r.response_model or r.requested_model or "-"
        route, arm, tier, status = r.route, r.arm, r.tier, r.status
        plan: list = [None] * 10
        plan[0] = self.requests.cell((route, r.mode, arm or "-", tier or "unknown", model, str(status)))
        # What `_plan_cell` needs (the label key determines all of it).
        plan.append((route, r.mode, arm, tier, model, status, r.operation, r.provider, r.response_model, error_type,
                     r.stage))  # fmt: skip
        self._plans[key] = plan
        return plan

    def _plan_cell(self, plan: list, slot: int) -> list:
        """Create (or find) the series behind `plan[slot]` on its first use."""
        route, _mode, arm, tier, model, _status, operation, provider, response_model, error_type, stage = plan[10]
        gen_ai = (operation, provider, model, response_model or model)
        cost_key = (route, arm or "-", tier or "unknown", model)
        family, key = (
            (None, None),
            (self.token_usage, (*gen_ai, "input")),
            (self.token_usage, (*gen_ai, "output")),
            (self.duration, (*gen_ai, error_type or "")),
            (self.cost, cost_key),
            (self.counterfactual, cost_key),
            (self.savings, cost_key),
            (self.first_chunk, (route, model)),
            (self.classifier_duration, (stage or "-",)),
            (self.fail_open, (route,)),
        )[slot]
        cell = plan[slot] = family.cell(key)  # type: ignore[union-attr]
        return cell

    def _record_plain(self, r: RequestRecord, error_type: str | None) -> None:
        """`record` without a plan: once PLAN_LIMIT distinct combinations have been seen."""
        model = r.model_used or r.response_model or r.requested_model or "-"
        tier = r.tier or "unknown"
        route = r.route
        arm = r.arm or "-"
        self.requests.inc((route, r.mode, arm, tier, model, str(r.status)))
        if r.operation:
            gen_ai = (r.operation, r.provider, model, r.response_model or model)
            usage = r.usage
            if usage is not None:
                self.token_usage.observe((*gen_ai, "input"), usage.input_tokens)
                self.token_usage.observe((*gen_ai, "output"), usage.output_tokens)
            self.duration.observe((*gen_ai, error_type or ""), r.duration_ms / 1000.0)
        cost_key = (route, arm, tier, model)
        if r.cost_usd is not None:
            self.cost.inc(cost_key, r.cost_usd)
        if r.counterfactual_cost_usd is not None:
            self.counterfactual.inc(cost_key, r.counterfactual_cost_usd)
        if r.savings_usd is not None:
            self.savings.inc(cost_key, r.savings_usd)
        if r.first_chunk_ms is not None:
            self.first_chunk.observe((route, model), r.first_chunk_ms / 1000.0)
        if r.classify_ms is not None:
            self.classifier_duration.observe((r.stage or "-",), r.classify_ms / 1000.0)
        if r.fail_open:
            self.fail_open.inc((route,))

    def record_shadow(self, r: RequestRecord, diff: Mapping[str, object], error_type: str | None) -> None:
        model = r.model_used or r.response_model or r.requested_model or "-"
        tier = r.tier or "unknown"
        self.shadow_requests.inc((r.route, tier, model, "error" if error_type else "ok"))
        similarity = diff.get(A.SHADOW_SIMILARITY)
        if isinstance(similarity, (int, float)):
            self.shadow_similarity.observe((r.route, tier, model), float(similarity))
        if r.cost_usd is not None:
            self.shadow_cost.inc((r.route, model), r.cost_usd)

    def otlp(self) -> list[metrics_pb2.Metric]:
        return otlp_metrics(self.families, self.start_ns)

    def prometheus_lines(
        self,
        *,
        unknown_prices: Mapping[str, int],
        spans_dropped: int,
        export_failures: Mapping[str, int],
        errors: int = 0,
    ) -> list[str]:
        lines = prometheus_lines(self.families)
        lines += ["# HELP llm_router_price_unknown_total Cost look-ups for models with no price (add them under `prices:`).",
                  "# TYPE llm_router_price_unknown_total counter"]  # fmt: skip
        lines += [
            f'llm_router_price_unknown_total{{model="{escape_label(m)}"}} {n}'
            for m, n in sorted(unknown_prices.items())
        ]
        lines += [
            "# HELP llm_router_telemetry_spans_dropped_total Finished spans dropped because the export queue was full.",
            "# TYPE llm_router_telemetry_spans_dropped_total counter",
            f"llm_router_telemetry_spans_dropped_total {spans_dropped}",
            "# HELP llm_router_telemetry_errors_total Requests whose telemetry failed (logged); the requests were unaffected.",
            "# TYPE llm_router_telemetry_errors_total counter",
            f"llm_router_telemetry_errors_total {errors}",
            "# HELP llm_router_telemetry_export_failures_total OTLP export calls that failed, by signal.",
            "# TYPE llm_router_telemetry_export_failures_total counter",
        ]
        lines += [
            f'llm_router_telemetry_export_failures_total{{signal="{s}"}} {n}'
            for s, n in sorted(export_failures.items())
        ]
        return lines

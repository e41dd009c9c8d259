"""Telemetry for one proxied request: cost, a span, metrics.

The pipeline calls `Telemetry.start(record, headers)` when a request arrives
(it reads the app's W3C `traceparent`, decides sampling, and hands back a
`RequestSpan` whose `inject()` propagates the trace upstream), and
`Telemetry.finish(record, span)` when the answer is complete: that fills the
record's costs from its usage and the `PriceTable`, adds to the in-process
metrics (`proxy.telemetry.metrics`: the admin `/metrics` page and OTLP read
the same figures), and, when a trace is being recorded, queues the span for
the export worker (`proxy.telemetry.export`), which encodes it from the
record straight into OTLP bytes, in batches on the event loop's thread, and
sends from its own thread. A shadow
call gets `Telemetry.shadow(...)`: its own span, linked to the primary.

Nothing here does I/O on the request path; with no exporter configured
nothing is encoded or queued, only the costs and the metric updates (a few
list increments per request, see `Instruments.record`). Per request, start +
inject + finish cost ~2.5 us without an exporter and ~5 us with one, encoding
included, plus ~0.5 us of sending on the export thread
(`python bench/bench_telemetry.py`).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Mapping

import structlog
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.sdk.trace.export import SpanExporter

from proxy.pricing import PriceTable
from proxy.record import RequestRecord
from proxy.telemetry import attributes as A
from proxy.telemetry.export import ExportWorker, SdkSpanSink, make_sender
from proxy.telemetry.instruments import BREAKER_STATES, Instruments
from proxy.telemetry.settings import TelemetrySettings
from proxy.telemetry.span_attributes import label_key, span_attributes
from proxy.telemetry.spans import KIND_INTERNAL, STATUS_ERROR, RequestSpan, SpanData
from proxy.telemetry.traceparent import parse_traceparent_hex

__all__ = ["BREAKER_STATES", "RequestSpan", "Telemetry", "TelemetrySettings"]

log = structlog.get_logger("llm_router.telemetry")

SCOPE = ("llm_router", "0.1.0")
_MASK64 = (1 << 64) - 1


class Telemetry:
    def __init__(
        self,
        settings: TelemetrySettings,
        prices: PriceTable,
        worker: ExportWorker | None,
        *,
        tracing: bool,
        sampling_ratio: float = 1.0,
    ):
        self.settings = settings
        self.prices = prices
        self.capture_content = settings.capture_content
        self.tracing = tracing
        self.instruments = Instruments()
        self.errors = 0
        """Telemetry failures swallowed at the request boundary (logged; exposed as a counter)."""
        self._worker = worker
        self._sample_bound = round(sampling_ratio * (1 << 64))
        self._random = random.Random(os.urandom(16))

    @classmethod
    def create(
        cls,
        settings: TelemetrySettings | None,
        prices: PriceTable,
        *,
        environ: Mapping[str, str] | None = None,
        span_exporter: SpanExporter | None = None,
        previous: Telemetry | None = None,
    ) -> Telemetry:
        """Build from settings (+ OTEL_* env). `span_exporter`: also hand spans to an SDK exporter (tests).

        `previous`: the instance being replaced on a config reload; its counters
        carry over so Prometheus sees no reset (then `await previous.shutdown()`).
        """
        settings = settings or TelemetrySettings()
        config = settings.resolve(environ)
        if config is None and span_exporter is None:
            return cls(settings, prices, None, tracing=False)._carry(previous)
        resource_attrs = config.resource if config else {"service.name": settings.service_name}
        resource = Resource(
            attributes=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in resource_attrs.items()]
        )
        telemetry = cls(
            settings,
            prices,
            None,
            tracing=span_exporter is not None or bool(config and config.traces),
            sampling_ratio=config.sampling_ratio if config else 1.0,
        )
        telemetry._carry(previous)
        telemetry._worker = ExportWorker(
            resource=resource,
            scope=InstrumentationScope(name=SCOPE[0], version=SCOPE[1]),
            sender=make_sender(config) if config else None,
            span_sink=SdkSpanSink(span_exporter, resource_attrs, SCOPE) if span_exporter else None,
            metrics=telemetry.instruments.otlp if config and config.metrics else None,
            queue_size=config.span_queue_size if config else 8192,
            span_delay_s=config.span_batch_delay_s if config else 2.0,
            metric_interval_s=config.export_interval_s if config else 60.0,
            capture_content=settings.capture_content,
        )
        return telemetry

    def _carry(self, previous: Telemetry | None) -> Telemetry:
        if previous is not None:
            self.instruments = previous.instruments
            self.errors = previous.errors
        return self

    # --- per request -------------------------------------------------------------

    def start(self, record: RequestRecord, headers: Mapping[str, str]) -> RequestSpan:
        incoming = headers.get("traceparent")
        if incoming is None:
            if not self.tracing:
                return RequestSpan(0, 0, 0, "", False, record.route)
            # One draw for both ids: 128 bits of trace id, 64 of span id.
            bits = self._random.getrandbits(192)
            trace_id = (bits >> 64) or 1
            # As the SDK's TraceIdRatioBased sampler: the low 64 bits against the ratio.
            return RequestSpan(
                trace_id, (bits & _MASK64) or 1, 0, "", (trace_id & _MASK64) < self._sample_bound, record.route
            )
        parent = parse_traceparent_hex(incoming)
        state = (headers.get("tracestate") or "") if parent else ""
        if not self.tracing:
            if parent is None:
                return RequestSpan(0, 0, 0, "", False, record.route)
            span = RequestSpan(parent[0], 0, 0, state, False, record.route, parent[3])
            span.incoming_traceparent = incoming
            return span
        if parent is not None:
            trace_id, parent_id, sampled, trace_hex = parent
            return RequestSpan(
                trace_id, self._random.getrandbits(64) or 1, parent_id, state, sampled, record.route, trace_hex
            )
        bits = self._random.getrandbits(192)
        trace_id = (bits >> 64) or 1
        return RequestSpan(
            trace_id, (bits & _MASK64) or 1, 0, state, (trace_id & _MASK64) < self._sample_bound, record.route
        )

    def fill_costs(self, record: RequestRecord) -> None:
        """cost_usd, counterfactual_cost_usd and savings_usd from the usage, unless the pipeline set them."""
        usage = record.usage
        if usage is None:
            return
        used = record.model_used or record.response_model or record.requested_model
        if record.cost_usd is None:
            record.cost_usd = self.prices.cost(used, usage)
        if record.counterfactual_cost_usd is None:
            requested = record.requested_model
            same = not requested or requested == used
            record.counterfactual_cost_usd = record.cost_usd if same else self.prices.cost(requested, usage)
        if record.savings_usd is None and record.cost_usd is not None and record.counterfactual_cost_usd is not None:
            record.savings_usd = record.counterfactual_cost_usd - record.cost_usd

    def finish(self, record: RequestRecord, span: RequestSpan) -> None:
        try:
            self.fill_costs(record)
            if record.error:
                error_type: str | None = record.error
            elif record.status >= 500:
                error_type = str(record.status)
            else:
                error_type = None
            key = label_key(record, error_type)
            self.instruments.record(record, error_type, key)
            span.cost_usd = record.cost_usd
            span.duration_ms = duration = record.duration_ms
            span.route = record.route
            if span.sampled and self._worker is not None:
                # The span is encoded from the record's fields (`Encoder.finished`) soon after.
                span.record = record
                span.key = key
                span.end_ns = 0 if duration > 0 else time.time_ns()  # 0: from the duration
                self._worker.enqueue(span)
        except Exception as exc:  # noqa: BLE001 - the answer is already on its way: never fail a request over telemetry
            self._failed("finish", exc)

    def _failed(self, where: str, exc: Exception) -> None:
        self.errors += 1
        log.warning("telemetry_failed", where=where, error=f"{type(exc).__name__}: {exc}")

    def shadow(self, primary: RequestSpan, shadow: RequestRecord, diff: Mapping[str, float | str]) -> None:
        """A shadow call's own span, linked to the primary, with `llm_router.shadow = true` and the diff.

        `diff` keys become `llm_router.shadow.<key>`: `similarity` (0..1, also the
        agreement histogram), `length_ratio`, and optionally `primary_cost`,
        `shadow_cost`, `primary_latency_ms`, `shadow_latency_ms`, which otherwise
        come from the primary's finished span and the shadow record.
        """
        try:
            self._shadow(primary, shadow, diff)
        except Exception as exc:  # noqa: BLE001 - as in finish()
            self._failed("shadow", exc)

    def _shadow(self, primary: RequestSpan, shadow: RequestRecord, diff: Mapping[str, float | str]) -> None:
        self.fill_costs(shadow)
        error_type = _error_type(shadow)
        full = {
            A.SHADOW_PRIMARY_COST: primary.cost_usd,
            A.SHADOW_COST: shadow.cost_usd,
            A.SHADOW_PRIMARY_LATENCY_MS: primary.duration_ms,
            A.SHADOW_LATENCY_MS: shadow.duration_ms,
            **diff,
        }
        self.instruments.record_shadow(shadow, full, error_type)
        if not (primary.sampled and self._worker is not None):
            return
        labels, values = span_attributes(shadow, error_type, self.capture_content)
        labels[A.SHADOW] = True
        for key, value in full.items():
            if value is not None:
                values[A.SHADOW_PREFIX + key] = value
        self._worker.enqueue(
            SpanData(
                primary.trace_id_int,
                self._random.getrandbits(64) or 1,
                primary.parent_span_id,
                f"llm-router {shadow.route} shadow",
                shadow.start_time_ns,
                _end_ns(shadow),
                values,
                labels=labels,
                kind=KIND_INTERNAL,
                trace_state=primary.trace_state,
                links=[(primary.trace_id_int, primary.span_id, {})],
                status_code=STATUS_ERROR if error_type else 0,
                status_message=error_type or "",
            )
        )

    # --- counters the pipeline reports directly ------------------------------------

    def shadow_dropped(self, reason: str = "concurrency") -> None:
        self.instruments.shadow_dropped.inc((reason,))

    def shadow_budget_paused(self) -> None:
        self.instruments.shadow_budget_paused.inc(())

    def set_breaker_state(self, upstream: str, model: str, state: str) -> None:
        """`closed`, `half_open` or `open`; exported as 0, 1, 2."""
        self.instruments.breaker_state.set((upstream, model), BREAKER_STATES[state])

    def observe_classifier(self, stage: str, latency_ms: float) -> None:
        """For classifications outside a proxied request; `finish` records a request's own."""
        self.instruments.classifier_duration.observe((stage,), latency_ms / 1000.0)

    # --- reading ---------------------------------------------------------------------

    def access_fields(self, record: RequestRecord, span: RequestSpan) -> dict[str, object]:
        """The fields the JSON access line shares with the span, so logs and traces join."""
        return {
            "route": record.route,
            "arm": record.arm,
            "model_used": record.model_used or record.response_model or record.requested_model,
            "estimated_cost": record.cost_usd,
            "classified_intent": record.tier or "unknown",
            "savings": record.savings_usd,
            "trace_id": span.trace_id,
        }

    def prometheus_lines(self) -> list[str]:
        worker = self._worker
        return self.instruments.prometheus_lines(
            unknown_prices=self.prices.unknown_models,
            spans_dropped=worker.dropped_spans if worker else 0,
            export_failures=worker.failures if worker else {},
            errors=self.errors,
        )

    def force_flush(self) -> None:
        """Export queued spans and the metrics now (blocking; for tests and shutdown)."""
        if self._worker is not None:
            self._worker.flush()

    async def shutdown(self) -> None:
        if self._worker is not None:
            await asyncio.to_thread(self._worker.shutdown)


def _error_type(record: RequestRecord) -> str | None:
    if record.error:
        return record.error
    if record.status >= 500:
        return str(record.status)
    return None


def _end_ns(record: RequestRecord) -> int:
    if record.duration_ms > 0:
        return record.start_time_ns + int(record.duration_ms * 1_000_000)
    return time.time_ns()

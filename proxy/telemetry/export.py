"""The export thread: batches finished spans and periodic metrics to OTLP.

Requests only append to a bounded deque (never block, never wait on I/O);
one daemon thread wakes when a batch is full or the batch delay passes,
encodes, and sends. A failed export is counted and dropped: telemetry never
retries into a pile-up that would cost the proxy memory or CPU.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import structlog
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.sdk.trace.export import SpanExporter

from proxy.telemetry.settings import ExportConfig
from proxy.telemetry.spans import Encoder, SpanData

log = structlog.get_logger("llm_router.telemetry")

Signal = Literal["traces", "metrics"]
MAX_BATCH = 512
_PATHS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}


class Sender(Protocol):
    def send(self, signal: Signal, body: bytes) -> None: ...
    def close(self) -> None: ...


class HttpSender:
    """OTLP/HTTP with binary protobuf bodies, one kept-alive session."""

    def __init__(self, config: ExportConfig):
        import requests  # a dependency of the OTLP http exporter; only needed when exporting

        self._session = requests.Session()
        self._session.headers.update({"Content-Type": "application/x-protobuf", **config.headers})
        self._urls = {signal: config.url(signal) for signal in _PATHS}  # type: ignore[arg-type]
        self._timeout = config.timeout_s

    def send(self, signal: Signal, body: bytes) -> None:
        response = self._session.post(self._urls[signal], data=body, timeout=self._timeout)
        if response.status_code >= 300:
            raise RuntimeError(f"OTLP/HTTP {signal} export answered {response.status_code}")

    def close(self) -> None:
        self._session.close()


class GrpcSender:
    """OTLP/gRPC, sending the already-encoded request bytes (no serializer)."""

    def __init__(self, config: ExportConfig):
        import grpc

        target = config.grpc_target
        if config.secure:
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
        else:
            self._channel = grpc.insecure_channel(target)
        self._calls = {signal: self._channel.unary_unary(path) for signal, path in _PATHS.items()}
        # gRPC metadata keys must be lower case.
        self._metadata = tuple((k.lower(), v) for k, v in config.headers.items())
        self._timeout = config.timeout_s

    def send(self, signal: Signal, body: bytes) -> None:
        self._calls[signal](body, timeout=self._timeout, metadata=self._metadata)

    def close(self) -> None:
        self._channel.close()


def make_sender(config: ExportConfig) -> Sender:
    return GrpcSender(config) if config.protocol == "grpc" else HttpSender(config)


class SdkSpanSink:
    """Hands spans to any OpenTelemetry SDK `SpanExporter` (e.g. the in-memory one) instead of OTLP bytes."""

    def __init__(self, exporter: SpanExporter, resource: dict[str, str], scope: tuple[str, str]):
        from opentelemetry.sdk.resources import Resource as SdkResource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope as SdkScope

        self.exporter = exporter
        self._resource = SdkResource.create(resource)
        self._scope = SdkScope(*scope)

    def export(self, spans: Sequence[SpanData]) -> None:
        from proxy.telemetry.spans import to_readable

        self.exporter.export([to_readable(s, self._resource, self._scope) for s in spans])


class ExportWorker:
    """Owns the queue, the thread, and the sender; `flush()` may also be called from any thread."""

    def __init__(
        self,
        *,
        resource: Resource,
        scope: InstrumentationScope,
        sender: Sender | None,
        span_sink: SdkSpanSink | None = None,
        metrics: Callable[[], list[metrics_pb2.Metric]] | None = None,
        queue_size: int = 8192,
        span_delay_s: float = 2.0,
        metric_interval_s: float = 60.0,
    ):
        self.queue: deque[SpanData] = deque()
        self.queue_size = queue_size
        self.dropped_spans = 0
        self.failures: dict[str, int] = {"traces": 0, "metrics": 0}
        self.exported: dict[str, int] = {"traces": 0, "metrics": 0}
        self._sender = sender
        self._span_sink = span_sink
        self._metrics = metrics
        self._resource = resource
        self._scope = scope
        self._encoder = Encoder(resource.SerializeToString(), scope.SerializeToString())
        self._span_delay = span_delay_s
        self._metric_interval = metric_interval_s
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one export at a time: the thread, or a caller's flush()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="llm-router-otlp", daemon=True)
        self._thread.start()

    def enqueue(self, span: SpanData) -> None:
        queue = self.queue
        if len(queue) >= self.queue_size:
            self.dropped_spans += 1
            return
        queue.append(span)
        if len(queue) == MAX_BATCH:
            self._wake.set()

    def _run(self) -> None:
        next_metrics = time.monotonic() + self._metric_interval
        while not self._stopped:
            self._wake.wait(min(self._span_delay, max(0.0, next_metrics - time.monotonic())))
            self._wake.clear()
            if self._stopped:
                break
            self.export_spans()
            if self._metrics is not None and time.monotonic() >= next_metrics:
                next_metrics = time.monotonic() + self._metric_interval
                self.export_metrics()

    def export_spans(self) -> None:
        with self._lock:
            queue = self.queue
            while queue:
                batch = [queue.popleft() for _ in range(min(MAX_BATCH, len(queue)))]
                self._ship_spans(batch)

    def _ship_spans(self, batch: list[SpanData]) -> None:
        try:
            if self._span_sink is not None:
                self._span_sink.export(batch)
            if self._sender is not None:
                self._sender.send("traces", self._encoder.request(batch))
            self.exported["traces"] += len(batch)
        except Exception as exc:  # noqa: BLE001 - any exporter failure is counted and dropped, never raised into the proxy
            self.failures["traces"] += 1
            log.warning("otlp_export_failed", signal="traces", spans=len(batch), error=f"{type(exc).__name__}: {exc}")

    def export_metrics(self) -> None:
        if self._metrics is None or self._sender is None:
            return
        with self._lock:
            try:
                body = ExportMetricsServiceRequest(
                    resource_metrics=[
                        metrics_pb2.ResourceMetrics(
                            resource=self._resource,
                            scope_metrics=[metrics_pb2.ScopeMetrics(scope=self._scope, metrics=self._metrics())],
                        )
                    ]
                ).SerializeToString()
                self._sender.send("metrics", body)
                self.exported["metrics"] += 1
            except Exception as exc:  # noqa: BLE001 - as above
                self.failures["metrics"] += 1
                log.warning("otlp_export_failed", signal="metrics", error=f"{type(exc).__name__}: {exc}")

    def flush(self) -> None:
        self.export_spans()
        self.export_metrics()

    def shutdown(self) -> None:
        """Stop the thread, send what is left, close the connection."""
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()
        if self._sender is not None:
            self._sender.close()
        if self._span_sink is not None:
            self._span_sink.exporter.shutdown()

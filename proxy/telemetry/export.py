"""The export thread: batches finished spans and periodic metrics to OTLP.

Nothing on the request path blocks or waits on I/O. A finished span is put
on a deque as it is; every `ENCODE_BATCH` spans, a callback on the event
loop's thread encodes them into OTLP bytes (`Encoder.item`, ~1.5 us a span
when done in a row, against ~3.5 us one at a time between requests, whose
code and data push the encoder's out of the CPU caches), after the response
that completed the batch has been written. One daemon thread wakes when
`MAX_BATCH` encoded spans are waiting (then it sends full batches only) or
the batch delay passes (then it encodes any stragglers itself and sends
everything), joining each batch into one request. It holds the GIL only for
the join and the sender's bookkeeping (~0.5 us a span), so it neither competes with the event loop for the GIL nor forces
thread switches on a busy core. (Encoding on the thread cost about twice
the CPU per span, and long GIL holds that showed in the proxy's p99.)

With an SDK span exporter attached (tests), spans are queued as objects
and converted on export. A failed export is counted and dropped: telemetry
never retries into a pile-up that would cost the proxy memory or CPU.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal, Protocol
from urllib.parse import urlsplit

import structlog
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.sdk.trace.export import SpanExporter

from proxy.telemetry.otlp import Encoder
from proxy.telemetry.settings import ExportConfig
from proxy.telemetry.spans import Finished, SpanData

log = structlog.get_logger("llm_router.telemetry")

Signal = Literal["traces", "metrics"]
MAX_BATCH = 512
"""Spans per OTLP export request."""
ENCODE_BATCH = 32
"""Finished spans encoded together on the event loop (a pause of ~50 us, after a response)."""
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


class PlainHttpSender:
    """OTLP/HTTP to a plain `http://` endpoint with the standard library's client: one kept-alive connection.

    About a fifth of `requests`' CPU per export (~90 us against ~450 us for a
    300 kB batch), which is most of the per-span cost of sending. Chosen only
    where it behaves as `HttpSender` does: no TLS (certificate settings stay
    with `requests`) and no proxy from the environment for the endpoint.
    """

    _STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

    def __init__(self, config: ExportConfig):
        parts = urlsplit(config.url("traces"))
        self._host = parts.hostname or "localhost"
        self._port = parts.port or 80
        self._paths = {}
        for signal in _PATHS:
            url = urlsplit(config.url(signal))  # type: ignore[arg-type]
            self._paths[signal] = url.path + (f"?{url.query}" if url.query else "")
        headers = {"Content-Type": "application/x-protobuf"}
        for name, value in config.headers.items():  # case-insensitively over the default, as requests merges
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = value
        self._headers = headers
        self._timeout = config.timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def send(self, signal: Signal, body: bytes) -> None:
        reused = self._conn is not None
        try:
            status = self._post(signal, body)
        except self._STALE:
            # A kept-alive connection the receiver closed while idle: once more on a new one.
            self.close()
            if not reused:
                raise
            status = self._post(signal, body)
        except BaseException:
            self.close()
            raise
        if status >= 300:
            raise RuntimeError(f"OTLP/HTTP {signal} export answered {status}")

    def _post(self, signal: Signal, body: bytes) -> int:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        conn = self._conn
        try:
            conn.request("POST", self._paths[signal], body=body, headers=self._headers)
            response = conn.getresponse()
            response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _plain_http(config: ExportConfig) -> bool:
    """An `http://` endpoint that `requests` would reach directly (no proxy from the environment)."""
    if not config.endpoint.startswith("http://"):
        return False
    from requests.utils import get_environ_proxies

    return not get_environ_proxies(config.url("traces"))


def make_sender(config: ExportConfig) -> Sender:
    if config.protocol == "grpc":
        return GrpcSender(config)
    return PlainHttpSender(config) if _plain_http(config) else HttpSender(config)


class SdkSpanSink:
    """Hands spans to any OpenTelemetry SDK `SpanExporter` (e.g. the in-memory one) instead of OTLP bytes."""

    def __init__(self, exporter: SpanExporter, resource: dict[str, str], scope: tuple[str, str]):
        from opentelemetry.sdk.resources import Resource as SdkResource
        from opentelemetry.sdk.util.instrumentation import (
            InstrumentationScope as SdkScope,
        )

        self.exporter = exporter
        self._resource = SdkResource.create(resource)
        self._scope = SdkScope(*scope)

    def export(self, spans: Sequence[SpanData | Finished], capture_content: bool = False) -> None:
        from proxy.telemetry.spans import finished_span_data, to_readable

        self.exporter.export(
            [
                to_readable(
                    s if type(s) is SpanData else finished_span_data(s, capture_content),  # type: ignore[arg-type]
                    self._resource,
                    self._scope,
                )
                for s in spans
            ]
        )


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
        capture_content: bool = False,
    ):
        # Encoded spans (`Encoder.item` bytes), or the span objects when an SDK sink needs them.
        self.queue: deque[bytes | SpanData | Finished] = deque()
        # Finished spans not encoded yet. Both the loop's callback and the export thread
        # take from it with popleft(), so each span is encoded exactly once.
        self._raw: deque[SpanData | Finished] = deque()
        self._encode_scheduled = False
        self.queue_size = queue_size
        self.dropped_spans = 0
        self.failures: dict[str, int] = {"traces": 0, "metrics": 0}
        self.exported: dict[str, int] = {"traces": 0, "metrics": 0}
        self._sender = sender
        self._span_sink = span_sink
        self._metrics = metrics
        self._resource = resource
        self._scope = scope
        self._capture_content = capture_content
        self._encoder = Encoder(resource.SerializeToString(), scope.SerializeToString(), capture_content=capture_content)
        self._encode_now = sender is not None and span_sink is None
        self._span_delay = span_delay_s
        self._metric_interval = metric_interval_s
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one export at a time: the thread, or a caller's flush()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="llm-router-otlp", daemon=True)
        self._thread.start()

    def enqueue(self, span: SpanData | Finished) -> None:
        """A finished span: a `SpanData`, or a request's `Finished` span (the record must not change after this).

        Called on the event loop's thread; without a running loop the batch is encoded at once.
        """
        if not self._encode_now:
            self._append([span])
            return
        raw = self._raw
        if len(raw) + len(self.queue) >= self.queue_size:
            self.dropped_spans += 1
            return
        raw.append(span)
        if len(raw) >= ENCODE_BATCH and not self._encode_scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._encode_raw()
                return
            self._encode_scheduled = True
            loop.call_soon(self._encode_raw)

    def _encode_raw(self) -> None:
        """Encode every span waiting in `_raw` onto the queue (the loop's callback, or the export thread)."""
        self._encode_scheduled = False
        raw = self._raw
        item = self._encoder.item
        encoded = []
        while True:
            try:
                span = raw.popleft()
            except IndexError:
                break
            try:
                encoded.append(item(span))
            except Exception as exc:  # noqa: BLE001 - one unencodable span is dropped, never raised into the proxy
                self.dropped_spans += 1
                log.warning("otlp_encode_failed", error=f"{type(exc).__name__}: {exc}")
        self._append(encoded)

    def _append(self, items: list) -> None:
        queue = self.queue
        room = self.queue_size - len(queue)
        if len(items) > room:
            self.dropped_spans += len(items) - max(room, 0)
            items = items[: max(room, 0)]
        queue.extend(items)
        if len(queue) >= MAX_BATCH:
            self._wake.set()

    def _run(self) -> None:
        next_metrics = time.monotonic() + self._metric_interval
        next_all = time.monotonic() + self._span_delay
        while not self._stopped:
            self._wake.wait(max(0.0, min(next_all, next_metrics) - time.monotonic()))
            self._wake.clear()
            if self._stopped:
                break
            if time.monotonic() >= next_all:
                self.export_spans()
                next_all = time.monotonic() + self._span_delay
            else:
                # Woken by a full batch: send full batches only. Shipping whatever
                # arrived meanwhile would keep the thread sending a few spans at a
                # time, at the fixed cost of a request each (~10 us a span, not ~0.5).
                self.export_spans(full_batches_only=True)
            if self._metrics is not None and time.monotonic() >= next_metrics:
                next_metrics = time.monotonic() + self._metric_interval
                self.export_metrics()

    def export_spans(self, full_batches_only: bool = False) -> None:
        """Send what is queued (stragglers not yet encoded included), in requests of at most `MAX_BATCH` spans."""
        with self._lock:
            if self._raw and not full_batches_only:
                self._encode_raw()
            queue = self.queue
            n = len(queue)  # what arrives while these are sent waits for the next call
            if full_batches_only:
                n -= n % MAX_BATCH
            while n > 0:
                k = min(MAX_BATCH, n)
                n -= k
                self._ship_spans([queue.popleft() for _ in range(k)])

    def _ship_spans(self, batch: list) -> None:
        try:
            if self._span_sink is not None:
                self._span_sink.export(batch, self._capture_content)
            if self._sender is not None:
                encoder = self._encoder
                self._sender.send("traces", encoder.envelope(batch) if self._encode_now else encoder.request(batch))
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

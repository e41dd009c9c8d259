"""The `telemetry:` section of proxy.yaml, and how it meets the OTEL_* environment.

Precedence, per field: a key written in proxy.yaml wins; a key left out is
taken from the standard OpenTelemetry environment variable when that is set;
otherwise the default here. The file wins because it is the reviewed,
hot-reloaded source of truth for one sidecar, while the environment is
ambient (a platform may inject OTEL_* into every container of a pod); and
leaving a key out of the file is how an operator says "let the platform decide".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

import pydantic

Protocol = Literal["grpc", "http/protobuf"]


class TelemetrySettings(pydantic.BaseModel, extra="forbid"):
    """Traces and metrics export over OTLP. No endpoint (here or in OTEL_EXPORTER_OTLP_ENDPOINT) = nothing is exported."""

    otlp_endpoint: str | None = None
    """Base URL of the OTLP receiver, as OTEL_EXPORTER_OTLP_ENDPOINT: `http://collector:4317` for grpc, `http://collector:4318` for http/protobuf (`/v1/traces` and `/v1/metrics` are appended). `https://` turns TLS on."""
    protocol: Protocol = "grpc"
    """`grpc` or `http/protobuf` (OTEL_EXPORTER_OTLP_PROTOCOL)."""
    service_name: str = "llm-router"
    """`service.name` of every span and metric (OTEL_SERVICE_NAME)."""
    capture_content: bool = False
    """Record prompt and completion text on spans. Off by default: they may hold personal data."""
    headers: dict[str, str] = {}
    """Headers sent with every export, e.g. a backend's API key (OTEL_EXPORTER_OTLP_HEADERS, `k=v,k2=v2`)."""
    resource_attributes: dict[str, str] = {}
    """Extra resource attributes, e.g. `deployment.environment: prod` (OTEL_RESOURCE_ATTRIBUTES)."""
    timeout_s: float = pydantic.Field(default=10.0, gt=0)
    """Deadline for one export call (OTEL_EXPORTER_OTLP_TIMEOUT, in milliseconds there)."""
    export_interval_s: float = pydantic.Field(default=60.0, gt=0)
    """How often metrics are exported (OTEL_METRIC_EXPORT_INTERVAL, in milliseconds there)."""
    span_batch_delay_s: float = pydantic.Field(default=2.0, gt=0)
    """Longest a finished span waits before it is sent (OTEL_BSP_SCHEDULE_DELAY, milliseconds there)."""
    span_queue_size: int = pydantic.Field(default=8192, ge=1)
    """Finished spans held for export; beyond this new spans are dropped and counted, never blocking a request (OTEL_BSP_MAX_QUEUE_SIZE)."""
    sampling_ratio: float = pydantic.Field(default=1.0, ge=0, le=1)
    """Share of new traces recorded; a request carrying a `traceparent` follows the app's decision instead (OTEL_TRACES_SAMPLER_ARG)."""
    traces: bool = True
    """Export spans (when an endpoint is set)."""
    metrics: bool = True
    """Export metrics (when an endpoint is set). The Prometheus `/metrics` page is always on."""

    def resolve(self, environ: Mapping[str, str] | None = None) -> ExportConfig | None:
        """The effective export target, or None when nothing is to be exported."""
        env = os.environ if environ is None else environ
        explicit = self.model_fields_set

        def pick(field: str, var: str, convert=lambda v: v):
            if field not in explicit and env.get(var):
                return convert(env[var])
            return getattr(self, field)

        if env.get("OTEL_SDK_DISABLED", "").lower() == "true" and "otlp_endpoint" not in explicit:
            return None
        endpoint = pick("otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT")
        if not endpoint or not (self.traces or self.metrics):
            return None
        protocol = pick("protocol", "OTEL_EXPORTER_OTLP_PROTOCOL")
        if protocol not in ("grpc", "http/protobuf"):
            raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: use grpc or http/protobuf")
        resource = {**_pairs(env.get("OTEL_RESOURCE_ATTRIBUTES", "")), **self.resource_attributes}
        resource["service.name"] = pick("service_name", "OTEL_SERVICE_NAME")
        return ExportConfig(
            endpoint=endpoint.rstrip("/"),
            protocol=protocol,
            headers=pick("headers", "OTEL_EXPORTER_OTLP_HEADERS", _pairs),
            resource=resource,
            timeout_s=pick("timeout_s", "OTEL_EXPORTER_OTLP_TIMEOUT", _millis),
            export_interval_s=pick("export_interval_s", "OTEL_METRIC_EXPORT_INTERVAL", _millis),
            span_batch_delay_s=pick("span_batch_delay_s", "OTEL_BSP_SCHEDULE_DELAY", _millis),
            span_queue_size=pick("span_queue_size", "OTEL_BSP_MAX_QUEUE_SIZE", int),
            sampling_ratio=pick("sampling_ratio", "OTEL_TRACES_SAMPLER_ARG", float),
            traces=self.traces,
            metrics=self.metrics,
        )


@dataclass(frozen=True, slots=True)
class ExportConfig:
    endpoint: str
    protocol: Protocol
    headers: dict[str, str]
    resource: dict[str, str]
    timeout_s: float
    export_interval_s: float
    span_batch_delay_s: float
    span_queue_size: int
    sampling_ratio: float
    traces: bool
    metrics: bool

    @property
    def secure(self) -> bool:
        return self.endpoint.startswith("https://")

    def url(self, signal: Literal["traces", "metrics"]) -> str:
        """http/protobuf: the base URL plus `/v1/<signal>`, as the OTLP exporter spec says."""
        return f"{self.endpoint}/v1/{signal}"

    @property
    def grpc_target(self) -> str:
        """grpc: `host:port` of the endpoint (the scheme only chooses TLS)."""
        parts = urlsplit(self.endpoint if "://" in self.endpoint else f"http://{self.endpoint}")
        port = parts.port or (443 if parts.scheme == "https" else 4317)
        host = parts.hostname or "localhost"
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _pairs(value: str) -> dict[str, str]:
    """`k=v,k2=v2` with URL-encoded values, the W3C baggage-like format OTEL_* variables use."""
    out: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        if sep and key.strip():
            out[key.strip()] = unquote(val.strip())
    return out


def _millis(value: str) -> float:
    return float(value) / 1000.0

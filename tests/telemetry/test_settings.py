"""The telemetry: section meets the OTEL_* environment: the file wins, the environment fills gaps."""

from __future__ import annotations

import pydantic
import pytest

from proxy.telemetry.settings import TelemetrySettings


def test_nothing_configured_exports_nothing() -> None:
    assert TelemetrySettings().resolve({}) is None


def test_environment_fills_what_the_file_leaves_out() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example:4318/",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "checkout-router",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=abc%3D,x-tenant=7",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_METRIC_EXPORT_INTERVAL": "15000",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,k8s.pod.name=p-1",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
    }
    c = TelemetrySettings().resolve(env)
    assert c is not None
    assert c.url("traces") == "https://otel.example:4318/v1/traces"
    assert c.url("metrics") == "https://otel.example:4318/v1/metrics"
    assert c.protocol == "http/protobuf" and c.secure
    assert c.resource == {"deployment.environment": "prod", "k8s.pod.name": "p-1", "service.name": "checkout-router"}
    assert c.headers == {"api-key": "abc=", "x-tenant": "7"}
    assert (c.timeout_s, c.export_interval_s, c.sampling_ratio) == (2.5, 15.0, 0.25)


def test_the_file_wins_over_the_environment() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4317",
        "OTEL_SERVICE_NAME": "env-name",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    c = TelemetrySettings(otlp_endpoint="http://file:4317", service_name="file-name", protocol="grpc").resolve(env)
    assert c is not None
    assert (c.endpoint, c.resource["service.name"], c.protocol) == ("http://file:4317", "file-name", "grpc")
    assert c.grpc_target == "file:4317" and not c.secure


def test_sdk_disabled_and_signals_off() -> None:
    assert (
        TelemetrySettings().resolve({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4317"})
        is None
    )
    assert TelemetrySettings(otlp_endpoint="http://x:4317", traces=False, metrics=False).resolve({}) is None


def test_grpc_target_defaults() -> None:
    assert TelemetrySettings(otlp_endpoint="http://collector").resolve({}).grpc_target == "collector:4317"  # type: ignore[union-attr]
    assert TelemetrySettings(otlp_endpoint="https://[::1]:4444").resolve({}).grpc_target == "[::1]:4444"  # type: ignore[union-attr]


def test_bad_protocol_in_environment_is_reported() -> None:
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        TelemetrySettings().resolve(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
        )


def test_strict_schema() -> None:
    with pytest.raises(pydantic.ValidationError):
        TelemetrySettings.model_validate({"otlp_endpoint": "http://x", "protocl": "grpc"})
    with pytest.raises(pydantic.ValidationError):
        TelemetrySettings.model_validate({"protocol": "http/json"})
    with pytest.raises(pydantic.ValidationError):
        TelemetrySettings.model_validate({"sampling_ratio": 2})

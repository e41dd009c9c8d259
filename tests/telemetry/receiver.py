"""A small OTLP receiver on loopback (HTTP/protobuf via aiohttp, gRPC via grpcio), built on opentelemetry-proto."""

from __future__ import annotations

from concurrent import futures

import grpc
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as ms
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as ms_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as ts_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def value(v: AnyValue) -> object:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


class Received:
    def __init__(self) -> None:
        self.traces: list[ts.ExportTraceServiceRequest] = []
        self.metrics: list[ms.ExportMetricsServiceRequest] = []
        self.headers: list[dict[str, str]] = []

    def spans(self) -> list[tuple[dict[str, object], object]]:
        """(resource attributes, span) for every span received."""
        out = []
        for request in self.traces:
            for rs in request.resource_spans:
                resource = {kv.key: value(kv.value) for kv in rs.resource.attributes}
                for ss in rs.scope_spans:
                    out += [(resource, span) for span in ss.spans]
        return out

    def metric_names(self) -> dict[str, object]:
        return {
            m.name: m for r in self.metrics for rm in r.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        }


def attrs(span_or_point: object) -> dict[str, object]:
    return {kv.key: value(kv.value) for kv in span_or_point.attributes}  # type: ignore[attr-defined]


def http_app(received: Received) -> web.Application:
    async def traces(request: web.Request) -> web.Response:
        received.headers.append(dict(request.headers))
        received.traces.append(ts.ExportTraceServiceRequest.FromString(await request.read()))
        return web.Response(
            body=ts.ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf"
        )

    async def metrics(request: web.Request) -> web.Response:
        received.headers.append(dict(request.headers))
        received.metrics.append(ms.ExportMetricsServiceRequest.FromString(await request.read()))
        return web.Response(
            body=ms.ExportMetricsServiceResponse().SerializeToString(), content_type="application/x-protobuf"
        )

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    app.router.add_post("/v1/metrics", metrics)
    return app


class _Traces(ts_grpc.TraceServiceServicer):
    def __init__(self, received: Received):
        self.received = received

    def Export(self, request, context):
        self.received.headers.append(dict(context.invocation_metadata()))
        self.received.traces.append(request)
        return ts.ExportTraceServiceResponse()


class _Metrics(ms_grpc.MetricsServiceServicer):
    def __init__(self, received: Received):
        self.received = received

    def Export(self, request, context):
        self.received.metrics.append(request)
        return ms.ExportMetricsServiceResponse()


def grpc_server(received: Received) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    ts_grpc.add_TraceServiceServicer_to_server(_Traces(received), server)
    ms_grpc.add_MetricsServiceServicer_to_server(_Metrics(received), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port

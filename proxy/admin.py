"""The admin listener: health, readiness, the active config, and metrics.

Kept on its own port so probes and scrapes never queue behind app traffic,
and so the proxy port can stay strictly an OpenAI endpoint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import orjson

from proxy.http.inbound import Request, Response

if TYPE_CHECKING:
    from proxy.server import Sidecar

REDACTED = "***redacted***"


def _json(data: object, status: int = 200) -> Response:
    return Response(body=orjson.dumps(data, option=orjson.OPT_INDENT_2), status=status, content_type="application/json")


def redacted_config(sidecar: Sidecar) -> dict[str, object]:
    runtime = sidecar.runtime
    assert runtime is not None
    data = runtime.loaded.config.model_dump(mode="json")
    for upstream in data.get("upstreams", {}).values():
        upstream["headers"] = {name: REDACTED for name in upstream.get("headers", {})}
    telemetry = data.get("telemetry") or {}
    telemetry["headers"] = {name: REDACTED for name in telemetry.get("headers", {})}
    policy = runtime.loaded.policy
    return {
        "config_file": str(runtime.loaded.config_path),
        "generation": runtime.generation,
        "config": data,
        "policy_file": str(runtime.loaded.policy_path) if runtime.loaded.policy_path else None,
        "policy": policy.model_dump(mode="json") if policy is not None else None,
    }


def healthz(sidecar: Sidecar) -> Response:
    return _json({"status": "ok"})


def readyz(sidecar: Sidecar) -> Response:
    runtime = sidecar.runtime
    watcher = sidecar.watcher
    detail = {
        "config_generation": runtime.generation if runtime else None,
        "inflight": sidecar.inflight,
        "last_reload_error": watcher.last_error if watcher else None,
        # An open breaker does not make the sidecar unready: the chain's other models still answer.
        "breakers": sidecar.dispatcher.breaker_states(),
    }
    if sidecar.draining:
        return _json({"status": "draining", **detail}, status=503)
    if not sidecar.ready:
        return _json({"status": "starting", **detail}, status=503)
    return _json({"status": "ready", **detail})


def config(sidecar: Sidecar) -> Response:
    return _json(redacted_config(sidecar))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(sidecar: Sidecar) -> str:
    c = sidecar.counters
    watcher = sidecar.watcher
    lines = [
        "# HELP llm_router_requests_total Requests proxied, by route and response status.",
        "# TYPE llm_router_requests_total counter",
    ]
    for (route, status), n in sorted(c.requests.items()):
        lines.append(f'llm_router_requests_total{{route="{_label(route)}",status="{status}"}} {n}')
    lines += [
        "# HELP llm_router_inflight_requests Requests being proxied now.",
        "# TYPE llm_router_inflight_requests gauge",
        f"llm_router_inflight_requests {sidecar.inflight}",
        "# HELP llm_router_client_disconnects_total Requests the app abandoned before the answer was complete.",
        "# TYPE llm_router_client_disconnects_total counter",
        f"llm_router_client_disconnects_total {c.client_disconnects}",
        "# HELP llm_router_config_generation Number of configs applied since start (1 = the initial one).",
        "# TYPE llm_router_config_generation gauge",
        f"llm_router_config_generation {sidecar.runtime.generation if sidecar.runtime else 0}",
        "# HELP llm_router_config_reloads_total Config reloads, by result.",
        "# TYPE llm_router_config_reloads_total counter",
        f'llm_router_config_reloads_total{{result="applied"}} {watcher.reloads_ok if watcher else 0}',
        f'llm_router_config_reloads_total{{result="rejected"}} {watcher.reloads_failed if watcher else 0}',
    ]
    if sidecar.telemetry is not None:
        lines += sidecar.telemetry.prometheus_lines()
    return "\n".join(lines) + "\n"


def metrics(sidecar: Sidecar) -> Response:
    return Response(
        body=prometheus_text(sidecar).encode(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


ROUTES: dict[str, Callable[[Sidecar], Response]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/config": config,
    "/metrics": metrics,
}


def admin_handler(sidecar: Sidecar) -> Callable[[Request], Awaitable[Response]]:
    """The admin listener's request handler (served by an `InboundServer`)."""

    async def handle(request: Request) -> Response:
        endpoint = ROUTES.get(request.path)
        if endpoint is None:
            return _json({"error": {"message": f"no admin endpoint {request.path}; there are {', '.join(ROUTES)}",
                                    "type": "invalid_request_error", "code": "not_found"}}, status=404)
        if request.method not in ("GET", "HEAD"):
            response = _json({"error": {"message": f"{request.path} answers GET only", "type": "invalid_request_error",
                                        "code": "method_not_allowed"}}, status=405)
            response.headers["Allow"] = "GET, HEAD"
            return response
        return endpoint(sidecar)

    return handle

"""One request's way through the sidecar.

    read body -> parse (chat) -> route -> classify + decide (fail open)
      -> passthrough | shadow (primary + background call) | canary (+ guardrail)
      -> relay the answer as it arrives -> record -> span, metrics, access log

The request's `RequestRecord` collects what happened; telemetry reads it at
the end. A failure in routing or classification never fails the app's call:
the request is passed through untouched and the failure is counted.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
import structlog
from aiohttp import web
from multidict import CIMultiDict

from proxy.http.errors import BadRequest, ProxyError
from proxy.http.headers import upstream_request_headers
from proxy.http.relay import buffered_response, read_body, respond, respond_held, send
from proxy.record import RequestRecord
from proxy.routing.decide import CONTROL, Decision, decide, sticky_key
from proxy.routing.guardrail import check_completion, check_text
from proxy.routing.rewrite import with_model
from proxy.routing.shadow import Outcome
from proxy.routing.table import CompiledRoute

if TYPE_CHECKING:
    from proxy.http.upstream import UpstreamClient
    from proxy.server import Runtime, Sidecar

log = structlog.get_logger("llm_router")
access = structlog.get_logger("llm_router.access")

ROUTE_HEADER = "x-llm-router-route"
BYPASS_HEADER = "x-llm-router-bypass"

_OPERATIONS = (
    ("/chat/completions", "chat"),
    ("/completions", "text_completion"),
    ("/embeddings", "embeddings"),
    ("/responses", "responses"),
)


def operation_of(path: str) -> str | None:
    for suffix, name in _OPERATIONS:
        if path.endswith(suffix):
            return name
    return None


def _parse(body: bytes | None) -> dict[str, Any] | None:
    if not body or body[:1] not in (b"{", b" ", b"\n", b"\t", b"\r"):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # not ours to judge: the upstream answers malformed JSON with its own 400
    return parsed if isinstance(parsed, dict) else None


def router_headers(record: RequestRecord) -> dict[str, str]:
    return {
        "x-llm-router-model": record.model_used or "",
        "x-llm-router-tier": record.tier or "unknown",
        "x-llm-router-arm": record.arm or CONTROL,
        "x-llm-router-mode": record.mode,
    }


class Pipeline:
    def __init__(self, sidecar: Sidecar):
        self.sidecar = sidecar

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        sidecar = self.sidecar
        runtime = sidecar.runtime
        assert runtime is not None
        record = RequestRecord(
            request_id=sidecar.next_request_id(), method=request.method, path=request.path,
            started=time.perf_counter(), start_time_ns=time.time_ns(),
        )
        sidecar.inflight += 1
        span = sidecar.telemetry.start(record, request.headers)
        try:
            response = await self._handle(request, runtime, record, span)
        except ProxyError as exc:
            record.status = exc.status
            record.error = exc.code
            response = exc.response()
        except (ConnectionResetError, asyncio.CancelledError):
            # The app went away; the upstream call was closed on the way out.
            sidecar.counters.client_disconnects += 1
            record.error = record.error or "client_disconnected"
            record.status = 499
            raise
        finally:
            sidecar.inflight -= 1
            record.duration_ms = (time.perf_counter() - record.started) * 1000
            try:
                sidecar.finish(record, span, runtime)
            except Exception as exc:  # accounting must never fail the app's request; it is logged
                log.error("recording the request failed", request_id=record.request_id, error=repr(exc)[:300])
        return response

    async def _handle(self, request: web.BaseRequest, runtime: Runtime, record: RequestRecord, span: Any) -> web.StreamResponse:
        if request.method == "CONNECT":
            raise BadRequest(
                "CONNECT is not accepted on this listener; point the app at it with OPENAI_BASE_URL instead",
                status=405, code="connect_not_supported",
            )
        body = await _read_body(request, runtime.max_body)
        record.bytes_in = len(body) if body else 0
        headers = request.headers
        operation = record.operation = operation_of(request.path)
        payload = _parse(body) if operation is not None or runtime.routes.needs_model else None
        requested = payload.get("model") if payload is not None else None
        if not isinstance(requested, str):
            requested = None
        record.requested_model = record.model_used = requested
        if payload is not None:
            record.stream = payload.get("stream") is True
        route = runtime.routes.select(request.path, headers, requested, headers.get(ROUTE_HEADER))
        record.route, record.mode = route.name, route.mode
        upstream = runtime.upstreams[route.upstream]
        record.upstream = upstream.name
        out_headers = upstream_request_headers(headers, upstream.extra_headers)
        span.inject(out_headers)

        decision = None
        if headers.get(BYPASS_HEADER) == "1":
            record.bypass = True
        elif operation == "chat" and payload is not None and requested is not None and runtime.router is not None:
            decision = await self._decide(runtime, route, payload, headers, record)
        if decision is None:
            return await self._forward(request, upstream, out_headers, body, record, payload, None)
        extra = router_headers(record)
        if decision.rewrites and route.mode == "canary":
            try:
                new_body = with_model(body or b"", payload, decision.router_model)
            except Exception as exc:  # fail open: an unexpected body shape is passed through untouched
                self._fail_open(record, exc)
                return await self._forward(request, upstream, out_headers, body, record, payload, router_headers(record))
            return await self._canary(request, runtime, upstream, out_headers, body or b"", new_body, payload, decision, record)
        if decision.rewrites and route.mode == "shadow":
            return await self._with_shadow(request, runtime, upstream, out_headers, body, payload, decision, record, span, extra)
        return await self._forward(request, upstream, out_headers, body, record, payload, extra)

    async def _decide(self, runtime: Runtime, route: CompiledRoute, payload: dict[str, Any], headers: Any,
                      record: RequestRecord) -> Decision | None:
        router = runtime.router
        try:
            started = time.perf_counter()
            classification = await router.classifier.aclassify(payload)
            record.classify_ms = (time.perf_counter() - started) * 1000
            decision = decide(
                route=route, tiers=router.policy.tiers, never_upgrade=router.policy.never_upgrade,
                prices=runtime.loaded.prices, requested_model=record.requested_model, classification=classification,
                key=sticky_key(route, headers, payload, record.request_id),
            )
        except Exception as exc:  # fail open: the router must never be the reason an app's call fails
            self._fail_open(record, exc)
            return None
        record.tier, record.score, record.stage, record.intent = decision.tier, decision.score, decision.stage, decision.intent
        record.arm, record.router_model = decision.arm, decision.router_model
        return decision

    def _fail_open(self, record: RequestRecord, exc: BaseException) -> None:
        record.fail_open = True
        record.tier = record.arm = None
        self.sidecar.counters.fail_open += 1
        log.warning("routing failed; the request is passed through untouched",
                    request_id=record.request_id, route=record.route, error=repr(exc)[:300])

    async def _forward(self, request: web.BaseRequest, upstream: UpstreamClient, headers: CIMultiDict[str],
                       body: bytes | None, record: RequestRecord, payload: dict[str, Any] | None,
                       extra: dict[str, str] | None, hide_usage: bool = False) -> web.StreamResponse:
        resp = await send(upstream, request.method, request.raw_path, headers, body)
        record.upstream_ms = (time.perf_counter() - record.started) * 1000
        observer = self.sidecar.observer(record, payload, hide_usage)
        try:
            return await respond(request, resp, upstream, record, extra, observer.tap(resp), observer.on_body)
        finally:
            observer.finish()

    async def _canary(self, request: web.BaseRequest, runtime: Runtime, upstream: UpstreamClient,
                      headers: CIMultiDict[str], body: bytes, new_body: bytes, payload: dict[str, Any],
                      decision: Decision, record: RequestRecord) -> web.StreamResponse:
        from proxy.telemetry.usage import request_stream_usage

        record.model_used = decision.router_model
        hide_usage = False
        if record.stream:
            with_usage = request_stream_usage(new_body)
            if with_usage is not None:
                new_body, hide_usage = with_usage, True
        guardrail = runtime.router.policy.guardrail
        if record.stream and guardrail.enabled and guardrail.stream_buffer_tokens > 0:
            return await self._canary_stream_checked(request, runtime, upstream, headers, body, new_body, payload,
                                                     record, hide_usage)
        if record.stream or not guardrail.enabled:
            return await self._forward(request, upstream, headers, new_body, record, payload, router_headers(record), hide_usage)
        resp = await send(upstream, request.method, request.raw_path, headers, new_body)
        record.upstream_ms = (time.perf_counter() - record.started) * 1000
        try:
            data = await read_body(resp, upstream)
        finally:
            resp.release()
        reason = check_completion(payload, data, guardrail) if resp.status == 200 else None
        if reason is None:
            record.status = resp.status
            record.bytes_out = len(data)
            record.upstream_request_id = resp.headers.get("x-request-id")
            self.sidecar.observer(record, payload, False).on_body(data)
            return buffered_response(resp, data, router_headers(record))
        return await self._escalate(request, runtime, upstream, headers, body, payload, record, reason)

    async def _escalate(self, request: web.BaseRequest, runtime: Runtime, upstream: UpstreamClient,
                        headers: CIMultiDict[str], body: bytes, payload: dict[str, Any], record: RequestRecord,
                        reason: str) -> web.StreamResponse:
        """Re-ask the escalation tier's model after the cheap answer failed the guardrail."""
        escalate_to = getattr(runtime.router.policy.tiers, runtime.router.policy.guardrail.escalate_to).model
        log.info("canary answer failed the guardrail; escalating", request_id=record.request_id,
                 reason=reason, cheap_model=record.model_used, escalated_to=escalate_to)
        record.escalated = True
        record.extra["guardrail"] = reason
        record.model_used = escalate_to
        record.first_chunk_ms = None
        escalated_body = body if escalate_to == record.requested_model else with_model(body, payload, escalate_to)
        return await self._forward(request, upstream, headers, escalated_body, record, payload, router_headers(record))

    async def _canary_stream_checked(self, request: web.BaseRequest, runtime: Runtime, upstream: UpstreamClient,
                                     headers: CIMultiDict[str], body: bytes, new_body: bytes, payload: dict[str, Any],
                                     record: RequestRecord, hide_usage: bool) -> web.StreamResponse:
        """Hold back the first tokens of a cheap stream, check them, then release the stream or escalate."""
        guardrail = runtime.router.policy.guardrail
        resp = await send(upstream, request.method, request.raw_path, headers, new_body)
        record.upstream_ms = (time.perf_counter() - record.started) * 1000
        observer = self.sidecar.observer(record, payload, hide_usage)
        observer.keep_text = True  # the check reads the first tokens' text
        tap = observer.tap(resp)
        if tap is None:
            try:
                return await respond(request, resp, upstream, record, router_headers(record), None, observer.on_body)
            finally:
                observer.finish()
        held: list[bytes] = []
        ended, broken, tool_calls = False, False, False
        want_chars = guardrail.stream_buffer_tokens * 4  # about four characters per token
        try:
            while len(observer.text_so_far()) < want_chars:
                async with asyncio.timeout(upstream.timeouts.stream_idle_s):
                    chunk = await resp.content.readany()
                if not chunk:
                    ended = True
                    break
                tool_calls = tool_calls or b'"tool_calls"' in chunk
                out = tap.feed(chunk)
                if out:
                    held.append(out)
        except (TimeoutError, aiohttp.ClientError):
            broken = True
        reason = "stream_broken" if broken else check_text(
            payload, observer.text_so_far(), observer.finish_reason_so_far() if ended else None, tool_calls, guardrail)
        if reason is not None:
            resp.close()
            return await self._escalate(request, runtime, upstream, headers, body, payload, record, reason)
        record.bytes_out = sum(len(c) for c in held)
        try:
            return await respond_held(request, resp, upstream, record, held, router_headers(record), tap)
        finally:
            observer.finish()

    async def _with_shadow(self, request: web.BaseRequest, runtime: Runtime, upstream: UpstreamClient,
                           headers: CIMultiDict[str], body: bytes | None, payload: dict[str, Any], decision: Decision,
                           record: RequestRecord, span: Any, extra: dict[str, str]) -> web.StreamResponse:
        sidecar = self.sidecar
        primary: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        outcome = sidecar.shadow.submit(
            record=record, payload=payload, model=decision.router_model, upstream=upstream,
            raw_path=request.raw_path, headers=CIMultiDict(headers), primary=primary, primary_span=span,
        )
        record.extra["shadow"] = outcome
        if outcome == "dropped":
            sidecar.telemetry.shadow_dropped()
        elif outcome == "budget":
            sidecar.telemetry.shadow_budget_paused()
        try:
            return await self._forward(request, upstream, headers, body, record, payload, extra)
        finally:
            primary.set_result(Outcome(
                model=record.model_used, status=record.status, latency_ms=(time.perf_counter() - record.started) * 1000,
                usage=record.usage, cost_usd=runtime.loaded.prices.cost(record.model_used, record.usage)
                if record.usage is not None and record.model_used else None,
                finish_reason=record.finish_reason, text=record.completion_text or "",
            ))


async def _read_body(request: web.BaseRequest, limit: int) -> bytes | None:
    if not request.body_exists:
        return None
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(length, limit)
    if length is not None:
        return await request.content.read()
    # Chunked upload: read with a running total so an endless body cannot exhaust memory.
    parts = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        parts.append(chunk)
    return b"".join(parts)


def _too_large(size: int, limit: int) -> BadRequest:
    return BadRequest(
        f"request body of {size} bytes is larger than the limit of {limit} bytes; raise limits.max_body_mb in proxy.yaml",
        status=413, code="request_too_large",
    )

"""One request's way through the sidecar.

    read body -> parse (chat) -> route -> classify + decide (fail open)
      -> passthrough | shadow (primary + background call) | canary (+ guardrail)
      -> dispatch (model chain: retries, breakers, fallbacks) -> relay as it arrives
      -> record -> span, metrics, access log

The request's `RequestRecord` collects what happened; telemetry reads it at
the end. A failure in routing or classification never fails the app's call:
the request is passed through untouched and the failure is counted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from multidict import CIMultiDict

from proxy.dispatch.dispatcher import Dispatched
from proxy.http import messages as web
from proxy.http.errors import BadRequest, ProxyError
from proxy.http.outbound import ClientError
from proxy.http.headers import client_response_headers, upstream_request_headers
from proxy.http.relay import buffered_response, read_body, respond, respond_held, respond_translated, send
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


@dataclass(slots=True)
class Flow:
    """What one request's stages share."""

    request: web.Request
    runtime: Runtime
    record: RequestRecord
    span: Any
    upstream: UpstreamClient
    headers: CIMultiDict[str]
    path: str
    payload: dict[str, Any] | None = None
    resilient: bool = False
    """Walk the model chain with retries and breakers (classified chat requests on canary/shadow routes)."""
    fallbacks: tuple[str, ...] = ()
    """Models to try after the chosen one fails."""


class Pipeline:
    def __init__(self, sidecar: Sidecar):
        self.sidecar = sidecar

    async def handle(self, request: web.Request) -> web.StreamResponse:
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

    async def _handle(self, request: web.Request, runtime: Runtime, record: RequestRecord, span: Any) -> web.StreamResponse:
        if request.method == "CONNECT":
            raise BadRequest(
                "CONNECT is not accepted here; open a new connection to the proxy for CONNECT",
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
        upstream = self.sidecar.upstream_for(request, runtime, route)
        record.upstream = upstream.name
        out_headers = upstream_request_headers(headers, upstream.extra_headers)
        span.inject(out_headers)
        flow = Flow(request, runtime, record, span, upstream, out_headers, request.origin_target, payload)

        decision = None
        if headers.get(BYPASS_HEADER) == "1":
            record.bypass = True
        elif operation == "chat" and payload is not None and requested is not None and runtime.router is not None:
            decision = await self._decide(runtime, route, payload, headers, record)
        if decision is None:
            return await self._forward(flow, body, None)
        if route.fallback and route.mode != "passthrough":
            # Passthrough is a dry run: it never retries or swaps models. Canary at 0 % gives resilience alone.
            flow.resilient = True
            flow.fallbacks = self._fallbacks(runtime, decision)
        if decision.rewrites and route.mode == "canary":
            try:
                new_body = with_model(body or b"", payload, decision.router_model)
            except Exception as exc:  # fail open: an unexpected body shape is passed through untouched
                self._fail_open(record, exc)
                return await self._forward(flow, body, None)
            return await self._canary(flow, body or b"", new_body, decision)
        if decision.rewrites and route.mode == "shadow":
            return await self._with_shadow(flow, body, decision)
        return await self._forward(flow, body, router_headers(record))

    def _fallbacks(self, runtime: Runtime, decision: Decision) -> tuple[str, ...]:
        policy = runtime.router.policy
        chain = list(getattr(policy.tiers, decision.tier).fallbacks)
        last = runtime.loaded.config.resilience.last_resort
        if last:
            chain.append(last)
        return tuple(chain)

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

    async def _open(self, flow: Flow, body: bytes | None) -> Dispatched:
        """Start the upstream answer: one plain send, or a walk of the model chain."""
        record = flow.record
        if not flow.resilient or record.model_used is None or flow.payload is None:
            resp = await send(flow.upstream, flow.request.method, flow.path, flow.headers, body)
            return Dispatched(record.model_used or "", flow.upstream.name, "openai", response=resp, client=flow.upstream)
        first = record.model_used
        payload = flow.payload
        original = body or b""

        def body_for(model: str) -> bytes:
            return original if model == first else with_model(original, payload, model)

        chain = [first, *(m for m in flow.fallbacks if m != first)]
        dispatched = await self.sidecar.dispatcher.dispatch(
            chain=chain, default_upstream=flow.upstream.name, clients=flow.runtime.upstreams,
            method=flow.request.method, raw_path=flow.path, headers=flow.headers, body_for=body_for,
            payload=payload, stream=record.stream,
        )
        if dispatched.model != first:
            record.fallback = True
            record.model_used = dispatched.model
            record.upstream, record.provider = dispatched.upstream, dispatched.provider
            record.extra["tried"] = dispatched.tried
            log.info("answered by a fallback model", request_id=record.request_id, model=dispatched.model,
                     tried=[f"{m}: {why}" for m, why in dispatched.tried])
        return dispatched

    async def _forward(self, flow: Flow, body: bytes | None, extra: dict[str, str] | None,
                       hide_usage: bool = False) -> web.StreamResponse:
        dispatched = await self._open(flow, body)
        flow.record.upstream_ms = (time.perf_counter() - flow.record.started) * 1000
        if extra is not None:
            extra = router_headers(flow.record)  # the model may have changed on the way (fallback)
        return await self._respond(flow, dispatched, extra, hide_usage)

    async def _respond(self, flow: Flow, dispatched: Dispatched, extra: dict[str, str] | None,
                       hide_usage: bool = False) -> web.StreamResponse:
        """Relay whatever the dispatch produced: a kept upstream error, a translated answer, or a live response."""
        record = flow.record
        observer = self.sidecar.observer(record, flow.payload, hide_usage)
        try:
            if dispatched.error is not None:
                err = dispatched.error
                record.status = err.status
                return web.Response(status=err.status, reason=err.reason, body=err.body,
                                    headers=_merge(client_response_headers(err.headers), extra))
            if dispatched.translated is not None:
                observer.hide_usage = not (flow.payload or {}).get("stream_options", {}).get("include_usage")
                return await respond_translated(flow.request, dispatched.translated, record, extra, observer)
            assert dispatched.response is not None and dispatched.client is not None
            if dispatched.body is not None:
                resp = dispatched.response
                record.status, record.bytes_out = resp.status, len(dispatched.body)
                record.upstream_request_id = resp.headers.get("x-request-id")
                observer.on_body(dispatched.body, dispatched.parsed)
                return buffered_response(resp, dispatched.body, extra)
            return await respond(flow.request, dispatched.response, dispatched.client, record, extra,
                                 observer.tap(dispatched.response), observer.on_body)
        finally:
            observer.finish()

    async def _canary(self, flow: Flow, body: bytes, new_body: bytes, decision: Decision) -> web.StreamResponse:
        from proxy.telemetry.usage import request_stream_usage

        record = flow.record
        record.model_used = decision.router_model
        hide_usage = False
        if record.stream:
            with_usage = request_stream_usage(new_body)
            if with_usage is not None:
                new_body, hide_usage = with_usage, True
        guardrail = flow.runtime.router.policy.guardrail
        if record.stream and guardrail.enabled and guardrail.stream_buffer_tokens > 0:
            return await self._canary_stream_checked(flow, body, new_body, hide_usage)
        if record.stream or not guardrail.enabled:
            return await self._forward(flow, new_body, router_headers(record), hide_usage)
        dispatched = await self._open(flow, new_body)
        record.upstream_ms = (time.perf_counter() - record.started) * 1000
        if dispatched.response is None:  # a translated answer or a kept upstream error: no guardrail here
            return await self._respond(flow, dispatched, router_headers(record))
        resp = dispatched.response
        parsed = dispatched.parsed  # the dispatcher decoded a body it read; one read here is decoded once below
        if dispatched.body is not None:
            data = dispatched.body
        else:
            try:
                data = await read_body(resp, dispatched.client)
            finally:
                resp.release()
        if resp.status == 200 and parsed is None:
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                parsed = None
        reason = check_completion(flow.payload, data, guardrail, parsed) if resp.status == 200 else None
        if reason is None:
            record.status = resp.status
            record.bytes_out = len(data)
            record.upstream_request_id = resp.headers.get("x-request-id")
            self.sidecar.observer(record, flow.payload, False).on_body(data, parsed)
            return buffered_response(resp, data, router_headers(record))
        return await self._escalate(flow, body, reason)

    async def _escalate(self, flow: Flow, body: bytes, reason: str) -> web.StreamResponse:
        """Re-ask the escalation tier's model after the cheap answer failed the guardrail."""
        record = flow.record
        policy = flow.runtime.router.policy
        escalate_to = getattr(policy.tiers, policy.guardrail.escalate_to).model
        log.info("canary answer failed the guardrail; escalating", request_id=record.request_id,
                 reason=reason, cheap_model=record.model_used, escalated_to=escalate_to)
        record.escalated = True
        record.extra["guardrail"] = reason
        record.model_used = escalate_to
        record.first_chunk_ms = None
        escalated_body = body if escalate_to == record.requested_model else with_model(body, flow.payload, escalate_to)
        return await self._forward(flow, escalated_body, router_headers(record))

    async def _canary_stream_checked(self, flow: Flow, body: bytes, new_body: bytes, hide_usage: bool) -> web.StreamResponse:
        """Hold back the first tokens of a cheap stream, check them, then release the stream or escalate."""
        record = flow.record
        guardrail = flow.runtime.router.policy.guardrail
        dispatched = await self._open(flow, new_body)
        record.upstream_ms = (time.perf_counter() - record.started) * 1000
        if dispatched.response is None:
            return await self._respond(flow, dispatched, router_headers(record))
        resp, client = dispatched.response, dispatched.client
        observer = self.sidecar.observer(record, flow.payload, hide_usage)
        observer.keep_text = True  # the check reads the first tokens' text
        tap = observer.tap(resp)
        if tap is None:
            try:
                return await respond(flow.request, resp, client, record, router_headers(record), None, observer.on_body)
            finally:
                observer.finish()
        held: list[bytes] = []
        ended, broken, tool_calls = False, False, False
        want_chars = guardrail.stream_buffer_tokens * 4  # about four characters per token
        try:
            while len(observer.text_so_far()) < want_chars:
                async with asyncio.timeout(client.timeouts.stream_idle_s):
                    chunk = await resp.content.readany()
                if not chunk:
                    ended = True
                    break
                tool_calls = tool_calls or b'"tool_calls"' in chunk
                out = tap.feed(chunk)
                if out:
                    held.append(out)
        except (TimeoutError, ClientError):
            broken = True
        reason = "stream_broken" if broken else check_text(
            flow.payload, observer.text_so_far(), observer.finish_reason_so_far() if ended else None, tool_calls, guardrail)
        if reason is not None:
            resp.close()
            return await self._escalate(flow, body, reason)
        record.bytes_out = sum(len(c) for c in held)
        try:
            return await respond_held(flow.request, resp, client, record, held, router_headers(record), tap)
        finally:
            observer.finish()

    async def _with_shadow(self, flow: Flow, body: bytes | None, decision: Decision) -> web.StreamResponse:
        sidecar = self.sidecar
        record = flow.record
        primary: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        outcome = sidecar.shadow.submit(
            record=record, payload=flow.payload, model=decision.router_model,
            upstream=sidecar.shadow_client(flow, decision.router_model),
            raw_path=flow.path, headers=CIMultiDict(flow.headers), primary=primary, primary_span=flow.span,
        )
        record.extra["shadow"] = outcome
        if outcome == "dropped":
            sidecar.telemetry.shadow_dropped()
        elif outcome == "budget":
            sidecar.telemetry.shadow_budget_paused()
        try:
            return await self._forward(flow, body, router_headers(record))
        finally:
            prices = flow.runtime.loaded.prices
            primary.set_result(Outcome(
                model=record.model_used, status=record.status, latency_ms=(time.perf_counter() - record.started) * 1000,
                usage=record.usage,
                cost_usd=prices.cost(record.model_used, record.usage) if record.usage is not None and record.model_used else None,
                finish_reason=record.finish_reason, text=record.completion_text or "",
            ))


def _merge(headers: CIMultiDict[str], extra: dict[str, str] | None) -> CIMultiDict[str]:
    if extra:
        headers.update(extra)
    return headers


async def _read_body(request: web.Request, limit: int) -> bytes | None:
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

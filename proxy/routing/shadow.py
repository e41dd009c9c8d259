"""Shadow calls: ask the router's choice the same question in the background
and record how its answer differs from the one the app received.

Everything here runs through one `Spawner` (bounded concurrency, a deadline,
overflow dropped and counted) and after the app's response is under way: a
shadow call never delays, alters or fails the app's answer. A daily USD
budget pauses shadowing when reached.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import structlog
from multidict import CIMultiDict

from proxy.config.schema import Shadow as ShadowSettings
from proxy.http.relay import read_body, send
from proxy.http.upstream import UpstreamClient
from proxy.record import RequestRecord, Usage
from proxy.routing.rewrite import for_shadow
from proxy.routing.similarity import length_ratio, similarity
from proxy.spawn import Spawner

log = structlog.get_logger("llm_router.shadow")


@dataclass(slots=True)
class Outcome:
    """One side of a shadow comparison."""

    model: str | None
    status: int
    latency_ms: float
    usage: Usage | None
    cost_usd: float | None
    finish_reason: str | None
    text: str


class ShadowLog:
    """Appends one JSON line per shadowed request."""

    def __init__(self, path: Path | None):
        self.path = path
        self._file: IO[bytes] | None = None

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open for the process lifetime
        self._file.write(orjson.dumps(record) + b"\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class ShadowRunner:
    def __init__(self, settings: ShadowSettings, prices: Any, *, capture_content: bool = False, telemetry: Any = None):
        self.settings = settings
        self.prices = prices
        self.capture_content = capture_content
        self.telemetry = telemetry
        self.spawner = Spawner("shadow", limit=settings.max_concurrency, timeout_s=settings.timeout_s)
        self.log = ShadowLog(Path(settings.log) if settings.log else None)
        self.budget_paused = 0
        self.written = 0
        self._day = dt.datetime.now(dt.UTC).date()
        self.spent_today_usd = 0.0
        self._paused_logged_for: dt.date | None = None

    @property
    def dropped(self) -> int:
        return self.spawner.dropped

    def reconfigure(self, settings: ShadowSettings) -> None:
        """Apply a reloaded `shadow:` section; running calls finish under the old limits."""
        if settings == self.settings:
            return
        old = self.spawner
        self.settings = settings
        self.spawner = Spawner("shadow", limit=settings.max_concurrency, timeout_s=settings.timeout_s)
        self.spawner.dropped = old.dropped
        if self.log.path != (Path(settings.log) if settings.log else None):
            self.log.close()
            self.log = ShadowLog(Path(settings.log) if settings.log else None)

    def _within_budget(self) -> bool:
        today = dt.datetime.now(dt.UTC).date()
        if today != self._day:
            self._day, self.spent_today_usd = today, 0.0
        if self.spent_today_usd < self.settings.daily_budget_usd:
            return True
        self.budget_paused += 1
        if self._paused_logged_for != today:
            self._paused_logged_for = today
            log.warning("shadow budget reached; shadowing paused until the next UTC day",
                        daily_budget_usd=self.settings.daily_budget_usd, spent_usd=round(self.spent_today_usd, 6))
        return False

    def submit(
        self,
        *,
        record: RequestRecord,
        payload: dict[str, Any],
        model: str,
        upstream: Any,
        raw_path: str,
        headers: CIMultiDict[str],
        primary: asyncio.Future[Outcome],
        primary_span: Any = None,
    ) -> str:
        """Start a shadow call; returns `started`, `dropped` (at the concurrency limit) or `budget`."""
        if not self._within_budget():
            return "budget"

        async def work() -> None:
            await self._run(record, payload, model, upstream, raw_path, headers, primary, primary_span)

        return "started" if self.spawner.spawn(work) else "dropped"

    async def _run(self, record: RequestRecord, payload: dict[str, Any], model: str, upstream: Any,
                   raw_path: str, headers: CIMultiDict[str], primary: asyncio.Future[Outcome], primary_span: Any) -> None:
        from proxy.telemetry.usage import usage_from_body

        started = time.perf_counter()
        status, data = 0, b""
        try:
            if isinstance(upstream, UpstreamClient):
                resp = await send(upstream, "POST", raw_path, headers, for_shadow(payload, model))
                try:
                    status = resp.status
                    data = await read_body(resp, upstream)
                finally:
                    resp.release()
            else:  # a provider reached through LiteLLM (its settings were passed)
                from proxy.dispatch.litellm_bridge import complete

                translated = await complete(upstream, model, payload, stream=False)
                status, data = translated.status, translated.body or b""
        except Exception as exc:  # a failed shadow call is recorded, never raised into the app's path
            log.info("shadow call failed", request_id=record.request_id, model=model, error=str(exc)[:200])
        latency_ms = (time.perf_counter() - started) * 1000
        parsed = usage_from_body("chat", data) if status == 200 else None
        usage = parsed.usage if parsed else None
        cost = self.prices.cost(model, usage) if usage is not None else None
        if cost:
            self.spent_today_usd += cost
        shadow = Outcome(model=model, status=status, latency_ms=latency_ms, usage=usage, cost_usd=cost,
                         finish_reason=parsed.finish_reason if parsed else None, text=(parsed.text or "") if parsed else "")
        primary_outcome = await primary
        self._write(record, primary_outcome, shadow, primary_span)

    def _write(self, record: RequestRecord, primary: Outcome, shadow: Outcome, primary_span: Any) -> None:
        both_ok = primary.status == 200 and shadow.status == 200
        sim = similarity(primary.text, shadow.text) if both_ok else 0.0
        ratio = length_ratio(primary.text, shadow.text) if both_ok else 0.0
        entry: dict[str, Any] = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "request_id": record.request_id,
            "route": record.route,
            "tier": record.tier,
            "score": record.score,
            "stage": record.stage,
            "intent": record.intent,
            "stream": record.stream,
            "similarity": sim,
            "length_ratio": ratio,
        }
        for side, outcome in (("primary", primary), ("shadow", shadow)):
            entry[f"{side}_model"] = outcome.model
            entry[f"{side}_status"] = outcome.status
            entry[f"{side}_cost_usd"] = outcome.cost_usd
            entry[f"{side}_latency_ms"] = round(outcome.latency_ms, 3)
            entry[f"{side}_input_tokens"] = outcome.usage.input_tokens if outcome.usage else None
            entry[f"{side}_output_tokens"] = outcome.usage.output_tokens if outcome.usage else None
            entry[f"{side}_finish_reason"] = outcome.finish_reason
            if self.capture_content:
                entry[f"{side}_text"] = outcome.text
        self.log.write(entry)
        self.written += 1
        if self.telemetry is not None and primary_span is not None:
            self.telemetry.shadow(primary_span, _shadow_record(record, shadow), {
                "similarity": sim, "length_ratio": ratio,
                "primary_cost_usd": primary.cost_usd or 0.0, "shadow_cost_usd": shadow.cost_usd or 0.0,
                "primary_latency_ms": round(primary.latency_ms, 3), "shadow_latency_ms": round(shadow.latency_ms, 3),
            })

    async def close(self, wait_s: float = 0.0) -> None:
        await self.spawner.close(wait_s)
        self.log.close()


def _shadow_record(primary: RequestRecord, shadow: Outcome) -> RequestRecord:
    rec = RequestRecord(request_id=primary.request_id, method="POST", path=primary.path, started=primary.started,
                        start_time_ns=primary.start_time_ns)
    rec.route, rec.mode, rec.arm, rec.operation = primary.route, primary.mode, primary.arm, primary.operation
    rec.requested_model, rec.model_used, rec.router_model = primary.requested_model, shadow.model, shadow.model
    rec.tier, rec.score, rec.stage, rec.intent = primary.tier, primary.score, primary.stage, primary.intent
    rec.status, rec.usage, rec.finish_reason = shadow.status, shadow.usage, shadow.finish_reason
    rec.duration_ms = shadow.latency_ms
    return rec

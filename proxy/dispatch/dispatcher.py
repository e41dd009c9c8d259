"""Walk a request's model chain until one model starts an answer.

Per model: breaker check, rate-limit check, then up to `retries + 1`
attempts with full-jitter backoff (or the upstream's `retry-after`), all
inside the request's deadline. Client errors (4xx other than 408/429) are
the app's to see and stop the walk: a fallback would only repeat them.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

import orjson
import structlog
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.config.schema import ProxyConfig, Upstream
from proxy.dispatch.backoff import full_jitter, retry_after_s
from proxy.dispatch.breaker import Breaker
from proxy.dispatch.ratelimit import RateLimit, estimate_tokens
from proxy.http.errors import ProxyError
from proxy.http.outbound import ClientError, Response
from proxy.http.relay import read_body, send
from proxy.http.upstream import UpstreamClient

log = structlog.get_logger("llm_router.dispatch")

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


class ChainExhausted(ProxyError):
    status = 503
    type = "upstream_unavailable"
    code = "all_models_failed"

    def __init__(self, message: str, *, status: int = 503, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        if status == 429:
            self.type, self.code = "rate_limit_error", "rate_limited"

    def response(self):  # type: ignore[no-untyped-def]
        resp = super().response()
        if self.retry_after is not None:
            resp.headers["retry-after"] = str(max(1, round(self.retry_after)))
        return resp


@dataclass(slots=True)
class UpstreamError:
    """A retryable error answer, kept to hand back unchanged if no other model answers."""

    status: int
    reason: str | None
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass(slots=True)
class Dispatched:
    model: str
    upstream: str
    provider: str
    response: Response | None = None
    client: UpstreamClient | None = None
    translated: Any = None
    body: bytes | None = None
    """A non-streamed answer already read (and checked to be JSON) by the dispatcher."""
    parsed: Any = None
    """`body` decoded, so the guardrail and the usage accounting do not parse it again."""
    error: UpstreamError | None = None
    tried: list[tuple[str, str]] = field(default_factory=list)


_NOT_JSON = object()


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def serves(upstream: Upstream, model: str) -> bool:
    patterns = upstream.models or (["claude-*"] if upstream.provider == "anthropic" else [])
    return any(fnmatch.fnmatchcase(model, p) for p in patterns)


class Dispatcher:
    def __init__(self, on_breaker_change: Callable[[str, str, str], None] | None = None):
        self._breakers: dict[tuple[str, str], Breaker] = {}
        self._limits: dict[tuple[str, str], RateLimit] = {}
        self._limit_settings: dict[tuple[str, str], tuple[float | None, float | None]] = {}
        self._rnd = random.Random(os.urandom(8))
        self.on_breaker_change = on_breaker_change
        self.config: ProxyConfig | None = None
        self._targets: dict[tuple[str, str], str] = {}

    def configure(self, config: ProxyConfig) -> None:
        """Apply a (re)loaded config; breaker and bucket state survives for unchanged settings."""
        self.config = config
        self._targets = {}
        b = config.resilience.breaker
        for breaker in self._breakers.values():
            breaker.failures, breaker.window_s, breaker.cooldown_s = b.failures, b.window_s, b.cooldown_s
        wanted = {
            (name, model): (limit.rpm, limit.tpm)
            for name, up in config.upstreams.items() for model, limit in up.rate_limits.items()
        }
        for key in list(self._limits):
            if wanted.get(key) != self._limit_settings.get(key):
                del self._limits[key]
        for key, (rpm, tpm) in wanted.items():
            if key not in self._limits:
                self._limits[key] = RateLimit(rpm, tpm)
        self._limit_settings = wanted

    def breaker(self, upstream: str, model: str) -> Breaker:
        key = (upstream, model)
        breaker = self._breakers.get(key)
        if breaker is None:
            b = self.config.resilience.breaker if self.config else None
            notify = self.on_breaker_change
            breaker = self._breakers[key] = Breaker(
                b.failures if b else 5, b.window_s if b else 30.0, b.cooldown_s if b else 30.0,
                on_change=(lambda state: notify(upstream, model, state)) if notify else None,
            )
        return breaker

    def breaker_states(self) -> dict[str, str]:
        return {f"{u}/{m}": b.state for (u, m), b in sorted(self._breakers.items())}

    def target(self, model: str, default: str) -> str:
        """The upstream that serves `model`: one that lists it, else the route's own upstream."""
        key = (model, default)
        found = self._targets.get(key)
        if found is not None:
            return found
        assert self.config is not None
        found = next((name for name, upstream in self.config.upstreams.items() if serves(upstream, model)), default)
        if len(self._targets) < 4096:  # apps use a handful of models; a flood of made-up names is not cached
            self._targets[key] = found
        return found

    async def dispatch(
        self,
        *,
        chain: list[str],
        default_upstream: str,
        clients: Mapping[str, UpstreamClient],
        method: str,
        raw_path: str,
        headers: CIMultiDict[str],
        body_for: Callable[[str], bytes],
        payload: dict[str, Any],
        stream: bool,
    ) -> Dispatched:
        assert self.config is not None
        res = self.config.resilience
        # time.monotonic() rather than the loop's clock: same meaning, and no getpid() call on 3.11.
        deadline = monotonic() + res.deadline_s
        tried: list[tuple[str, str]] = []
        last_error: UpstreamError | None = None
        rate_wait: float | None = None
        tokens = estimate_tokens(payload) if self._limits else 0
        for model in chain:
            name = self.target(model, default_upstream)
            upstream = self.config.upstreams[name]
            breaker = self.breaker(name, model)
            if not breaker.allow():
                tried.append((model, "breaker open"))
                continue
            limit = self._limits.get((name, model))
            if limit is not None:
                wait = limit.try_acquire(tokens)
                if wait > 0:
                    breaker.release()
                    rate_wait = wait if rate_wait is None else min(rate_wait, wait)
                    tried.append((model, "rate limited"))
                    continue
            outcome = ""
            for attempt in range(res.retries + 1):
                remaining = deadline - monotonic()
                if remaining <= 0:
                    outcome = outcome or "deadline"
                    break
                retry_after = None
                try:
                    if upstream.provider == "openai":
                        client = clients[name]
                        resp = await send(client, method, raw_path, headers, body_for(model),
                                          first_byte_s=min(client.timeouts.first_byte_s, remaining))
                        if resp.status not in RETRYABLE:
                            if resp.status >= 400:
                                breaker.release()
                                return Dispatched(model, name, "openai", response=resp, client=client, tried=tried)
                            if stream:
                                breaker.success()
                                return Dispatched(model, name, "openai", response=resp, client=client, tried=tried)
                            body = await read_body(resp, client)
                            resp.release()
                            parsed = _parse_json(body)
                            if parsed is not _NOT_JSON:
                                breaker.success()
                                return Dispatched(model, name, "openai", response=resp, client=client, body=body,
                                                  parsed=parsed, tried=tried)
                            # A 200 whose body is not JSON is a broken answer, not one to hand the app.
                            breaker.failure()
                            outcome = "malformed answer"
                            last_error = None
                            if attempt == res.retries or not breaker.allow():
                                break
                            breaker.release()
                            continue
                        retry_after = retry_after_s(resp.headers.get("retry-after"))
                        try:
                            body = await resp.read()
                        except (ClientError, TimeoutError):
                            body = b""
                        finally:
                            resp.release()
                        last_error = UpstreamError(resp.status, resp.reason, resp.headers, body)
                        outcome = f"HTTP {resp.status}"
                        if resp.status != 429:  # a rate-limited provider is healthy; do not trip its breaker
                            breaker.failure()
                        else:
                            breaker.release()
                    else:
                        from proxy.dispatch.litellm_bridge import ProviderError, complete

                        try:
                            translated = await asyncio.wait_for(complete(upstream, model, payload, stream), remaining)
                        except ProviderError as exc:
                            if exc.status not in RETRYABLE:
                                breaker.release()
                                raise ChainExhausted(exc.message, status=exc.status) from None
                            retry_after = exc.retry_after
                            outcome = f"HTTP {exc.status}"
                            breaker.failure() if exc.status != 429 else breaker.release()
                        else:
                            breaker.success()
                            return Dispatched(model, name, upstream.provider, translated=translated, tried=tried)
                except (ProxyError, TimeoutError) as exc:
                    if isinstance(exc, ChainExhausted):
                        raise
                    breaker.failure()
                    outcome = getattr(exc, "code", "timeout")
                if attempt == res.retries or not breaker.allow():
                    break
                breaker.release()
                delay = retry_after if retry_after is not None else full_jitter(attempt, res.backoff_base_s, res.backoff_max_s, self._rnd)
                if delay > res.retry_after_max_s or monotonic() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
            tried.append((model, outcome or "failed"))
            log.info("model failed; trying the next in the chain", model=model, upstream=name, outcome=outcome)
        if last_error is not None and len(chain) == 1:
            # Nothing else to try: the app sees the upstream's own error, as without the router.
            return Dispatched(chain[0], self.target(chain[0], default_upstream), "openai", error=last_error, tried=tried)
        summary = ", ".join(f"{m} ({why})" for m, why in tried)
        if tried and all(why == "rate limited" for _, why in tried):
            raise ChainExhausted(f"every model for this request is over its rate limit: {summary}", status=429,
                                 retry_after=rate_wait)
        raise ChainExhausted(f"no model could answer; tried {summary}")

"""The typed schema of `proxy.yaml`.

Field docstrings are the config reference: they end up in the generated JSON
Schema and in `llm-router schema`. Every model rejects unknown keys, and
values are checked strictly (a quoted "8080" is not a port).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from proxy.config.address import parse_hostport
from proxy.interception.settings import InterceptionSettings
from proxy.telemetry.settings import TelemetrySettings

Mode = Literal["passthrough", "shadow", "canary"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)


class Timeouts(Strict):
    connect_s: Annotated[float, Field(gt=0)] = 10.0
    """Seconds to open a TCP (and TLS) connection to the upstream."""
    first_byte_s: Annotated[float, Field(gt=0)] = 600.0
    """Seconds to wait for the upstream's response headers. Non-streaming completions send nothing until the whole answer is generated, so keep this generous."""
    total_s: Annotated[float, Field(gt=0)] = 900.0
    """Seconds for the whole upstream exchange, body included (streams too)."""
    stream_idle_s: Annotated[float, Field(gt=0)] = 120.0
    """Seconds a streaming response may stay silent between two chunks before the stream is ended."""

    @model_validator(mode="after")
    def _ordered(self) -> Timeouts:
        if self.first_byte_s > self.total_s:
            raise ValueError(
                f"first_byte_s ({self.first_byte_s}) is larger than total_s ({self.total_s}); "
                "raise total_s or lower first_byte_s"
            )
        return self


class RateLimit(Strict):
    rpm: Annotated[float, Field(gt=0)] | None = None
    """Requests per minute allowed to this model through this upstream."""
    tpm: Annotated[float, Field(gt=0)] | None = None
    """Tokens per minute (prompt estimate plus max tokens before the call, corrected from usage after)."""


_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


class Upstream(Strict):
    base_url: str | None = None
    """Where requests are sent: scheme, host, optional port and path prefix; the request path (`/v1/...`) is appended. Default for `provider: openai`: https://api.openai.com; for other providers: the provider's own endpoint."""
    provider: str = "openai"
    """API the upstream speaks. `openai`: any OpenAI-compatible server (OpenAI, Azure OpenAI, vLLM, Ollama), forwarded as raw HTTP with the app's own credentials. Any other LiteLLM provider name (`anthropic`, `gemini`, `bedrock`, ...): called through LiteLLM and translated back to OpenAI's format; used only as a fallback or tier model, never for the app's own passthrough traffic."""
    api_key_env: str | None = None
    """Name of an environment variable holding the API key for this upstream. OpenAI-compatible: replaces the app's `Authorization` header (for example a local model server with its own key); unset, the app's own header is forwarded. Other providers: required, the app's key is never sent to them."""
    models: list[str] = []
    """Models this upstream serves (`*` wildcards allowed), used to find where a tier or fallback model is sent. Empty: `claude-*` for anthropic, every model for the `openai` upstream."""
    hosts: list[str] = []
    """Hosts (`*` wildcards allowed) whose intercepted HTTPS_PROXY traffic goes to this upstream, besides the host of base_url. Intercepted hosts no upstream names go to that host itself over real TLS (api.openai.com: to the route's upstream)."""
    rate_limits: dict[str, RateLimit] = {}
    """Optional per-model limits; over a limit the next fallback is tried, or the app gets a 429 with `retry-after`."""
    headers: dict[str, str] = {}
    """Extra headers set on every request to this upstream (for example `api-key` for Azure). Values are treated as secrets and redacted in `/config`."""
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 512
    """Upper bound on pooled connections to this upstream; requests beyond it wait for a free connection."""
    keepalive_s: Annotated[float, Field(gt=0)] = 30.0
    """Seconds an idle pooled connection is kept open."""
    tls_verify: bool = True
    """Verify the upstream's TLS certificate. Only turn off for a trusted test server."""
    ca_file: str | None = None
    """PEM bundle used to verify the upstream instead of the system trust store."""
    timeouts: Timeouts = Timeouts()
    """Timeouts for calls to this upstream."""

    @model_validator(mode="before")
    @classmethod
    def _default_base_url(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("base_url") is None and data.get("provider", "openai") == "openai":
            return {**data, "base_url": "https://api.openai.com"}
        return data

    @field_validator("provider")
    @classmethod
    def _provider(cls, v: str) -> str:
        if not _PROVIDER.match(v):
            raise ValueError(f"provider '{v}' is not a provider name; use openai, or a LiteLLM provider such as anthropic")
        return v

    @model_validator(mode="after")
    def _translated_needs_key(self) -> Upstream:
        if self.provider != "openai" and self.api_key_env is None:
            raise ValueError(
                f"provider {self.provider} needs api_key_env (the environment variable with its API key); "
                "the app's own key is never sent to another provider"
            )
        return self

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", v):
            raise ValueError(
                f"'{v}' is not an http(s) base URL; write it like https://api.openai.com or http://127.0.0.1:8000/prefix"
            )
        return v.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
            raise ValueError(f"'{v}' is not an environment variable name; use letters, digits and _")
        return v


class Match(Strict):
    path: str | None = None
    """Request path to match: exact (`/v1/chat/completions`) or a prefix ending in `*` (`/v1/*`). Unset: any path."""
    headers: dict[str, str] = {}
    """Request headers that must all be present with these values (header names are case-insensitive; the value `*` means present with any value)."""
    model: str | list[str] | None = None
    """Requested model (the `model` field of the JSON body), or a list of them; `*` wildcards allowed (`gpt-4o*`). Unset: any model."""

    @field_validator("path")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("/"):
            raise ValueError(f"path '{v}' must start with '/', for example /v1/chat/completions")
        if v is not None and "*" in v[:-1]:
            raise ValueError(f"path '{v}' may only have '*' at the end, as a prefix match like /v1/*")
        return v


class Route(Strict):
    name: str
    """Route name, used in logs, metrics, span names and the `x-llm-router-route` header."""
    match: Match = Match()
    """Which requests the route takes; the first route that matches wins. Empty: every request."""
    mode: Mode = "passthrough"
    """`passthrough` forwards untouched and only records what the router would do; `shadow` also calls the router's choice in the background and logs the difference; `canary` answers `percent`% of the traffic with the router's choice."""
    percent: Annotated[float, Field(ge=0, le=100)] = 0.0
    """Share of the route's traffic (0 to 100, decimals allowed) that takes the router arm in shadow and canary modes."""
    sticky: str | None = None
    """What keeps a user in one arm across requests: `header:NAME` (a request header) or `user` (the OpenAI `user` field). Unset: each request is assigned on its own."""
    upstream: str = "openai"
    """Name of the entry in `upstreams` that this route's requests go to."""
    salt: str | None = None
    """Salt of the rollout hash. Unset: the route name. Change it to reshuffle which users are in the router arm."""
    fallback: bool = True
    """When the model serving a classified chat request fails (connection error, timeout, 5xx, 429 after retries), try the tier's fallbacks and the last resort. false: upstream errors reach the app as they are."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"route name '{v}' must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return v

    @field_validator("sticky")
    @classmethod
    def _sticky(cls, v: str | None) -> str | None:
        if v is None or v == "user" or (v.startswith("header:") and len(v) > len("header:")):
            return v
        raise ValueError(f"sticky '{v}' must be 'user' or 'header:NAME' (for example header:x-user-id)")



class Shadow(Strict):
    max_concurrency: Annotated[int, Field(ge=1, le=10_000)] = 8
    """Shadow calls running at once; shadow work beyond it is dropped and counted, never queued."""
    timeout_s: Annotated[float, Field(gt=0)] = 60.0
    """Deadline for one shadow call, including waiting for the primary answer to compare."""
    daily_budget_usd: Annotated[float, Field(ge=0)] = 20.0
    """Most USD spent on shadow calls per UTC day; past it, shadowing pauses until the next day (logged and counted)."""
    log: str | None = "shadow.jsonl"
    """JSONL file that gets one diff record per shadowed request, relative to the working directory. null: no file (spans only)."""


class BreakerSettings(Strict):
    failures: Annotated[int, Field(ge=1)] = 5
    """Failures within `window_s` that open the breaker of an upstream model."""
    window_s: Annotated[float, Field(gt=0)] = 30.0
    """Window over which failures are counted."""
    cooldown_s: Annotated[float, Field(gt=0)] = 30.0
    """How long an open breaker skips its model before one probe call is let through."""


class Resilience(Strict):
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    """Retries per model after the first attempt, on connection errors, timeouts, 5xx and 429. Keep it low: the app's SDK retries too."""
    backoff_base_s: Annotated[float, Field(ge=0)] = 0.2
    """First backoff ceiling; it doubles per retry, and the actual wait is uniformly random below it (full jitter)."""
    backoff_max_s: Annotated[float, Field(ge=0)] = 5.0
    """Largest backoff ceiling."""
    retry_after_max_s: Annotated[float, Field(ge=0)] = 10.0
    """A `retry-after` longer than this skips to the next model instead of waiting."""
    deadline_s: Annotated[float, Field(gt=0)] = 120.0
    """Time budget for getting an answer started across all retries and fallbacks of one request."""
    breaker: BreakerSettings = BreakerSettings()
    """Circuit breaker per upstream model."""
    last_resort: str | None = None
    """Model tried after every fallback failed (for example a local OpenAI-compatible server's model). Unset: the app gets a 503 naming the models tried."""


class Limits(Strict):
    max_body_mb: Annotated[float, Field(gt=0)] = 64.0
    """Largest request body accepted, in MiB. Larger requests get a 413 with an OpenAI-shaped error."""


class Logging(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level written."""
    access_log: bool = True
    """Write one JSON line per proxied request (route, status, latencies, bytes, request id)."""


class Shutdown(Strict):
    drain_s: Annotated[float, Field(ge=0)] = 20.0
    """On SIGTERM, stop accepting and wait up to this many seconds for in-flight requests before exiting."""


class ProxyConfig(Strict):
    listen: str = "127.0.0.1:8080"
    """Address the proxy listens on, as host:port. Keep it on loopback in a sidecar."""
    admin: str = "127.0.0.1:8081"
    """Address of the admin listener (/healthz, /readyz, /metrics, /config), as host:port."""
    policy: str | None = None
    """Routing policy file (tiers, models, classifier), relative to this file. Unset: no policy, every route must be passthrough."""
    upstreams: dict[str, Upstream] = {"openai": Upstream()}
    """Named upstreams. `openai` is used by routes that name none."""
    routes: list[Route] = []
    """Routes, first match wins. A request that matches none is passed through to the `openai` upstream."""
    default_route: str | None = None
    """Route taken by requests that do not name one with `x-llm-router-route`, before matching. Unset: match by `routes`."""
    telemetry: TelemetrySettings = TelemetrySettings()
    """OpenTelemetry export (traces and metrics over OTLP) and content capture."""
    interception: InterceptionSettings | None = None
    """HTTPS_PROXY interception: CONNECT to these hosts is answered with a certificate minted by the sidecar's CA, and the requests inside go through the router. Unset: CONNECT to api.openai.com is refused until a CA is configured; other hosts are tunnelled blind."""
    shadow: Shadow = Shadow()
    """Background calls to the router's choice in shadow mode."""
    resilience: Resilience = Resilience()
    """Retries, fallbacks, circuit breakers and the last resort for classified chat requests."""
    limits: Limits = Limits()
    """Request size limits."""
    logging: Logging = Logging()
    """Log settings. Logs are JSON lines on standard output."""
    shutdown: Shutdown = Shutdown()
    """Graceful shutdown."""
    reload_interval_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    """How often the config and policy files are checked for changes (ConfigMap updates included)."""

    @field_validator("listen", "admin")
    @classmethod
    def _address(cls, v: str) -> str:
        parse_hostport(v)
        return v

    @model_validator(mode="after")
    def _references(self) -> ProxyConfig:
        if self.policy is None:
            for i, route in enumerate(self.routes):
                if route.mode != "passthrough":
                    raise ValueError(
                        f"routes[{i}] ('{route.name}') has mode {route.mode}, which needs a routing policy; "
                        "set `policy:` (for example policies/default.yaml) or use mode: passthrough"
                    )
        catch_all = any(r.match == Match() for r in self.routes)
        for name, upstream in self.upstreams.items():
            if upstream.provider != "openai" and any(r.upstream == name for r in self.routes):
                raise ValueError(
                    f"upstream '{name}' (provider {upstream.provider}) cannot take a route's traffic: the app speaks "
                    "OpenAI's API to it; name it in the policy as a tier or fallback model instead"
                )
        if "openai" not in self.upstreams and not catch_all:
            raise ValueError(
                "upstreams has no 'openai' entry, which requests matching no route use; "
                "add one, or end routes with a route whose match is empty"
            )
        names: set[str] = set()
        for i, route in enumerate(self.routes):
            if route.name in names:
                raise ValueError(f"routes[{i}]: route name '{route.name}' is used twice; names must be unique")
            names.add(route.name)
            if route.upstream not in self.upstreams:
                raise ValueError(
                    f"routes[{i}] ('{route.name}'): upstream '{route.upstream}' is not defined; "
                    f"define it under upstreams or use one of: {', '.join(sorted(self.upstreams))}"
                )
        if self.default_route is not None and self.default_route not in names:
            raise ValueError(
                f"default_route '{self.default_route}' is not a route name; use one of: {', '.join(sorted(names)) or '(no routes)'}"
            )
        if parse_hostport(self.listen) == parse_hostport(self.admin) and parse_hostport(self.listen)[1] != 0:
            raise ValueError(f"listen and admin are both {self.listen}; give the admin listener its own port")
        return self

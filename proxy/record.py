"""What happened to one request: the record every stage fills in and
telemetry (span, metrics, access log) reads at the end.

A plain mutable dataclass, so stages stay decoupled: the router writes the
decision fields, the relay writes status, timing and usage, and telemetry
only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    estimated: bool = False
    """True when the upstream reported no usage and the tokens were counted locally."""


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    path: str
    started: float
    """time.perf_counter() when the request arrived."""
    start_time_ns: int
    """time.time_ns() when the request arrived (span start)."""

    route: str = "-"
    mode: str = "passthrough"
    arm: str | None = None
    """`control` or `router` for classified requests; None when not classified."""
    upstream: str = "-"
    operation: str | None = None
    """`chat`, `text_completion`, `embeddings`, `responses`, ... from the path; None for other endpoints."""
    provider: str = "openai"
    stream: bool = False

    requested_model: str | None = None
    model_used: str | None = None
    """The model that produced the answer the client received (as sent upstream)."""
    response_model: str | None = None
    """The `model` field of the upstream's answer."""
    router_model: str | None = None
    """The router's choice for this request, whether or not it was used."""

    tier: str | None = None
    score: float | None = None
    stage: str | None = None
    intent: str | None = None
    classify_ms: float | None = None

    status: int = 0
    error: str | None = None
    fallback: bool = False
    escalated: bool = False
    fail_open: bool = False
    bypass: bool = False

    usage: Usage | None = None
    finish_reason: str | None = None
    cost_usd: float | None = None
    counterfactual_cost_usd: float | None = None
    savings_usd: float | None = None

    upstream_ms: float = 0.0
    first_chunk_ms: float | None = None
    duration_ms: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    streamed: bool = False
    upstream_request_id: str | None = None

    prompt_text: str | None = None
    completion_text: str | None = None
    """Filled only with telemetry.capture_content: true."""
    extra: dict[str, object] = field(default_factory=dict)

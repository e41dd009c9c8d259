"""Request records shaped like the pipeline fills them, for each rollout mode."""

from __future__ import annotations

import time

from proxy.record import RequestRecord, Usage


def record(**fields: object) -> RequestRecord:
    base: dict[str, object] = {
        "request_id": "req-1", "method": "POST", "path": "/v1/chat/completions",
        "started": time.perf_counter(), "start_time_ns": time.time_ns(),
        "route": "default", "operation": "chat", "upstream": "openai", "status": 200, "duration_ms": 120.0,
    }  # fmt: skip
    base.update(fields)
    return RequestRecord(**base)  # type: ignore[arg-type]


def passthrough() -> RequestRecord:
    """Classified, control arm: the app's model answered; the router only noted its choice."""
    return record(
        mode="passthrough", arm="control", requested_model="gpt-4o", model_used="gpt-4o",
        response_model="gpt-4o-2024-08-06", router_model="gpt-4o-mini", tier="simple", score=0.21,
        stage="rules", classify_ms=0.05, usage=Usage(1200, 300, 200), finish_reason="stop",
    )  # fmt: skip


def canary() -> RequestRecord:
    """Router arm: gpt-4o asked for, gpt-4o-mini answered."""
    return record(
        route="support", mode="canary", arm="router", requested_model="gpt-4o", model_used="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18", router_model="gpt-4o-mini", tier="simple", score=0.12,
        stage="tfidf", classify_ms=0.4, usage=Usage(1000, 250, 0), finish_reason="stop", stream=True,
        first_chunk_ms=85.0,
    )  # fmt: skip


def shadow_primary() -> RequestRecord:
    return record(
        route="default", mode="shadow", arm="control", requested_model="gpt-4o", model_used="gpt-4o",
        response_model="gpt-4o-2024-08-06", router_model="gpt-4o-mini", tier="simple", score=0.3,
        stage="embedding", classify_ms=2.5, usage=Usage(800, 400, 0), finish_reason="stop",
    )  # fmt: skip


def shadow_call() -> RequestRecord:
    return record(
        request_id="req-1-shadow", route="default", mode="shadow", arm="router", requested_model="gpt-4o",
        model_used="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18", tier="simple", score=0.3,
        stage="embedding", usage=Usage(800, 380, 0), finish_reason="stop", duration_ms=95.0,
    )  # fmt: skip

"""The attributes of a request's span, from its record.

Split in two because of how they are encoded (`proxy.telemetry.spans`):
`labels` repeat from request to request (route, mode, models, flags,
status) and are encoded once per distinct set; `values` vary (costs, token
counts, ids) and are encoded every time.
"""

from __future__ import annotations

from proxy.record import RequestRecord
from proxy.telemetry import attributes as A


def label_key(r: RequestRecord, error_type: str | None) -> tuple:
    """Every field the `labels` of `span_attributes` are made of, ending with `error_type`.

    Records with equal keys have equal labels, so the encoded labels are
    cached under it (`Encoder.finished`); it also determines every metric
    series a request adds to (`Instruments.record`), so a finished request
    builds it once for both. Add a field here when `span_attributes` starts
    reading one for `labels`.
    """
    usage = r.usage
    return (
        r.model_used, r.response_model, r.requested_model, r.tier, r.operation, r.provider,
        usage is not None and usage.estimated, r.finish_reason, r.route, r.mode, r.arm, r.stage,
        r.fallback, r.escalated, r.router_model, r.fail_open, r.stream, r.upstream, r.method, r.path,
        r.status, error_type,
    )  # fmt: skip


def span_attributes(
    r: RequestRecord, error_type: str | None, capture_content: bool
) -> tuple[dict[str, object], dict[str, object]]:
    """(labels, values): labels repeat across requests and are encoded once per distinct set; values vary."""
    used = r.model_used or r.response_model or r.requested_model or "unknown"
    labels: dict[str, object] = {A.MODEL_USED: used, A.CLASSIFIED_INTENT: r.tier or "unknown"}
    values: dict[str, object] = {}
    if r.operation:
        labels[A.GEN_AI_OPERATION_NAME] = r.operation
    labels[A.GEN_AI_PROVIDER_NAME] = r.provider
    # gen_ai.request.model is what the router asked the provider for; what
    # the app asked for is llm_router.requested_model.
    labels[A.GEN_AI_REQUEST_MODEL] = used
    if r.response_model:
        labels[A.GEN_AI_RESPONSE_MODEL] = r.response_model
    usage = r.usage
    if usage is not None:
        values[A.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
        values[A.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
        if usage.cached_input_tokens:
            values[A.CACHED_INPUT_TOKENS] = usage.cached_input_tokens
        if usage.estimated:
            labels[A.USAGE_ESTIMATED] = True
    # The doubles next to each other: the encoder packs them in one go.
    if r.cost_usd is not None:
        values[A.ESTIMATED_COST] = r.cost_usd
    if r.finish_reason:
        labels[A.GEN_AI_RESPONSE_FINISH_REASONS] = (r.finish_reason,)
    labels[A.ROUTE] = r.route
    labels[A.MODE] = r.mode
    if r.arm is not None:
        labels[A.ARM] = r.arm
    if r.score is not None:
        values[A.SCORE] = float(r.score)
    if r.counterfactual_cost_usd is not None:
        values[A.COUNTERFACTUAL_COST] = r.counterfactual_cost_usd
    if r.savings_usd is not None:
        values[A.SAVINGS] = r.savings_usd
    if r.first_chunk_ms is not None:
        values[A.TIME_TO_FIRST_CHUNK_MS] = float(r.first_chunk_ms)
    if r.stage is not None:
        labels[A.STAGE] = r.stage
    if r.requested_model is not None:
        labels[A.REQUESTED_MODEL] = r.requested_model
    labels[A.FALLBACK] = r.fallback
    labels[A.ESCALATED] = r.escalated
    if r.router_model is not None:
        labels[A.ROUTER_MODEL] = r.router_model
    if r.fail_open:
        labels[A.FAIL_OPEN] = True
    labels[A.STREAMED] = r.stream
    labels[A.UPSTREAM] = r.upstream
    labels[A.HTTP_METHOD] = r.method
    labels[A.URL_PATH] = r.path
    if r.status:
        labels[A.HTTP_STATUS] = r.status
    if error_type:
        labels[A.ERROR_TYPE] = error_type
    values[A.REQUEST_ID] = r.request_id
    if r.upstream_request_id:
        values[A.UPSTREAM_REQUEST_ID] = r.upstream_request_id
    if capture_content:
        if r.prompt_text is not None:
            values[A.PROMPT_TEXT] = r.prompt_text
        if r.completion_text is not None:
            values[A.COMPLETION_TEXT] = r.completion_text
    return labels, values

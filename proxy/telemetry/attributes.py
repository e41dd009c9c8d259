"""Span attribute names: the binding telemetry contract, in one place.

The first three and the `llm_router.*` names are ours (ARCHITECTURE.md,
"Contract: telemetry"); the `gen_ai.*` names follow the OpenTelemetry GenAI
semantic conventions so GenAI-aware backends understand the spans as they are.
"""

MODEL_USED = "model_used"
ESTIMATED_COST = "estimated_cost"
CLASSIFIED_INTENT = "classified_intent"

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"

ROUTE = "llm_router.route"
MODE = "llm_router.mode"
ARM = "llm_router.arm"
SCORE = "llm_router.score"
STAGE = "llm_router.stage"
REQUESTED_MODEL = "llm_router.requested_model"
COUNTERFACTUAL_COST = "llm_router.counterfactual_cost"
SAVINGS = "llm_router.savings"
FALLBACK = "llm_router.fallback"
ESCALATED = "llm_router.escalated"

# Beyond the contract table: facts that explain a span when reading it.
ROUTER_MODEL = "llm_router.router_model"
USAGE_ESTIMATED = "llm_router.usage_estimated"
CACHED_INPUT_TOKENS = "llm_router.usage.cached_input_tokens"
FAIL_OPEN = "llm_router.fail_open"
STREAMED = "llm_router.stream"
TIME_TO_FIRST_CHUNK_MS = "llm_router.time_to_first_chunk_ms"
UPSTREAM = "llm_router.upstream"
REQUEST_ID = "llm_router.request_id"
UPSTREAM_REQUEST_ID = "llm_router.upstream_request_id"
PROMPT_TEXT = "llm_router.prompt_text"
COMPLETION_TEXT = "llm_router.completion_text"
"""Only with `capture_content: true`."""

HTTP_METHOD = "http.request.method"
HTTP_STATUS = "http.response.status_code"
URL_PATH = "url.path"
ERROR_TYPE = "error.type"

# The shadow span: `llm_router.shadow = true` plus the diff, one attribute per key.
SHADOW = "llm_router.shadow"
SHADOW_PREFIX = "llm_router.shadow."
SHADOW_SIMILARITY = "similarity"
SHADOW_LENGTH_RATIO = "length_ratio"
SHADOW_PRIMARY_COST = "primary_cost"
SHADOW_COST = "shadow_cost"
SHADOW_PRIMARY_LATENCY_MS = "primary_latency_ms"
SHADOW_LATENCY_MS = "shadow_latency_ms"

"""The post-generation check on a cheap model's answer.

A canary answer that is empty, cut off, a refusal, or not the JSON the app
asked for is not returned: the pipeline re-asks the escalation tier's model.
Pure functions of the request, the answer and the policy.
"""

from __future__ import annotations

from typing import Any

import orjson


def _wants_json(request: dict[str, Any]) -> bool:
    fmt = request.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


def check_text(request: dict[str, Any], text: str, finish_reason: str | None, has_tool_calls: bool, guardrail: Any) -> str | None:
    """Why the answer fails the guardrail, or None when it passes."""
    if finish_reason == "length":
        return "finish_reason_length"
    if has_tool_calls:
        return None
    stripped = text.strip()
    if len(stripped) < guardrail.min_chars:
        return "too_short"
    lowered = stripped.lower()
    for pattern in guardrail.refusal_patterns:
        if pattern.lower() in lowered:
            return "refusal"
    if _wants_json(request):
        try:
            orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return "invalid_json"
    return None


def check_completion(request: dict[str, Any], answer: bytes, guardrail: Any, parsed: Any = None) -> str | None:
    """Check a non-streamed chat completion body (`parsed`: the body already decoded, if at hand)."""
    try:
        if parsed is None:
            parsed = orjson.loads(answer)
        choice = parsed["choices"][0]
        message = choice.get("message") or {}
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        return "unparseable_answer"
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    return check_text(request, text, choice.get("finish_reason"), bool(message.get("tool_calls")), guardrail)

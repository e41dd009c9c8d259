"""The guardrail fails empty, cut-off, refusing and malformed-JSON answers."""

from __future__ import annotations

import orjson
import pytest

from proxy.config.policy import Guardrail
from proxy.routing.guardrail import check_completion

G = Guardrail(min_chars=2, refusal_patterns=["I don't know", "as an AI"])


def answer(content: str | None, finish: str = "stop", tool_calls: list | None = None) -> bytes:
    message = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return orjson.dumps({"choices": [{"index": 0, "message": message, "finish_reason": finish}]})


@pytest.mark.parametrize("body,request_,expected", [
    (answer("Paris is the capital."), {}, None),
    (answer(""), {}, "too_short"),
    (answer("Sorry, I don't know that."), {}, "refusal"),
    (answer("As an AI language model I cannot"), {}, "refusal"),
    (answer("partial answ", finish="length"), {}, "finish_reason_length"),
    (answer("not json"), {"response_format": {"type": "json_object"}}, "invalid_json"),
    (answer('{"ok": true}'), {"response_format": {"type": "json_object"}}, None),
    (answer(None, tool_calls=[{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]), {}, None),
    (b"<html>", {}, "unparseable_answer"),
])
def test_guardrail(body, request_, expected):
    assert check_completion(request_, body, G) == expected

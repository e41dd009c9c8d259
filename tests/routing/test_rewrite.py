"""Only the model changes in a rewritten body, byte for byte."""

from __future__ import annotations

import orjson

from proxy.routing.rewrite import for_shadow, with_model


def test_only_the_top_level_model_value_changes():
    body = b'{"messages":[{"role":"user","content":"say \\"model\\": \\"x\\""}],  "model" : "gpt-4o", "temperature":0.10}'
    out = with_model(body, orjson.loads(body), "gpt-4o-mini")
    assert out == body.replace(b'"gpt-4o"', b'"gpt-4o-mini"')


def test_nested_model_keys_are_left_alone():
    body = b'{"metadata":{"model":"keep-me"},"model":"gpt-4o","tools":[]}'
    out = with_model(body, orjson.loads(body), "gpt-4o-mini")
    assert out == b'{"metadata":{"model":"keep-me"},"model":"gpt-4o-mini","tools":[]}'


def test_model_far_into_a_large_body_falls_back_to_re_encoding():
    payload = {"messages": [{"role": "user", "content": "x" * 100_000}], "model": "gpt-4o"}
    body = orjson.dumps(payload)
    out = orjson.loads(with_model(body, payload, "gpt-4o-mini"))
    assert out == {**payload, "model": "gpt-4o-mini"}


def test_shadow_body_is_not_streamed():
    payload = {"model": "gpt-4o", "messages": [], "stream": True, "stream_options": {"include_usage": True}}
    assert orjson.loads(for_shadow(payload, "gpt-4o-mini")) == {"model": "gpt-4o-mini", "messages": []}

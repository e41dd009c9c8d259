"""Usage out of answers: JSON bodies, SSE streams split anywhere, the hidden usage chunk, estimates."""

from __future__ import annotations

import orjson
import pytest

from proxy.record import Usage
from proxy.telemetry.usage import SSETap, estimate_usage, request_stream_usage, usage_from_body


def sse(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def chunk(content: str | None = None, finish: str | None = None, usage: object = None, choices: bool = True) -> bytes:
    body: dict[str, object] = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
    }
    body["choices"] = (
        [{"index": 0, "delta": {"content": content} if content is not None else {}, "finish_reason": finish}]
        if choices
        else []
    )
    body["usage"] = usage
    return sse(body)


USAGE = {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23, "prompt_tokens_details": {"cached_tokens": 8}}
STREAM = (
    chunk("")
    + chunk("Hel")
    + chunk("lo!")
    + chunk(finish="stop")
    + chunk(usage=USAGE, choices=False)
    + b"data: [DONE]\n\n"
)
WITHOUT_USAGE_CHUNK = STREAM.replace(chunk(usage=USAGE, choices=False), b"")


def split_everywhere(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_tap_relays_unchanged_and_reads_usage(size: int) -> None:
    tap = SSETap()
    out = b"".join(tap.feed(c) for c in split_everywhere(STREAM, size)) + tap.close()
    assert out == STREAM
    assert tap.usage == Usage(20, 3, 8)
    assert (tap.text, tap.finish_reason, tap.model, tap.done) == ("Hello!", "stop", "gpt-4o-mini-2024-07-18", True)


@pytest.mark.parametrize("size", [1, 5, 13, 100, len(STREAM)])
def test_tap_hides_only_the_usage_chunk_byte_exactly(size: int) -> None:
    tap = SSETap(hide_usage_chunk=True)
    out = b"".join(tap.feed(c) for c in split_everywhere(STREAM, size)) + tap.close()
    assert out == WITHOUT_USAGE_CHUNK
    assert tap.usage == Usage(20, 3, 8) and tap.hidden == 1


def test_tap_keeps_a_usage_chunk_that_also_has_choices() -> None:
    data = chunk("hi", finish="stop", usage=USAGE) + b"data: [DONE]\n\n"
    tap = SSETap(hide_usage_chunk=True)
    assert tap.feed(data) + tap.close() == data
    assert tap.usage == Usage(20, 3, 8)


def test_tap_handles_crlf_separators_and_spaced_json() -> None:
    data = (
        b'data: {"model": "m", "choices": [{"delta": {"content": "a"}, "finish_reason": null}], "usage": null}\r\n\r\n'
    )
    data += b'data: {"model": "m", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}\r\n\r\ndata: [DONE]\r\n\r\n'
    tap = SSETap(hide_usage_chunk=True)
    out = b"".join(tap.feed(c) for c in split_everywhere(data, 3)) + tap.close()
    assert b'"choices": []' not in out and out.endswith(b"data: [DONE]\r\n\r\n")
    assert tap.usage == Usage(1, 1) and tap.text == "a"


def test_tap_caps_the_text_kept_but_counts_all() -> None:
    tap = SSETap(text_cap=4)
    tap.feed(chunk("abc") + chunk("defg"))
    assert tap.text == "abcd" and tap.text_chars == 7


def test_tap_on_a_stream_without_usage() -> None:
    tap = SSETap(hide_usage_chunk=True)
    out = tap.feed(WITHOUT_USAGE_CHUNK[:-3]) + tap.feed(WITHOUT_USAGE_CHUNK[-3:]) + tap.close()
    assert out == WITHOUT_USAGE_CHUNK and tap.usage is None and tap.text == "Hello!"


def test_tap_passes_an_unterminated_tail_on_close() -> None:
    tap = SSETap(hide_usage_chunk=True)
    assert tap.feed(b"data: [DONE]") == b""
    assert tap.close() == b"data: [DONE]"


def test_tap_reads_responses_api_events() -> None:
    data = (
        b"event: response.output_text.delta\n" + sse({"type": "response.output_text.delta", "delta": "Hi"})
        + b"event: response.completed\n"
        + sse({"type": "response.completed", "response": {"model": "gpt-4o", "status": "completed",
               "usage": {"input_tokens": 9, "output_tokens": 2, "input_tokens_details": {"cached_tokens": 4}}}})
    )  # fmt: skip
    tap = SSETap()
    assert tap.feed(data) == data
    assert (
        tap.usage == Usage(9, 2, 4) and tap.text == "Hi" and tap.model == "gpt-4o" and tap.finish_reason == "completed"
    )


def test_chat_body() -> None:
    body = orjson.dumps({
        "model": "gpt-4o-2024-08-06", "choices": [{"message": {"role": "assistant", "content": "Yes."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 0}},
    })  # fmt: skip
    answer = usage_from_body("chat", body)
    assert (answer.usage, answer.model, answer.finish_reason, answer.text) == (
        Usage(10, 2, 0),
        "gpt-4o-2024-08-06",
        "stop",
        "Yes.",
    )


def test_completions_responses_and_embeddings_bodies() -> None:
    legacy = usage_from_body("text_completion", orjson.dumps(
        {"model": "gpt-3.5-turbo-instruct", "choices": [{"text": "ok", "finish_reason": "length"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}))  # fmt: skip
    assert (legacy.usage, legacy.text, legacy.finish_reason) == (Usage(3, 1), "ok", "length")
    responses = usage_from_body("responses", orjson.dumps({
        "object": "response", "model": "gpt-4o", "status": "completed",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hello"}]}],
        "usage": {"input_tokens": 7, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 5}},
    }))  # fmt: skip
    assert (responses.usage, responses.text, responses.finish_reason) == (Usage(7, 1, 5), "Hello", "completed")
    vectors = [{"object": "embedding", "index": i, "embedding": [0.1] * 1536} for i in range(4)]
    embeddings = usage_from_body("embeddings", orjson.dumps(
        {"object": "list", "model": "text-embedding-3-small", "data": vectors, "usage": {"prompt_tokens": 8, "total_tokens": 8}}))  # fmt: skip
    assert (embeddings.usage, embeddings.model) == (Usage(8, 0), "text-embedding-3-small")


def test_bodies_that_say_nothing() -> None:
    assert usage_from_body("chat", b"not json").usage is None
    assert usage_from_body("chat", b'{"error": {"message": "bad"}}').usage is None
    assert usage_from_body("embeddings", b"[]").usage is None


def test_request_stream_usage() -> None:
    body = b'{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    changed = request_stream_usage(body)
    assert changed is not None
    assert orjson.loads(changed) == {**orjson.loads(body), "stream_options": {"include_usage": True}}
    assert changed.endswith(body[1:])  # the app's bytes are untouched, only a key is spliced in
    assert request_stream_usage(b'{"model":"gpt-4o","stream":false}') is None
    assert request_stream_usage(b'{"model":"gpt-4o"}') is None
    assert request_stream_usage(b'{"stream":true,"stream_options":{"include_usage":true}}') is None
    kept = request_stream_usage(b'{"stream":true,"stream_options":{"include_usage":false,"x":1}}')
    assert kept is not None and orjson.loads(kept)["stream_options"] == {"include_usage": True, "x": 1}


def test_estimate_uses_local_tiktoken() -> None:
    payload = {
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": "Hello world"},
            {"role": "user", "content": [{"type": "text", "text": "again"}]},
        ],
    }
    usage = estimate_usage(payload, "Hi there")
    assert usage.estimated
    # o200k_base: "Hello world" = 2 tokens, "again" = 1, "Hi there" = 2; plus 3 per message and 3 priming.
    assert (usage.input_tokens, usage.output_tokens) == (2 + 1 + 3 * 2 + 3, 2)
    prompt = estimate_usage({"model": "text-embedding-3-small", "input": ["Hello world"]}, "")
    assert prompt.input_tokens == 2 and prompt.output_tokens == 0

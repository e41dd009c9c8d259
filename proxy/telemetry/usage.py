"""Token usage, response model, finish reason and text out of OpenAI answers.

Pure functions of bytes, no I/O. `SSETap` sits on the hot path of every
streamed answer, so it looks for bytes (`"usage":{`, `"finish_reason":"`)
before it parses anything, and parses an event as JSON only when that event
carries something it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from proxy.record import Usage
from proxy.telemetry.tokens import estimate_usage

__all__ = ["Answer", "SSETap", "estimate_usage", "request_stream_usage", "usage_from_body", "usage_from_dict"]

TEXT_CAP = 64 * 1024
"""Characters of completion text kept (shadow diff, guardrail, token estimate); the rest is only counted."""


@dataclass(slots=True)
class Answer:
    usage: Usage | None = None
    model: str | None = None
    finish_reason: str | None = None
    text: str | None = None


def usage_from_dict(usage: object) -> Usage | None:
    """OpenAI `usage` in either naming (chat/completions/embeddings, or the Responses API)."""
    if not isinstance(usage, dict):
        return None
    inp = usage.get("prompt_tokens", usage.get("input_tokens"))
    out = usage.get("completion_tokens", usage.get("output_tokens", 0))
    if not isinstance(inp, int):
        return None
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    cached = details.get("cached_tokens", 0) if isinstance(details, dict) else 0
    return Usage(
        input_tokens=inp,
        output_tokens=out if isinstance(out, int) else 0,
        cached_input_tokens=cached if isinstance(cached, int) else 0,
    )


def _tail_object(body: bytes, key: bytes) -> object:
    """Parse only the JSON object after `"key":` near the end of a large body (an embeddings answer)."""
    at = body.rfind(b'"' + key + b'"')
    start = body.find(b"{", at) if at >= 0 else -1
    if start < 0:
        return None
    depth = 0
    for end in range(start, min(len(body), start + 4096)):
        ch = body[end]
        if ch == 0x7B:
            depth += 1
        elif ch == 0x7D:
            depth -= 1
            if depth == 0:
                try:
                    return orjson.loads(body[start : end + 1])
                except orjson.JSONDecodeError:
                    return None
    return None


def _head_string(body: bytes, key: bytes) -> str | None:
    at = body.find(b'"' + key + b'"')
    if at < 0:
        return None
    quote = body.find(b'"', body.find(b":", at) + 1)
    end = body.find(b'"', quote + 1)
    return body[quote + 1 : end].decode(errors="replace") if quote > 0 and end > quote else None


def _responses_text(payload: dict) -> str | None:
    parts = []
    for item in payload.get("output") or ():
        if isinstance(item, dict) and item.get("type") == "message":
            for content in item.get("content") or ():
                if isinstance(content, dict) and isinstance(content.get("text"), str):
                    parts.append(content["text"])
    return "".join(parts) if parts else None


def usage_from_body(operation: str | None, body: bytes, payload: Any = None) -> Answer:
    """What a non-streamed JSON answer says about itself; empty `Answer` for anything unparseable.

    `payload` is `body` already decoded, when the caller has it.
    """
    if operation == "embeddings":
        # Vectors make these bodies large; the usage object sits at the end.
        return Answer(usage=usage_from_dict(_tail_object(body, b"usage")), model=_head_string(body, b"model"))
    if payload is None:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return Answer()
    if not isinstance(payload, dict):
        return Answer()
    answer = Answer(usage=usage_from_dict(payload.get("usage")), model=_str(payload.get("model")))
    if payload.get("object") == "response" or operation == "responses":
        answer.text = _responses_text(payload)
        incomplete = payload.get("incomplete_details")
        reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
        answer.finish_reason = _str(reason) or _str(payload.get("status"))
        return answer
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        answer.finish_reason = _str(first.get("finish_reason"))
        message = first.get("message")
        text = message.get("content") if isinstance(message, dict) else first.get("text")
        answer.text = text if isinstance(text, str) else None
    return answer


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def request_stream_usage(body: bytes) -> bytes | None:
    """The request body with `stream_options.include_usage: true` added, when it streams without asking for usage.

    None when there is nothing to change (not streaming, or the client asked
    for usage itself, in which case it also keeps the usage chunk).
    """
    if b'"stream"' not in body:
        return None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or payload.get("stream") is not True:
        return None
    options = payload.get("stream_options")
    if options is None and b'"stream_options"' not in body:
        # Splice rather than re-serialise: every byte the app sent stays as it was.
        start = body.index(b"{") + 1
        return body[:start] + b'"stream_options":{"include_usage":true},' + body[start:]
    if not isinstance(options, dict):
        options = {}
    if options.get("include_usage") is True:
        return None
    payload["stream_options"] = {**options, "include_usage": True}
    return orjson.dumps(payload)


_EVENT_ENDS = (b"\n\n", b"\r\n\r\n", b"\r\r")


def _event_end(buf: bytes | bytearray, start: int, cr: bool) -> tuple[int, int]:
    """(index, separator length) of the first blank line at or after start, or (-1, 0)."""
    if not cr:  # the usual case: no carriage returns seen, one search
        at = buf.find(b"\n\n", start)
        return at, 2
    best, size = -1, 0
    for sep in _EVENT_ENDS:
        at = buf.find(sep, start)
        if at >= 0 and (best < 0 or at < best):
            best, size = at, len(sep)
    return best, size


def _has_value(event: bytes, key: bytes) -> bool:
    """`"key":` followed by something other than null (whitespace allowed)."""
    at = event.find(key)
    while at >= 0:
        rest = event[at + len(key) : at + len(key) + 8].lstrip()
        if rest[:1] == b":":
            rest = rest[1:].lstrip()
            if rest and not rest.startswith(b"null"):
                return True
        at = event.find(key, at + 1)
    return False


class SSETap:
    """Watches a streamed answer chunk by chunk; `feed` returns the bytes to relay to the client.

    With `hide_usage_chunk=False` every chunk is returned unchanged at once.
    With `hide_usage_chunk=True` (the router added `include_usage` itself),
    bytes are released one complete event at a time, and the usage-only event
    (`"choices": []` with a `usage`) is left out; everything else is relayed
    byte for byte. Call `close()` at the end of the stream for any bytes held.
    """

    def __init__(self, *, hide_usage_chunk: bool = False, keep_text: bool = True, text_cap: int = TEXT_CAP):
        self.hide_usage_chunk = hide_usage_chunk
        self.keep_text = keep_text
        self.text_cap = text_cap
        self.usage: Usage | None = None
        self.model: str | None = None
        self.finish_reason: str | None = None
        self.text_chars = 0
        self.events = 0
        self.done = False
        self.hidden = 0
        self._parts: list[str] = []
        self._kept = 0
        self._buf = bytearray()
        self._cr = False  # seen a carriage return: separators may be \r\n\r\n or \r\r

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def answer(self) -> Answer:
        return Answer(self.usage, self.model, self.finish_reason, self.text if self.keep_text else None)

    def feed(self, chunk: bytes) -> bytes:
        buf = self._buf
        scan_from = max(0, len(buf) - 3)  # a separator may straddle the previous chunk's end
        buf += chunk
        if not self._cr and b"\r" in chunk:
            self._cr = True
        at, size = _event_end(buf, scan_from, self._cr)
        if at < 0:
            return chunk if not self.hide_usage_chunk else b""
        out = []
        start = 0
        while at >= 0:
            end = at + size
            event = bytes(buf[start:end])
            if self._event(event) or not self.hide_usage_chunk:
                out.append(event)
            start = end
            at, size = _event_end(buf, start, self._cr)
        del buf[:start]
        if not self.hide_usage_chunk:
            return chunk
        return b"".join(out)

    def close(self) -> bytes:
        """Bytes still held (an unterminated last event); relay them too."""
        rest = bytes(self._buf)
        self._buf.clear()
        if rest.strip():
            self._event(rest)
        return rest if self.hide_usage_chunk else b""

    def _event(self, event: bytes) -> bool:
        """Take what we keep from one event; False when it is the usage chunk to hide."""
        data = event.find(b"data:")
        if data < 0:
            return True
        self.events += 1
        body = event[data + 5 :].strip()
        if body == b"[DONE]":
            self.done = True
            return True
        has_usage = _has_value(body, b'"usage"')
        # Chat deltas say "content", legacy completions "text", the Responses API "delta":"...".
        wants_text = self.keep_text and (b'"content"' in body or b'"text"' in body or b'"delta":"' in body)
        if not (has_usage or wants_text or self.model is None or _has_value(body, b'"finish_reason"')):
            return True
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return True
        if not isinstance(payload, dict):
            return True
        kind = payload.get("type")
        if isinstance(kind, str) and kind.startswith("response."):
            return self._responses_event(payload)
        if self.model is None:
            self.model = _str(payload.get("model"))
        choices = payload.get("choices")
        if isinstance(choices, list):
            for choice in choices[:1]:
                if not isinstance(choice, dict):
                    continue
                self.finish_reason = _str(choice.get("finish_reason")) or self.finish_reason
                delta = choice.get("delta")
                text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
                if isinstance(text, str):
                    self._add_text(text)
        if has_usage:
            usage = usage_from_dict(payload.get("usage"))
            if usage is not None:
                self.usage = usage
                if self.hide_usage_chunk and choices == []:
                    self.hidden += 1
                    return False
        return True

    def _responses_event(self, payload: dict) -> bool:
        kind = payload["type"]
        if kind == "response.output_text.delta" and isinstance(payload.get("delta"), str):
            self._add_text(payload["delta"])
        response = payload.get("response")
        if isinstance(response, dict):
            self.model = _str(response.get("model")) or self.model
            if kind in ("response.completed", "response.incomplete", "response.failed"):
                self.usage = usage_from_dict(response.get("usage")) or self.usage
                incomplete = response.get("incomplete_details")
                reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
                self.finish_reason = _str(reason) or _str(response.get("status"))
        return True

    def _add_text(self, text: str) -> None:
        self.text_chars += len(text)
        if self.keep_text and self._kept < self.text_cap:
            piece = text[: self.text_cap - self._kept]
            self._parts.append(piece)
            self._kept += len(piece)

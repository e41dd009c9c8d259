"""Watching an answer go by: token usage, response model, finish reason and
(only when needed) the completion text, from a buffered JSON body or from
the SSE chunks of a stream, without changing a byte the app receives except
the usage chunk the router itself asked for.
"""

from __future__ import annotations

from typing import Any

from proxy.http.outbound import Response
from proxy.http.relay import is_event_stream
from proxy.record import RequestRecord

_TEXT_CAP = 64 * 1024


class Observer:
    __slots__ = ("record", "payload", "hide_usage", "keep_text", "_tap")

    def __init__(self, record: RequestRecord, payload: dict[str, Any] | None, hide_usage: bool, keep_text: bool):
        self.record = record
        self.payload = payload
        self.hide_usage = hide_usage
        self.keep_text = keep_text
        self._tap: Any = None

    def tap(self, resp: Response) -> Observer | None:
        if self.record.operation is None or resp.status != 200 or not is_event_stream(resp):
            return None
        from proxy.telemetry.usage import SSETap

        self._tap = SSETap(hide_usage_chunk=self.hide_usage, keep_text=self.keep_text)
        return self

    def tap_sse(self) -> Observer:
        """A tap for an event stream this process produces itself (translated providers)."""
        from proxy.telemetry.usage import SSETap

        self._tap = SSETap(hide_usage_chunk=self.hide_usage, keep_text=self.keep_text)
        return self

    def feed(self, chunk: bytes) -> bytes:
        return self._tap.feed(chunk)

    def close(self) -> bytes:
        return self._tap.close()

    def text_so_far(self) -> str:
        return (self._tap.text or "") if self._tap is not None else ""

    def finish_reason_so_far(self) -> str | None:
        return self._tap.finish_reason if self._tap is not None else None

    def on_body(self, data: bytes, parsed: Any = None) -> None:
        """Record what a non-streamed answer says (`parsed`: `data` already decoded, if at hand)."""
        record = self.record
        if record.operation is None or record.status != 200:
            return
        from proxy.telemetry.usage import usage_from_body

        seen = usage_from_body(record.operation, data, parsed)
        record.usage = seen.usage
        record.response_model = seen.model
        record.finish_reason = seen.finish_reason
        if self.keep_text:
            record.completion_text = (seen.text or "")[:_TEXT_CAP]

    def finish(self) -> None:
        """Copy what a stream showed into the record (or estimate usage the upstream did not report)."""
        tap = self._tap
        if tap is None:
            return
        record = self.record
        record.usage = tap.usage
        record.response_model = tap.model
        record.finish_reason = tap.finish_reason
        text = tap.text or ""
        if self.keep_text:
            record.completion_text = text[:_TEXT_CAP]
        if record.usage is None and self.payload is not None:
            from proxy.telemetry.usage import estimate_usage

            record.usage = estimate_usage(self.payload, text)

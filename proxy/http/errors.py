"""Failures of the proxy itself, and their one mapping to an OpenAI-shaped error.

    ProxyError                    the router could not produce the upstream's answer
    ├── BadRequest (400/413)      the app's request cannot be forwarded as sent
    ├── UpstreamUnreachable (502) no connection, reset, or a broken response
    └── UpstreamTimeout (504)     connect, first byte or total deadline passed

Upstream 4xx/5xx answers are not ProxyErrors: they reach the app unchanged.
"""

from __future__ import annotations

import orjson

from proxy.http.inbound import Response


class ProxyError(Exception):
    status = 502
    type = "proxy_error"
    code = "proxy_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def body(self) -> bytes:
        return orjson.dumps({"error": {"message": self.message, "type": self.type, "code": self.code, "param": None}})

    def response(self) -> Response:
        return Response(
            status=self.status,
            body=self.body(),
            content_type="application/json",
            headers={"x-llm-router-error": self.code},
        )


class BadRequest(ProxyError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"

    def __init__(self, message: str, *, status: int = 400, code: str | None = None):
        super().__init__(message, code=code)
        self.status = status


class UpstreamUnreachable(ProxyError):
    status = 502
    type = "upstream_error"
    code = "upstream_unreachable"


class UpstreamTimeout(ProxyError):
    status = 504
    type = "upstream_timeout"
    code = "upstream_timeout"

"""The one module that imports LiteLLM, and only when a non-OpenAI provider is configured.

LiteLLM costs seconds and ~200 MB to import, so a sidecar that only talks to
OpenAI-compatible servers never loads it. When it is needed, it is imported
on a thread while the config loads, with its network look-ups turned off.
A call returns the answer already translated to OpenAI's chat completion
JSON, or an async iterator of OpenAI SSE bytes, so the app cannot tell.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from proxy.config.schema import Upstream
from proxy.http.errors import UpstreamTimeout, UpstreamUnreachable

_module: Any = None


def ensure_loaded() -> Any:
    """Import LiteLLM with its price map and tokenizer look-ups kept offline (blocking; call from a thread)."""
    global _module
    if _module is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        _module = litellm
    return _module


def known_providers() -> set[str]:
    litellm = ensure_loaded()
    return {str(getattr(p, "value", p)) for p in litellm.provider_list}


@dataclass(slots=True)
class Translated:
    """An answer from a translated provider, in OpenAI's format."""

    status: int
    body: bytes | None = None
    chunks: AsyncIterator[bytes] | None = None
    usage: dict[str, Any] | None = None


class ProviderError(Exception):
    """The provider answered with an error; `status` says which kind (4xx: the request, 429/5xx: the provider)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    def body(self) -> bytes:
        return orjson.dumps({"error": {"message": self.message, "type": "provider_error", "code": str(self.status), "param": None}})


_PASS_THROUGH = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "tools", "tool_choice",
                 "response_format", "n", "presence_penalty", "frequency_penalty", "seed", "user", "parallel_tool_calls")


def _kwargs(upstream: Upstream, model: str, payload: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: payload[k] for k in _PASS_THROUGH if k in payload}
    kwargs.update(
        model=f"{upstream.provider}/{model}",
        messages=payload.get("messages") or [],
        api_key=os.environ.get(upstream.api_key_env or "", ""),
        timeout=upstream.timeouts.first_byte_s,
        num_retries=0,  # retries and fallbacks are the dispatcher's job; LiteLLM's own would multiply them
    )
    if upstream.base_url:
        kwargs["api_base"] = upstream.base_url
    if upstream.headers:
        kwargs["extra_headers"] = dict(upstream.headers)
    return kwargs


def _provider_error(litellm: Any, exc: Exception, upstream: Upstream) -> Exception:
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", None) or exc)[:500]
    if isinstance(exc, litellm.Timeout):
        return UpstreamTimeout(f"provider {upstream.provider} did not answer in time: {message}", code="upstream_first_byte_timeout")
    if isinstance(exc, litellm.APIConnectionError) or status is None:
        return UpstreamUnreachable(f"provider {upstream.provider} could not be reached: {message}", code="upstream_connect_error")
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    retry_after = None
    try:
        retry_after = float(headers.get("retry-after")) if headers.get("retry-after") else None
    except (TypeError, ValueError):
        retry_after = None
    return ProviderError(int(status), f"provider {upstream.provider}: {message}", retry_after)


async def complete(upstream: Upstream, model: str, payload: dict[str, Any], stream: bool) -> Translated:
    litellm = _module or await asyncio.to_thread(ensure_loaded)
    kwargs = _kwargs(upstream, model, payload)
    try:
        if not stream:
            response = await litellm.acompletion(**kwargs)
            data = response.model_dump(mode="json", exclude_none=True)
            data["model"] = model
            return Translated(status=200, body=orjson.dumps(data), usage=data.get("usage"))
        response = await litellm.acompletion(stream=True, stream_options={"include_usage": True}, **kwargs)
    except Exception as exc:  # LiteLLM's exception tree is large; it is mapped to ours in one place
        raise _provider_error(litellm, exc, upstream) from None
    want_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
    return Translated(status=200, chunks=_sse(litellm, response, model, want_usage, upstream))


async def _sse(litellm: Any, response: Any, model: str, want_usage: bool, upstream: Upstream) -> AsyncIterator[bytes]:
    try:
        async for chunk in response:
            data = chunk.model_dump(mode="json", exclude_none=True)
            data["model"] = model
            if not data.get("choices") and data.get("usage") is not None and not want_usage:
                # The usage chunk was asked for by the router (for cost), not by the app: it still
                # flows through the tap, which records it, but is marked to be hidden.
                yield b"data: " + orjson.dumps(data) + b"\n\n"
                continue
            yield b"data: " + orjson.dumps(data) + b"\n\n"
        yield b"data: [DONE]\n\n"
    except Exception as exc:  # mid-stream failure: surfaced to the app as an error event by the caller
        raise _provider_error(litellm, exc, upstream) from None

"""Counting tokens locally when an upstream reports no usage.

tiktoken downloads its BPE files on first use, and this sidecar has no
business reaching the internet for that. LiteLLM ships the same files in its
package (`litellm/litellm_core_utils/tokenizers/`, named by the SHA-1 of the
download URL, which is tiktoken's own cache layout), so tiktoken is pointed
at that directory, and only when the file is actually there. Without tiktoken
or the file, the count falls back to ~4 characters per token. Either way the
`Usage` is marked `estimated=True`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from proxy.record import Usage

_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_lock = threading.Lock()
# Chat formatting overhead per message and for the reply priming, as in
# OpenAI's cookbook "How to count tokens with tiktoken".
PER_MESSAGE = 3
REPLY_PRIMING = 3


def tiktoken_cache_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "litellm_core_utils" / "tokenizers"
        if candidate.is_dir():
            return candidate
    return None


def encoding_name(model: str | None) -> str:
    try:
        import tiktoken.model
    except ImportError:
        return "o200k_base"
    try:
        return tiktoken.model.encoding_name_for_model((model or "").rsplit("/", 1)[-1])
    except KeyError:
        return "o200k_base"  # today's OpenAI models (gpt-4o, gpt-4.1, o-series)


@functools.cache
def counter(name: str) -> Callable[[str], int] | None:
    """A token counter for one encoding from local files only, or None (then chars/4 is used)."""
    try:
        import tiktoken
    except ImportError:
        return None
    directory = tiktoken_cache_dir()
    cached = directory / hashlib.sha1(_URL.format(name).encode()).hexdigest() if directory else None
    if cached is None or not cached.is_file():
        return None
    with _lock:  # TIKTOKEN_CACHE_DIR is process-wide: set it only for this one load
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
        try:
            encoding = tiktoken.get_encoding(name)
        except Exception:  # noqa: BLE001 - a corrupt or mismatched file means: estimate by characters
            return None
        finally:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def _chars(text: str) -> int:
    return (len(text) + 3) // 4


def _strings(value: object) -> Iterable[str]:
    """Every piece of text in a message's content (a string, or a list of typed parts)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for part in value:
            if isinstance(part, str):
                yield part
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part["text"]


def estimate_usage(request_payload: dict, completion_text: str, *, model: str | None = None) -> Usage:
    """Input and output tokens counted locally for a request and its answer text."""
    count = counter(encoding_name(model or request_payload.get("model"))) or _chars
    input_tokens = 0
    messages = request_payload.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                input_tokens += PER_MESSAGE + sum(count(s) for s in _strings(message.get("content")))
        input_tokens += REPLY_PRIMING
    else:
        for key in ("input", "prompt"):  # responses / completions / embeddings
            value = request_payload.get(key)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                input_tokens += sum(count(s) for item in value for s in _strings(item.get("content")))
            else:
                input_tokens += sum(count(s) for s in _strings(value))
    return Usage(
        input_tokens=input_tokens, output_tokens=count(completion_text) if completion_text else 0, estimated=True
    )


def warm(models: Iterable[str] = ("gpt-4o", "gpt-4")) -> None:
    """Load the encodings up front (~0.2-0.4 s each): run it in a thread at start-up, not on a request."""
    for model in models:
        counter(encoding_name(model))

"""Optional requests-per-minute and tokens-per-minute limits per upstream model.

Token buckets refilled continuously. Tokens are estimated from the request
before the call (prompt characters / 4 plus the requested max tokens) and
corrected from the reported usage afterwards, so the bucket tracks what the
provider will count.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Bucket:
    __slots__ = ("capacity", "per_s", "level", "_at", "_clock")

    def __init__(self, per_minute: float, clock: Callable[[], float]):
        self.capacity = float(per_minute)
        self.per_s = per_minute / 60.0
        self.level = float(per_minute)
        self._clock = clock
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._at) * self.per_s)
        self._at = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` is available (0 if it is now)."""
        self._refill()
        missing = min(amount, self.capacity) - self.level
        return 0.0 if missing <= 0 else missing / self.per_s

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount


class RateLimit:
    """rpm and/or tpm for one upstream model."""

    def __init__(self, rpm: float | None, tpm: float | None, clock: Callable[[], float] = time.monotonic):
        self.requests = Bucket(rpm, clock) if rpm else None
        self.tokens = Bucket(tpm, clock) if tpm else None

    def try_acquire(self, tokens: int) -> float:
        """Take one request and `tokens` if both are available: 0.0; else the seconds to wait (nothing taken)."""
        wait = 0.0
        if self.requests is not None:
            wait = max(wait, self.requests.wait_for(1))
        if self.tokens is not None:
            wait = max(wait, self.tokens.wait_for(tokens))
        if wait > 0:
            return wait
        if self.requests is not None:
            self.requests.take(1)
        if self.tokens is not None:
            self.tokens.take(tokens)
        return 0.0

    def correct(self, estimated: int, actual: int) -> None:
        if self.tokens is not None:
            self.tokens.take(actual - estimated)


def estimate_tokens(payload: dict) -> int:
    chars = 0
    for message in payload.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    out = payload.get("max_completion_tokens") or payload.get("max_tokens") or 256
    return chars // 4 + (out if isinstance(out, int) else 256)

"""Retry delays: exponential backoff with full jitter, and the upstream's `retry-after`."""

from __future__ import annotations

import email.utils
import random
import time


def full_jitter(attempt: int, base_s: float, cap_s: float, rnd: random.Random) -> float:
    """AWS's "full jitter": uniform in [0, min(cap, base * 2^attempt)], so clients spread out."""
    return rnd.uniform(0.0, min(cap_s, base_s * (2**attempt)))


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a `retry-after` (delta-seconds or an HTTP date), or `retry-after-ms`-style floats."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))

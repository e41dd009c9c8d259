"""Backoff delays and retry-after parsing."""

from __future__ import annotations

import random

from proxy.dispatch.backoff import full_jitter, retry_after_s


def test_full_jitter_stays_under_the_exponential_ceiling():
    rnd = random.Random(1)
    for attempt, ceiling in ((0, 0.2), (1, 0.4), (2, 0.8), (6, 5.0)):
        values = [full_jitter(attempt, 0.2, 5.0, rnd) for _ in range(200)]
        assert 0 <= min(values) and max(values) <= ceiling
        assert max(values) > ceiling * 0.8  # spread over the whole range, not clumped


def test_retry_after_forms():
    assert retry_after_s("7") == 7.0
    assert retry_after_s("0.5") == 0.5
    assert retry_after_s("Sat, 28 Nov 2026 00:00:10 GMT", now=1795824000.0) == 10.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None

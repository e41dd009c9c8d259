"""Token buckets for rpm/tpm on a fake clock."""

from __future__ import annotations

from proxy.dispatch.ratelimit import RateLimit, estimate_tokens


def test_rpm_refills_continuously():
    now = [0.0]
    limit = RateLimit(rpm=2, tpm=None, clock=lambda: now[0])
    assert limit.try_acquire(10) == 0.0
    assert limit.try_acquire(10) == 0.0
    assert limit.try_acquire(10) == 30.0
    now[0] = 30.0
    assert limit.try_acquire(10) == 0.0


def test_tpm_is_corrected_from_usage():
    now = [0.0]
    limit = RateLimit(rpm=None, tpm=1000, clock=lambda: now[0])
    assert limit.try_acquire(600) == 0.0
    limit.correct(estimated=600, actual=100)
    assert limit.try_acquire(800) == 0.0
    assert limit.try_acquire(400) > 0


def test_estimate_counts_prompt_and_requested_output():
    assert estimate_tokens({"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}) == 150
    assert estimate_tokens({"messages": [{"role": "user", "content": [{"type": "text", "text": "y" * 40}]}]}) == 266

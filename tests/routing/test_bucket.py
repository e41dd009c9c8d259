"""Rollout buckets are deterministic, uniform, and only ever grow the router arm."""

from __future__ import annotations

from proxy.routing.bucket import bucket, in_router_arm


def test_same_key_same_bucket_and_salt_reshuffles():
    assert bucket("support", "user-1") == bucket("support", "user-1")
    assert bucket("support", "user-1") != bucket("sales", "user-1")
    assert 0 <= bucket("x", "y") < 100


def test_share_matches_percent_over_many_keys():
    keys = [f"user-{i}" for i in range(10_000)]
    for percent in (5, 30, 50):
        share = sum(in_router_arm("route", k, percent) for k in keys) / len(keys) * 100
        assert abs(share - percent) < 1.5, (percent, share)


def test_raising_the_percent_only_moves_users_into_the_router_arm():
    keys = [f"k{i}" for i in range(5_000)]
    at5 = {k for k in keys if in_router_arm("r", k, 5)}
    at25 = {k for k in keys if in_router_arm("r", k, 25)}
    at100 = {k for k in keys if in_router_arm("r", k, 100)}
    assert at5 <= at25 <= at100 == set(keys)
    assert not any(in_router_arm("r", k, 0) for k in keys)

"""Deterministic rollout buckets, never `random()`.

A sticky key (a user id, a header value, or the request id when there is
none) hashes with the route's salt to a point in [0, 100). The router arm is
every point below the route's `percent`, so raising the percentage only moves
users from control to the router arm, never back, and the same key always
lands in the same arm.
"""

from __future__ import annotations

import hashlib

_SCALE = 100.0 / float(1 << 64)


def bucket(salt: str, key: str) -> float:
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") * _SCALE


def in_router_arm(salt: str, key: str, percent: float) -> bool:
    if percent <= 0:
        return False
    if percent >= 100:
        return True
    return bucket(salt, key) < percent

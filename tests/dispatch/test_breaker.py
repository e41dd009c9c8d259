"""Circuit breaker state machine on a fake clock."""

from __future__ import annotations

from proxy.dispatch.breaker import CLOSED, HALF_OPEN, OPEN, Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_failures_in_window_and_probes_once_after_cooldown():
    clock = Clock()
    changes: list[str] = []
    b = Breaker(3, window_s=10, cooldown_s=5, clock=clock, on_change=changes.append)
    b.failure()
    clock.now = 11  # the first failure has left the window
    b.failure()
    b.failure()
    assert b.state == CLOSED and b.allow()
    b.failure()
    assert b.state == OPEN and not b.allow()
    assert b.retry_in() == 5
    clock.now = 16
    assert b.allow() and b.state == HALF_OPEN
    assert not b.allow(), "only one probe in half-open"
    b.failure()
    assert b.state == OPEN
    clock.now = 22
    assert b.allow()
    b.success()
    assert b.state == CLOSED and b.allow() and b.allow()
    assert changes == [OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED]


def test_an_abandoned_probe_frees_the_slot():
    clock = Clock()
    b = Breaker(1, 10, 1, clock=clock)
    b.failure()
    clock.now = 2
    assert b.allow()
    b.release()
    assert b.allow()

"""Circuit breaker per (upstream, model).

closed: calls flow; `failures` failures within `window_s` open it.
open: calls are refused (the dispatcher goes straight to the next model)
until `cooldown_s` has passed; then half-open.
half_open: exactly one probe call is let through; its success closes the
breaker, its failure opens it again for another cooldown.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class Breaker:
    __slots__ = ("failures", "window_s", "cooldown_s", "state", "_recent", "_opened_at", "_probing", "_clock", "on_change")

    def __init__(self, failures: int, window_s: float, cooldown_s: float, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str], None] | None = None):
        self.failures, self.window_s, self.cooldown_s = failures, window_s, cooldown_s
        self.state = CLOSED
        self._recent: deque[float] = deque()
        self._opened_at = 0.0
        self._probing = False
        self._clock = clock
        self.on_change = on_change

    def _set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self.on_change is not None:
                self.on_change(state)

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one probe is let through."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            if self._clock() - self._opened_at < self.cooldown_s:
                return False
            self._set(HALF_OPEN)
            self._probing = False
        if self._probing:
            return False
        self._probing = True
        return True

    def success(self) -> None:
        self._recent.clear()
        self._probing = False
        self._set(CLOSED)

    def failure(self) -> None:
        now = self._clock()
        if self.state == HALF_OPEN:
            self._open(now)
            return
        recent = self._recent
        recent.append(now)
        while recent and now - recent[0] > self.window_s:
            recent.popleft()
        if len(recent) >= self.failures:
            self._open(now)

    def release(self) -> None:
        """A probe that ended without a verdict (the app went away) frees the half-open slot."""
        self._probing = False

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._recent.clear()
        self._probing = False
        self._set(OPEN)

    def retry_in(self) -> float:
        if self.state != OPEN:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

"""A progress bar on stderr, without a dependency.

Drawn only when stderr is a terminal (a log file or a test's captured output
gets nothing), and redrawn at most ten times a second so it costs nothing
next to the work it reports on.
"""

from __future__ import annotations

import sys
import time
from typing import IO


class Progress:
    def __init__(self, total: float, label: str, *, unit: str = "", stream: IO[str] | None = None,
                 enabled: bool | None = None, width: int = 30):
        self.total = max(total, 0)
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = width
        self.done = 0.0
        self.count = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, amount: float = 1, count: int = 0) -> None:
        self.done += amount
        self.count += count
        if self.enabled:
            now = time.monotonic()
            if now - self._drawn >= 0.1:
                self._drawn = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        share = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = max(now - self.started, 1e-9)
        rate = f" {self.count / elapsed:,.0f} {self.unit}/s" if self.count and self.unit else ""
        self.stream.write(f"\r{self.label} [{bar}] {share * 100:5.1f}%{rate}  ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

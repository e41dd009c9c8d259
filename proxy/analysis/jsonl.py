"""Reading JSONL input one line at a time, with bad lines counted, not fatal.

Files can hold millions of lines, so nothing here keeps more than one chunk
of lines in memory. A line that is not a JSON object is reported with its
line number and skipped; the lines around it are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import orjson

MAX_REPORTED = 20
"""Bad lines reported individually; the rest are only counted."""


@dataclass
class BadLines:
    count: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, lineno: int, reason: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_REPORTED:
            self.examples.append((lineno, reason))

    def merge(self, other: BadLines) -> None:
        self.count += other.count
        room = MAX_REPORTED - len(self.examples)
        if room > 0:
            self.examples.extend(other.examples[:room])

    def lines(self, path: str) -> list[str]:
        out = [f"{path}:{n}: {reason}; line skipped" for n, reason in sorted(self.examples)]
        if self.count > len(self.examples):
            out.append(f"{path}: {self.count - len(self.examples)} more bad line(s) skipped")
        return out


def parse_object(line: bytes) -> tuple[dict | None, str | None]:
    """The JSON object on a line, or None and why not."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON ({str(exc).split(':')[0]})"
    if not isinstance(value, dict):
        return None, f"expected a JSON object, got {type(value).__name__}"
    return value, None


def chunks(stream: IO[bytes], size: int = 2000) -> Iterator[tuple[int, list[bytes], int]]:
    """(first line number, lines, bytes read) in chunks; blank lines keep their numbers but are dropped later."""
    lines: list[bytes] = []
    first, nbytes, lineno = 1, 0, 0
    for raw in stream:
        lineno += 1
        nbytes += len(raw)
        lines.append(raw)
        if len(lines) >= size:
            yield first, lines, nbytes
            first, lines, nbytes = lineno + 1, [], 0
    if lines:
        yield first, lines, nbytes

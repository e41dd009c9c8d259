"""JSONL readers for labeled prompts, batch inputs and outcome tables.

Every problem is reported as `file:line: what is wrong and how to fix it`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from proxy.classifier.tfidf_model import TIERS


class DataError(ValueError):
    """A bad input file; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    data: dict[str, Any]


def read_jsonl(path: Path) -> Iterator[Row]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc.strerror}); check the path") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise DataError(
                    f"{path}:{number}: malformed JSON ({exc}); each line must be one JSON object"
                ) from exc
            if not isinstance(data, dict):
                raise DataError(f"{path}:{number}: expected a JSON object, got {type(data).__name__}")
            yield Row(number, data)


def check_prompt(path: Path, row: Row) -> None:
    """A row must carry `text` (string) or `messages` (list)."""
    data = row.data
    if isinstance(data.get("messages"), list):
        return
    if isinstance(data.get("text"), str) and data["text"].strip():
        return
    raise DataError(
        f"{path}:{row.line}: missing text: give a non-empty \"text\" string or a \"messages\" list"
    )


def read_labeled(path: Path) -> list[Row]:
    rows = []
    for row in read_jsonl(path):
        check_prompt(path, row)
        tier = row.data.get("tier")
        if tier not in TIERS:
            raise DataError(
                f"{path}:{row.line}: unknown tier {tier!r}; use one of simple, standard, complex"
            )
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: no rows; expected one labeled JSON object per line")
    return rows


def read_batch(path: Path) -> list[Row]:
    rows = []
    for row in read_jsonl(path):
        if "id" not in row.data:
            raise DataError(f"{path}:{row.line}: missing \"id\"; every input line needs an id")
        check_prompt(path, row)
        rows.append(row)
    return rows


def read_outcomes(path: Path) -> list[Row]:
    rows = []
    for row in read_jsonl(path):
        check_prompt(path, row)
        if not isinstance(row.data.get("results"), dict):
            raise DataError(
                f"{path}:{row.line}: missing \"results\"; an outcome row maps model -> "
                "{\"score\", \"cost_usd\"}"
            )
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: no rows; expected one outcome JSON object per line")
    return rows

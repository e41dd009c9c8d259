"""YAML reading that remembers where every key came from.

Config errors must name the file and line, so the document is composed into
nodes first: a map from key path to line number is built alongside the plain
data. Duplicate keys, which PyYAML silently collapses, are reported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]


@dataclass
class YamlSource:
    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        # Fall back to the closest enclosing key: a missing key is reported
        # at the mapping that should hold it.
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)


class YamlError(Exception):
    def __init__(self, path: Path, line: int | None, message: str):
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


def read_yaml(path: Path) -> YamlSource:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlError(path, None, "file not found; pass the right path with -c/--config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlError(path, None, f"cannot read the file: {exc}") from None
    return parse_yaml(path, text)


def parse_yaml(path: Path, text: str) -> YamlSource:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise YamlError(path, line, f"invalid YAML: {exc.problem}") from None
    source = YamlSource(path=path, data=None)
    if node is None:
        source.data = {}
        return source
    source.lines[()] = node.start_mark.line + 1
    _index(node, (), source)
    source.data = yaml.safe_load(text)
    return source


def _index(node: yaml.Node, loc: Loc, source: YamlSource) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlError(
                    source.path, line, f"duplicate key '{key}' (first at line {seen[key]}); keep only one"
                )
            seen[key] = line
            source.lines[loc + (key,)] = line
            _index(value_node, loc + (key,), source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            source.lines[loc + (i,)] = item.start_mark.line + 1
            _index(item, loc + (i,), source)

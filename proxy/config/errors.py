"""Config problems, each reported as `file:line: key: what is wrong and how to fix it`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from proxy.config.yamlsource import Loc, YamlError, YamlSource


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.key + ': ' if self.key else ''}{self.message}"


class ConfigError(Exception):
    """The config or the policy it names cannot be used; `problems` lists why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @classmethod
    def from_yaml(cls, exc: YamlError) -> ConfigError:
        return cls([Problem(exc.path, exc.line, "", exc.message)])

    @classmethod
    def single(cls, path: Path, message: str, line: int | None = None, key: str = "") -> ConfigError:
        return cls([Problem(path, line, key, message)])


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_TYPE_NAMES = {
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping (key: value)",
    "list_type": "a list",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    current: object = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
        current = _model_in(annotation)
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _model_in(annotation: object) -> object:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def problems_from_validation(exc: ValidationError, source: YamlSource, model: type[BaseModel]) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        value = err.get("input")
        if kind == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
            message = f"unknown key '{loc[-1]}' (check the spelling){hint}"
        elif kind == "missing":
            message = "required key is missing; add it"
        elif kind in _TYPE_NAMES:
            message = f"expected {_TYPE_NAMES[kind]}, got {type(value).__name__} {value!r}"
            if isinstance(value, str) and kind in ("int_type", "float_type", "bool_type"):
                message += " (remove the quotes)"
        elif kind == "value_error":
            message = str(err["ctx"]["error"])
        else:
            message = err["msg"]
            if value is not None and not isinstance(value, (dict, list)):
                message += f", got {value!r}"
        key_loc = loc[:-1] if kind == "extra_forbidden" else loc
        line = source.line_of(loc)
        problems.append(Problem(source.path, line, format_loc(key_loc) if kind != "extra_forbidden" else format_loc(loc), message))
    return problems

"""Compiled routes and the pure function that picks one for a request.

Routes are compiled once per config load, so matching a request is a few
string comparisons: exact or prefix path, header values, and a requested
model glob. The first route that matches wins; the app may name a route with
`x-llm-router-route`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

from proxy.config.schema import Route

UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    name: str
    mode: str
    percent: float
    sticky: str | None
    upstream: str
    salt: str
    fallback: bool
    path: str | None
    path_is_prefix: bool
    headers: tuple[tuple[str, str], ...]
    model: re.Pattern[str] | None

    def matches(self, path: str, headers: Mapping[str, str], model: str | None) -> bool:
        if self.path is not None:
            if self.path_is_prefix:
                if not path.startswith(self.path):
                    return False
            elif path != self.path:
                return False
        for name, value in self.headers:
            got = headers.get(name)
            if got is None or (value != "*" and got != value):
                return False
        if self.model is not None and (model is None or self.model.fullmatch(model) is None):
            return False
        return True


def compile_route(route: Route) -> CompiledRoute:
    path = route.match.path
    prefix = path is not None and path.endswith("*")
    models = route.match.model
    pattern = None
    if models is not None:
        globs = [models] if isinstance(models, str) else models
        pattern = re.compile("|".join(fnmatch.translate(g) for g in globs))
    return CompiledRoute(
        name=route.name,
        mode=route.mode,
        percent=route.percent,
        sticky=route.sticky,
        upstream=route.upstream,
        salt=route.salt if route.salt is not None else route.name,
        fallback=route.fallback,
        path=path[:-1] if prefix and path else path,
        path_is_prefix=prefix,
        headers=tuple((k.lower(), v) for k, v in route.match.headers.items()),
        model=pattern,
    )


@dataclass(frozen=True, slots=True)
class RouteTable:
    routes: tuple[CompiledRoute, ...]
    by_name: Mapping[str, CompiledRoute]
    fallback: CompiledRoute
    needs_model: bool
    default_route: str | None = None

    @classmethod
    def build(cls, routes: list[Route], default_route: str | None = None) -> RouteTable:
        compiled = tuple(compile_route(r) for r in routes)
        fallback = CompiledRoute(
            name=UNMATCHED, mode="passthrough", percent=0.0, sticky=None, upstream="openai", salt=UNMATCHED, fallback=False,
            path=None, path_is_prefix=False, headers=(), model=None,
        )
        return cls(
            routes=compiled,
            by_name={r.name: r for r in compiled},
            fallback=fallback,
            needs_model=any(r.model is not None for r in compiled),
            default_route=default_route,
        )

    def select(self, path: str, headers: Mapping[str, str], model: str | None, named: str | None = None) -> CompiledRoute:
        named = named or self.default_route
        if named is not None:
            route = self.by_name.get(named)
            if route is not None:
                return route
        for route in self.routes:
            if route.matches(path, headers, model):
                return route
        return self.fallback

"""Two-phase config loading: parse `proxy.yaml` (and the policy it names)
into the strict schema, then compile it into the `Runtime` the hot path reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from proxy.config.errors import ConfigError, Problem, problems_from_validation
from proxy.config.schema import ProxyConfig
from proxy.config.yamlsource import YamlError, read_yaml


@dataclass(frozen=True)
class Loaded:
    config: ProxyConfig
    policy: Any  # proxy.config.policy.Policy | None; imported lazily, it pulls in the classifier settings
    config_path: Path
    policy_path: Path | None
    prices: Any = None  # proxy.pricing.PriceTable
    router: Any = None  # proxy.routing.router.Router | None

    @property
    def watched(self) -> tuple[Path, ...]:
        ca_files = ()
        if self.config.interception is not None:
            ca_files = self.config.interception.resolve(self.config_path.parent) or ()
        return (self.config_path,) + ((self.policy_path,) if self.policy_path else ()) + tuple(ca_files)


def _validate(path: Path, model: type[BaseModel]) -> BaseModel:
    try:
        source = read_yaml(path)
    except YamlError as exc:
        raise ConfigError.from_yaml(exc) from None
    if not isinstance(source.data, dict):
        raise ConfigError.single(path, f"the file must hold a mapping of keys, not {type(source.data).__name__}", 1)
    try:
        return model.model_validate(source.data)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, source, model)) from None


def load_policy(path: Path) -> object:
    from proxy.config.policy import Policy

    return _validate(path, Policy)


ENV_MODE = "LLM_ROUTER_MODE"
ENV_PERCENT = "LLM_ROUTER_PERCENT"
ENV_ROUTE = "LLM_ROUTER_ROUTE"


def _pod_overrides(config: ProxyConfig, config_path: Path, environ: Mapping[str, str]) -> ProxyConfig:
    """Per-pod rollout settings (set by the Kubernetes webhook from pod annotations) over the shared config."""
    mode, percent, route = environ.get(ENV_MODE), environ.get(ENV_PERCENT), environ.get(ENV_ROUTE)
    if not (mode or percent or route):
        return config
    data = config.model_dump(mode="python")
    try:
        if percent:
            percent_value = float(percent)
        for r in data["routes"]:
            if mode:
                r["mode"] = mode
            if percent:
                r["percent"] = percent_value
        if route:
            data["default_route"] = route
        return ProxyConfig.model_validate(data)
    except (ValueError, ValidationError) as exc:
        detail = "; ".join(e["msg"] for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError.single(
            config_path,
            f"the pod overrides {ENV_MODE}={mode!r} {ENV_PERCENT}={percent!r} {ENV_ROUTE}={route!r} "
            f"do not fit this config: {detail}; fix the llm-router.io/ annotations of the pod",
        ) from None


def load(path: str | os.PathLike[str], previous: Loaded | None = None,
         environ: Mapping[str, str] | None = None) -> Loaded:
    """Load and check `path`; `previous` lets a reload reuse what did not change (the classifier)."""
    config_path = Path(path)
    config = _validate(config_path, ProxyConfig)
    assert isinstance(config, ProxyConfig)
    config = _pod_overrides(config, config_path, os.environ if environ is None else environ)
    problems: list[Problem] = []
    for name, upstream in config.upstreams.items():
        if upstream.api_key_env and upstream.api_key_env not in os.environ:
            problems.append(
                Problem(config_path, None, f"upstreams.{name}.api_key_env",
                        f"environment variable {upstream.api_key_env} is not set; export it or remove api_key_env")
            )
        if upstream.ca_file and not resolve(config_path, upstream.ca_file).is_file():
            problems.append(
                Problem(config_path, None, f"upstreams.{name}.ca_file",
                        f"{resolve(config_path, upstream.ca_file)} does not exist; give the path of a PEM bundle")
            )
    translated = {name: u.provider for name, u in config.upstreams.items() if u.provider != "openai"}
    if translated:
        # Only now, and off the event loop (load runs on a thread during reloads), is LiteLLM imported.
        from proxy.dispatch.litellm_bridge import ensure_loaded, known_providers

        ensure_loaded()
        for name, provider in translated.items():
            if provider not in known_providers():
                problems.append(Problem(config_path, None, f"upstreams.{name}.provider",
                                        f"LiteLLM knows no provider '{provider}'; use one of its provider names, such as anthropic"))
    if config.interception is not None:
        from proxy.interception.ca import CAError
        from proxy.interception.runtime import compile_runtime

        try:
            compile_runtime(config.interception, config_path.parent)
        except CAError as exc:
            problems.append(Problem(config_path, None, "interception", str(exc)))
    policy = None
    policy_path = None
    if config.policy is not None:
        policy_path = resolve(config_path, config.policy)
        if not policy_path.is_file():
            problems.append(Problem(config_path, None, "policy",
                                    f"{policy_path} does not exist; fix the path (relative to "
                                    f"{config_path.parent}) or remove `policy:` to proxy without routing"))
        else:
            try:
                policy = load_policy(policy_path)
            except ConfigError as exc:
                problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    from proxy.pricing import PriceTable

    prices = PriceTable.load(policy.prices if policy is not None else {})
    router = None
    if policy is not None and policy_path is not None:
        from proxy.routing.router import build_router

        router = build_router(policy, policy_path, previous.router if previous is not None else None)
    return Loaded(config=config, policy=policy, config_path=config_path, policy_path=policy_path,
                  prices=prices, router=router)


def resolve(config_path: Path, value: str) -> Path:
    """Paths inside a config file are relative to that file, so a mounted ConfigMap works from any cwd."""
    p = Path(value)
    return p if p.is_absolute() else config_path.parent / p

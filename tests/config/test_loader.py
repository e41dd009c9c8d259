"""Every invalid config is refused with `file:line: key: what and how to fix`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proxy.config import ConfigError, load


def write(tmp_path: Path, text: str, name: str = "proxy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    return [str(p) for p in info.value.problems]


def test_defaults_are_a_valid_passthrough_config(tmp_path):
    loaded = load(write(tmp_path, "{}\n"))
    assert loaded.config.listen == "127.0.0.1:8080"
    assert loaded.config.upstreams["openai"].base_url == "https://api.openai.com"
    assert loaded.policy is None


def test_repository_config_and_policy_are_valid():
    root = Path(__file__).resolve().parents[2]
    loaded = load(root / "proxy.yaml")
    assert loaded.config.routes
    policy_loaded = load(write_policy_config(root))
    assert policy_loaded.policy.tiers.simple.model == "gpt-4o-mini"


def write_policy_config(root: Path) -> Path:
    return root / "examples" / "proxy-with-policy.yaml"


CASES = [
    ("lisen: 127.0.0.1:8080\n", "proxy.yaml:1: lisen: unknown key 'lisen' (check the spelling); allowed keys here: admin,"),
    ("listen: 8080\n", "proxy.yaml:1: listen: expected a string, got int 8080"),
    ("listen: localhost\n", "proxy.yaml:1: listen: 'localhost' is not host:port"),
    ("upstreams:\n  openai:\n    base_url: api.openai.com\n", "proxy.yaml:3: upstreams.openai.base_url: 'api.openai.com' is not an http(s) base URL"),
    ("upstreams:\n  openai:\n    max_connections: '10'\n", "proxy.yaml:3: upstreams.openai.max_connections: expected a whole number, got str '10' (remove the quotes)"),
    ("upstreams:\n  openai:\n    provider: anthropic\n", "proxy.yaml:2: upstreams.openai: provider anthropic needs api_key_env"),
    ("upstreams:\n  openai:\n    provider: Anthropic Inc\n", "proxy.yaml:3: upstreams.openai.provider: provider 'Anthropic Inc' is not a provider name"),
    ("upstreams:\n  openai: {}\n  claude: {provider: anthropic, api_key_env: HOME}\nroutes:\n  - {name: a, upstream: claude}\n",
     "upstream 'claude' (provider anthropic) cannot take a route's traffic"),
    ("upstreams:\n  openai:\n    timeouts: {first_byte_s: 100, total_s: 10}\n", "proxy.yaml:3: upstreams.openai.timeouts: first_byte_s (100.0) is larger than total_s (10.0)"),
    ("upstreams:\n  openai:\n    timeouts: {connect_s: 0}\n", "proxy.yaml:3: upstreams.openai.timeouts.connect_s: Input should be greater than 0"),
    ("routes:\n  - match: {path: /v1/*}\n", "proxy.yaml:2: routes[0].name: required key is missing; add it"),
    ("routes:\n  - name: a\n    mode: canry\n", "proxy.yaml:3: routes[0].mode: Input should be 'passthrough', 'shadow' or 'canary'"),
    ("routes:\n  - name: a\n    mode: canary\n    percent: 5\n", "routes[0] ('a') has mode canary, which needs a routing policy; set `policy:`"),
    ("routes:\n  - name: a\n    percent: 101\n", "proxy.yaml:3: routes[0].percent: Input should be less than or equal to 100"),
    ("routes:\n  - name: a\n    sticky: cookie\n", "proxy.yaml:3: routes[0].sticky: sticky 'cookie' must be 'user' or 'header:NAME'"),
    ("routes:\n  - name: a\n    match: {path: v1/chat}\n", "proxy.yaml:3: routes[0].match.path: path 'v1/chat' must start with '/'"),
    ("routes:\n  - name: a\n    match: {paths: /v1/chat}\n", "proxy.yaml:3: routes[0].match.paths: unknown key 'paths' (check the spelling); allowed keys here: headers, model, path"),
    ("routes:\n  - name: a\n    upstream: azure\n", "routes[0] ('a'): upstream 'azure' is not defined; define it under upstreams or use one of: openai"),
    ("routes:\n  - name: a\n  - name: a\n", "route name 'a' is used twice"),
    ("listen: 127.0.0.1:9000\nadmin: 127.0.0.1:9000\n", "listen and admin are both 127.0.0.1:9000"),
    ("policy: nowhere.yaml\n", "proxy.yaml: policy: "),
    ("policy: nowhere.yaml\n", "nowhere.yaml does not exist; fix the path (relative to "),
    ("listen: [1\n", "proxy.yaml:2: invalid YAML"),
    ("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n", "proxy.yaml:2: duplicate key 'listen' (first at line 1); keep only one"),
    ("- a\n- b\n", "proxy.yaml:1: the file must hold a mapping of keys, not list"),
    ("upstreams:\n  openai:\n    api_key_env: LLM_ROUTER_TEST_UNSET_VAR\n", "upstreams.openai.api_key_env: environment variable LLM_ROUTER_TEST_UNSET_VAR is not set"),
    ("logging: {level: verbose}\n", "proxy.yaml:1: logging.level: Input should be 'debug', 'info', 'warning' or 'error'"),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[1][:40] for c in CASES])
def test_invalid_config_is_explained(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_at_once(tmp_path):
    found = problems(tmp_path, "lisen: x\nlogging: {level: loud}\nroutes: [{name: a, percent: -1}]\n")
    assert len(found) == 3


def test_missing_classifier_artifacts_are_a_config_problem(tmp_path):
    write(tmp_path, "tiers:\n  simple: {model: m}\n  standard: {model: m}\n  complex: {model: m}\n", "policy.yaml")
    found = problems(tmp_path, "policy: policy.yaml\n")
    assert any("policy.yaml: classifier: cannot load the classifier from" in p and "llm-router train" in p for p in found), found


def test_invalid_policy_is_reported_with_its_file_and_line(tmp_path):
    write(tmp_path, "tiers:\n  simple: {model: m}\n  standard: {model: m}\n  complex: {modle: m}\n", "policy.yaml")
    found = problems(tmp_path, "policy: policy.yaml\n")
    assert any("policy.yaml:4: tiers.complex.modle: unknown key 'modle'" in p for p in found), found
    assert any("policy.yaml:4: tiers.complex.model: required key is missing" in p for p in found), found


def test_classifier_settings_errors_point_into_the_policy(tmp_path):
    write(tmp_path, "tiers:\n  simple: {model: m}\n  standard: {model: m}\n  complex: {model: m}\n"
                    "classifier:\n  stages: [tfidf, rules]\n", "policy.yaml")
    found = problems(tmp_path, "policy: policy.yaml\n")
    assert any(p.startswith(str(tmp_path / "policy.yaml") + ":6: classifier.stages:") and "out of order" in p for p in found), found


def test_policy_path_is_relative_to_the_config_file(tmp_path):
    (tmp_path / "conf").mkdir()
    models = Path(__file__).resolve().parents[2] / "policies"
    write(tmp_path / "conf", "tiers:\n  simple: {model: a}\n  standard: {model: b}\n  complex: {model: c}\n"
          f"classifier: {{stages: [rules, tfidf], model_dir: {models / 'models'}, exemplars: {models / 'exemplars' / 'exemplars.yaml'}}}\n",
          "p.yaml")
    loaded = load(write(tmp_path / "conf", "policy: p.yaml\n"))
    assert loaded.policy.tiers.complex.model == "c"
    assert loaded.watched == (tmp_path / "conf" / "proxy.yaml", tmp_path / "conf" / "p.yaml")


def test_pod_annotations_override_mode_percent_and_route(tmp_path):
    models = Path(__file__).resolve().parents[2] / "policies"
    write(tmp_path, "tiers:\n  simple: {model: a}\n  standard: {model: b}\n  complex: {model: c}\n"
          f"classifier: {{stages: [rules], model_dir: {models / 'models'}, exemplars: {models / 'exemplars' / 'exemplars.yaml'}}}\n",
          "policy.yaml")
    path = write(tmp_path, "policy: policy.yaml\nroutes:\n  - {name: a, mode: shadow, percent: 5}\n  - {name: b}\n")
    loaded = load(path, environ={"LLM_ROUTER_MODE": "canary", "LLM_ROUTER_PERCENT": "25.5", "LLM_ROUTER_ROUTE": "b"})
    assert [(r.mode, r.percent) for r in loaded.config.routes] == [("canary", 25.5), ("canary", 25.5)]
    assert loaded.config.default_route == "b"
    with pytest.raises(ConfigError, match="LLM_ROUTER_PERCENT='150'.*fix the llm-router.io/ annotations"):
        load(path, environ={"LLM_ROUTER_PERCENT": "150"})
    with pytest.raises(ConfigError, match="default_route 'nope' is not a route name"):
        load(path, environ={"LLM_ROUTER_ROUTE": "nope"})

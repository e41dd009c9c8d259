"""The `interception:` section: defaults, strictness, and errors that say how to fix them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from proxy.interception.settings import InterceptionSettings


def test_defaults_intercept_openai_and_tunnel_the_rest():
    s = InterceptionSettings()
    assert s.hosts == ["api.openai.com"]
    assert s.ca_cert is None and s.ca_key is None
    assert s.tunnel_others is True and s.tunnel_allow == [] and s.tunnel_ports == []
    assert s.resolve(Path("/cfg")) is None


def test_every_field_is_documented():
    for name, field in InterceptionSettings.model_fields.items():
        assert field.description and len(field.description) > 20, name


def test_paths_resolve_relative_to_the_config_dir(tmp_path):
    s = InterceptionSettings(ca_cert="ca/ca.crt", ca_key="/abs/ca.key")
    assert s.resolve(tmp_path) == (tmp_path / "ca" / "ca.crt", Path("/abs/ca.key"))


def test_hosts_are_normalised():
    s = InterceptionSettings(hosts=["API.OpenAI.com.", "*.openai.azure.com", "10.0.0.1"], tunnel_allow=["*.Example.test"])
    assert s.hosts == ["api.openai.com", "*.openai.azure.com", "10.0.0.1"]
    assert s.tunnel_allow == ["*.example.test"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"hosts": ["https://api.openai.com"]}, "is a URL; give the bare host name"),
        ({"hosts": ["api.openai.com:443"]}, "has a port"),
        ({"hosts": ["bad host"]}, "is not a host name or glob"),
        ({"tunnel_allow": ["a/b"]}, "is a URL"),
        ({"ca_cert": "ca.crt"}, "set ca_key too"),
        ({"ca_key": "ca.key"}, "set ca_cert too"),
        ({"leaf_validity_days": 400}, "less than or equal to 397"),
        ({"max_header_bytes": 10}, "greater than or equal to 256"),
        ({"tunnel_ports": [0]}, "greater than or equal to 1"),
        ({"unknown": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_values_are_rejected_with_a_fix(fields, message):
    with pytest.raises(ValidationError) as info:
        InterceptionSettings.model_validate(fields)
    assert message in str(info.value)


def test_frozen():
    with pytest.raises(ValidationError):
        InterceptionSettings().hosts = []  # type: ignore[misc]

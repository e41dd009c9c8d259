from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# Where the Dockerfile puts policies/ (WORKDIR /app, COPY policies ./policies);
# the ConfigMap's policy points there for the trained models.
IMAGE_POLICIES = "/app/policies/"


def as_in_image(text: str) -> str:
    """A ConfigMap file with image paths mapped onto this checkout, which holds the same files."""
    return text.replace(IMAGE_POLICIES, f"{ROOT}/policies/")


def kustomize(directory: Path) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; `kubectl kustomize` renders deploy/k8s offline")
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> list[dict]:
    return kustomize(K8S)


@pytest.fixture(scope="session")
def rendered_with_cert_manager(tmp_path_factory) -> list[dict]:
    # kustomize refuses a base that is a parent of the overlay, so the overlay
    # that enables the component lives beside a copy of the tree.
    work = tmp_path_factory.mktemp("kustomize")
    shutil.copytree(K8S, work / "k8s")
    overlay = work / "with-cert-manager"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": ["../k8s"], "components": ["../k8s/components/cert-manager"]})
    )
    return kustomize(overlay)


def find(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]

from __future__ import annotations

import copy
import uuid

import jsonpatch
import pytest

from proxy.webhook.settings import InjectionSettings


def make_pod(containers: list[dict] | None = None, *, labels=None, annotations=None, **spec) -> dict:
    metadata: dict = {"generateName": "app-", "namespace": "shop"}
    if labels is not None:
        metadata["labels"] = labels
    if annotations is not None:
        metadata["annotations"] = annotations
    if containers is None:
        containers = [{"name": "app", "image": "shop:1"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"containers": containers, **spec}}


def make_review(pod: object, *, uid: str | None = None, operation: str = "CREATE", kind: str = "Pod") -> dict:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop",
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod,
            "oldObject": None,
            "dryRun": False,
        },
    }


def apply(pod: dict, ops: list[dict]) -> dict:
    return jsonpatch.apply_patch(copy.deepcopy(pod), ops)


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


@pytest.fixture
def settings() -> InjectionSettings:
    return InjectionSettings(image="registry.example/llm-router:1.2.3")

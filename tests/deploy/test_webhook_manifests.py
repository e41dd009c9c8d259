"""The webhook's manifests: never blocking pods, least privilege, hardened,
and every reference between objects pointing at something that exists."""

from __future__ import annotations

import argparse

import pytest

from proxy.webhook import command

from .conftest import find, one


@pytest.fixture(scope="module")
def mwc(rendered) -> dict:
    return one(rendered, "MutatingWebhookConfiguration", "llm-router")


def test_the_webhook_never_blocks_pod_creation(mwc):
    for hook in mwc["webhooks"]:
        assert hook["failurePolicy"] == "Ignore"
        assert hook["sideEffects"] == "None"
        assert hook["reinvocationPolicy"] in {"Never", "IfNeeded"}
        assert hook["timeoutSeconds"] <= 10
        assert hook["admissionReviewVersions"] == ["v1"]
        assert hook["rules"] == [{
            "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
            "resources": ["pods"], "scope": "Namespaced",
        }]


def test_selectors_match_the_documented_opt_in_and_opt_out(mwc, rendered):
    by_namespace, by_pod = mwc["webhooks"]
    assert {"key": "llm-router-injection", "operator": "In", "values": ["enabled"]} in (
        by_namespace["namespaceSelector"]["matchExpressions"]
    )
    assert {"key": "llm-router.io/inject", "operator": "NotIn", "values": ["false"]} in (
        by_namespace["objectSelector"]["matchExpressions"]
    )
    assert by_pod["objectSelector"] == {"matchLabels": {"llm-router.io/inject": "true"}}
    # The webhook's own namespace is never injected (it must not depend on itself).
    webhook_ns = by_pod["clientConfig"]["service"]["namespace"]
    excluded = {v for e in by_pod["namespaceSelector"]["matchExpressions"] for v in e["values"]}
    assert {webhook_ns, "kube-system"} <= excluded
    namespace = one(rendered, "Namespace", webhook_ns)
    assert "llm-router-injection" not in namespace["metadata"].get("labels", {})


def test_client_config_points_at_the_rendered_service(mwc, rendered):
    for hook in mwc["webhooks"]:
        ref = hook["clientConfig"]["service"]
        service = one(rendered, "Service", ref["name"])
        assert service["metadata"]["namespace"] == ref["namespace"]
        assert ref["port"] in [p["port"] for p in service["spec"]["ports"]]
        assert ref["path"] == "/mutate"


def test_service_selects_the_webhook_pods_on_a_declared_port(rendered):
    service = one(rendered, "Service", "llm-router-webhook")
    template = one(rendered, "Deployment", "llm-router-webhook")["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    declared = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= declared


def test_webhook_args_are_understood_by_the_command(rendered):
    container = one(rendered, "Deployment", "llm-router-webhook")["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["llm-router"] and container["args"][0] == "webhook"
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(container["args"][1:])
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(args.tls_cert.parent) in mounts and str(args.tls_key.parent) in mounts
    image_env = {e["name"]: e.get("value") for e in container["env"]}["LLM_ROUTER_SIDECAR_IMAGE"]
    assert image_env == container["image"]


def test_rbac_is_least_privilege(rendered):
    assert not find(rendered, "ClusterRole") and not find(rendered, "ClusterRoleBinding")
    for role in find(rendered, "Role"):
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
            assert set(rule["verbs"]) <= {"get", "patch", "update"}
            assert rule["resourceNames"], "a rule without resourceNames grants every object of the kind"
            assert "secrets" not in rule["resources"]
    for binding in find(rendered, "RoleBinding"):
        namespace = binding["metadata"]["namespace"]
        role = one(rendered, "Role", binding["roleRef"]["name"])
        assert role["metadata"]["namespace"] == namespace
        for subject in binding["subjects"]:
            account = one(rendered, "ServiceAccount", subject["name"])
            assert account["metadata"]["namespace"] == subject["namespace"] == namespace
    webhook_account = one(rendered, "ServiceAccount", "llm-router-webhook")
    assert webhook_account["automountServiceAccountToken"] is False
    assert not [b for b in find(rendered, "RoleBinding")
                if any(s["name"] == "llm-router-webhook" for s in b["subjects"])]


def test_webhook_pod_is_hardened_and_cannot_reach_out(rendered):
    spec = one(rendered, "Deployment", "llm-router-webhook")["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == "llm-router-webhook"
    context = spec["containers"][0]["securityContext"]
    assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["runAsNonRoot"]
    policy = one(rendered, "NetworkPolicy", "llm-router-webhook")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and policy["spec"]["egress"] == []


def test_the_webhook_survives_a_node_drain(rendered):
    deployment = one(rendered, "Deployment", "llm-router-webhook")
    budget = one(rendered, "PodDisruptionBudget", "llm-router-webhook")
    assert deployment["spec"]["replicas"] >= 2
    assert budget["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()

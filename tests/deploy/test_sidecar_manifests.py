"""The hand-written sidecar, the per-namespace ConfigMap and Secret, and the
egress example agree with what the webhook injects and what `serve` accepts."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

import pytest

from proxy.config import load
from proxy.config.address import parse_hostport
from proxy.webhook import command
from proxy.webhook.annotations import INJECTED_LABEL
from proxy.webhook.patch import plan
from proxy.webhook.settings import SIDECAR_NAME
from proxy.webhook.sidecar import app_env, app_mount, pod_volumes, sidecar_container

from .conftest import as_in_image, find, one
from .kubelet_volume import KubeletVolume

# Created by cert-manager or by hand, never by the kustomization.
EXTERNAL_SECRETS = {"llm-router-webhook-tls"}


@pytest.fixture(scope="module")
def example(rendered) -> dict:
    return one(rendered, "Deployment", "chat-app")


@pytest.fixture(scope="module")
def webhook_settings(rendered):
    # Parsed with the command's own parser: exactly what the container runs.
    container = one(rendered, "Deployment", "llm-router-webhook")["spec"]["template"]["spec"]["containers"][0]
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(container["args"][1:])
    args.image = container["image"]
    return command.settings_from(args)


def test_the_hand_written_sidecar_is_exactly_what_the_webhook_injects(example, webhook_settings):
    spec = example["spec"]["template"]["spec"]
    assert spec["initContainers"] == [sidecar_container(webhook_settings)]
    assert spec["volumes"] == pod_volumes(webhook_settings)
    app = spec["containers"][0]
    assert [(e["name"], e["value"]) for e in app["env"]] == app_env(webhook_settings)
    assert app["volumeMounts"] == [app_mount()]
    assert example["spec"]["template"]["metadata"]["labels"][INJECTED_LABEL] == "true"


def test_the_webhook_leaves_the_hand_written_pod_alone(example, webhook_settings):
    pod = {"metadata": example["spec"]["template"]["metadata"], "spec": example["spec"]["template"]["spec"]}
    result = plan(pod, webhook_settings)
    assert result.patch == [] and result.reason == "sidecar already present"


def test_every_volume_source_exists_in_the_pods_namespace(rendered):
    for deployment in find(rendered, "Deployment"):
        namespace = deployment["metadata"]["namespace"]
        for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
            if "configMap" in volume:
                found = one(rendered, "ConfigMap", volume["configMap"]["name"])
                assert found["metadata"]["namespace"] == namespace
            if "secret" in volume and volume["secret"]["secretName"] not in EXTERNAL_SECRETS:
                found = one(rendered, "Secret", volume["secret"]["secretName"])
                assert found["metadata"]["namespace"] == namespace


def test_the_configmap_is_a_valid_config_for_serve(rendered, tmp_path, webhook_settings):
    configmap = one(rendered, "ConfigMap", webhook_settings.config_map)
    assert set(configmap["data"]) == {"proxy.yaml", "policy.yaml"}
    volume = KubeletVolume(tmp_path / "etc-llm-router")
    volume.write({name: as_in_image(text) for name, text in configmap["data"].items()})
    loaded = load(volume.root / "proxy.yaml")
    assert loaded.policy is not None
    listen_host, listen_port = parse_hostport(loaded.config.listen)
    admin_host, admin_port = parse_hostport(loaded.config.admin)
    # The app reaches the proxy on loopback only; the kubelet probes the admin
    # port on the pod IP.
    assert listen_host == "127.0.0.1" and admin_host == "0.0.0.0"
    assert (listen_port, admin_port) == (webhook_settings.proxy_port, webhook_settings.admin_port)
    assert urlsplit(webhook_settings.proxy_url).port == listen_port


def test_the_ca_secret_ships_without_key_material(rendered, webhook_settings):
    secret = one(rendered, "Secret", webhook_settings.ca_secret)
    assert not secret.get("data") and not secret.get("stringData")


def test_the_demo_namespace_is_labelled_for_injection_and_restricted(rendered, example):
    namespace = one(rendered, "Namespace", example["metadata"]["namespace"])
    labels = namespace["metadata"]["labels"]
    assert labels["llm-router-injection"] == "enabled"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_example_pod_meets_the_restricted_pod_security_standard(example):
    spec = example["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in spec["initContainers"] + spec["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"]
    for volume in spec["volumes"]:
        assert set(volume) - {"name"} <= {"configMap", "secret", "emptyDir", "projected", "downwardAPI"}


def test_the_egress_example_gives_the_provider_only_to_injected_pods(rendered, example):
    namespace = example["metadata"]["namespace"]
    policies = [p for p in find(rendered, "NetworkPolicy") if p["metadata"]["namespace"] == namespace]
    with_sidecar = [p for p in policies if p["spec"]["podSelector"].get("matchLabels") == {INJECTED_LABEL: "true"}]
    without = [p for p in policies if {"key": INJECTED_LABEL, "operator": "DoesNotExist"}
               in p["spec"]["podSelector"].get("matchExpressions", [])]
    assert len(with_sidecar) == 1 and len(without) == 1
    provider = [peer["ipBlock"]["cidr"] for rule in with_sidecar[0]["spec"]["egress"]
                for peer in rule.get("to", []) if "ipBlock" in peer]
    excepted = [c for rule in without[0]["spec"]["egress"] for peer in rule["to"] for c in peer["ipBlock"]["except"]]
    assert provider and set(provider) <= set(excepted)


def test_sidecar_name_is_unique_in_the_example(example):
    spec = example["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["initContainers"] + spec["containers"]].count(SIDECAR_NAME) == 1

"""What gets added to a pod, as plain Kubernetes dicts.

The hand-written example in `deploy/k8s/app/example-deployment.yaml` holds the
same container; a test keeps the two identical.
"""

from __future__ import annotations

from proxy.webhook.annotations import Overrides
from proxy.webhook.settings import (
    CA_DIR,
    CA_VOLUME,
    CONFIG_DIR,
    CONFIG_FILE,
    CONFIG_VOLUME,
    SIDECAR_NAME,
    TMP_VOLUME,
    TRUST_BUNDLE,
    TRUST_DIR,
    TRUST_VOLUME,
    InjectionSettings,
)


def _probe(path: str, port: int, period_s: int, failures: int) -> dict:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period_s,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def sidecar_container(settings: InjectionSettings, overrides: Overrides | None = None) -> dict:
    overrides = overrides or Overrides()
    env: list[dict] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        # Where the sidecar writes the trust bundle (system CAs + the
        # interception CA) that app containers read through the shared volume.
        {"name": "LLM_ROUTER_TRUST_BUNDLE", "value": TRUST_BUNDLE},
    ]
    env += [{"name": name, "value": value} for name, value in overrides.sidecar_env()]
    return {
        "name": SIDECAR_NAME,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["llm-router"],
        "args": ["serve", "-c", CONFIG_FILE],
        # A native sidecar (Kubernetes >= 1.29): starts before the app
        # containers, and for Jobs is stopped after they finish.
        "restartPolicy": "Always",
        "ports": [
            {"name": "llm-proxy", "containerPort": settings.proxy_port, "protocol": "TCP"},
            {"name": "llm-admin", "containerPort": settings.admin_port, "protocol": "TCP"},
        ],
        "env": env,
        "resources": settings.resources.as_dict(),
        # The app containers start once this succeeds, so their first call
        # already finds the proxy ready and the trust bundle written.
        "startupProbe": _probe("/readyz", settings.admin_port, period_s=1, failures=120),
        "readinessProbe": _probe("/readyz", settings.admin_port, period_s=5, failures=2),
        "livenessProbe": _probe("/healthz", settings.admin_port, period_s=10, failures=3),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.run_as_user,
            "runAsGroup": settings.run_as_user,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": CONFIG_VOLUME, "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": CA_VOLUME, "mountPath": CA_DIR, "readOnly": True},
            {"name": TRUST_VOLUME, "mountPath": TRUST_DIR},
            {"name": TMP_VOLUME, "mountPath": "/tmp"},
        ],
    }


def pod_volumes(settings: InjectionSettings) -> list[dict]:
    return [
        {"name": CONFIG_VOLUME, "configMap": {"name": settings.config_map}},
        # 0444 rather than 0400: secret files belong to root and the sidecar
        # runs as an unprivileged user; only the sidecar mounts this volume,
        # so no app container can read the key.
        {"name": CA_VOLUME, "secret": {"secretName": settings.ca_secret, "defaultMode": 0o444}},
        {"name": TRUST_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}},
        {"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}},
    ]


def app_env(settings: InjectionSettings) -> list[tuple[str, str]]:
    no_proxy = ",".join(settings.no_proxy)
    return [
        # Both spellings: curl and Go read the lowercase one first, some
        # clients read only one of them.
        ("HTTPS_PROXY", settings.proxy_url),
        ("https_proxy", settings.proxy_url),
        ("NO_PROXY", no_proxy),
        ("no_proxy", no_proxy),
        # Node's built-in fetch and http(s) ignore the proxy variables unless
        # this is set (Node 24, recent 22.x); other runtimes ignore it.
        ("NODE_USE_ENV_PROXY", "1"),
        # Python ssl/httpx, requests, and Node each read their own variable.
        # The bundle holds the system CAs too, since SSL_CERT_FILE replaces
        # the default trust store rather than adding to it.
        ("SSL_CERT_FILE", TRUST_BUNDLE),
        ("REQUESTS_CA_BUNDLE", TRUST_BUNDLE),
        ("NODE_EXTRA_CA_CERTS", TRUST_BUNDLE),
    ]


# An existing NO_PROXY list is extended rather than kept as is: without the
# cluster-internal entries, the app's in-cluster calls would detour through
# the sidecar's blind tunnel.
MERGED_ENV = frozenset({"NO_PROXY", "no_proxy"})


def app_mount() -> dict:
    return {"name": TRUST_VOLUME, "mountPath": TRUST_DIR, "readOnly": True}

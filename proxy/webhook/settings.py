"""What the webhook injects, as one frozen value built from the command line."""

from __future__ import annotations

from dataclasses import dataclass

SIDECAR_NAME = "llm-router"

CONFIG_VOLUME = "llm-router-config"
CA_VOLUME = "llm-router-ca"
TRUST_VOLUME = "llm-router-trust"
TMP_VOLUME = "llm-router-tmp"

# The ConfigMap is mounted as a whole directory, never with subPath: only a
# directory mount sees the kubelet's atomic `..data` swap, which is what makes
# a ConfigMap edit reach the running sidecar.
CONFIG_DIR = "/etc/llm-router"
CONFIG_FILE = f"{CONFIG_DIR}/proxy.yaml"
# Kept outside CONFIG_DIR: a mount point cannot be created inside the
# read-only ConfigMap volume.
CA_DIR = "/etc/llm-router-ca"
TRUST_DIR = "/etc/llm-router-trust"
TRUST_BUNDLE = f"{TRUST_DIR}/ca-bundle.pem"

# Cluster-internal destinations stay direct: pod and service ranges of the
# common CNIs (RFC 1918), link-local (cloud metadata), and in-cluster DNS names.
DEFAULT_NO_PROXY: tuple[str, ...] = (
    "localhost",
    "127.0.0.1",
    "::1",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    ".svc",
    ".cluster.local",
    "kubernetes.default",
)


@dataclass(frozen=True)
class Resources:
    # Measured: ~60 MB RSS idle without a policy, ~105 MB with rules + TF-IDF,
    # ~265 MB with the embedding stage (its MiniLM session alone is ~160 MB).
    # The request covers the common case; the limit covers the embedding stage
    # plus bursts (large bodies, many tunnels) without starving the app.
    cpu_request: str = "50m"
    memory_request: str = "128Mi"
    cpu_limit: str = "1"
    memory_limit: str = "384Mi"

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class InjectionSettings:
    image: str = "llm-router:0.1.0"
    image_pull_policy: str = "IfNotPresent"
    config_map: str = "llm-router-config"
    ca_secret: str = "llm-router-ca"
    # Must match `listen` and `admin` in the ConfigMap's proxy.yaml.
    proxy_port: int = 8080
    admin_port: int = 8081
    no_proxy: tuple[str, ...] = DEFAULT_NO_PROXY
    # False: every pod the MutatingWebhookConfiguration sends (labelled
    # namespaces) is injected unless it opts out. True: only pods that opt in.
    require_opt_in: bool = False
    run_as_user: int = 10001
    resources: Resources = Resources()

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

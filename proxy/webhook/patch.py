"""The injection decision: a pod dict in, JSONPatch operations out.

Pure and synchronous, so every case is a plain function call in the tests.
A list or map the pod does not have yet is added whole (RFC 6902 cannot
append to a missing array), and map keys in paths are escaped (`/` -> `~1`,
`~` -> `~0`), which every `llm-router.io/...` annotation needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from proxy.webhook import annotations as ann
from proxy.webhook.settings import SIDECAR_NAME, TRUST_DIR, TRUST_VOLUME, InjectionSettings
from proxy.webhook.sidecar import MERGED_ENV, app_env, app_mount, pod_volumes, sidecar_container

PROXY_VARS = ("HTTPS_PROXY", "https_proxy")


class MalformedPod(ValueError):
    """The object is not shaped like a pod; the review is allowed unchanged."""


@dataclass(frozen=True)
class Plan:
    patch: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    injected: bool = False
    reason: str = ""


def escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def plan(pod: object, settings: InjectionSettings) -> Plan:
    if not isinstance(pod, Mapping):
        raise MalformedPod("the object is not a mapping")
    metadata = _mapping(pod.get("metadata"), "metadata")
    spec = pod.get("spec")
    if not isinstance(spec, Mapping):
        raise MalformedPod("the pod has no spec")
    labels = _string_map(metadata.get("labels"), "metadata.labels")
    annotations = _string_map(metadata.get("annotations"), "metadata.annotations")

    wanted, reason, warnings = ann.injection_wanted(labels, annotations, settings.require_opt_in)
    if not wanted:
        return Plan(warnings=warnings, reason=reason)
    containers = _list(spec.get("containers"), "spec.containers")
    init_containers = _list(spec.get("initContainers"), "spec.initContainers")
    if any(c.get("name") == SIDECAR_NAME for c in containers + init_containers):
        return Plan(warnings=warnings, reason="sidecar already present")
    blocker = _blocker(spec, containers + init_containers, settings)
    if blocker:
        return Plan(warnings=warnings + [f"llm-router not injected: {blocker}"], reason=blocker)

    overrides, override_warnings = ann.read_overrides(annotations)
    warnings += override_warnings
    ops = _extend("/spec/initContainers", spec.get("initContainers"), [sidecar_container(settings, overrides)])
    ops += _extend("/spec/volumes", spec.get("volumes"), pod_volumes(settings))
    for index, container in enumerate(containers):
        if container.get("name") in overrides.exclude_containers:
            continue
        container_ops, container_warnings = _container_ops(index, container, settings, overrides.override_env)
        ops += container_ops
        warnings += container_warnings
    ops += _marker_ops(pod, metadata)
    return Plan(patch=ops, warnings=warnings, injected=True, reason=reason)


def _blocker(spec: Mapping, containers: list[Mapping], settings: InjectionSettings) -> str | None:
    """A reason the sidecar cannot work in this pod, which then stays as it is."""
    if spec.get("hostNetwork"):
        return "the pod uses hostNetwork, where the sidecar's loopback ports are the node's"
    if not spec.get("containers"):
        return "the pod has no containers"
    ours = {settings.proxy_port, settings.admin_port}
    for container in containers:
        for port in _list(container.get("ports"), "ports"):
            if port.get("containerPort") in ours:
                return (
                    f"container {container.get('name')} uses port {port.get('containerPort')}, which the sidecar needs; "
                    "move the sidecar with --proxy-port/--admin-port and the ConfigMap's listen/admin"
                )
    taken = {v.get("name") for v in _list(spec.get("volumes"), "spec.volumes")}
    clash = sorted(taken & {v["name"] for v in pod_volumes(settings)})
    if clash:
        return f"the pod already has a volume named {clash[0]}"
    return None


def _container_ops(
    index: int, container: Mapping, settings: InjectionSettings, override: bool
) -> tuple[list[dict], list[str]]:
    name = container.get("name")
    base = f"/spec/containers/{index}"
    env = _list(container.get("env"), f"container {name} env")
    # The last entry of a repeated name is the one the kubelet uses.
    position = {entry.get("name"): i for i, entry in enumerate(env)}
    ours = dict(app_env(settings))
    for var in PROXY_VARS:
        if var in position and not override and env[position[var]].get("value") != ours[var]:
            # The app routes through a proxy of its own; pointing its trust
            # store at our bundle would only break that proxy.
            return [], [
                f"container {name} sets {var}; left unchanged "
                f'(annotate {ann.OVERRIDE_ENV}="true" to route it through llm-router)'
            ]

    ops: list[dict] = []
    warnings: list[str] = []
    appended: list[dict] = []
    for var, value in ours.items():
        if var not in position:
            appended.append({"name": var, "value": value})
            continue
        at = position[var]
        current = env[at]
        if override:
            ops.append({"op": "replace", "path": f"{base}/env/{at}", "value": {"name": var, "value": value}})
        elif var in MERGED_ENV and isinstance(current.get("value"), str):
            merged = _merge_list(current["value"], value)
            if merged != current["value"]:
                ops.append({"op": "replace", "path": f"{base}/env/{at}/value", "value": merged})
        elif current.get("value") != value and var not in MERGED_ENV:
            warnings.append(
                f"container {name} sets {var}; kept, so intercepted HTTPS may not trust the sidecar's CA "
                f'(annotate {ann.OVERRIDE_ENV}="true" to replace it)'
            )
    ops += _extend(f"{base}/env", container.get("env"), appended)
    if container.get("envFrom"):
        warnings.append(f"container {name} uses envFrom; the injected proxy variables take precedence over it")

    mounts = _list(container.get("volumeMounts"), f"container {name} volumeMounts")
    if any(m.get("mountPath") == TRUST_DIR or m.get("name") == TRUST_VOLUME for m in mounts):
        warnings.append(f"container {name} already mounts {TRUST_DIR}; trust bundle mount not added")
    else:
        ops += _extend(f"{base}/volumeMounts", container.get("volumeMounts"), [app_mount()])
    return ops, warnings


def _merge_list(existing: str, ours: str) -> str:
    present = [e.strip() for e in existing.split(",") if e.strip()]
    missing = [e for e in ours.split(",") if e not in present]
    return ",".join(present + missing)


def _marker_ops(pod: Mapping, metadata: Mapping) -> list[dict]:
    """Mark the pod: an annotation for people, a label for selectors (NetworkPolicy, kubectl -l)."""
    marks = {"annotations": (ann.STATUS, "injected"), "labels": (ann.INJECTED_LABEL, "true")}
    if "metadata" not in pod or pod["metadata"] is None:
        return [{"op": "add", "path": "/metadata", "value": {field: {k: v} for field, (k, v) in marks.items()}}]
    ops = []
    for field_name, (key, value) in marks.items():
        if metadata.get(field_name) is None:
            ops.append({"op": "add", "path": f"/metadata/{field_name}", "value": {key: value}})
        else:
            ops.append({"op": "add", "path": f"/metadata/{field_name}/{escape(key)}", "value": value})
    return ops


def _extend(path: str, current: object, items: list[dict]) -> list[dict]:
    if not items:
        return []
    if current is None:
        return [{"op": "add", "path": path, "value": items}]
    return [{"op": "add", "path": f"{path}/-", "value": item} for item in items]


def _mapping(value: object, what: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedPod(f"{what} is not a mapping")
    return value


def _string_map(value: object, what: str) -> Mapping[str, str]:
    mapping = _mapping(value, what)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise MalformedPod(f"{what} must map strings to strings")
    return mapping


def _list(value: object, what: str) -> list[Mapping]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise MalformedPod(f"{what} is not a list of mappings")
    return value

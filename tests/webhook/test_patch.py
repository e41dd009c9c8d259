import pytest

from proxy.webhook.annotations import EXCLUDE_CONTAINERS, INJECT, INJECTED_LABEL, OVERRIDE_ENV, STATUS
from proxy.webhook.patch import MalformedPod, escape, plan
from proxy.webhook.settings import SIDECAR_NAME, TRUST_BUNDLE, TRUST_DIR, InjectionSettings
from proxy.webhook.sidecar import pod_volumes

from .conftest import apply, env_of, make_pod


def sidecars(pod: dict) -> list[dict]:
    everything = pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
    return [c for c in everything if c["name"] == SIDECAR_NAME]


def test_escape_handles_slash_and_tilde():
    assert escape("llm-router.io/status") == "llm-router.io~1status"
    assert escape("a~b/c") == "a~0b~1c"


def test_a_bare_pod_gets_every_list_added_whole(settings):
    pod = make_pod()
    result = plan(pod, settings)
    assert result.injected and result.warnings == []
    paths = [op["path"] for op in result.patch]
    assert "/spec/initContainers" in paths and "/spec/volumes" in paths
    assert "/spec/containers/0/env" in paths and "/spec/containers/0/volumeMounts" in paths
    assert "/metadata/annotations" in paths
    patched = apply(pod, result.patch)
    assert len(sidecars(patched)) == 1
    assert patched["spec"]["initContainers"][0]["restartPolicy"] == "Always"
    assert patched["metadata"]["annotations"] == {STATUS: "injected"}
    assert patched["metadata"]["labels"] == {INJECTED_LABEL: "true"}
    app = patched["spec"]["containers"][0]
    assert env_of(app)["HTTPS_PROXY"] == "http://127.0.0.1:8080"
    assert env_of(app)["SSL_CERT_FILE"] == TRUST_BUNDLE
    assert app["volumeMounts"] == [{"name": "llm-router-trust", "mountPath": TRUST_DIR, "readOnly": True}]
    assert [v["name"] for v in patched["spec"]["volumes"]] == [v["name"] for v in pod_volumes(settings)]


def test_existing_lists_are_appended_to_and_kept(settings):
    pod = make_pod(
        [{"name": "app", "image": "shop:1", "env": [{"name": "DEBUG", "value": "1"}],
          "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        labels={"app": "shop"},
        annotations={"team": "shop"},
        initContainers=[{"name": "migrate", "image": "shop:1"}],
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    patched = apply(pod, plan(pod, settings).patch)
    spec = patched["spec"]
    # Appended after the pod's own init containers, so those are not delayed
    # by the sidecar's startup.
    assert [c["name"] for c in spec["initContainers"]] == ["migrate", SIDECAR_NAME]
    assert spec["volumes"][0] == {"name": "data", "emptyDir": {}}
    app = spec["containers"][0]
    assert app["env"][0] == {"name": "DEBUG", "value": "1"}
    assert app["volumeMounts"][0] == {"name": "data", "mountPath": "/data"}
    assert patched["metadata"]["annotations"] == {"team": "shop", STATUS: "injected"}
    assert patched["metadata"]["labels"] == {"app": "shop", INJECTED_LABEL: "true"}


def test_values_the_pod_sets_are_not_clobbered(settings):
    pod = make_pod([{"name": "app", "image": "shop:1", "env": [
        {"name": "SSL_CERT_FILE", "value": "/etc/ssl/mine.pem"},
        {"name": "NO_PROXY", "value": "db.internal, localhost"},
        {"name": "REQUESTS_CA_BUNDLE", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}}},
    ]}])
    result = plan(pod, settings)
    env = env_of(apply(pod, result.patch)["spec"]["containers"][0])
    assert env["SSL_CERT_FILE"] == "/etc/ssl/mine.pem"
    assert env["REQUESTS_CA_BUNDLE"] is None  # still the valueFrom entry
    assert env["HTTPS_PROXY"] == "http://127.0.0.1:8080"
    assert env["NODE_EXTRA_CA_CERTS"] == TRUST_BUNDLE
    # NO_PROXY is extended, the pod's own entries first.
    assert env["NO_PROXY"].startswith("db.internal,localhost,127.0.0.1")
    assert ".svc" in env["NO_PROXY"].split(",")
    assert any("SSL_CERT_FILE" in w for w in result.warnings)
    assert any("REQUESTS_CA_BUNDLE" in w for w in result.warnings)


def test_override_annotation_replaces_the_pods_values(settings):
    pod = make_pod(
        [{"name": "app", "image": "shop:1", "env": [
            {"name": "HTTPS_PROXY", "value": "http://corp:3128"},
            {"name": "SSL_CERT_FILE", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ]}],
        annotations={OVERRIDE_ENV: "true"},
    )
    env = apply(pod, plan(pod, settings).patch)["spec"]["containers"][0]["env"]
    assert {"name": "HTTPS_PROXY", "value": "http://127.0.0.1:8080"} in env
    assert {"name": "SSL_CERT_FILE", "value": TRUST_BUNDLE} in env
    assert len([e for e in env if e["name"] == "HTTPS_PROXY"]) == 1


def test_a_container_with_its_own_proxy_is_left_alone(settings):
    pod = make_pod([
        {"name": "app", "image": "shop:1"},
        {"name": "legacy", "image": "old:1", "env": [{"name": "https_proxy", "value": "http://corp:3128"}]},
    ])
    result = plan(pod, settings)
    patched = apply(pod, result.patch)
    assert patched["spec"]["containers"][1] == pod["spec"]["containers"][1]
    assert "HTTPS_PROXY" in env_of(patched["spec"]["containers"][0])
    assert any("legacy" in w and "https_proxy" in w for w in result.warnings)


def test_excluded_containers_get_nothing(settings):
    pod = make_pod(
        [{"name": "app", "image": "shop:1"}, {"name": "debug", "image": "busybox"}],
        annotations={EXCLUDE_CONTAINERS: "debug"},
    )
    patched = apply(pod, plan(pod, settings).patch)
    assert "env" not in patched["spec"]["containers"][1]
    assert "env" in patched["spec"]["containers"][0]


@pytest.mark.parametrize("where", ["initContainers", "containers"])
def test_a_pod_with_the_sidecar_is_untouched(settings, where):
    pod = make_pod()
    pod["spec"].setdefault(where, []).append({"name": SIDECAR_NAME, "image": "whatever"})
    result = plan(pod, settings)
    assert (result.patch, result.injected, result.reason) == ([], False, "sidecar already present")


def test_injection_is_idempotent(settings):
    once = apply(make_pod(), plan(make_pod(), settings).patch)
    assert plan(once, settings).patch == []


def test_opted_out_pod_is_untouched(settings):
    result = plan(make_pod(annotations={INJECT: "false"}), settings)
    assert result.patch == [] and result.reason == "pod opted out"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"hostNetwork": True}, "hostNetwork"),
        ({"volumes": [{"name": "llm-router-config", "emptyDir": {}}]}, "llm-router-config"),
    ],
)
def test_pods_the_sidecar_cannot_serve_are_left_alone_with_a_warning(settings, spec, fragment):
    result = plan(make_pod(**spec), settings)
    assert result.patch == [] and not result.injected
    assert len(result.warnings) == 1 and fragment in result.warnings[0]


def test_port_clash_with_an_app_container_skips_injection(settings):
    pod = make_pod([{"name": "web", "image": "w", "ports": [{"containerPort": 8080}]}])
    result = plan(pod, settings)
    assert result.patch == [] and "port 8080" in result.warnings[0]
    assert plan(pod, InjectionSettings(proxy_port=15080, admin_port=15081)).injected


def test_env_from_is_warned_about(settings):
    pod = make_pod([{"name": "app", "image": "a", "envFrom": [{"configMapRef": {"name": "cfg"}}]}])
    assert any("envFrom" in w for w in plan(pod, settings).warnings)


def test_a_pod_without_metadata_gets_metadata(settings):
    pod = {"spec": {"containers": [{"name": "app", "image": "a"}]}}
    assert apply(pod, plan(pod, settings).patch)["metadata"] == {
        "annotations": {STATUS: "injected"},
        "labels": {INJECTED_LABEL: "true"},
    }


@pytest.mark.parametrize(
    "pod",
    [
        [],
        {"metadata": {}, "spec": None},
        {"metadata": [], "spec": {"containers": []}},
        {"metadata": {"labels": {"a": 1}}, "spec": {"containers": []}},
        {"spec": {"containers": "app"}},
        {"spec": {"containers": [{"name": "a", "env": "X=1"}]}},
    ],
)
def test_malformed_pods_raise(settings, pod):
    with pytest.raises(MalformedPod):
        plan(pod, settings)

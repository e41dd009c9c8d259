from proxy.webhook.annotations import Overrides
from proxy.webhook.settings import CONFIG_FILE, TRUST_BUNDLE, InjectionSettings
from proxy.webhook.sidecar import app_env, app_mount, pod_volumes, sidecar_container


def test_sidecar_is_native_and_runs_serve_with_the_mounted_config(settings):
    sidecar = sidecar_container(settings)
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["image"] == "registry.example/llm-router:1.2.3"
    assert sidecar["command"] + sidecar["args"] == ["llm-router", "serve", "-c", CONFIG_FILE]


def test_sidecar_is_hardened():
    context = sidecar_container(InjectionSettings())["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] != 0
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_probes_use_the_admin_port():
    sidecar = sidecar_container(InjectionSettings(admin_port=15081))
    assert sidecar["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 15081}
    assert sidecar["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 15081}
    assert sidecar["startupProbe"]["httpGet"] == {"path": "/readyz", "port": 15081}


def test_every_sidecar_mount_has_a_volume():
    settings = InjectionSettings()
    volumes = {v["name"] for v in pod_volumes(settings)}
    assert {m["name"] for m in sidecar_container(settings)["volumeMounts"]} == volumes
    assert app_mount()["name"] in volumes and app_mount()["readOnly"] is True


def test_overrides_reach_the_sidecar_env():
    sidecar = sidecar_container(InjectionSettings(), Overrides(mode="shadow", percent="10"))
    env = {e["name"]: e.get("value") for e in sidecar["env"]}
    assert env["LLM_ROUTER_MODE"] == "shadow" and env["LLM_ROUTER_PERCENT"] == "10"
    assert "LLM_ROUTER_ROUTE" not in env
    assert env["LLM_ROUTER_TRUST_BUNDLE"] == TRUST_BUNDLE


def test_app_env_points_both_proxy_spellings_and_all_trust_variables():
    env = dict(app_env(InjectionSettings()))
    assert env["HTTPS_PROXY"] == env["https_proxy"] == "http://127.0.0.1:8080"
    assert env["NO_PROXY"] == env["no_proxy"]
    assert env["NODE_USE_ENV_PROXY"] == "1"
    assert {env["SSL_CERT_FILE"], env["REQUESTS_CA_BUNDLE"], env["NODE_EXTRA_CA_CERTS"]} == {TRUST_BUNDLE}

import base64
import ssl

import aiohttp
import orjson
import pytest
import trustme
from structlog.testing import capture_logs

from proxy.webhook import server
from proxy.webhook.annotations import INJECT, STATUS
from proxy.webhook.server import CertificateReloader, build_app, start
from proxy.webhook.settings import SIDECAR_NAME, TRUST_BUNDLE, InjectionSettings

from .conftest import apply, env_of, make_pod, make_review

SERVICE_NAME = "llm-router-webhook.llm-router.svc"


def issue(ca: trustme.CA, directory):
    leaf = ca.issue_cert(SERVICE_NAME, "127.0.0.1")
    cert, key = directory / "tls.crt", directory / "tls.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return cert, key


@pytest.fixture
def ca():
    return trustme.CA()


@pytest.fixture
async def start_webhook(ca, tmp_path):
    runners = []

    async def _start(settings: InjectionSettings):
        reloader = CertificateReloader(*issue(ca, tmp_path))
        runner, port = await start(build_app(settings, reloader, reload_s=3600), "127.0.0.1", 0, reloader.context)
        runners.append(runner)
        return f"https://127.0.0.1:{port}", reloader

    yield _start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def client(ca):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield session


async def post_review(client, url, pod) -> tuple[dict, dict]:
    review = make_review(pod)
    async with client.post(f"{url}/mutate", json=review) as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        body = await response.json()
    answer = body["response"]
    assert answer["uid"] == review["request"]["uid"] and answer["allowed"] is True
    if "patch" not in answer:
        return pod, answer
    assert answer["patchType"] == "JSONPatch"
    return apply(pod, orjson.loads(base64.b64decode(answer["patch"]))), answer


def sidecar_count(pod: dict) -> int:
    spec = pod["spec"]
    return sum(c["name"] == SIDECAR_NAME for c in spec.get("initContainers", []) + spec["containers"])


async def test_healthz_over_https(start_webhook, client):
    url, _ = await start_webhook(InjectionSettings())
    async with client.get(f"{url}/healthz") as response:
        assert response.status == 200


async def test_namespace_opt_in_injects_a_pod_without_any_env(start_webhook, client):
    url, _ = await start_webhook(InjectionSettings(image="registry.example/llm-router:9"))
    patched, answer = await post_review(client, url, make_pod())
    assert sidecar_count(patched) == 1
    sidecar = patched["spec"]["initContainers"][0]
    assert sidecar["image"] == "registry.example/llm-router:9" and sidecar["restartPolicy"] == "Always"
    mounted = {m["name"] for m in sidecar["volumeMounts"]}
    assert mounted <= {v["name"] for v in patched["spec"]["volumes"]}
    env = env_of(patched["spec"]["containers"][0])
    assert env["HTTPS_PROXY"] == env["https_proxy"] == "http://127.0.0.1:8080"
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == env["NODE_EXTRA_CA_CERTS"] == TRUST_BUNDLE
    assert patched["metadata"]["annotations"][STATUS] == "injected"
    assert "warnings" not in answer


async def test_pod_annotation_opts_in_when_the_server_requires_it(start_webhook, client):
    url, _ = await start_webhook(InjectionSettings(require_opt_in=True))
    untouched, _ = await post_review(client, url, make_pod())
    assert sidecar_count(untouched) == 0
    patched, _ = await post_review(client, url, make_pod(annotations={INJECT: "true"}))
    assert sidecar_count(patched) == 1


async def test_pod_annotation_opts_out_of_a_labelled_namespace(start_webhook, client):
    url, _ = await start_webhook(InjectionSettings())
    pod = make_pod(annotations={INJECT: "false"})
    patched, answer = await post_review(client, url, pod)
    assert patched == pod and "patch" not in answer


async def test_existing_env_and_init_containers_are_kept(start_webhook, client):
    url, _ = await start_webhook(InjectionSettings())
    pod = make_pod(
        [{"name": "app", "image": "shop:1", "env": [
            {"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {"name": "openai", "key": "key"}}},
            {"name": "NODE_EXTRA_CA_CERTS", "value": "/certs/corp.pem"},
        ]}],
        initContainers=[{"name": "wait-db", "image": "busybox"}],
    )
    patched, answer = await post_review(client, url, pod)
    spec = patched["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["wait-db", SIDECAR_NAME]
    env = spec["containers"][0]["env"]
    assert env[:2] == pod["spec"]["containers"][0]["env"]
    assert env_of(spec["containers"][0])["HTTPS_PROXY"] == "http://127.0.0.1:8080"
    assert any("NODE_EXTRA_CA_CERTS" in w for w in answer["warnings"])


async def test_a_pod_with_the_sidecar_is_left_alone(start_webhook, client):
    url, _ = await start_webhook(InjectionSettings())
    once, _ = await post_review(client, url, make_pod())
    twice, answer = await post_review(client, url, once)
    assert twice == once and "patch" not in answer
    assert sidecar_count(twice) == 1


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"request": {"uid": "x"}}'])
async def test_malformed_review_is_allowed_with_a_warning_and_logged(start_webhook, client, body):
    url, _ = await start_webhook(InjectionSettings())
    with capture_logs() as logs:
        async with client.post(f"{url}/mutate", data=body, headers={"content-type": "application/json"}) as response:
            answer = (await response.json())["response"]
    assert response.status == 200 and answer["allowed"] is True
    assert "patch" not in answer and answer["warnings"]
    assert [e["log_level"] for e in logs if e["event"] == "admission review"] == ["warning"]


async def test_an_internal_error_still_admits_the_pod(start_webhook, client, monkeypatch):
    def broken(body, settings):
        raise KeyError("bug")

    monkeypatch.setattr(server, "respond", broken)
    url, _ = await start_webhook(InjectionSettings())
    pod = make_pod()
    with capture_logs() as logs:
        patched, answer = await post_review(client, url, pod)
    assert patched == pod and "internal error" in answer["warnings"][0]
    assert any(e["event"] == "admission review failed" and e["log_level"] == "error" for e in logs)


async def test_a_renewed_certificate_is_served_to_new_connections(start_webhook, tmp_path):
    url, reloader = await start_webhook(InjectionSettings())
    assert reloader.reload_if_changed() is False
    renewed = trustme.CA()
    issue(renewed, tmp_path)
    assert reloader.reload_if_changed() is True
    context = ssl.create_default_context()
    renewed.configure_trust(context)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        async with session.get(f"{url}/healthz") as response:
            assert response.status == 200


async def test_a_half_written_certificate_keeps_the_last_good_one(start_webhook, tmp_path):
    _, reloader = await start_webhook(InjectionSettings())
    (tmp_path / "tls.crt").write_text("-----BEGIN CERTIFICATE-----\ntruncated")
    with capture_logs() as logs:
        assert reloader.reload_if_changed() is False
    assert logs[0]["event"] == "serving certificate not reloaded"

import argparse
import json
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request

import pytest
import structlog
import trustme

from proxy.webhook import command
from proxy.webhook.settings import DEFAULT_NO_PROXY

from .conftest import make_pod, make_review


@pytest.fixture(autouse=True)
def restore_logging():
    # `run` configures structlog for the process; later tests must not write
    # to this test's captured stdout.
    yield
    structlog.reset_defaults()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(["--tls-cert", "c.pem", "--tls-key", "k.pem", *argv])


def test_defaults_follow_the_contract():
    args = parse()
    assert args.listen == "0.0.0.0:8443"
    settings = command.settings_from(args)
    assert (settings.proxy_port, settings.admin_port) == (8080, 8081)
    assert settings.no_proxy == DEFAULT_NO_PROXY and settings.require_opt_in is False


def test_flags_reach_the_settings():
    args = parse("--image", "r/x:2", "--no-proxy", "db.corp, .svc", "--require-opt-in", "--proxy-port", "15080")
    settings = command.settings_from(args)
    assert settings.image == "r/x:2" and settings.proxy_port == 15080 and settings.require_opt_in
    assert settings.no_proxy == DEFAULT_NO_PROXY + ("db.corp",)


def test_image_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("LLM_ROUTER_SIDECAR_IMAGE", "registry.example/llm-router@sha256:abc")
    assert parse().image == "registry.example/llm-router@sha256:abc"


def test_bad_listen_and_missing_certificate_fail_with_a_message(tmp_path, capsys):
    assert command.run(parse("--listen", "nowhere")) == 2
    assert "--listen" in capsys.readouterr().err
    args = parse("--listen", "127.0.0.1:1")
    args.tls_cert, args.tls_key = tmp_path / "missing.crt", tmp_path / "missing.key"
    assert command.run(args) == 1
    assert "cannot load" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(30)
def test_the_command_serves_reviews_and_stops_cleanly_on_sigterm(tmp_path):
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy", "webhook", "--tls-cert", str(tmp_path / "tls.crt"),
         "--tls-key", str(tmp_path / "tls.key"), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        started = json.loads(process.stdout.readline())
        assert started["event"] == "webhook listening" and started["port"] == port
        context = ssl.create_default_context()
        ca.configure_trust(context)
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}/mutate",
            data=json.dumps(make_review(make_pod(), uid="e2e")).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            answer = json.load(response)["response"]
        assert answer["uid"] == "e2e" and answer["allowed"] is True and answer["patch"]
        logged = json.loads(process.stdout.readline())
        assert logged["event"] == "admission review" and logged["injected"] is True
        assert logged["level"] == "info" and "timestamp" in logged
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err.decode()

"""`llm-router ca init` and `llm-router ca bundle`, through the real command line."""

from __future__ import annotations

import os
import stat

import pytest

from proxy import cli
from proxy.interception.bundle import pem_certificates


@pytest.fixture(autouse=True)
def ca_command(monkeypatch):
    # Registered the way proxy/cli.py lists its commands.
    monkeypatch.setitem(cli.COMMANDS, "ca", ("proxy.interception.command", "interception CA and trust bundle"))


def test_init_then_bundle(tmp_path, capsys):
    assert cli.main(["ca", "init", "--out", str(tmp_path / "ca")]) == 0
    out = capsys.readouterr().out
    assert "SHA-256 fingerprint" in out
    key = tmp_path / "ca" / "ca.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert key.read_bytes() not in out.encode()
    assert cli.main(["ca", "bundle", "--ca-cert", str(tmp_path / "ca" / "ca.crt"), "--out", str(tmp_path / "bundle.pem")]) == 0
    assert "system CA(s)" in capsys.readouterr().out
    assert len(pem_certificates((tmp_path / "bundle.pem").read_bytes())) > 10


def test_init_twice_needs_force(tmp_path, capsys):
    assert cli.main(["ca", "init", "--out", str(tmp_path)]) == 0
    assert cli.main(["ca", "init", "--out", str(tmp_path)]) == 1
    assert "--force" in capsys.readouterr().err
    assert cli.main(["ca", "init", "--out", str(tmp_path), "--force"]) == 0


def test_bundle_without_a_ca_fails_with_a_hint(tmp_path, capsys):
    assert cli.main(["ca", "bundle", "--ca-cert", str(tmp_path / "none.crt"), "--out", str(tmp_path / "b.pem")]) == 1
    assert "llm-router ca init" in capsys.readouterr().err


def test_a_subcommand_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["ca"])
    assert info.value.code == 2

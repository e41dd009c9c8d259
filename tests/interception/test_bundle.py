"""The trust bundle: the system store plus our CA, never a bundle nested in itself."""

from __future__ import annotations

import ssl

import pytest

from proxy.interception.bundle import (
    BundleError,
    build_bundle,
    pem_certificates,
    system_certificates,
    write_bundle,
)


def test_bundle_has_the_system_store_and_our_ca(ca_files, tmp_path):
    out = tmp_path / "bundle.pem"
    bundle = write_bundle(out, ca_files.cert)
    source, system = system_certificates()
    assert bundle.system_source == source and bundle.system_count == len(system) > 10
    blocks = pem_certificates(out.read_bytes())
    assert len(blocks) == len(system) + 1
    assert blocks[-1].strip() == ca_files.cert.read_bytes().strip()
    ctx = ssl.create_default_context(cafile=str(out))
    assert ctx.cert_store_stats()["x509_ca"] == len(system) + 1


def test_ssl_cert_file_pointing_at_the_bundle_is_not_read_back(ca_files, tmp_path, monkeypatch):
    out = tmp_path / "bundle.pem"
    write_bundle(out, ca_files.cert)
    monkeypatch.setenv("SSL_CERT_FILE", str(out))
    first = out.read_bytes()
    write_bundle(out, ca_files.cert)
    assert out.read_bytes() == first


def test_duplicates_are_dropped(ca_files):
    ours = ca_files.cert.read_bytes()
    data = build_bundle(ours, pem_certificates(ours) * 2)
    assert len(pem_certificates(data)) == 1


def test_explicit_system_store(ca_files, other_ca_pem, tmp_path):
    out = tmp_path / "b.pem"
    bundle = write_bundle(out, ca_files.cert, system_ca=other_ca_pem)
    assert bundle.system_count == 1 and len(pem_certificates(out.read_bytes())) == 2


def test_errors_say_what_to_do(tmp_path, ca_files):
    with pytest.raises(BundleError, match="llm-router ca init"):
        write_bundle(tmp_path / "b.pem", tmp_path / "missing.crt")
    (tmp_path / "junk").write_text("junk")
    with pytest.raises(BundleError, match="not PEM"):
        write_bundle(tmp_path / "b.pem", tmp_path / "junk")
    with pytest.raises(BundleError, match="--system-ca"):
        write_bundle(tmp_path / "b.pem", ca_files.cert, system_ca=tmp_path / "nope.pem")

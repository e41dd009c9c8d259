"""The CA: created with a private key file, loaded with checks, minting leaves
that a strict TLS client accepts for exactly their host."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import stat

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from proxy.interception.ca import CAError, create_ca, key_file_is_private, load_ca
from proxy.interception.leaves import server_context


@pytest.fixture(scope="module")
def ca(ca_files):
    return load_ca(ca_files.cert, ca_files.key)


def test_create_writes_a_private_key_and_a_ca_certificate(tmp_path):
    cert_path, key_path = create_ca(tmp_path / "ca")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert key_file_is_private(key_path)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert not list(tmp_path.glob("ca/*.tmp"))


def test_create_refuses_to_overwrite_without_force(tmp_path):
    cert_path, _ = create_ca(tmp_path)
    before = cert_path.read_bytes()
    with pytest.raises(CAError, match="--force"):
        create_ca(tmp_path)
    assert cert_path.read_bytes() == before
    create_ca(tmp_path, force=True)
    assert cert_path.read_bytes() != before


def test_load_errors_say_what_to_do(tmp_path, ca_files):
    with pytest.raises(CAError, match="llm-router ca init"):
        load_ca(tmp_path / "missing.crt", ca_files.key)
    other_cert, other_key = create_ca(tmp_path / "other")
    with pytest.raises(CAError, match="is not the key of"):
        load_ca(ca_files.cert, other_key)
    (tmp_path / "junk.pem").write_text("not a cert")
    with pytest.raises(CAError, match="not a PEM certificate"):
        load_ca(tmp_path / "junk.pem", other_key)
    with pytest.raises(CAError, match="not an unencrypted PEM private key"):
        load_ca(other_cert, tmp_path / "junk.pem")
    leaf = trustme.CA().issue_cert("leaf.test")
    (tmp_path / "leaf.crt").write_bytes(leaf.cert_chain_pems[0].bytes())
    (tmp_path / "leaf.key").write_bytes(leaf.private_key_pem.bytes())
    with pytest.raises(CAError, match="not a CA certificate"):
        load_ca(tmp_path / "leaf.crt", tmp_path / "leaf.key")


def test_group_readable_key_is_reported(tmp_path):
    _, key_path = create_ca(tmp_path)
    os.chmod(key_path, 0o644)
    assert not key_file_is_private(key_path)


def test_leaf_is_short_lived_for_its_host_and_signed_by_the_ca(ca):
    leaf = ca.mint("api.openai.com", validity_days=7)
    cert = leaf.cert
    cert.verify_directly_issued_by(ca.cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.openai.com"]
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=6) < lifetime <= dt.timedelta(days=7)
    assert isinstance(leaf.key, ec.EllipticCurvePrivateKey)


def test_leaf_for_an_ip_address_uses_an_ip_san(ca):
    san = ca.mint("10.1.2.3", 1).cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext, hostname: str) -> ssl.SSLObject:
    """A TLS handshake in memory, no sockets; raises what the client's verification raises."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(c_in, c_out, server_hostname=hostname)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (c, s):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass  # waiting for the other side's next flight
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    c.do_handshake()
    return c


def test_a_strict_client_accepts_the_leaf_for_its_host_only(ca, ca_files):
    """OpenSSL with X509_STRICT (the default of newer Pythons) checks the extensions a lax one skips."""
    server = server_context(ca.mint("api.openai.com", 7), ca)
    client = ssl.create_default_context(cafile=str(ca_files.cert))
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    assert _handshake(client, server, "api.openai.com").getpeercert()["subjectAltName"] == (("DNS", "api.openai.com"),)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(client, server, "other.test")


def test_key_never_leaves_memory_as_a_file(ca, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    server_context(ca.mint("api.openai.com", 7), ca)
    assert list(tmp_path.iterdir()) == []


def test_serialisation_round_trip_is_pkcs8(ca):
    pem = ca.mint("a.test", 1).chain_pem(ca.cert_pem)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pem.count(b"BEGIN CERTIFICATE") == 2
    serialization.load_pem_private_key(pem.split(b"-----END PRIVATE KEY-----")[0] + b"-----END PRIVATE KEY-----\n", None)

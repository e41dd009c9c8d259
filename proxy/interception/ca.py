"""The interception CA: create it, load it, mint leaf certificates with it.

Everything is done with `cryptography`; nothing shells out to `openssl`.
Keys are ECDSA P-256: generating one takes ~0.1 ms against ~50 ms for RSA
2048, and every TLS client in use accepts it. Leaf keys are never written
anywhere; the CA key is written once, by `create_ca`, with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT_NAME = "ca.crt"
CA_KEY_NAME = "ca.key"
CA_VALIDITY_DAYS = 3650
# Leaves start an hour in the past so a client whose clock is a little behind still accepts them.
_BACKDATE = dt.timedelta(hours=1)


from proxy.interception.errors import CAError  # noqa: E402  (re-exported: callers import it from here too)


@dataclass(frozen=True, slots=True)
class Leaf:
    host: str
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    not_after: dt.datetime

    def chain_pem(self, ca_cert_pem: bytes) -> bytes:
        """Key, leaf and CA as one PEM blob (the form `SSLContext.load_cert_chain` reads)."""
        key_pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return key_pem + self.cert.public_bytes(serialization.Encoding.PEM) + ca_cert_pem


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def create_ca(out_dir: Path, *, force: bool = False, common_name: str = "llm-router interception CA") -> tuple[Path, Path]:
    """Write a new CA as `out_dir/ca.crt` and `out_dir/ca.key` (0600); returns both paths."""
    cert_path, key_path = out_dir / CA_CERT_NAME, out_dir / CA_KEY_NAME
    if not force:
        existing = [str(p) for p in (cert_path, key_path) if p.exists()]
        if existing:
            raise CAError(f"{' and '.join(existing)} already exist; pass --force to replace them (apps trusting the old CA must get the new bundle)")
    out_dir.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "llm-router"),
    ])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_VALIDITY_DAYS))
        # path_length=0: this CA signs leaves only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_private(key_path, key_pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _write_private(path: Path, data: bytes) -> None:
    # Created with 0600 from the start (not chmod-ed afterwards) so the key is never readable by others, even briefly.
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class CertificateAuthority:
    """A loaded CA that mints leaf certificates."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, source: str = "<memory>"):
        self.cert = cert
        self.key = key
        self.source = source
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self._aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the CA certificate, for logs (identifies the CA without revealing anything)."""
        return self.cert.fingerprint(hashes.SHA256()).hex()

    def mint(self, host: str, validity_days: int) -> Leaf:
        """A fresh leaf for `host` (a DNS name or an IP address), signed by this CA."""
        now = _now()
        not_after = min(now + dt.timedelta(days=validity_days), self.cert.not_valid_after_utc)
        key = _new_key()
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            san = x509.DNSName(host)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(self._aki, critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return Leaf(host=host, cert=cert, key=key, not_after=not_after)


def load_ca(cert_path: Path, key_path: Path) -> CertificateAuthority:
    """Load and check a CA; every failure is a `CAError` that names the file and the fix."""
    hint = "create one with `llm-router ca init --out DIR` and point interception.ca_cert/ca_key at it"
    try:
        cert_bytes = cert_path.read_bytes()
    except OSError as exc:
        raise CAError(f"cannot read interception.ca_cert {cert_path}: {exc.strerror}; {hint}") from None
    try:
        key_bytes = key_path.read_bytes()
    except OSError as exc:
        raise CAError(f"cannot read interception.ca_key {key_path}: {exc.strerror}; {hint}") from None
    try:
        cert = x509.load_pem_x509_certificate(cert_bytes)
    except ValueError:
        raise CAError(f"{cert_path} is not a PEM certificate; {hint}") from None
    try:
        key = serialization.load_pem_private_key(key_bytes, password=None)
    except (ValueError, TypeError):
        raise CAError(f"{key_path} is not an unencrypted PEM private key; {hint}") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise CAError(f"{key_path} holds a {type(key).__name__}; the CA key must be ECDSA or RSA ({hint})")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        raise CAError(f"{key_path} is not the key of {cert_path}; use the ca.crt and ca.key written together by `llm-router ca init`")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CAError(f"{cert_path} is not a CA certificate (basicConstraints CA:TRUE missing); {hint}")
    if cert.not_valid_after_utc <= _now():
        raise CAError(f"{cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d}; create a new CA with `llm-router ca init --force` and redistribute the bundle")
    return CertificateAuthority(cert, key, source=str(cert_path))


def key_file_is_private(key_path: Path) -> bool:
    """False when group or others may read the CA key (worth a warning, not a refusal: Kubernetes mounts Secrets 0444)."""
    try:
        mode = key_path.stat().st_mode
    except OSError:
        return True
    return not mode & (stat.S_IRWXG | stat.S_IRWXO)

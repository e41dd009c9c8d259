"""The trust bundle apps point `SSL_CERT_FILE` / `REQUESTS_CA_BUNDLE` /
`NODE_EXTRA_CA_CERTS` at: the system CA store plus the interception CA.

`SSL_CERT_FILE` replaces a Python client's trust store instead of adding to
it, so a bundle with our CA alone would break every other HTTPS call of the
app. The system store is looked up where OpenSSL and the common
distributions keep it, never through `SSL_CERT_FILE` itself when that
already names the bundle (a re-run would otherwise nest bundles).
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL)

# Debian/Ubuntu, RHEL/Fedora, OpenSUSE, Alpine/macOS Homebrew; after OpenSSL's own defaults.
_WELL_KNOWN = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


class BundleError(Exception):
    """No system CA store was found, or the bundle could not be written."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    system_source: str
    system_count: int


def pem_certificates(data: bytes) -> list[bytes]:
    return _PEM.findall(data)


def _candidates(exclude: Path | None) -> list[Path]:
    paths = ssl.get_default_verify_paths()
    names: list[str] = []
    env_file = os.environ.get(paths.openssl_cafile_env)
    if env_file:
        names.append(env_file)
    names.append(paths.openssl_cafile)
    names.extend(_WELL_KNOWN)
    try:
        import certifi
    except ImportError:  # certifi is optional: the distribution's store comes first anyway
        pass
    else:
        names.append(certifi.where())
    seen: set[Path] = set()
    out = []
    for name in names:
        path = Path(name)
        real = path.resolve()
        if real in seen or (exclude is not None and real == exclude.resolve()):
            continue
        seen.add(real)
        out.append(path)
    return out


def system_certificates(exclude: Path | None = None) -> tuple[str, list[bytes]]:
    """(where from, PEM blocks) of the first system store found that holds certificates."""
    for path in _candidates(exclude):
        try:
            certs = pem_certificates(path.read_bytes())
        except OSError:
            continue
        if certs:
            return str(path), certs
    capath = Path(ssl.get_default_verify_paths().openssl_capath)
    certs = []
    if capath.is_dir():
        for entry in sorted(capath.iterdir()):
            if entry.suffix in (".pem", ".crt") or re.fullmatch(r"[0-9a-f]{8}\.\d+", entry.name):
                try:
                    certs.extend(pem_certificates(entry.read_bytes()))
                except OSError:
                    continue
    if certs:
        return str(capath), certs
    raise BundleError(
        "no system CA store found (looked at $SSL_CERT_FILE, OpenSSL's default, "
        + ", ".join(_WELL_KNOWN)
        + ", certifi); install the ca-certificates package or pass --system-ca FILE"
    )


def build_bundle(ca_cert_pem: bytes, system: list[bytes]) -> bytes:
    """System certificates (deduplicated) followed by the CA, as PEM text."""
    ours = pem_certificates(ca_cert_pem)
    if not ours:
        raise BundleError("the CA certificate is not PEM; give the ca.crt written by `llm-router ca init`")
    seen: set[bytes] = set()
    blocks = []
    for block in [*system, *ours]:
        key = b"".join(block.split())
        if key in seen:
            continue
        seen.add(key)
        blocks.append(block.replace(b"\r\n", b"\n"))
    return b"\n".join(blocks) + b"\n"


def write_bundle(out: Path, ca_cert: Path, *, system_ca: Path | None = None) -> Bundle:
    """Write system CAs + `ca_cert` to `out` atomically (readers never see a half-written file)."""
    try:
        ca_pem = ca_cert.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read the CA certificate {ca_cert}: {exc.strerror}; run `llm-router ca init --out DIR` first") from None
    if system_ca is not None:
        try:
            source, system = str(system_ca), pem_certificates(system_ca.read_bytes())
        except OSError as exc:
            raise BundleError(f"cannot read --system-ca {system_ca}: {exc.strerror}") from None
    else:
        source, system = system_certificates(exclude=out)
    data = build_bundle(ca_pem, system)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except OSError as exc:
        raise BundleError(f"cannot write {out}: {exc.strerror}") from None
    return Bundle(path=out, system_source=source, system_count=len(system))

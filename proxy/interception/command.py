"""`llm-router ca init --out DIR [--force]` and `llm-router ca bundle --out FILE [--ca-cert PATH]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="ca_command", metavar="SUBCOMMAND", required=True)
    init = sub.add_parser(
        "init",
        help="create the interception CA (ca.crt, and ca.key with mode 0600)",
        description="Create the CA that mints certificates for intercepted hosts. Point interception.ca_cert and "
        "interception.ca_key in proxy.yaml at the two files; keep ca.key secret.",
    )
    init.add_argument("--out", required=True, type=Path, help="directory to write ca.crt and ca.key into")
    init.add_argument("--force", action="store_true", help="replace an existing CA (apps must then get the new bundle)")
    bundle = sub.add_parser(
        "bundle",
        help="write the trust bundle: system CAs + the interception CA",
        description="Write the system CA store plus the interception CA as one PEM file, for the app's "
        "SSL_CERT_FILE, REQUESTS_CA_BUNDLE or NODE_EXTRA_CA_CERTS.",
    )
    bundle.add_argument("--out", required=True, type=Path, help="bundle file to write")
    bundle.add_argument("--ca-cert", type=Path, default=Path("ca/ca.crt"), help="the CA certificate (default: %(default)s)")
    bundle.add_argument("--system-ca", type=Path, default=None, help="system CA store to include instead of the one found automatically")


def run(args: argparse.Namespace) -> int:
    if args.ca_command == "init":
        return _init(args.out, args.force)
    return _bundle(args.out, args.ca_cert, args.system_ca)


def _init(out: Path, force: bool) -> int:
    from proxy.interception.ca import CAError, create_ca, load_ca

    try:
        cert_path, key_path = create_ca(out, force=force)
        ca = load_ca(cert_path, key_path)
    except CAError as exc:
        print(f"llm-router ca init: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"llm-router ca init: cannot write to {out}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {cert_path} and {key_path} (mode 0600)")
    print(f"CA SHA-256 fingerprint: {ca.fingerprint}")
    print("next: set interception.ca_cert/ca_key in proxy.yaml, and give apps the bundle from "
          f"`llm-router ca bundle --ca-cert {cert_path} --out ca-bundle.pem`")
    return 0


def _bundle(out: Path, ca_cert: Path, system_ca: Path | None) -> int:
    from proxy.interception.bundle import BundleError, write_bundle

    try:
        bundle = write_bundle(out, ca_cert, system_ca=system_ca)
    except BundleError as exc:
        print(f"llm-router ca bundle: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {bundle.path}: {bundle.system_count} system CA(s) from {bundle.system_source} + {ca_cert}")
    return 0

"""`llm-router webhook`: serve the mutating admission webhook over HTTPS."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import sys
from pathlib import Path

import structlog

from proxy import logs
from proxy.config.address import parse_hostport
from proxy.webhook.settings import DEFAULT_NO_PROXY, InjectionSettings

log = structlog.get_logger("llm_router.webhook")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = InjectionSettings()
    add = parser.add_argument
    add("--tls-cert", required=True, type=Path, help="PEM certificate the API server sees (re-read when it changes)")
    add("--tls-key", required=True, type=Path, help="PEM private key of --tls-cert")
    add("--listen", default="0.0.0.0:8443", help="host:port to serve HTTPS on (default: %(default)s)")
    add(
        "--image",
        default=os.environ.get("LLM_ROUTER_SIDECAR_IMAGE", defaults.image),
        help="sidecar image (default: $LLM_ROUTER_SIDECAR_IMAGE, else %(default)s)",
    )
    add("--image-pull-policy", default=defaults.image_pull_policy, choices=["Always", "IfNotPresent", "Never"])
    add("--config-map", default=defaults.config_map, help="ConfigMap with proxy.yaml and the policy, in the pod's namespace")
    add("--ca-secret", default=defaults.ca_secret, help="Secret with the interception CA (ca.crt, ca.key) in the pod's namespace")
    add("--proxy-port", type=int, default=defaults.proxy_port, help="port of the ConfigMap's `listen` (default: %(default)s)")
    add("--admin-port", type=int, default=defaults.admin_port, help="port of the ConfigMap's `admin` (default: %(default)s)")
    add("--no-proxy", default="", help="comma-separated destinations to keep direct, added to the defaults")
    add("--require-opt-in", action="store_true", help="inject only pods that set llm-router.io/inject=true")
    add("--cert-reload-s", type=float, default=30.0, help="how often the certificate files are checked (default: %(default)s)")
    add("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def settings_from(args: argparse.Namespace) -> InjectionSettings:
    extra = tuple(e.strip() for e in args.no_proxy.split(",") if e.strip() and e.strip() not in DEFAULT_NO_PROXY)
    return InjectionSettings(
        image=args.image,
        image_pull_policy=args.image_pull_policy,
        config_map=args.config_map,
        ca_secret=args.ca_secret,
        proxy_port=args.proxy_port,
        admin_port=args.admin_port,
        no_proxy=DEFAULT_NO_PROXY + extra,
        require_opt_in=args.require_opt_in,
    )


def run(args: argparse.Namespace) -> int:
    logs.configure(args.log_level)
    try:
        host, port = parse_hostport(args.listen)
    except ValueError as exc:
        print(f"llm-router webhook: --listen: {exc}", file=sys.stderr)
        return 2
    for flag in ("proxy_port", "admin_port"):
        if not 0 < getattr(args, flag) < 65536:
            print(f"llm-router webhook: --{flag.replace('_', '-')} must be a port from 1 to 65535", file=sys.stderr)
            return 2
    # Imported here so `--help` and argument errors stay instant.
    from proxy.webhook.server import CertificateReloader, build_app, start

    try:
        reloader = CertificateReloader(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        print(f"llm-router webhook: cannot load --tls-cert/--tls-key: {exc}", file=sys.stderr)
        return 1
    settings = settings_from(args)
    app = build_app(settings, reloader, reload_s=args.cert_reload_s)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner, bound = await start(app, host, port, reloader.context)
        log.info("webhook listening", host=host, port=bound, image=settings.image, require_opt_in=settings.require_opt_in)
        try:
            await stop.wait()
        finally:
            log.info("webhook stopping")
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except OSError as exc:
        print(f"llm-router webhook: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 1
    return 0

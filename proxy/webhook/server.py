"""The HTTPS edge: POST /mutate answers AdmissionReviews, GET /healthz for probes.

The serving certificate is re-read when its files change, because cert-manager
(or a person) renews it by updating the mounted Secret; an admission webhook
with an expired certificate silently stops injecting.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from pathlib import Path

import orjson
import structlog
from aiohttp import web

from proxy.spawn import Spawner
from proxy.webhook.review import error_outcome, respond
from proxy.webhook.settings import InjectionSettings

log = structlog.get_logger("llm_router.webhook")

SETTINGS = web.AppKey("settings", InjectionSettings)
# Pod specs are small, but a review carries the object twice on UPDATE and
# large env/config blocks exist; well under the API server's own limits.
MAX_REVIEW_BYTES = 8 * 1024 * 1024


class CertificateReloader:
    """Keeps a server SSLContext loaded with the newest cert/key pair."""

    def __init__(self, cert: Path, key: Path):
        self.cert = cert
        self.key = key
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._seen = self._fingerprint()
        self.context.load_cert_chain(cert, key)

    def _fingerprint(self) -> tuple:
        # os.stat follows the Secret volume's `..data` symlinks, so a swap
        # shows up as a new inode even when sizes and times look alike.
        return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in (os.stat(self.cert), os.stat(self.key)))

    def reload_if_changed(self) -> bool:
        try:
            current = self._fingerprint()
            if current == self._seen:
                return False
            # New handshakes use the new pair; open connections keep theirs.
            self.context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            # Mid-rotation the pair can be briefly inconsistent; keep serving
            # the last good one and look again next time.
            log.warning("serving certificate not reloaded", error=str(exc))
            return False
        self._seen = current
        log.info("serving certificate reloaded", cert=str(self.cert))
        return True

    async def watch(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self.reload_if_changed()


def build_app(
    settings: InjectionSettings, reloader: CertificateReloader | None = None, reload_s: float = 30.0
) -> web.Application:
    app = web.Application(client_max_size=MAX_REVIEW_BYTES)
    app[SETTINGS] = settings
    app.router.add_post("/mutate", mutate)
    app.router.add_get("/healthz", healthz)
    if reloader is not None:

        async def watch_certificates(_: web.Application):
            background = Spawner("webhook-certificates", limit=1)
            background.spawn(lambda: reloader.watch(reload_s))
            yield
            await background.close()

        app.cleanup_ctx.append(watch_certificates)
    return app


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def mutate(request: web.Request) -> web.Response:
    started = time.perf_counter()
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        body = b""
        outcome = error_outcome(body, "review larger than the webhook accepts")
    else:
        try:
            outcome = respond(body, request.app[SETTINGS])
        except Exception as exc:  # a bug here must still admit the pod; it is logged with its traceback
            log.exception("admission review failed")
            outcome = error_outcome(body, type(exc).__name__)
    fields = outcome.log | {"duration_ms": round((time.perf_counter() - started) * 1000, 3)}
    if fields.get("malformed") or fields.get("warnings"):
        log.warning("admission review", **fields)
    else:
        log.info("admission review", **fields)
    return web.Response(body=orjson.dumps(outcome.review), content_type="application/json")


async def start(app: web.Application, host: str, port: int, context: ssl.SSLContext) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (for cleanup) and the bound port (for port 0)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context, reuse_address=True)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, bound

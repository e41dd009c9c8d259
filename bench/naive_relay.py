"""A reference point, not a product: the plainest aiohttp relay one would write in an afternoon.

One catch-all route, one pooled `ClientSession`, the request's method, path, query, headers and
body forwarded, the answer streamed back with `iter_any()`, uvloop, no access log. `compare.py`
measures it beside llm-router (as `aiohttp-relay`) so that the cost of llm-router's own code can
be told apart from the cost of aiohttp itself.

Run: python bench/naive_relay.py --port 18090 --upstream http://127.0.0.1:19000
"""

from __future__ import annotations

import argparse
import sys

import aiohttp
from aiohttp import web

HOP_BY_HOP = frozenset(
    h.lower() for h in ("Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
                        "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length")
)
SESSION = web.AppKey("session", aiohttp.ClientSession)


def make_app(upstream: str) -> web.Application:
    async def session_ctx(app: web.Application):
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
        async with aiohttp.ClientSession(upstream, connector=connector, auto_decompress=False,
                                         timeout=aiohttp.ClientTimeout(total=600)) as session:
            app[SESSION] = session
            yield

    async def relay(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        async with request.app[SESSION].request(request.method, request.rel_url, headers=headers,
                                                data=body or None, allow_redirects=False) as up:
            out_headers = {k: v for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP}
            if up.content_length is not None and up.content_type != "text/event-stream":
                return web.Response(status=up.status, body=await up.read(), headers=out_headers)
            resp = web.StreamResponse(status=up.status, headers=out_headers)
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_get("/-/ready", health)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18090)
    p.add_argument("--upstream", required=True)
    args = p.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    web.run_app(make_app(args.upstream), host=args.host, port=args.port, access_log=None, print=None,
                loop=loop_factory() if loop_factory else None, handle_signals=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

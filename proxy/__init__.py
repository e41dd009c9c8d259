"""llm-router: a sidecar that carries an app's OpenAI traffic and routes it by request complexity.

The map. Connections arrive at the listener (`proxy.interception.listener`),
which hands plain HTTP to the HTTP/1.1 server (`proxy.http.inbound`: asyncio
protocols and llhttp) and terminates CONNECT tunnels to intercepted hosts with
a minted certificate, so every request, however it came, reaches
`proxy.pipeline.Pipeline.handle`. Upstream calls go through pooled keep-alive
connections (`proxy.http.outbound`). The pipeline reads the active
`Runtime` once (`proxy.server`: the compiled config, swapped whole by the
hot-reload watcher in `proxy.config`), fills a `RequestRecord`
(`proxy.record`) and runs the stages:

    parse -> route (proxy.routing.table) -> classify (proxy.classifier)
          -> decide: tier, model, sticky arm (proxy.routing.decide, .bucket)
          -> passthrough | shadow (proxy.routing.shadow) | canary + guardrail (proxy.routing.guardrail)
          -> dispatch: model chain with retries, breakers, fallbacks (proxy.dispatch)
          -> relay the answer as it arrives (proxy.http.relay), watching usage (proxy.observe)
          -> span, metrics, cost (proxy.telemetry, proxy.pricing) and the access log line

Decisions (route selection, classification, the arm and model choice, the
guardrail verdict, config compilation) are pure functions of plain data; I/O
lives at the edges (listener, relay, dispatch, telemetry export, watcher).
Background work is started only through `proxy.spawn.Spawner`. A failure in
routing or classification fails open: the request is passed through.
"""

import sys as _sys

# structlog's development console renderer imports `rich` (and pygments) when it is installed,
# which costs a sidecar ~8 MB of RSS for a renderer it never uses. Hide rich while structlog
# loads; anything imported later may still use it.
if "structlog" not in _sys.modules and "rich" not in _sys.modules:
    _sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        del _sys.modules["rich"]

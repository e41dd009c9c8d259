"""llm-router: a sidecar that carries an app's OpenAI traffic and routes it by request complexity.

The map. A request arrives on the listener (`proxy.server.Sidecar.handle`),
which reads the active `Runtime` once: the compiled config (`proxy.config`:
strict schema -> `Loaded` -> `Runtime`, swapped whole by the hot-reload
watcher). The body is read within `limits`, the route is picked by a pure
function of path, headers and requested model (`proxy.routing.table`), and
the request is dispatched to that route's upstream (`proxy.http.relay`) over
the upstream's pooled session (`proxy.http.upstream`). The answer is relayed
back as it arrives; only the proxy's own failures become an OpenAI-shaped
error (`proxy.http.errors`). Every request ends in one JSON access log line
(`proxy.logs`) and the counters behind `/metrics` (`proxy.admin`).

Decisions (route selection, classification in `proxy.classifier`) are pure
functions of plain data; I/O lives at the edges (listener, relay, watcher).
Background work is started only through `proxy.spawn.Spawner`.
"""

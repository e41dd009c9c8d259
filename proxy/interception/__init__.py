"""HTTPS_PROXY interception: CONNECT on the proxy's one listener.

An app with `HTTPS_PROXY=http://127.0.0.1:8080` and our CA in its trust
bundle keeps calling `https://api.openai.com`; its client sends
`CONNECT api.openai.com:443` to the listener, which answers with TLS from a
leaf certificate minted for that host and serves the requests inside through
the same HTTP server and handler as reverse-proxy requests. CONNECTs to other hosts
become blind byte tunnels (or a 403).

- `settings`: the `interception:` config section.
- `ca`: create/load the CA, mint leaves (`cryptography`, ECDSA P-256).
- `leaves`: per-host TLS contexts, minted on first use, kept in an LRU.
- `bundle`: system CAs + our CA, for `SSL_CERT_FILE` and friends.
- `connect`: pure CONNECT parsing and the intercept/tunnel/refuse decision.
- `tunnel`: the blind byte tunnel.
- `runtime`: settings compiled with the loaded CA and leaf cache; what a reload swaps.
- `listener`: the socket edge: `start_listener`, `Listener`, `intercepted_host`.
- `command`: `llm-router ca init|bundle`.
"""

"""`llm-router demo`: the real sidecar in front of a simulated OpenAI-compatible upstream.

`simulated` is the upstream (canned answers, locally counted tokens,
per-model latencies scaled down), `runner` starts both on loopback and sends
the bundled traffic through the sidecar with the official `openai` client,
and `summary` turns the sidecar's own spans and shadow log into the tables
the command prints.
"""

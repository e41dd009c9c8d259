"""Command modules of the `llm-router` CLI (see proxy.cli)."""

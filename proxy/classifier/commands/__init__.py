"""`classify`, `train` and `eval` commands (registered in proxy/cli.py)."""

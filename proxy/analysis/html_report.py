"""One self-contained HTML page: the CLI's text, figures as inline SVG, no external resources.

A report is mailed, attached to tickets and opened on machines without
network access, so everything it needs is inside the file: styles inline,
charts as SVG, no scripts, no fonts or CDNs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; line-height: 1.35; }
.charts { display: flex; flex-wrap: wrap; gap: 1.2em; }
.charts svg { border: 1px solid #ddd; background: #fff; }
.note { color: #555; font-size: 0.9em; }
"""


def page(title: str, subtitle: str, text: str, charts: Sequence[str], notes: Sequence[str] = ()) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">{escape(subtitle)} · generated {stamp} by llm-router</p>',
        '<h2>Charts</h2><div class="charts">',
        *charts,
        "</div>",
        "<h2>Figures (as printed by the command)</h2>",
        f"<pre>{escape(text)}</pre>",
        *(f'<p class="note">{escape(n)}</p>' for n in notes),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")

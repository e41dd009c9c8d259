"""The HTML reports render in a real headless browser and show the figures the CLI printed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from proxy.cli import main
from tests.analysis.conftest import FAQ, HARD

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def _render(html: Path, tmp_path: Path) -> tuple[str, bytes]:
    """The DOM after rendering, and a PNG screenshot, from headless Chromium with no network."""
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9", "--window-size=1100,1600"]
    dom = subprocess.run([*common, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=60, check=True)
    png = tmp_path / "shot.png"
    subprocess.run([*common, f"--screenshot={png}", html.as_uri()], capture_output=True, timeout=60, check=True)
    return dom.stdout, png.read_bytes()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")
def test_replay_report_renders_offline_with_the_printed_figures(tmp_path, config_path, capsys):
    traffic = tmp_path / "t.jsonl"
    rows = [{"model": "big-model", "messages": [{"role": "user", "content": text}],
             "usage": {"prompt_tokens": 1000, "completion_tokens": 500}} for text in (FAQ, HARD)]
    traffic.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = tmp_path / "replay.html"
    assert main(["replay", str(traffic), "-c", str(config_path), "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    dom, png = _render(report, tmp_path)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert dom.count("<svg") == 4
    for figure in ("$0.0400", "$0.0220", "$0.0180 (45.0%)", "$9,000.00 (45.0%)", "3,000"):
        assert figure in printed and figure in dom, figure

"""`llm-router check` exits 0 on a good config and 1 with `file:line:` problems otherwise."""

from __future__ import annotations

from pathlib import Path

from proxy.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_repository_config_checks_clean(capsys):
    assert main(["check", "-c", str(ROOT / "proxy.yaml")]) == 0
    assert "ok (2 route(s), 1 upstream(s))" in capsys.readouterr().out
    assert main(["check", "-c", str(ROOT / "examples" / "proxy-with-policy.yaml")]) == 0


def test_bad_config_exits_1_with_each_problem(tmp_path, capsys):
    bad = tmp_path / "proxy.yaml"
    bad.write_text("listen: 127.0.0.1:8080\nroutes:\n  - name: a\n    mode: shadoww\n    percentt: 5\n")
    assert main(["check", "-c", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert f"{bad}:4: routes[0].mode: Input should be 'passthrough', 'shadow' or 'canary', got 'shadoww'" in err
    assert any(line.startswith(f"{bad}:5: routes[0].percentt: unknown key 'percentt'") for line in err)
    assert err[-1] == "2 problem(s) found"


def test_missing_file(tmp_path, capsys):
    assert main(["check", "-c", str(tmp_path / "absent.yaml")]) == 1
    assert "absent.yaml: file not found; pass the right path with -c/--config" in capsys.readouterr().err

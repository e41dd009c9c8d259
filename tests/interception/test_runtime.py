"""Compiling settings with the CA: reuse when nothing changed, reload when the files did."""

from __future__ import annotations

import os

import pytest

from proxy.interception.ca import CAError, create_ca
from proxy.interception.runtime import compile_runtime
from proxy.interception.settings import InterceptionSettings


def test_no_ca_configured(tmp_path):
    runtime = compile_runtime(None, tmp_path)
    assert runtime.leaves is None and runtime.settings == InterceptionSettings()


def test_unchanged_files_keep_the_ca_and_leaves(tmp_path):
    create_ca(tmp_path / "ca")
    settings = InterceptionSettings(ca_cert="ca/ca.crt", ca_key="ca/ca.key")
    first = compile_runtime(settings, tmp_path)
    assert first.leaves is not None
    first.leaves.context_for("a.test")
    again = compile_runtime(settings.model_copy(update={"tunnel_others": False}), tmp_path, first)
    assert again.leaves is first.leaves and again.settings.tunnel_others is False
    resized = compile_runtime(settings.model_copy(update={"leaf_cache_size": 5}), tmp_path, again)
    assert resized.leaves is not None and resized.leaves.ca is first.leaves.ca and resized.leaves.size == 5


def test_rotated_files_are_loaded(tmp_path):
    create_ca(tmp_path / "ca")
    settings = InterceptionSettings(ca_cert="ca/ca.crt", ca_key="ca/ca.key")
    first = compile_runtime(settings, tmp_path)
    create_ca(tmp_path / "ca", force=True)
    os.utime(tmp_path / "ca" / "ca.crt", ns=(1, 1))  # a different stamp even within one mtime tick
    second = compile_runtime(settings, tmp_path, first)
    assert second.leaves is not None and first.leaves is not None
    assert second.leaves.ca.fingerprint != first.leaves.ca.fingerprint


def test_missing_files_raise_with_a_fix(tmp_path):
    with pytest.raises(CAError, match="llm-router ca init"):
        compile_runtime(InterceptionSettings(ca_cert="x.crt", ca_key="x.key"), tmp_path)

"""Compile `InterceptionSettings` into what the listener reads: the settings
plus the loaded CA and its leaf cache.

A reload that leaves the CA files unchanged (same inode, size and mtime)
keeps the CA and the leaves already minted; a changed or new CA is loaded
and checked before anything switches to it, so a broken one raises
`CAError` and the running one stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from proxy.interception.errors import CAError
from proxy.interception.leaves import LeafCache
from proxy.interception.settings import InterceptionSettings

log = structlog.get_logger("llm_router.interception")


@dataclass(frozen=True)
class Runtime:
    """What the listener reads for each new connection; replaced whole on reload."""

    settings: InterceptionSettings
    leaves: LeafCache | None
    ca_files: tuple[Path, Path] | None
    ca_stamp: tuple[int, ...] | None


def _stamp(paths: tuple[Path, Path]) -> tuple[int, ...]:
    out: list[int] = []
    for p in paths:
        st = p.stat()
        out += [st.st_ino, st.st_size, st.st_mtime_ns]
    return tuple(out)


def compile_runtime(settings: InterceptionSettings | None, config_dir: Path, previous: Runtime | None = None) -> Runtime:
    """Load the CA named by `settings` (reusing the previous one, and its leaves, when the files did not change)."""
    settings = settings or InterceptionSettings()
    files = settings.resolve(config_dir)
    if files is None:
        return Runtime(settings, None, None, None)
    try:
        stamp = _stamp(files)
    except OSError as exc:
        raise CAError(f"cannot read interception CA file {exc.filename}: {exc.strerror}; "
                      "create it with `llm-router ca init --out DIR`") from None
    if previous is not None and previous.leaves is not None and previous.ca_files == files and previous.ca_stamp == stamp:
        leaves = previous.leaves
        if (leaves.size, leaves.validity_days) != (settings.leaf_cache_size, settings.leaf_validity_days):
            leaves = LeafCache(leaves.ca, size=settings.leaf_cache_size, validity_days=settings.leaf_validity_days)
        return Runtime(settings, leaves, files, stamp)
    from proxy.interception.ca import key_file_is_private, load_ca  # cryptography: only with a CA

    ca = load_ca(*files)
    if not key_file_is_private(files[1]):
        log.warning("interception CA key is readable by group or others; chmod 600 it", path=str(files[1]))
    log.info("interception CA loaded", cert=str(files[0]), sha256=ca.fingerprint)
    return Runtime(settings, LeafCache(ca, size=settings.leaf_cache_size, validity_days=settings.leaf_validity_days), files, stamp)

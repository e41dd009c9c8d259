"""Hot reload: poll the config and policy files, apply valid changes, keep
the last good config when a change is invalid.

Polling `stat` (following symlinks) rather than inotify is deliberate: a
Kubernetes ConfigMap update swaps a `..data` symlink atomically, which
inotify on the file itself never sees, while the followed inode changes.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Protocol

import structlog

from proxy.config.errors import ConfigError
from proxy.config.loader import Loaded, load
from proxy.spawn import Spawner

log = structlog.get_logger("llm_router.config")

Signature = tuple[tuple[str, tuple[int, int, int, int] | None], ...]


class Applies(Protocol):
    def apply(self, loaded: Loaded) -> object: ...


def signature(paths: tuple[Path, ...]) -> Signature:
    out = []
    for path in paths:
        try:
            st = os.stat(path)
            out.append((os.path.realpath(path), (st.st_ino, st.st_dev, st.st_mtime_ns, st.st_size)))
        except OSError:
            out.append((str(path), None))
    return tuple(out)


class ConfigWatcher:
    def __init__(self, loaded: Loaded, target: Applies):
        self.current = loaded
        self.target = target
        self.reloads_ok = 0
        self.reloads_failed = 0
        self.last_error: str | None = None
        self._seen = signature(loaded.watched)
        self._spawner = Spawner("config-watcher")

    def start(self) -> None:
        self._spawner.spawn(self._poll)

    async def stop(self) -> None:
        await self._spawner.close()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.current.config.reload_interval_s)
            await self.check()

    async def check(self) -> bool | None:
        """Reload if a watched file changed: True applied, False rejected, None unchanged."""
        seen = signature(self.current.watched)
        if seen == self._seen:
            return None
        self._seen = seen
        try:
            loaded = await asyncio.to_thread(load, self.current.config_path, self.current)
        except ConfigError as exc:
            self.reloads_failed += 1
            self.last_error = str(exc)
            log.error(
                "config change rejected; the last good config stays active",
                config=str(self.current.config_path),
                problems=[str(p) for p in exc.problems],
            )
            return False
        # The new config may name another policy file: watch what it names.
        self._seen = signature(loaded.watched)
        self.current = loaded
        runtime = self.target.apply(loaded)
        self.reloads_ok += 1
        self.last_error = None
        log.info("config reloaded", config=str(loaded.config_path), generation=getattr(runtime, "generation", None))
        return True

"""The kubelet's ConfigMap/Secret volume layout, reproduced on a local directory.

What the kubelet's AtomicWriter does on every update, in this order:

    ..2026_11_28_01_40_00.123456789/proxy.yaml   new payload in a fresh timestamped dir
    ..data_tmp -> ..2026_11_28_01_40_00.123456789
    rename(..data_tmp, ..data)                    the one atomic step
    proxy.yaml -> ..data/proxy.yaml                user-visible links, created once
    (old timestamped dir removed, links of keys no longer present removed)

So the file a program opened by name never changes its own inode or mtime
(it is a symlink that keeps pointing at `..data/proxy.yaml`); only what it
resolves to does. A watcher that lstat()s the file, or uses inotify on it,
never notices an update.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

DATA = "..data"


class KubeletVolume:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def write(self, payload: Mapping[str, str]) -> Path:
        """Publish `payload` (file name -> text) atomically; returns the new timestamped dir."""
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        new_dir = Path(tempfile.mkdtemp(prefix=stamp, dir=self.root))
        new_dir.chmod(0o755)
        for name, text in payload.items():
            path = new_dir / name
            path.write_text(text)
            path.chmod(0o644)
        old_dir = self.current()
        tmp_link = self.root / (DATA + "_tmp")
        os.symlink(new_dir.name, tmp_link)
        os.rename(tmp_link, self.root / DATA)
        for name in payload:
            link = self.root / name
            if not link.is_symlink():
                os.symlink(f"{DATA}/{name}", link)
        if old_dir is not None:
            shutil.rmtree(old_dir)
        for entry in self.root.iterdir():
            if entry.is_symlink() and not entry.name.startswith("..") and entry.name not in payload:
                entry.unlink()
        return new_dir

    def current(self) -> Path | None:
        data = self.root / DATA
        return self.root / os.readlink(data) if data.is_symlink() else None

import os
import re
import threading
import time

from .kubelet_volume import DATA, KubeletVolume


def test_first_write_lays_out_the_kubelet_structure(tmp_path):
    volume = KubeletVolume(tmp_path / "config")
    stamped = volume.write({"proxy.yaml": "a: 1\n", "policy.yaml": "b: 2\n"})
    root = volume.root
    assert re.fullmatch(r"\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\w+", stamped.name)
    assert os.readlink(root / DATA) == stamped.name  # relative, like the kubelet's
    assert os.readlink(root / "proxy.yaml") == f"{DATA}/proxy.yaml"
    assert (root / "proxy.yaml").read_text() == "a: 1\n"
    assert sorted(p.name for p in root.iterdir()) == sorted([DATA, stamped.name, "policy.yaml", "proxy.yaml"])


def test_an_update_swaps_data_and_leaves_the_visible_link_alone(tmp_path):
    volume = KubeletVolume(tmp_path / "config")
    first = volume.write({"proxy.yaml": "a: 1\n"})
    link = volume.root / "proxy.yaml"
    link_before, target_before = os.lstat(link), os.stat(link)
    second = volume.write({"proxy.yaml": "a: 2\n"})
    assert link.read_text() == "a: 2\n"
    assert not first.exists() and second.is_dir()
    # The trap for naive watchers: the name itself did not change ...
    link_after = os.lstat(link)
    assert (link_after.st_ino, link_after.st_mtime_ns) == (link_before.st_ino, link_before.st_mtime_ns)
    # ... only what it resolves to.
    assert os.stat(link).st_ino != target_before.st_ino


def test_keys_come_and_go_with_the_payload(tmp_path):
    volume = KubeletVolume(tmp_path / "config")
    volume.write({"proxy.yaml": "a\n", "old.yaml": "x\n"})
    volume.write({"proxy.yaml": "a\n", "new.yaml": "y\n"})
    names = {p.name for p in volume.root.iterdir() if not p.name.startswith("..")}
    assert names == {"proxy.yaml", "new.yaml"}


def test_a_reader_only_ever_sees_whole_versions_during_swaps(tmp_path):
    # The kubelet removes the old directory right after the swap, so a reader
    # that resolved the old path a moment earlier can get ENOENT: readers
    # must retry on the next poll (the config watcher does). What the swap
    # guarantees is that no read ever sees a half-written or mixed file.
    volume = KubeletVolume(tmp_path / "config")
    contents = [f"generation: {i}\n" + "x" * 4096 + "\n" for i in range(40)]
    volume.write({"proxy.yaml": contents[0]})
    seen: list[str] = []
    vanished = 0
    done = threading.Event()

    def read_continuously():
        nonlocal vanished
        while not done.is_set():
            try:
                seen.append((volume.root / "proxy.yaml").read_text())
            except FileNotFoundError:
                vanished += 1

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for text in contents[1:]:
            volume.write({"proxy.yaml": text})
            time.sleep(0.001)  # let the reader in between swaps
    finally:
        done.set()
        reader.join()
    assert seen and set(seen) <= set(contents)
    assert vanished < len(seen)

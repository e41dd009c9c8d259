"""Hot reload: valid changes apply to new requests, invalid ones keep the last good config."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import yaml

from tests.conftest import base_config


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def status_of(url: str) -> int:
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            return r.status


async def test_valid_change_applies_without_restart(upstream, start_sidecar, aiohttp_server):
    from tests.fakes.openai_upstream import FakeUpstream

    second = FakeUpstream()
    server2 = await aiohttp_server(second.app())
    config = base_config(upstream.url)
    running = await start_sidecar(config)
    await status_of(running.url + "/v1/models")
    assert len(upstream.requests) == 1

    config["upstreams"]["openai"]["base_url"] = f"http://127.0.0.1:{server2.port}"
    running.config_path.write_text(yaml.safe_dump(config))
    await wait_for(lambda: running.sidecar.runtime.generation == 2)
    assert await status_of(running.url + "/v1/models") == 200
    assert len(second.requests) == 1
    assert len(upstream.requests) == 1


async def test_invalid_change_is_rejected_and_last_good_config_stays(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    running.config_path.write_text("listen: [unclosed\n")
    await wait_for(lambda: running.sidecar.watcher.reloads_failed == 1)
    assert running.sidecar.runtime.generation == 1
    assert await status_of(running.url + "/v1/models") == 200
    async with aiohttp.ClientSession() as s:
        async with s.get(running.admin_url + "/readyz") as r:
            detail = await r.json()
    assert r.status == 200
    assert "invalid YAML" in detail["last_reload_error"]

    running.config_path.write_text(yaml.safe_dump(base_config(upstream.url, routes=[{"name": "fixed"}])))
    await wait_for(lambda: running.sidecar.runtime.generation == 2)
    assert [r.name for r in running.sidecar.runtime.routes.routes] == ["fixed"]


async def test_in_flight_request_survives_a_reload(upstream, start_sidecar):
    running = await start_sidecar(base_config(upstream.url))
    async with aiohttp.ClientSession() as s:
        slow = asyncio.ensure_future(s.get(running.url + "/v1/models", headers={"x-fake-delay": "0.6"}))
        await asyncio.sleep(0.1)
        running.config_path.write_text(yaml.safe_dump(base_config("http://127.0.0.1:9", routes=[{"name": "moved"}])))
        await wait_for(lambda: running.sidecar.runtime.generation == 2)
        resp = await slow
        assert resp.status == 200
        resp.release()


def kubelet_swap(folder: Path, files: dict[str, str], version: int) -> None:
    """Reproduce how the kubelet updates a mounted ConfigMap: a new timestamped
    directory, then an atomic rename of the `..data` symlink onto it."""
    target = folder / f"..2026_11_28_00_00_0{version}.000000001"
    target.mkdir()
    for name, text in files.items():
        (target / name).write_text(text)
    tmp_link = folder / "..data_tmp"
    tmp_link.symlink_to(target.name)
    os.replace(tmp_link, folder / "..data")
    for name in files:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


async def test_configmap_symlink_swap_is_picked_up(upstream, start_sidecar, tmp_path, aiohttp_server):
    from proxy.config import load
    from proxy.server import serve
    from tests.fakes.openai_upstream import FakeUpstream

    second = FakeUpstream()
    server2 = await aiohttp_server(second.app())
    mount = tmp_path / "mount"
    mount.mkdir()
    kubelet_swap(mount, {"proxy.yaml": yaml.safe_dump(base_config(upstream.url))}, 1)
    stop = asyncio.Event()
    ready: asyncio.Future = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(load(mount / "proxy.yaml"), stop=stop, on_ready=ready.set_result, handle_signals=False))
    sidecar = await ready
    try:
        kubelet_swap(mount, {"proxy.yaml": yaml.safe_dump(base_config(f"http://127.0.0.1:{server2.port}"))}, 2)
        await wait_for(lambda: sidecar.runtime.generation == 2)
        assert await status_of("http://%s:%d/v1/models" % sidecar.listen_address) == 200
        assert len(second.requests) == 1
    finally:
        stop.set()
        assert await task == 0

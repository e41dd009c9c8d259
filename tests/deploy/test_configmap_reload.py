"""A ConfigMap edit reaches a running sidecar: the kubelet's `..data` swap,
reproduced on disk, is picked up by the config watcher and by `serve`."""

import asyncio
from pathlib import Path

import aiohttp
import pytest
import yaml

from proxy.config import load
from proxy.config.watcher import ConfigWatcher
from proxy.server import serve

from .conftest import as_in_image
from .kubelet_volume import KubeletVolume

APP = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "app"


def configmap_payload(**changes) -> dict[str, str]:
    """The deployed ConfigMap's files, with `changes` applied to proxy.yaml."""
    config = yaml.safe_load((APP / "proxy.yaml").read_text())
    config.update(changes)
    return {"proxy.yaml": yaml.safe_dump(config, sort_keys=False), "policy.yaml": as_in_image((APP / "policy.yaml").read_text())}


def with_percent(percent: float, **changes) -> dict[str, str]:
    config = yaml.safe_load((APP / "proxy.yaml").read_text())
    routes = config["routes"]
    routes[0]["percent"] = percent
    return configmap_payload(routes=routes, **changes)


class Recorder:
    def __init__(self):
        self.applied = []

    def apply(self, loaded):
        self.applied.append(loaded)
        return loaded


async def test_the_watcher_applies_a_swapped_configmap_and_rejects_a_bad_one(tmp_path):
    volume = KubeletVolume(tmp_path / "etc-llm-router")
    volume.write(with_percent(0))
    target = Recorder()
    watcher = ConfigWatcher(load(volume.root / "proxy.yaml"), target)
    assert await watcher.check() is None

    volume.write(with_percent(5))
    assert await watcher.check() is True
    assert target.applied[-1].config.routes[0].percent == 5

    volume.write(configmap_payload(not_a_key=1))
    assert await watcher.check() is False
    assert watcher.current.config.routes[0].percent == 5  # the last good config stays
    assert "not_a_key" in watcher.last_error


async def admin_config(session: aiohttp.ClientSession, url: str) -> dict:
    async with session.get(f"{url}/config") as response:
        assert response.status == 200
        return await response.json()


@pytest.mark.timeout(30)
async def test_a_running_sidecar_reloads_a_configmap_edit_without_restarting(tmp_path):
    volume = KubeletVolume(tmp_path / "etc-llm-router")
    ports = {"listen": "127.0.0.1:0", "admin": "127.0.0.1:0", "reload_interval_s": 0.05}
    volume.write(with_percent(0, **ports))
    ready = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(load(volume.root / "proxy.yaml"), stop=stop, on_ready=ready.set_result, handle_signals=False)
    )
    try:
        sidecar = await asyncio.wait_for(ready, 10)
        host, port = sidecar.admin_address
        url = f"http://{host}:{port}"
        async with aiohttp.ClientSession() as session:
            before = await admin_config(session, url)
            assert before["config"]["routes"][0]["percent"] == 0
            volume.write(with_percent(7.5, **ports))
            for _ in range(200):
                after = await admin_config(session, url)
                if after["generation"] != before["generation"]:
                    break
                await asyncio.sleep(0.05)
            assert after["config"]["routes"][0]["percent"] == 7.5
            assert after["config_file"] == before["config_file"]
            assert not task.done()  # reloaded in place, not restarted
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0

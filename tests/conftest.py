"""Shared fixtures: a fake OpenAI upstream and an in-process sidecar, both on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from proxy.config import load
from proxy.server import Sidecar, serve
from tests.fakes.openai_upstream import FakeUpstream


@pytest.fixture
async def upstream(aiohttp_server) -> FakeUpstream:
    fake = FakeUpstream()
    server = await aiohttp_server(fake.app(), auto_decompress=False)
    fake.url = f"http://127.0.0.1:{server.port}"  # type: ignore[attr-defined]
    return fake


@dataclass
class Running:
    sidecar: Sidecar
    config_path: Path
    stop: asyncio.Event
    task: asyncio.Task[int]

    @property
    def url(self) -> str:
        assert self.sidecar.listen_address
        return "http://%s:%d" % self.sidecar.listen_address

    @property
    def admin_url(self) -> str:
        assert self.sidecar.admin_address
        return "http://%s:%d" % self.sidecar.admin_address


StartSidecar = Callable[..., Awaitable[Running]]


def base_config(upstream_url: str, **overrides: object) -> dict[str, object]:
    config: dict[str, object] = {
        "listen": "127.0.0.1:0",
        "admin": "127.0.0.1:0",
        "upstreams": {"openai": {"base_url": upstream_url}},
        "logging": {"level": "warning", "access_log": False},
        "reload_interval_s": 0.05,
        "shutdown": {"drain_s": 5},
    }
    config.update(overrides)
    return config


@pytest.fixture
async def start_sidecar(tmp_path: Path) -> AsyncIterator[StartSidecar]:
    running: list[Running] = []

    async def start(config: dict[str, object], *, name: str = "proxy.yaml", span_exporter: object = None) -> Running:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config))
        loaded = load(path)
        stop = asyncio.Event()
        ready: asyncio.Future[Sidecar] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve(loaded, stop=stop, on_ready=ready.set_result, handle_signals=False,
                                         span_exporter=span_exporter))
        done, _ = await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        handle = Running(sidecar=ready.result(), config_path=path, stop=stop, task=task)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        handle.stop.set()
        await asyncio.wait_for(handle.task, 10)

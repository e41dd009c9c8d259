"""The demo in-process: nothing left running afterwards, x_* keys never sent upstream."""

from __future__ import annotations

import asyncio
import threading

from proxy.demo.command import DEFAULT_TRAFFIC, load_rows
from proxy.demo.runner import request_body, run_demo


def test_request_body_drops_bookkeeping_keys():
    row = {"model": "gpt-4o", "messages": [], "x_tier": "simple", "x_source": "s", "usage": {"prompt_tokens": 1}}
    assert request_body(row) == {"model": "gpt-4o", "messages": []}


async def test_demo_stops_everything_it_started(tmp_path):
    before = {t.name for t in threading.enumerate()}
    run = await run_demo(load_rows(DEFAULT_TRAFFIC, 4), tmp_path, overhead_n=2, progress=False)
    assert all(r.ok for r in run.replies) and len(run.replies) == 8
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # The default executor threads (asyncio_N) belong to the test's loop, not to the demo; the
    # classifier's embedding thread is told to stop and exits once idle.
    for _ in range(100):
        left = {t.name for t in threading.enumerate()} - before
        left = {n for n in left if not n.startswith("asyncio_")}
        if not left:
            break
        await asyncio.sleep(0.02)
    assert not left, left
    assert run.shadow_log.is_file()

"""The export worker encodes finished spans in batches on the event loop, after the current
callback, and loses, duplicates or reorders none of them; what does not fit is counted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from proxy.telemetry import export
from proxy.telemetry.export import ENCODE_BATCH, ExportWorker
from tests.telemetry import records
from tests.telemetry.test_encoder import RESOURCE, SCOPE, decode
from tests.telemetry.test_record_encoder import item


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def send(self, signal: str, body: bytes) -> None:
        assert signal == "traces"
        self.bodies.append(body)

    def close(self) -> None:
        pass


@pytest.fixture
def worker() -> Iterator[Callable[..., tuple[ExportWorker, Recorder]]]:
    """Makes workers sending to a `Recorder`, and shuts them down after the test."""
    made: list[ExportWorker] = []

    def make(queue_size: int = 8192) -> tuple[ExportWorker, Recorder]:
        sender = Recorder()
        # A long batch delay: the thread never exports on its own during a test; flush() does.
        w = ExportWorker(resource=RESOURCE, scope=SCOPE, sender=sender, queue_size=queue_size, span_delay_s=60)
        made.append(w)
        return w, sender

    yield make
    for w in made:
        w.shutdown()


def spans(n: int, start: int = 1) -> list:
    out = []
    for i in range(start, start + n):
        r = records.canary()
        r.request_id = f"req-{i}"
        out.append(item(r, span_id=i))
    return out


def exported_ids(sender: Recorder) -> list[int]:
    return [int.from_bytes(s.span_id, "big") for body in sender.bodies for s in decode(body)]


async def test_batches_are_encoded_after_the_current_callback(worker) -> None:
    w, sender = worker()
    batch = spans(ENCODE_BATCH)
    for s in batch[:-1]:
        w.enqueue(s)
    assert len(w.queue) == 0  # below a batch: nothing encoded yet
    w.enqueue(batch[-1])
    assert len(w.queue) == 0  # a full batch is encoded by a loop callback, not inside enqueue()
    await asyncio.sleep(0)
    assert len(w.queue) == ENCODE_BATCH and all(type(b) is bytes for b in w.queue)
    # Stragglers below a batch are encoded at export time.
    for s in spans(5, start=ENCODE_BATCH + 1):
        w.enqueue(s)
    await asyncio.sleep(0)
    assert len(w.queue) == ENCODE_BATCH
    await asyncio.to_thread(w.flush)
    assert exported_ids(sender) == list(range(1, ENCODE_BATCH + 6))


async def test_many_batches_arrive_complete_and_in_order(worker) -> None:
    w, sender = worker()
    n = export.MAX_BATCH * 2 + 77
    for i, s in enumerate(spans(n), 1):
        w.enqueue(s)
        if i % 10 == 0:
            await asyncio.sleep(0)
    await asyncio.to_thread(w.flush)
    ids = exported_ids(sender)
    assert ids == list(range(1, n + 1))
    assert all(len(decode(body)) <= export.MAX_BATCH for body in sender.bodies)
    assert w.dropped_spans == 0 and w.exported["traces"] == n


async def test_a_full_queue_drops_and_counts(worker) -> None:
    w, sender = worker(queue_size=40)
    for s in spans(100):
        w.enqueue(s)
        await asyncio.sleep(0)
    await asyncio.to_thread(w.flush)
    assert exported_ids(sender) == list(range(1, 41))
    assert w.dropped_spans == 60


async def test_an_unencodable_span_is_dropped_and_the_rest_exported(worker) -> None:
    w, sender = worker()
    batch = spans(ENCODE_BATCH)
    batch[3].record = None  # the encoder cannot read it
    for s in batch:
        w.enqueue(s)
    await asyncio.sleep(0)
    await asyncio.to_thread(w.flush)
    assert exported_ids(sender) == [i for i in range(1, ENCODE_BATCH + 1) if i != 4]
    assert w.dropped_spans == 1


def test_without_a_running_loop_a_full_batch_is_encoded_at_once(worker) -> None:
    w, sender = worker()
    for s in spans(ENCODE_BATCH):
        w.enqueue(s)
    assert len(w.queue) == ENCODE_BATCH
    w.flush()
    assert exported_ids(sender) == list(range(1, ENCODE_BATCH + 1))


def test_woken_by_a_full_batch_only_whole_batches_are_sent(worker) -> None:
    w, sender = worker()
    n = export.MAX_BATCH + 100
    for s in spans(n):
        w.enqueue(s)
    w.export_spans(full_batches_only=True)
    assert [len(decode(body)) for body in sender.bodies] == [export.MAX_BATCH]
    assert len(w.queue) == 100 - 100 % ENCODE_BATCH and len(w._raw) == 100 % ENCODE_BATCH
    w.export_spans()  # the batch delay passed: everything, stragglers included
    assert exported_ids(sender) == list(range(1, n + 1))

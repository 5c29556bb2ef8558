"""History of samples kept while offline: in memory (bounded, drop-oldest) and in the real SQLite store."""

from __future__ import annotations

import math
from pathlib import Path

from gateway.app.durable_history import DurableHistory, decode_samples, encode_samples
from gateway.app.history import HistoryBuffer
from gateway.store import MessageStore, StoreLimits
from sparkplug import Quality, Sample


def samples(*values: object, start: int = 1000) -> tuple[Sample, ...]:
    return tuple(Sample("t", v, start + i) for i, v in enumerate(values))  # type: ignore[arg-type]


async def test_memory_buffer_is_bounded_and_keeps_device_runs() -> None:
    buffer = HistoryBuffer(capacity=4)
    buffer.store("a", samples(1, 2))
    buffer.store("b", samples(3, 4, 5))
    status = buffer.status()
    assert (status.depth, status.dropped, status.oldest_ms) == (4, 1, 1001)
    chunks = await buffer.take(10)
    assert [(c.device_id, [s.value for s in c.samples]) for c in chunks] == [("a", [2]), ("b", [3, 4, 5])]
    buffer.requeue(chunks[1:])
    buffer.ack(chunks[:1])
    again = await buffer.take(10)
    assert [[s.value for s in c.samples] for c in again] == [[3, 4, 5]]
    assert buffer.status().drained == 1


def test_sample_encoding_round_trips_every_scalar_kind() -> None:
    original = (
        Sample("b", True, 1),
        Sample("i", -5, 2),
        Sample("f", 1.5, 3),
        Sample("s", "x", 4, Quality.STALE),
        Sample("n", None, 5, Quality.BAD),
        Sample("y", b"\x00\xff", 6),
        Sample("a", (1, 2), 7),
        Sample("nan", math.inf, 8),
    )
    assert decode_samples(encode_samples(original)) == original


async def test_durable_history_survives_a_reopen_and_deletes_only_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = MessageStore(path, limits=StoreLimits(max_age_s=None))  # the samples date from 1970
    await store.open()
    history = DurableHistory(store)
    history.store("a", samples(1, 2))
    history.store(None, samples(3))
    await store.flush()
    first = await history.take(1)
    history.ack(first)
    await store.close()

    reopened = MessageStore(path, limits=StoreLimits(max_age_s=None))
    await reopened.open()
    history = DurableHistory(reopened)
    chunks = await history.take(10)
    assert [(c.device_id, [s.value for s in c.samples]) for c in chunks] == [(None, [3])]
    history.requeue(chunks)
    assert [c.ids for c in await history.take(10)] == [chunks[0].ids]
    assert history.status().depth == 1 and history.status().durable
    await reopened.close()

"""Measure (not assert) the store's write rate against plain SQLite doing the same inserts in one transaction.

    .venv/bin/python -m tests.broker.persistence.measure_store [N]

Prints one JSON line: queued-message writes per second through SqlitePersistence (hook call on the event
loop, hand-off, writer thread, WAL + synchronous=FULL commits) and the reference (one executemany, one
commit, same pragmas, simpler table). Both run in the same process, one after the other; noisy on a shared
machine.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from gateway.broker.hooks import QueuedMessage, StoredMessage
from gateway.broker.persistence import SqlitePersistence, WriterStats


async def ours(directory: Path, count: int) -> tuple[float, WriterStats]:
    store = SqlitePersistence(directory)
    await store.load()
    message = StoredMessage("plant/line/1/temp", b"x" * 100, 1, False)
    start = time.perf_counter()
    for seq in range(count):
        store.message_queued("client", QueuedMessage(seq, message, 1))
    await store.flush()
    elapsed = time.perf_counter() - start
    stats = store.stats()
    assert stats is not None
    await store.close()
    return elapsed, stats


def reference(directory: Path, count: int) -> float:
    db = sqlite3.connect(directory / "reference.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(
        "CREATE TABLE q (client_id TEXT, seq INTEGER, topic TEXT, payload BLOB, PRIMARY KEY (client_id, seq))"
    )
    rows = [("client", seq, "plant/line/1/temp", b"x" * 100) for seq in range(count)]
    start = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO q VALUES (?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours_s, stats = asyncio.run(ours(Path(tmp) / "store", count))
        reference_s = reference(Path(tmp), count)
    print(
        json.dumps(
            {
                "bench": "broker_store_message_queued",
                "n": count,
                "ours_per_s": round(count / ours_s),
                "reference_per_s": round(count / reference_s),
                "ratio": round(reference_s / ours_s, 2),
                "commits": stats.commits,
                "backpressure_waits": stats.backpressure_waits,
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)

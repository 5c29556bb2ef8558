"""Catalogue T37: a long reader against WAL growth. Another process's read transaction pins an old
snapshot while the store keeps committing; the writer is never blocked by it, and once the reader lets go
the WAL is checkpointed and truncated without waiting for another commit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from gateway.store import MessageStore, NewMessage, StoreLimits
from gateway.store._schema import WAL_SIZE_LIMIT
from tests.support.waiting import async_wait_until

ROWS = 50_000
PAYLOAD = b"p" * 400  # 50 000 rows of ~0.5 kB: about 25 MB of WAL, over the 16 MiB limit


def wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.mark.timeout(120)
async def test_wal_grows_only_while_a_reader_holds_a_snapshot_then_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "sf.db"
    store = MessageStore(path, limits=StoreLimits(max_bytes=None, max_age_s=None))
    await store.open()
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)  # snapshot taken
        now_ms = time.time_ns() // 1_000_000
        for n in range(ROWS):
            store.append(NewMessage("t/v", PAYLOAD, 1, False, 0, now_ms + n))
            if n % 5000 == 4999:
                await store.flush()  # several commits, each one able to checkpoint if it could
        await store.flush()
        assert store.status().messages == ROWS  # the writer was never blocked by the reader
        pinned = wal_size(path)
        assert pinned > WAL_SIZE_LIMIT, pinned  # SQLite cannot recycle the WAL under a pinned snapshot
        assert reader.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)  # still its snapshot
        reader.execute("COMMIT")  # the reader lets go; no more commits follow
        await async_wait_until(
            lambda: wal_size(path) <= WAL_SIZE_LIMIT,
            timeout=20,
            message=lambda: f"WAL truncated (now {wal_size(path)} bytes)",
        )
        assert reader.execute("SELECT COUNT(*) FROM messages").fetchone() == (ROWS,)
        rows = await store.read_after(0, limit=10)
        assert [r.created_ms - now_ms for r in rows] == list(range(10))
    finally:
        reader.close()
        await store.close()

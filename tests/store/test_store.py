"""MessageStore against real SQLite files: order, ids, caps, disk full, bad files at start-up."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from gateway.store import (
    DropReason,
    MessageStore,
    NewMessage,
    StoreFullError,
    StoreLimits,
    StoreMode,
    StoreOverloadedError,
)

UNLIMITED = StoreLimits(max_bytes=None, max_age_s=None)


def message(n: int, size: int = 10, created_ms: int | None = None) -> NewMessage:
    payload = str(n).encode().ljust(size, b".")
    return NewMessage("t/v", payload, 1, False, 0, n if created_ms is None else created_ms)


async def test_append_read_delete_in_order_and_ids_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "sf.db"
    store = MessageStore(path, limits=UNLIMITED)
    status = await store.open()
    assert status.mode is StoreMode.DISK and status.problems == ()
    ids = await asyncio.gather(*(store.append(message(n)) for n in range(100)))
    assert ids == list(range(1, 101))
    rows = await store.read_after(0, limit=40)
    assert [int(r.payload.rstrip(b".")) for r in rows] == list(range(40))
    rows = await store.read_after(rows[-1].id, limit=1000)
    assert len(rows) == 60 and rows[0].id == 41
    await store.delete(list(range(1, 101)))
    assert store.status().messages == 0 and store.status().removed == 100
    # The queue is empty now: new ids must still be larger (the drain cursor relies on it).
    assert await store.append(message(100)) == 101
    await store.close()

    reopened = MessageStore(path, limits=UNLIMITED)
    status = await reopened.open()
    assert status.messages == 1
    assert await reopened.append(message(101)) == 102
    assert [r.id for r in await reopened.read_after(0)] == [101, 102]
    await reopened.close()


async def test_read_after_respects_max_bytes_but_returns_at_least_one(tmp_path: Path) -> None:
    store = MessageStore(tmp_path / "sf.db", limits=UNLIMITED)
    await store.open()
    await asyncio.gather(*(store.append(message(n, size=1000)) for n in range(10)))
    assert len(await store.read_after(0, max_bytes=10)) == 1
    assert len(await store.read_after(0, max_bytes=3 * 1040)) == 3
    await store.close()


async def test_max_bytes_drops_oldest_and_counts_every_drop(tmp_path: Path) -> None:
    size = message(0, size=100).size
    store = MessageStore(
        tmp_path / "sf.db", limits=StoreLimits(max_bytes=10 * size, max_age_s=None), commit_interval=0
    )
    await store.open()
    for n in range(25):
        await store.append(message(n, size=100))
    status = store.status()
    assert status.messages == 10 and status.bytes == 10 * size
    assert status.dropped == {DropReason.MAX_BYTES: 15}
    rows = await store.read_after(0)
    assert [int(r.payload.rstrip(b".")) for r in rows] == list(range(15, 25))
    await store.close()


async def test_max_age_drops_by_sample_time_with_an_injected_clock(tmp_path: Path) -> None:
    now = [1_000_000]
    store = MessageStore(
        tmp_path / "sf.db", limits=StoreLimits(max_bytes=None, max_age_s=60), clock_ms=lambda: now[0]
    )
    await store.open()
    await asyncio.gather(*(store.append(message(n, created_ms=now[0] - 1000 * n)) for n in range(100)))
    # Samples older than 60 s (n > 60) were dropped at the commit that added them.
    status = store.status()
    assert status.messages == 61 and status.dropped == {DropReason.MAX_AGE: 39}
    now[0] += 30_000
    await store.append(message(1000, created_ms=now[0]))
    assert store.status().dropped == {DropReason.MAX_AGE: 69}
    await store.close()


async def test_disk_full_drops_oldest_counts_exactly_and_recovers(tmp_path: Path) -> None:
    # PRAGMA max_page_count gives SQLITE_FULL without root or a tmpfs (catalogue T33).
    store = MessageStore(tmp_path / "sf.db", limits=UNLIMITED, max_page_count=40, commit_interval=0)
    await store.open()
    submitted = 0
    saw_full = False
    for batch in range(60):
        futures = [store.append(message(batch * 20 + i, size=400)) for i in range(20)]
        submitted += len(futures)
        results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                assert isinstance(result, StoreFullError), result
        saw_full = saw_full or store.status().dropped.get(DropReason.DISK_FULL, 0) > 0
    status = store.status()
    assert saw_full, status
    assert status.dropped.get(DropReason.DISK_FULL, 0) > 0
    # Exact accounting: everything submitted is either still queued or counted as dropped.
    assert submitted == status.messages + status.dropped_total
    rows = await store.read_after(0, limit=100_000)
    assert len(rows) == status.messages
    numbers = [int(r.payload.rstrip(b".")) for r in rows]
    assert numbers == sorted(numbers) and numbers[-1] == submitted - 1  # the newest survive (drop-oldest)
    # Space freed (the uplink delivered them): buffering resumes, the flag clears.
    await store.delete([r.id for r in rows])
    await store.append(message(10**6, size=400))
    assert store.status().disk_full is False
    await store.close()


async def test_overload_raises_and_counts(tmp_path: Path) -> None:
    store = MessageStore(tmp_path / "sf.db", limits=UNLIMITED, handoff_capacity=5)
    await store.open()
    futures = [store.append(message(n)) for n in range(5)]
    with pytest.raises(StoreOverloadedError, match="waiting for the store writer"):
        store.append(message(5))
    assert store.status().dropped == {DropReason.OVERLOADED: 1}
    await asyncio.gather(*futures)
    await store.append(message(6))  # room again once the batch is committed
    await store.close()


def _write_sqlite(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b"this is not a database at all" * 200), "not a usable SQLite database"),
        (lambda p: p.write_bytes(bytes(8192)), "not a usable SQLite database"),
        (lambda p: _write_sqlite(p, "PRAGMA user_version=99"), "newer release"),
        (lambda p: _write_sqlite(p, "CREATE TABLE other (x)"), "not a store"),
    ],
    ids=["garbage", "zero-filled", "newer-schema", "foreign-database"],
)
async def test_unusable_file_is_moved_aside_and_a_new_store_works(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "sf.db"
    make(path)
    store = MessageStore(path, limits=UNLIMITED)
    status = await store.open()
    assert status.mode is StoreMode.DISK
    assert len(status.problems) == 1
    assert reason in status.problems[0].message and "moved aside" in status.problems[0].message
    aside = [p for p in os.listdir(tmp_path) if p.startswith("sf.db.corrupt-")]
    assert len([p for p in aside if not p.endswith(("-wal", "-shm"))]) == 1
    assert await store.append(message(1)) == 1
    await store.close()


async def test_stale_shm_without_wal_opens_normally(tmp_path: Path) -> None:
    path = tmp_path / "sf.db"
    store = MessageStore(path, limits=UNLIMITED)
    await store.open()
    await store.append(message(1))
    await store.close()
    (tmp_path / "sf.db-shm").write_bytes(bytes(32768))
    reopened = MessageStore(path, limits=UNLIMITED)
    status = await reopened.open()
    assert status.problems == () and status.messages == 1
    await reopened.close()


async def test_unwritable_data_directory_runs_in_memory_and_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    store = MessageStore(blocker / "sf.db", limits=UNLIMITED)
    status = await store.open()
    assert status.mode is StoreMode.MEMORY
    assert "cannot be written" in status.problems[0].message and "memory" in status.problems[0].message
    assert await store.append(message(1)) == 1  # still buffering, in memory
    assert len(await store.read_after(0)) == 1
    await store.close()


async def test_missing_database_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "sf.db"
    store = MessageStore(path, limits=UNLIMITED)
    status = await store.open()
    assert status.mode is StoreMode.DISK and status.problems == () and path.exists()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    await store.close()

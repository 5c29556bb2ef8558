"""Broken stores at start-up: a clear error or a loud move-aside, never a silent wipe (catalogue T27).

The broken files are shipped in ``files/`` (regenerate with ``files/make_files.py``).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from gateway.broker.hooks import StoredMessage
from gateway.broker.persistence import (
    STORE_NAME,
    Recovery,
    SqlitePersistence,
    StoreCorruptError,
    StoreUnreadableError,
    StoreUnusableError,
    StoreVersionError,
)

FILES = Path(__file__).parent / "files"

CASES = [
    ("zero-filled.sqlite3", StoreCorruptError, "the file header is wrong"),
    ("random.sqlite3", StoreCorruptError, "the file header is wrong"),
    ("garbage-header.sqlite3", StoreCorruptError, "the file header is wrong"),
    ("truncated.sqlite3", StoreCorruptError, ""),
    ("newer-version.sqlite3", StoreVersionError, "schema version 99 is not supported"),
    ("foreign.sqlite3", StoreCorruptError, "not an edge-gateway broker store"),
    ("bad-row.sqlite3", StoreCorruptError, "table retained, row 'plant/tag/0': unreadable value (QoS 7)"),
]


def install(tmp_path: Path, name: str) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(FILES / name, data_dir / STORE_NAME)
    return data_dir


@pytest.mark.parametrize(("name", "error", "fragment"), CASES)
async def test_refuse_policy_names_the_file_and_the_recovery(
    tmp_path: Path, name: str, error: type[StoreUnusableError], fragment: str
) -> None:
    data_dir = install(tmp_path, name)
    original = (data_dir / STORE_NAME).read_bytes()
    with pytest.raises(error) as info:
        await SqlitePersistence(data_dir, recovery=Recovery.REFUSE).load()
    rendered = info.value.render()
    assert str(data_dir / STORE_NAME) in rendered and fragment in rendered
    assert "hint: move the file aside" in rendered
    assert (data_dir / STORE_NAME).read_bytes() == original, "refusing must not touch the file"
    # The lock was released: a later attempt gets the same clear answer, not "another broker".
    with pytest.raises(error):
        await SqlitePersistence(data_dir, recovery=Recovery.REFUSE).load()


@pytest.mark.parametrize(("name", "error", "fragment"), CASES)
async def test_move_aside_policy_keeps_the_file_and_starts_empty(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    error: type[StoreUnusableError],
    fragment: str,
) -> None:
    data_dir = install(tmp_path, name)
    original = (data_dir / STORE_NAME).read_bytes()
    store = SqlitePersistence(data_dir)
    state = await store.load()
    assert state.retained == () and state.sessions == ()
    moved = list(data_dir.glob(f"{STORE_NAME}.corrupt-*"))
    main_files = [p for p in moved if not p.name.endswith(("-wal", "-shm"))]
    assert len(main_files) == 1
    kept = main_files[0]
    assert kept.read_bytes()[:100] == original[:100], "the bad file is kept for inspection, not wiped"
    assert store.alarm is not None and str(kept) in store.alarm and fragment in store.alarm
    assert any(r.levelname == "CRITICAL" and str(kept) in r.getMessage() for r in caplog.records)
    # And the new store works.
    store.retained_set(StoredMessage("after", b"1", 0, True))
    await store.close()
    again = SqlitePersistence(data_dir)
    assert [m.topic for m in (await again.load()).retained] == ["after"]
    assert again.alarm is None
    await again.close()


async def test_a_directory_in_place_of_the_store_is_refused_even_with_move_aside(tmp_path: Path) -> None:
    (tmp_path / STORE_NAME).mkdir()
    with pytest.raises(StoreUnreadableError, match="is not a regular file"):
        await SqlitePersistence(tmp_path, recovery=Recovery.MOVE_ASIDE).load()
    assert (tmp_path / STORE_NAME).is_dir()


async def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("oops")
    with pytest.raises(StoreUnreadableError, match="cannot create the data directory"):
        await SqlitePersistence(tmp_path / "data").load()


async def test_wal_cut_at_any_point_loads_a_prefix_of_the_commits(tmp_path: Path) -> None:
    """Power-loss emulation: the database plus a WAL truncated anywhere must load, and must hold exactly the
    transactions committed before the cut (WAL frames carry checksums; a torn tail is ignored)."""
    live = tmp_path / "live"
    store = SqlitePersistence(live, commit_interval=0.0)
    await store.load()
    for index in range(1, 41):
        store.retained_set(StoredMessage("counter", str(index).encode(), 1, True))
        store.retained_set(StoredMessage(f"log/{index}", b"x" * 300, 1, True))
        await store.flush()  # one transaction per index
    # Copy the files as the kernel holds them (no checkpoint has run: the WAL holds the commits).
    db = (live / STORE_NAME).read_bytes()
    wal = (live / f"{STORE_NAME}-wal").read_bytes()
    await store.close()
    assert len(wal) > 32
    seen: set[int] = set()
    for cut in sorted({32, 100, len(wal) // 7, len(wal) // 3, len(wal) // 2, len(wal) - 1, len(wal)}):
        copy = tmp_path / f"cut-{cut}"
        copy.mkdir()
        (copy / STORE_NAME).write_bytes(db)
        (copy / f"{STORE_NAME}-wal").write_bytes(wal[:cut])
        restored = SqlitePersistence(copy, recovery=Recovery.REFUSE)
        state = await restored.load()
        await restored.close()
        topics = {m.topic: m.payload for m in state.retained}
        counter = int(topics.get("counter", b"0"))
        assert {t for t in topics if t.startswith("log/")} == {f"log/{i}" for i in range(1, counter + 1)}
        seen.add(counter)
    assert 40 in seen and len(seen) > 2, f"the cuts should land in different transactions: {seen}"


def test_shipped_files_are_what_the_docstring_says() -> None:
    assert (FILES / "zero-filled.sqlite3").read_bytes() == bytes(8192)
    connection = sqlite3.connect(f"file:{FILES / 'newer-version.sqlite3'}?mode=ro", uri=True)
    try:
        assert connection.execute("PRAGMA user_version").fetchone() == (99,)
    finally:
        connection.close()


def test_corrupt_store_that_cannot_be_moved_aside_stops_start_up(tmp_path: Path) -> None:
    """An immutable data directory (chattr +i) makes the rename fail: a clear error, nothing half-done."""
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr (e2fsprogs)")
    data_dir = install(tmp_path, "zero-filled.sqlite3")
    (data_dir / f"{STORE_NAME}.lock").touch()
    if subprocess.run(["chattr", "+i", str(data_dir)], capture_output=True, check=False).returncode != 0:
        pytest.skip("this file system does not support the immutable attribute")
    try:
        with pytest.raises(StoreUnreadableError, match="moving it aside failed too") as info:
            asyncio.run(SqlitePersistence(data_dir).load())
        assert "the file header is wrong" in info.value.message
    finally:
        subprocess.run(["chattr", "-i", str(data_dir)], check=True)
    assert (data_dir / STORE_NAME).read_bytes() == bytes(8192)


async def test_incomplete_checkpoint_at_close_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlitePersistence(tmp_path)
    await store.load()
    store.retained_set(StoredMessage("kept", b"1", 0, True))
    await store.flush()
    assert store._opened is not None
    # A reader holding a read transaction open makes a TRUNCATE checkpoint impossible; with busy_timeout 0
    # SQLite reports it at once.
    store._opened.connection.execute("PRAGMA busy_timeout = 0")
    reader = sqlite3.connect(tmp_path / STORE_NAME)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM retained").fetchall()
    try:
        await store.close()
    finally:
        reader.close()
    assert "WAL checkpoint at close incomplete (another reader holds the database)" in caplog.text
    again = SqlitePersistence(tmp_path)
    assert [m.topic for m in (await again.load()).retained] == ["kept"]
    await again.close()

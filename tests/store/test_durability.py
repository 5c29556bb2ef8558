"""The durability promise of README "Store-and-forward durability", tested with real processes and files.

- kill -9: every message whose ``append`` future resolved ("acked") in a child process is in the file.
- power loss: emulated by copying the database with its ``-wal`` cut at random offsets (catalogue T31):
  the copy opens, passes ``integrity_check``, and holds a prefix of the committed sequence.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway.store import MessageStore, StoreLimits, StoreMode
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


class Child:
    """The writer child with its stdout collected by a thread (acked numbers in order)."""

    def __init__(self, path: Path, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.store._child_writer", str(path), str(count)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.acked: list[int] = []
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode().strip()
            self.lines.append(line)
            if line.startswith("acked "):
                self.acked.append(int(line.split()[1]))

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.stderr = "\n".join(line for line in self.lines if not line.startswith("acked "))[-2000:]


def _wait_for_acks(child: Child, target: int) -> None:
    wait_until(
        lambda: len(child.acked) >= target or child.process.poll() is not None,
        timeout=30,
        message=lambda: f"{target} acks from the child (output: {child.lines[-5:]})",
    )


def stored_numbers(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [int(p) for (p,) in conn.execute("SELECT payload FROM messages ORDER BY id")]
    finally:
        conn.close()


@pytest.mark.timeout(60)
def test_kill_9_loses_no_acknowledged_message(tmp_path: Path) -> None:
    rng = random.Random(5)
    for iteration in range(3):
        path = tmp_path / f"sf-{iteration}.db"
        child = Child(path, count=200_000)
        target = rng.randrange(2_000, 20_000)
        _wait_for_acks(child, target)
        child.kill()
        assert child.acked, child.stderr
        stored = stored_numbers(path)
        # Every acked number is stored, in order, and what is stored is a gap-free prefix.
        assert stored == list(range(len(stored)))
        assert max(child.acked) < len(stored), (max(child.acked), len(stored))


def test_power_loss_by_wal_truncation_keeps_a_committed_prefix(tmp_path: Path) -> None:
    path = tmp_path / "sf.db"
    child = Child(path, count=3_000)
    wait_until(
        lambda: "done" in child.lines or child.process.poll() is not None, timeout=30, message="child done"
    )
    # Kill while the store is open, so the WAL is not checkpointed into the main file.
    child.kill()
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    wal_size = wal.stat().st_size
    rng = random.Random(31)
    lengths = []
    for copy in range(8):
        target_dir = tmp_path / f"copy-{copy}"
        target_dir.mkdir()
        shutil.copy(path, target_dir / "sf.db")
        cut = rng.randrange(0, wal_size)
        with open(wal, "rb") as source, open(target_dir / "sf.db-wal", "wb") as dest:
            dest.write(source.read(cut))
        # Open through the store itself: it must accept the file without quarantining it.
        status = asyncio.run(_open_and_close(target_dir / "sf.db"))
        assert status == (StoreMode.DISK, ()), status
        conn = sqlite3.connect(target_dir / "sf.db")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        numbers = stored_numbers(target_dir / "sf.db")
        assert numbers == list(range(len(numbers)))
        lengths.append(len(numbers))
    # The full file holds everything; the cut copies hold prefixes of it.
    assert stored_numbers(path) == list(range(3_000))
    assert min(lengths) < 3_000


async def _open_and_close(path: Path) -> tuple[StoreMode, tuple[object, ...]]:
    store = MessageStore(path, limits=StoreLimits(max_bytes=None, max_age_s=None))
    status = await store.open()
    await store.close()
    return status.mode, status.problems


def test_nothing_is_lost_when_the_copy_has_no_wal_at_all(tmp_path: Path) -> None:
    path = tmp_path / "sf.db"
    child = Child(path, count=500)
    wait_until(lambda: "done" in child.lines, timeout=30, message="child done")
    child.kill()
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(path, bare / "sf.db")
    assert not os.path.exists(bare / "sf.db-wal")
    status = asyncio.run(_open_and_close(bare / "sf.db"))
    assert status == (StoreMode.DISK, ())

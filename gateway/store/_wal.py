"""Keeping the WAL bounded when a long reader held a snapshot (catalogue T37).

Our own reads are short (the writer thread answers them between batches), but another process may hold a
read transaction on the file for a while (an operator's ``sqlite3`` shell, a backup). While it does,
SQLite cannot recycle the WAL past that reader's snapshot: the file grows with every commit, and the
automatic checkpoints (PASSIVE, at every commit over 1000 pages) cannot finish. ``journal_size_limit``
only shrinks the file when it is recycled, which needs a commit *after* a complete checkpoint, and the
store may be idle by then.

So the writer calls :func:`shrink_wal` after commits and when idle, at most once per
``WAL_CHECK_INTERVAL_S``: when the ``-wal`` file is over the limit it tries ``wal_checkpoint(TRUNCATE)``
with a zero busy timeout, so a reader still holding its snapshot makes it return at once ("busy", try
again later) instead of blocking the writer; once the reader has gone, the WAL is copied into the database
and truncated to zero bytes.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

WAL_CHECK_INTERVAL_S = 1.0


def shrink_wal(connection: sqlite3.Connection, path: Path, limit: int, busy_timeout_ms: int) -> bool | None:
    """Checkpoint and truncate the WAL of ``path`` if it is larger than ``limit`` bytes.

    Returns ``None`` when there was nothing to do, ``True`` when it was truncated, ``False`` when a reader
    still holds an old snapshot (nothing waited for it). ``busy_timeout_ms`` is restored afterwards.
    """
    wal = path.with_name(path.name + "-wal")
    try:
        size = wal.stat().st_size
    except FileNotFoundError:
        return None
    if size <= limit:
        return None
    connection.execute("PRAGMA busy_timeout=0")
    try:
        busy, _frames, _copied = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    if busy:
        log.info("store %s: WAL is %d bytes; a reader holds an old snapshot, checkpoint later", path, size)
        return False
    log.info("store %s: WAL of %d bytes checkpointed and truncated", path, size)
    return True


class WalKeeper:
    """Calls :func:`shrink_wal` at most once per ``interval`` (monotonic seconds passed in); logs errors."""

    def __init__(
        self, path: Path | None, limit: int, busy_timeout_ms: int, interval: float = WAL_CHECK_INTERVAL_S
    ):
        self._path = path
        self._limit = limit
        self._busy_timeout_ms = busy_timeout_ms
        self._interval = interval
        self._last = float("-inf")

    def maybe_shrink(self, connection: sqlite3.Connection | None, now: float) -> None:
        if self._path is None or connection is None or now - self._last < self._interval:
            return
        self._last = now
        try:
            shrink_wal(connection, self._path, self._limit, self._busy_timeout_ms)
        except sqlite3.Error as error:
            log.warning("store %s: WAL checkpoint failed: %s", self._path, error)

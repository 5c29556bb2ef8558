"""Opening the store file at start-up: lock, check, and the recovery policy for a bad file.

Steps, each with its own clear error naming the file:

1. create the data directory (mode 0700) if needed; take an exclusive ``flock`` on ``<store>.lock`` so two
   brokers never share one store (the lock dies with the process, so kill -9 never leaves it stale);
2. read the first 100 bytes: a non-empty file must carry the SQLite header (zero-filled, random or truncated
   files are caught here, before SQLite sees them);
3. open with SQLite in WAL mode with ``synchronous=FULL`` (a commit is on disk when it returns, so it
   survives power loss), check the stamps (:mod:`.schema`) and run ``PRAGMA quick_check``;
4. the caller then reads every row (:class:`RowReader` validates them); a failure there is corruption too.

Recovery policy (:class:`Recovery`) for a corrupt file or another schema version:

- ``MOVE_ASIDE`` (default, catalogue T27): rename the file and its ``-wal``/``-shm`` companions to
  ``<name>.corrupt-<UTC time>``, log a CRITICAL alarm naming both paths, and start with an empty store. No
  data is deleted: the old file can be inspected or restored by hand. The broker does not crash-loop.
- ``REFUSE``: raise the error; the broker does not start until someone moves the file (the hint says how).

A file that cannot be read or locked (permissions, a directory, I/O error, another broker) is always
refused: moving it aside would not fix the cause.
"""

from __future__ import annotations

import enum
import fcntl
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.broker.persistence.errors import (
    StoreCorruptError,
    StoreUnreadableError,
    StoreUnusableError,
    StoreVersionError,
)
from gateway.broker.persistence.schema import check_header, prepare

_log = logging.getLogger(__name__)

STORE_NAME = "broker.sqlite3"


class Recovery(enum.Enum):
    """What to do at start-up with a corrupt store or one of another schema version."""

    MOVE_ASIDE = "move_aside"
    REFUSE = "refuse"


@dataclass(slots=True)
class OpenedStore:
    """A checked connection, ready for loading; the lock is held until :meth:`release`."""

    path: Path
    connection: sqlite3.Connection
    lock_fd: int
    created: bool
    alarm: str | None = None
    """Set when a bad store was moved aside: the message to show in $SYS / the TUI."""

    def release(self) -> None:
        self.connection.close()
        os.close(self.lock_fd)


def lock_store(path: Path) -> int:
    """Create the directory and take the store's lock; return the lock's file descriptor."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreUnreadableError(
            path, f"cannot create the data directory or lock file: {exc.strerror or exc}"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise StoreUnreadableError(
            path,
            "another broker process is using this store",
            hint="stop the other broker, or give this one its own data directory",
        ) from exc
    return fd


def connect(path: Path) -> tuple[sqlite3.Connection, bool]:
    """Open and check ``path`` (no recovery here). Raise a :class:`StoreUnusableError` subclass."""
    try:
        if path.exists() and not path.is_file():
            raise StoreUnreadableError(path, "is not a regular file")
        if not path.exists():
            # Create it 0600 before SQLite does (SQLite gives the -wal and -shm files the same mode).
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        with path.open("rb") as handle:
            head = handle.read(100)
    except PermissionError as exc:
        raise StoreUnreadableError(path, "permission denied", hint="check the file's owner and mode") from exc
    except OSError as exc:
        raise StoreUnreadableError(path, f"cannot be read: {exc.strerror or exc}") from exc
    check_header(path, head)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        # prepare() reads the stamps before anything is written, so a foreign file is left untouched.
        created = prepare(connection, path, _enable_wal)
        if not created:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise StoreCorruptError(path, "integrity check failed: " + "; ".join(problems))
        return connection, created
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise classify_sqlite_error(path, exc) from exc
    except StoreUnusableError:
        connection.close()
        raise


def _enable_wal(connection: sqlite3.Connection, path: Path) -> None:
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreUnreadableError(path, f"cannot switch to WAL journal mode (got {mode!r})")
    connection.execute("PRAGMA synchronous = FULL")


def classify_sqlite_error(path: Path, exc: sqlite3.Error) -> StoreUnusableError:
    """Map an SQLite error at start-up to ours: corruption if SQLite says the file is bad, else unreadable."""
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in text or "not a database" in text or "corrupt" in text
    ):
        return StoreCorruptError(path, f"SQLite reports: {text}")
    return StoreUnreadableError(path, f"SQLite reports: {text}")


def move_aside(path: Path, now: float | None = None) -> Path:
    """Rename the store and its WAL/SHM files to ``*.corrupt-<UTC time>``; return the new store path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, target.with_name(target.name + suffix))
    os.replace(path, target)
    return target


def recovery_hint(path: Path) -> str:
    return (
        f"move the file aside (mv {path} {path}.corrupt) to start with an empty store, or restore a backup; "
        "with recovery 'move_aside' the broker does this itself"
    )


def handle_bad_store(path: Path, error: StoreUnusableError, recovery: Recovery) -> str:
    """Apply ``recovery`` to a corrupt or foreign-version store: return the alarm text, or raise."""
    if isinstance(error, StoreUnreadableError) or recovery is Recovery.REFUSE:
        if error.hint is None and isinstance(error, StoreCorruptError | StoreVersionError):
            error.hint = recovery_hint(path)
        raise error
    try:
        target = move_aside(path)
    except OSError as exc:
        raise StoreUnreadableError(
            path,
            f"{error.reason}; moving it aside failed too: {exc.strerror or exc}",
            hint=recovery_hint(path),
        ) from exc
    alarm = (
        f"broker store {path} could not be used ({error.reason}); it was moved to {target} and the broker "
        "started with an empty store: retained messages and persistent sessions from before are not loaded"
    )
    _log.critical(alarm)
    return alarm

"""Opening the store database: pragmas, schema (sqlite-utils), checks, quarantine, in-memory fallback.

Runs in the writer thread only (the connection is not shared). Never raises for a bad file: a database
that is not a database, fails ``PRAGMA quick_check``, or carries a schema version from a newer release is
renamed aside (``<name>.corrupt-<UTC stamp>``, with its ``-wal``/``-shm``) and a new one is created; a
file or directory that cannot be written makes the store run in memory. Either way the reason is returned
as a :class:`StoreProblem` so the terminal UI can show it, and the gateway keeps forwarding live data.

Durability settings (see README, "Store-and-forward durability"):
- ``journal_mode=WAL``: a commit appends to the ``-wal`` file; readers never block the writer.
- ``synchronous=FULL``: the WAL is fsynced at every commit, so a power loss loses at most the batch being
  committed. Commits are batched by the writer thread, so this is a few fsyncs per second, not one per
  message.
- ``journal_size_limit``: the WAL is truncated back to 16 MiB after checkpoints; when a long reader made
  it grow past that, the writer truncates it once the reader has gone (``_wal``, T37).
"""

from __future__ import annotations

import datetime
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from gateway.store._types import StoreMode, StoreProblem

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""``PRAGMA user_version`` of the schema this release writes. A higher value means a newer release."""

MESSAGES = "messages"
META = "meta"
LAST_ID_KEY = "last_id"
WAL_SIZE_LIMIT = 16 * 1024 * 1024
BUSY_TIMEOUT_MS = 5000
SQLITE_FULL = 13


@dataclass(slots=True)
class OpenedDatabase:
    connection: sqlite3.Connection
    mode: StoreMode
    problems: list[StoreProblem]


def open_database(path: Path | None, *, max_page_count: int | None = None) -> OpenedDatabase:
    """Open (or create) the store at ``path``; ``None`` means memory only by configuration.

    ``max_page_count`` caps the file (``PRAGMA max_page_count``); tests use it to provoke SQLITE_FULL.
    """
    problems: list[StoreProblem] = []
    if path is not None:
        try:
            return OpenedDatabase(_open_file(path, problems, max_page_count), StoreMode.DISK, problems)
        except (sqlite3.Error, OSError) as error:
            problems.append(
                StoreProblem(
                    f"store-and-forward database {path} cannot be written ({error}); "
                    "queued messages are kept in memory only and are lost on restart",
                    "check that the data directory exists, is writable by the gateway and is not full",
                )
            )
            log.error("%s", problems[-1].message)
    connection = _connect(":memory:")
    _create_schema(connection)
    return OpenedDatabase(connection, StoreMode.MEMORY, problems)


def _open_file(path: Path, problems: list[StoreProblem], max_page_count: int | None) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        reason = _check_existing(path)
        if reason is not None:
            aside = quarantine(path)
            problems.append(
                StoreProblem(
                    f"store-and-forward database {path} {reason}; moved aside to {aside.name} "
                    "and started a new empty one (its messages are not replayed)",
                    f"inspect or delete {aside}; restore a backup into {path} while the gateway is stopped",
                )
            )
            log.error("%s", problems[-1].message)
    else:
        log.info("creating store-and-forward database %s", path)
    connection = _connect(str(path))
    try:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"journal_mode WAL refused (got {mode})")
        if max_page_count is not None:
            connection.execute(f"PRAGMA max_page_count={int(max_page_count)}")
        _create_schema(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _connect(target: str) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per batch.
    connection = sqlite3.connect(target, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    return connection


def _check_existing(path: Path) -> str | None:
    """Why an existing file cannot be used as our store, or ``None`` when it can."""
    try:
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as error:
        return f"cannot be opened ({error})"
    try:
        version = int(probe.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            return (
                f"was written by a newer release (schema version {version}, this release knows "
                f"up to {SCHEMA_VERSION})"
            )
        result = probe.execute("PRAGMA quick_check").fetchall()
        if [row[0] for row in result] != ["ok"]:
            return f"failed its integrity check ({'; '.join(str(r[0]) for r in result[:3])})"
        tables = {row[0] for row in probe.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and MESSAGES not in tables:
            return f"is a SQLite database but not a store (tables: {', '.join(sorted(tables))})"
    except sqlite3.DatabaseError as error:
        return f"is not a usable SQLite database ({error})"
    finally:
        probe.close()
    return None


def quarantine(path: Path) -> Path:
    """Rename ``path`` and its ``-wal``/``-shm`` aside; return the new name of the main file."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(aside.with_name(aside.name + suffix))
    path.rename(aside)
    return aside


def _create_schema(connection: sqlite3.Connection) -> None:
    db = sqlite_utils.Database(connection)
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version == SCHEMA_VERSION and MESSAGES in db.table_names():
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        db[MESSAGES].create(  # type: ignore[union-attr]
            {
                "id": int,
                "created_ms": int,
                "topic": str,
                "payload": bytes,
                "qos": int,
                "retain": int,
                "kind": int,
                "size": int,
            },
            pk="id",
            not_null={"created_ms", "topic", "payload", "qos", "retain", "kind", "size"},
            if_not_exists=True,
        )
        db[MESSAGES].create_index(["created_ms"], if_not_exists=True)  # type: ignore[union-attr]
        # ``id`` is assigned by the writer from this high-water mark, so ids are never reused even when
        # the queue empties (the drain cursor relies on strictly increasing ids).
        db[META].create({"key": str, "value": int}, pk="key", if_not_exists=True)  # type: ignore[union-attr]
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise

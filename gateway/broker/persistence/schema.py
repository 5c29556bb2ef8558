"""The SQLite schema of the broker store, its version stamp, and the checks that a file is ours.

The file is stamped twice: ``PRAGMA application_id`` (:data:`APPLICATION_ID`, "EGB1") says it is an
edge-gateway broker store, and ``PRAGMA user_version`` holds :data:`SCHEMA_VERSION`. The ``meta`` table
repeats the version with the program version that created the file, for people reading it with ``sqlite3``.

Version history:

1. retained, sessions, subscriptions, queued.
2. the publisher's identity (``origin``, ``origin_username``) on retained and queued rows (T21: a retained
   message is withheld once its publisher may no longer publish to its topic); the QoS 2 in-flight state of
   [MQTT-4.4.0-1]: ``queued.packet_id`` / ``queued.released`` (a QoS 2 message sent with that packet id,
   and PUBRECed, i.e. PUBREL pending, when ``released``), and ``inbound_qos2`` (packet ids of QoS 2
   messages received from a client and not yet released by its PUBREL, for duplicate detection).
   :func:`migrate_from_v1` adds them to a version 1 file in one transaction (v1 rows get origin "",
   which is served as the broker's own: v1 did not record publishers).

A file with a newer version is refused (:class:`StoreVersionError`): this program cannot know what the newer
one stored, and guessing could lose messages. Older versions are migrated here when there are any.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from gateway import __version__
from gateway.broker.persistence.errors import StoreCorruptError, StoreVersionError

SCHEMA_VERSION = 2
APPLICATION_ID = 0x45474231  # b"EGB1"
SQLITE_HEADER = b"SQLite format 3\x00"

_INBOUND_DDL = """
CREATE TABLE inbound_qos2 (
    client_id TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;
"""

_DDL = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE retained (
    topic TEXT PRIMARY KEY,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    properties TEXT NOT NULL,
    expires_at REAL,
    origin TEXT NOT NULL DEFAULT '',
    origin_username TEXT
);
CREATE TABLE sessions (
    client_id TEXT PRIMARY KEY,
    protocol_version INTEGER NOT NULL,
    expiry_interval INTEGER NOT NULL,
    disconnected_at REAL,
    username TEXT
);
CREATE TABLE subscriptions (
    client_id TEXT NOT NULL,
    topic_filter TEXT NOT NULL,
    qos INTEGER NOT NULL,
    no_local INTEGER NOT NULL,
    retain_as_published INTEGER NOT NULL,
    retain_handling INTEGER NOT NULL,
    subscription_identifier INTEGER,
    PRIMARY KEY (client_id, topic_filter)
);
CREATE TABLE queued (
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    message_qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    properties TEXT NOT NULL,
    expires_at REAL,
    qos INTEGER NOT NULL,
    subscription_identifiers TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    origin_username TEXT,
    packet_id INTEGER,
    released INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;
"""
    + _INBOUND_DDL
)

_MIGRATE_FROM_V1 = (
    """
ALTER TABLE retained ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE retained ADD COLUMN origin_username TEXT;
ALTER TABLE queued ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE queued ADD COLUMN origin_username TEXT;
ALTER TABLE queued ADD COLUMN packet_id INTEGER;
ALTER TABLE queued ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
"""
    + _INBOUND_DDL
)

_TABLES = {"meta", "retained", "sessions", "subscriptions", "queued", "inbound_qos2"}
_V1_TABLES = {"meta", "retained", "sessions", "subscriptions", "queued"}


def check_header(path: Path, head: bytes) -> None:
    """Refuse a non-empty file that does not start with the SQLite header (zero-filled, random, other)."""
    if head and not head.startswith(SQLITE_HEADER[: len(head)]):
        raise StoreCorruptError(path, "not an SQLite database (the file header is wrong)")
    if head and len(head) < 100:
        raise StoreCorruptError(path, f"truncated: only {len(head)} bytes, shorter than an SQLite header")


def prepare(
    connection: sqlite3.Connection, path: Path, configure: Callable[[sqlite3.Connection, Path], None]
) -> bool:
    """Create the schema in an empty database, or check an existing one. Return whether it was created.

    ``configure`` (journal mode, synchronous) runs only once the file is known to be ours or empty.

    Raises:
        StoreVersionError: another schema version, or not an edge-gateway broker store.
        StoreCorruptError: the stamps are ours but tables are missing.
        sqlite3.DatabaseError: SQLite found the file malformed (the caller maps it).
    """
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if application_id == 0 and version == 0 and not tables:
        configure(connection, path)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        connection.executescript(
            "BEGIN;"
            + _DDL
            + f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
            + f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
            + f"INSERT INTO meta VALUES ('created_by', 'edge-gateway {__version__}');"
            + f"INSERT INTO meta VALUES ('created_at', '{created}');"
            + "COMMIT;"
        )
        return True
    if application_id != APPLICATION_ID:
        raise StoreCorruptError(
            path, f"not an edge-gateway broker store (application_id {application_id:#x})"
        )
    if version == 1 and not (_V1_TABLES - tables):
        configure(connection, path)
        migrate_from_v1(connection)
        tables |= {"inbound_qos2"}
    elif version != SCHEMA_VERSION:
        raise StoreVersionError(path, version)
    missing = _TABLES - tables
    if missing:
        raise StoreCorruptError(path, f"tables missing: {', '.join(sorted(missing))}")
    configure(connection, path)
    return False


def migrate_from_v1(connection: sqlite3.Connection) -> None:
    """Bring a version 1 store to version 2 in one transaction (all or nothing: a crash leaves v1)."""
    migrated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    connection.executescript(
        "BEGIN;"
        + _MIGRATE_FROM_V1
        + f"PRAGMA user_version = {SCHEMA_VERSION};"
        + f"INSERT OR REPLACE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
        + f"INSERT OR REPLACE INTO meta VALUES ('migrated_from_v1_at', '{migrated}');"
        + "COMMIT;"
    )

"""Schema version 2 on real SQLite files: the migration from a version 1 file, the publisher's identity
(T21), the QoS 2 in-flight state ([MQTT-4.4.0-1]) and ``after_commit`` (durable_ack)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from gateway.broker.hooks import QueuedMessage, StoredMessage, StoredSession
from gateway.broker.persistence import SCHEMA_VERSION, STORE_NAME, SqlitePersistence
from tests.broker.persistence.test_store import read_rows
from tests.support.waiting import async_wait_until

#: The version 1 schema exactly as the first release created it (schema.py before version 2).
V1_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE retained (
    topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL, properties TEXT NOT NULL,
    expires_at REAL
);
CREATE TABLE sessions (
    client_id TEXT PRIMARY KEY, protocol_version INTEGER NOT NULL, expiry_interval INTEGER NOT NULL,
    disconnected_at REAL, username TEXT
);
CREATE TABLE subscriptions (
    client_id TEXT NOT NULL, topic_filter TEXT NOT NULL, qos INTEGER NOT NULL, no_local INTEGER NOT NULL,
    retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL, subscription_identifier INTEGER,
    PRIMARY KEY (client_id, topic_filter)
);
CREATE TABLE queued (
    client_id TEXT NOT NULL, seq INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
    message_qos INTEGER NOT NULL, retain INTEGER NOT NULL, properties TEXT NOT NULL, expires_at REAL,
    qos INTEGER NOT NULL, subscription_identifiers TEXT NOT NULL, PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;
PRAGMA application_id = 1162297905;
PRAGMA user_version = 1;
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO retained VALUES ('plant/a', x'01', 1, '{}', NULL);
INSERT INTO sessions VALUES ('hmi-1', 5, 3600, 1700000000.5, 'alice');
INSERT INTO subscriptions VALUES ('hmi-1', 'plant/#', 2, 0, 0, 0, NULL);
INSERT INTO queued VALUES ('hmi-1', 1, 'plant/a', x'02', 2, 0, '{}', NULL, 2, '[]');
INSERT INTO queued VALUES ('hmi-1', 2, 'plant/b', x'03', 1, 0, '{}', NULL, 1, '[7]');
"""


def write_v1_store(directory: Path) -> Path:
    path = directory / STORE_NAME
    connection = sqlite3.connect(path)
    try:
        connection.executescript(V1_DDL)
        connection.commit()
    finally:
        connection.close()
    path.chmod(0o600)
    return path


async def test_a_version_1_store_is_migrated_and_keeps_everything(tmp_path: Path) -> None:
    path = write_v1_store(tmp_path)
    store = SqlitePersistence(tmp_path)
    state = await store.load()
    assert store.alarm is None, "a v1 file is migrated, never moved aside"
    assert state.retained == (StoredMessage("plant/a", b"\x01", 1, True),)
    assert state.retained[0].origin == "" and state.retained[0].origin_username is None
    assert [s.client_id for s in state.sessions] == ["hmi-1"]
    assert state.queues["hmi-1"] == (
        QueuedMessage(1, StoredMessage("plant/a", b"\x02", 2, False), 2),
        QueuedMessage(2, StoredMessage("plant/b", b"\x03", 1, False), 1, (7,)),
    )
    assert state.inbound_qos2 == {}
    # The migrated file takes the new writes (new columns, new table).
    store.message_in_flight("hmi-1", 1, 42, True)
    store.inbound_qos2_received("hmi-1", 9)
    await store.close()
    assert read_rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)] == [(2,)]
    meta = {str(key): str(value) for key, value in read_rows(path, "SELECT key, value FROM meta")}
    assert meta["schema_version"] == "2" and "migrated_from_v1_at" in meta

    again = SqlitePersistence(tmp_path)
    state = await again.load()
    first = state.queues["hmi-1"][0]
    assert (first.packet_id, first.released) == (42, True)
    assert state.inbound_qos2 == {"hmi-1": (9,)}
    await again.close()


async def test_publisher_identity_and_qos2_in_flight_round_trip(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path)
    await store.load()
    store.session_saved(StoredSession("sub", 5, 3600))
    store.retained_set(StoredMessage("plant/x", b"1", 1, True, origin="pub-1", origin_username="op"))
    store.retained_set(StoredMessage("plant/y", b"2", 0, True))  # the broker's own (origin "")
    queued = StoredMessage("plant/x", b"q", 2, False, origin="pub-1", origin_username="op")
    store.message_queued("sub", QueuedMessage(1, queued, 2))
    store.message_queued("sub", QueuedMessage(2, queued, 2))
    store.message_queued("sub", QueuedMessage(3, queued, 2))
    store.message_in_flight("sub", 1, 11, False)
    store.message_in_flight("sub", 1, 11, True)  # PUBRECed: PUBREL pending
    store.message_in_flight("sub", 2, 12, False)  # sent, not yet PUBRECed
    store.inbound_qos2_received("sub", 5)
    store.inbound_qos2_received("sub", 6)
    store.inbound_qos2_released("sub", 5)
    await store.close()

    store = SqlitePersistence(tmp_path)
    state = await store.load()
    retained = {m.topic: (m.origin, m.origin_username) for m in state.retained}
    assert retained == {"plant/x": ("pub-1", "op"), "plant/y": ("", None)}
    assert [(q.seq, q.packet_id, q.released) for q in state.queues["sub"]] == [
        (1, 11, True),
        (2, 12, False),
        (3, None, False),
    ]
    assert state.queues["sub"][0].message.origin == "pub-1"
    assert state.inbound_qos2 == {"sub": (6,)}
    store.session_removed("sub")
    await store.close()
    assert read_rows(store.path, "SELECT count(*) FROM inbound_qos2") == [(0,)]


async def test_in_flight_updates_of_a_message_acknowledged_in_the_same_batch_are_never_written(
    tmp_path: Path,
) -> None:
    store = SqlitePersistence(tmp_path, commit_interval=0.5)
    await store.load()
    for seq in range(1, 51):
        store.message_queued("c", QueuedMessage(seq, StoredMessage("t", b"x", 2, False), 2))
        store.message_in_flight("c", seq, seq, False)
        store.message_in_flight("c", seq, seq, True)
        store.message_acknowledged("c", seq)
    await store.flush()
    stats = store.stats()
    assert stats is not None and stats.cancelled == 200 and stats.lost_operations == 0
    assert read_rows(store.path, "SELECT count(*) FROM queued") == [(0,)]
    await store.close()


async def test_after_commit_runs_only_once_the_changes_before_it_are_on_disk(tmp_path: Path) -> None:
    """What durable_ack relies on: the callback sees the row in the file (read by another connection)."""
    store = SqlitePersistence(tmp_path, commit_interval=0.2)
    await store.load()
    seen: list[list[tuple[object, ...]]] = []
    done = asyncio.Event()

    def committed() -> None:
        seen.append(read_rows(store.path, "SELECT topic FROM retained"))
        done.set()

    store.retained_set(StoredMessage("plant/durable", b"1", 1, True, origin="p"))
    store.after_commit(committed)
    assert not seen, "never synchronously: the change is not committed yet"
    await asyncio.wait_for(done.wait(), timeout=30)
    assert seen == [[("plant/durable",)]]
    # With nothing uncommitted the callback still runs on the loop, not inside the caller.
    idle: list[int] = []
    store.after_commit(lambda: idle.append(1))
    assert idle == []
    await async_wait_until(lambda: idle == [1], timeout=30, message="after_commit with nothing pending")
    await store.close()

"""SqlitePersistence on real SQLite files: round trips, the writer, file modes (catalogue T24, T25)."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from gateway.broker.codec.properties import Properties
from gateway.broker.hooks import (
    BrokerPersistence,
    PersistedState,
    QueuedMessage,
    StoredMessage,
    StoredSession,
    StoredSubscription,
)
from gateway.broker.persistence import (
    SCHEMA_VERSION,
    STORE_NAME,
    SqlitePersistence,
    StoreClosedError,
    StoreUnreadableError,
)
from gateway.broker.persistence.writer import Write
from tests.support.waiting import async_wait_until

PROPS = Properties(
    payload_format_indicator=1,
    content_type="application/json",
    response_topic="reply/here",
    correlation_data=b"\x00\xffid",
    user_properties=(("site", "north"), ("line", "2")),
)


def message(topic: str, payload: bytes = b"x", qos: int = 1, retain: bool = False) -> StoredMessage:
    return StoredMessage(topic, payload, qos, retain, PROPS if qos == 2 else Properties(), expires_at=None)


SESSION = StoredSession(
    client_id="hmi-1",
    protocol_version=5,
    expiry_interval=3600,
    subscriptions=(
        StoredSubscription(
            "plant/#",
            2,
            no_local=True,
            retain_as_published=True,
            retain_handling=1,
            subscription_identifier=7,
        ),
        StoredSubscription("alarms/+", 1),
    ),
    disconnected_at=1_700_000_000.5,
    username="alice",
)


def read_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read with a separate connection, as another process would after a crash."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(connection.execute(sql))
    finally:
        connection.close()


async def test_state_round_trips_through_a_clean_restart(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path)
    assert isinstance(store, BrokerPersistence)
    assert await store.load() == PersistedState()
    retained = [
        StoredMessage("plant/a", b"\x00\x01", 1, True, PROPS, expires_at=1_900_000_000.25),
        StoredMessage("plant/b", b"", 0, True),
    ]
    for item in retained:
        store.retained_set(item)
    store.retained_set(StoredMessage("$SYS/broker/uptime", b"12", 0, True))  # not stored: rebuilt at start
    store.retained_set(StoredMessage("plant/gone", b"1", 0, True))
    store.retained_cleared("plant/gone")
    store.session_saved(SESSION)
    queued = [
        QueuedMessage(seq, message(f"plant/{seq}", bytes([seq]), qos=1 + seq % 2), 1 + seq % 2, (7,))
        for seq in range(1, 51)
    ]
    for item in queued:
        store.message_queued("hmi-1", item)
    store.message_acknowledged("hmi-1", 1)
    await store.close()

    again = SqlitePersistence(tmp_path)
    state = await again.load()
    assert sorted(state.retained, key=lambda m: m.topic) == retained
    assert state.sessions == (SESSION,)
    assert state.queues == {"hmi-1": tuple(queued[1:])}
    await again.close()


async def test_session_changes_and_removal(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path)
    await store.load()
    store.session_saved(SESSION)
    store.message_queued("hmi-1", QueuedMessage(1, message("a"), 1))
    store.session_saved(StoredSession("hmi-1", 4, 60, subscriptions=(StoredSubscription("only/this", 0),)))
    store.session_saved(StoredSession("other", 5, 10))
    store.message_queued("other", QueuedMessage(1, message("b"), 1))
    store.session_removed("other")
    await store.flush()
    state_rows = read_rows(store.path, "SELECT client_id FROM sessions")
    assert state_rows == [("hmi-1",)]
    await store.close()
    state = await (again := SqlitePersistence(tmp_path)).load()
    assert state.sessions == (
        StoredSession("hmi-1", 4, 60, subscriptions=(StoredSubscription("only/this", 0),)),
    )
    assert list(state.queues) == ["hmi-1"]
    await again.close()


async def test_flush_is_a_durability_point_visible_to_another_reader(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path, commit_interval=5.0)  # only flush can make this commit quickly
    await store.load()
    store.retained_set(StoredMessage("t", b"v", 1, True))
    await store.flush()
    assert read_rows(store.path, "SELECT topic, payload FROM retained") == [("t", b"v")]
    await store.close()


async def test_queue_then_ack_in_one_batch_is_never_written(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path, commit_interval=1.0)
    await store.load()
    for seq in range(1, 101):
        store.message_queued("c", QueuedMessage(seq, message("t"), 1))
        store.message_acknowledged("c", seq)
    await store.flush()
    stats = store.stats()
    assert stats is not None and stats.cancelled == 200 and stats.commits == 1
    assert read_rows(store.path, "SELECT count(*) FROM queued") == [(0,)]
    await store.close()


async def test_full_hand_off_queue_applies_back_pressure_and_loses_nothing(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path, queue_size=8)
    await store.load()
    writer = store._writer
    assert writer is not None
    gate = threading.Event()
    writer.request_flush(gate.wait)  # holds the writer thread inside a flush callback until the gate opens

    def submit_two_hand_offs() -> None:
        writes = [
            Write((("INSERT INTO retained VALUES (?, ?, 0, '{}', NULL, '', NULL)", (f"t/{i}", b"v")),))
            for i in range(20)
        ]
        writer.submit_many(writes[:10])  # accepted: nothing was waiting
        writer.submit_many(writes[10:])  # 10 waiting + 10 > 8: waits for the writer (back-pressure)

    submitter = asyncio.create_task(asyncio.to_thread(submit_two_hand_offs))
    await async_wait_until(
        lambda: writer.stats().backpressure_waits == 1, timeout=10, message="back-pressure"
    )
    assert not submitter.done()
    gate.set()
    await submitter
    await store.flush()
    stats = store.stats()
    assert stats is not None and stats.lost_operations == 0 and stats.pending == 0
    assert read_rows(store.path, "SELECT count(*) FROM retained") == [(20,)]
    await store.close()


async def test_changes_of_one_loop_iteration_are_handed_over_together(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path, commit_interval=1.0)
    await store.load()
    for index in range(1200):  # no await in between: one iteration, handed over in chunks of 500
        store.retained_set(StoredMessage(f"t/{index}", b"v", 0, True))
    await store.flush()
    stats = store.stats()
    assert stats is not None and stats.submitted == 1200 and stats.commits == 1
    assert read_rows(store.path, "SELECT count(*) FROM retained") == [(1200,)]
    await store.close()


async def test_schema_version_is_recorded(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path)
    await store.load()
    await store.close()
    path = tmp_path / STORE_NAME
    assert read_rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert read_rows(path, "PRAGMA application_id") == [(0x45474231,)]
    meta = dict(read_rows(path, "SELECT key, value FROM meta"))  # type: ignore[arg-type]
    assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["created_by"].startswith("edge-gateway")


async def test_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data" / "broker"
    store = SqlitePersistence(data_dir)
    await store.load()
    store.retained_set(StoredMessage("t", b"v", 0, True))
    await store.flush()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in (STORE_NAME, f"{STORE_NAME}-wal", f"{STORE_NAME}-shm", f"{STORE_NAME}.lock"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    await store.close()


async def test_a_second_broker_on_the_same_store_is_refused(tmp_path: Path) -> None:
    first = SqlitePersistence(tmp_path)
    await first.load()
    with pytest.raises(StoreUnreadableError, match="another broker process is using this store") as info:
        await SqlitePersistence(tmp_path).load()
    assert str(tmp_path / STORE_NAME) in info.value.message
    await first.close()
    second = SqlitePersistence(tmp_path)
    await second.load()  # the lock is released by close()
    await second.close()


async def test_write_after_close_is_an_error(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path)
    await store.load()
    await store.close()
    with pytest.raises(RuntimeError, match="not loaded"):
        store.retained_cleared("t")
    assert issubclass(StoreClosedError, RuntimeError)


@pytest.mark.timeout(30)
async def test_disk_full_is_counted_and_the_broker_keeps_going(tmp_path: Path) -> None:
    store = SqlitePersistence(tmp_path, commit_interval=0.0)
    await store.load()
    await store.flush()
    # PRAGMA max_page_count gives SQLITE_FULL without a real full disk (catalogue toolkit).
    pages = read_rows(store.path, "PRAGMA page_count")[0][0]
    store._opened.connection.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[union-attr]
    store.retained_set(StoredMessage("big", bytes(200_000), 0, True))
    await store.flush()
    stats = store.stats()
    assert stats is not None and stats.write_errors == 4 and stats.lost_operations == 1
    store.retained_set(StoredMessage("small", b"ok", 0, True))  # still accepts (and stores) small changes
    await store.flush()
    assert read_rows(store.path, "SELECT topic FROM retained") == [("small",)]
    await store.close()


async def test_a_dead_writer_thread_never_blocks_the_broker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlitePersistence(tmp_path, queue_size=4)
    await store.load()
    writer = store._writer
    assert writer is not None

    def broken_callback() -> None:
        raise ZeroDivisionError("a bug in a flush callback")

    writer.request_flush(broken_callback)  # the writer thread dies of it
    await asyncio.to_thread(writer._thread.join, 10)
    assert writer.failed and "the writer thread failed" in caplog.text
    for index in range(100):  # more than the queue holds: must not block
        store.retained_set(StoredMessage(f"t/{index}", b"v", 0, True))
    await store.flush()  # answered at once instead of hanging
    stats = store.stats()
    assert stats is not None and stats.failed and stats.lost_operations == 100
    await store.close()

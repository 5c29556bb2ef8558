"""``SqlitePersistence``: the broker's retained messages and persistent sessions in one SQLite file.

Implements :class:`gateway.broker.hooks.BrokerPersistence`. The store lives at ``<data_dir>/broker.sqlite3``.
Every hook call on the event loop only builds the SQL for the change and hands it to the writer thread
(:mod:`.writer`); :meth:`load` and :meth:`close` do their blocking work in a worker thread.

The durability promise (README.md, "Durability"):

- **clean stop** (SIGTERM, ``close()``): everything handed to the store is committed before ``close``
  returns, so a restart sees every retained message, session, subscription and queued message;
- **kill -9 or power loss**: every change handed to the store before the writer's last commit survives.
  The writer commits at most ``commit_interval`` (default 0.05 s) after a change arrives, plus the time of
  the commit itself; so anything the broker acknowledged (PUBACK is sent after the hand-off) more than
  ``commit_interval`` + one commit before the crash is kept. Changes in that last window may be lost;
  a lost acknowledgement only means a message is delivered again (at least once). With the broker's
  ``durable_ack``, PUBACK/PUBREC waits for :meth:`after_commit`, so nothing acknowledged is in that window.
- the file is never left unreadable by a crash (SQLite WAL); a store that is unreadable anyway is handled at
  start-up as :mod:`.opening` describes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from gateway.broker.hooks import (
    PersistedState,
    QueuedMessage,
    StoredMessage,
    StoredSession,
    StoredSubscription,
)
from gateway.broker.persistence import rows
from gateway.broker.persistence.errors import StoreUnusableError
from gateway.broker.persistence.opening import (
    STORE_NAME,
    OpenedStore,
    Recovery,
    classify_sqlite_error,
    connect,
    handle_bad_store,
    lock_store,
)
from gateway.broker.persistence.writer import StoreWriter, Write, WriterStats

_log = logging.getLogger(__name__)

_HAND_OFF_MAX = 500
_SYS_PREFIX = "$SYS/"
_SQL_RETAINED_SET = (
    "INSERT OR REPLACE INTO retained (topic, payload, qos, properties, expires_at, origin, origin_username)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SQL_RETAINED_CLEAR = "DELETE FROM retained WHERE topic = ?"
_SQL_SESSION_SET = "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?)"
_SQL_SUBS_CLEAR = "DELETE FROM subscriptions WHERE client_id = ?"
_SQL_SUB_ADD = "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)"
_SQL_SESSION_DELETE = "DELETE FROM sessions WHERE client_id = ?"
_SQL_QUEUE_CLEAR = "DELETE FROM queued WHERE client_id = ?"
_QUEUED_COLUMNS = (
    "client_id, seq, topic, payload, message_qos, retain, properties, expires_at, qos,"
    " subscription_identifiers, origin, origin_username, packet_id, released"
)
_SQL_QUEUE_ADD = f"INSERT OR REPLACE INTO queued ({_QUEUED_COLUMNS}) VALUES ({', '.join('?' * 14)})"
_SQL_QUEUE_ACK = "DELETE FROM queued WHERE client_id = ? AND seq = ?"
_SQL_QUEUE_IN_FLIGHT = "UPDATE queued SET packet_id = ?, released = ? WHERE client_id = ? AND seq = ?"
_SQL_INBOUND_ADD = "INSERT OR REPLACE INTO inbound_qos2 VALUES (?, ?)"
_SQL_INBOUND_DELETE = "DELETE FROM inbound_qos2 WHERE client_id = ? AND packet_id = ?"
_SQL_INBOUND_CLEAR = "DELETE FROM inbound_qos2 WHERE client_id = ?"


class SqlitePersistence:
    """Durable :class:`BrokerPersistence` in ``data_dir``.

    Args:
        data_dir: directory of the store (created 0700 if missing).
        recovery: what to do with a corrupt store or one of another schema version at start-up.
        commit_interval: longest time (s) a change waits in the writer before its commit starts.
        queue_size: operations the hand-off queue holds before the broker waits for the disk.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        recovery: Recovery = Recovery.MOVE_ASIDE,
        commit_interval: float = 0.05,
        queue_size: int = 20_000,
    ) -> None:
        self.path = data_dir / STORE_NAME
        self.recovery = recovery
        self.commit_interval = commit_interval
        self.queue_size = queue_size
        self.alarm: str | None = None
        """Set when a bad store was moved aside at start-up (for $SYS and the TUI)."""
        self._opened: OpenedStore | None = None
        self._writer: StoreWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Changes made during one event-loop iteration are handed to the writer together (one lock round
        # trip instead of one per change); _hand_off runs at the end of the iteration, or at once when the
        # list reaches _HAND_OFF_MAX, and always before a flush or close.
        self._pending: list[Write] = []
        self._after: list[Callable[[], None]] = []

    # --- start and stop ----------------------------------------------------------------------------------

    async def load(self) -> PersistedState:
        """Open (with the recovery policy) and read everything; start the writer thread.

        Raises:
            StoreUnusableError: the store cannot be used and the policy does not allow moving it aside.
        """
        opened, state = await asyncio.to_thread(self._open_and_read)
        self._loop = asyncio.get_running_loop()
        self._opened = opened
        self.alarm = opened.alarm
        self._writer = StoreWriter(
            opened.connection, self.path, commit_interval=self.commit_interval, queue_size=self.queue_size
        )
        self._writer.start()
        _log.info(
            "broker store %s: %s, %d retained, %d sessions, %d queued messages",
            self.path,
            "created" if opened.created else "loaded",
            len(state.retained),
            len(state.sessions),
            sum(len(q) for q in state.queues.values()),
        )
        return state

    def _open_and_read(self) -> tuple[OpenedStore, PersistedState]:
        lock_fd = lock_store(self.path)
        try:
            alarm = None
            try:
                connection, created = connect(self.path)
                try:
                    state = _read_all(connection, self.path)
                except StoreUnusableError:
                    connection.close()
                    raise
            except StoreUnusableError as exc:
                alarm = handle_bad_store(self.path, exc, self.recovery)
                connection, created = connect(self.path)
                state = PersistedState()
            return OpenedStore(self.path, connection, lock_fd, created, alarm), state
        except BaseException:
            os.close(lock_fd)
            raise

    async def flush(self) -> None:
        """Wait until everything handed over so far is committed (a durability point)."""
        writer = self._require_writer()
        self._hand_off()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def finished() -> None:
            # The loop may be closed by the time a late flush completes; then nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, done)

        writer.request_flush(finished)
        await done

    async def close(self) -> None:
        """Commit everything pending, checkpoint the WAL, close the file and release the lock."""
        writer, opened = self._writer, self._opened
        if writer is None or opened is None:
            return
        self._hand_off()
        self._writer = None
        self._opened = None
        await asyncio.to_thread(_shut_down, writer, opened)

    def stats(self) -> WriterStats | None:
        return self._writer.stats() if self._writer is not None else None

    # --- hooks (event loop thread; never block) ----------------------------------------------------------

    def retained_set(self, message: StoredMessage) -> None:
        if message.topic.startswith(_SYS_PREFIX):
            return  # $SYS statistics are rebuilt at start-up; stored ones would show a dead broker's figures
        self._submit(Write(((_SQL_RETAINED_SET, rows.retained_row(message)),)))

    def retained_cleared(self, topic: str) -> None:
        if topic.startswith(_SYS_PREFIX):
            return
        self._submit(Write(((_SQL_RETAINED_CLEAR, (topic,)),)))

    def session_saved(self, session: StoredSession) -> None:
        statements: list[tuple[str, tuple[object, ...]]] = [
            (_SQL_SESSION_SET, rows.session_row(session)),
            (_SQL_SUBS_CLEAR, (session.client_id,)),
        ]
        statements.extend((_SQL_SUB_ADD, row) for row in rows.subscription_rows(session))
        self._submit(Write(tuple(statements)))

    def session_removed(self, client_id: str) -> None:
        self._submit(
            Write(
                (
                    (_SQL_SESSION_DELETE, (client_id,)),
                    (_SQL_SUBS_CLEAR, (client_id,)),
                    (_SQL_QUEUE_CLEAR, (client_id,)),
                    (_SQL_INBOUND_CLEAR, (client_id,)),
                )
            )
        )

    def message_queued(self, client_id: str, queued: QueuedMessage) -> None:
        row = rows.queued_row(client_id, queued)
        self._submit(Write(((_SQL_QUEUE_ADD, row),), queued_key=(client_id, queued.seq)))

    def message_acknowledged(self, client_id: str, seq: int) -> None:
        self._submit(Write(((_SQL_QUEUE_ACK, (client_id, seq)),), acked_key=(client_id, seq)))

    def message_in_flight(self, client_id: str, seq: int, packet_id: int, released: bool) -> None:
        statement = (_SQL_QUEUE_IN_FLIGHT, (packet_id, int(released), client_id, seq))
        self._submit(Write((statement,), updated_key=(client_id, seq)))

    def inbound_qos2_received(self, client_id: str, packet_id: int) -> None:
        self._submit(Write(((_SQL_INBOUND_ADD, (client_id, packet_id)),)))

    def inbound_qos2_released(self, client_id: str, packet_id: int) -> None:
        self._submit(Write(((_SQL_INBOUND_DELETE, (client_id, packet_id)),)))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop once every change handed over so far is committed (``durable_ack``).

        Callbacks of one loop iteration share one marker behind that iteration's changes; the writer runs
        the marker after the commit of the batch it was taken into, without cutting the batch short, so
        group commit still applies. With nothing uncommitted the callback runs on the next loop iteration.
        """
        writer = self._require_writer()
        if not self._pending and not self._after and writer.idle():
            assert self._loop is not None
            self._loop.call_soon(callback)
            return
        self._after.append(callback)
        if len(self._pending) + len(self._after) == 1:
            assert self._loop is not None
            self._loop.call_soon(self._hand_off)

    def _submit(self, write: Write) -> None:
        self._require_writer()
        pending = self._pending
        pending.append(write)
        if len(pending) == 1:
            assert self._loop is not None
            self._loop.call_soon(self._hand_off)
        elif len(pending) >= _HAND_OFF_MAX:
            self._hand_off()

    def _hand_off(self) -> None:
        writer = self._writer
        if writer is None:
            return
        if self._pending:
            writes, self._pending = self._pending, []
            writer.submit_many(writes)
        if self._after:
            callbacks, self._after = self._after, []
            loop = self._loop
            assert loop is not None

            def committed() -> None:
                # Writer thread; the loop may be closed by then (stop), and then nobody waits any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_run_all, callbacks)

            writer.request_marker(committed)

    def _require_writer(self) -> StoreWriter:
        if self._writer is None:
            raise RuntimeError(f"broker store {self.path} is not loaded (call load() first) or is closed")
        return self._writer


def _run_all(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _shut_down(writer: StoreWriter, opened: OpenedStore) -> None:
    writer.stop()
    try:
        busy = opened.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        problem = "another reader holds the database" if busy else None
    except sqlite3.Error as exc:
        problem = str(exc)
    finally:
        opened.release()
    if problem is not None:
        # Everything is committed in the WAL already; the next start-up replays it.
        _log.warning(
            "broker store %s: WAL checkpoint at close incomplete (%s); data is safe", opened.path, problem
        )


def _read_all(connection: sqlite3.Connection, path: Path) -> PersistedState:
    reader = rows.RowReader(path)
    try:
        retained = tuple(
            reader.retained(row)
            for row in connection.execute(
                "SELECT topic, payload, qos, properties, expires_at, origin, origin_username FROM retained"
            )
        )
        subscriptions: dict[str, list[StoredSubscription]] = {}
        # rowid keeps the order in which session_saved() listed them
        for row in connection.execute("SELECT * FROM subscriptions ORDER BY client_id, rowid"):
            client_id, subscription = reader.subscription(row)
            subscriptions.setdefault(client_id, []).append(subscription)
        sessions = tuple(
            reader.session(row, tuple(subscriptions.get(row[0], ())))
            for row in connection.execute("SELECT * FROM sessions ORDER BY client_id")
        )
        known = {session.client_id for session in sessions}
        queues: dict[str, list[QueuedMessage]] = {}
        orphans = 0
        for row in connection.execute(f"SELECT {_QUEUED_COLUMNS} FROM queued ORDER BY client_id, seq"):
            client_id, queued = reader.queued(row)
            if client_id in known:
                queues.setdefault(client_id, []).append(queued)
            else:
                orphans += 1
        inbound: dict[str, list[int]] = {}
        for row in connection.execute("SELECT client_id, packet_id FROM inbound_qos2 ORDER BY client_id"):
            client_id, packet_id = reader.inbound(row)
            if client_id in known:
                inbound.setdefault(client_id, []).append(packet_id)
    except sqlite3.DatabaseError as exc:
        raise classify_sqlite_error(path, exc) from exc
    if orphans:
        _log.warning(
            "broker store %s: ignored %d queued messages of sessions that no longer exist", path, orphans
        )
    return PersistedState(
        retained=retained,
        sessions=sessions,
        queues={cid: tuple(q) for cid, q in queues.items()},
        inbound_qos2={cid: tuple(ids) for cid, ids in inbound.items()},
    )

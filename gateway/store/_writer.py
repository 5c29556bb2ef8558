"""The writer thread: the only owner of the SQLite connection.

Theory of operation
-------------------
The event loop never touches SQLite. It hands *commands* (append a batch, delete acknowledged ids, read
the next rows, close) to this thread through a bounded ``queue.SimpleQueue`` plus a counter of pending
messages that the facade checks before queueing (``StoreOverloadedError`` past ``handoff_capacity``).

The thread takes every command that is waiting, and when the group contains appends it also waits until
``commit_interval`` has passed since the previous commit, collecting more (group commit). The group is then
applied in ONE transaction: appends (ids assigned here from a persisted high-water mark, so they increase
strictly and are never reused), deletes, and the caps (age, then bytes: drop-oldest). After COMMIT returns
(the WAL is fsynced: ``synchronous=FULL``) the appenders' futures are completed, and only then are reads
answered, so a reader never sees a row that could still be rolled back.

SQLITE_FULL: the transaction is rolled back (only if one is still active: SQLite may already have rolled
it back, and a second ROLLBACK raises "cannot rollback - no transaction is active"), the deletes are
retried alone, then the oldest rows are dropped (counted as ``disk_full``) to make room and the appends are
retried once. If they still do not fit, the batch is dropped, counted, and its futures fail with
``StoreFullError``; the next batch tries again, so buffering resumes as soon as space is freed.

Completions are delivered with ``complete(callback, value)``, which the facade maps to
``loop.call_soon_threadsafe`` so they run on the event loop, in commit order.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from gateway.store._commands import (
    AppendCommand,
    CloseCommand,
    Command,
    Complete,
    DeleteCommand,
    ReadCommand,
    _Counters,
)
from gateway.store._exceptions import StoreClosedError, StoreError, StoreFullError
from gateway.store._rates import RecentRates, eta_seconds
from gateway.store._schema import BUSY_TIMEOUT_MS, LAST_ID_KEY, SQLITE_FULL, WAL_SIZE_LIMIT, open_database
from gateway.store._types import (
    DropReason,
    NewMessage,
    StoredMessage,
    StoreLimits,
    StoreMode,
    StoreProblem,
    StoreStatus,
)
from gateway.store._wal import WAL_CHECK_INTERVAL_S, WalKeeper

log = logging.getLogger(__name__)


class StoreWriter:
    """Owns the SQLite connection in one thread. Public methods are thread-safe.

    Args:
        path: database file, or ``None`` for memory only.
        limits: caps applied after every batch.
        commit_interval: minimum seconds between two commits that contain appends (group commit);
            this bounds the loss on power failure to one interval.
        complete: runs a completion on the caller's side (``loop.call_soon_threadsafe``).
        clock_ms: UTC milliseconds now (the age cap); injectable for tests.
        monotonic: seconds for the in/out rates (injectable for tests).
        max_page_count: optional ``PRAGMA max_page_count`` (tests: SQLITE_FULL without root).
    """

    def __init__(
        self,
        path: Path | None,
        *,
        limits: StoreLimits,
        commit_interval: float,
        complete: Complete,
        clock_ms: Callable[[], int],
        monotonic: Callable[[], float] = time.monotonic,
        max_page_count: int | None = None,
    ) -> None:
        self._path = path
        self._limits = limits
        self._commit_interval = commit_interval
        self._complete = complete
        self._clock_ms = clock_ms
        self._max_page_count = max_page_count
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._counters = _Counters()
        self._opened = threading.Event()
        self._closed = False
        self._connection: sqlite3.Connection | None = None
        self._next_id = 1
        self._last_commit = 0.0
        self._wal = WalKeeper(path, WAL_SIZE_LIMIT, BUSY_TIMEOUT_MS)
        self._monotonic = monotonic
        self._rates = RecentRates(monotonic())
        self._thread = threading.Thread(target=self._run, name=f"store-writer:{path}", daemon=True)

    # -- called from the event loop ---------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start the thread and wait (blocking: call via ``asyncio.to_thread``) until the file is open."""
        self._thread.start()
        if not self._opened.wait(timeout):
            raise StoreError(f"store {self._path} did not open within {timeout} s", hint="is the disk hung?")

    def submit(self, command: Command) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")
        if isinstance(command, AppendCommand):
            with self._lock:
                self._counters.pending += len(command.messages)
        elif isinstance(command, CloseCommand):
            self._closed = True
        self._queue.put(command)

    def count_dropped(self, reason: DropReason, count: int) -> None:
        with self._lock:
            self._counters.dropped[reason] = self._counters.dropped.get(reason, 0) + count

    @property
    def pending(self) -> int:
        with self._lock:
            return self._counters.pending

    def status(self) -> StoreStatus:
        with self._lock:
            c = self._counters
            rate_in, rate_out = self._rates.rates(self._monotonic(), c.appended, c.left)
            return StoreStatus(
                mode=c.mode,
                path=None if self._path is None else str(self._path),
                messages=c.messages,
                bytes=c.bytes,
                pending=c.pending,
                appended=c.appended,
                removed=c.removed,
                dropped=dict(c.dropped),
                commits=c.commits,
                disk_full=c.disk_full,
                problems=tuple(c.problems),
                max_bytes=self._limits.max_bytes,
                in_per_s=rate_in,
                out_per_s=rate_out,
                eta_s=eta_seconds(c.messages + c.pending, rate_in, rate_out),
            )

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- the thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            opened = open_database(self._path, max_page_count=self._max_page_count)
            self._connection = opened.connection
            self._load_state(opened.mode, opened.problems)
        finally:
            self._opened.set()
        while True:
            group = self._gather()
            close = next((c for c in group if isinstance(c, CloseCommand)), None)
            work = [c for c in group if not isinstance(c, CloseCommand)]
            if work:
                # A broad except belongs only here, at the top of the long-lived thread: report the
                # failure to every waiting caller instead of leaving them hanging forever.
                try:
                    self._apply(work)
                except Exception as error:
                    log.exception("store writer failed on a batch")
                    self._fail(work, StoreError(f"store writer failed: {error!r}", hint="see the log"))
            if close is not None:
                self._shutdown(close)
                return

    def _gather(self) -> list[Command]:
        while True:
            try:
                group = [self._queue.get(timeout=WAL_CHECK_INTERVAL_S)]
                break
            except queue.Empty:
                self._wal.maybe_shrink(
                    self._connection, time.monotonic()
                )  # idle: the WAL may still be large from a reader that has gone
        while True:
            try:
                group.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if any(isinstance(c, AppendCommand) for c in group) and not any(
            isinstance(c, CloseCommand) for c in group
        ):
            # Group commit: wait out the rest of the interval, collecting whatever arrives meanwhile.
            deadline = self._last_commit + self._commit_interval
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    command = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                group.append(command)
                if isinstance(command, CloseCommand):
                    break
        return group

    def _load_state(self, mode: StoreMode, problems: list[StoreProblem]) -> None:
        assert self._connection is not None
        conn = self._connection
        count, total, max_id = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size),0), COALESCE(MAX(id),0) FROM messages"
        ).fetchone()
        row = conn.execute("SELECT value FROM meta WHERE key=?", (LAST_ID_KEY,)).fetchone()
        self._next_id = max(int(max_id), int(row[0]) if row else 0) + 1
        with self._lock:
            self._counters.mode = mode
            self._counters.messages = int(count)
            self._counters.bytes = int(total)
            self._counters.problems.extend(problems)
        if count:
            log.info("store %s holds %d messages (%d bytes) to forward", self._path, count, total)

    def _apply(self, work: Sequence[Command]) -> None:
        assert self._connection is not None
        appends = [c for c in work if isinstance(c, AppendCommand)]
        deletes = [c for c in work if isinstance(c, DeleteCommand)]
        reads = [c for c in work if isinstance(c, ReadCommand)]
        if appends or deletes:
            self._write(appends, deletes)
        for read in reads:
            self._complete(read.done, self._read(read))

    def _write(self, appends: list[AppendCommand], deletes: list[DeleteCommand]) -> None:
        conn = self._connection
        assert conn is not None
        messages = [m for c in appends for m in c.messages]
        delete_ids = [i for c in deletes for i in c.ids]
        try:
            self._begin()
            removed = self._delete_ids(delete_ids)
            ids, added = self._insert(messages)
            drops = self._enforce_limits(added - removed[1])
            self._commit()
        except sqlite3.OperationalError as error:
            self._rollback()
            if getattr(error, "sqlite_errorcode", None) != SQLITE_FULL:
                self._write_failed(appends, deletes, error)
                return
            self._write_when_full(appends, deletes)
            return
        self._after_commit(ids, added, removed, drops, disk_full=False)
        self._finish(appends, deletes, ids)
        self._wal.maybe_shrink(self._connection, time.monotonic())

    def _write_when_full(self, appends: list[AppendCommand], deletes: list[DeleteCommand]) -> None:
        """SQLITE_FULL path: acks first, then make room by dropping the oldest, then one retry."""
        messages = [m for c in appends for m in c.messages]
        removed = (0, 0)
        try:
            self._begin()
            removed = self._delete_ids([i for c in deletes for i in c.ids])
            self._commit()
        except sqlite3.OperationalError:
            self._rollback()
        self._after_commit([], 0, removed, {}, disk_full=True)
        need = sum(m.size for m in messages)
        try:
            self._begin()
            freed = self._drop_oldest(max(need, 64 * 1024))
            self._commit()
        except sqlite3.OperationalError:
            self._rollback()
            freed = (0, 0)
        self._after_commit([], 0, (0, 0), {DropReason.DISK_FULL: freed} if freed[0] else {}, disk_full=True)
        try:
            self._begin()
            ids, added = self._insert(messages)
            self._commit()
        except sqlite3.OperationalError as error:
            self._rollback()
            self.count_dropped(DropReason.DISK_FULL, len(messages))
            with self._lock:
                self._counters.pending -= len(messages)
            problem = StoreFullError(
                f"store {self._path} is full ({error}); {len(messages)} messages were dropped",
                hint="free disk space or lower store.max_bytes; buffering resumes by itself",
            )
            log.error("%s", problem)
            for command in appends:
                self._complete(command.done, problem)
            for delete in deletes:
                if delete.done is not None:
                    self._complete(delete.done, None)
            return
        self._after_commit(ids, added, (0, 0), {}, disk_full=False)
        self._finish(appends, deletes, ids)

    def _write_failed(
        self, appends: list[AppendCommand], deletes: list[DeleteCommand], error: sqlite3.Error
    ) -> None:
        count = sum(len(c.messages) for c in appends)
        problem = StoreError(
            f"store {self._path} could not commit ({error}); {count} messages were dropped",
            hint="check the disk and the log; the gateway keeps forwarding live data",
        )
        log.error("%s", problem)
        self.count_dropped(DropReason.WRITE_ERROR, count)
        with self._lock:
            self._counters.pending -= count
            if not any(p.message == problem.message for p in self._counters.problems[-1:]):
                self._counters.problems.append(StoreProblem(problem.message, problem.hint or ""))
        self._fail([*appends, *deletes], problem)

    def _finish(self, appends: list[AppendCommand], deletes: list[DeleteCommand], ids: list[int]) -> None:
        start = 0
        for command in appends:
            end = start + len(command.messages)
            self._complete(command.done, ids[start:end])
            start = end
        for delete in deletes:
            if delete.done is not None:
                self._complete(delete.done, None)

    def _fail(self, commands: Sequence[Command], error: StoreError) -> None:
        for command in commands:
            done = command.done
            if done is not None:
                self._complete(done, error)

    # -- SQL -----------------------------------------------------------------------------------------

    def _begin(self) -> None:
        assert self._connection is not None
        self._connection.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        assert self._connection is not None
        self._connection.execute("COMMIT")
        self._last_commit = time.monotonic()

    def _rollback(self) -> None:
        assert self._connection is not None
        # After SQLITE_FULL, SQLite may already have rolled the transaction back by itself.
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def _insert(self, messages: Sequence[NewMessage]) -> tuple[list[int], int]:
        """Insert with ids from the high-water mark; returns (ids, bytes added). Each message's size is
        computed once (it encodes the topic), and the rows are generated, not built as a list first."""
        assert self._connection is not None
        if not messages:
            return [], 0
        first = self._next_id
        ids = list(range(first, first + len(messages)))
        added = 0

        def rows() -> Iterator[tuple[int, int, str, bytes, int, int, int, int]]:
            nonlocal added
            for i, m in zip(ids, messages, strict=True):
                size = m.size
                added += size
                yield (i, m.created_ms, m.topic, m.payload, m.qos, int(m.retain), m.kind, size)

        self._connection.executemany(
            "INSERT INTO messages (id, created_ms, topic, payload, qos, retain, kind, size) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
        self._connection.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (LAST_ID_KEY, ids[-1])
        )
        self._next_id = ids[-1] + 1
        return ids, added

    def _delete_ids(self, ids: Sequence[int]) -> tuple[int, int]:
        """Delete acknowledged rows; returns (rows, bytes) actually removed."""
        assert self._connection is not None
        if not ids:
            return (0, 0)
        rows = 0
        size = 0
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            count, total = self._connection.execute(
                f"SELECT COUNT(*), COALESCE(SUM(size),0) FROM messages WHERE id IN ({marks})", chunk
            ).fetchone()
            self._connection.execute(f"DELETE FROM messages WHERE id IN ({marks})", chunk)
            rows += int(count)
            size += int(total)
        return (rows, size)

    def _drop_oldest(self, free_bytes: int) -> tuple[int, int]:
        """Delete the oldest rows until ``free_bytes`` are freed (or the table is empty)."""
        assert self._connection is not None
        freed_rows = 0
        freed_bytes = 0
        last_id = None
        for row_id, size in self._connection.execute("SELECT id, size FROM messages ORDER BY id"):
            if freed_bytes >= free_bytes:
                break
            freed_rows += 1
            freed_bytes += int(size)
            last_id = int(row_id)
        if last_id is not None:
            self._connection.execute("DELETE FROM messages WHERE id <= ?", (last_id,))
        return (freed_rows, freed_bytes)

    def _enforce_limits(self, bytes_delta: int) -> dict[DropReason, tuple[int, int]]:
        """Apply the caps inside the current transaction; ``bytes_delta`` = its inserts minus deletes."""
        assert self._connection is not None
        drops: dict[DropReason, tuple[int, int]] = {}
        if self._limits.max_age_s is not None:
            cutoff = self._clock_ms() - int(self._limits.max_age_s * 1000)
            count, total = self._connection.execute(
                "SELECT COUNT(*), COALESCE(SUM(size),0) FROM messages WHERE created_ms < ?", (cutoff,)
            ).fetchone()
            if count:
                self._connection.execute("DELETE FROM messages WHERE created_ms < ?", (cutoff,))
                drops[DropReason.MAX_AGE] = (int(count), int(total))
        if self._limits.max_bytes is not None:
            with self._lock:
                current = self._counters.bytes
            current += bytes_delta - sum(b for _, b in drops.values())
            if current > self._limits.max_bytes:
                drops[DropReason.MAX_BYTES] = self._drop_oldest(current - self._limits.max_bytes)
        return drops

    def _read(self, read: ReadCommand) -> list[StoredMessage]:
        assert self._connection is not None
        rows: list[StoredMessage] = []
        size = 0
        cursor = self._connection.execute(
            "SELECT id, topic, payload, qos, retain, kind, created_ms, size FROM messages "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (read.after_id, read.limit),
        )
        for row_id, topic, payload, qos, retain, kind, created_ms, row_size in cursor:
            if rows and size + int(row_size) > read.max_bytes:
                break
            size += int(row_size)
            rows.append(
                StoredMessage(
                    id=int(row_id),
                    topic=str(topic),
                    payload=bytes(payload),
                    qos=int(qos),
                    retain=bool(retain),
                    kind=int(kind),
                    created_ms=int(created_ms),
                )
            )
        return rows

    def _after_commit(
        self,
        ids: Sequence[int],
        added_bytes: int,
        removed: tuple[int, int],
        drops: dict[DropReason, tuple[int, int]],
        *,
        disk_full: bool,
    ) -> None:
        with self._lock:
            c = self._counters
            c.commits += 1
            c.pending -= len(ids)
            c.appended += len(ids)
            c.messages += len(ids) - removed[0] - sum(n for n, _ in drops.values())
            c.bytes += added_bytes - removed[1] - sum(b for _, b in drops.values())
            c.removed += removed[0]
            c.disk_full = disk_full
            c.left += removed[0] + sum(n for n, _ in drops.values())
            for reason, (count, _) in drops.items():
                c.dropped[reason] = c.dropped.get(reason, 0) + count
            self._rates.record(self._monotonic(), c.appended, c.left)

    def _shutdown(self, close: CloseCommand) -> None:
        assert self._connection is not None
        try:
            # A clean close checkpoints the WAL into the main file (and truncates it).
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            log.warning("store %s: checkpoint at close failed: %s", self._path, error)
        self._connection.close()
        with self._lock:
            self._counters.mode = StoreMode.CLOSED
        self._complete(close.done, None)

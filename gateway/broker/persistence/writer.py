"""The store's single writer thread: takes operations from a bounded queue and commits them in batches.

Theory of operation
-------------------
The event loop hands each change to :meth:`StoreWriter.submit` and returns at once. The writer thread takes
the first waiting operation, then keeps collecting for up to ``commit_interval`` seconds (or ``max_batch``
operations, or until a flush is requested) and applies the batch in one transaction. With WAL and
``synchronous=FULL`` the transaction is on disk when COMMIT returns, so it survives kill -9 and power loss.
Batching turns many small writes into one fsync (group commit); under load batches grow by themselves.

A QoS 1/2 message that is queued and acknowledged within the same batch (the common case for a connected
subscriber) is never written at all: the insert and the delete cancel out.

Bounds and failure policy (explicit and counted in :class:`WriterStats`):

- the hand-off queue holds ``queue_size`` operations; when it is full, :meth:`submit` waits for the writer
  (back-pressure on the broker: it slows down rather than acknowledging what it cannot store), counts
  ``backpressure_waits`` and logs a warning at most every 10 s;
- a failed batch (disk full, I/O error) is rolled back and retried after 0.1, 0.5 and 2 s; after that it is
  dropped, ``lost_operations`` grows by its size and the error is logged; the broker keeps serving from
  memory.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.broker.persistence.errors import StoreClosedError

_log = logging.getLogger(__name__)

_RETRY_DELAYS = (0.1, 0.5, 2.0)


@dataclass(frozen=True, slots=True)
class Write:
    """One change: ``statements`` are (SQL, parameters) pairs run in order. ``key`` marks queue rows."""

    statements: tuple[tuple[str, tuple[object, ...]], ...]
    queued_key: tuple[str, int] | None = None
    """(client id, seq) of a queued-message insert, so a later ack in the same batch can cancel it."""
    acked_key: tuple[str, int] | None = None
    """(client id, seq) of an acknowledgement (a delete of a queued row)."""


@dataclass(frozen=True, slots=True)
class _Flush:
    done: Callable[[], None]


class _Stop:
    pass


_STOP = _Stop()
_Item = Write | _Flush | _Stop


@dataclass(frozen=True, slots=True)
class WriterStats:
    submitted: int
    committed: int
    commits: int
    cancelled: int
    write_errors: int
    lost_operations: int
    backpressure_waits: int
    failed: bool
    pending: int
    last_commit_seconds: float


class StoreWriter:
    """Owns the write connection from :meth:`start` until :meth:`stop` returns."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        *,
        commit_interval: float = 0.05,
        max_batch: int = 2000,
        queue_size: int = 20_000,
    ) -> None:
        self._connection = connection
        self._path = path
        self._commit_interval = commit_interval
        self._max_batch = max_batch
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name=f"broker-store {path.name}", daemon=True)
        self._closed = False
        self.failed = False
        """True once the writer thread died of an unexpected error (logged); changes are then counted lost."""
        self._lock = threading.Lock()
        self._submitted = self._committed = self._commits = self._cancelled = 0
        self._write_errors = self._lost = self._backpressure = 0
        self._last_commit = 0.0
        self._last_warning = 0.0

    def start(self) -> None:
        self._thread.start()

    def submit(self, write: Write) -> None:
        """Hand ``write`` to the writer; waits only when the queue is full (back-pressure, counted)."""
        self._put(write)
        self._submitted += 1

    def request_flush(self, done: Callable[[], None]) -> None:
        """Ask for a commit of everything submitted so far; ``done`` runs in the writer thread after it."""
        self._put(_Flush(done))

    def stop(self) -> None:
        """Commit what is pending, stop the thread and wait for it (blocking: call it off the loop)."""
        if not self._closed:
            if not self.failed:
                self._queue.put(_STOP)
            self._closed = True
        self._thread.join()

    def stats(self) -> WriterStats:
        with self._lock:
            return WriterStats(
                submitted=self._submitted,
                committed=self._committed,
                commits=self._commits,
                cancelled=self._cancelled,
                write_errors=self._write_errors,
                lost_operations=self._lost,
                backpressure_waits=self._backpressure,
                failed=self.failed,
                pending=self._queue.qsize(),
                last_commit_seconds=self._last_commit,
            )

    def _put(self, item: _Item) -> None:
        if self._closed:
            raise StoreClosedError(f"broker store {self._path} is closed")
        if self.failed:
            if isinstance(item, Write):
                with self._lock:
                    self._lost += 1
            elif isinstance(item, _Flush):
                item.done()
            return
        try:
            self._queue.put_nowait(item)
            return
        except queue.Full:
            pass
        self._backpressure += 1
        now = time.monotonic()
        if now - self._last_warning > 10.0:
            self._last_warning = now
            _log.warning(
                "broker store %s: the write queue is full (%d operations); the broker waits for the disk",
                self._path,
                self._queue.maxsize,
            )
        self._queue.put(item)

    # --- writer thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch, stop = self._collect()
                writes = [item for item in batch if isinstance(item, Write)]
                if writes:
                    self._commit(writes)
                for item in batch:
                    if isinstance(item, _Flush):
                        item.done()
                if stop:
                    return
        except Exception:
            # Top of a long-lived thread: a bug here must not leave the broker blocked on a full queue.
            # Log it, count what can no longer be stored, and let submit() drop instead of wait.
            _log.exception(
                "broker store %s: the writer thread failed; changes are no longer stored", self._path
            )
            self.failed = True
            self._drain_after_failure()

    def _drain_after_failure(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, Write):
                with self._lock:
                    self._lost += 1
            elif isinstance(item, _Flush):
                item.done()

    def _collect(self) -> tuple[list[_Item], bool]:
        batch: list[_Item] = [self._queue.get()]
        deadline = time.monotonic() + self._commit_interval
        while len(batch) < self._max_batch:
            last = batch[-1]
            if isinstance(last, _Stop):
                return batch, True
            if isinstance(last, _Flush):
                break
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
        return batch, isinstance(batch[-1], _Stop)

    def _commit(self, writes: Sequence[Write]) -> None:
        plan = self._cancel_pairs(writes)
        for attempt, delay in enumerate((*_RETRY_DELAYS, None)):
            started = time.monotonic()
            try:
                self._connection.execute("BEGIN")
                for write in plan:
                    for sql, parameters in write.statements:
                        self._connection.execute(sql, parameters)
                self._connection.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                with self._lock:
                    self._write_errors += 1
                if delay is None:
                    with self._lock:
                        self._lost += len(writes)
                    _log.error(
                        "broker store %s: dropping %d changes after %d failed commits: %s",
                        self._path,
                        len(writes),
                        attempt + 1,
                        exc,
                    )
                    return
                _log.warning(
                    "broker store %s: commit failed (%s); retrying in %.1f s", self._path, exc, delay
                )
                time.sleep(delay)  # the writer thread backs off; the event loop is not involved
                continue
            with self._lock:
                self._commits += 1
                self._committed += len(writes)
                self._last_commit = time.monotonic() - started
            return

    def _cancel_pairs(self, writes: Sequence[Write]) -> list[Write]:
        inserted: dict[tuple[str, int], int] = {}
        keep = [True] * len(writes)
        for index, write in enumerate(writes):
            if write.queued_key is not None:
                inserted[write.queued_key] = index
            elif write.acked_key is not None and write.acked_key in inserted:
                keep[inserted.pop(write.acked_key)] = False
                keep[index] = False
        cancelled = keep.count(False)
        if cancelled:
            with self._lock:
                self._cancelled += cancelled
        return [write for write, kept in zip(writes, keep, strict=True) if kept]

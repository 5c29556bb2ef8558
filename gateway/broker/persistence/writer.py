"""The store's single writer thread: takes operations from a bounded queue and commits them in batches.

Theory of operation
-------------------
The event loop hands changes to :meth:`StoreWriter.submit_many` (``SqlitePersistence`` gathers the changes
of one loop iteration and hands them over together) and returns at once. The writer thread takes the first
waiting operation, then keeps collecting for up to ``commit_interval`` seconds (or ``max_batch``
operations, or until a flush is requested) and applies the batch in one transaction. With WAL and
``synchronous=FULL`` the transaction is on disk when COMMIT returns, so it survives kill -9 and power loss.
Batching turns many small writes into one fsync (group commit); under load batches grow by themselves.

A QoS 1/2 message that is queued and acknowledged within the same batch (the common case for a connected
subscriber) is never written at all: the insert and the delete cancel out.

Bounds and failure policy (explicit and counted in :class:`WriterStats`):

- the hand-off queue holds ``queue_size`` operations; when it is full, :meth:`submit_many` waits for the
  writer (back-pressure on the broker: it slows down rather than acknowledging what it cannot store), counts
  ``backpressure_waits`` and logs a warning at most every 10 s;
- a failed batch (disk full, I/O error) is rolled back and retried after 0.1, 0.5 and 2 s; after that it is
  dropped, ``lost_operations`` grows by its size and the error is logged; the broker keeps serving from
  memory;
- if the thread itself dies of a bug, that is logged, ``failed`` is set, and from then on changes are counted
  in ``lost_operations`` instead of making the broker wait on a queue nobody drains.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
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
    updated_key: tuple[str, int] | None = None
    """(client id, seq) of an update of a queued row (QoS 2 in flight): dropped with a cancelled pair."""


@dataclass(frozen=True, slots=True)
class _Flush:
    done: Callable[[], None]
    urgent: bool = True
    """True: commit now (flush). False: a marker, run after the commit of the batch it falls into."""


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
    """Owns the write connection from :meth:`start` until :meth:`stop` returns.

    The hand-off is a deque guarded by one condition variable; the bound counts write operations waiting
    for the writer (not yet taken into a batch). One call to :meth:`submit_many` is never split, and is
    accepted whole when nothing is waiting, so an oversized hand-off cannot dead-lock.
    """

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
        self._limit = queue_size
        self._items: deque[_Item] = deque()
        self._waiting = 0  # write operations in _items
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"broker-store {path.name}", daemon=True)
        self._closed = False
        self.failed = False
        """True once the writer thread died of an unexpected error (logged); changes are then counted lost."""
        self._submitted = self._committed = self._commits = self._cancelled = 0
        self._write_errors = self._lost = self._backpressure = 0
        self._last_commit = 0.0
        self._last_warning = 0.0
        self._busy = False  # a batch taken from _items is being committed

    def start(self) -> None:
        self._thread.start()

    def submit(self, write: Write) -> None:
        self.submit_many([write])

    def submit_many(self, writes: Sequence[Write]) -> None:
        """Hand ``writes`` (in order) to the writer; waits only when the queue is full (back-pressure)."""
        if self._closed:
            raise StoreClosedError(f"broker store {self._path} is closed")
        count = len(writes)
        with self._cond:
            if self._waiting and self._waiting + count > self._limit and not self.failed:
                self._backpressure += 1
                self._warn_full()
                while self._waiting and self._waiting + count > self._limit and not self.failed:
                    self._cond.wait()
            self._submitted += count
            if self.failed:
                self._lost += count
                return
            self._items.extend(writes)
            self._waiting += count
            self._cond.notify_all()

    def _warn_full(self) -> None:
        now = time.monotonic()
        if now - self._last_warning > 10.0:
            self._last_warning = now
            _log.warning(
                "broker store %s: the write queue is full (%d operations); the broker waits for the disk",
                self._path,
                self._limit,
            )

    def request_flush(self, done: Callable[[], None]) -> None:
        """Ask for a commit of everything submitted so far; ``done`` runs in the writer thread after it
        (or at once, in the caller's thread, when the writer has failed)."""
        if self._closed:
            raise StoreClosedError(f"broker store {self._path} is closed")
        with self._cond:
            if not self.failed:
                self._items.append(_Flush(done))
                self._cond.notify_all()
                return
        done()

    def request_marker(self, done: Callable[[], None]) -> None:
        """Run ``done`` (in the writer thread) once everything submitted so far is committed, without
        forcing an early commit (``durable_ack``); at once, in the caller's thread, when the writer failed."""
        if self._closed:
            raise StoreClosedError(f"broker store {self._path} is closed")
        with self._cond:
            if not self.failed:
                self._items.append(_Flush(done, urgent=False))
                self._cond.notify_all()
                return
        done()

    def idle(self) -> bool:
        """Nothing submitted is waiting or being committed (a marker now would wait for nothing)."""
        with self._cond:
            return not self._items and not self._busy

    def stop(self) -> None:
        """Commit what is pending, stop the thread and wait for it (blocking: call it off the loop)."""
        with self._cond:
            if not self._closed:
                self._closed = True
                self._items.append(_STOP)
                self._cond.notify_all()
        self._thread.join()

    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                submitted=self._submitted,
                committed=self._committed,
                commits=self._commits,
                cancelled=self._cancelled,
                write_errors=self._write_errors,
                lost_operations=self._lost,
                backpressure_waits=self._backpressure,
                failed=self.failed,
                pending=self._waiting,
                last_commit_seconds=self._last_commit,
            )

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
                with self._cond:
                    self._busy = False
                if stop:
                    return
        except Exception:
            # Top of a long-lived thread: a bug here must not leave the broker blocked on a full queue.
            # Log it, count what can no longer be stored, and let submit() drop instead of wait.
            _log.exception(
                "broker store %s: the writer thread failed; changes are no longer stored", self._path
            )
            self._drain_after_failure()

    def _drain_after_failure(self) -> None:
        with self._cond:
            self.failed = True
            items = list(self._items)
            self._items.clear()
            self._lost += self._waiting
            self._waiting = 0
            self._cond.notify_all()
        for item in items:
            if isinstance(item, _Flush):
                item.done()

    def _collect(self) -> tuple[list[_Item], bool]:
        """Take the next batch: wait for a first item, then up to ``commit_interval`` for more."""
        batch: list[_Item] = []
        taken = 0
        with self._cond:
            while not self._items:
                self._cond.wait()
            self._busy = True
            deadline = time.monotonic() + self._commit_interval
            while True:
                while self._items and taken < self._max_batch:
                    item = self._items.popleft()
                    batch.append(item)
                    if isinstance(item, Write):
                        taken += 1
                    elif isinstance(item, _Stop):
                        self._waiting -= taken
                        self._cond.notify_all()
                        return batch, True
                    elif item.urgent:
                        break  # a flush: commit now
                last = batch[-1]
                if (isinstance(last, _Flush) and last.urgent) or taken >= self._max_batch:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._waiting -= taken
            self._cond.notify_all()
        return batch, False

    def _commit(self, writes: Sequence[Write]) -> None:
        plan = self._cancel_pairs(writes)
        for attempt, delay in enumerate((*_RETRY_DELAYS, None)):
            started = time.monotonic()
            try:
                self._connection.execute("BEGIN")
                for sql, rows in _runs(plan):
                    self._connection.executemany(sql, rows)
                self._connection.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                with self._cond:
                    self._write_errors += 1
                if delay is None:
                    with self._cond:
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
            with self._cond:
                self._commits += 1
                self._committed += len(writes)
                self._last_commit = time.monotonic() - started
            return

    def _cancel_pairs(self, writes: Sequence[Write]) -> list[Write]:
        inserted: dict[tuple[str, int], list[int]] = {}
        keep = [True] * len(writes)
        for index, write in enumerate(writes):
            if write.queued_key is not None:
                inserted[write.queued_key] = [index]
            elif write.updated_key is not None and write.updated_key in inserted:
                inserted[write.updated_key].append(index)
            elif write.acked_key is not None and write.acked_key in inserted:
                for position in inserted.pop(write.acked_key):
                    keep[position] = False
                keep[index] = False
        cancelled = keep.count(False)
        if cancelled:
            with self._cond:
                self._cancelled += cancelled
        return [write for write, kept in zip(writes, keep, strict=True) if kept]


def _runs(plan: Sequence[Write]) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Group consecutive statements with the same SQL (order kept): one executemany per group."""
    runs: list[tuple[str, list[tuple[object, ...]]]] = []
    for write in plan:
        for sql, parameters in write.statements:
            if runs and runs[-1][0] == sql:
                runs[-1][1].append(parameters)
            else:
                runs.append((sql, [parameters]))
    return runs

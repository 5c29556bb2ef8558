"""The asyncio face of the store: :class:`MessageStore`.

Contract
--------
- ``append()`` never blocks the event loop: the message joins the batch of the current loop iteration,
  which is handed to the writer thread in one command. The returned future resolves to the message's id
  once the batch is COMMITTED (fsynced WAL). That is the moment a sample counts as "acknowledged" for the
  durability promise in README: after it, kill -9 loses nothing; a power loss loses at most the batch
  being committed (one ``commit_interval``).
- A message leaves only through ``delete(ids)`` (the uplink calls it when the upstream acknowledged the
  message) or through a counted drop (caps, disk full, overload).
- ``read_after(id)`` returns the oldest committed messages with a larger id, in append order.
- Bounded: at most ``handoff_capacity`` messages may wait for the writer; beyond that ``append`` raises
  :class:`StoreOverloadedError` and the message is counted as dropped (``DropReason.OVERLOADED``).
- ``status()`` is cheap and thread-safe: a snapshot for the terminal UI.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gateway.store._commands import AppendCommand, CloseCommand, Completion, DeleteCommand, ReadCommand
from gateway.store._exceptions import StoreClosedError, StoreError, StoreOverloadedError
from gateway.store._types import DropReason, MessageLike, NewMessage, StoredMessage, StoreLimits, StoreStatus
from gateway.store._writer import StoreWriter

log = logging.getLogger(__name__)


def _utc_ms() -> int:
    return time.time_ns() // 1_000_000


class MessageStore:
    """Store-and-forward queue in one SQLite file, written by one thread off the event loop.

    Args:
        path: the database file in the data directory; ``None`` keeps the queue in memory only.
        limits: caps by bytes and by age (drop-oldest).
        commit_interval: minimum seconds between commits that contain appends (group commit).
        handoff_capacity: maximum messages waiting for the writer thread.
        clock_ms: UTC milliseconds now, for the age cap (tests inject a fake clock).
        monotonic: seconds, for the in/out rates and the ETA in ``status()`` (tests inject a fake clock).
        max_page_count: ``PRAGMA max_page_count`` for tests of SQLITE_FULL without root.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        limits: StoreLimits | None = None,
        commit_interval: float = 0.05,
        handoff_capacity: int = 100_000,
        clock_ms: Callable[[], int] = _utc_ms,
        monotonic: Callable[[], float] = time.monotonic,
        max_page_count: int | None = None,
    ) -> None:
        self._path = path
        self._limits = limits or StoreLimits()
        self._commit_interval = commit_interval
        self._capacity = handoff_capacity
        self._clock_ms = clock_ms
        self._monotonic = monotonic
        self._max_page_count = max_page_count
        self._writer: StoreWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batch: list[NewMessage] = []
        self._batch_futures: list[asyncio.Future[int]] = []
        self._flush_scheduled = False
        self._handed_off = 0  # messages handed to the writer, not yet committed (loop-side count, no lock)

    async def open(self) -> StoreStatus:
        """Open or create the database (in the writer thread). Never raises for a bad file: see
        ``StoreStatus.mode`` and ``StoreStatus.problems``."""
        self._loop = asyncio.get_running_loop()
        writer = StoreWriter(
            self._path,
            limits=self._limits,
            commit_interval=self._commit_interval,
            complete=self._complete,
            clock_ms=self._clock_ms,
            monotonic=self._monotonic,
            max_page_count=self._max_page_count,
        )
        await asyncio.to_thread(writer.start)
        self._writer = writer
        status = writer.status()
        for problem in status.problems:
            log.warning("store: %s (hint: %s)", problem.message, problem.hint)
        return status

    def _complete(self, callback: Completion, value: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning("store completion after the event loop closed: %r", value)
            return
        loop.call_soon_threadsafe(callback, value)

    def _require_writer(self) -> StoreWriter:
        if self._writer is None:
            raise StoreClosedError("the store is not open", hint="await MessageStore.open() first")
        return self._writer

    def append(self, message: MessageLike) -> asyncio.Future[int]:
        """Queue one message; the future gives its id after the commit, or a :class:`StoreError`.
        ``message`` is a :class:`NewMessage` or anything with the same fields.

        Raises:
            StoreOverloadedError: the hand-off queue is full (the message is counted as dropped).
            StoreClosedError: the store is not open.
        """
        writer = self._require_writer()
        if self._handed_off + len(self._batch) >= self._capacity:
            writer.count_dropped(DropReason.OVERLOADED, 1)
            raise StoreOverloadedError(
                f"{self._capacity} messages are already waiting for the store writer",
                hint="the disk is too slow for the data rate; raise store.handoff_capacity or sample less",
            )
        assert self._loop is not None
        future: asyncio.Future[int] = self._loop.create_future()
        if not isinstance(message, NewMessage):
            message = NewMessage(
                message.topic,
                message.payload,
                message.qos,
                message.retain,
                int(message.kind),
                message.created_ms,
            )
        self._batch.append(message)
        self._batch_futures.append(future)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._hand_off)
        return future

    def _hand_off(self) -> None:
        self._flush_scheduled = False
        if not self._batch:
            return
        messages, futures = self._batch, self._batch_futures
        self._batch, self._batch_futures = [], []

        self._handed_off += len(messages)

        def done(result: list[int] | StoreError) -> None:
            self._handed_off -= len(messages)
            for index, future in enumerate(futures):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result[index])

        self._require_writer().submit(AppendCommand(messages, done))

    async def flush(self) -> None:
        """Wait until everything appended so far is committed (or failed)."""
        futures = list(self._batch_futures)
        self._hand_off()
        if futures:
            await asyncio.gather(*futures, return_exceptions=True)

    async def read_after(
        self, after_id: int, *, limit: int = 500, max_bytes: int = 1 << 20
    ) -> list[StoredMessage]:
        """The oldest committed messages with ``id > after_id``: at most ``limit`` rows and about
        ``max_bytes`` (always at least one row when one exists)."""
        writer = self._require_writer()
        assert self._loop is not None
        future: asyncio.Future[list[StoredMessage]] = self._loop.create_future()
        writer.submit(ReadCommand(after_id, limit, max_bytes, _settle(future)))
        return await future

    def delete(self, ids: Sequence[int]) -> asyncio.Future[None]:
        """Remove delivered messages (ids that are already gone are ignored). The future resolves after
        the commit; callers may ignore it (errors are also logged)."""
        writer = self._require_writer()
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()

        def done(result: StoreError | None) -> None:
            if isinstance(result, StoreError):
                log.error("store: deleting %d delivered messages failed: %s", len(ids), result)
            if not future.done():
                future.set_result(None)

        writer.submit(DeleteCommand(list(ids), done))
        return future

    def status(self) -> StoreStatus:
        writer = self._writer
        if writer is None:
            raise StoreClosedError("the store is not open")
        return writer.status()

    async def close(self) -> None:
        """Commit what is pending, checkpoint the WAL and close the file."""
        writer = self._writer
        if writer is None:
            return
        await self.flush()
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        writer.submit(CloseCommand(_settle(future)))
        await future
        await asyncio.to_thread(writer.join, 10.0)
        self._writer = None


def _settle(future: asyncio.Future[Any]) -> Completion:
    def done(result: Any) -> None:
        if future.done():
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

    return done

"""The :class:`Driver` interface every southbound driver implements, and its bounded sample queue.

Contract:
- ``await start()`` returns once the driver's tasks run; it does not wait for devices to answer
  (an absent device is retried with backoff and reported through samples and health, not raised).
- ``await stop()`` cancels the tasks, closes connections and returns when everything is closed.
- ``samples()`` is an async iterator of :class:`~drivers.Sample` batches (one list per poll block or
  per subscription notification). The queue behind it is bounded; when full, the *oldest* batch is
  dropped and counted in ``health().samples_dropped`` (the newest values matter more to a gateway
  than old ones). One consumer per driver.
- ``await write(tag, value)`` returns a :class:`~drivers.WriteResult`; it never raises for device
  or validation failures.
- ``health()`` returns a :class:`~drivers.DriverHealth` snapshot; cheap, no I/O.
"""

from __future__ import annotations

import abc
import asyncio
import collections
from collections.abc import AsyncIterator

from drivers._types import DriverHealth, Sample, Value, WriteResult


class SampleQueue:
    """A bounded FIFO of sample batches with a drop-oldest overflow policy.

    Args:
        max_batches: the bound. When a put finds the queue full, the oldest batch is discarded and
            ``dropped_batches``/``dropped_samples`` grow.
    """

    def __init__(self, max_batches: int = 1024) -> None:
        if max_batches < 1:
            raise ValueError("max_batches must be >= 1")
        self._items: collections.deque[list[Sample]] = collections.deque()
        self._max = max_batches
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped_batches = 0
        self.dropped_samples = 0
        self.samples_in = 0

    def put(self, batch: list[Sample]) -> None:
        """Add a batch without blocking (drivers never wait on a slow consumer)."""
        if not batch or self._closed:
            return
        if len(self._items) >= self._max:
            old = self._items.popleft()
            self.dropped_batches += 1
            self.dropped_samples += len(old)
        self._items.append(batch)
        self.samples_in += len(batch)
        self._ready.set()

    def get_nowait(self) -> list[Sample] | None:
        if self._items:
            return self._items.popleft()
        return None

    async def get(self) -> list[Sample] | None:
        """The next batch, or ``None`` once the queue is closed and empty."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)


class Driver(abc.ABC):
    """A southbound driver: see the module docstring for the contract."""

    name: str

    def __init__(self, name: str, *, queue_size: int = 1024) -> None:
        self.name = name
        self._queue = SampleQueue(queue_size)

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    async def write(self, tag: str, value: Value) -> WriteResult: ...

    @abc.abstractmethod
    def health(self) -> DriverHealth: ...

    @abc.abstractmethod
    def tag_names(self) -> list[str]:
        """Every tag this driver serves, in configuration order."""

    async def samples(self) -> AsyncIterator[list[Sample]]:
        """Batches of samples until the driver stops."""
        while True:
            batch = await self._queue.get()
            if batch is None:
                return
            yield batch

    def _emit(self, batch: list[Sample]) -> None:
        self._queue.put(batch)

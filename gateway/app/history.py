"""Samples kept while the edge node cannot publish them live (sparkplug-b-edge-node.md §11).

:class:`History` is what the Sparkplug session needs: ``store`` what the core hands back as
``StoreForLater``; when the core says ``FlushHistory``, ``take`` chunks oldest first (one device
each), publish them as historical DATA, then ``ack`` what was handed to the client or ``requeue`` what
was not (the session ended mid-drain). Two implementations:

- :class:`HistoryBuffer`: bounded, in memory, drop-oldest (``store.enabled: false`` keeps nothing
  durable; also the unit-test form);
- :class:`gateway.app.durable_history.DurableHistory`: the SQLite queue of ``gateway.store``: what was
  committed survives kill -9 and a restart.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Protocol

from sparkplug import Sample


@dataclass(frozen=True, slots=True)
class HistoryChunk:
    """Samples of one device (``None`` = node), oldest first; ``ids`` identify them in a durable store."""

    device_id: str | None
    samples: tuple[Sample, ...]
    ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryStatus:
    """depth: entries held (samples in memory, stored messages on disk); dropped: entries dropped by
    the caps; oldest_ms: timestamp of the oldest entry, or None; drained: samples replayed; bytes:
    bytes held (0 in memory); durable: whether it survives a restart."""

    depth: int
    dropped: int
    oldest_ms: int | None
    drained: int
    bytes: int = 0
    durable: bool = False


class History(Protocol):
    def store(self, device_id: str | None, samples: tuple[Sample, ...]) -> None: ...

    async def take(self, limit: int) -> list[HistoryChunk]: ...

    def ack(self, chunks: list[HistoryChunk]) -> None: ...

    def requeue(self, chunks: list[HistoryChunk]) -> None: ...

    def status(self) -> HistoryStatus: ...


class HistoryBuffer:
    """Bounded FIFO of (device id, sample); ``capacity`` samples at most."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._items: collections.deque[tuple[str | None, Sample]] = collections.deque()
        self._capacity = capacity
        self.dropped = 0
        self.drained = 0

    def store(self, device_id: str | None, samples: tuple[Sample, ...]) -> None:
        for sample in samples:
            if len(self._items) >= self._capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append((device_id, sample))

    async def take(self, limit: int) -> list[HistoryChunk]:
        """Up to ``limit`` samples, oldest first, grouped into runs of one device."""
        groups: list[tuple[str | None, list[Sample]]] = []
        for _ in range(min(limit, len(self._items))):
            device_id, sample = self._items.popleft()
            if groups and groups[-1][0] == device_id:
                groups[-1][1].append(sample)
            else:
                groups.append((device_id, [sample]))
        return [HistoryChunk(device_id, tuple(samples)) for device_id, samples in groups]

    def ack(self, chunks: list[HistoryChunk]) -> None:
        self.drained += sum(len(chunk.samples) for chunk in chunks)

    def requeue(self, chunks: list[HistoryChunk]) -> None:
        """Put chunks back at the front, in their order (they stay the oldest)."""
        for chunk in reversed(chunks):
            for sample in reversed(chunk.samples):
                self._items.appendleft((chunk.device_id, sample))

    def __len__(self) -> int:
        return len(self._items)

    def status(self) -> HistoryStatus:
        oldest = self._items[0][1].timestamp if self._items else None
        return HistoryStatus(len(self._items), self.dropped, oldest, self.drained)

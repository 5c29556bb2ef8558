"""Samples kept while the edge node cannot publish them live (sparkplug-b-edge-node.md §11).

A bounded in-memory buffer, drop-oldest, with every drop counted. It holds what the edge-node core
hands back as ``StoreForLater`` and gives it back, oldest first, per device, when the core says
``FlushHistory``. (Durable storage in ``gateway.store`` is for plain MQTT forwarding; see the daemon
docs for what survives a restart.)
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from sparkplug import Sample


@dataclass(frozen=True, slots=True)
class HistoryStatus:
    """depth: samples held; dropped: samples dropped because the buffer was full; oldest_ms: the
    timestamp of the oldest sample held, or None."""

    depth: int
    dropped: int
    oldest_ms: int | None
    drained: int


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

    def take(self, limit: int) -> list[tuple[str | None, tuple[Sample, ...]]]:
        """Up to ``limit`` samples, oldest first, grouped into runs of one device."""
        groups: list[tuple[str | None, list[Sample]]] = []
        for _ in range(min(limit, len(self._items))):
            device_id, sample = self._items.popleft()
            if groups and groups[-1][0] == device_id:
                groups[-1][1].append(sample)
            else:
                groups.append((device_id, [sample]))
        taken = [(device_id, tuple(samples)) for device_id, samples in groups]
        self.drained += sum(len(samples) for _, samples in taken)
        return taken

    def __len__(self) -> int:
        return len(self._items)

    def status(self) -> HistoryStatus:
        oldest = self._items[0][1].timestamp if self._items else None
        return HistoryStatus(len(self._items), self.dropped, oldest, self.drained)

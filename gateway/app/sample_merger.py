"""Driver batches that arrive close together go to the edge node as one batch (one DDATA).

The Modbus driver hands over one batch per block read (at most 125 registers), so a 5,000-tag device
polled every second made ~96 DDATA messages a second in benchmarks/gateway.py, and each message has
a fixed cost on top of its metrics: the edge node's message, the uplink's publish (paho's was ~200 us
a message in the daemon, py-spy), the relay and the forwarder. Batches arriving within a short window
of the first held one are merged, so a poll becomes a handful of messages.

The window is the latency this adds to the first sample held (the Sparkplug timestamp of each metric
stays its sampling time): at most ``MAX_WINDOW_S``, and at most a tenth of the poll interval, so a fast
poll is not slowed down. A batch naming a tag already held is never merged (one DDATA never carries two
values of a metric): the held batch goes first.

:class:`SampleMerger` is the core: no timer, no I/O, time passed in. The shell (``DeviceHost``) calls
:meth:`SampleMerger.add` for each batch, delivers what it returns, and when :attr:`SampleMerger.deadline`
is set, calls :meth:`SampleMerger.due` at that time (a loop timer) and delivers what that returns.
"""

from __future__ import annotations

import drivers

MAX_WINDOW_S = 0.01
"""The most a sample waits for others to join it (latency goal: p99 < 100 ms beyond the poll)."""


def window_for(poll_interval_s: float) -> float:
    """The merge window for a device polled every ``poll_interval_s``."""
    return max(0.0, min(MAX_WINDOW_S, poll_interval_s / 10))


class SampleMerger:
    """Holds driver batches for up to ``window_s`` after the first (see the module docstring)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.deadline: float | None = None
        """When the held samples are due (monotonic s), or None when nothing is held."""
        self._held: list[drivers.Sample] = []
        self._names: set[str] = set()

    def add(self, batch: list[drivers.Sample], now: float) -> list[drivers.Sample] | None:
        """Hold ``batch``; returns a batch to deliver now, or None. With a zero window the batch itself
        is returned; if it names a tag already held, the held samples are returned (and ``batch`` is
        held in their place)."""
        if self.window_s <= 0:
            return batch
        names = {sample.tag for sample in batch}
        out = None
        if self._held and not self._names.isdisjoint(names):
            out = self._take()
        if not self._held:
            self.deadline = now + self.window_s
        self._held.extend(batch)
        self._names |= names
        return out

    def due(self, now: float) -> list[drivers.Sample] | None:
        """The held samples if their deadline has passed, else None."""
        if self.deadline is None or now < self.deadline:
            return None
        return self._take()

    def take(self) -> list[drivers.Sample] | None:
        """Whatever is held, now (stopping), or None."""
        return self._take() if self._held else None

    def _take(self) -> list[drivers.Sample]:
        held = self._held
        self._held, self._names, self.deadline = [], set(), None
        return held

"""Pacing of the backlog drain: a token bucket whose rate follows the acknowledgement latency (AIMD).

A core without I/O: ``now`` is monotonic seconds, passed in.

The drain must not take the bandwidth or the broker's attention away from live data. Three limits apply
to drained (historical) messages only:

- ``window``: at most this many drained messages unacknowledged at once, so a live message never queues
  behind more than ``window`` historical ones;
- a rate in messages/s and a rate in bytes/s (token bucket with a small burst);
- the rate adapts: additive increase while the smoothed ack latency stays under ``latency_factor`` x the
  baseline (the lowest latency seen recently), multiplicative decrease when it rises above, so a slow or
  congested uplink gets a slower drain and live latency stays near its normal value.
"""

from __future__ import annotations

from dataclasses import dataclass

_BURST_S = 0.02
"""Seconds of credit, so one timer wake-up can send a small batch."""


@dataclass(frozen=True, slots=True)
class DrainPacing:
    """Settings of the drain.

    Attributes:
        max_messages_per_s, max_bytes_per_s: ceilings of the rate.
        min_messages_per_s: floor (the drain never stalls completely).
        window: maximum drained messages in flight (also capped by the server's Receive Maximum).
        latency_factor: back off when the smoothed ack latency exceeds this x the baseline.
        latency_floor_s: latencies below this are never a reason to back off (loopback noise).
    """

    max_messages_per_s: float = 20_000.0
    max_bytes_per_s: float = 10_000_000.0
    min_messages_per_s: float = 50.0
    window: int = 16
    latency_factor: float = 2.0
    latency_floor_s: float = 0.005

    def __post_init__(self) -> None:
        if not 0 < self.min_messages_per_s <= self.max_messages_per_s:
            raise ValueError("drain rates must satisfy 0 < min_messages_per_s <= max_messages_per_s")
        if self.window < 1:
            raise ValueError(f"drain window must be >= 1, got {self.window}")


class DrainPacer:
    """Decides when the next drained message may go."""

    def __init__(self, pacing: DrainPacing, now: float) -> None:
        self._pacing = pacing
        self.rate = pacing.max_messages_per_s / 4
        self._next = now
        self._ewma: float | None = None
        self._baseline: float | None = None
        self._last_cut = now

    def delay(self, now: float) -> float:
        """How long until the next message may go (0: now), without reserving anything."""
        return max(0.0, max(self._next, now - _BURST_S) - now)

    def reserve(self, size: int, now: float) -> float:
        """Reserve a slot for a message of ``size`` bytes; returns how long to wait before sending it."""
        cost = max(1.0 / self.rate, size / self._pacing.max_bytes_per_s)
        start = max(self._next, now - _BURST_S)
        self._next = start + cost
        return max(0.0, start - now)

    def on_ack(self, latency: float, now: float) -> None:
        """Feed the latency of one drained message's acknowledgement."""
        pacing = self._pacing
        self._ewma = latency if self._ewma is None else 0.9 * self._ewma + 0.1 * latency
        if self._baseline is None or latency < self._baseline:
            self._baseline = latency
        else:
            self._baseline += (latency - self._baseline) * 0.001  # forget an old minimum slowly
        limit = max(pacing.latency_floor_s, pacing.latency_factor * self._baseline)
        if self._ewma > limit:
            if now - self._last_cut > 0.1:  # at most one cut per 100 ms (one per round trip)
                self.rate = max(pacing.min_messages_per_s, self.rate * 0.7)
                self._last_cut = now
        else:
            self.rate = min(pacing.max_messages_per_s, self.rate + pacing.max_messages_per_s * 0.002)

    @property
    def smoothed_latency(self) -> float | None:
        return self._ewma

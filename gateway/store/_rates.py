"""Recent in/out rates of the queue and its time to empty (ETA), for the terminal UI. A core: ``now`` is
monotonic seconds, passed in.

The writer records its running totals after every commit (messages in: appended; messages out: removed
after an upstream acknowledgement, plus dropped by a cap). A rate is the change of a total since the last
commit at or before ``now - window`` (or since start), measured up to *now*: it covers at least the last
window, and decays to zero when nothing happens (a stalled drain shows no ETA instead of a stale one).
"""

from __future__ import annotations

import collections

RATE_WINDOW_S = 10.0
_MIN_SPAN_S = 1.0
"""A rate is never computed over less than this, so the first commit does not show a huge burst rate."""


class RecentRates:
    """Totals sampled at commits; rates over a sliding window."""

    def __init__(self, now: float, window: float = RATE_WINDOW_S) -> None:
        self._window = window
        self._samples: collections.deque[tuple[float, int, int]] = collections.deque([(now, 0, 0)])

    def record(self, now: float, total_in: int, total_out: int) -> None:
        """After a commit: the totals since start (they never decrease)."""
        samples = self._samples
        samples.append((now, total_in, total_out))
        # Keep one sample at or before the window's start, so the window is always fully covered.
        while len(samples) > 2 and samples[1][0] <= now - self._window:
            samples.popleft()

    def rates(self, now: float, total_in: int, total_out: int) -> tuple[float, float]:
        """(in, out) in messages/s since the last sample at or before ``now - window``, up to ``now``."""
        start = now - self._window
        base = self._samples[0]
        for sample in self._samples:
            if sample[0] > start:
                break
            base = sample
        span = max(_MIN_SPAN_S, now - base[0])
        return (total_in - base[1]) / span, (total_out - base[2]) / span


def eta_seconds(queued: int, rate_in: float, rate_out: float) -> float | None:
    """Seconds until ``queued`` messages are gone at the current net rate: 0 when empty, ``None`` when
    the queue is not shrinking (then there is no time to empty to show)."""
    if queued <= 0:
        return 0.0
    net = rate_out - rate_in
    if net <= 0:
        return None
    return queued / net

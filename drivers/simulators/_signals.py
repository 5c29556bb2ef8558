"""Value generators for the simulators: pure functions of time (seconds), no clock of their own."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Signal:
    """A changing value. ``kind`` is one of: sine, ramp, counter, random_walk, toggle, text, constant.

    Attributes:
        amplitude, period, offset: shape of sine/ramp (period in seconds).
        step: counter increment per second, random-walk step size, or toggle half-period (s).
        minimum, maximum: bounds of the random walk.
        text: the phrases a ``text`` signal cycles through (one per ``period`` seconds).
        integer: round the value (for integer registers).
    """

    kind: str
    amplitude: float = 1.0
    period: float = 10.0
    offset: float = 0.0
    step: float = 1.0
    minimum: float = 0.0
    maximum: float = 100.0
    text: tuple[str, ...] = ("RUNNING", "IDLE", "CLEANING", "RUNNING", "FAULT-RESET")
    integer: bool = False
    _walk: float | None = None
    _rng: random.Random = field(default_factory=lambda: random.Random(7))

    def value(self, t: float) -> float | int | bool | str:
        """The value at ``t`` seconds since the simulator started."""
        kind = self.kind
        v: float
        if kind == "sine":
            v = self.offset + self.amplitude * math.sin(2 * math.pi * t / self.period)
        elif kind == "ramp":
            v = self.offset + self.amplitude * ((t % self.period) / self.period)
        elif kind == "counter":
            return int(self.offset + t * self.step) % (1 << 32)
        elif kind == "random_walk":
            if self._walk is None:
                self._walk = (self.minimum + self.maximum) / 2
            self._walk = min(
                self.maximum, max(self.minimum, self._walk + self._rng.uniform(-self.step, self.step))
            )
            v = self._walk
        elif kind == "toggle":
            return int(t / self.step) % 2 == 1
        elif kind == "text":
            return self.text[int(t / self.period) % len(self.text)]
        elif kind == "clock_ms":
            # set by the simulator to its wall clock: latency probes compare it with arrival time
            return 0
        else:
            v = self.offset
        return round(v) if self.integer else v

"""Exponential backoff with jitter, as a core without a clock: the caller owns time and sleeping."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays for retrying a failing device.

    ``next_delay()`` returns ``initial``, then doubles up to ``maximum``; jitter spreads retries of
    many devices (+-``jitter`` fraction). ``reset()`` after a success.
    """

    initial: float = 1.0
    maximum: float = 30.0
    jitter: float = 0.1
    attempts: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        base: float = min(self.maximum, self.initial * float(1 << min(self.attempts, 30)))
        self.attempts += 1
        spread = base * self.jitter
        return max(0.0, base + self._rng.uniform(-spread, spread))

    def reset(self) -> None:
        self.attempts = 0

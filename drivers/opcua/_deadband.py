"""Client-side percent deadband (OPC 10000-8, 6.2 AnalogItemType; OPC 10000-4, 7.22.2 DataChangeFilter).

A percent deadband passes a value when ``|value - last reported| > percent/100 * (EURange.High -
EURange.Low)``. Servers may refuse it (no EURange, filter unsupported) or accept and ignore it
(asyncua 2.1's server logs "DeadbandType Percent is not implemented" and reports every change). The
driver therefore still asks the server for it (less traffic when honoured) and applies the same
rule to what arrives: against a server that honours it the check passes everything it sends (both
compare with the last reported value), against one that ignores it the check does the filtering.

A quality change, a non-numeric value and the first value always pass. Without an EURange the
percent has no base: values pass unfiltered (the driver logs it once per tag).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from drivers._types import Quality, Sample

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EuRange:
    low: float
    high: float

    @property
    def span(self) -> float:
        return abs(self.high - self.low)


class PercentDeadband:
    """Per-tag state of the client-side percent deadband (pure, no I/O).

    Args:
        percents: tag name -> deadband percent (0..100) for the tags that have one.
    """

    def __init__(self, percents: dict[str, float]) -> None:
        self._percents = dict(percents)
        self._thresholds: dict[str, float] = {}
        self._last: dict[str, tuple[float | None, Quality]] = {}
        self.suppressed = 0

    def set_range(self, tag: str, eu_range: EuRange | None) -> None:
        """The tag's EURange (``None``: unknown, values pass unfiltered)."""
        percent = self._percents.get(tag)
        if percent is None:
            return
        if eu_range is None:
            self._thresholds.pop(tag, None)
            log.warning("%s: percent deadband without an EURange; values pass unfiltered", tag)
            return
        self._thresholds[tag] = percent / 100.0 * eu_range.span

    def tags(self) -> list[str]:
        return list(self._percents)

    @property
    def active(self) -> bool:
        """Whether any tag has a threshold (otherwise :meth:`passes` lets everything through)."""
        return bool(self._thresholds)

    def threshold(self, tag: str) -> float | None:
        return self._thresholds.get(tag)

    def passes(self, sample: Sample) -> bool:
        """Whether ``sample`` is reported; remembers it when it is."""
        threshold = self._thresholds.get(sample.tag)
        if threshold is None:
            return True
        value = sample.value
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        last = self._last.get(sample.tag)
        if (
            last is not None
            and number is not None
            and last[0] is not None
            and last[1] is sample.quality
            and abs(number - last[0]) <= threshold
        ):
            self.suppressed += 1
            return False
        self._last[sample.tag] = (number, sample.quality)
        return True


async def read_eu_range(node: Any) -> EuRange | None:
    """The EURange property (i=0 ``EURange``, a ``Range``) of an analog item, or ``None`` when the
    node has none or it cannot be read (the caller then filters nothing)."""
    from asyncua.ua.uaerrors import UaError

    try:
        prop = await node.get_child("0:EURange")
        value = await prop.read_value()
    except (UaError, OSError, TimeoutError) as exc:
        log.debug("no EURange under %s: %r", node, exc)
        return None
    low, high = getattr(value, "Low", None), getattr(value, "High", None)
    if not isinstance(low, int | float) or not isinstance(high, int | float) or high == low:
        return None
    return EuRange(float(low), float(high))


async def load_ranges(deadband: PercentDeadband, nodes: dict[str, Any]) -> None:
    """Read the EURange of every resolved tag that has a percent deadband (once per session)."""
    for tag in deadband.tags():
        if tag in nodes:
            deadband.set_range(tag, await read_eu_range(nodes[tag]))

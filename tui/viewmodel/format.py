"""Formatting of ages, times, sizes, rates and values for narrow terminal columns."""

from __future__ import annotations

import math
import time

from tui._contract import TagScalar


def format_age(seconds: float | None) -> str:
    """A compact age: ``"0.4s"``, ``"12s"``, ``"3m05s"``, ``"2h07m"``, ``"4d03h"``; ``"never"`` for None."""
    if seconds is None:
        return "never"
    if seconds < 0:
        seconds = 0.0  # clocks of two machines disagree a little; never show a negative age
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def age_s(now_ms: int, then_ms: int | None) -> float | None:
    """Seconds from ``then_ms`` to ``now_ms``, or None when ``then_ms`` is None."""
    return None if then_ms is None else (now_ms - then_ms) / 1000.0


# The last second formatted and its text: the Tags screen formats ~1,000 timestamps a second under
# load, nearly all in the same second, and strftime+gmtime cost ~3 us each (~1 us cached). One tuple,
# replaced whole, so a reader on another thread always sees a matching pair.
_last_clock: list[tuple[int, str]] = [(-1, "")]


def format_clock(ms: int | None, *, millis: bool = False) -> str:
    """``HH:MM:SS`` (UTC) of a UTC-ms time, with ``.mmm`` if asked; ``"-"`` for None."""
    if ms is None:
        return "-"
    second = ms // 1000
    cached = _last_clock[0]
    if cached[0] != second:
        cached = _last_clock[0] = (second, time.strftime("%H:%M:%S", time.gmtime(second)))
    text = cached[1]
    return f"{text}.{ms % 1000:03d}" if millis else text


def format_datetime(ms: int | None) -> str:
    """``YYYY-MM-DD HH:MM:SS UTC``, or ``"-"``."""
    if ms is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def format_bytes(n: int | None) -> str:
    """``"512 B"``, ``"1.5 KiB"``, ``"3.2 MiB"``, ``"1.1 GiB"``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_count(n: int) -> str:
    """Thousands separated by a thin space-free comma: ``"12,345"``."""
    return f"{n:,}"


def format_duration_ms(ms: int | None) -> str:
    """A duration in ms: ``"850 ms"``, ``"2.3 s"``; ``"in progress"`` for None."""
    if ms is None:
        return "in progress"
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def format_value(value: TagScalar, unit: str = "") -> str:
    """A tag value for a table cell: floats to 6 significant digits, ``"?"`` for unknown."""
    if value is None:
        text = "?"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = f"{value:.6g}" if math.isfinite(value) else str(value)
    else:
        text = str(value)
    return f"{text} {unit}" if unit and value is not None else text


def eta_s(depth: int, drain_rate_per_s: float, write_rate_per_s: float) -> float | None:
    """Seconds until the store is empty at the current rates, or None when it is not shrinking."""
    net = drain_rate_per_s - write_rate_per_s
    if depth == 0:
        return 0.0
    if net <= 0:
        return None
    return depth / net

"""Value types and constraints used by the configuration model.

Constraints ride on the type with :data:`typing.Annotated`, so the dataclasses stay plain (mypy and
readers see ``int``) and the builder (:mod:`gateway.config._builder`) checks them and reports every
violation with its location.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated


@dataclass(frozen=True, slots=True)
class Range:
    """A number must lie in ``[low, high]`` (either bound may be ``None``); ``exclusive_low`` for > low."""

    low: float | None = None
    high: float | None = None
    exclusive_low: bool = False

    def check(self, value: float) -> str | None:
        if self.low is not None and (value <= self.low if self.exclusive_low else value < self.low):
            return self.expected()
        if self.high is not None and value > self.high:
            return self.expected()
        return None

    def expected(self) -> str:
        low = "" if self.low is None else f"{'>' if self.exclusive_low else '>='} {_number(self.low)}"
        high = "" if self.high is None else f"<= {_number(self.high)}"
        if self.low is not None and self.high is not None and not self.exclusive_low:
            return f"{_number(self.low)}..{_number(self.high)}"
        return " and ".join(part for part in (low, high) if part)


def _number(value: float) -> str:
    """Whole numbers in full (``268435455``, not ``2.68435e+08``), others as short as exact."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True, slots=True)
class Pattern:
    """A string must match ``regex`` (fully); ``meaning`` explains the rule in words."""

    regex: str
    meaning: str

    def check(self, value: str) -> str | None:
        return None if re.fullmatch(self.regex, value, flags=re.DOTALL) else self.meaning


# Sparkplug identifiers (sparkplug-b-edge-node.md §1): no + / #, no NUL or control characters, and
# [impl] no leading $ (it would collide with $SYS-style roots on brokers).
SPARKPLUG_ID = Pattern(
    r"[^$+/#\x00-\x1f\x7f][^+/#\x00-\x1f\x7f]*",
    "a non-empty Sparkplug id without + / # or control characters, not starting with $",
)
NON_EMPTY = Pattern(r".+", "a non-empty string")

Port = Annotated[int, Range(1, 65535)]
PortOrZero = Annotated[int, Range(0, 65535)]
Seconds = Annotated[float, Range(0, None, exclusive_low=True)]
SparkplugId = Annotated[str, SPARKPLUG_ID]
NonEmpty = Annotated[str, NON_EMPTY]
Count = Annotated[int, Range(1, None)]
NonNegative = Annotated[int, Range(0, None)]


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret value (password) and where it came from; never printed.

    Written in the file as one of ``password: TEXT`` (discouraged), ``password_env: NAME`` (read from
    the environment variable NAME at load time) or ``password_file: PATH`` (the file's content, one
    trailing newline removed).

    Attributes:
        value: the secret itself.
        origin: ``file:line`` (inline), ``env:NAME`` or ``file:PATH``; safe to print.
    """

    value: str = field(repr=False)
    origin: str

    def __str__(self) -> str:
        return "***"

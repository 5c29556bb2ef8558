"""The ``/`` filter: a case-insensitive regular expression; a leading ``!`` inverts it (as in k9s).

An invalid expression is not an error to the person typing it half-way: it falls back to a plain
substring match, and :attr:`RowFilter.problem` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RowFilter:
    """A compiled filter. ``RowFilter.parse("")`` matches everything."""

    text: str
    pattern: re.Pattern[str] | None
    inverted: bool
    problem: str | None = None

    @classmethod
    def parse(cls, text: str) -> RowFilter:
        raw = text.strip()
        inverted = raw.startswith("!")
        body = raw[1:] if inverted else raw
        if not body:
            return cls(text, None, False)
        try:
            return cls(text, re.compile(body, re.IGNORECASE), inverted)
        except re.error as exc:
            literal = re.compile(re.escape(body), re.IGNORECASE)
            return cls(text, literal, inverted, f"not a regular expression ({exc.msg}); matching as text")

    def matches(self, *fields: str) -> bool:
        """Whether any of ``fields`` matches (or none does, when inverted)."""
        if self.pattern is None:
            return True
        hit = any(self.pattern.search(f) for f in fields)
        return hit != self.inverted

"""Topic-pattern algebra for the ACL: match, cover and intersect, with ``$`` topics kept apart.

Patterns and filters are split into levels on ``/``. ``+`` matches exactly one level, ``#`` (last level only)
matches the parent level and any number of levels below ([MQTT-4.7.1-2]: ``a/#`` matches ``a``). A pattern
whose first level is a wildcard never matches a topic whose first level starts with ``$`` ([MQTT-4.7.2-1]), so
an ACL rule ``#`` does not grant ``$SYS/...`` or the control plane's ``$``-prefixed topics.

Three questions, all answered exactly and without I/O:

- :func:`matches` -- does topic name ``t`` match pattern ``p``? (publish and receive checks)
- :func:`covers` -- does every topic matched by filter ``f`` also match pattern ``p``? A subscription is
  granted only when one allow rule covers it, so subscribing to ``#`` needs a rule that grants everything
  (catalogue T21). Coverage by a union of several rules is not attempted: that only ever refuses more.
- :func:`intersects` -- is there a topic matched by both? A deny rule that intersects a filter refuses it.
"""

from __future__ import annotations

Levels = tuple[str, ...]


def split(text: str) -> Levels:
    return tuple(text.split("/"))


def is_valid_filter(levels: Levels) -> bool:
    """MQTT filter syntax: ``#`` only as the whole last level, ``+`` only as a whole level."""
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def _first_is_wild(levels: Levels) -> bool:
    return levels[0] in ("+", "#")


def _dollar_split(a: Levels, b: Levels) -> bool:
    """True when one side is wildcard-first and the other is a ``$`` literal: they never meet."""
    return (_first_is_wild(a) and b[0].startswith("$") and not _first_is_wild(b)) or (
        _first_is_wild(b) and a[0].startswith("$") and not _first_is_wild(a)
    )


def matches(pattern: Levels, topic: Levels) -> bool:
    """Whether topic name ``topic`` (no wildcards) matches ``pattern``."""
    if _dollar_split(pattern, topic):
        return False
    for index, level in enumerate(pattern):
        if level == "#":
            return True
        if index >= len(topic):
            return False
        if level != "+" and level != topic[index]:
            return False
    return len(pattern) == len(topic)


def covers(pattern: Levels, subscription: Levels) -> bool:
    """Whether every topic that ``subscription`` matches is matched by ``pattern``."""
    if _dollar_split(pattern, subscription):
        return False
    for index, p_level in enumerate(pattern):
        if p_level == "#":
            return True
        if index >= len(subscription):
            return False
        s_level = subscription[index]
        if s_level == "#":
            # The filter reaches any depth from here; only '#' does too, or '+/#' at the root, where '#'
            # cannot match zero levels (a topic has at least one level).
            return index == 0 and pattern == ("+", "#")
        if p_level == "+":
            continue
        if s_level == "+" or s_level != p_level:
            return False
    # The pattern is exhausted without a '#': the filter must end here too.
    return len(subscription) == len(pattern)


def intersects(a: Levels, b: Levels) -> bool:
    """Whether at least one topic name matches both ``a`` and ``b``."""
    if _dollar_split(a, b):
        return False
    for index in range(max(len(a), len(b))):
        a_level = a[index] if index < len(a) else None
        b_level = b[index] if index < len(b) else None
        if a_level == "#" or b_level == "#":
            return True
        if a_level is None or b_level is None:
            return False
        if "+" not in (a_level, b_level) and a_level != b_level:
            return False
    return True

"""Topic name and topic filter syntax (MQTT section 4.7) and the shared-subscription form (4.8.2).

Only syntax lives here; limits (length, levels) and authorisation are the protocol core's business.
"""

from __future__ import annotations

from gateway.broker.codes import ReasonCode
from gateway.broker.errors import MalformedPacket, ProtocolError

SHARE_PREFIX = "$share/"


def validate_topic_name(topic: str) -> None:
    """A PUBLISH topic: no wildcards [MQTT-3.3.2-2]; emptiness is checked by the caller (topic aliases)."""
    if "+" in topic or "#" in topic:
        raise ProtocolError(
            f"topic name {topic!r} contains a wildcard [MQTT-3.3.2-2]", ReasonCode.TOPIC_NAME_INVALID
        )


def validate_filter(topic_filter: str) -> None:
    """A SUBSCRIBE/UNSUBSCRIBE filter, including ``$share/{group}/{filter}``. Raises MalformedPacket."""
    if not topic_filter:
        raise MalformedPacket("empty topic filter [MQTT-4.7.3-1]")
    body = topic_filter
    if topic_filter.startswith(SHARE_PREFIX):
        group, sep, body = topic_filter[len(SHARE_PREFIX) :].partition("/")
        if not group or not sep or not body or "+" in group or "#" in group:
            raise MalformedPacket(
                f"shared subscription {topic_filter!r} is not $share/<group>/<filter> [MQTT-4.8.2-1]"
            )
    if "+" not in body and "#" not in body:
        return
    levels = body.split("/")
    last = len(levels) - 1
    for index, level in enumerate(levels):
        if level == "#":
            if index != last:
                raise MalformedPacket(
                    f"topic filter {topic_filter!r}: '#' must be the last level [MQTT-4.7.1-1]"
                )
        elif level == "+":
            continue
        elif "#" in level or "+" in level:
            raise MalformedPacket(
                f"topic filter {topic_filter!r}: a wildcard must occupy a whole level [MQTT-4.7.1-2]"
            )


def split_shared(topic_filter: str) -> tuple[str | None, str]:
    """``$share/g/a/b`` -> ("g", "a/b"); a normal filter -> (None, filter). Assumes a validated filter."""
    if topic_filter.startswith(SHARE_PREFIX):
        group, _sep, body = topic_filter[len(SHARE_PREFIX) :].partition("/")
        return group, body
    return None, topic_filter


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Whether a (non-shared) filter matches a topic name.

    '#' or '+' as the first level never match a topic starting with '$' [MQTT-4.7.2-1]."""
    if topic_filter == topic:
        return True
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    flevels = topic_filter.split("/")
    tlevels = topic.split("/")
    for index, level in enumerate(flevels):
        if level == "#":
            return True
        if index >= len(tlevels):
            return False
        if level != "+" and level != tlevels[index]:
            return False
    return len(flevels) == len(tlevels)

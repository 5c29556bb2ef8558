"""Sparkplug messages as the traffic screen keeps them: from the embedded broker (``spBv1.0/#``) and from
the daemon's relay of its upstream traffic (``$GW/v1/sparkplug/<sent|received>/<server>/...``).

A message can arrive both ways: when an upstream server is the embedded broker itself, the daemon's copy
of what it sent and the message as the broker routed it are the same bytes on the same topic. Such a
pair is shown once, as whichever arrived first; the second is counted in
:attr:`TrafficFeed.duplicates`. Sparkplug payloads carry ``seq`` and a timestamp, so equal topic and
bytes from the two sources within the last :data:`DEDUP_WINDOW` messages are the same message. (The
daemon makes no copies when it publishes to the embedded broker because no upstream is configured, as in
the demo; this catches the configuration that points an upstream server at it anyway.)
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from tui._contract import c
from tui.viewmodel.traffic_births import BirthTracker, Declarations

DEDUP_WINDOW = 512
"""How many recent messages (topic and payload) are remembered to recognise a duplicate."""

LOCAL = "local"
"""``TrafficRecord.direction`` of a message seen on the embedded broker."""

SPARKPLUG_PREFIX = "spBv1.0/"
RELAY_PREFIX = c.SPARKPLUG_RELAY_FILTER[:-1]  # "$GW/v1/sparkplug/"
TRAFFIC_PREFIXES = (SPARKPLUG_PREFIX, RELAY_PREFIX)
"""Topics that go to the traffic screen rather than to the control-plane decoder."""


@dataclass(frozen=True, slots=True)
class TrafficRecord:
    """One Sparkplug message (decoded only when shown).

    Attributes:
        topic: the Sparkplug topic (for a relayed message, the topic it had upstream).
        payload: the Sparkplug payload, as received.
        at_ms: when the UI received it (UTC ms).
        retained: the broker delivered it as a retained message.
        direction: ``LOCAL`` (on the embedded broker), ``"sent"`` to or ``"received"`` from ``server``.
        server: the upstream server of a relayed message, else "".
        declared: what the sender's current birth declared when the message arrived (aliases and
            datatypes, :mod:`tui.viewmodel.traffic_births`), or ``None`` if no birth was seen.
    """

    topic: str
    payload: bytes
    at_ms: int
    retained: bool
    direction: str = LOCAL
    server: str = ""
    declared: Declarations | None = None


class TrafficFeed:
    """Turns received messages into :class:`TrafficRecord`, dropping cross-source duplicates."""

    def __init__(self, window: int = DEDUP_WINDOW) -> None:
        self._window = window
        self._recent: OrderedDict[tuple[str, bytes], bool] = OrderedDict()  # key -> came relayed
        self._births = BirthTracker()
        self.duplicates = 0

    @property
    def births_seen(self) -> int:
        """Births decoded since the UI attached: before the first, metrics show by alias."""
        return self._births.births

    def record(self, topic: str, payload: bytes, at_ms: int, retained: bool) -> TrafficRecord | None:
        """The record for a message on a :data:`TRAFFIC_PREFIXES` topic, or ``None`` when it is the
        other source's copy of a message already shown (or a malformed relay topic)."""
        if topic.startswith(SPARKPLUG_PREFIX):
            shown_topic, direction, server = topic, LOCAL, ""
        else:
            ref = c.parse_sparkplug_relay(topic)
            if ref is None:
                return None
            shown_topic, direction, server = ref.topic, ref.direction.value, ref.server
        relayed = direction != LOCAL
        key = (shown_topic, payload)
        seen = self._recent.get(key)
        if seen is not None and seen != relayed:
            self.duplicates += 1
            del self._recent[key]  # a pair is complete: a third copy would be a real repeat
            return None
        self._recent[key] = relayed
        if len(self._recent) > self._window:
            self._recent.popitem(last=False)
        declared = self._births.declarations_for(shown_topic, payload)
        return TrafficRecord(shown_topic, payload, at_ms, retained, direction, server, declared)

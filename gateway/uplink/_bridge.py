"""Bridging plain MQTT: rules that forward chosen topics between the local bus and the upstream.

Rules follow mosquitto's ``topic pattern direction qos local-prefix remote-prefix`` shape:

- ``out``: a message published locally on ``local_prefix + topic`` (a filter) goes upstream to
  ``remote_prefix + <the rest>``, through the :class:`Forwarder`, hence through store-and-forward when
  ``store_and_forward`` is on (and dropped, counted, while no server is online when it is off);
- ``in``: the uplink subscribes to ``remote_prefix + topic`` upstream; messages come down to
  ``local_prefix + <the rest>`` on the local bus;
- ``both``: both of the above.

QoS is ``min(rule.qos, message qos)`` (0 or 1; QoS 2 is refused at configuration time: the uplink does not
run the QoS 2 flow). Retained messages keep their flag (``retain="keep"``) or lose it (``"drop"``).
The peer's Receive Maximum is honoured by the forwarder's in-flight window.

Loop prevention, two layers:
1. the local bus must not hand us back what we published on it (MQTT 5 "No Local" semantics, part of the
   :class:`LocalBus` contract), so a message that came down never goes back up;
2. upstream, a 3.1.1 server echoes our own publishes to our matching ``in`` subscriptions (5.0 can be told
   No Local, 3.1.1 cannot): every message sent up is remembered for ``echo_window_s`` by (topic, payload
   digest), and a matching message coming down within that window is dropped and counted.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.uplink._backlog import OutboundMessage, RecordKind
from gateway.uplink._exceptions import BridgeRuleError
from gateway.uplink._forwarder import Delivery, Forwarder
from gateway.uplink._link_types import InboundMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LocalMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class LocalBus(Protocol):
    """The embedded broker as the bridge sees it (the daemon adapts ``gateway.broker`` to this).

    Contract: callbacks run on the event loop, in the order the bus received the messages, and never for
    a message this same object published with ``publish_local`` (No Local).
    """

    def publish_local(self, topic: str, payload: bytes, qos: int, retain: bool) -> None: ...

    def subscribe_local(
        self, topic_filter: str, qos: int, callback: Callable[[LocalMessage], None]
    ) -> None: ...


class Direction(enum.Enum):
    OUT = "out"
    IN = "in"
    BOTH = "both"


class RetainPolicy(enum.Enum):
    KEEP = "keep"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class BridgeRule:
    """One rule; validated on creation (``BridgeRuleError`` names the field and what is expected)."""

    topic: str
    direction: Direction = Direction.OUT
    qos: int = 1
    local_prefix: str = ""
    remote_prefix: str = ""
    retain: RetainPolicy = RetainPolicy.KEEP
    store_and_forward: bool = True

    def __post_init__(self) -> None:
        where = f"bridge rule {self.topic!r}"
        if self.qos not in (0, 1):
            raise BridgeRuleError(f"{where}: qos must be 0 or 1 (QoS 2 is not bridged), got {self.qos}")
        _check_filter(self.topic, where)
        for name in ("local_prefix", "remote_prefix"):
            prefix = getattr(self, name)
            if "+" in prefix or "#" in prefix or "\0" in prefix:
                raise BridgeRuleError(f"{where}: {name} must not contain wildcards or NUL, got {prefix!r}")

    @property
    def local_filter(self) -> str:
        return self.local_prefix + self.topic

    @property
    def remote_filter(self) -> str:
        return self.remote_prefix + self.topic

    def to_remote(self, local_topic: str) -> str:
        return self.remote_prefix + local_topic[len(self.local_prefix) :]

    def to_local(self, remote_topic: str) -> str:
        return self.local_prefix + remote_topic[len(self.remote_prefix) :]


def _check_filter(topic_filter: str, where: str) -> None:
    if not topic_filter or "\0" in topic_filter:
        raise BridgeRuleError(f"{where}: the topic filter must be non-empty text without NUL")
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise BridgeRuleError(f"{where}: '#' must be a whole last level [MQTT-4.7.1-2]")
        if "+" in level and level != "+":
            raise BridgeRuleError(f"{where}: '+' must be a whole level [MQTT-4.7.1-3]")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching [MQTT-4.7]; ``$`` topics only match filters that start with ``$``."""
    if topic.startswith("$") != topic_filter.startswith("$"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


@dataclass(frozen=True, slots=True)
class BridgeStatus:
    forwarded_out: int
    forwarded_in: int
    loops_prevented: int
    dropped: int


class Bridge:
    """Args:
    rules: the rules, first match wins.
    local: the local bus.
    forwarder: the uplink's forwarder (live + store-and-forward).
    echo_window_s: how long a message sent upstream is remembered for echo suppression.
    clock: monotonic seconds.
    """

    def __init__(
        self,
        rules: Sequence[BridgeRule],
        local: LocalBus,
        forwarder: Forwarder,
        *,
        echo_window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rules = list(rules)
        self._local = local
        self._forwarder = forwarder
        self._echo_window = echo_window_s
        self._clock = clock
        # (remote topic, payload digest) -> [last sent at, copies not yet echoed]
        self._sent_up: collections.OrderedDict[tuple[str, bytes], list[float]] = collections.OrderedDict()
        self._counts = collections.Counter[str]()
        self._pending: set[asyncio.Future[Delivery]] = set()

    def start(self) -> None:
        """Subscribe on the local bus for every ``out`` rule."""
        for rule in self._rules:
            if rule.direction in (Direction.OUT, Direction.BOTH):
                self._local.subscribe_local(rule.local_filter, rule.qos, self._on_local)

    def upstream_subscriptions(self) -> list[tuple[str, int]]:
        """What the uplink session must subscribe to upstream (the ``in`` rules)."""
        return [
            (rule.remote_filter, rule.qos)
            for rule in self._rules
            if rule.direction in (Direction.IN, Direction.BOTH)
        ]

    def _on_local(self, message: LocalMessage) -> None:
        rule = next(
            (
                r
                for r in self._rules
                if r.direction in (Direction.OUT, Direction.BOTH)
                and topic_matches(r.local_filter, message.topic)
            ),
            None,
        )
        if rule is None:
            return
        if not rule.store_and_forward and not self._forwarder.attached:
            self._counts["dropped"] += 1
            return
        remote = rule.to_remote(message.topic)
        self._remember(remote, message.payload)
        outbound = OutboundMessage(
            remote,
            message.payload,
            min(rule.qos, message.qos),
            message.retain and rule.retain is RetainPolicy.KEEP,
            RecordKind.MQTT,
        )
        future = self._forwarder.publish(outbound)
        self._pending.add(future)
        future.add_done_callback(self._settled)
        self._counts["forwarded_out"] += 1

    def _settled(self, future: asyncio.Future[Delivery]) -> None:
        self._pending.discard(future)
        if future.result() is Delivery.DROPPED:
            self._counts["dropped"] += 1

    def on_upstream(self, message: InboundMessage) -> None:
        """Feed every inbound upstream message that is not for the Sparkplug core."""
        rule = next(
            (
                r
                for r in self._rules
                if r.direction in (Direction.IN, Direction.BOTH)
                and topic_matches(r.remote_filter, message.topic)
            ),
            None,
        )
        if rule is None:
            return
        if self._is_echo(message.topic, message.payload):
            self._counts["loops_prevented"] += 1
            return
        self._local.publish_local(
            rule.to_local(message.topic),
            message.payload,
            min(rule.qos, message.qos),
            message.retain and rule.retain is RetainPolicy.KEEP,
        )
        self._counts["forwarded_in"] += 1

    def _remember(self, topic: str, payload: bytes) -> None:
        now = self._clock()
        key = (topic, hashlib.blake2b(payload, digest_size=16).digest())
        entry = self._sent_up.setdefault(key, [now, 0.0])
        entry[0] = now
        entry[1] += 1
        self._sent_up.move_to_end(key)
        while self._sent_up:
            oldest_key, (at, _copies) = next(iter(self._sent_up.items()))
            if now - at <= self._echo_window and len(self._sent_up) <= 100_000:
                break
            del self._sent_up[oldest_key]

    def _is_echo(self, topic: str, payload: bytes) -> bool:
        key = (topic, hashlib.blake2b(payload, digest_size=16).digest())
        entry = self._sent_up.get(key)
        if entry is None or self._clock() - entry[0] > self._echo_window:
            return False
        entry[1] -= 1
        if entry[1] <= 0:
            del self._sent_up[key]
        return True

    def status(self) -> BridgeStatus:
        c = self._counts
        return BridgeStatus(c["forwarded_out"], c["forwarded_in"], c["loops_prevented"], c["dropped"])

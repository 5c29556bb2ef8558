"""The UI's picture of the gateway: the latest snapshot of every status, live tags, events, logs.

:class:`GatewayModel` is fed every :class:`~tui.connection.events.LinkEvent` on the UI's event loop
(:meth:`GatewayModel.apply`). It decodes control-plane messages with the contract and keeps only
what screens need, with bounded histories. It also records *what changed* since the screens last
looked (:attr:`dirty`, :attr:`changed_tags`), so a repaint touches only those widgets and cells:
that is what keeps 10,000 tags at 1,000 changes/s cheap.

Every snapshot keeps the wall time it was received; ages are computed from the message's own
``timestamp_ms`` and a ``now_ms`` passed in, never from a clock read here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tui._contract import (
    STATUS_STALE_AFTER_S,
    BrokerStatus,
    ContractError,
    DaemonState,
    DeviceStatus,
    Event,
    GatewayStatus,
    LogBatch,
    Quality,
    RecentEvents,
    SchemaMismatchError,
    StoreStatus,
    TagChanges,
    TagScalar,
    TagSnapshot,
    TagValue,
    TopicKind,
    UplinkStatus,
    c,
)
from tui.connection.events import LinkConnecting, LinkDown, LinkEvent, LinkUp, Received
from tui.viewmodel.fast_tags import decode_tags_fast
from tui.viewmodel.traffic_feed import TRAFFIC_PREFIXES, TrafficFeed, TrafficRecord

T = TypeVar("T")

EVENTS_LIMIT = 10_000
LOGS_LIMIT = 10_000
TRAFFIC_LIMIT = 5_000
SPARK_POINTS = 60


@dataclass(frozen=True, slots=True)
class Stamped(Generic[T]):
    """A snapshot and the wall time (UTC ms) it arrived."""

    message: T
    received_ms: int


@dataclass(slots=True)
class TagEntry:
    """The live state of one tag (mutable: updated in place at up to thousands per second)."""

    name: str
    value: TagScalar
    quality: Quality
    timestamp_ms: int
    datatype: str
    writable: bool
    unit: str
    history: deque[float] = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))

    def update(self, tag: TagValue) -> None:
        self.value = tag.value
        self.quality = tag.quality
        self.timestamp_ms = tag.timestamp_ms
        self.datatype, self.writable, self.unit = tag.datatype, tag.writable, tag.unit
        if isinstance(tag.value, int | float) and not isinstance(tag.value, bool):
            self.history.append(float(tag.value))
        elif isinstance(tag.value, bool):
            self.history.append(1.0 if tag.value else 0.0)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A control-plane message decoded with the contract, or why it could not be."""

    ref: c.TopicRef | None
    message: object | None
    error: ContractError | None = None
    mismatch: bool = False


def decode(topic: str, payload: bytes) -> Decoded:
    """Decode one status/event message; never raises. Pure: safe to call on the connection thread,
    which does so (decoding is the costly part of a message), keeping the UI loop free for keys."""
    try:
        ref = c.parse_topic(topic)
        fast = decode_tags_fast(ref.kind, payload)
        if fast is not None:
            return Decoded(ref, fast)
        ref, message = c.decode_topic_message(topic, payload)
    except SchemaMismatchError as exc:
        return Decoded(None, None, exc, mismatch=True)
    except ContractError as exc:
        return Decoded(None, None, exc)
    return Decoded(ref, message)


@dataclass(slots=True)
class LinkView:
    """The state of the UI's own connection to the daemon."""

    state: str = "connecting"  # "connecting", "up" or "down"
    address: str = ""
    since_ms: int | None = None
    reason: str = ""
    next_step: str = ""
    retry_in_s: float = 0.0
    attempt: int = 0


class GatewayModel:
    """Everything the UI knows, built from the control plane. Use on one thread (the UI's)."""

    def __init__(self) -> None:
        self.link = LinkView()
        self.daemon: Stamped[DaemonState] | None = None
        self.gateway: Stamped[GatewayStatus] | None = None
        self.uplink: Stamped[UplinkStatus] | None = None
        self.store: Stamped[StoreStatus] | None = None
        self.broker: Stamped[BrokerStatus] | None = None
        self.devices: dict[str, Stamped[DeviceStatus]] = {}
        self.tags: dict[str, dict[str, TagEntry]] = {}
        self.events: deque[Event] = deque(maxlen=EVENTS_LIMIT)
        self.logs: deque[c.LogLine] = deque(maxlen=LOGS_LIMIT)
        self.traffic: deque[TrafficRecord] = deque(maxlen=TRAFFIC_LIMIT)
        self.traffic_feed = TrafficFeed()  # local and relayed Sparkplug, each message once
        self.protocol_problem: str | None = None
        self.decode_errors = 0
        self.last_decode_error = ""
        self.received = 0
        self.dirty: set[str] = set()
        self.changed_tags: set[tuple[str, str]] = set()
        self.tag_set_version = 0  # bumps when tags are added or removed (rows must be rebuilt)
        # running totals: a screen that remembers the last total it showed appends only the new items
        self.traffic_total = 0
        self.events_total = 0
        self.events_version = 0  # bumps when the recent-events ring was merged in (re-render)
        self.logs_total = 0

    # ---- feeding ---------------------------------------------------------------------------------

    def apply(self, event: LinkEvent) -> None:
        """Take one event from the connection (replies and refusals are the command channel's)."""
        if isinstance(event, Received):
            self._receive(event)
        elif isinstance(event, LinkUp):
            self.link = LinkView("up", event.address, event.at_ms)
            self.dirty.add("link")
        elif isinstance(event, LinkDown):
            self.link = LinkView(
                "down",
                event.address,
                event.at_ms,
                event.reason,
                event.next_step,
                event.retry_in_s,
                self.link.attempt,
            )
            self.dirty.add("link")
        elif isinstance(event, LinkConnecting):
            if self.link.state != "down":
                self.link = LinkView("connecting", event.address, event.at_ms)
            self.link.attempt = event.attempt
            self.dirty.add("link")

    def _receive(self, event: Received) -> None:
        self.received += 1
        if event.topic.startswith(TRAFFIC_PREFIXES):
            record = self.traffic_feed.record(event.topic, event.payload, event.at_ms, event.retained)
            if record is not None:
                self.traffic.append(record)
                self.traffic_total += 1
                self.dirty.add("traffic")
            return
        outcome = event.decoded if isinstance(event.decoded, Decoded) else decode(event.topic, event.payload)
        if outcome.error is None:
            assert outcome.ref is not None
            self._store(outcome.ref, outcome.message, event.at_ms)
        elif outcome.mismatch:
            self.protocol_problem = (
                f"{outcome.error}; upgrade the gateway or this UI so both speak v{c.SCHEMA_VERSION}"
            )
            self.dirty.add("link")
        elif "/reply/" not in event.topic:  # a late reply is the command channel's business, not a status
            self.decode_errors += 1
            self.last_decode_error = f"{event.topic}: {outcome.error}"
            self.dirty.add("link")

    def _store(self, ref: c.TopicRef, message: object | None, at_ms: int) -> None:
        kind = ref.kind
        if isinstance(message, DaemonState):
            self.daemon = Stamped(message, at_ms)
            self.dirty.add("link")
        elif isinstance(message, GatewayStatus):
            self.gateway = Stamped(message, at_ms)
        elif isinstance(message, UplinkStatus):
            self.uplink = Stamped(message, at_ms)
        elif isinstance(message, StoreStatus):
            self.store = Stamped(message, at_ms)
        elif isinstance(message, BrokerStatus):
            self.broker = Stamped(message, at_ms)
        elif isinstance(message, DeviceStatus):
            self.devices[message.device_id] = Stamped(message, at_ms)
            kind = TopicKind.DEVICE
        elif isinstance(message, TagSnapshot):
            self._tag_snapshot(message)
        elif isinstance(message, TagChanges):
            self._tag_changes(message)
        elif isinstance(message, Event):
            self.events.append(message)
            self.events_total += 1
        elif isinstance(message, RecentEvents):
            self._merge_recent(message)
            kind = TopicKind.EVENTS
        elif isinstance(message, LogBatch):
            self.add_log_lines(message.lines)
        elif message is None and ref.device_id is not None:
            self._remove_device(ref)
        self.dirty.add(str(kind))

    def _tag_snapshot(self, snap: TagSnapshot) -> None:
        current = self.tags.get(snap.device_id)
        names = [t.name for t in snap.tags]
        if current is None or list(current) != names:
            old = current or {}
            self.tags[snap.device_id] = {
                t.name: old.get(t.name)
                or TagEntry(t.name, t.value, t.quality, t.timestamp_ms, t.datatype, t.writable, t.unit)
                for t in snap.tags
            }
            self.tag_set_version += 1
        entries = self.tags[snap.device_id]
        for tag in snap.tags:
            entry = entries[tag.name]
            if entry.timestamp_ms != tag.timestamp_ms or entry.value != tag.value or not entry.history:
                entry.update(tag)
                self.changed_tags.add((snap.device_id, tag.name))

    def _tag_changes(self, batch: TagChanges) -> None:
        entries = self.tags.setdefault(batch.device_id, {})
        for tag in batch.changes:
            entry = entries.get(tag.name)
            if entry is None:
                entry = entries[tag.name] = TagEntry(
                    tag.name, tag.value, tag.quality, tag.timestamp_ms, tag.datatype, tag.writable, tag.unit
                )
                self.tag_set_version += 1
            entry.update(tag)
            self.changed_tags.add((batch.device_id, tag.name))

    def _merge_recent(self, recent: RecentEvents) -> None:
        seen = {(e.timestamp_ms, e.kind, e.message) for e in list(self.events)[-len(recent.events) - 10 :]}
        fresh = [e for e in recent.events if (e.timestamp_ms, e.kind, e.message) not in seen]
        merged = sorted([*self.events, *fresh], key=lambda e: e.timestamp_ms) if fresh else None
        if merged is not None:
            self.events.clear()
            self.events.extend(merged)
            self.events_total += len(fresh)
            self.events_version += 1

    def _remove_device(self, ref: c.TopicRef) -> None:
        assert ref.device_id is not None
        if ref.kind is TopicKind.DEVICE:
            self.devices.pop(ref.device_id, None)
        elif ref.kind is TopicKind.TAGS and self.tags.pop(ref.device_id, None) is not None:
            self.tag_set_version += 1

    def add_log_lines(self, lines: tuple[c.LogLine, ...]) -> None:
        """Append log lines (from the live tail, or fetched with ``fetch_logs``)."""
        self.logs.extend(lines)
        self.logs_total += len(lines)
        self.dirty.add("logs")

    def take_dirty(self) -> tuple[set[str], set[tuple[str, str]]]:
        """Return and clear what changed since the last call (areas, and tags as (device, name))."""
        dirty, changed = self.dirty, self.changed_tags
        self.dirty, self.changed_tags = set(), set()
        return dirty, changed

    # ---- questions screens ask -----------------------------------------------------------------------

    def daemon_online(self) -> bool | None:
        """The daemon's retained liveness (False after its Will), or None when unknown."""
        return None if self.daemon is None else self.daemon.message.online

    def is_stale(self, timestamp_ms: int | None, now_ms: int) -> bool:
        """Data is stale when the link is down, the daemon is offline, or it missed two heartbeats."""
        if self.link.state != "up" or self.daemon_online() is False:
            return True
        return timestamp_ms is None or (now_ms - timestamp_ms) / 1000 > STATUS_STALE_AFTER_S

    def tag_count(self) -> int:
        return sum(len(v) for v in self.tags.values())

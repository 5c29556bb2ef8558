"""Publishes the daemon's status on the control-plane topics, within the contract's rate limits.

- Retained snapshots (gateway, uplink, store, broker, one per device, tags per device) are republished
  when they changed, at most every ``STATUS_INTERVAL_S``, and at least every ``STATUS_HEARTBEAT_S`` so
  their age tells a client the daemon is alive. ``$GW/v1/state`` is online while running, offline after
  :meth:`stop`.
- Tag changes are batched per device and published at most every ``TAG_CHANGES_MIN_INTERVAL_S``
  (<= 2 Hz): the latest value per tag, with the number of overwritten values counted, and at most
  ``TAG_CHANGES_MAX_VALUES`` values per batch (the rest wait, latest value kept): a plant of thousands
  of tags changing every second costs the UI (and the daemon's JSON encoding) a bounded rate.
- Tag messages cost in proportion to the tags (thousands per device), so they follow who listens
  (``listening(topic)``, the embedded broker's subscription tree): with nobody subscribed to a device's
  TagChanges topic, changes are neither kept nor built (:meth:`StatusPublisher.wants_tag_changes` tells
  the daemon; a QoS 0 message to nobody is dropped by the broker anyway), and with nobody subscribed to
  its TagSnapshot topic the retained snapshot is refreshed at the heartbeat only. When a subscriber
  appears, a fresh snapshot goes out at the next tick (it first received the retained one, at most a
  heartbeat old), and changes flow again from then on.
- Events are published as they happen, and the retained ring of recent events is refreshed with them.
- Log lines are batched (``LOG_BATCH_MIN_INTERVAL_S``, ``LOG_BATCH_MAX_LINES``; the rest counted).

The publisher owns one task (:meth:`run`). It publishes through ``publish(topic, payload, qos, retain)``
(the daemon passes the embedded broker's in-process publish). Time comes from ``clock`` (monotonic s)
and ``wall`` (UTC ms), so tests can drive it.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Iterable

from gateway.control import contract as c
from gateway.control.view import GatewayView

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, int, bool], object]
Listening = Callable[[str], bool]
"""Whether a message published on this topic now would reach any subscriber."""
TICK_S = 0.1


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class _Slot:
    """Last published form of one retained topic, for change detection and pacing."""

    __slots__ = ("at", "key")

    def __init__(self) -> None:
        self.key: object = None
        self.at = -1e18


class StatusPublisher:
    """See the module docstring. Args: view (snapshots), publish, version, pid, clocks."""

    def __init__(
        self,
        view: GatewayView,
        publish: Publish,
        *,
        version: str,
        pid: int,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], int] = _wall_ms,
        listening: Listening | None = None,
    ) -> None:
        self._view = view
        self._publish = publish
        self._version = version
        self._pid = pid
        self._clock = clock
        self._wall = wall
        self._slots: dict[str, _Slot] = collections.defaultdict(_Slot)
        # per device, the changed tags in order of their first change since the last batch: the value to
        # send, or None for "its current value" (tag_names_changed: built when the batch is cut)
        self._pending: dict[str, dict[str, c.TagValue | None]] = {}
        self._overwritten: dict[str, int] = collections.defaultdict(int)
        self._last_batch: dict[str, float] = {}
        self._events: collections.deque[c.Event] = collections.deque(maxlen=c.RECENT_EVENTS_LIMIT)
        self._logs: collections.deque[c.LogLine] = collections.deque()
        self._logs_dropped = 0
        self._last_logs = -1e18
        self._known_devices: set[str] = set()
        self._listening = listening  # None: always assume someone listens
        self._watching_changes: dict[str, bool] = {}
        self._watching_tags: dict[str, bool] = {}
        self._topics: dict[str, tuple[str, str, str]] = {}
        self.published = 0

    # ---- inputs (on the event loop) -------------------------------------------------------------------

    def wants_tag_changes(self, device_id: str) -> bool:
        """False while nobody subscribes to the device's TagChanges (as of the last tick): the caller
        may skip building them, :meth:`tags_changed` would drop them."""
        return self._watching_changes.get(device_id, True)

    def tags_changed(self, device_id: str, changes: tuple[c.TagValue, ...]) -> None:
        if not self._watching_changes.get(device_id, True):
            return
        pending = self._pending.setdefault(device_id, {})
        for tag in changes:
            if tag.name in pending:
                self._overwritten[device_id] += 1
            pending[tag.name] = tag

    def tag_names_changed(self, device_id: str, names: Iterable[str]) -> None:
        """These tags changed (value or quality); their TagValues are read from the view
        (``device_tag``) when the batch is cut: the latest value, which a batch carries anyway, so a
        tag that changes on every poll is built once per batch (at most TAG_CHANGES_MAX_VALUES), not
        once per change (5,000 a second in benchmarks/gateway.py)."""
        if not self._watching_changes.get(device_id, True):
            return
        pending = self._pending.setdefault(device_id, {})
        before = len(pending)
        count = 0
        for name in names:
            pending[name] = None
            count += 1
        overwritten = count - (len(pending) - before)
        if overwritten:
            self._overwritten[device_id] += overwritten

    def event(self, event: c.Event) -> None:
        self._events.append(event)
        self._send(c.EVENTS_TOPIC, c.encode_message(event), qos=1, retain=False)
        recent = c.RecentEvents(self._wall(), tuple(self._events))
        self._send(c.RECENT_EVENTS_TOPIC, c.encode_message(recent), qos=1, retain=True)

    def log_line(self, line: c.LogLine) -> None:
        """Queue one log line for the live tail (call on the loop; bounded, the excess is counted)."""
        if len(self._logs) >= c.LOG_BATCH_MAX_LINES * 4:
            self._logs_dropped += 1
            return
        self._logs.append(line)

    # ---- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        state = c.DaemonState(True, self._wall(), self._version, self._pid)
        self._send(c.STATE_TOPIC, c.encode_message(state), qos=1, retain=True)
        self.tick(force=True)

    def stop(self) -> None:
        """Publish the last snapshots and the offline state (retained)."""
        self.tick(force=True)
        state = c.DaemonState(False, self._wall(), self._version, self._pid)
        self._send(c.STATE_TOPIC, c.encode_message(state), qos=1, retain=True)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.tick()
            except Exception:
                # Top of a long-lived task: a bad snapshot must not end the status stream.
                log.exception("control-plane status publishing failed")

    # ---- one pass ---------------------------------------------------------------------------------------

    def tick(self, force: bool = False) -> None:
        """Publish whatever is due now."""
        view = self._view
        self._snapshot(c.GATEWAY_TOPIC, view.gateway_status(), force, ignore=("timestamp_ms", "uptime_s"))
        self._snapshot(c.UPLINK_TOPIC, view.uplink_status(), force)
        self._snapshot(c.STORE_TOPIC, view.store_status(), force)
        self._snapshot(c.BROKER_TOPIC, view.broker_status(), force)
        devices = set(view.device_ids())
        for device_id in sorted(devices):
            status_topic, tags_topic, changes_topic = self._device_topics(device_id)
            status = view.device_status(device_id)
            if status is not None:
                self._snapshot(status_topic, status, force)
            newly_watched = self._watch(device_id, tags_topic, changes_topic)
            self._tag_snapshot(device_id, tags_topic, force or newly_watched)
        for gone in self._known_devices - devices:
            # An empty retained payload clears the topic: the device was removed by a reload.
            status_topic, tags_topic, _changes = self._device_topics(gone)
            self._send(status_topic, b"", qos=1, retain=True)
            self._send(tags_topic, b"", qos=1, retain=True)
            self._slots.pop(status_topic, None)
            self._slots.pop(tags_topic, None)
            self._pending.pop(gone, None)
            for per_device in (self._watching_changes, self._watching_tags, self._topics):
                per_device.pop(gone, None)
        self._known_devices = devices
        self._flush_tag_changes()
        self._flush_logs()

    def _snapshot(
        self,
        topic: str,
        message: object,
        force: bool,
        *,
        interval: float = c.STATUS_INTERVAL_S,
        ignore: tuple[str, ...] = ("timestamp_ms",),
    ) -> None:
        slot = self._slots[topic]
        now = self._clock()
        key = dataclasses.replace(message, **dict.fromkeys(ignore, 0))  # type: ignore[type-var]
        changed = key != slot.key
        due = now - slot.at >= (interval if changed else c.STATUS_HEARTBEAT_S)
        if force or due:
            slot.key, slot.at = key, now
            self._send(topic, c.encode_message(message), qos=1, retain=True)

    def _device_topics(self, device_id: str) -> tuple[str, str, str]:
        """(status, tags, tag changes) topics of a device (built and checked once)."""
        topics = self._topics.get(device_id)
        if topics is None:
            topics = (
                c.device_status_topic(device_id),
                c.tags_topic(device_id),
                c.tag_changes_topic(device_id),
            )
            self._topics[device_id] = topics
        return topics

    def _watch(self, device_id: str, tags_topic: str, changes_topic: str) -> bool:
        """Refresh who listens to the device's tag topics; True when its snapshot just gained listeners."""
        listening = self._listening
        if listening is None:
            return False
        changes = listening(changes_topic)
        if not changes:
            # nobody would receive them: a QoS 0 message without subscribers is dropped by the broker
            self._pending.pop(device_id, None)
            self._overwritten.pop(device_id, None)
        self._watching_changes[device_id] = changes
        tags = listening(tags_topic)
        newly = tags and not self._watching_tags.get(device_id, False)
        self._watching_tags[device_id] = tags
        return newly

    def _tag_snapshot(self, device_id: str, topic: str, force: bool) -> None:
        """A device's retained TagSnapshot, paced like the others without building thousands of
        TagValues on every tick: the view's version of the device's tags tells a change, and the
        snapshot is built and encoded only when it is due. Refreshed every TAG_SNAPSHOT_INTERVAL_S
        while it changes and someone listens, else at the heartbeat."""
        version = self._view.device_tags_version(device_id)
        if version is None:
            return
        slot = self._slots[topic]
        now = self._clock()
        watched = self._watching_tags.get(device_id, True)
        changed = version != slot.key
        interval = c.TAG_SNAPSHOT_INTERVAL_S if changed and watched else c.STATUS_HEARTBEAT_S
        if force or now - slot.at >= interval:
            tags = self._view.device_tags(device_id)
            if tags is None:
                return
            slot.key, slot.at = version, now
            snapshot = c.TagSnapshot(self._wall(), device_id, tags)
            self._send(topic, c.encode_message(snapshot), qos=1, retain=True)

    def _flush_tag_changes(self) -> None:
        now = self._clock()
        for device_id in list(self._pending):
            if now - self._last_batch.get(device_id, -1e18) < c.TAG_CHANGES_MIN_INTERVAL_S:
                continue
            changes = self._pending[device_id]
            if not changes:
                del self._pending[device_id]
                continue
            self._last_batch[device_id] = now
            if len(changes) <= c.TAG_CHANGES_MAX_VALUES:
                taken = list(changes.items())
                del self._pending[device_id]
            else:
                # the budget: those waiting longest first (a dict keeps the order of the first change
                # since the last batch; a later change of the same tag keeps its place)
                names = list(itertools.islice(changes, c.TAG_CHANGES_MAX_VALUES))
                taken = [(name, changes.pop(name)) for name in names]
            values = self._current(device_id, taken)
            if not values:
                continue  # every tag named was removed (a reload) before its batch
            batch = c.TagChanges(
                self._wall(),
                device_id,
                values,
                self._overwritten.pop(device_id, 0),
                pending=len(self._pending.get(device_id, ())),
            )
            self._send(self._device_topics(device_id)[2], c.encode_message(batch), qos=0, retain=False)

    def _current(self, device_id: str, taken: list[tuple[str, c.TagValue | None]]) -> tuple[c.TagValue, ...]:
        """The values to send: those given, and the current one of each tag only named."""
        view = self._view
        values = []
        for name, given in taken:
            value = given if given is not None else view.device_tag(device_id, name)
            if value is not None:
                values.append(value)
        return tuple(values)

    def _flush_logs(self) -> None:
        now = self._clock()
        if not self._logs or now - self._last_logs < c.LOG_BATCH_MIN_INTERVAL_S:
            return
        self._last_logs = now
        lines = [self._logs.popleft() for _ in range(min(len(self._logs), c.LOG_BATCH_MAX_LINES))]
        dropped, self._logs_dropped = self._logs_dropped, 0
        batch = c.LogBatch(self._wall(), tuple(lines), dropped)
        self._send(c.LOGS_TOPIC, c.encode_message(batch), qos=0, retain=False)

    def _send(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        self._publish(topic, payload, qos, retain)
        self.published += 1

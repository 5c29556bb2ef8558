"""The status publisher's pacing and shapes, driven with a hand-turned clock.

The view here is a small in-memory GatewayView (a seam, the daemon's real one is exercised end to end
in tests/e2e/test_control_plane.py); time is passed in, so pacing is checked without sleeping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from gateway.control import contract as c
from gateway.control.publisher import StatusPublisher


class View:
    """Snapshots held in attributes; commands are not used by the publisher."""

    def __init__(self) -> None:
        self.devices: dict[str, c.DeviceStatus] = {"pump": self._device("pump")}
        self.tags: dict[str, tuple[c.TagValue, ...]] = {
            "pump": (c.TagValue("Speed", 1, c.Quality.GOOD, 1, "Int32"),)
        }
        self.gateway = c.GatewayStatus(1, "G", "E", "0", 0, 0.0, None, None)

    @staticmethod
    def _device(name: str) -> c.DeviceStatus:
        return c.DeviceStatus(1, name, "modbus_tcp", "h:502 unit 1", True, c.DeviceHealth.OK, True, 1, 1000)

    def gateway_status(self) -> c.GatewayStatus:
        return self.gateway

    def uplink_status(self) -> c.UplinkStatus:
        return c.UplinkStatus(1, (), None, c.SessionState.DISCONNECTED, 0, None, None)

    def store_status(self) -> c.StoreStatus:
        return c.StoreStatus(1, c.StoreMode.LIVE, 0, 0, None)

    def broker_status(self) -> c.BrokerStatus:
        return c.BrokerStatus(1, (), 0)

    def device_ids(self) -> tuple[str, ...]:
        return tuple(self.devices)

    def device_status(self, device_id: str) -> c.DeviceStatus | None:
        return self.devices.get(device_id)

    def device_tags(self, device_id: str) -> tuple[c.TagValue, ...] | None:
        return self.tags.get(device_id)

    def device_tag(self, device_id: str, name: str) -> c.TagValue | None:
        return next((t for t in self.tags.get(device_id, ()) if t.name == name), None)

    def device_tags_version(self, device_id: str) -> int | None:
        """The tags' hash stands for the version: it changes when a test changes a tag."""
        tags = self.tags.get(device_id)
        return None if tags is None else hash(tags)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    listening: Callable[[str], bool] | None = None,
) -> tuple[StatusPublisher, View, Clock, list[tuple[str, bytes, int, bool]]]:
    view, clock, sent = View(), Clock(), []
    publisher = StatusPublisher(
        view,  # type: ignore[arg-type]  # the publisher uses the snapshots only, not the commands
        lambda *a: sent.append(a),
        version="1",
        pid=7,
        clock=clock,
        wall=lambda: 5,
        listening=listening,
    )
    return publisher, view, clock, sent


def topics(sent: list[tuple[str, bytes, int, bool]]) -> list[str]:
    return [t for t, *_ in sent]


def test_start_publishes_state_and_every_snapshot_retained() -> None:
    publisher, _view, _clock, sent = make()
    publisher.start()
    assert topics(sent)[0] == c.STATE_TOPIC
    assert {
        c.GATEWAY_TOPIC,
        c.UPLINK_TOPIC,
        c.STORE_TOPIC,
        c.BROKER_TOPIC,
        c.device_status_topic("pump"),
        c.tags_topic("pump"),
    } <= set(topics(sent))
    assert all(retain for topic, _p, _q, retain in sent)
    for topic, payload, *_ in sent:
        _ref, message = c.decode_topic_message(topic, payload)
        assert message is not None


def test_unchanged_snapshots_wait_for_the_heartbeat() -> None:
    publisher, _view, clock, sent = make()
    publisher.start()
    sent.clear()
    clock.now += c.STATUS_INTERVAL_S * 2
    publisher.tick()
    assert sent == []
    clock.now += c.STATUS_HEARTBEAT_S
    publisher.tick()
    assert c.GATEWAY_TOPIC in topics(sent)


def test_changed_snapshot_waits_for_the_interval() -> None:
    publisher, view, clock, sent = make()
    publisher.start()
    sent.clear()
    view.devices["pump"] = dataclasses.replace(view.devices["pump"], health=c.DeviceHealth.DOWN)
    clock.now += c.STATUS_INTERVAL_S / 2
    publisher.tick()
    assert c.device_status_topic("pump") not in topics(sent)
    clock.now += c.STATUS_INTERVAL_S
    publisher.tick()
    assert c.device_status_topic("pump") in topics(sent)


def test_tag_changes_are_batched_at_two_hertz_with_overwrites_counted() -> None:
    publisher, _view, clock, sent = make()
    publisher.start()
    sent.clear()
    for value in range(10):
        publisher.tags_changed("pump", (c.TagValue("Speed", value, c.Quality.GOOD, value, "Int32"),))
    publisher.tick()
    batches = [p for t, p, *_ in sent if t == c.tag_changes_topic("pump")]
    assert len(batches) == 1
    batch = c.decode_message(batches[0], c.TagChanges)
    assert [t.value for t in batch.changes] == [9] and batch.dropped == 9
    publisher.tags_changed("pump", (c.TagValue("Speed", 10, c.Quality.GOOD, 10, "Int32"),))
    clock.now += c.TAG_CHANGES_MIN_INTERVAL_S / 2
    publisher.tick()
    assert len([t for t in topics(sent) if t == c.tag_changes_topic("pump")]) == 1
    clock.now += c.TAG_CHANGES_MIN_INTERVAL_S
    publisher.tick()
    assert len([t for t in topics(sent) if t == c.tag_changes_topic("pump")]) == 2


def test_removed_device_clears_its_retained_topics() -> None:
    publisher, view, _clock, sent = make()
    publisher.start()
    sent.clear()
    del view.devices["pump"]
    del view.tags["pump"]
    publisher.tick()
    cleared = {t for t, payload, _q, retain in sent if payload == b"" and retain}
    assert cleared == {c.device_status_topic("pump"), c.tags_topic("pump")}


def test_events_and_the_recent_ring() -> None:
    publisher, _view, _clock, sent = make()
    for i in range(c.RECENT_EVENTS_LIMIT + 5):
        publisher.event(c.Event(i, c.Severity.INFO, "test", "tick", f"event {i}"))
    ring = c.decode_message([p for t, p, *_ in sent if t == c.RECENT_EVENTS_TOPIC][-1], c.RecentEvents)
    assert (
        len(ring.events) == c.RECENT_EVENTS_LIMIT
        and ring.events[-1].message == f"event {c.RECENT_EVENTS_LIMIT + 4}"
    )


def test_log_tail_is_bounded_per_batch() -> None:
    publisher, _view, clock, sent = make()
    for i in range(c.LOG_BATCH_MAX_LINES * 5):
        publisher.log_line(c.LogLine(i, c.Severity.INFO, "x", f"line {i}"))
    clock.now += 1
    publisher.tick()
    [batch_payload] = [p for t, p, *_ in sent if t == c.LOGS_TOPIC]
    batch = c.decode_message(batch_payload, c.LogBatch)
    assert len(batch.lines) == c.LOG_BATCH_MAX_LINES
    assert batch.dropped == c.LOG_BATCH_MAX_LINES  # beyond the 4-batch buffer


def test_stop_publishes_offline_state() -> None:
    publisher, _view, _clock, sent = make()
    publisher.start()
    publisher.stop()
    state = c.decode_message([p for t, p, *_ in sent if t == c.STATE_TOPIC][-1], c.DaemonState)
    assert not state.online and state.pid == 7


def test_a_busy_device_gets_bounded_batches_and_every_tag_its_turn() -> None:
    """TAG_CHANGES_MAX_VALUES per batch; the rest wait with their latest value, longest-waiting first."""
    publisher, _view, clock, sent = make()
    publisher.start()
    sent.clear()
    limit = c.TAG_CHANGES_MAX_VALUES
    total = limit * 2 + 10

    def change_all(round_: int) -> None:
        publisher.tags_changed(
            "pump",
            tuple(c.TagValue(f"t{i}", round_, c.Quality.GOOD, round_, "Int32") for i in range(total)),
        )

    change_all(1)
    publisher.tick()  # t0..t499 go; t500..t1009 wait
    change_all(2)  # everything changes again: the waiting ones keep their place, t0..t499 queue behind
    for _ in range(3):
        clock.now += c.TAG_CHANGES_MIN_INTERVAL_S
        publisher.tick()
    batches = [c.decode_message(p, c.TagChanges) for t, p, *_ in sent if t == c.tag_changes_topic("pump")]
    assert [len(b.changes) for b in batches] == [limit, limit, limit, 10]
    assert [b.pending for b in batches] == [total - limit, total - limit, 10, 0]
    order = [t.name for b in batches for t in b.changes]
    expected = [f"t{i}" for i in range(total)] + [f"t{i}" for i in range(limit)]
    assert order == expected, "the longest-waiting first, every tag in turn"
    assert {t.value for b in batches[1:] for t in b.changes} == {2}, "waiting tags carry their latest value"
    assert [b.dropped for b in batches] == [0, total - limit, 0, 0]


def _speed(value: int) -> tuple[c.TagValue, ...]:
    return (c.TagValue("Speed", value, c.Quality.GOOD, value, "Int32"),)


def test_tag_snapshot_follows_the_tags_version_at_its_interval() -> None:
    publisher, view, clock, sent = make()
    publisher.start()
    sent.clear()
    clock.now += c.TAG_SNAPSHOT_INTERVAL_S
    publisher.tick()
    assert c.tags_topic("pump") not in topics(sent), "unchanged: waits for the heartbeat"
    view.tags["pump"] = _speed(2)
    publisher.tick()
    [payload] = [p for t, p, *_ in sent if t == c.tags_topic("pump")]
    assert c.decode_message(payload, c.TagSnapshot).tags[0].value == 2
    view.tags["pump"] = _speed(3)
    clock.now += c.TAG_SNAPSHOT_INTERVAL_S / 2
    publisher.tick()
    assert topics(sent).count(c.tags_topic("pump")) == 1, "changed again: waits for the interval"


class Subscriptions:
    """Which topics have subscribers (the broker's answer, here a set the test edits)."""

    def __init__(self) -> None:
        self.topics: set[str] = set()

    def __call__(self, topic: str) -> bool:
        return topic in self.topics


def test_nobody_listening_means_no_tag_changes_and_a_heartbeat_snapshot() -> None:
    subscribed = Subscriptions()
    publisher, view, clock, sent = make(subscribed)
    publisher.start()
    assert not publisher.wants_tag_changes("pump")
    sent.clear()
    publisher.tags_changed("pump", _speed(9))
    view.tags["pump"] = _speed(9)
    clock.now += c.TAG_SNAPSHOT_INTERVAL_S
    publisher.tick()
    assert c.tag_changes_topic("pump") not in topics(sent), "nobody subscribed: dropped"
    assert c.tags_topic("pump") not in topics(sent), "nobody subscribed: the snapshot waits for the heartbeat"
    clock.now += c.STATUS_HEARTBEAT_S - c.TAG_SNAPSHOT_INTERVAL_S
    publisher.tick()
    assert c.tags_topic("pump") in topics(sent), "the retained snapshot is refreshed at the heartbeat"


def test_a_new_listener_gets_a_fresh_snapshot_at_the_next_tick_then_the_changes() -> None:
    subscribed = Subscriptions()
    publisher, view, clock, sent = make(subscribed)
    publisher.start()
    view.tags["pump"] = _speed(4)
    publisher.tags_changed("pump", _speed(4))  # nobody listens yet: dropped
    clock.now += 0.1
    publisher.tick()
    sent.clear()
    subscribed.topics |= {c.tags_topic("pump"), c.tag_changes_topic("pump")}
    clock.now += 0.1
    publisher.tick()
    [payload] = [p for t, p, *_ in sent if t == c.tags_topic("pump")]
    assert c.decode_message(payload, c.TagSnapshot).tags[0].value == 4, "forced, not paced"
    assert c.tag_changes_topic("pump") not in topics(sent), "the change made while nobody listened is gone"
    assert publisher.wants_tag_changes("pump")
    publisher.tags_changed("pump", _speed(5))
    clock.now += c.TAG_CHANGES_MIN_INTERVAL_S
    publisher.tick()
    [batch] = [p for t, p, *_ in sent if t == c.tag_changes_topic("pump")]
    assert [t.value for t in c.decode_message(batch, c.TagChanges).changes] == [5]
    sent.clear()
    clock.now += 0.1
    publisher.tick()
    assert c.tags_topic("pump") not in topics(sent), "forced once, on the transition only"


def test_changes_stop_when_the_last_listener_leaves() -> None:
    subscribed = Subscriptions()
    subscribed.topics.add(c.tag_changes_topic("pump"))
    publisher, _view, clock, sent = make(subscribed)
    publisher.start()
    publisher.tags_changed("pump", _speed(6))
    subscribed.topics.clear()
    sent.clear()
    clock.now += c.TAG_CHANGES_MIN_INTERVAL_S
    publisher.tick()
    assert c.tag_changes_topic("pump") not in topics(sent)
    assert not publisher.wants_tag_changes("pump")


def test_named_changes_carry_the_value_current_when_the_batch_is_cut() -> None:
    publisher, view, _clock, sent = make()
    publisher.start()
    sent.clear()
    view.tags["pump"] = (*_speed(1), c.TagValue("Gone", 1, c.Quality.GOOD, 1, "Int32"))
    publisher.tag_names_changed("pump", ["Speed", "Gone"])
    view.tags["pump"] = _speed(2)
    publisher.tag_names_changed("pump", ["Speed"])  # again within the batch window: one value, one overwrite
    publisher.tags_changed("pump", _speed(3))  # a given value replaces the named one
    publisher.tag_names_changed("pump", ["Speed"])  # and a name the given value again
    publisher.tick()
    [payload] = [p for t, p, *_ in sent if t == c.tag_changes_topic("pump")]
    batch = c.decode_message(payload, c.TagChanges)
    assert [(t.name, t.value) for t in batch.changes] == [("Speed", 2)], "Gone was removed before the cut"
    assert batch.dropped == 3

"""Topic builders and the topic parser agree; foreign topics are refused with a reason."""

from __future__ import annotations

import pytest

from gateway.control import contract as c


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (c.STATE_TOPIC, c.TopicRef(c.TopicKind.STATE)),
        (c.GATEWAY_TOPIC, c.TopicRef(c.TopicKind.GATEWAY)),
        (c.UPLINK_TOPIC, c.TopicRef(c.TopicKind.UPLINK)),
        (c.STORE_TOPIC, c.TopicRef(c.TopicKind.STORE)),
        (c.BROKER_TOPIC, c.TopicRef(c.TopicKind.BROKER)),
        (c.EVENTS_TOPIC, c.TopicRef(c.TopicKind.EVENTS)),
        (c.RECENT_EVENTS_TOPIC, c.TopicRef(c.TopicKind.RECENT_EVENTS)),
        (c.LOGS_TOPIC, c.TopicRef(c.TopicKind.LOGS)),
        (c.device_status_topic("pump 1"), c.TopicRef(c.TopicKind.DEVICE, device_id="pump 1")),
        (c.tags_topic("pump-1"), c.TopicRef(c.TopicKind.TAGS, device_id="pump-1")),
        (c.tag_changes_topic("pump-1"), c.TopicRef(c.TopicKind.TAG_CHANGES, device_id="pump-1")),
        (c.command_topic("rebirth"), c.TopicRef(c.TopicKind.COMMAND, command="rebirth")),
        (c.reply_topic("tui-1"), c.TopicRef(c.TopicKind.REPLY, client_id="tui-1")),
    ],
)
def test_every_builder_parses_back(topic: str, expected: c.TopicRef) -> None:
    assert topic.startswith("$GW/v1/")
    assert c.parse_topic(topic) == expected


def test_every_topic_kind_is_covered_by_a_builder_or_constant() -> None:
    seen = {
        c.parse_topic(t).kind
        for t in (
            c.STATE_TOPIC,
            c.GATEWAY_TOPIC,
            c.UPLINK_TOPIC,
            c.STORE_TOPIC,
            c.BROKER_TOPIC,
            c.EVENTS_TOPIC,
            c.RECENT_EVENTS_TOPIC,
            c.LOGS_TOPIC,
            c.device_status_topic("d"),
            c.tags_topic("d"),
            c.tag_changes_topic("d"),
            c.command_topic("x"),
            c.reply_topic("x"),
            c.sparkplug_relay_topic(c.RelayDirection.SENT, "s", "spBv1.0/G/NBIRTH/E"),
        )
    }
    assert seen == set(c.TopicKind)


@pytest.mark.parametrize("bad", ["a/b", "a+", "#", "", "nul\x00"])
def test_ids_that_cannot_be_one_level_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="one topic level"):
        c.device_status_topic(bad)


@pytest.mark.parametrize(
    ("topic", "text"),
    [
        ("spBv1.0/G/NBIRTH/E", "not under the control-plane root"),
        ("$GW/v2/status/gateway", "another control-plane version"),
        ("$GW/v1/status/nothing", "not a control-plane topic"),
        ("$GW/v1/status/device/", "empty level"),
        ("$GW/v1/tags/a/b/c", "not a control-plane topic"),
    ],
)
def test_foreign_topics_are_refused(topic: str, text: str) -> None:
    with pytest.raises(c.UnknownTopicError, match=text):
        c.parse_topic(topic)


def test_empty_retained_payload_means_removed() -> None:
    ref, message = c.decode_topic_message(c.device_status_topic("gone"), b"")
    assert ref.device_id == "gone" and message is None


def test_decode_topic_message_refuses_command_topics() -> None:
    with pytest.raises(c.UnknownTopicError, match="not published status"):
        c.decode_topic_message(c.command_topic("rebirth"), b"{}")


def test_decode_topic_message_picks_the_type_from_the_topic() -> None:
    event = c.Event(
        1, c.Severity.WARNING, "device", "device_down", "pump-1 stopped answering", {"device": "pump-1"}
    )
    ref, message = c.decode_topic_message(c.EVENTS_TOPIC, c.encode_message(event))
    assert ref.kind is c.TopicKind.EVENTS and message == event


def test_retained_kinds_are_the_snapshots() -> None:
    assert c.TopicKind.TAG_CHANGES not in c.RETAINED_KINDS
    assert c.TopicKind.EVENTS not in c.RETAINED_KINDS
    assert c.TopicKind.STATE in c.RETAINED_KINDS


def test_watch_filters_cover_every_published_kind_and_no_commands() -> None:
    def matches(topic_filter: str, topic: str) -> bool:
        f_levels, t_levels = topic_filter.split("/"), topic.split("/")
        for i, level in enumerate(f_levels):
            if level == "#":
                return True
            if i >= len(t_levels) or (level != "+" and level != t_levels[i]):
                return False
        return len(f_levels) == len(t_levels)

    published = [
        c.STATE_TOPIC,
        c.GATEWAY_TOPIC,
        c.UPLINK_TOPIC,
        c.STORE_TOPIC,
        c.BROKER_TOPIC,
        c.EVENTS_TOPIC,
        c.RECENT_EVENTS_TOPIC,
        c.LOGS_TOPIC,
        c.device_status_topic("d"),
        c.tags_topic("d"),
        c.tag_changes_topic("d"),
    ]
    for topic in published:
        assert any(matches(f, topic) for f in c.WATCH_FILTERS), topic
    for topic in (c.command_topic("rebirth"), c.reply_topic("me")):
        assert not any(matches(f, topic) for f in c.WATCH_FILTERS), topic

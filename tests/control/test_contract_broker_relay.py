"""The broker snapshot's retained topics and subscription filters, and the Sparkplug relay topics."""

from __future__ import annotations

import json
import types

import pytest

from gateway.control import contract as c


def _status() -> c.BrokerStatus:
    subs = (
        c.SubscriptionInfo("spBv1.0/#", 1),
        c.SubscriptionInfo(
            "$share/g/plant/+/temp", 2, no_local=True, retain_as_published=True, retain_handling=2
        ),
    )
    client = c.ClientInfo("hmi-1", "alice", "127.0.0.1:50000", "5", 60, 2, 0, 0, 1767225600000, subs)
    retained = (
        c.RetainedInfo("plant/line1/setpoint", 5, 1, 1767225600123),
        c.RetainedInfo("plant/empty-age", 1, 0),
    )
    return c.BrokerStatus(
        1767225601000,
        (c.ListenerStatus("local", "127.0.0.1", 1883, False),),
        1,
        (client,),
        2,
        2,
        sys=types.MappingProxyType({"clients/connected": 1.0}),
        retained=retained,
    )


def test_retained_topics_and_subscription_filters_round_trip() -> None:
    status = _status()
    ref, decoded = c.decode_topic_message(c.BROKER_TOPIC, c.encode_message(status))
    assert ref.kind is c.TopicKind.BROKER
    assert decoded == status
    assert isinstance(decoded, c.BrokerStatus)
    assert decoded.retained[0].since_ms == 1767225600123 and decoded.retained[1].since_ms is None
    assert decoded.clients[0].subscription_filters[1].retain_handling == 2


def test_a_snapshot_from_an_older_daemon_decodes_with_empty_lists() -> None:
    document = json.loads(c.encode_message(_status()))
    del document["data"]["retained"]
    del document["data"]["clients"][0]["subscription_filters"]
    decoded = c.decode_message(json.dumps(document).encode(), c.BrokerStatus)
    assert decoded.retained == () and decoded.clients[0].subscription_filters == ()
    assert decoded.retained_count == 2  # the count is still the true number


def test_a_bad_subscription_entry_is_refused_with_its_path() -> None:
    document = json.loads(c.encode_message(_status()))
    document["data"]["clients"][0]["subscription_filters"][0]["qos"] = "one"
    with pytest.raises(c.MalformedMessageError, match=r"subscription_filters\[0\]\.qos"):
        c.decode_message(json.dumps(document).encode(), c.BrokerStatus)


def test_uplink_relay_counters_default_to_zero() -> None:
    status = c.UplinkStatus(1, (), None, c.SessionState.DISCONNECTED, 0, None, None)
    document = json.loads(c.encode_message(status))
    del document["data"]["relayed"], document["data"]["relay_dropped"]
    decoded = c.decode_message(json.dumps(document).encode(), c.UplinkStatus)
    assert (decoded.relayed, decoded.relay_dropped) == (0, 0)


@pytest.mark.parametrize(
    ("direction", "server", "topic"),
    [
        (c.RelayDirection.SENT, "site-a", "spBv1.0/Plant/NBIRTH/gw"),
        (c.RelayDirection.SENT, "site-a", "spBv1.0/Plant/DDATA/gw/pump 1"),
        (c.RelayDirection.RECEIVED, "primary", "spBv1.0/Plant/NCMD/gw"),
        (c.RelayDirection.RECEIVED, "primary", "spBv1.0/STATE/scada"),
        (c.RelayDirection.RECEIVED, "legacy", "STATE/scada"),
    ],
)
def test_relay_topics_parse_back(direction: c.RelayDirection, server: str, topic: str) -> None:
    relay = c.sparkplug_relay_topic(direction, server, topic)
    assert relay.startswith(f"{c.ROOT}/sparkplug/{direction.value}/{server}/")
    assert c.parse_sparkplug_relay(relay) == c.RelayRef(direction, server, topic)
    assert c.parse_topic(relay) == c.TopicRef(c.TopicKind.SPARKPLUG)


def test_server_names_that_cannot_be_one_level_are_made_one() -> None:
    relay = c.sparkplug_relay_topic(c.RelayDirection.SENT, "a/b+c#", "spBv1.0/G/NDATA/E")
    ref = c.parse_sparkplug_relay(relay)
    assert ref is not None and ref.server == "a_b_c_" and ref.topic == "spBv1.0/G/NDATA/E"
    assert c.relay_server_level("") == "_"


@pytest.mark.parametrize("bad", ["", "spBv1.0/+/NDATA/E", "spBv1.0/#"])
def test_relaying_a_filter_or_nothing_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="without wildcards"):
        c.sparkplug_relay_topic(c.RelayDirection.SENT, "s", bad)


@pytest.mark.parametrize(
    "topic",
    [
        "spBv1.0/G/NBIRTH/E",
        f"{c.ROOT}/sparkplug/sideways/s/spBv1.0/G/NBIRTH/E",
        f"{c.ROOT}/sparkplug/sent/s",
        f"{c.ROOT}/sparkplug/sent//spBv1.0/G/NBIRTH/E",
        f"{c.ROOT}/status/broker",
    ],
)
def test_other_topics_are_not_relay_topics(topic: str) -> None:
    assert c.parse_sparkplug_relay(topic) is None


def test_a_malformed_relay_topic_is_an_unknown_control_plane_topic() -> None:
    with pytest.raises(c.UnknownTopicError):
        c.parse_topic(f"{c.ROOT}/sparkplug/sideways/s/x")


def test_relay_messages_are_not_status() -> None:
    relay = c.sparkplug_relay_topic(c.RelayDirection.SENT, "s", "spBv1.0/G/NBIRTH/E")
    with pytest.raises(c.UnknownTopicError, match="not published status"):
        c.decode_topic_message(relay, b"\x08\x01")
    assert not any(relay.startswith(f.rstrip("#")) for f in c.WATCH_FILTERS if f.endswith("#"))

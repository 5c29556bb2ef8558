"""The Sparkplug relay on a real embedded broker: copies only while watched, within its rate limits,
and never an exception towards the uplink."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.app.sparkplug_relay import SparkplugRelay
from gateway.broker import Broker, BrokerMessage, BrokerSettings, ListenerSettings
from gateway.control import contract as c

SENT = c.RelayDirection.SENT
RECEIVED = c.RelayDirection.RECEIVED


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    broker = Broker(
        BrokerSettings(listeners=(ListenerSettings(host="127.0.0.1", port=0),), allow_anonymous=True)
    )
    await broker.start()
    yield broker
    await broker.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_nothing_is_copied_while_nobody_watches(broker: Broker) -> None:
    seen: list[BrokerMessage] = []
    broker.subscribe("#", seen.append)  # '#' does not match '$GW/...' [MQTT-4.7.2-1]: not a watcher
    relay = SparkplugRelay(broker)
    relay.copy(SENT, "site-a", "spBv1.0/G/NBIRTH/E", b"\x08\x01")
    assert (relay.relayed, relay.dropped, seen) == (0, 0, [])


async def test_watched_messages_are_copied_with_direction_and_server(broker: Broker) -> None:
    seen: list[BrokerMessage] = []
    broker.subscribe(c.SPARKPLUG_RELAY_FILTER, seen.append)
    relay = SparkplugRelay(broker)
    relay.copy(SENT, "site-a", "spBv1.0/G/NBIRTH/E", b"birth")
    relay.copy(RECEIVED, "site/a", "spBv1.0/G/NCMD/E", b"cmd")
    assert [(m.topic, m.payload, m.qos, m.retain) for m in seen] == [
        ("$GW/v1/sparkplug/sent/site-a/spBv1.0/G/NBIRTH/E", b"birth", 0, False),
        ("$GW/v1/sparkplug/received/site_a/spBv1.0/G/NCMD/E", b"cmd", 0, False),
    ]
    assert c.parse_sparkplug_relay(seen[1].topic) == c.RelayRef(RECEIVED, "site_a", "spBv1.0/G/NCMD/E")
    assert relay.relayed == 2


async def test_a_watcher_of_one_direction_gets_only_that_one(broker: Broker) -> None:
    seen: list[BrokerMessage] = []
    broker.subscribe(f"{c.ROOT}/sparkplug/received/#", seen.append)
    relay = SparkplugRelay(broker)
    relay.copy(SENT, "s", "spBv1.0/G/NDATA/E", b"data")
    relay.copy(RECEIVED, "s", "spBv1.0/STATE/host", b'{"online":true}')
    assert [m.topic for m in seen] == ["$GW/v1/sparkplug/received/s/spBv1.0/STATE/host"]
    assert relay.relayed == 1


async def test_the_message_rate_is_bounded_and_the_excess_counted(broker: Broker) -> None:
    seen: list[BrokerMessage] = []
    broker.subscribe(c.SPARKPLUG_RELAY_FILTER, seen.append)
    clock = Clock()
    relay = SparkplugRelay(broker, clock=clock, max_per_s=10, max_bytes_per_s=1_000_000)
    for i in range(25):
        relay.copy(SENT, "s", "spBv1.0/G/NDATA/E", bytes([i]))
    assert (len(seen), relay.relayed, relay.dropped) == (10, 10, 15)  # one second's bucket
    clock.now += 0.5  # half a second refills half the bucket
    for i in range(10):
        relay.copy(SENT, "s", "spBv1.0/G/NDATA/E", bytes([i]))
    assert (relay.relayed, relay.dropped) == (15, 20)


async def test_the_byte_rate_is_bounded(broker: Broker) -> None:
    seen: list[BrokerMessage] = []
    broker.subscribe(c.SPARKPLUG_RELAY_FILTER, seen.append)
    clock = Clock()
    relay = SparkplugRelay(broker, clock=clock, max_per_s=1000, max_bytes_per_s=1000)
    relay.copy(SENT, "s", "spBv1.0/G/NBIRTH/E", b"x" * 600)
    relay.copy(SENT, "s", "spBv1.0/G/NBIRTH/E", b"x" * 600)  # over the second's byte budget
    relay.copy(SENT, "s", "spBv1.0/G/NDATA/E", b"x" * 300)  # still fits
    relay.copy(SENT, "s", "spBv1.0/G/NBIRTH/E", b"x" * 5000)  # larger than the bucket: never fits
    assert [len(m.payload) for m in seen] == [600, 300]
    assert relay.dropped == 2


async def test_a_stopped_broker_costs_the_copy_not_the_caller() -> None:
    broker = Broker(
        BrokerSettings(listeners=(ListenerSettings(host="127.0.0.1", port=0),), allow_anonymous=True)
    )
    relay = SparkplugRelay(broker)
    relay.copy(SENT, "s", "spBv1.0/G/NDATA/E", b"data")  # never started: BrokerNotRunning inside
    assert (relay.relayed, relay.failures) == (0, 1)


async def test_a_topic_too_long_for_the_broker_is_counted_not_raised(broker: Broker) -> None:
    seen: list[BrokerMessage] = []
    broker.subscribe(c.SPARKPLUG_RELAY_FILTER, seen.append)
    relay = SparkplugRelay(broker)
    relay.copy(SENT, "s", "spBv1.0/G/NDATA/" + "+", b"data")  # a wildcard cannot be published
    assert (relay.relayed, relay.failures, seen) == (0, 1, [])

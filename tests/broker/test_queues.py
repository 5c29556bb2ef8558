"""T16 (offline queue cap with a stated policy) and T17 (inbound QoS 2 and Receive Maximum)."""

from __future__ import annotations

import pytest

from gateway.broker import Broker, QueueOverflow
from gateway.broker.codec import (
    Disconnect,
    Properties,
    Puback,
    Publish,
    Suback,
    Subscribe,
    SubscriptionRequest,
)
from tests.broker.conftest import BrokerFactory, RawFactory
from tests.support.raw_mqtt import RawMQTT


async def _durable_subscriber(raw_mqtt: RawFactory, broker: Broker) -> None:
    raw = await raw_mqtt(broker.ports[0], version=5)
    await raw.connect("durable", properties=Properties(session_expiry_interval=3600))
    await raw.send_packet(Subscribe(1, (SubscriptionRequest("n", 1),)))
    assert isinstance(await raw.read_packet(), Suback)
    await raw.send_packet(Disconnect())
    await raw.expect_closed()


async def _drain(raw: RawMQTT, count: int) -> list[int]:
    numbers = []
    for _ in range(count):
        packet = await raw.read_packet()
        assert isinstance(packet, Publish)
        numbers.append(int(packet.payload))
        await raw.send_packet(Puback(packet.packet_id or 0))
    return numbers


@pytest.mark.parametrize(
    "policy, expected",
    [(QueueOverflow.DROP_OLDEST, range(9000, 10000)), (QueueOverflow.DROP_NEWEST, range(0, 1000))],
)
@pytest.mark.timeout(60)
async def test_offline_queue_is_capped_by_policy(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory, policy: QueueOverflow, expected: range
) -> None:
    broker = await broker_factory(max_queued_messages=1000, queue_overflow=policy)
    await _durable_subscriber(raw_mqtt, broker)
    for number in range(10_000):
        broker.publish("n", str(number).encode(), qos=1)
    assert broker.core.sessions["durable"].queued_count() == 1000
    assert broker.stats.dropped_queue_full == 9000
    back = await raw_mqtt(broker.ports[0], version=5)
    ack = await back.connect(
        "durable", clean_start=False, properties=Properties(session_expiry_interval=3600)
    )
    assert ack.session_present
    assert await _drain(back, 1000) == list(expected)


async def test_queue_byte_cap(broker_factory: BrokerFactory, raw_mqtt: RawFactory) -> None:
    broker = await broker_factory(max_queued_messages=1000, max_queued_bytes=10_000)
    await _durable_subscriber(raw_mqtt, broker)
    for number in range(100):
        broker.publish("n", str(number).encode().rjust(1000, b"0"), qos=1)
    session = broker.core.sessions["durable"]
    assert session.queued_bytes <= 10_000
    assert session.queued_count() == 10
    assert broker.stats.dropped_queue_full == 90


async def test_inbound_qos2_duplicates_are_not_stored_twice(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory
) -> None:
    broker = await broker_factory(receive_maximum=20)
    got: list[bytes] = []
    broker.subscribe("q2", lambda m: got.append(m.payload))
    raw = await raw_mqtt(broker.ports[0], version=5)
    await raw.connect("q2pub")
    for index in range(10_000):
        pid = index % 20 + 1
        await raw.send_packet(Publish("q2", b"x", 2, dup=index >= 20, packet_id=pid))
        if index % 500 == 0:
            assert len(broker.core.sessions["q2pub"].inbound_qos2) <= 20
    for _ in range(10_000):
        await raw.read_frame()  # PUBRECs
    assert len(broker.core.sessions["q2pub"].inbound_qos2) == 20
    assert len(got) == 20  # routed once per packet id, never again for the resends [MQTT-4.3.3-10]


@pytest.mark.parametrize("version", [4, 5])
async def test_inbound_receive_maximum_exceeded(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory, version: int
) -> None:
    broker = await broker_factory(receive_maximum=20)
    raw = await raw_mqtt(broker.ports[0], version=version)
    await raw.connect("greedy")
    for pid in range(1, 22):
        await raw.send_packet(Publish("q2", b"x", 2, packet_id=pid))
    for _ in range(20):
        await raw.read_frame()
    if version == 5:
        await raw.expect_disconnect(0x93)
    else:
        await raw.expect_closed()

"""T29: the broker honours the client's Receive Maximum and Maximum Packet Size ([MQTT-3.1.2-24/25])."""

from __future__ import annotations

import asyncio

import pytest

from gateway.broker import Broker
from gateway.broker.codec import Properties, Puback, Publish, Suback, Subscribe, SubscriptionRequest
from tests.broker.conftest import RawFactory
from tests.support.waiting import async_wait_until


@pytest.mark.timeout(60)
async def test_receive_maximum_and_maximum_packet_size(broker: Broker, raw_mqtt: RawFactory) -> None:
    limited = await raw_mqtt(broker.ports[0], version=5)
    await limited.connect("limited", properties=Properties(receive_maximum=1, maximum_packet_size=1024))
    await limited.send_packet(Subscribe(1, (SubscriptionRequest("lim/#", 1),)))
    assert isinstance(await limited.read_packet(), Suback)
    everyone: list[bytes] = []
    broker.subscribe("lim/#", lambda m: everyone.append(m.payload), qos=1)

    for index in range(100):
        broker.publish("lim/small", index.to_bytes(2, "big") + bytes(498), qos=1)
        if index % 10 == 0:
            broker.publish("lim/big", bytes(2048), qos=1)
    session = broker.core.sessions["limited"]
    received = []
    for index in range(100):
        packet = await limited.read_packet()
        assert isinstance(packet, Publish) and packet.topic == "lim/small"
        received.append(int.from_bytes(packet.payload[:2], "big"))
        assert len(session.inflight) <= 1
        if index < 5:
            # Nothing more may arrive before we acknowledge: one unacknowledged PUBLISH at most.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(limited.read_frame(), 0.05)
        await limited.send_packet(Puback(packet.packet_id or 0))
    assert received == list(range(100))
    await async_wait_until(lambda: len(everyone) == 110, timeout=5)
    assert broker.stats.dropped_too_large == 10

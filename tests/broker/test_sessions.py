"""Sessions: redelivery with DUP on reconnect ([MQTT-4.4.0-1]), session expiry, connection caps."""

from __future__ import annotations

import pytest

from gateway.broker import Broker
from gateway.broker.codec import (
    Properties,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    SubscriptionRequest,
)
from tests.broker.conftest import BrokerFactory, RawFactory
from tests.support.raw_mqtt import RawMQTT
from tests.support.waiting import async_wait_until


async def _subscriber(raw_mqtt: RawFactory, broker: Broker, version: int, qos: int) -> RawMQTT:
    raw = await raw_mqtt(broker.ports[0], version=version)
    if version == 5:
        await raw.connect("resume", clean_start=False, properties=Properties(session_expiry_interval=300))
    else:
        await raw.connect("resume", clean_start=False)
    await raw.send_packet(Subscribe(1, (SubscriptionRequest("r", qos),)))
    assert isinstance(await raw.read_packet(), Suback)
    return raw


@pytest.mark.parametrize("version", [4, 5])
async def test_unacknowledged_qos1_is_resent_with_dup(
    broker: Broker, raw_mqtt: RawFactory, version: int
) -> None:
    raw = await _subscriber(raw_mqtt, broker, version, 1)
    broker.publish("r", b"one", qos=1)
    first = await raw.read_packet()
    assert isinstance(first, Publish) and not first.dup
    raw.reset()  # gone without PUBACK
    back = await raw_mqtt(broker.ports[0], version=version)
    props = Properties(session_expiry_interval=300) if version == 5 else Properties()
    ack = await back.connect("resume", clean_start=False, properties=props)
    assert ack.session_present
    again = await back.read_packet()
    assert isinstance(again, Publish)
    assert (again.dup, again.packet_id, again.payload) == (True, first.packet_id, b"one")


@pytest.mark.parametrize("version", [4, 5])
async def test_qos2_resumes_with_pubrel(broker: Broker, raw_mqtt: RawFactory, version: int) -> None:
    raw = await _subscriber(raw_mqtt, broker, version, 2)
    broker.publish("r", b"two", qos=2)
    first = await raw.read_packet()
    assert isinstance(first, Publish) and first.qos == 2
    await raw.send_packet(Pubrec(first.packet_id or 0))
    assert isinstance(await raw.read_packet(), Pubrel)
    raw.reset()  # PUBCOMP never sent
    back = await raw_mqtt(broker.ports[0], version=version)
    props = Properties(session_expiry_interval=300) if version == 5 else Properties()
    await back.connect("resume", clean_start=False, properties=props)
    resent = await back.read_packet()
    assert resent == Pubrel(first.packet_id or 0)
    await back.send_packet(Pubcomp(first.packet_id or 0))
    await async_wait_until(lambda: not broker.core.sessions["resume"].inflight, timeout=2)


async def test_session_expires_after_its_interval(broker: Broker, raw_mqtt: RawFactory) -> None:
    raw = await _subscriber(raw_mqtt, broker, 5, 1)
    raw.reset()
    core = broker.core
    await async_wait_until(lambda: core.connected == 0, timeout=2, message="the reset seen by the broker")
    assert broker._loop is not None
    now = broker._loop.time()
    core.tick(now + 200)
    assert "resume" in core.sessions
    core.tick(now + 301)
    assert "resume" not in core.sessions
    assert core.router.count == 0


@pytest.mark.parametrize("version, code", [(4, 3), (5, 0x89)])
async def test_total_connection_cap(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory, version: int, code: int
) -> None:
    broker = await broker_factory(max_connections=3)
    for index in range(3):
        client = await raw_mqtt(broker.ports[0], version=version)
        await client.connect(f"c{index}")
    extra = await raw_mqtt(broker.ports[0], version=version)
    await extra.connect("one-too-many", expect_reason=code)
    await extra.expect_closed()
    assert broker.stats.connections_refused == 1

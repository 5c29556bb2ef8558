"""T8 (deep topics), T18 (client-id takeover storm), T19 (subscription and retained floods)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.broker import Broker
from gateway.broker.codec import (
    Properties,
    Puback,
    Publish,
    Suback,
    Subscribe,
    SubscriptionRequest,
    Will,
)
from gateway.broker.codec.wire import encode_utf8, encode_varint
from tests.broker.conftest import BrokerFactory, RawFactory
from tests.support.waiting import async_wait_until


@pytest.mark.parametrize("version", [4, 5])
async def test_deep_filter_is_refused_with_topic_filter_invalid(
    broker: Broker, raw_mqtt: RawFactory, version: int
) -> None:
    raw = await raw_mqtt(broker.ports[0], version=version)
    await raw.connect("deep")
    await raw.send_packet(
        Subscribe(1, (SubscriptionRequest("a/" * 4999 + "#", 0), SubscriptionRequest("ok", 0)))
    )
    packet = await raw.read_packet()
    assert isinstance(packet, Suback)
    assert packet.reason_codes == ((0x8F if version == 5 else 0x80), 0)


async def test_huge_topic_of_slashes_is_refused(broker: Broker, raw_mqtt: RawFactory) -> None:
    raw = await raw_mqtt(broker.ports[0], version=5)
    await raw.connect("slashes")
    topic = "/" * 65_535
    body = encode_utf8(topic) + b"\x00\x01" + b"\x00"
    await raw.send(b"\x32" + encode_varint(len(body)) + body)
    packet = await raw.read_packet()
    assert isinstance(packet, Puback)
    assert (packet.packet_id, packet.reason_code) == (1, 0x90)  # Topic Name invalid
    assert packet.properties.reason_string


async def test_v311_too_deep_publish_closes(broker: Broker, raw_mqtt: RawFactory) -> None:
    raw = await raw_mqtt(broker.ports[0], version=4)
    await raw.connect("deep3")
    await raw.send_packet(Publish("a/" * 200 + "b", b"", 0))
    await raw.expect_closed()


async def test_thousand_plus_filters_then_publish(broker: Broker, raw_mqtt: RawFactory) -> None:
    raw = await raw_mqtt(broker.ports[0], version=5)
    await raw.connect("pluses")
    requests = tuple(SubscriptionRequest("/".join(["+"] * depth), 0) for depth in range(1, 128))
    await raw.send_packet(Subscribe(1, requests))
    assert isinstance(await raw.read_packet(), Suback)
    for batch in range(8):  # 1000 more with literal levels mixed in
        more = tuple(
            SubscriptionRequest("/".join(["+"] * (i % 100 + 1)) + f"/x{batch}{i}", 0) for i in range(125)
        )
        await raw.send_packet(Subscribe(2 + batch, more))
        assert isinstance(await raw.read_packet(), Suback)
    got: list[str] = []
    broker.subscribe("a/#", lambda m: got.append(m.topic))
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert broker.publish("a/" * 100 + "b", b"", 0) == 2  # the local one and '+'x101 of "pluses"
    assert loop.time() - start < 0.5
    packet = await raw.read_packet()
    assert isinstance(packet, Publish)


@pytest.mark.timeout(120)
async def test_takeover_storm_returns_to_baseline(broker: Broker, raw_mqtt: RawFactory) -> None:
    watcher: list[bytes] = []
    broker.subscribe("storm/#", lambda m: watcher.append(m.payload))
    baseline_tasks = len(asyncio.all_tasks())
    previous = None
    for index in range(300):
        raw = await raw_mqtt(broker.ports[0], version=5)
        await raw.connect(
            "storm",
            clean_start=index % 2 == 0,
            properties=Properties(session_expiry_interval=60),
            will=Will("storm/will", str(index).encode(), 0, False, Properties(will_delay_interval=0)),
        )
        if previous is not None:
            await previous.expect_disconnect(0x8E)
        previous = raw
    await previous.close()
    core = broker.core
    await async_wait_until(lambda: core.connected == 0 and not core.connections, timeout=5)
    assert len(core.sessions) == 1
    assert len(asyncio.all_tasks()) <= baseline_tasks + 1
    # Each takeover (and the final close) ends one connection abnormally: one Will each, never twice.
    await async_wait_until(lambda: len(watcher) == 300, timeout=5)
    assert sorted(int(payload) for payload in watcher) == list(range(300))


async def test_subscription_quota(broker_factory: BrokerFactory, raw_mqtt: RawFactory) -> None:
    broker = await broker_factory(max_subscriptions_per_client=1000)
    raw = await raw_mqtt(broker.ports[0], version=5)
    await raw.connect("many")
    codes: list[int] = []
    for batch in range(50):
        await raw.send_packet(
            Subscribe(batch + 1, tuple(SubscriptionRequest(f"f/{batch}/{i}", 0) for i in range(100)))
        )
        packet = await raw.read_packet()
        assert isinstance(packet, Suback)
        codes.extend(packet.reason_codes)
    assert codes[:1000] == [0] * 1000
    assert codes[1000:] == [0x97] * 4000
    assert broker.stats.subscriptions_rejected == 4000


async def test_retained_cap(broker_factory: BrokerFactory, raw_mqtt: RawFactory) -> None:
    broker = await broker_factory(max_retained_messages=10_000, max_retained_bytes=16 * 1024 * 1024)
    raw = await raw_mqtt(broker.ports[0], version=5)
    await raw.connect("retainer")
    refused = 0
    for index in range(20_000):
        await raw.send_packet(Publish(f"r/{index}", b"v", 1, retain=True, packet_id=index % 60_000 + 1))
        if index % 100 == 99:
            for _ in range(100):
                packet = await raw.read_packet()
                assert isinstance(packet, Puback)
                refused += packet.reason_code == 0x97
    assert refused == 10_000
    assert len(broker.core.retained) == 10_000
    assert broker.stats.retained_rejected == 10_000

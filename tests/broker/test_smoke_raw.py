"""Basic conformance through exact bytes (3.1.1 and 5.0)."""

from __future__ import annotations

from gateway.broker import Broker
from tests.broker.conftest import RawFactory


async def test_v311_connect_subscribe_publish_exact_bytes(broker: Broker, raw_mqtt: RawFactory) -> None:
    raw = await raw_mqtt(broker.ports[0])
    # CONNECT "MQTT" level 4, clean session, keep-alive 60, client id "a"
    await raw.send_hex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61")
    await raw.expect_hex("20 02 00 00")
    # SUBSCRIBE id 1, "t" QoS 1
    await raw.send_hex("82 06 00 01 00 01 74 01")
    await raw.expect_hex("90 03 00 01 01")
    # PUBLISH QoS 1 id 2 to "t" payload "x"
    await raw.send_hex("32 06 00 01 74 00 02 78")
    frames = {(await raw.read_frame()).hex(" ") for _ in range(2)}
    assert frames == {"40 02 00 02", "32 06 00 01 74 00 01 78"}
    await raw.send_hex("40 02 00 01")
    await raw.send_hex("c0 00")
    await raw.expect_hex("d0 00")
    await raw.send_hex("e0 00")
    await raw.expect_closed(1.0)


async def test_v5_connack_announces_limits(broker: Broker, raw_mqtt: RawFactory) -> None:
    raw = await raw_mqtt(broker.ports[0], version=5)
    ack = await raw.connect("v5", keep_alive=0)
    props = ack.properties
    assert props.maximum_packet_size == broker.settings.limits.max_packet_size
    assert props.receive_maximum == broker.settings.limits.receive_maximum
    assert props.server_keep_alive == broker.settings.limits.max_keepalive  # keep-alive 0 -> the cap
    assert props.topic_alias_maximum == broker.settings.limits.topic_alias_maximum
    assert props.shared_subscription_available == 1

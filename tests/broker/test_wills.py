"""T28: Wills under faults, and the Will Delay Interval (5.0), driven through raw sockets.

Time jumps use the core's clock seam (``core.tick(now + dt)``) instead of sleeping: the core takes time as
an argument, so a test can move it forward.
"""

from __future__ import annotations

from gateway.broker import Broker, BrokerMessage
from gateway.broker.codec import Disconnect, Properties, Publish, Will
from tests.broker.conftest import BrokerFactory, RawFactory
from tests.support.raw_mqtt import RawMQTT
from tests.support.waiting import async_wait_until


class Watcher:
    """An in-process subscriber to ``wills/#`` that records what arrives."""

    def __init__(self, broker: Broker) -> None:
        self.got: list[BrokerMessage] = []
        broker.subscribe("wills/#", self.got.append)

    def topics(self) -> list[str]:
        return [m.topic for m in self.got]


def now(broker: Broker) -> float:
    assert broker._loop is not None
    return broker._loop.time()


async def connect_with_will(
    raw_mqtt: RawFactory,
    broker: Broker,
    client_id: str,
    *,
    version: int = 5,
    keep_alive: int = 0,
    delay: int | None = None,
    expiry: int | None = None,
    clean_start: bool = True,
) -> RawMQTT:
    raw = await raw_mqtt(broker.ports[0], version=version)
    will_props = Properties(will_delay_interval=delay) if delay is not None else Properties()
    props = Properties(session_expiry_interval=expiry) if expiry is not None else Properties()
    await raw.connect(
        client_id,
        keep_alive=keep_alive,
        clean_start=clean_start,
        properties=props,
        will=Will(f"wills/{client_id}", b"gone", 1, False, will_props),
    )
    return raw


async def sync(broker: Broker, watcher: Watcher) -> None:
    """Publish a marker and wait for it: anything routed before it has arrived by then."""
    count = len(watcher.got)
    broker.publish("wills/sync", b"", 0)
    await async_wait_until(lambda: len(watcher.got) > count, timeout=2)


async def test_a_keepalive_expiry_publishes_the_will(broker: Broker, raw_mqtt: RawFactory) -> None:
    watcher = Watcher(broker)
    raw = await connect_with_will(raw_mqtt, broker, "ka", keep_alive=1)
    broker.core.tick(now(broker) + 3)  # 3 s of silence > 1.5 x keep-alive
    await raw.expect_disconnect(0x8D)
    await async_wait_until(lambda: "wills/ka" in watcher.topics(), timeout=2)


async def test_b_reset_publishes_the_will(broker: Broker, raw_mqtt: RawFactory) -> None:
    watcher = Watcher(broker)
    raw = await connect_with_will(raw_mqtt, broker, "rst")
    raw.reset()
    await async_wait_until(lambda: "wills/rst" in watcher.topics(), timeout=2)
    assert broker.stats.wills_published == 1


async def test_c_normal_disconnect_discards_the_will(broker: Broker, raw_mqtt: RawFactory) -> None:
    watcher = Watcher(broker)
    raw = await connect_with_will(raw_mqtt, broker, "polite")
    await raw.send_packet(Disconnect(0))
    await raw.expect_closed(1.0)
    await async_wait_until(lambda: broker.core.connected == 0, timeout=2)
    await sync(broker, watcher)
    assert watcher.topics() == ["wills/sync"]


async def test_d_disconnect_with_will_publishes_it(broker: Broker, raw_mqtt: RawFactory) -> None:
    watcher = Watcher(broker)
    raw = await connect_with_will(raw_mqtt, broker, "withwill")
    await raw.send_packet(Disconnect(0x04))
    await async_wait_until(lambda: "wills/withwill" in watcher.topics(), timeout=2)


async def test_e_reconnect_within_the_will_delay_cancels_it(broker: Broker, raw_mqtt: RawFactory) -> None:
    watcher = Watcher(broker)
    raw = await connect_with_will(raw_mqtt, broker, "delayed", delay=30, expiry=60)
    raw.reset()
    await async_wait_until(lambda: "delayed" in broker.core.pending_wills, timeout=2)
    back = await raw_mqtt(broker.ports[0], version=5)
    ack = await back.connect("delayed", clean_start=False, properties=Properties(session_expiry_interval=60))
    assert ack.session_present
    broker.core.tick(now(broker) + 40)  # past the delay
    await sync(broker, watcher)
    assert watcher.topics() == ["wills/sync"]


async def test_e2_will_delay_elapses_then_published(broker: Broker, raw_mqtt: RawFactory) -> None:
    watcher = Watcher(broker)
    raw = await connect_with_will(raw_mqtt, broker, "late", delay=5, expiry=60)
    raw.reset()
    await async_wait_until(lambda: "late" in broker.core.pending_wills, timeout=2)
    broker.core.tick(now(broker) + 1)
    await sync(broker, watcher)
    assert "wills/late" not in watcher.topics()
    broker.core.tick(now(broker) + 6)
    await async_wait_until(lambda: "wills/late" in watcher.topics(), timeout=2)


async def test_f_will_delay_longer_than_session_expiry_publishes_at_session_end(
    broker: Broker, raw_mqtt: RawFactory
) -> None:
    watcher = Watcher(broker)
    raw = await connect_with_will(raw_mqtt, broker, "short", delay=300, expiry=2)
    raw.reset()
    await async_wait_until(lambda: "short" in broker.core.pending_wills, timeout=2)
    broker.core.tick(now(broker) + 3)
    await async_wait_until(lambda: "wills/short" in watcher.topics(), timeout=2)
    assert "short" not in broker.core.sessions


async def test_g_clean_broker_stop_publishes_no_will(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory
) -> None:
    broker = await broker_factory()
    watcher = Watcher(broker)
    raw = await connect_with_will(raw_mqtt, broker, "atstop")
    core = broker.core
    await broker.stop()
    await raw.expect_disconnect(0x8B)
    assert core.stats.wills_published == 0
    assert watcher.topics() == []


async def test_protocol_error_publishes_the_will_v311(broker: Broker, raw_mqtt: RawFactory) -> None:
    watcher = Watcher(broker)
    raw = await connect_with_will(raw_mqtt, broker, "broken", version=4)
    await raw.send_hex("36 03 00 01 74")  # PUBLISH QoS 3
    await raw.expect_closed(1.0)
    await async_wait_until(lambda: "wills/broken" in watcher.topics(), timeout=2)


async def test_will_retain_and_qos_are_honoured(broker: Broker, raw_mqtt: RawFactory) -> None:
    raw = await raw_mqtt(broker.ports[0], version=5)
    await raw.connect("ret", will=Will("wills/ret", b"offline", 1, True))
    raw.reset()
    await async_wait_until(lambda: broker.core.retained.get("wills/ret") is not None, timeout=2)
    sub = await raw_mqtt(broker.ports[0], version=5)
    await sub.connect("late-sub")
    await sub.send_hex("82 0d 00 01 00 00 07 77 69 6c 6c 73 2f 23 01")  # SUBSCRIBE wills/# QoS 1
    await sub.expect_hex("90 04 00 01 00 01")
    packet = await sub.read_packet()
    assert isinstance(packet, Publish)
    assert (packet.topic, packet.payload, packet.retain, packet.qos) == ("wills/ret", b"offline", True, 1)


async def test_takeover_v5_sends_session_taken_over(broker: Broker, raw_mqtt: RawFactory) -> None:
    first = await raw_mqtt(broker.ports[0], version=5)
    await first.connect("same")
    second = await raw_mqtt(broker.ports[0], version=5)
    await second.connect("same")
    await first.expect_disconnect(0x8E)
    assert broker.core.connected == 1

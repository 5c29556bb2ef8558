"""Bridge rules between a local mosquitto (standing in for the embedded broker) and an upstream one."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import AsyncIterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.store import MessageStore
from gateway.uplink import (
    Bridge,
    BridgeRule,
    BridgeRuleError,
    Direction,
    Forwarder,
    ForwardingSession,
    MqttVersion,
    PahoLink,
    RetainPolicy,
    Uplink,
    UplinkState,
    topic_matches,
)
from tests.support.waiting import async_wait_until, wait_until
from tests.uplink.harness import FAST, server
from tests.uplink.local_bus import MqttLocalBus


class Watcher:
    """A plain subscriber recording (topic, payload, retain)."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.seen: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        ready = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(topic_filter, 1)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        wait_until(ready.is_set, timeout=10)

    def _on_message(self, _c, _u, message) -> None:
        with self._lock:
            self.seen.append((message.topic, bytes(message.payload), bool(message.retain)))

    def snapshot(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.seen)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    client.publish(topic, payload, 1, retain).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


@contextlib.asynccontextmanager
async def bridged(
    local_port: int, upstream, rules, tmp_path, version=MqttVersion.V311
) -> AsyncIterator[tuple[Bridge, Uplink]]:
    store = MessageStore(tmp_path / "sf.db", commit_interval=0.01)
    await store.open()
    forwarder = Forwarder(store)
    bus = MqttLocalBus(local_port, asyncio.get_running_loop())
    bridge = Bridge(rules, bus, forwarder)
    session = ForwardingSession(
        forwarder, subscriptions=bridge.upstream_subscriptions(), on_inbound=bridge.on_upstream
    )
    uplink = Uplink([server(upstream, name="U", version=version)], session, FAST, rng=random.Random(1))
    task = asyncio.create_task(uplink.run())
    await async_wait_until(lambda: uplink.status().state is UplinkState.ONLINE, timeout=10)
    bridge.start()
    try:
        yield bridge, uplink
    finally:
        await uplink.stop()
        await asyncio.wait_for(task, 10)
        await forwarder.aclose()
        await store.close()
        bus.close()


@pytest.mark.timeout(30)
async def test_out_and_in_with_prefix_remapping(mosquitto_factory, tmp_path) -> None:
    local, upstream = mosquitto_factory(), mosquitto_factory()
    rules = [
        BridgeRule("sensors/#", Direction.OUT, qos=1, remote_prefix="site1/"),
        BridgeRule("cmd/#", Direction.IN, qos=1, remote_prefix="site1/", local_prefix="from-cloud/"),
    ]
    up_watch = Watcher(upstream.port, "#")
    local_watch = Watcher(local.port, "from-cloud/#")
    try:
        async with bridged(local.port, upstream, rules, tmp_path) as (bridge, _uplink):
            publish(local.port, "sensors/t1", b"21.5")
            publish(local.port, "other/t1", b"not bridged")
            publish(upstream.port, "site1/cmd/valve", b"open")
            await async_wait_until(
                lambda: ("site1/sensors/t1", b"21.5", False) in up_watch.snapshot(), timeout=5
            )
            await async_wait_until(
                lambda: ("from-cloud/cmd/valve", b"open", False) in local_watch.snapshot(), timeout=5
            )
            assert not any(
                topic.startswith("site1/other") or topic == "other/t1" for topic, _, _ in up_watch.snapshot()
            )
            assert bridge.status().forwarded_out == 1 and bridge.status().forwarded_in == 1
    finally:
        up_watch.close()
        local_watch.close()


@pytest.mark.timeout(30)
async def test_both_directions_do_not_loop(mosquitto_factory, tmp_path) -> None:
    local, upstream = mosquitto_factory(), mosquitto_factory()
    rules = [BridgeRule("shared/#", Direction.BOTH, qos=1)]
    up_watch = Watcher(upstream.port, "shared/#")
    local_watch = Watcher(local.port, "shared/#")
    try:
        async with bridged(local.port, upstream, rules, tmp_path) as (bridge, _uplink):
            publish(local.port, "shared/a", b"from local")
            publish(upstream.port, "shared/b", b"from upstream")
            await async_wait_until(lambda: bridge.status().loops_prevented >= 1, timeout=5)
            await async_wait_until(
                lambda: len(up_watch.snapshot()) >= 2 and len(local_watch.snapshot()) >= 2, timeout=5
            )
            # Give an echo storm a chance to show up: one more round trip through both brokers.
            publish(local.port, "shared/fence", b"x")
            await async_wait_until(
                lambda: any(t == "shared/fence" for t, _, _ in up_watch.snapshot()), timeout=5
            )
            assert sorted(t for t, _, _ in up_watch.snapshot()) == ["shared/a", "shared/b", "shared/fence"]
            assert sorted(t for t, _, _ in local_watch.snapshot()) == ["shared/a", "shared/b", "shared/fence"]
    finally:
        up_watch.close()
        local_watch.close()


@pytest.mark.timeout(30)
async def test_retain_keep_and_drop(mosquitto_factory, tmp_path) -> None:
    local, upstream = mosquitto_factory(), mosquitto_factory()
    rules = [
        BridgeRule("keep/#", Direction.OUT, retain=RetainPolicy.KEEP),
        BridgeRule("drop/#", Direction.OUT, retain=RetainPolicy.DROP),
    ]
    up_watch = Watcher(upstream.port, "#")
    try:
        async with bridged(local.port, upstream, rules, tmp_path):
            publish(local.port, "keep/x", b"1", retain=True)
            publish(local.port, "drop/x", b"2", retain=True)
            await async_wait_until(lambda: len(up_watch.snapshot()) >= 2, timeout=5)
        late = Watcher(upstream.port, "#")  # a new subscriber sees only what was retained upstream
        try:
            await async_wait_until(late.snapshot, timeout=5)
            assert late.snapshot() == [("keep/x", b"1", True)]
        finally:
            late.close()
    finally:
        up_watch.close()


@pytest.mark.timeout(40)
async def test_out_rule_goes_through_store_and_forward(mosquitto_factory, tmp_path) -> None:
    local, upstream = mosquitto_factory(), mosquitto_factory()
    rules = [
        BridgeRule("data/#", Direction.OUT),
        BridgeRule("live/#", Direction.OUT, store_and_forward=False),
    ]
    async with bridged(local.port, upstream, rules, tmp_path) as (bridge, uplink):
        upstream.kill()
        await async_wait_until(lambda: uplink.status().state is not UplinkState.ONLINE, timeout=10)
        for n in range(20):
            publish(local.port, f"data/{n}", str(n).encode())
        publish(local.port, "live/x", b"dropped while offline")
        await async_wait_until(lambda: bridge.status().dropped == 1, timeout=5)
        upstream.start()
        up_watch = Watcher(upstream.port, "#")
        try:
            await async_wait_until(lambda: len(up_watch.snapshot()) >= 20, timeout=15)
            assert sorted(int(p) for _, p, _ in up_watch.snapshot()) == list(range(20))
        finally:
            up_watch.close()


@pytest.mark.timeout(30)
async def test_receive_maximum_of_the_server_caps_in_flight(mosquitto_factory, tmp_path) -> None:
    upstream = mosquitto_factory(["max_inflight_messages 3"])
    store = MessageStore(tmp_path / "sf.db")
    await store.open()
    forwarder = Forwarder(store)
    link = PahoLink(server(upstream, version=MqttVersion.V5), FAST)
    info = await link.connect()
    assert info.receive_maximum == 3
    peak = 0

    class Counting:
        """The real link underneath; records how many QoS 1 publishes are unacknowledged at each send."""

        def publish(self, topic, payload, qos=0, retain=False, on_ack=None):
            nonlocal peak
            mid = link.publish(topic, payload, qos, retain, on_ack)
            peak = max(peak, link.unacknowledged)
            return mid

    forwarder.attach(Counting(), info.receive_maximum)
    from gateway.uplink import OutboundMessage

    futures = [forwarder.publish(OutboundMessage("t/x", str(n).encode(), 1)) for n in range(200)]
    await asyncio.wait_for(asyncio.gather(*futures), 15)
    assert peak <= 3, peak
    await forwarder.aclose()
    await link.close()
    await store.close()


def test_rules_are_validated_with_clear_errors() -> None:
    with pytest.raises(BridgeRuleError, match="qos must be 0 or 1"):
        BridgeRule("a/#", qos=2)
    with pytest.raises(BridgeRuleError, match="'#' must be a whole last level"):
        BridgeRule("a/#/b")
    with pytest.raises(BridgeRuleError, match="'\\+' must be a whole level"):
        BridgeRule("a/b+")
    with pytest.raises(BridgeRuleError, match="remote_prefix must not contain wildcards"):
        BridgeRule("a/#", remote_prefix="x/+/")
    with pytest.raises(BridgeRuleError, match="non-empty"):
        BridgeRule("")


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("+/b", "a/b", True),
        ("#", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
    ],
)
def test_topic_matching(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected

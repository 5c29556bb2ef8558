"""The Sparkplug session on real mosquitto upstreams: births, bdSeq, NDEATH, historical replay after failover.

An upstream subscriber on ``spBv1.0/#`` on each broker decodes every payload. The node publishes a
counter metric 0, 1, 2, ... (data_qos=1); after a kill -9 of the active server, the values that could
not be delivered come back on the next server as historical NDATA, after the new NBIRTH, in their own
payloads, with their original timestamps. Zero values lost; duplicates counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.store import MessageStore
from gateway.uplink import Delivery, DrainPacing, Forwarder, ServerSettings, SwitchReason, Uplink, UplinkState
from gateway.uplink._sparkplug_session import SparkplugSession
from sparkplug import (
    BdSeqStore,
    DataType,
    EdgeNode,
    EdgeNodeConfig,
    MetricSpec,
    Payload,
    Sample,
    decode_payload,
)
from tests.support.waiting import async_wait_until, wait_until
from tests.uplink.harness import FAST, server


@dataclass
class Seen:
    topic: str
    payload: Payload
    broker: str


@dataclass
class SparkplugWatcher:
    messages: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clients: list[mqtt.Client] = field(default_factory=list)

    def watch(self, broker, name: str) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{name}-{len(self.clients)}")
        ready = threading.Event()
        client.on_connect = lambda c, *_: c.subscribe("spBv1.0/#", 1)
        client.on_subscribe = lambda *_: ready.set()

        def on_message(_c, _u, message) -> None:
            if message.topic.startswith("spBv1.0/STATE/"):
                return  # JSON, not a Sparkplug payload
            with self.lock:
                self.messages.append(Seen(message.topic, decode_payload(message.payload), name))

        client.on_message = on_message
        client.connect("127.0.0.1", broker.port, 30)
        client.loop_start()
        wait_until(ready.is_set, timeout=10)
        self.clients.append(client)

    def snapshot(self) -> list[Seen]:
        with self.lock:
            return list(self.messages)

    def counter_values(self) -> list[tuple[int, bool, int]]:
        """(value, is_historical, timestamp) of every counter metric seen in NDATA."""
        return [
            (int(m.value), m.is_historical, m.timestamp or 0)  # type: ignore[arg-type]
            for seen in self.snapshot()
            if "/NDATA/" in seen.topic
            for m in seen.payload.metrics
        ]

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


@dataclass
class Node:
    uplink: Uplink
    session: SparkplugSession
    bdseq: BdSeqStore
    forwarder: Forwarder
    store: MessageStore


@contextlib.asynccontextmanager
async def sparkplug_uplink(
    servers: list[ServerSettings], tmp_path: Path, primary_host_id: str | None = None
) -> AsyncIterator[Node]:
    config = EdgeNodeConfig(
        group_id="G",
        edge_node_id="E",
        node_metrics=(MetricSpec("counter", DataType.Int64),),
        use_aliases=True,
        primary_host_id=primary_host_id,
        primary_host_timeout_ms=3000,
    )
    bdseq = BdSeqStore(tmp_path / "bdseq")
    node = EdgeNode(config, next_bd_seq=bdseq.load())
    store = MessageStore(tmp_path / "sf.db", commit_interval=0.01)
    await store.open()
    forwarder = Forwarder(store, pacing=DrainPacing(max_messages_per_s=2000))
    session = SparkplugSession(node, forwarder, bdseq, data_qos=1)
    uplink = Uplink(servers, session, FAST, rng=random.Random(3))
    task = asyncio.create_task(uplink.run())
    try:
        yield Node(uplink, session, bdseq, forwarder, store)
    finally:
        await uplink.stop()
        await asyncio.wait_for(task, 15)
        await forwarder.aclose()
        await store.close()


async def online_on(uplink: Uplink, name: str) -> None:
    await async_wait_until(
        lambda: uplink.status().state is UplinkState.ONLINE and uplink.status().server == name,
        timeout=10,
        message=lambda: f"online on {name}: {uplink.status()}",
    )


@pytest.mark.timeout(60)
async def test_failover_replays_history_after_the_new_births(mosquitto_factory, tmp_path) -> None:
    a, b = mosquitto_factory(), mosquitto_factory()
    watcher = SparkplugWatcher()
    watcher.watch(a, "A")
    watcher.watch(b, "B")
    try:
        async with sparkplug_uplink([server(a, name="A"), server(b, name="B")], tmp_path) as node:
            await online_on(node.uplink, "A")
            accepted: set[int] = set()
            timestamps: dict[int, int] = {}
            base_ms = time.time_ns() // 1_000_000  # recent: the store drops samples older than its age cap

            async def produce(start: int, count: int) -> None:
                for n in range(start, start + count):
                    ts = base_ms + n
                    timestamps[n] = ts
                    future = node.session.metrics_changed(None, [Sample("counter", n, ts)])
                    assert future is not None
                    future.add_done_callback(
                        lambda f, n=n: (
                            accepted.add(n) if f.result() in (Delivery.ACKED, Delivery.STORED) else None
                        )
                    )
                    await asyncio.sleep(0.003)

            await produce(0, 100)
            a.kill()
            await produce(100, 100)  # during detection and the switch: stored, replayed as history
            await online_on(node.uplink, "B")
            await produce(200, 100)
            await async_wait_until(lambda: len(accepted) == 300, timeout=10, message="all accepted")

            def missing() -> set[int]:
                return accepted - {v for v, _h, _t in watcher.counter_values()}

            await async_wait_until(
                lambda: not missing(),
                timeout=15,
                message=lambda: (
                    f"lost {sorted(missing())[:10]}, {node.forwarder.status()}, {node.store.status()}"
                ),
            )
            values = watcher.counter_values()
            duplicates = len(values) - len({v for v, _h, _t in values})
            print(f"accepted {len(accepted)}, seen {len(values)}, duplicates {duplicates}")

            on_b = [s for s in watcher.snapshot() if s.broker == "B"]
            # The first message of the session on B is its NBIRTH, with the next bdSeq and seq 0.
            assert "/NBIRTH/" in on_b[0].topic and on_b[0].payload.seq == 0
            bd_seq = {m.name: m.value for m in on_b[0].payload.metrics}["bdSeq"]
            assert bd_seq == 1
            # History and live data never share a payload; history keeps the original timestamps.
            historical_seen = 0
            for seen in on_b[1:]:
                flags = {m.is_historical for m in seen.payload.metrics}
                assert len(flags) <= 1, seen
                for metric in seen.payload.metrics:
                    if metric.is_historical:
                        historical_seen += 1
                        assert metric.timestamp == timestamps[int(metric.value)]  # type: ignore[arg-type]
            assert historical_seen > 0
            # Live DATA on B uses aliases from the birth, and seq continues from the NBIRTH.
            seqs = [s.payload.seq for s in on_b]
            assert seqs[: len(seqs)] == [n % 256 for n in range(len(seqs))]
            switch = node.uplink.status().switches[-1]
            assert (switch.to_server, switch.reason) == ("B", SwitchReason.CONNECTION_LOST)
        assert node.bdseq.load() == 2  # persisted before each CONNECT
    finally:
        watcher.close()


@pytest.mark.timeout(60)
async def test_next_server_sends_ndeath_then_births_on_the_next(mosquitto_factory, tmp_path) -> None:
    a, b = mosquitto_factory(), mosquitto_factory()
    watcher = SparkplugWatcher()
    watcher.watch(a, "A")
    watcher.watch(b, "B")
    try:
        async with sparkplug_uplink([server(a, name="A"), server(b, name="B")], tmp_path) as node:
            await online_on(node.uplink, "A")
            node.uplink.request_next_server()
            await online_on(node.uplink, "B")
            await async_wait_until(lambda: any("/NDEATH/" in s.topic for s in watcher.snapshot()), timeout=5)
            on_a = [s for s in watcher.snapshot() if s.broker == "A"]
            kinds = [s.topic.split("/")[2] for s in on_a]
            assert kinds[0] == "NBIRTH" and "NDEATH" in kinds
            death = next(s for s in on_a if "/NDEATH/" in s.topic)
            assert death.payload.seq is None
            assert {m.name: m.value for m in death.payload.metrics} == {"bdSeq": 0}
            assert node.uplink.status().switches[-1].reason is SwitchReason.NEXT_SERVER
    finally:
        watcher.close()


@pytest.mark.timeout(60)
async def test_births_wait_for_the_primary_host_and_its_offline_moves_on(mosquitto_factory, tmp_path) -> None:
    from tests.uplink.test_failover import publish_state

    a, b = mosquitto_factory(), mosquitto_factory()
    publish_state(b, "scada", True, 1000)
    watcher = SparkplugWatcher()
    watcher.watch(a, "A")
    watcher.watch(b, "B")
    try:
        async with sparkplug_uplink([server(a, name="A"), server(b, name="B")], tmp_path, "scada") as node:
            await async_wait_until(lambda: node.uplink.status().state is UplinkState.WAITING, timeout=10)
            assert node.uplink.status().server == "A"
            publish_state(a, "scada", True, 2000)  # the host comes online on A: births now
            await online_on(node.uplink, "A")
            await async_wait_until(lambda: any(s.broker == "A" for s in watcher.snapshot()), timeout=5)
            assert "/NBIRTH/" in next(s for s in watcher.snapshot() if s.broker == "A").topic
            publish_state(a, "scada", False, 2000)  # its Will: same timestamp, valid -> NDEATH, next server
            await online_on(node.uplink, "B")
            on_a = [s.topic.split("/")[2] for s in watcher.snapshot() if s.broker == "A"]
            assert on_a[-1] == "NDEATH"
            last = node.uplink.status().switches[-1]
            assert (last.from_server, last.to_server, last.reason) == (
                "A",
                "B",
                SwitchReason.PRIMARY_HOST_OFFLINE,
            )
    finally:
        watcher.close()


@pytest.mark.timeout(30)
async def test_unwritable_bdseq_file_blocks_connecting_but_not_the_uplink(mosquitto, tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    config = EdgeNodeConfig(
        group_id="G", edge_node_id="E", node_metrics=(MetricSpec("counter", DataType.Int64),)
    )
    bdseq = BdSeqStore(blocker / "bdseq")
    store = MessageStore(None)
    await store.open()
    forwarder = Forwarder(store)
    session = SparkplugSession(EdgeNode(config), forwarder, bdseq)
    uplink = Uplink([server(mosquitto, name="A")], session, FAST)
    task = asyncio.create_task(uplink.run())
    try:
        await async_wait_until(
            lambda: "cannot prepare the connection" in uplink.status().last_error, timeout=10
        )
        # Samples are still accepted (into the in-memory store) while it cannot connect.
        future = session.metrics_changed(None, [Sample("counter", 1, time.time_ns() // 1_000_000)])
        assert future is not None and await future is Delivery.STORED
        assert not task.done() and not uplink.status().switches
    finally:
        await uplink.stop()
        await asyncio.wait_for(task, 10)
        await forwarder.aclose()
        await store.close()

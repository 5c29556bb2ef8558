"""The edge-node core behind a minimal paho shell, on a real mosquitto, watched by the sniffer.

Not the product's shell (that is gateway/uplink): just enough to show that what the core asks for works
on a real broker: the Will is our NDEATH, births follow SUBACK, a host's Rebirth NCMD (QoS 1, no
timestamps, by name) is honoured, and an ungraceful drop makes the broker publish the matching NDEATH.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sparkplug import (
    Connected,
    ConnectStarting,
    DataType,
    DeviceOnline,
    EdgeNode,
    EdgeNodeConfig,
    Event,
    MessageReceived,
    Metric,
    MetricsChanged,
    MetricSpec,
    Output,
    Payload,
    Publish,
    Sample,
    SetWill,
    Subscribe,
    Subscribed,
    encode_payload,
)
from sparkplug.sniffer import SniffedMessage, SparkplugSniffer
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until


def now_ms() -> int:
    return int(time.time() * 1000)


class MiniShell:
    """Feeds the core from paho callbacks and carries out its MQTT outputs."""

    def __init__(self, broker: MosquittoProcess, node: EdgeNode) -> None:
        self.node = node
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="mini-edge", clean_session=True)
        self.pending_subacks = 0
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        outputs = self.feed(ConnectStarting(f"{broker.host}:{broker.port}"))
        will = next(o for o in outputs if isinstance(o, SetWill))
        self.client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()

    def feed(self, event: Event) -> list[Output]:
        with self.lock:
            outputs = self.node.handle(event, now_ms())
        for output in outputs:
            if isinstance(output, Publish):
                self.client.publish(output.topic, output.payload, qos=output.qos, retain=output.retain)
            elif isinstance(output, Subscribe):
                self.pending_subacks += 1
                self.client.subscribe(output.topic_filter, qos=output.qos)
        return outputs

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.feed(Connected())

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self.pending_subacks -= 1
        if self.pending_subacks == 0:
            self.feed(Subscribed())

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.feed(MessageReceived(message.topic, bytes(message.payload)))


class Watcher:
    """A host-like observer: every message through the sniffer."""

    def __init__(self, broker: MosquittoProcess) -> None:
        self.sniffer = SparkplugSniffer()
        self.seen: list[SniffedMessage] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher")
        self.client.on_connect = lambda c, *_: c.subscribe("spBv1.0/#", qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.seen.append(
            self.sniffer.observe(m.topic, bytes(m.payload), now_ms())
        )
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def types(self) -> list[str]:
        return [m.parsed.message_type.value for m in self.seen if m.parsed is not None]


@pytest.fixture
def watcher(mosquitto: MosquittoProcess) -> Iterator[Watcher]:
    watching = Watcher(mosquitto)
    assert watching.subscribed.wait(10)
    yield watching
    watching.client.disconnect()
    watching.client.loop_stop()


@pytest.mark.timeout(60)
def test_core_on_a_real_broker(mosquitto: MosquittoProcess, watcher: Watcher) -> None:
    config = EdgeNodeConfig("Plant", "Edge", node_metrics=(MetricSpec("Temp", DataType.Double),))
    node = EdgeNode(config, next_bd_seq=7)
    node.handle(DeviceOnline("PLC", (MetricSpec("Speed", DataType.Int16),)), now_ms())
    shell = MiniShell(mosquitto, node)
    try:
        wait_until(lambda: watcher.types()[:2] == ["NBIRTH", "DBIRTH"], message="births", timeout=10)
        shell.feed(MetricsChanged("PLC", (Sample("Speed", -12, now_ms()),)))
        wait_until(lambda: "DDATA" in watcher.types(), message="DDATA", timeout=10)
        # A host asks for a rebirth the way the TCK does: QoS 1, by name, no timestamps.
        rebirth = Payload(
            metrics=(Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=True),)
        )
        watcher.client.publish("spBv1.0/Plant/NCMD/Edge", encode_payload(rebirth), qos=1)
        wait_until(lambda: watcher.types().count("NBIRTH") == 2, message="second NBIRTH", timeout=10)
        # Ungraceful loss: stop paho's thread (so it cannot reconnect), then drop the socket without a
        # DISCONNECT; the broker publishes our Will.
        sock = shell.client.socket()
        assert sock is not None
        shell.client.loop_stop()
        sock.close()
        wait_until(lambda: "NDEATH" in watcher.types(), message="NDEATH from the Will", timeout=20)
    finally:
        shell.client.loop_stop()
    assert watcher.types() == ["NBIRTH", "DBIRTH", "DDATA", "NCMD", "NBIRTH", "DBIRTH", "NDEATH"]
    assert [v for m in watcher.seen for v in m.violations] == []
    ddata = watcher.seen[2].payload
    assert ddata is not None and ddata.metrics[0].name == "Speed" and ddata.metrics[0].value == -12

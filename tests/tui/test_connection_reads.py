"""The UI's MQTT client reads the socket in large chunks and handles every packet in them.

paho reads a packet a few bytes at a time; ``tui.connection.client._PahoClient`` serves those reads
from one large ``recv`` and handles all packets received before waiting again. These tests send it
bursts a real mosquitto delivers back to back (many packets per ``recv``, packets cut across two
``recv``s, one packet larger than a chunk) and check that every message arrives whole and in order.
"""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until
from tui._contract import c
from tui.connection.client import _MAX_PACKETS_PER_READ, _READ_CHUNK, ControlClient
from tui.connection.events import LinkEvent, LinkUp, Received
from tui.settings import TuiSettings

KEEPALIVE_S = 30


class Collector:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[LinkEvent] = []

    def __call__(self, event: LinkEvent) -> None:
        with self.lock:
            self.events.append(event)

    def received(self, topic: str) -> list[Received]:
        with self.lock:
            return [e for e in self.events if isinstance(e, Received) and e.topic == topic]

    def up(self) -> bool:
        with self.lock:
            return any(isinstance(e, LinkUp) for e in self.events)


def _publisher(broker: MosquittoProcess) -> mqtt.Client:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="reads-publisher")
    pub.max_queued_messages_set(0)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    return pub


def test_a_burst_of_small_and_large_messages_arrives_whole_and_in_order(
    mosquitto: MosquittoProcess,
) -> None:
    sink = Collector()
    client = ControlClient(TuiSettings(host=mosquitto.host, port=mosquitto.port, client_id="tui-reads"), sink)
    client.start()
    pub = _publisher(mosquitto)
    try:
        wait_until(sink.up, timeout=10, message="link up")
        wait_until(lambda: client.connected, timeout=10, message="subscribed")
        topic = c.tag_changes_topic("burst")
        # sizes: many tiny packets (dozens per recv), sizes around the chunk (a packet cut across
        # two recvs), one several chunks long, and remaining lengths of 1, 2 and 3 bytes
        sizes = [1, 5, 100, 127, 128, 300, 16_383, 16_384] * 40
        sizes += [_READ_CHUNK - 30, _READ_CHUNK + 1, 3 * _READ_CHUNK + 7, 2, 3]
        payloads = [bytes([i % 251]) * n + str(i).encode() for i, n in enumerate(sizes)]
        infos = [pub.publish(topic, p, qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(10)
        wait_until(lambda: len(sink.received(topic)) >= len(payloads), timeout=30, message="all messages")
        got = sink.received(topic)
        assert [e.payload for e in got] == payloads
        assert not any(e.retained for e in got)
    finally:
        pub.loop_stop()
        pub.disconnect()
        client.stop()


def test_packets_left_in_the_buffer_are_handled_without_more_traffic(mosquitto: MosquittoProcess) -> None:
    # One recv can hold more tiny packets than a loop handles (_MAX_PACKETS_PER_READ); the rest sits in
    # the client's buffer, where select cannot see it. It must be handled with no further traffic.
    sink = Collector()
    settings = TuiSettings(
        host=mosquitto.host, port=mosquitto.port, client_id="tui-rest", keepalive_s=KEEPALIVE_S
    )
    client = ControlClient(settings, sink)
    client.start()
    pub = _publisher(mosquitto)
    try:
        wait_until(lambda: client.connected, timeout=10, message="subscribed")
        topic = c.tag_changes_topic("b")
        payloads = [str(i).encode() for i in range(3 * _MAX_PACKETS_PER_READ)]
        infos = [pub.publish(topic, p, qos=0) for p in payloads]
        for info in infos:
            info.wait_for_publish(10)
        wait_until(
            lambda: len(sink.received(topic)) >= len(payloads),
            timeout=KEEPALIVE_S / 2,  # a keep-alive exchange would bring traffic and hide the fault
            message=lambda: f"{len(sink.received(topic))} of {len(payloads)} messages",
        )
        assert [e.payload for e in sink.received(topic)] == payloads
    finally:
        pub.loop_stop()
        pub.disconnect()
        client.stop()

"""The relay in the real daemon (`edge-gateway run`) with a real upstream mosquitto and no device: what
a watcher on the embedded broker sees is what the upstream broker carried, through a clean stop."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.control import contract as c
from tests.e2e.support import GatewayProcess
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


class Watcher:
    def __init__(self, client_id: str, port: int, topic_filter: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic_filter, 0)
        wait_until(subscribed.is_set, timeout=10, message=f"SUBACK for {topic_filter}")

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def seen(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_final_ndeath_is_copied_as_sent_with_the_server_as_one_level(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(f"""\
identity: {{group_id: Plant, edge_node_id: gw-stop}}
broker:
  listeners: [{{host: 127.0.0.1, port: 0}}]
  allow_anonymous: true
upstream:
  servers:
    - {{name: "site/a", host: 127.0.0.1, port: {mosquitto.port}, keepalive_s: 5}}
data_dir: data
""")
    upstream = Watcher("upstream-host", mosquitto.port, "spBv1.0/#")
    gateway = GatewayProcess(tmp_path, config)
    watcher: Watcher | None = None
    try:
        gateway.wait_running()
        watcher = Watcher("relay-watch", gateway.broker_port, c.SPARKPLUG_RELAY_FILTER)
        wait_until(
            lambda: any("/NBIRTH/" in t for t, _ in upstream.seen()), timeout=20, message="NBIRTH upstream"
        )
        assert gateway.terminate() == 0
        ndeath = "spBv1.0/Plant/NDEATH/gw-stop"
        wait_until(
            lambda: any(t == ndeath for t, _ in upstream.seen()), timeout=10, message="NDEATH upstream"
        )
        relayed = {t: p for t, p in watcher.seen()}
        # the server's name "site/a" is one topic level: "site_a"
        relay_topic = c.sparkplug_relay_topic(c.RelayDirection.SENT, "site/a", ndeath)
        assert relay_topic == f"{c.ROOT}/sparkplug/sent/site_a/{ndeath}"
        assert relayed.get(relay_topic) == dict(upstream.seen())[ndeath]
        assert all(c.parse_sparkplug_relay(t) is not None for t in relayed)
    finally:
        gateway.kill()
        upstream.close()
        if watcher is not None:
            watcher.close()

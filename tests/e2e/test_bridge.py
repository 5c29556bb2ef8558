"""Bridge rules end to end: chosen local topics go upstream with the remote prefix, and back."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.e2e.conftest import gateway_config
from tests.e2e.support import GatewayProcess, ModbusSimulatorProcess
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


class Watcher:
    def __init__(self, port: int, topic_filter: str) -> None:
        self.received: list[tuple[str, bytes]] = []
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, bytes(m.payload)))
        self.client.on_subscribe = lambda *_a: ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=1)
        wait_until(ready.is_set, timeout=10, message="SUBACK")

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_bridge_out_and_in(
    tmp_path: Path, modbus_sim: ModbusSimulatorProcess, mosquitto: MosquittoProcess
) -> None:
    config = gateway_config(tmp_path, modbus_port=modbus_sim.port, upstream_port=mosquitto.port)
    text = config.read_text().replace(
        "devices:\n",
        "bridge:\n"
        "  - {topic: 'hmi/#', direction: out, qos: 1, remote_prefix: 'site/gw1/'}\n"
        "  - {topic: 'orders/#', direction: in, qos: 1, local_prefix: 'from-site/'}\n"
        "devices:\n",
    )
    config.write_text(text)
    upstream = Watcher(mosquitto.port, "site/#")
    gateway = GatewayProcess(tmp_path, config)
    local: Watcher | None = None
    try:
        gateway.wait_running()
        local = Watcher(gateway.broker_port, "from-site/#")
        wait_until(lambda: "uplink now on up" in gateway.stderr(), timeout=20, message="the uplink online")
        local.publish("hmi/line1/speed", b"42")
        wait_until(
            lambda: ("site/gw1/hmi/line1/speed", b"42") in upstream.received,
            timeout=15,
            message="the local message upstream with the remote prefix",
        )
        upstream.publish("orders/next", b"batch-7")
        wait_until(
            lambda: ("from-site/orders/next", b"batch-7") in local.received,
            timeout=15,
            message="the upstream message locally with the local prefix",
        )
        assert gateway.terminate() == 0
    finally:
        upstream.close()
        if local is not None:
            local.close()
        gateway.kill()

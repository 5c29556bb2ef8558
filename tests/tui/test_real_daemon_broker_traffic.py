"""The broker and traffic screens against the REAL daemon (`edge-gateway run`), a real Modbus simulator
and a real upstream mosquitto: a test client's retained topic and subscription filter show on the
broker screen, and the Sparkplug the daemon sends upstream (and the NCMD it receives there) shows on
the traffic screen through the daemon's relay, byte for byte what the upstream broker carried."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.control import contract as c
from sparkplug import DataType, Metric, Payload, encode_payload
from tests.e2e.support import GatewayProcess, ModbusSimulatorProcess
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until
from tests.tui.support.pilot import screen_text, wait_for, wait_text
from tui.app import GatewayTui
from tui.screens.broker import BrokerScreen
from tui.screens.traffic import TrafficScreen
from tui.settings import TuiSettings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@dataclass
class Plant:
    gateway: GatewayProcess
    upstream: MosquittoProcess


@pytest.fixture
def plant(tmp_path: Path, mosquitto: MosquittoProcess) -> Iterator[Plant]:
    simulator = ModbusSimulatorProcess(tmp_path)
    config = tmp_path / "gateway.yaml"
    config.write_text(f"""\
identity: {{group_id: Plant, edge_node_id: gw-relay}}
broker:
  listeners: [{{host: 127.0.0.1, port: 0}}]
  allow_anonymous: true
upstream:
  servers:
    - {{name: site-a, host: 127.0.0.1, port: {mosquitto.port}, keepalive_s: 5}}
devices:
  - id: skid
    protocol: modbus_tcp
    host: 127.0.0.1
    port: {simulator.port}
    poll_interval_s: 0.2
    tags:
      - {{name: temperature, address: 40001, type: float32}}
data_dir: data
""")
    gateway = GatewayProcess(tmp_path, config)
    try:
        gateway.wait_running()
        yield Plant(gateway, mosquitto)
    finally:
        gateway.kill()
        simulator.kill()


class Client:
    """A paho client (its own network thread) that keeps what it receives."""

    def __init__(self, client_id: str, port: int) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def subscribe(self, topic_filter: str, qos: int) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic_filter, qos)
        wait_until(self._subscribed.is_set, timeout=10, message=f"SUBACK for {topic_filter}")

    def payloads(self, kind: str) -> set[bytes]:
        with self._lock:
            return {payload for topic, payload in self.messages if f"/{kind}/" in topic}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _app(plant: Plant, name: str) -> GatewayTui:
    return GatewayTui(TuiSettings(port=plant.gateway.broker_port, client_id=name, redraw_hz=10))


async def test_broker_screen_shows_a_clients_filter_and_a_retained_topic(plant: Plant) -> None:
    client = Client("line1-hmi", plant.gateway.broker_port)
    try:
        client.subscribe("plant/line1/#", 1)
        client.client.publish("plant/line1/setpoint", b"1500", qos=1, retain=True).wait_for_publish(10)
        app = _app(plant, "tui-real-broker")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("6")
            await wait_for(pilot, lambda: isinstance(app.screen, BrokerScreen), "broker screen")
            # the test client with its filter under it, and the retained topic with its size and QoS
            await pilot.press("slash", *"line1", "enter")
            await wait_text(pilot, "plant/line1/setpoint", timeout=20)
            await wait_text(pilot, "line1-hmi")
            await wait_text(pilot, "plant/line1/#")
            lines = screen_text(app).splitlines()
            client_row = next(i for i, line in enumerate(lines) if "line1-hmi" in line)
            assert "plant/line1/#" in lines[client_row + 1] and "QoS 1" in lines[client_row + 1]
            retained = next(line for line in lines if "plant/line1/setpoint" in line)
            assert "4 B" in retained.split("plant/line1/setpoint")[1]
            # the UI's own client is filtered out; its subscriptions are the control plane's
            assert "tui-real-broker" not in screen_text(app)
            status = app.attachment.model.broker
            assert status is not None
            ours = next(cl for cl in status.message.clients if cl.client_id == "tui-real-broker")
            assert {s.topic_filter for s in ours.subscription_filters} >= {
                "spBv1.0/#",
                c.SPARKPLUG_RELAY_FILTER,
            }
    finally:
        client.close()


async def test_traffic_screen_shows_what_the_daemon_sent_upstream(plant: Plant) -> None:
    upstream = Client("upstream-host", plant.upstream.port)
    try:
        upstream.subscribe("spBv1.0/#", 0)
        app = _app(plant, "tui-real-traffic")
        async with app.run_test(size=(120, 30)) as pilot:
            model = app.attachment.model
            await pilot.press("7")
            await wait_for(pilot, lambda: isinstance(app.screen, TrafficScreen), "traffic screen")
            # live data: DDATA copied as sent to site-a (the births went out before the UI watched)
            await wait_text(pilot, "to site-a", timeout=30)
            await wait_for(
                pilot,
                lambda: any(r.direction == "sent" and "/DDATA/" in r.topic for r in model.traffic),
                "a relayed DDATA",
            )
            # a host's NCMD rebirth arrives from upstream (copied as received) and the NBIRTH that
            # answers it goes out (copied as sent), now with the UI watching
            await wait_for(
                pilot,
                lambda: model.uplink is not None and model.uplink.message.session_state.value == "online",
                "online",
                timeout=30,
            )
            rebirth = Payload(
                timestamp=1,
                metrics=(Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=True),),
            )
            upstream.client.publish("spBv1.0/Plant/NCMD/gw-relay", encode_payload(rebirth), qos=0)
            await pilot.press("slash", *"NBIRTH|NCMD", "enter")
            await wait_text(pilot, "NBIRTH", timeout=20)
            await wait_text(pilot, "NCMD")
            lines = screen_text(app).splitlines()
            command = next(line for line in lines if "NCMD" in line)
            assert "from site-a" in command and "Node Control/Rebirth=True" in command
            row = next(line for line in lines if "NBIRTH" in line)
            assert "to site-a" in row and "Plant/gw-relay" in row
            births = [r for r in model.traffic if "/NBIRTH/" in r.topic]
            assert births and all((r.direction, r.server) == ("sent", "site-a") for r in births)
            # byte for byte what the upstream broker received (no local copy: nothing goes to the
            # embedded broker's spBv1.0/# when an upstream server is configured)
            wait_until(
                lambda: births[-1].payload in upstream.payloads("NBIRTH"), timeout=10, message="NBIRTH"
            )
            data = next(r for r in model.traffic if "/DDATA/" in r.topic)
            wait_until(lambda: data.payload in upstream.payloads("DDATA"), timeout=10, message="DDATA")
            assert {(r.direction, r.server) for r in model.traffic} == {
                ("sent", "site-a"),
                ("received", "site-a"),
            }
            assert [r.topic for r in model.traffic if r.direction == "received"] == [
                "spBv1.0/Plant/NCMD/gw-relay"
            ]
    finally:
        upstream.close()


async def test_an_upstream_that_is_the_embedded_broker_shows_each_message_once(tmp_path: Path) -> None:
    """The daemon copies what it sends to "upstream" and the embedded broker routes the same message on
    spBv1.0/#: the UI receives both and shows one (the demo, with no upstream, makes no copies at all)."""
    from tests.support.ports import reserve_port

    port = reserve_port()  # the upstream server must name the embedded broker's port before it starts
    simulator = ModbusSimulatorProcess(tmp_path)
    config = tmp_path / "gateway.yaml"
    config.write_text(f"""\
identity: {{group_id: Plant, edge_node_id: gw-loop}}
broker:
  listeners: [{{host: 127.0.0.1, port: {port}}}]
  allow_anonymous: true
upstream:
  servers:
    - {{name: itself, host: 127.0.0.1, port: {port}, keepalive_s: 5}}
devices:
  - id: skid
    protocol: modbus_tcp
    host: 127.0.0.1
    port: {simulator.port}
    poll_interval_s: 0.2
    tags:
      - {{name: temperature, address: 40001, type: float32}}
data_dir: data
""")
    gateway = GatewayProcess(tmp_path, config)
    try:
        gateway.wait_running()
        app = GatewayTui(TuiSettings(port=gateway.broker_port, client_id="tui-real-loop", redraw_hz=10))
        async with app.run_test(size=(120, 30)) as pilot:
            model = app.attachment.model
            await pilot.press("7")
            await wait_for(pilot, lambda: model.traffic_feed.duplicates >= 5, "copies recognised", timeout=30)
            keys = [(r.topic, r.payload) for r in model.traffic]
            assert len(keys) == len(set(keys)), "a message is shown twice"
            assert {r.direction for r in model.traffic} <= {"local", "sent"}
    finally:
        gateway.kill()
        simulator.kill()

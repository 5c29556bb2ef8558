"""A configured primary host gates births (sparkplug-b-edge-node.md §9), through the whole daemon."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.control import contract as c
from tests.e2e.conftest import gateway_config
from tests.e2e.support import GatewayProcess, ModbusSimulatorProcess, SparkplugHost
from tests.e2e.test_control_plane import ControlClient
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def _state(port: int, online: bool, timestamp: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"scada-{online}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    payload = json.dumps({"online": online, "timestamp": timestamp}).encode()
    client.publish("spBv1.0/STATE/scada", payload, qos=1, retain=True).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def test_births_wait_for_the_primary_host_and_stop_when_it_goes_offline(
    tmp_path: Path, modbus_sim: ModbusSimulatorProcess, mosquitto: MosquittoProcess
) -> None:
    config = gateway_config(tmp_path, modbus_port=modbus_sim.port, upstream_port=mosquitto.port)
    config.write_text(
        config.read_text().replace("edge_node_id: gw1}", "edge_node_id: gw1, primary_host_id: scada}")
    )
    host = SparkplugHost(mosquitto.port)
    gateway = GatewayProcess(tmp_path, config)
    control: ControlClient | None = None
    try:
        gateway.wait_running()
        control = ControlClient(gateway.broker_port)
        wait_until(
            lambda: (u := control.latest(c.UplinkStatus)) and u.session_state is c.SessionState.WAIT_PRIMARY,
            timeout=20,
            message="waiting for the primary host",
        )
        assert not host.of("NBIRTH"), "no birth before the primary host is online"

        now = int(time.time() * 1000)
        _state(mosquitto.port, True, now)
        wait_until(lambda: host.of("NBIRTH"), timeout=20, message="NBIRTH once the host is online")
        wait_until(
            lambda: (u := control.latest(c.UplinkStatus)) and u.primary_host and u.primary_host.online,
            timeout=10,
            message="the host's STATE in the uplink status",
        )

        _state(mosquitto.port, False, now + 1)
        wait_until(lambda: host.of("NDEATH"), timeout=20, message="NDEATH when the host goes offline")
        assert gateway.terminate() == 0
    finally:
        if control is not None:
            control.close()
        host.close()
        gateway.kill()

"""The control plane of a real daemon, through a real MQTT 5 client: every message decodes with the
contract, and commands answer with the same correlation data."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.control import contract as c
from tests.e2e.conftest import gateway_config
from tests.e2e.support import GatewayProcess, ModbusSimulatorProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


class ControlClient:
    """What the terminal UI does, in miniature: watch everything, send commands, match responses."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None) -> None:
        self.client_id = f"test-tui-{uuid.uuid4().hex[:6]}"
        self.puback_codes: list[int] = []
        self.messages: list[tuple[c.TopicRef, object | None]] = []
        self.errors: list[str] = []
        self.responses: dict[bytes, bytes] = {}
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._ready.set()
        self.client.on_publish = lambda _c, _u, _mid, code, _p: self.puback_codes.append(code.value)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe([(c.ALL_FILTER, 1), (c.reply_topic(self.client_id), 1)])
        wait_until(self._ready.is_set, timeout=10, message="SUBACK")

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        ref = c.parse_topic(message.topic)
        if ref.kind is c.TopicKind.COMMAND:
            return  # requests (ours included) are not status
        if ref.kind is c.TopicKind.REPLY:
            correlation = getattr(message.properties, "CorrelationData", b"")
            self.responses[bytes(correlation)] = bytes(message.payload)
            return
        try:
            self.messages.append(c.decode_topic_message(message.topic, bytes(message.payload)))
        except c.ContractError as exc:
            self.errors.append(f"{message.topic}: {exc}")

    def send(self, request: c.Request) -> bytes:
        """Publish a request (QoS 1, waits for the PUBACK); returns its correlation data."""
        topic, payload = c.encode_request(request)
        correlation = uuid.uuid4().bytes
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.ResponseTopic = c.reply_topic(self.client_id)
        properties.CorrelationData = correlation
        self.client.publish(topic, payload, qos=1, properties=properties).wait_for_publish(5)
        return correlation

    def command(self, request: c.Request, timeout: float = 15.0) -> c.Response:
        topic, payload = c.encode_request(request)
        correlation = uuid.uuid4().bytes
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.ResponseTopic = c.reply_topic(self.client_id)
        properties.CorrelationData = correlation
        self.client.publish(topic, payload, qos=1, properties=properties).wait_for_publish(5)
        raw: bytes = wait_until(
            lambda: self.responses.get(correlation, b""), timeout=timeout, message=f"response to {topic}"
        )
        return c.decode_response(request.COMMAND, raw)

    def latest(self, kind: type) -> Any:
        found = [m for _ref, m in self.messages if isinstance(m, kind)]
        return found[-1] if found else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def control(
    tmp_path: Path, modbus_sim: ModbusSimulatorProcess
) -> Iterator[tuple[GatewayProcess, ControlClient]]:
    gateway = GatewayProcess(tmp_path, gateway_config(tmp_path, modbus_port=modbus_sim.port))
    gateway.wait_running()
    client = ControlClient(gateway.broker_port)
    yield gateway, client
    client.close()
    gateway.kill()


def test_status_topics_decode_and_describe_the_gateway(control: tuple[GatewayProcess, ControlClient]) -> None:
    gateway, client = control
    wait_until(lambda: client.latest(c.TagChanges) is not None, timeout=20, message="tag changes")
    state = client.latest(c.DaemonState)
    assert state is not None and state.online
    status = client.latest(c.GatewayStatus)
    assert (
        status.group_id == "E2E"
        and status.edge_node_id == "gw1"
        and status.config_file.endswith("gateway.yaml")
    )
    device = wait_until(
        lambda: (d := client.latest(c.DeviceStatus)) and d.born and d, timeout=20, message="device born"
    )
    assert device.device_id == "skid" and device.health is c.DeviceHealth.OK and device.polls > 0
    tags = client.latest(c.TagSnapshot)
    assert {t.name for t in tags.tags} == {"temperature", "speed_setpoint", "motor_speed"}
    uplink = wait_until(
        lambda: (u := client.latest(c.UplinkStatus)) and u.seq is not None and u,
        timeout=20,
        message="the uplink status with the Sparkplug seq",
    )
    assert uplink.active_server == "embedded broker" and uplink.session_state is c.SessionState.ONLINE
    assert 0 <= uplink.seq <= 255 and uplink.births == 1 and uplink.rebirths == 0
    assert isinstance(client.command(c.Rebirth()), c.CommandOk)
    wait_until(
        lambda: (u := client.latest(c.UplinkStatus)) and u.rebirths == 1 and u.births == 1,
        timeout=20,
        message="the rebirth counted apart from the connections",
    )
    assert not client.errors

    assert gateway.terminate() == 0
    wait_until(
        lambda: (s := client.latest(c.DaemonState)) is not None and not s.online,
        timeout=10,
        message="the offline state",
    )


def test_commands_answer_with_their_correlation(control: tuple[GatewayProcess, ControlClient]) -> None:
    gateway, client = control
    wait_until(lambda: (d := client.latest(c.DeviceStatus)) and d.born, timeout=20, message="device born")

    response = client.command(c.WriteTag("skid", "speed_setpoint", 777))
    assert isinstance(response, c.CommandOk), response
    assert response.data.new_value == 777

    refused = client.command(c.WriteTag("skid", "temperature", 1.0))
    assert isinstance(refused, c.CommandFailed) and refused.error.code is c.ErrorCode.NOT_WRITABLE

    missing = client.command(c.SetDeviceEnabled("nope", False))
    assert isinstance(missing, c.CommandFailed) and missing.error.code is c.ErrorCode.NOT_FOUND
    assert "skid" in (missing.error.hint or "")

    probe = client.command(c.ModbusRead(address=102, data_type=c.ModbusType.UINT16, device_id="skid"))
    assert isinstance(probe, c.CommandOk) and probe.data.registers == (777,)
    assert {d.byte_order for d in probe.data.decoded} == set(c.ByteOrder)

    bad = client.command(c.ValidateConfig("identity: {group_id: 'a/b', edge_node_id: E}\n"))
    assert isinstance(bad, c.CommandOk) and not bad.data.valid
    assert any(p.key_path == "identity.group_id" for p in bad.data.problems)

    logs = client.command(c.FetchLogs(limit=50))
    assert isinstance(logs, c.CommandOk) and any(
        "command write_tag" in line.message for line in logs.data.lines
    )

    disabled = client.command(c.SetDeviceEnabled("skid", False))
    assert isinstance(disabled, c.CommandOk) and disabled.data.changed
    wait_until(
        lambda: (d := client.latest(c.DeviceStatus)) and d.health is c.DeviceHealth.DISABLED,
        timeout=10,
        message="the device shown disabled",
    )
    assert "command write_tag from client" in gateway.stderr()
    assert not client.errors


def test_config_edit_round_trip(control: tuple[GatewayProcess, ControlClient], tmp_path: Path) -> None:
    gateway, client = control
    document = client.command(c.GetConfig())
    assert isinstance(document, c.CommandOk) and document.data.path.endswith("gateway.yaml")
    assert any(
        o.key_path == "devices[0].poll_interval_s" and o.origin.endswith(":10")
        for o in document.data.effective
    )
    text = document.data.text

    broken = client.command(
        c.ApplyConfig(text.replace("poll_interval_s: 0.2", "poll_interval_s: -1"), document.data.sha256)
    )
    assert isinstance(broken, c.CommandFailed) and broken.error.code is c.ErrorCode.INVALID_CONFIG
    assert any("devices[0].poll_interval_s" in line for line in broken.error.details)
    assert (tmp_path / "gateway.yaml").read_text() == text, "nothing applied"

    grown = text.replace(
        "data_dir: data", "      - {name: trim, address: 40104, type: int32}\ndata_dir: data"
    )
    stale = client.command(c.ApplyConfig(grown, "0" * 64))
    assert isinstance(stale, c.CommandFailed) and stale.error.code is c.ErrorCode.CONFLICT

    applied = client.command(c.ApplyConfig(grown, document.data.sha256))
    assert isinstance(applied, c.CommandOk) and applied.data.ok, applied
    assert "1 device(s) changed" in applied.data.message
    wait_until(
        lambda: (t := client.latest(c.TagSnapshot)) and "trim" in {x.name for x in t.tags},
        timeout=20,
        message="the new tag in the tag snapshot",
    )
    status = wait_until(
        lambda: (
            (g := client.latest(c.GatewayStatus))
            and g.last_reload
            and g.last_reload.source == "command"
            and g
        ),
        timeout=15,
        message="the reload in the status",
    )
    assert status.last_reload.ok
    assert gateway.terminate() == 0

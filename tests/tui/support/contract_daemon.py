"""A stand-in for the gateway daemon's control plane, on a REAL broker (mosquitto), for UI tests.

Why this exists: the UI's behaviour tests must run against the real daemon (`edge-gateway run`), but
the daemon's wiring is being written in parallel and does not run yet. Until it does, these tests
attach the UI to a real mosquitto on which this publisher speaks the control plane exactly as the
contract says: every message and response is built and encoded WITH ``gateway.control.contract``, and
commands arrive as real MQTT 5 requests (response topic + correlation data). Its small "plant" reacts
to commands (a write changes the tag's value, a failover changes the active server, an invalid
configuration is refused with every problem listed) so tests can see effects, not just replies.
When the daemon lands, the same tests gain a twin against it (see test_real_daemon.py).
"""

from __future__ import annotations

import hashlib
import struct
import threading
from dataclasses import replace
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.control import contract as c
from tests.support.waiting import wait_until
from tests.tui.support import sample

ORDERS = (c.ByteOrder.ABCD, c.ByteOrder.CDAB, c.ByteOrder.BADC, c.ByteOrder.DCBA)
_STRUCT = {
    c.ModbusType.FLOAT32: ">f",
    c.ModbusType.INT32: ">i",
    c.ModbusType.UINT32: ">I",
    c.ModbusType.INT16: ">h",
    c.ModbusType.UINT16: ">H",
}


def decode_registers(registers: list[int], data_type: c.ModbusType, order: c.ByteOrder) -> float | int:
    raw = b"".join(r.to_bytes(2, "big") for r in registers)
    if len(raw) == 4:
        a, b, cc, d = raw
        raw = {
            c.ByteOrder.ABCD: raw,
            c.ByteOrder.CDAB: bytes((cc, d, a, b)),
            c.ByteOrder.BADC: bytes((b, a, d, cc)),
            c.ByteOrder.DCBA: raw[::-1],
        }[order]
    elif order in (c.ByteOrder.BADC, c.ByteOrder.DCBA):
        raw = raw[::-1]
    value: float | int = struct.unpack(_STRUCT[data_type], raw)[0]
    return value


class ContractDaemon:
    """Publishes the sample plant on ``host:port`` and answers commands until :meth:`stop`."""

    def __init__(self, host: str, port: int, now_ms: int = sample.T0) -> None:
        self.host, self.port, self.now = host, port, now_ms
        self.tags = {s.device_id: {t.name: t for t in s.tags} for s in sample.tag_snapshots(now_ms)}
        self.devices = {d.device_id: d for d in sample.device_statuses(now_ms)}
        self.uplink = sample.uplink_status(now_ms)
        self.config_text = sample.CONFIG_TEXT
        self.registers = {40001: [0x41AC, 0x0000]}  # 21.5 as float32 ABCD
        self.requests: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="contract-daemon", protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.will_set(c.STATE_TOPIC, c.encode_message(sample.daemon_state(False)), qos=1, retain=True)
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: self._subscribed.set()

    # ---- life ---------------------------------------------------------------------------------

    def start(self) -> ContractDaemon:
        self.client.connect(self.host, self.port, keepalive=5)
        self.client.loop_start()
        wait_until(self.client.is_connected, message="contract daemon connected")
        self.client.subscribe(c.COMMAND_FILTER, qos=1)
        wait_until(self._subscribed.is_set, message="contract daemon subscribed")
        for topic, message in sample.retained_messages(self.now):
            current = self.devices[message.device_id] if isinstance(message, c.DeviceStatus) else message
            self.publish(topic, current, retain=True)
        self.publish(c.LOGS_TOPIC, sample.log_batch(self.now))
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def go_offline(self) -> None:
        """What a clean shutdown publishes: DaemonState(online=False), retained."""
        self.publish(c.STATE_TOPIC, sample.daemon_state(False), retain=True)

    def publish(self, topic: str, message: object, retain: bool = False) -> None:
        info = self.client.publish(topic, c.encode_message(message), qos=1, retain=retain)
        if threading.current_thread() is not self.client._thread:  # never block paho's own loop thread
            info.wait_for_publish(5)

    def emit_event(self, event: c.Event) -> None:
        self.publish(c.EVENTS_TOPIC, event)

    # ---- commands -----------------------------------------------------------------------------

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        props = msg.properties
        envelope = c.decode_request(msg.topic, msg.payload)
        request = envelope.request
        with self._lock:
            self.requests.append((request.COMMAND.value, request))
        response = self._answer(request)
        out = Properties(PacketTypes.PUBLISH)
        out.CorrelationData = props.CorrelationData
        self.client.publish(props.ResponseTopic, c.encode_response(response), qos=1, properties=out)

    def _fail(
        self, code: c.ErrorCode, message: str, hint: str | None = None, details: tuple[str, ...] = ()
    ) -> c.CommandFailed:
        return c.CommandFailed(c.CommandError(code, message, hint, details))

    def _answer(self, request: c.Request) -> c.Response:
        if isinstance(request, c.WriteTag):
            return self._write(request)
        if isinstance(request, c.FailoverNow):
            old = self.uplink.active_server
            new = next(s.name for s in self.uplink.servers if s.name != old)
            servers = tuple(
                replace(
                    s,
                    active=s.name == new,
                    state=c.ServerState.CONNECTED if s.name == new else c.ServerState.IDLE,
                )
                for s in self.uplink.servers
            )
            self.uplink = replace(
                self.uplink, servers=servers, active_server=new, failover_count=self.uplink.failover_count + 1
            )
            self.publish(c.UPLINK_TOPIC, self.uplink, retain=True)
            return c.CommandOk(c.FailoverResult(old, new))
        if isinstance(request, c.Rebirth):
            return c.CommandOk(c.RebirthResult(self.uplink.bd_seq, tuple(self.devices)))
        if isinstance(request, c.SetDeviceEnabled):
            dev = self.devices.get(request.device_id)
            if dev is None:
                return self._fail(c.ErrorCode.NOT_FOUND, f"no device {request.device_id!r}")
            changed = dev.enabled != request.enabled
            health = dev.health if request.enabled else c.DeviceHealth.DISABLED
            self.devices[dev.device_id] = replace(dev, enabled=request.enabled, health=health)
            self.publish(c.device_status_topic(dev.device_id), self.devices[dev.device_id], retain=True)
            return c.CommandOk(c.DeviceEnabledResult(dev.device_id, request.enabled, changed))
        if isinstance(request, c.ModbusRead):
            regs = self.registers.get(request.address)
            if regs is None:
                return self._fail(
                    c.ErrorCode.DEVICE_ERROR,
                    f"exception 2 (illegal data address) at {request.table.value} {request.address}",
                    "check the address",
                )
            decoded = tuple(c.DecodedValue(o, decode_registers(regs, request.data_type, o)) for o in ORDERS)
            value = decode_registers(regs, request.data_type, request.byte_order)
            return c.CommandOk(c.ModbusReadResult(tuple(regs), value, decoded, 3.2))
        if isinstance(request, c.BrowseOpcUa):
            return c.CommandOk(self._browse(request.node_id))
        if isinstance(request, c.GetConfig):
            return c.CommandOk(
                c.ConfigDocument(
                    "/etc/edge-gateway/edge-gateway.yaml",
                    self.config_text,
                    self._sha(),
                    (c.ConfigOrigin("identity.group_id", "Demo", "file:2"),),
                )
            )
        if isinstance(request, c.ValidateConfig):
            problems = self._problems(request.text)
            return c.CommandOk(c.ConfigValidation(not problems, tuple(problems)))
        if isinstance(request, c.ApplyConfig):
            problems = self._problems(request.text)
            if problems:
                return self._fail(
                    c.ErrorCode.INVALID_CONFIG,
                    f"{len(problems)} problems; nothing applied",
                    None,
                    tuple(f"{p.location}: {p.key_path}: {p.message}" for p in problems),
                )
            if request.base_sha256 is not None and request.base_sha256 != self._sha():
                return self._fail(c.ErrorCode.CONFLICT, "the file changed since get_config", "fetch it again")
            self.config_text = request.text
            return c.CommandOk(c.ReloadResult(self.now, True, "command", "applied"))
        if isinstance(request, c.ReloadConfig):
            return c.CommandOk(c.ReloadResult(self.now, True, "command", "applied: nothing changed"))
        if isinstance(request, c.FetchLogs):
            return c.CommandOk(sample.log_batch(self.now))
        return self._fail(c.ErrorCode.UNKNOWN_COMMAND, f"unknown command {request.COMMAND.value}")

    def _write(self, request: c.WriteTag) -> c.Response:
        tag = self.tags.get(request.device_id, {}).get(request.tag)
        if tag is None:
            return self._fail(c.ErrorCode.NOT_FOUND, f"no tag {request.device_id}/{request.tag}")
        if not tag.writable:
            return self._fail(
                c.ErrorCode.NOT_WRITABLE,
                f"tag {request.device_id}/{request.tag} is read-only",
                "mark it `writable: true` in the configuration",
            )
        self.now += 1000
        new = replace(tag, value=request.value, timestamp_ms=self.now)
        self.tags[request.device_id][request.tag] = new
        self.publish(
            c.tag_changes_topic(request.device_id), c.TagChanges(self.now, request.device_id, (new,))
        )
        return c.CommandOk(c.WriteResult(request.device_id, request.tag, tag.value, request.value, self.now))

    def _browse(self, node_id: str) -> c.BrowseResult:
        tree = {
            "i=85": (c.BrowseNode("ns=2;s=Line1", "2:Line1", "Line1", "Object", has_children=True),),
            "ns=2;s=Line1": (
                c.BrowseNode(
                    "ns=2;s=Line1.Temperature", "2:Temperature", "Temperature", "Variable", "Double", 21.5
                ),
                c.BrowseNode(
                    "ns=2;s=Line1.SpeedSetpoint",
                    "2:SpeedSetpoint",
                    "SpeedSetpoint",
                    "Variable",
                    "Int32",
                    1200,
                    writable=True,
                ),
            ),
        }
        return c.BrowseResult(node_id, tree.get(node_id, ()))

    def _sha(self) -> str:
        return hashlib.sha256(self.config_text.encode()).hexdigest()

    def _problems(self, text: str) -> list[c.ConfigProblem]:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"config:{mark.line + 1}" if mark is not None else "config"
            return [c.ConfigProblem(where, "$", f"not YAML: {getattr(exc, 'problem', exc)}")]
        problems = []
        if not isinstance(doc, dict):
            return [c.ConfigProblem("config", "$", "expected a mapping at the top")]
        for i, dev in enumerate(doc.get("devices") or []):
            path = f"devices[{i}]"
            if not isinstance(dev, dict) or "id" not in dev:
                problems.append(c.ConfigProblem(path, path, "missing id"))
                continue
            if dev.get("protocol") not in ("modbus_tcp", "modbus_rtu", "opcua"):
                problems.append(
                    c.ConfigProblem(
                        path,
                        f"{path}.protocol",
                        f"found {dev.get('protocol')!r}, expected modbus_tcp, modbus_rtu or opcua",
                    )
                )
            for j, tag in enumerate(dev.get("tags") or []):
                if not isinstance(tag.get("address", 0), int):
                    problems.append(
                        c.ConfigProblem(
                            f"{path}.tags[{j}]",
                            f"{path}.tags[{j}].address",
                            f"found {tag.get('address')!r}, expected an integer",
                        )
                    )
        return problems

"""End to end with real processes: Modbus simulator -> `edge-gateway run` -> mosquitto upstream ->
a Sparkplug host application that decodes every message and checks the session rules."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkplug import DataType, Metric, Payload, encode_payload
from tests.e2e.conftest import gateway_config
from tests.e2e.support import GatewayProcess, ModbusSimulatorProcess, SparkplugHost, check_sequence
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def _dcmd(name: str, datatype: DataType, value: object) -> bytes:
    metric = Metric(name=name, datatype=datatype, value=value, timestamp=int(time.time() * 1000))  # type: ignore[arg-type]
    return encode_payload(Payload(timestamp=int(time.time() * 1000), metrics=(metric,)))


def _read_holding(port: int, address: int) -> int:
    from pymodbus.client import AsyncModbusTcpClient

    async def read() -> int:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3)
        await client.connect()
        try:
            response = await client.read_holding_registers(address, count=1, device_id=1)
            return int(response.registers[0])
        finally:
            client.close()

    return asyncio.run(read())


@pytest.fixture
def running(
    tmp_path: Path, modbus_sim: ModbusSimulatorProcess, mosquitto: MosquittoProcess
) -> Iterator[tuple[GatewayProcess, SparkplugHost]]:
    host = SparkplugHost(mosquitto.port)
    gateway = GatewayProcess(
        tmp_path, gateway_config(tmp_path, modbus_port=modbus_sim.port, upstream_port=mosquitto.port)
    )
    gateway.wait_running()
    yield gateway, host
    gateway.kill()
    host.close()


def test_births_data_and_clean_stop(running: tuple[GatewayProcess, SparkplugHost]) -> None:
    gateway, host = running
    wait_until(lambda: host.of("DDATA", "skid"), timeout=20, message="DDATA of skid")
    [nbirth] = host.of("NBIRTH")
    names = {m.name for m in nbirth.payload.metrics} if nbirth.payload else set()
    assert {"bdSeq", "Node Control/Rebirth", "Gateway/Uptime", "Gateway/Active Server"} <= names
    dbirth = host.of("DBIRTH", "skid")[0]
    assert dbirth.payload is not None
    assert {m.name for m in dbirth.payload.metrics} >= {"temperature", "speed_setpoint", "motor_speed"}
    assert all(m.timestamp for m in dbirth.payload.metrics)

    started = time.monotonic()
    assert gateway.terminate() == 0
    assert time.monotonic() - started < 8, "SIGTERM must stop the gateway within a few seconds"
    wait_until(lambda: host.of("NDEATH"), timeout=10, message="NDEATH after SIGTERM")
    assert not host.errors
    check_sequence(host.messages)


def test_dcmd_writes_only_writable_tags_within_range(
    running: tuple[GatewayProcess, SparkplugHost], modbus_sim: ModbusSimulatorProcess
) -> None:
    gateway, host = running
    wait_until(lambda: host.of("DBIRTH", "skid"), timeout=20, message="DBIRTH of skid")
    topic = "spBv1.0/E2E/DCMD/gw1/skid"

    host.publish(topic, _dcmd("speed_setpoint", DataType.UInt16, 1234))
    wait_until(
        lambda: _read_holding(modbus_sim.port, 102) == 1234, timeout=10, message="the simulator holds 1234"
    )
    wait_until(
        lambda: 1234 in host.values("skid", "speed_setpoint"), timeout=10, message="DDATA reports 1234"
    )

    host.publish(topic, _dcmd("speed_setpoint", DataType.UInt16, 5000))  # above max 3000
    wait_until(
        lambda: "above the maximum 3000" in gateway.stderr(), timeout=10, message="the refusal in the log"
    )
    assert _read_holding(modbus_sim.port, 102) == 1234

    host.publish(topic, _dcmd("temperature", DataType.Float, 99.0))  # not writable
    wait_until(
        lambda: "metric 'temperature' is read-only" in gateway.stderr(),
        timeout=10,
        message="the read-only write refused in the log",
    )
    assert gateway.terminate() == 0
    check_sequence(host.messages)


def test_ncmd_rebirth_restarts_seq_with_same_bdseq(running: tuple[GatewayProcess, SparkplugHost]) -> None:
    gateway, host = running
    wait_until(lambda: host.of("DDATA", "skid"), timeout=20, message="DDATA of skid")
    first = host.of("NBIRTH")[0]
    host.publish("spBv1.0/E2E/NCMD/gw1", _dcmd("Node Control/Rebirth", DataType.Boolean, True))
    wait_until(lambda: len(host.of("NBIRTH")) >= 2, timeout=15, message="a second NBIRTH")
    second = host.of("NBIRTH")[1]
    assert host.metric(second, "bdSeq") == host.metric(first, "bdSeq")
    assert gateway.terminate() == 0
    check_sequence(host.messages)


def test_sighup_reload_applies_device_changes_and_keeps_the_last_good(
    tmp_path: Path, running: tuple[GatewayProcess, SparkplugHost], modbus_sim: ModbusSimulatorProcess
) -> None:
    gateway, host = running
    wait_until(lambda: host.of("DDATA", "skid"), timeout=20, message="DDATA of skid")
    config = tmp_path / "gateway.yaml"
    text = config.read_text()
    nbirths = len(host.of("NBIRTH"))

    config.write_text(
        text.replace("data_dir: data", "      - {name: trim, address: 40104, type: int32}\ndata_dir: data")
    )
    gateway.proc.send_signal(signal.SIGHUP)
    wait_until(
        lambda: any(
            any(m.name == "trim" for m in (b.payload.metrics if b.payload else ()))
            for b in host.of("DBIRTH", "skid")
        ),
        timeout=20,
        message="a DBIRTH with the new tag",
    )
    assert host.of("DDEATH", "skid"), "the changed device dies before its new birth"
    assert len(host.of("NBIRTH")) == nbirths, "the upstream session was kept"

    config.write_text("identity: [not, a, mapping\n")
    gateway.proc.send_signal(signal.SIGHUP)
    wait_until(
        lambda: "reload refused, keeping the running configuration" in gateway.stderr(),
        timeout=10,
        message="the refused reload in the log",
    )
    count = len(host.of("DDATA", "skid"))
    wait_until(lambda: len(host.of("DDATA", "skid")) > count + 2, timeout=10, message="data keeps flowing")
    assert gateway.terminate() == 0
    check_sequence(host.messages)


def test_invalid_configuration_refuses_to_start(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text(
        "identity: {group_id: G, edge_node_id: E}\n"
        "broker:\n  listeners: [{port: 70000}]\n  allow_anonymous: true\n"
    )
    gateway = GatewayProcess(tmp_path, config)
    assert gateway.proc.wait(30) == 2
    gateway.kill()
    assert "broken.yaml:3: broker.listeners[0].port: 70000 is out of range" in gateway.stderr()
    assert not any("broker listening" in line for line in gateway.lines), "nothing may start"


def test_ncmd_scan_rate_and_reboot(running: tuple[GatewayProcess, SparkplugHost]) -> None:
    gateway, host = running
    wait_until(lambda: host.of("DDATA", "skid"), timeout=20, message="DDATA of skid")
    nbirth = host.of("NBIRTH")[0]
    assert host.metric(nbirth, "Node Control/Scan Rate") == 200  # the devices' poll interval, in ms
    host.publish("spBv1.0/E2E/NCMD/gw1", _dcmd("Node Control/Scan Rate", DataType.Int64, 500))
    wait_until(
        lambda: any(_has(host, m, "Node Control/Scan Rate", 500) for m in host.of("NDATA")),
        timeout=10,
        message="the new scan rate reported in NDATA",
    )
    wait_until(lambda: "devices now poll every 500 ms" in gateway.stderr(), timeout=10, message="applied")

    births = len(host.of("NBIRTH"))
    host.publish("spBv1.0/E2E/NCMD/gw1", _dcmd("Node Control/Reboot", DataType.Boolean, True))
    wait_until(lambda: host.of("NDEATH"), timeout=15, message="NDEATH before the reboot")
    wait_until(lambda: len(host.of("NBIRTH")) > births, timeout=40, message="NBIRTH of the restarted process")
    first, again = host.of("NBIRTH")[0], host.of("NBIRTH")[-1]
    assert host.metric(again, "bdSeq") == (host.metric(first, "bdSeq") + 1) % 256
    assert gateway.terminate() == 0


def _has(host: SparkplugHost, message: object, name: str, value: object) -> bool:
    try:
        return bool(host.metric(message, name) == value)  # type: ignore[arg-type]
    except KeyError:
        return False

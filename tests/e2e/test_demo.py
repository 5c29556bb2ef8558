"""`edge-gateway run` without a file: the built-in demo publishes Sparkplug on its embedded broker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.support import GatewayProcess, Process, SparkplugHost, check_sequence
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def test_demo_shows_live_sparkplug_data(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, None, ["--port", "0", "--data-dir", str(tmp_path / "demo")])
    try:
        gateway.wait_running()
        assert any("demo: simulated Modbus device on 127.0.0.1:" in line for line in gateway.lines)
        assert any("demo: simulated OPC UA server at opc.tcp://127.0.0.1:" in line for line in gateway.lines)
        host = SparkplugHost(gateway.broker_port)
        try:
            # The host attached after the first births: ask for a rebirth as a real host would.
            from sparkplug import DataType, Metric, Payload, encode_payload

            rebirth = Payload(
                timestamp=1,
                metrics=(Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=True),),
            )
            host.publish("spBv1.0/Demo/NCMD/demo-gateway", encode_payload(rebirth))
            # (the rebirth may be debounced a few seconds after the start-up births)
            wait_until(
                lambda: host.of("NBIRTH") and host.of("DBIRTH", "skid-1"), timeout=20, message="the births"
            )
            wait_until(lambda: host.of("DDATA", "skid-1"), timeout=20, message="DDATA of the Modbus device")
            wait_until(lambda: host.of("DDATA", "line-1"), timeout=20, message="DDATA of the OPC UA device")
            _browse_through_the_control_plane(gateway.broker_port)
            birth = host.of("DBIRTH", "line-1")[-1].payload
            assert birth is not None and "Line1/Temperature" in {m.name for m in birth.metrics}
            assert not host.errors
            check_sequence(host.messages)
        finally:
            host.close()
        assert gateway.terminate() == 0
    finally:
        gateway.kill()


def test_demo_command_runs_the_daemon_and_stops_it(tmp_path: Path) -> None:
    demo = Process(["demo", "--no-ui", "--port", "0", "--data-dir", str(tmp_path / "demo")], tmp_path, "demo")
    try:
        match = demo.wait_line(r"edge-gateway tui --port (\d+)", timeout=60)
        host = SparkplugHost(int(match.group(1)))
        try:
            wait_until(lambda: host.of("DDATA"), timeout=20, message="Sparkplug data from the demo daemon")
        finally:
            host.close()
        daemon_pid = int(demo.wait_line(r"demo daemon running \(pid (\d+)\)").group(1))
        assert demo.terminate() == 0
        wait_until(
            lambda: not _alive(daemon_pid), timeout=15, message="the demo daemon to stop with the command"
        )
    finally:
        demo.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as stopped
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def _browse_through_the_control_plane(port: int) -> None:
    from gateway.control import contract as c
    from tests.e2e.test_control_plane import ControlClient

    client = ControlClient(port)
    try:
        top = client.command(c.BrowseOpcUa(device_id="line-1"))
        assert isinstance(top, c.CommandOk), top
        names = {node.display_name for node in top.data.children}
        assert "Server" in names, names
        probe = client.command(c.ModbusRead(address=0, data_type=c.ModbusType.FLOAT32, device_id="skid-1"))
        assert isinstance(probe, c.CommandOk) and len(probe.data.registers) == 2
    finally:
        client.close()

"""``edge-gateway simulate``: the bound port on stdout as JSON, clear errors for bad options."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from drivers import Quality
from drivers.modbus import ModbusDevice, ModbusDriver, TcpLink
from drivers.simulators import default_points
from tests.drivers.support import Collector

CLI = [sys.executable, "-m", "gateway.cli", "simulate"]


@pytest.fixture
def modbus_process() -> Iterator[tuple[subprocess.Popen[str], dict[str, object], list[dict[str, object]]]]:
    proc = subprocess.Popen(
        [*CLI, "modbus", "--port", "0", "--describe"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    header = json.loads(proc.stdout.readline())
    tags = [json.loads(proc.stdout.readline()) for _ in default_points()]
    yield proc, header, tags
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)  # reaps the process and closes its pipes


async def test_modbus_simulator_process_serves_its_described_tags(
    modbus_process: tuple[subprocess.Popen[str], dict[str, object], list[dict[str, object]]],
) -> None:
    proc, header, tags = modbus_process
    assert header["simulator"] == "modbus" and isinstance(header["port"], int) and header["port"] > 0
    assert {t["name"] for t in tags} >= {"temperature", "batch_name", "temperature_setpoint", "valve_open"}
    device = ModbusDevice(
        "cli",
        TcpLink("127.0.0.1", int(str(header["port"]))),
        tags=tuple(p.tag for p in default_points()),
        poll_groups={"default": 0.1},
    )
    async with Collector(ModbusDriver("m", [device])) as c:
        await c.wait_quality("temperature", Quality.GOOD, timeout=10)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["modbus", "--port", "70000"], "outside 0..65535"),
        (["opcua", "--security", "sign"], "needs --cert-dir"),
        (["opcua", "--security", "tls"], "unknown endpoint kind"),
        (["opcua", "--user", "nopassword"], "NAME:PASSWORD"),
        (["modbus", "--update-interval", "0"], "--update-interval"),
    ],
)
def test_bad_options_are_clear_errors(args: list[str], message: str) -> None:
    result = subprocess.run([*CLI, *args], check=False, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*CLI, "modbus", "--port", str(port)], check=False, capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 1
    assert (
        "cannot listen on" in result.stderr and "hint:" in result.stderr and "Traceback" not in result.stderr
    )

"""Fixtures for end-to-end tests: a Modbus simulator process and a gateway configuration file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import ModbusSimulatorProcess


@pytest.fixture
def modbus_sim(tmp_path: Path) -> Iterator[ModbusSimulatorProcess]:
    sim = ModbusSimulatorProcess(tmp_path)
    yield sim
    sim.kill()


def gateway_config(
    tmp_path: Path,
    *,
    modbus_port: int,
    upstream_port: int | None = None,
    extra_tags: str = "",
    broker_extra: str = "",
    name: str = "gateway.yaml",
) -> Path:
    """A configuration: embedded broker on a free port, the simulator's device, optional upstream."""
    upstream = ""
    if upstream_port is not None:
        server = f"{{name: up, host: 127.0.0.1, port: {upstream_port}, keepalive_s: 5}}"
        upstream = f"upstream:\n  servers:\n    - {server}\n"
    text = f"""\
identity: {{group_id: E2E, edge_node_id: gw1}}
broker:
  listeners: [{{host: 127.0.0.1, port: 0}}]
  allow_anonymous: true
{broker_extra}{upstream}devices:
  - id: skid
    protocol: modbus_tcp
    host: 127.0.0.1
    port: {modbus_port}
    poll_interval_s: 0.2
    tags:
      - {{name: temperature, address: 40001, type: float32}}
      - {{name: speed_setpoint, address: 40103, type: uint16, writable: true, min: 0, max: 3000}}
      - {{name: motor_speed, address: 40006, type: int16}}
{extra_tags}data_dir: data
"""
    path = tmp_path / name
    path.write_text(text)
    return path

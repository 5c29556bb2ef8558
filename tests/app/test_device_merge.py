"""A device whose poll spans several Modbus blocks hands the edge node one batch per poll, not one per
block (gateway/app/sample_merger.py), against the real Modbus simulator over TCP on loopback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from drivers.simulators.modbus_sim import ModbusSimulator
from gateway.app.devices import DeviceHost
from gateway.config.loader import load_config_text
from gateway.control import contract as c
from sparkplug import MetricSpec, Sample
from tests.support.waiting import async_wait_until

CONFIG = """\
identity: {{group_id: G, edge_node_id: E}}
broker:
  listeners: [{{host: 127.0.0.1, port: 0}}]
  allow_anonymous: true
devices:
  - id: plc
    protocol: modbus_tcp
    host: 127.0.0.1
    port: {port}
    poll_interval_s: 0.2
    tags:
      - {{name: low, address: '40001', type: int16}}
      - {{name: high, address: '40401', type: int16}}
"""


class Sink:
    """Records what the device hands over (the daemon's side of DeviceSink)."""

    def __init__(self) -> None:
        self.online: list[tuple[str, ...]] = []
        self.batches: list[tuple[str, ...]] = []
        self.changed: list[str] = []

    def device_online(
        self, device_id: str, metrics: tuple[MetricSpec, ...], samples: tuple[Sample, ...]
    ) -> None:
        self.online.append(tuple(s.name for s in samples))

    def device_offline(self, device_id: str) -> None:
        pass  # not looked at here

    def samples(self, device_id: str, samples: tuple[Sample, ...]) -> None:
        self.batches.append(tuple(s.name for s in samples))

    def tags_changed(self, device_id: str, names: Sequence[str]) -> None:
        self.changed.extend(names)

    def wants_tag_changes(self, device_id: str) -> bool:
        return True

    def device_event(self, device_id: str, severity: c.Severity, kind: str, message: str) -> None:
        pass  # not looked at here


@pytest.mark.timeout(30)
async def test_the_blocks_of_one_poll_reach_the_edge_node_as_one_batch(tmp_path: Path) -> None:
    simulator = ModbusSimulator(port=0)
    await simulator.start()
    sink = Sink()
    config = load_config_text(CONFIG.format(port=simulator.port)).config
    host = DeviceHost(config.devices[0], sink, tmp_path)
    try:
        await host.start()
        await async_wait_until(
            lambda: len(sink.batches) >= 2, timeout=20, message="two polls after the birth"
        )
        assert sink.online and set(sink.online[0]) == {"low", "high"}, "born with both blocks' values"
        assert all(set(batch) == {"low", "high"} for batch in sink.batches), sink.batches
        assert host.tag_value("high") is not None and host.tag_value("high").quality is c.Quality.GOOD  # type: ignore[union-attr]
    finally:
        await host.stop()
        await simulator.stop()

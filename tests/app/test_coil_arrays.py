"""A run of coils configured as one tag (``length`` >= 2) reaches Sparkplug as a BooleanArray.

The configuration is loaded as a user writes it, the driver spec is built by the daemon's own
conversion, and the values come from the real Modbus simulator over TCP on loopback.
"""

from __future__ import annotations

import asyncio

import pytest

from drivers import Quality, Value
from drivers.modbus import ModbusDriver
from drivers.simulators.modbus_sim import ModbusSimulator
from gateway.app import convert
from gateway.config.errors import ConfigError
from gateway.config.loader import load_config_text
from sparkplug import DataType, Metric, Payload, decode_payload, encode_payload

BASE = """\
identity: {{group_id: G, edge_node_id: E}}
broker:
  listeners: [{{host: 127.0.0.1, port: 0}}]
  allow_anonymous: true
devices:
  - id: plc
    protocol: modbus_tcp
    host: 127.0.0.1
    port: {port}
    tags:
{tags}
"""


async def first_good_value(driver: ModbusDriver, tag: str) -> Value:
    async for batch in driver.samples():
        for sample in batch:
            if sample.tag == tag and sample.quality is Quality.GOOD:
                return sample.value
    raise AssertionError("the driver stopped before reading the tag")


def config_text(tags: str, port: int = 502) -> str:
    return BASE.format(port=port, tags=tags)


def test_length_on_a_number_or_too_many_coils_is_refused() -> None:
    text = config_text(
        "      - {name: speed, address: '40001', type: int16, length: 3}\n"
        "      - {name: many, address: '00001', type: bool, length: 3000}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    messages = {problem.key_path: problem.message for problem in caught.value.problems}
    assert "only for strings and coil/discrete-input arrays" in messages["devices[0].tags[0].length"]
    assert "more than the 1968" in messages["devices[0].tags[1].length"]


@pytest.mark.timeout(30)
async def test_a_coil_run_is_read_written_and_published_as_a_boolean_array() -> None:
    async with ModbusSimulator(update_interval=3600) as simulator:
        simulator.set_value("valve_open", True)
        loaded = load_config_text(
            config_text(
                "      - {name: coils, address: '00001', type: bool, length: 2, writable: true}\n",
                simulator.port,
            )
        )
        device = loaded.config.devices[0]
        [spec] = convert.modbus_metrics(device)
        assert spec.datatype is DataType.BooleanArray

        driver = ModbusDriver("plc", [convert.modbus_device(device)])
        await driver.start()
        try:
            first = await asyncio.wait_for(first_good_value(driver, "coils"), timeout=10)
            assert first == [simulator.value("pump_run"), True]
            result = await driver.write("coils", [True, False])
            assert result.ok, result
            assert simulator.value("valve_open") is False
        finally:
            await driver.stop()

        metric = Metric(name="coils", datatype=spec.datatype, value=tuple(first), timestamp=1)
        decoded = decode_payload(encode_payload(Payload(timestamp=1, metrics=(metric,), seq=0)))
        assert decoded.metrics[0].value == tuple(first)

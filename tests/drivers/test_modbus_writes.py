"""Coil arrays (read with FC01, written with FC15) and register bits written with Mask Write Register
(FC22) or read-modify-write, against the pymodbus simulator and the scripted fake device."""

from __future__ import annotations

import pytest

from drivers import DriverConfigError, ErrorKind, Quality, WriteStatus
from drivers.modbus import Area, BitWrite, DataType, ModbusDevice, ModbusDriver, ModbusTag, TcpLink
from drivers.simulators import ModbusSimulator
from tests.drivers.conftest import FakeFactory
from tests.drivers.support import Collector

HR = Area.HOLDING_REGISTER
VALVES = ModbusTag("valves", Area.COIL, 16, DataType.BOOL, length=5, writable=True, read_back=True)


def bit_tag(bit: int = 3, *, address: int = 120) -> ModbusTag:
    return ModbusTag(f"bit{bit}", HR, address, DataType.BOOL, bit=bit, writable=True)


def word_tag(address: int = 120) -> ModbusTag:
    return ModbusTag("word", HR, address, DataType.UINT16, writable=True)


def device(port: int, *tags: ModbusTag, bit_write: BitWrite = BitWrite.AUTO) -> ModbusDevice:
    link = TcpLink("127.0.0.1", port)
    return ModbusDevice("plc", link, tags=tags, poll_groups={"default": 0.1}, bit_write=bit_write)


async def test_coil_array_is_written_with_fc15_and_read_as_a_list(modbus_sim: ModbusSimulator) -> None:
    driver = ModbusDriver("m", [device(modbus_sim.port, VALVES)])
    result = await driver.write("valves", [True, False, True, True, False])
    assert result.status is WriteStatus.OK, result
    assert result.value == [True, False, True, True, False]  # the read-back (FC01) as a list
    assert modbus_sim.function_codes.get(15) and not modbus_sim.function_codes.get(5)
    assert modbus_sim._bits[Area.COIL][16:21] == [True, False, True, True, False]
    async with Collector(driver) as c:
        sample = await c.wait_quality("valves", Quality.GOOD)
        assert sample.value == [True, False, True, True, False]


async def test_coil_array_bad_values_are_rejected_before_io(modbus_sim: ModbusSimulator) -> None:
    driver = ModbusDriver("m", [device(modbus_sim.port, VALVES)])
    before = modbus_sim.requests
    for bad in ([True] * 4, [True, False, 2, True, False], True, "10110"):
        result = await driver.write("valves", bad)
        assert result.status is WriteStatus.REJECTED and "coil array" in (result.reason or ""), result
    assert modbus_sim.requests == before
    await driver.stop()


def test_coil_array_longer_than_one_fc15_write_is_a_config_error() -> None:
    tag = ModbusTag("many", Area.COIL, 0, DataType.BOOL, length=1969, writable=True)
    with pytest.raises(DriverConfigError) as info:
        ModbusDriver("m", [ModbusDevice("plc", TcpLink("127.0.0.1", 1), tags=(tag,))])
    assert any("1968" in p for p in info.value.problems), info.value.problems


async def test_register_bit_uses_mask_write_and_keeps_other_bits(modbus_sim: ModbusSimulator) -> None:
    driver = ModbusDriver("m", [device(modbus_sim.port, bit_tag(3), bit_tag(15), word_tag())])
    assert (await driver.write("word", 0xA001)).ok
    fc6 = modbus_sim.function_codes.get(6, 0)
    assert (await driver.write("bit3", True)).ok
    assert modbus_sim._regs[HR][120] == 0xA009
    assert (await driver.write("bit15", False)).ok
    assert modbus_sim._regs[HR][120] == 0x2009
    assert modbus_sim.function_codes.get(22) and modbus_sim.function_codes.get(6, 0) == fc6
    assert driver._runners[0].mask_write is True
    await driver.stop()


async def test_register_bit_read_modify_write_when_configured(modbus_sim: ModbusSimulator) -> None:
    spec = device(modbus_sim.port, bit_tag(3), word_tag(), bit_write=BitWrite.READ_MODIFY_WRITE)
    driver = ModbusDriver("m", [spec])
    assert (await driver.write("word", 0xA001)).ok
    assert (await driver.write("bit3", True)).ok
    assert modbus_sim._regs[HR][120] == 0xA009
    assert not modbus_sim.function_codes.get(22)
    await driver.stop()


async def test_device_without_fc22_falls_back_to_read_modify_write_once(
    fake_modbus_device: FakeFactory,
) -> None:
    fake = await fake_modbus_device(fixed={120: 0xA001})
    driver = ModbusDriver("m", [device(fake.port, bit_tag(3), bit_tag(0))])
    assert (await driver.write("bit3", True)).ok
    assert fake.fixed[120] == 0xA009
    assert fake.refused == [22]  # tried once, exception 01
    assert (await driver.write("bit0", False)).ok
    assert fake.fixed[120] == 0xA008
    assert fake.refused == [22]  # remembered: not tried again
    assert [w[0] for w in fake.writes] == [6, 6]
    assert any("FC22" in note for note in driver.health().devices[0].notes)
    await driver.stop()


async def test_device_with_fc22(fake_modbus_device: FakeFactory) -> None:
    fake = await fake_modbus_device(fixed={120: 0xA001}, mask_write=True)
    driver = ModbusDriver("m", [device(fake.port, bit_tag(3))])
    assert (await driver.write("bit3", True)).ok
    assert fake.fixed[120] == 0xA009
    assert fake.writes == [(22, 120, [0xFFF7, 0x0008])]
    await driver.stop()


async def test_mask_only_device_without_fc22_fails_the_write(fake_modbus_device: FakeFactory) -> None:
    fake = await fake_modbus_device(fixed={120: 0xA001})
    driver = ModbusDriver("m", [device(fake.port, bit_tag(3), bit_write=BitWrite.MASK)])
    result = await driver.write("bit3", True)
    assert result.status is WriteStatus.FAILED and result.error is not None
    assert result.error.kind is ErrorKind.EXCEPTION and result.error.code == 1
    assert fake.fixed[120] == 0xA001 and fake.writes == []  # nothing written
    await driver.stop()

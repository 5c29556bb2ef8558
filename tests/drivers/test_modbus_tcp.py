"""The Modbus driver against a real pymodbus server (our simulator) on loopback."""

from __future__ import annotations

import dataclasses

import pytest

from drivers import DriverState, Quality, WriteStatus
from drivers.modbus import Area, ByteOrder, DataType, ModbusDevice, ModbusDriver, ModbusTag, TcpLink
from drivers.simulators import ModbusSimulator
from tests.drivers.support import Collector
from tests.support.waiting import async_wait_until


def fast(sim: ModbusSimulator, **changes: object) -> ModbusDevice:
    return dataclasses.replace(sim.modbus_device("plc", poll_interval=0.05), **changes)  # type: ignore[arg-type]


async def test_reads_every_type_good_with_units(modbus_sim: ModbusSimulator) -> None:
    driver = ModbusDriver("m", [fast(modbus_sim)])
    async with Collector(driver) as c:
        await async_wait_until(lambda: len(c.latest) == len(modbus_sim.points), timeout=10)
        assert all(s.quality is Quality.GOOD for s in c.latest.values()), c.latest
        for point in modbus_sim.points:
            got = c.latest[point.tag.name]
            assert got.unit == point.tag.unit
            if point.signal is None:
                assert got.value == pytest.approx(point.initial)
        assert isinstance(c.latest["batch_name"].value, str) and c.latest["batch_name"].value
        assert isinstance(c.latest["running"].value, bool)
        assert 0.0 <= c.latest["level"].value <= 100.0  # type: ignore[operator]
        # values change over time (sine/counter): the driver reads fresh values, not a cache
        await c.wait_count("production_count", 3)
        first = c.of("clock_ms")[0].value
        await async_wait_until(lambda: c.latest["clock_ms"].value != first, timeout=5)
        health = driver.health()
        assert health.state is DriverState.RUNNING and health.errors == 0
        assert health.devices[0].latency_ms_avg is not None


async def test_one_request_per_planned_block(modbus_sim: ModbusSimulator) -> None:
    driver = ModbusDriver("m", [fast(modbus_sim)])
    runner = driver.runners[0]
    planned = len(runner.planners["default"].plan())
    assert planned == 5  # holding 0..27 and 100..104, coils, discrete inputs, input registers
    async with Collector(driver):
        await async_wait_until(lambda: runner.cycles >= 5, timeout=10)
        assert runner.requests <= planned * (runner.cycles + 1)


async def test_writes_with_type_encoding_and_read_back(modbus_sim: ModbusSimulator) -> None:
    driver = ModbusDriver("m", [fast(modbus_sim)])
    async with Collector(driver) as c:
        result = await driver.write("temperature_setpoint", 42.25)
        assert result.status is WriteStatus.OK and result.value == pytest.approx(42.25)
        assert modbus_sim.value("temperature_setpoint") == pytest.approx(42.25)
        assert (await driver.write("speed_setpoint", 2500)).ok
        assert modbus_sim.value("speed_setpoint") == 2500
        assert (await driver.write("trim", -123456)).ok
        assert modbus_sim.value("trim") == -123456
        assert (await driver.write("valve_open", True)).ok
        assert modbus_sim.value("valve_open") is True
        await async_wait_until(
            lambda: c.latest.get("valve_open") and c.latest["valve_open"].value is True, timeout=5
        )


@pytest.mark.parametrize(
    ("tag", "value", "reason"),
    [
        ("nope", 1, "unknown tag"),
        ("temperature", 1.0, "not writable"),
        ("temperature_setpoint", 95.0, "maximum 90"),
        ("speed_setpoint", 70000, "70000 is above the tag's maximum 3000"),
        ("trim", 2**31, "outside the int32 range"),
        ("speed_setpoint", "fast", "number"),
        ("valve_open", 2, "bool"),
    ],
)
async def test_bad_writes_are_rejected_before_io(
    modbus_sim: ModbusSimulator, tag: str, value: object, reason: str
) -> None:
    driver = ModbusDriver("m", [fast(modbus_sim)])
    before = modbus_sim.requests
    result = await driver.write(tag, value)  # type: ignore[arg-type]
    assert result.status is WriteStatus.REJECTED and result.reason and reason in result.reason
    assert modbus_sim.requests == before
    await driver.stop()


async def test_bit_in_register_write_keeps_other_bits(modbus_sim: ModbusSimulator) -> None:
    status = ModbusTag(
        "status_bit3", Area.HOLDING_REGISTER, 16, DataType.BOOL, bit=3, writable=True, read_back=True
    )
    device = ModbusDevice("plc", TcpLink("127.0.0.1", modbus_sim.port), tags=(status,))
    driver = ModbusDriver("m", [device])
    modbus_sim.set_value("running", True)  # bit 0 of the same register
    result = await driver.write("status_bit3", True)
    assert result.ok, result
    # the update task may toggle bit 0 meanwhile; bit 3 must be set and bit 0 untouched by us
    assert modbus_sim._regs[Area.HOLDING_REGISTER][16] & 0b1000
    await driver.stop()


async def test_byte_order_per_device_and_per_tag_override(modbus_sim: ModbusSimulator) -> None:
    """The simulator stores ABCD; a device declared CDAB reads a word-swapped value unless the tag
    overrides the order back to ABCD."""
    modbus_sim.set_value("trim", 0x00010002)
    swapped = ModbusTag("trim_cdab", Area.HOLDING_REGISTER, 103, DataType.UINT32)
    straight = ModbusTag("trim_abcd", Area.HOLDING_REGISTER, 103, DataType.UINT32, byte_order=ByteOrder.ABCD)
    device = ModbusDevice(
        "plc",
        TcpLink("127.0.0.1", modbus_sim.port),
        byte_order=ByteOrder.CDAB,
        tags=(swapped, straight),
        poll_groups={"default": 0.05},
    )
    async with Collector(ModbusDriver("m", [device])) as c:
        await async_wait_until(lambda: len(c.latest) == 2, timeout=5)
        assert c.latest["trim_cdab"].value == 0x00020001
        assert c.latest["trim_abcd"].value == 0x00010002


async def test_poll_groups_have_their_own_rates(modbus_sim: ModbusSimulator) -> None:
    fast_tag = ModbusTag("fast", Area.HOLDING_REGISTER, 6, DataType.UINT32, poll_group="fast")
    slow_tag = ModbusTag("slow", Area.HOLDING_REGISTER, 0, DataType.FLOAT32, poll_group="slow")
    device = ModbusDevice(
        "plc",
        TcpLink("127.0.0.1", modbus_sim.port),
        tags=(fast_tag, slow_tag),
        poll_groups={"fast": 0.05, "slow": 1.0},
    )
    async with Collector(ModbusDriver("m", [device])) as c:
        await c.wait_count("fast", 10)
        assert len(c.of("slow")) <= 2


async def test_device_down_marks_tags_bad_then_recovers() -> None:
    sim = ModbusSimulator(update_interval=0.05)
    await sim.start()
    port = sim.port
    device = dataclasses.replace(
        sim.modbus_device("plc", poll_interval=0.05),
        timeout=0.3,
        retries=0,
        backoff_initial=0.2,
        backoff_max=0.5,
    )
    driver = ModbusDriver("m", [device], min_reconnect_interval=0.1)
    async with Collector(driver) as c:
        await c.wait_quality("temperature", Quality.GOOD)
        await sim.stop()
        bad = await c.wait_quality("temperature", Quality.BAD)
        assert bad.value is None and bad.error is not None
        assert driver.health().devices[0].state is DriverState.FAILED
        sim2 = ModbusSimulator(port=port, update_interval=0.05)
        await sim2.start()
        try:
            await c.wait_quality("temperature", Quality.GOOD, timeout=10)
            assert driver.health().devices[0].reconnects >= 2
        finally:
            await sim2.stop()

"""Modbus RTU: a pymodbus RTU server behind a socat pty pair (T52), and RTU framing over TCP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from drivers import ErrorKind, Quality, Sample, WriteStatus
from drivers.modbus import Area, DataType, ModbusDevice, ModbusDriver, ModbusTag, RtuOverTcpLink, SerialLink
from tests.drivers.conftest import SocatPair
from tests.drivers.support import Collector, interleaving_violations
from tests.support.waiting import async_wait_until

HR = Area.HOLDING_REGISTER
BAUD = 115200


def unit_device(unit: int) -> Any:
    """A slave whose holding register a holds unit * 1000 + a, so a mix-up between slaves shows."""
    from pymodbus.simulator import DataType as SimType
    from pymodbus.simulator import SimData, SimDevice

    empty_bits = [SimData(0, count=16, values=False, datatype=SimType.BITS)]
    registers = [SimData(0, values=[unit * 1000 + a for a in range(20)], datatype=SimType.REGISTERS)]
    return SimDevice(unit, simdata=(empty_bits, empty_bits, registers, registers))


@contextlib.asynccontextmanager
async def rtu_server(port: str, units: tuple[int, ...], dead: tuple[int, ...] = ()) -> AsyncIterator[Any]:
    """Slaves ``units`` on one bus; those in ``dead`` receive but never answer (their replies are
    swallowed at the server's packet hook: a slave that died on a shared RS-485 line)."""
    from pymodbus import FramerType
    from pymodbus.server import ModbusSerialServer

    def drop_dead(sending: bool, data: bytes) -> bytes:
        return b"" if sending and data and data[0] in dead else data

    server = ModbusSerialServer(
        [unit_device(u) for u in units],
        framer=FramerType.RTU,
        port=port,
        baudrate=BAUD,
        trace_packet=drop_dead,
    )
    await server.serve_forever(background=True)
    try:
        yield server
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus: untyped


def slave(unit: int, link: SerialLink | RtuOverTcpLink, **kw: object) -> ModbusDevice:
    options: dict[str, object] = {
        "timeout": 0.2,
        "retries": 0,
        "poll_groups": {"default": 0.1},
        "backoff_initial": 4.0,
        "backoff_max": 8.0,
    }
    options.update(kw)
    tags = (
        ModbusTag(f"s{unit}_r3", HR, 3, DataType.UINT16),
        ModbusTag(f"s{unit}_r4", HR, 4, DataType.UINT16, writable=True, read_back=True),
    )
    return ModbusDevice(f"slave{unit}", link, unit_id=unit, tags=tags, **options)  # type: ignore[arg-type]


@pytest.mark.timeout(60)
async def test_t52a_dead_slave_does_not_starve_the_bus(rtu_bus: SocatPair) -> None:
    """A slave that never answers costs each of its attempts a timeout on the shared bus, and the
    live slaves' polls go between its attempts. The dead slave retries at once (50 ms backoff), so
    the bus is contested the whole time; between any two of its timeouts each live slave was read
    (the bus arbiter serves requests first come, first served). Behaviour, not speed: no rate is
    asserted (benchmarks measure speed), and the live slaves get a generous timeout so a loaded
    machine cannot make them time out."""
    link = SerialLink(str(rtu_bus.gateway_side), baudrate=BAUD, quiet_after_timeout=0.1)
    dead_slave = slave(2, link, timeout=0.2, backoff_initial=0.05, backoff_max=0.05)
    driver = ModbusDriver("rtu", [slave(1, link, timeout=3.0), dead_slave, slave(3, link, timeout=3.0)])
    async with rtu_server(str(rtu_bus.device_side), (1, 2, 3), dead=(2,)), Collector(driver) as c:
        good1 = await c.wait_quality("s1_r3", Quality.GOOD, timeout=10)
        assert good1.value == 1003
        assert (await c.wait_quality("s3_r3", Quality.GOOD)).value == 3003  # no mix-up between slaves
        await c.wait_count("s2_r3", 6, quality=Quality.BAD, timeout=30)  # six timed-out attempts
        dead = c.latest["s2_r3"]
        assert dead.error is not None and dead.error.kind is ErrorKind.TIMEOUT
        assert driver.runners[1].timeouts >= 6
        assert interleaving_violations(c.samples, "s2_r3", ("s1_r3", "s3_r3")) == []
        # the live slaves never timed out and never showed another slave's values
        for tag, value in (("s1_r3", 1003), ("s3_r3", 3003)):
            assert all(s.quality is Quality.GOOD and s.value == value for s in c.of(tag)), c.of(tag)
        assert driver.runners[0].timeouts == 0 and driver.runners[2].timeouts == 0
        assert len(driver._links) == 1  # one arbiter for the bus


def test_interleaving_check_fails_when_a_live_slave_is_starved() -> None:
    """The check above can fail: a stream where slave 3 is not read between two timeouts."""
    bad = Sample("s2_r3", None, Quality.BAD, 0)
    one, three = Sample("s1_r3", 1003, Quality.GOOD, 0), Sample("s3_r3", 3003, Quality.GOOD, 0)
    assert interleaving_violations([bad, one, three, bad, three, one, bad], "s2_r3", ("s1_r3", "s3_r3")) == []
    problems = interleaving_violations([bad, one, three, bad, one, bad], "s2_r3", ("s1_r3", "s3_r3"))
    assert problems == ["between timeouts 1 and 2: only ['s1_r3'] read"]


@pytest.mark.timeout(60)
async def test_rtu_write_and_read_back(rtu_bus: SocatPair) -> None:
    link = SerialLink(str(rtu_bus.gateway_side), baudrate=BAUD)
    driver = ModbusDriver("rtu", [slave(1, link)])
    async with rtu_server(str(rtu_bus.device_side), (1,)):
        result = await driver.write("s1_r4", 4321)
        assert result.status is WriteStatus.OK and result.value == 4321
    await driver.stop()


@pytest.mark.timeout(60)
async def test_t52c_unplugged_adapter_is_reopened_by_path(rtu_bus: SocatPair) -> None:
    link = SerialLink(str(rtu_bus.gateway_side), baudrate=BAUD, quiet_after_timeout=0.05)
    device = slave(1, link, backoff_initial=0.3, backoff_max=1.0)
    driver = ModbusDriver("rtu", [device], min_reconnect_interval=0.3)
    async with Collector(driver) as c:
        async with rtu_server(str(rtu_bus.device_side), (1,)):
            await c.wait_quality("s1_r3", Quality.GOOD, timeout=10)
            rtu_bus.kill()  # the adapter disappears
            await c.wait_quality("s1_r3", Quality.BAD, timeout=10)
        rtu_bus.start()  # plugged back in: the same path again
        async with rtu_server(str(rtu_bus.device_side), (1,)):
            good = await c.wait_quality("s1_r3", Quality.GOOD, timeout=20)
            assert good.value == 1003


@pytest.mark.timeout(60)
async def test_rtu_over_tcp() -> None:
    from pymodbus import FramerType
    from pymodbus.server import ModbusTcpServer

    server = ModbusTcpServer([unit_device(5)], framer=FramerType.RTU, address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    try:
        port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # an asyncio Server here
        driver = ModbusDriver("rtu-tcp", [slave(5, RtuOverTcpLink("127.0.0.1", port))])
        async with Collector(driver) as c:
            good = await c.wait_quality("s5_r3", Quality.GOOD, timeout=10)
            assert good.value == 5003
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]


def two_blocks(link: SerialLink, **kw: object) -> ModbusDevice:
    """Two blocks of the same size and function: a late reply to one would decode as the other."""
    tags = tuple(ModbusTag(f"r{a}", HR, a, DataType.UINT16) for a in (*range(0, 5), *range(100, 105)))
    options: dict[str, object] = {
        "timeout": 0.3,
        "retries": 0,
        "poll_groups": {"default": 0.02},
        "backoff_initial": 0.01,
        "backoff_max": 0.02,
    }
    options.update(kw)
    return ModbusDevice("rtu-slave", link, unit_id=1, tags=tags, **options)  # type: ignore[arg-type]


def mixed_up(samples: list[Any]) -> list[Any]:
    return [s for s in samples if s.quality is Quality.GOOD and s.value >> 8 != int(s.tag[1:]) & 0xFF]


@pytest.mark.timeout(60)
async def test_t48_rtu_late_replies_never_decoded_for_the_next_request(rtu_bus: SocatPair) -> None:
    """Every 4th request is answered 0.5 s late (timeout 0.3 s + 200 ms), the others after 50 ms, so
    a request is nearly always in flight. The bus stays quiet for 0.4 s after a timeout, so the late
    frame lands between requests and is discarded. (With quiet_after_timeout=0 this test finds
    mixed-up values: checked by hand when it was written.)"""
    from tests.drivers.fake_rtu import FakeRtuSlave

    slave_ = FakeRtuSlave(rtu_bus.device_side, late_every=4, late_delay=0.5, reply_delay=0.05).start()
    link = SerialLink(str(rtu_bus.gateway_side), baudrate=BAUD, quiet_after_timeout=0.4)
    driver = ModbusDriver("rtu", [two_blocks(link)], min_reconnect_interval=0.01)
    try:
        async with Collector(driver) as c:
            await async_wait_until(lambda: slave_.requests >= 60, timeout=45)
    finally:
        slave_.stop()
    good = [s for s in c.samples if s.quality is Quality.GOOD]
    assert len(good) > 150
    assert mixed_up(c.samples) == []
    assert driver.health().timeouts >= 5


@pytest.mark.timeout(60)
async def test_t52b_line_noise_is_never_a_wrong_value(rtu_bus: SocatPair) -> None:
    """1 % of reply bytes get a flipped bit: CRC errors are dropped by the framer and counted as
    failed requests, retried; no value is ever wrong."""
    from tests.drivers.fake_rtu import FakeRtuSlave

    slave_ = FakeRtuSlave(rtu_bus.device_side, flip_probability=0.01, seed=52).start()
    link = SerialLink(str(rtu_bus.gateway_side), baudrate=BAUD, quiet_after_timeout=0.05)
    driver = ModbusDriver("rtu", [two_blocks(link, timeout=0.15, retries=1)], min_reconnect_interval=0.01)
    try:
        async with Collector(driver) as c:
            await async_wait_until(lambda: slave_.requests >= 300, timeout=45)
    finally:
        slave_.stop()
    assert slave_.flipped >= 10
    assert mixed_up(c.samples) == []
    good = [s for s in c.samples if s.quality is Quality.GOOD]
    assert len(good) >= 1000
    assert (
        driver.runners[0].errors + driver.health().timeouts >= 1 or driver.runners[0].link.late_replies >= 1
    )

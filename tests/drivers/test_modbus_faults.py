"""Catalogue section G (T47-T51): Modbus faults against a scripted fake device on loopback."""

from __future__ import annotations

import contextlib
import time

import pytest

from drivers import DriverState, ErrorKind, Quality, WriteStatus
from drivers.modbus import Area, DataType, ModbusDevice, ModbusDriver, ModbusTag, TcpLink
from tests.drivers.conftest import FakeFactory
from tests.drivers.fake_modbus import FakeModbusDevice
from tests.drivers.support import Collector, interleaving_violations
from tests.support.waiting import async_wait_until

HR = Area.HOLDING_REGISTER


def regs(prefix: str, start: int, count: int, group: str = "default") -> tuple[ModbusTag, ...]:
    return tuple(
        ModbusTag(f"{prefix}{start + i}", HR, start + i, DataType.UINT16, poll_group=group)
        for i in range(count)
    )


def device(name: str, fake: FakeModbusDevice, tags: tuple[ModbusTag, ...], **kw: object) -> ModbusDevice:
    options: dict[str, object] = {
        "timeout": 0.3,
        "retries": 0,
        "poll_groups": {"default": 0.05},
        "backoff_initial": 0.5,
        "backoff_max": 2.0,
    }
    options.update(kw)
    return ModbusDevice(name, TcpLink("127.0.0.1", fake.port), tags=tags, **options)  # type: ignore[arg-type]


@pytest.mark.timeout(30)
async def test_t47_unresponsive_device_does_not_block_others(fake_modbus_device: FakeFactory) -> None:
    d1, d2, d3 = (
        await fake_modbus_device(),
        await fake_modbus_device(silent=True),
        await fake_modbus_device(),
    )
    driver = ModbusDriver(
        "m",
        [
            device("dev1", d1, regs("a", 0, 4)),
            device("dev2", d2, regs("b", 0, 4), retries=1),
            device("dev3", d3, regs("c", 0, 4)),
        ],
        min_reconnect_interval=0.2,
    )
    async with Collector(driver) as c:
        bad = await c.wait_quality("b0", Quality.BAD, timeout=5)
        assert bad.error is not None and bad.error.kind is ErrorKind.TIMEOUT
        assert "2 attempt(s)" in bad.error.detail  # timeout x (retries + 1)
        # three failed attempts of device 2 (0.6 s each, 0.5 s then 1 s backoff between them)
        await c.wait_count("b0", 3, quality=Quality.BAD, timeout=15)
        # devices 1 and 3 were read between any two of them: device 2 blocks nobody. Behaviour,
        # not speed: no rate is asserted (benchmarks measure speed).
        assert interleaving_violations(c.samples, "b0", ("a0", "c0")) == []
        assert all(s.quality is Quality.GOOD for s in c.of("a0") + c.of("c0"))
        # device 2 is retried with backoff, not hammered: each of its requests ended in a timeout
        # and a backoff delay (a busy retry loop would show many more requests than failures)
        failures = len([s for s in c.of("b0") if s.quality is Quality.BAD])
        assert driver.runners[1].requests <= failures + 1
        assert d2.connections_total <= failures + 1
        assert c.latest["b0"].quality is Quality.BAD
        health = driver.health()
        assert health.state is DriverState.DEGRADED
        assert health.devices[1].state is DriverState.FAILED and health.devices[1].timeouts >= 3


@pytest.mark.timeout(40)
async def test_t48_late_replies_never_reach_the_wrong_request(fake_modbus_device: FakeFactory) -> None:
    """Every 3rd request is answered after timeout + 200 ms. Values encode (address, request number):
    no sample may ever carry another block's address."""
    fake = await fake_modbus_device(late_every=3, late_delay=0.5)
    tags = regs("a", 0, 5) + regs("b", 100, 5)
    driver = ModbusDriver(
        "m", [device("dev", fake, tags, backoff_initial=0.01, backoff_max=0.02)], min_reconnect_interval=0.01
    )
    async with Collector(driver) as c:
        await async_wait_until(lambda: fake.requests >= 60, timeout=30)
    good = [s for s in c.samples if s.quality is Quality.GOOD]
    assert len(good) > 100
    for s in good:
        address = int(s.tag[1:])
        assert isinstance(s.value, int) and s.value >> 8 == address & 0xFF, s
    assert driver.runners[0].link.late_replies >= 1
    assert driver.health().timeouts >= 1


@pytest.mark.timeout(30)
async def test_t49_exception_splits_block_and_isolates_bad_address(fake_modbus_device: FakeFactory) -> None:
    fake = await fake_modbus_device(exceptions=[(3, 5, 5, 2)])  # address 5 is illegal
    tags = regs("r", 0, 10)
    driver = ModbusDriver("m", [device("dev", fake, tags)])
    async with Collector(driver) as c:
        bad = await c.wait_quality("r5", Quality.BAD, timeout=10)
        assert bad.error is not None and bad.error.code == 2 and bad.error.kind is ErrorKind.EXCEPTION
        assert "illegal data address" in str(bad.error)
        for i in (0, 1, 2, 3, 4, 6, 7, 8, 9):
            await c.wait_quality(f"r{i}", Quality.GOOD, timeout=5)
        planner = driver.runners[0].planners["default"]
        assert len(planner.plan()) <= 5  # bisected, not one request per tag
        # the split is remembered: no more exceptions than the bisection needed
        errors_then = driver.runners[0].errors
        cycles_then = driver.runners[0].cycles
        await async_wait_until(lambda: driver.runners[0].cycles >= cycles_then + 5, timeout=5)
        assert driver.runners[0].errors - errors_then <= 6  # only r5's own block keeps failing


@pytest.mark.parametrize(
    ("code", "quality"),
    [(1, Quality.BAD), (4, Quality.BAD), (6, Quality.STALE), (0x0A, Quality.BAD), (0x0B, Quality.BAD)],
)
async def test_t49_exception_codes_give_quality_per_tag(
    fake_modbus_device: FakeFactory, code: int, quality: Quality
) -> None:
    fake = await fake_modbus_device(exceptions=[(4, 0, 10, code)])
    tags = (*regs("h", 0, 2), ModbusTag("i0", Area.INPUT_REGISTER, 0, DataType.UINT16))
    driver = ModbusDriver("m", [device("dev", fake, tags)])
    async with Collector(driver) as c:
        sample = await c.wait_quality("i0", quality, timeout=5)
        assert sample.error is not None and sample.error.code == code
        await c.wait_quality("h0", Quality.GOOD)
        # busy (06) is retried on the next cycle without backoff; the device stays up
        assert driver.runners[0].state is not DriverState.FAILED


async def test_t49_failed_write_is_reported_not_retried(fake_modbus_device: FakeFactory) -> None:
    fake = await fake_modbus_device(exceptions=[(3, 50, 50, 2)])
    tags = (
        ModbusTag("w", HR, 50, DataType.UINT16, writable=True),
        ModbusTag("ok", HR, 60, DataType.UINT16, writable=True, read_back=True),
    )
    driver = ModbusDriver("m", [device("dev", fake, tags)])
    result = await driver.write("w", 7)
    assert result.status is WriteStatus.FAILED and result.error is not None and result.error.code == 2
    assert sum(1 for fc, a, _ in fake.writes if a == 50) == 0
    assert len([r for r in fake.request_log if r[1] == 50]) == 0  # no read-back, no retry storm
    ok = await driver.write("ok", 1234)
    assert ok.status is WriteStatus.OK and ok.value == 1234
    assert fake.fixed[60] == 1234
    await driver.stop()


async def test_t49_write_timeout_is_failed(fake_modbus_device: FakeFactory) -> None:
    fake = await fake_modbus_device(silent=True)
    driver = ModbusDriver(
        "m", [device("dev", fake, (ModbusTag("w", HR, 1, DataType.UINT16, writable=True),))]
    )
    result = await driver.write("w", 1)
    assert result.status is WriteStatus.FAILED and result.error is not None
    assert result.error.kind is ErrorKind.TIMEOUT
    await driver.stop()


async def test_t49_read_back_mismatch(fake_modbus_device: FakeFactory) -> None:
    """A device that ignores writes: the read-back shows the difference."""
    fake = await fake_modbus_device()
    fake.fixed[70] = 5
    tag = ModbusTag("clamped", HR, 70, DataType.UINT16, writable=True, read_back=True)
    driver = ModbusDriver("m", [device("dev", fake, (tag,))])
    original = fake._answer

    def ignore_writes(pdu: bytes, number: int) -> bytes:
        reply = original(pdu, number)
        fake.fixed[70] = 5
        return reply

    fake._answer = ignore_writes  # type: ignore[method-assign]
    result = await driver.write("clamped", 9)
    assert result.status is WriteStatus.MISMATCH and result.value == 5
    await driver.stop()


@pytest.mark.timeout(30)
async def test_t50_device_limit_splits_reads(fake_modbus_device: FakeFactory) -> None:
    fake = await fake_modbus_device(max_read=20)
    tags = regs("r", 0, 200)
    driver = ModbusDriver("m", [device("dev", fake, tags, max_read_registers=20)])
    async with Collector(driver) as c:
        await async_wait_until(
            lambda: all(
                c.latest.get(f"r{i}") and c.latest[f"r{i}"].quality is Quality.GOOD for i in range(200)
            ),
            timeout=10,
        )
    assert max(count for _, _, count in fake.request_log) <= 20


@pytest.mark.parametrize("fault", ["short_reply", "wrapped_count"])
async def test_t50_short_or_wrapped_reply_is_bad_not_partial(
    fake_modbus_device: FakeFactory, fault: str
) -> None:
    fake = await fake_modbus_device(**{fault: True})
    tags = regs("r", 0, 10)
    driver = ModbusDriver("m", [device("dev", fake, tags)])
    async with Collector(driver) as c:
        await c.wait_quality("r0", Quality.BAD, timeout=5)
        await async_wait_until(lambda: fake.requests >= 5, timeout=5)
    assert not [s for s in c.samples if s.quality is Quality.GOOD]
    errors = [s.error for s in c.samples if s.error is not None]
    assert errors and all(e.kind is ErrorKind.DECODE for e in errors)
    assert "malformed reply" in str(errors[0])


@pytest.mark.timeout(30)
async def test_t51_one_connection_per_host_port_shared_by_unit_ids(fake_modbus_device: FakeFactory) -> None:
    fake = await fake_modbus_device(max_connections=1)
    devices = [device(f"unit{u}", fake, regs(f"u{u}_", 0, 3), unit_id=u) for u in range(1, 6)]
    driver = ModbusDriver("m", devices)
    async with Collector(driver) as c:
        for u in range(1, 6):
            await c.wait_quality(f"u{u}_0", Quality.GOOD, timeout=5)
        await async_wait_until(lambda: fake.requests >= 50, timeout=10)
    assert fake.connections_total == 1


@pytest.mark.timeout(30)
async def test_t51_idle_close_reconnects_quietly_at_most_once_per_second(
    fake_modbus_device: FakeFactory,
) -> None:
    fake = await fake_modbus_device(idle_close=0.2)
    tags = regs("r", 0, 2)
    driver = ModbusDriver(
        "m", [device("dev", fake, tags, poll_groups={"default": 0.5})], min_reconnect_interval=1.0
    )
    async with Collector(driver) as c:
        await async_wait_until(lambda: fake.connections_total >= 3, timeout=15)
        started = time.monotonic()
        before = fake.connections_total
        await async_wait_until(lambda: time.monotonic() - started > 2.5, timeout=5)
        assert fake.connections_total - before <= 3  # no faster than one reconnect per second
    # each idle close is followed by a reconnect on the next poll; values keep flowing
    assert len([s for s in c.samples if s.quality is Quality.GOOD]) >= 6


@pytest.mark.timeout(30)
async def test_t47_silent_tcp_device_is_reconnected_at_the_minimum_interval(
    fake_modbus_device: FakeFactory,
) -> None:
    """Three requests in a row without an answer close the connection; reconnects then keep to
    min_reconnect_interval (0.5 s here)."""
    fake = await fake_modbus_device(silent=True)
    driver = ModbusDriver(
        "m",
        [device("dev", fake, regs("r", 0, 2), timeout=0.1, backoff_initial=0.05, backoff_max=0.05)],
        min_reconnect_interval=0.5,
    )
    async with Collector(driver):
        started = time.monotonic()
        await async_wait_until(lambda: fake.connections_total >= 3, timeout=10)
        elapsed = time.monotonic() - started
    assert elapsed >= 2 * 0.5  # two reconnects, each no sooner than 0.5 s after the previous attempt


@pytest.mark.timeout(30)
async def test_t51_competing_master_is_detected_and_reported(fake_modbus_device: FakeFactory) -> None:
    """The device allows one connection and kicks the oldest; another master connects every 0.2 s.
    Our connection keeps being dropped: a note appears in the device's health."""
    import asyncio

    fake = await fake_modbus_device(max_connections=1)
    driver = ModbusDriver(
        "m",
        [device("dev", fake, regs("r", 0, 2), backoff_initial=0.05, backoff_max=0.1)],
        min_reconnect_interval=0.1,
    )

    async def rogue_master() -> None:
        while True:
            _reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
            try:
                await asyncio.sleep(0.2)
            finally:
                writer.close()

    rogue = asyncio.create_task(rogue_master())
    try:
        async with Collector(driver):
            await async_wait_until(lambda: driver.health().devices[0].notes, timeout=20)
            note = driver.health().devices[0].notes[0]
            assert "another master" in note and "closed the connection" in note
    finally:
        rogue.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rogue
    assert driver.health().devices[0].requests > 0


async def test_healthy_device_has_no_notes(fake_modbus_device: FakeFactory) -> None:
    fake = await fake_modbus_device()
    driver = ModbusDriver("m", [device("dev", fake, regs("r", 0, 2))])
    async with Collector(driver) as c:
        await c.wait_count("r0", 5)
        assert driver.health().devices[0].notes == ()

"""Percent deadband: what the driver asks of the server (the DataChangeFilter as the server received it)
and the client-side filter that applies the rule when the server ignores it (asyncua 2.1's server
accepts a percent filter and reports every change anyway)."""

from __future__ import annotations

import dataclasses

import pytest

from drivers import Quality
from drivers.opcua import DeadbandKind, OpcUaDriver, OpcUaServer
from drivers.opcua._deadband import EuRange, PercentDeadband
from drivers.simulators import OpcUaSimulator
from tests.drivers.support import Collector
from tests.support.waiting import async_wait_until

FAST: dict[str, object] = {"publishing_interval": 0.05, "watchdog_interval": 0.2, "request_timeout": 2.0}
SETPOINT = "Setpoints.Temperature"  # EURange 0..100 in the simulator
NO_RANGE = "Setpoints.Speed"  # no EURange


def with_deadband(sim: OpcUaSimulator, percents: dict[str, float]) -> OpcUaServer:
    spec = sim.opcua_server("sim", **FAST)
    tags = tuple(
        dataclasses.replace(t, deadband=(DeadbandKind.PERCENT, percents[t.name]))
        for t in spec.tags
        if t.name in percents
    )
    return dataclasses.replace(spec, tags=tags)


@pytest.mark.timeout(60)
async def test_percent_deadband_filter_on_the_wire_and_applied_client_side() -> None:
    async with OpcUaSimulator(update_interval=0.05) as sim:
        driver = OpcUaDriver("o", with_deadband(sim, {SETPOINT: 10.0, NO_RANGE: 10.0}))
        async with Collector(driver) as c:
            await c.wait_quality(SETPOINT, Quality.GOOD, timeout=15)
            # the monitored item request as the server got it: DeadbandType 2 (percent), value 10
            flt = sim.monitored_item_filters()[f"ns=2;s={SETPOINT}"]
            assert flt is not None
            assert (int(flt.DeadbandType), flt.DeadbandValue, int(flt.Trigger)) == (2, 10.0, 1)
            assert driver.deadband.threshold(SETPOINT) == pytest.approx(10.0)  # 10 % of 0..100
            assert driver.deadband.threshold(NO_RANGE) is None  # no EURange: nothing filtered
            # 21.5 first; +0.5 stays inside 10 units; 35 leaves it; 40 is within 10 of 35; 50 leaves it
            for value in (22.0, 35.0, 40.0, 50.0):
                notified = driver.notifications
                await sim.set_value(SETPOINT, value)
                # the server reports every change (it ignores percent), the driver filters
                await async_wait_until(lambda: driver.notifications > notified, timeout=10)  # noqa: B023
            await async_wait_until(lambda: c.latest[SETPOINT].value == 50.0, timeout=10)
            assert [s.value for s in c.of(SETPOINT)] == [21.5, 35.0, 50.0]
            assert driver.deadband.suppressed == 2
            # without an EURange values pass unfiltered
            for value in (1501, 1502):
                await sim.set_value(NO_RANGE, value)
                await async_wait_until(lambda: c.latest[NO_RANGE].value == value, timeout=10)  # noqa: B023


def test_percent_deadband_rule() -> None:
    from drivers import Sample

    band = PercentDeadband({"t": 5.0})
    band.set_range("t", EuRange(-50.0, 50.0))  # 5 units
    good = [Sample("t", v, Quality.GOOD, 0) for v in (0.0, 5.0, 5.1, 10.0, 10.2)]
    assert [band.passes(s) for s in good] == [True, False, True, False, True]
    # a quality change passes whatever the value; a non-numeric value passes
    assert band.passes(Sample("t", 10.2, Quality.UNCERTAIN, 0))
    assert band.passes(Sample("t", None, Quality.BAD, 0))
    assert band.passes(Sample("other", 1.0, Quality.GOOD, 0))  # no deadband on that tag
    assert band.suppressed == 2


@pytest.mark.timeout(60)
async def test_refused_percent_deadband_is_created_without_filter_and_filtered_client_side() -> None:
    async with OpcUaSimulator(update_interval=0.05, refuse_percent_deadband=True) as sim:
        driver = OpcUaDriver("o", with_deadband(sim, {SETPOINT: 10.0}))
        async with Collector(driver) as c:
            await c.wait_quality(SETPOINT, Quality.GOOD, timeout=15)
            assert driver.deadband_refused == [SETPOINT]
            # created again without a filter (an empty ExtensionObject on the wire)
            flt = sim.monitored_item_filters()[f"ns=2;s={SETPOINT}"]
            assert getattr(flt, "DeadbandType", None) is None, flt
            for value in (25.0, 40.0):
                notified = driver.notifications
                await sim.set_value(SETPOINT, value)
                await async_wait_until(lambda: driver.notifications > notified, timeout=10)  # noqa: B023
            await async_wait_until(lambda: c.latest[SETPOINT].value == 40.0, timeout=10)
            assert [s.value for s in c.of(SETPOINT)] == [21.5, 40.0]
            assert all(s.quality is Quality.GOOD for s in c.of(SETPOINT))

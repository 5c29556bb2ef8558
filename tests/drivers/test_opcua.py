"""The OPC UA driver against a real asyncua server (our simulator) on loopback."""

from __future__ import annotations

import time

import pytest

from drivers import DeviceError, DriverConfigError, ErrorKind, Quality, WriteStatus
from drivers.opcua import (
    DeadbandKind,
    OpcUaDriver,
    OpcUaServer,
    OpcUaTag,
    SecurityMode,
    SecurityPolicy,
    TagMode,
    quality_of,
)
from drivers.simulators import OpcUaSimulator
from tests.drivers.support import Collector, ThreadedOpcUaSimulator
from tests.support.waiting import async_wait_until


def spec(sim: OpcUaSimulator, *tags: OpcUaTag, **kw: object) -> OpcUaServer:
    options: dict[str, object] = {
        "publishing_interval": 0.05,
        "poll_interval": 0.1,
        "backoff_initial": 0.2,
        "backoff_max": 1.0,
        "watchdog_interval": 0.2,
    }
    options.update(kw)
    if tags:
        return OpcUaServer("sim", sim.endpoint, tags=tags, **options)  # type: ignore[arg-type]
    return sim.opcua_server("sim", **options)


async def test_subscription_delivers_good_values_with_source_timestamps(opcua_sim: OpcUaSimulator) -> None:
    driver = OpcUaDriver("o", spec(opcua_sim))
    async with Collector(driver) as c:
        await async_wait_until(lambda: len(c.latest) == len(opcua_sim.variables), timeout=10)
        assert all(s.quality is Quality.GOOD for s in c.latest.values()), c.latest
        await c.wait_count("Line1.Counter", 3)
        now = int(time.time() * 1000)
        temps = c.of("Line1.Temperature")
        assert all(abs(s.timestamp_ms - now) < 10_000 for s in temps)
        assert len({s.timestamp_ms for s in temps}) == len(temps) or len(temps) == 1
        assert isinstance(c.latest["Line1.State"].value, str)
        assert isinstance(c.latest["Line1.Running"].value, bool)
        assert c.latest["Line1.Temperature"].unit == "degC"
        await async_wait_until(lambda: driver.health().devices[0].latency_ms_avg is not None, timeout=5)
        health = driver.health()
        assert health.state.value == "running" and driver.subscriptions_created == 1


async def test_write_with_node_data_type(
    opcua_sim_thread: ThreadedOpcUaSimulator, opcua_sim: OpcUaSimulator
) -> None:
    driver = OpcUaDriver("o", spec(opcua_sim))
    async with Collector(driver):
        await driver.wait_connected(10)
        assert (await driver.write("Setpoints.Temperature", 42.5)).ok
        assert await opcua_sim_thread.acall(opcua_sim.value, "Setpoints.Temperature") == 42.5
        assert (await driver.write("Setpoints.Speed", 1800)).ok
        assert await opcua_sim_thread.acall(opcua_sim.value, "Setpoints.Speed") == 1800
        assert (await driver.write("Setpoints.Enable", True)).ok
        assert (await driver.write("Setpoints.Recipe", "batch-7")).ok
        assert await opcua_sim_thread.acall(opcua_sim.value, "Setpoints.Recipe") == "batch-7"
        rejected = await driver.write("Setpoints.Speed", 2**40)
        assert rejected.status is WriteStatus.REJECTED and "Int32 range" in (rejected.reason or "")
        rejected = await driver.write("Setpoints.Enable", 1)
        assert rejected.status is WriteStatus.REJECTED and "bool" in (rejected.reason or "")
        assert (await driver.write("Line1.Temperature", 1.0)).status is WriteStatus.REJECTED  # not writable


async def test_server_refusing_a_write_is_failed(opcua_sim: OpcUaSimulator) -> None:
    tag = OpcUaTag("ro", node_id="ns=2;s=Line1.Temperature", writable=True)  # the node itself is read-only
    driver = OpcUaDriver("o", spec(opcua_sim, tag))
    async with Collector(driver):
        await driver.wait_connected(10)
        result = await driver.write("ro", 1.0)
        assert result.status is WriteStatus.FAILED and result.error is not None
        # asyncua refuses writes to read-only nodes with BadUserAccessDenied (its role check runs first)
        assert result.error.code in (0x803B0000, 0x801F0000), (
            result.error
        )  # BadNotWritable, BadUserAccessDenied
        assert "Bad" in str(result.error)


async def test_write_when_not_connected_fails_clearly() -> None:
    server = OpcUaServer(
        "nowhere", "opc.tcp://127.0.0.1:1/", tags=(OpcUaTag("t", node_id="ns=2;s=X", writable=True),)
    )
    driver = OpcUaDriver("o", server)
    result = await driver.write("t", 1.0)
    assert (
        result.status is WriteStatus.FAILED and result.error is not None and result.error.kind is ErrorKind.IO
    )


async def test_browse_path_tags_and_unknown_nodes(opcua_sim: OpcUaSimulator) -> None:
    tags = (
        OpcUaTag("by_path", browse_path="2:Plant/2:Line1/2:Counter"),
        OpcUaTag("unknown_id", node_id="ns=2;s=Nope"),
        OpcUaTag("unknown_path", browse_path="2:Plant/2:Nope"),
        OpcUaTag("ok", node_id="ns=2;s=Line1.Speed"),
    )
    driver = OpcUaDriver("o", spec(opcua_sim, *tags))
    async with Collector(driver) as c:
        await c.wait_quality("by_path", Quality.GOOD)
        await c.wait_quality("ok", Quality.GOOD)
        bad_path = await c.wait_quality("unknown_path", Quality.BAD)
        assert bad_path.error is not None and "Objects/2:Plant/2:Nope" in str(bad_path.error)
        bad_id = await c.wait_quality("unknown_id", Quality.BAD)
        assert bad_id.error is not None and bad_id.error.hint


async def test_browse_lazily(opcua_sim: OpcUaSimulator) -> None:
    driver = OpcUaDriver("o", spec(opcua_sim))
    async with Collector(driver):
        await driver.wait_connected(10)
        root = await driver.browse()
        plant = next(e for e in root if e.browse_name == "2:Plant")
        assert plant.node_class == "Object"
        folders = await driver.browse(plant.node_id)
        line1 = next(e for e in folders if e.display_name == "Line1")
        variables = {e.display_name: e for e in await driver.browse(line1.node_id)}
        assert variables["Temperature"].is_variable and variables["Temperature"].data_type == "Double"
        assert variables["Counter"].data_type == "UInt32"
        assert variables["Temperature"].node_id == "ns=2;s=Line1.Temperature"
        with pytest.raises(DeviceError) as info:
            await driver.browse("ns=2;s=DoesNotExist")
        assert info.value.device == "sim" and "BadNodeIdUnknown" in str(info.value)
        with pytest.raises(DeviceError):
            await driver.browse("not a node id")


async def test_absolute_deadband_filters_small_changes(opcua_sim: OpcUaSimulator) -> None:
    tags = (
        OpcUaTag("plain", node_id="ns=2;s=Line1.Temperature"),
        OpcUaTag("filtered", node_id="ns=2;s=Line1.Temperature", deadband=(DeadbandKind.ABSOLUTE, 100.0)),
    )
    driver = OpcUaDriver("o", spec(opcua_sim, *tags))
    async with Collector(driver) as c:
        await c.wait_count("plain", 10)
    assert len(c.of("filtered")) == 1  # the initial value only: the sine never moves by 100


async def test_poll_mode_tags(opcua_sim: OpcUaSimulator) -> None:
    tag = OpcUaTag("polled", node_id="ns=2;s=Line1.Counter", mode=TagMode.POLL)
    driver = OpcUaDriver("o", spec(opcua_sim, tag))
    async with Collector(driver) as c:
        await c.wait_count("polled", 3)
        assert driver.subscriptions_created == 0


def test_validation_reports_every_problem() -> None:
    bad = OpcUaServer(
        "x",
        "http://wrong",
        security_policy=SecurityPolicy.BASIC256SHA256,
        security_mode=SecurityMode.NONE,
        publishing_interval=0,
        tags=(
            OpcUaTag("a"),
            OpcUaTag("a", node_id="i=1", queue_size=0),
            OpcUaTag("b", node_id="i=1", deadband=(DeadbandKind.PERCENT, 150.0)),
        ),
    )
    with pytest.raises(DriverConfigError) as info:
        OpcUaDriver("o", bad)
    text = "\n".join(info.value.problems)
    for expected in [
        "endpoint",
        "security_mode",
        "data_dir",
        "publishing_interval",
        "exactly one of",
        "duplicate tag name",
        "queue_size",
        "deadband",
    ]:
        assert expected in text, expected


@pytest.mark.parametrize(
    ("code", "quality"),
    [
        (0, Quality.GOOD),
        (0x00A20000, Quality.GOOD),
        (0x40000000, Quality.UNCERTAIN),
        (0x408F0000, Quality.UNCERTAIN),
        (0x80000000, Quality.BAD),
        (0x80340000, Quality.BAD),
    ],
)
def test_status_code_to_quality(code: int, quality: Quality) -> None:
    assert quality_of(code) is quality

"""How the OPC UA driver chooses its publishing interval, and how notifications become samples:
one batch per publish response, a bounded hand-over queue, the Good fast path of ``sample_from``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from drivers import DriverConfigError, Quality
from drivers.opcua import OpcUaDriver, OpcUaServer, OpcUaTag, TagMode
from drivers.opcua._lazy import ua as load_ua
from drivers.opcua._spec import DEFAULT_PUBLISHING_INTERVAL, MIN_DERIVED_PUBLISHING_INTERVAL
from drivers.opcua._subscription import MAX_QUEUED_RESPONSES, _batch_class
from drivers.opcua._values import sample_from
from drivers.simulators import OpcUaSimulator
from tests.drivers.support import Collector
from tests.support.waiting import async_wait_until

ENDPOINT = "opc.tcp://127.0.0.1:4840/"


def tag(name: str, sampling: float | None = None, mode: TagMode = TagMode.SUBSCRIBE) -> OpcUaTag:
    return OpcUaTag(name, node_id=f"ns=2;s={name}", sampling_interval=sampling, mode=mode)


@pytest.mark.parametrize(
    ("tags", "publishing", "expected"),
    [
        ((), None, DEFAULT_PUBLISHING_INTERVAL),
        ((tag("a"), tag("b")), None, DEFAULT_PUBLISHING_INTERVAL),  # no sampling interval set
        ((tag("a", 1.0), tag("b", 0.2), tag("c")), None, 0.2),  # the fastest one
        ((tag("a", 1.0), tag("p", 0.01, TagMode.POLL)), None, 1.0),  # polled tags do not count
        ((tag("a", 0.0),), None, MIN_DERIVED_PUBLISHING_INTERVAL),  # "server's fastest": a floor
        ((tag("a", 0.02),), None, MIN_DERIVED_PUBLISHING_INTERVAL),
        ((tag("a", 0.1),), 0.4, 0.4),  # set by hand: taken as given
    ],
)
def test_publishing_interval_defaults_to_the_fastest_sampling_interval(
    tags: tuple[OpcUaTag, ...], publishing: float | None, expected: float
) -> None:
    server = OpcUaServer("s", ENDPOINT, tags=tags, publishing_interval=publishing)
    assert server.effective_publishing_interval() == pytest.approx(expected)


@pytest.mark.parametrize("publishing", [0.0, -1.0])
def test_a_publishing_interval_set_by_hand_must_be_positive(publishing: float) -> None:
    with pytest.raises(DriverConfigError, match=r"publishing_interval: .*expected > 0 seconds"):
        OpcUaDriver("o", OpcUaServer("s", ENDPOINT, tags=(tag("a"),), publishing_interval=publishing))


async def test_the_server_grants_the_derived_publishing_interval(opcua_sim: OpcUaSimulator) -> None:
    """Tags sampled every 0.2 s and no publishing interval given: the subscription is created
    with 0.2 s (asyncua's server grants what is asked), and values arrive."""
    tags = tuple(
        OpcUaTag(v.tag_name, node_id=v.node_id(opcua_sim.namespace_index), sampling_interval=0.2)
        for v in opcua_sim.variables
        if v.folder == "Line1"
    )
    driver = OpcUaDriver("o", OpcUaServer("sim", opcua_sim.endpoint, tags=tags, watchdog_interval=0.2))
    async with Collector(driver) as c:
        await c.wait_count("Line1.Counter", 2)
        assert driver.publishing_interval_granted == pytest.approx(0.2)
        assert driver.notifications_dropped == 0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _notification(ua: Any, handle: int, value: float, status: int = 0) -> Any:
    data = ua.DataValue(ua.Variant(value, ua.VariantType.Double), ua.StatusCode(status), _now(), _now())
    return ua.MonitoredItemNotification(ClientHandle=handle, Value=data)


def _response(ua: Any, seq: int, items: list[Any]) -> Any:
    data = [ua.DataChangeNotification(MonitoredItems=items)] if items else []
    message = ua.NotificationMessage(SequenceNumber=seq, NotificationData=data)
    return ua.PublishResult(SubscriptionId=1, NotificationMessage=message)


def _subscription() -> Any:
    # publish_callback never touches the session; the class is exercised without a server here
    # (the end-to-end path is covered by the simulator tests)
    return _batch_class()(None, load_ua().CreateSubscriptionParameters())


async def test_one_publish_response_is_one_batch() -> None:
    ua = load_ua()
    sub = _subscription()
    items = [_notification(ua, 7, 1.0), _notification(ua, 8, 2.0)]
    await sub.publish_callback(_response(ua, 5, items))
    await sub.publish_callback(_response(ua, 6, []))  # a keep-alive: nothing queued
    assert sub._event_queue.qsize() == 1
    assert sub._event_queue.get_nowait() == items
    assert sub.last_sequence_number == 6 and sub.last_publish_at is not None


async def test_a_full_hand_over_queue_drops_the_oldest_response_and_counts_it() -> None:
    ua = load_ua()
    sub = _subscription()
    for seq in range(1, MAX_QUEUED_RESPONSES + 2):  # one more than fits
        await sub.publish_callback(_response(ua, seq, [_notification(ua, 1, seq), _notification(ua, 2, seq)]))
    assert sub.dropped == 2
    first = sub._event_queue.get_nowait()
    assert first[0].Value.Value.Value == 2.0  # response 1 is gone, 2 is the oldest left


async def test_the_end_of_stream_mark_survives_a_late_response() -> None:
    """delete() puts the end mark on a full queue; a response arriving after it costs the oldest
    response, never the mark (the consumer would otherwise wait forever)."""
    ua = load_ua()
    sub = _subscription()
    for seq in range(1, MAX_QUEUED_RESPONSES):
        await sub.publish_callback(_response(ua, seq, [_notification(ua, 1, seq)]))
    sub._close_iterator()  # what delete() does
    await sub.publish_callback(_response(ua, 999, [_notification(ua, 1, 9.0)]))
    assert sub.dropped == 1
    rest = [sub._event_queue.get_nowait() for _ in range(sub._event_queue.qsize())]
    assert rest.count(None) == 1


@pytest.mark.parametrize(
    ("status", "quality", "value"),
    [
        (0, Quality.GOOD, 1.5),
        (0x00A20000, Quality.GOOD, 1.5),  # Good with info bits
        (0x408F0000, Quality.UNCERTAIN, 1.5),
        (0x80340000, Quality.BAD, None),
    ],
)
def test_sample_from_keeps_the_source_timestamp_and_maps_the_status(
    status: int, quality: Quality, value: float | None
) -> None:
    ua = load_ua()
    source = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    data = ua.DataValue(ua.Variant(1.5, ua.VariantType.Double), ua.StatusCode(status), source, _now())
    sample = sample_from(tag("a"), "dev", data)
    assert sample.quality is quality and sample.value == value
    assert sample.timestamp_ms == int(source.timestamp() * 1000)
    assert (sample.error is None) == (quality is Quality.GOOD)


def test_sample_from_without_timestamps_stamps_arrival() -> None:
    ua = load_ua()
    data = ua.DataValue(ua.Variant([1, 2], ua.VariantType.Int32))
    before = int(_now().timestamp() * 1000)
    sample = sample_from(tag("a"), "dev", data)
    assert sample.value == [1, 2] and sample.timestamp_ms >= before


async def test_samples_of_one_response_leave_together(opcua_sim: OpcUaSimulator) -> None:
    """The initial values of every tag come in one publish response, hence in one batch."""
    tags = tuple(
        OpcUaTag(v.tag_name, node_id=v.node_id(opcua_sim.namespace_index)) for v in opcua_sim.variables
    )
    driver = OpcUaDriver("o", OpcUaServer("sim", opcua_sim.endpoint, tags=tags, publishing_interval=0.2))
    await driver.start()
    try:
        first: list[Any] = []

        async def take_first() -> None:
            async for batch in driver.samples():
                first.extend(batch)
                return

        await take_first()
        await async_wait_until(lambda: bool(first), timeout=10)
        assert {s.tag for s in first} == {t.name for t in tags}
    finally:
        await driver.stop()


def test_simulator_values_are_shared_not_copied_and_encode_like_plain_ones() -> None:
    """asyncua's server deep-copies each written value per monitored item; the simulator's values
    (built fresh per write, never mutated) are shared instead, and are the same on the wire."""
    import copy

    from asyncua.ua.ua_binary import struct_to_binary

    from drivers.simulators._opcua_values import stamped

    ua = load_ua()
    value = stamped(ua, ua.Variant(2.5, ua.VariantType.Double))
    assert copy.deepcopy(value) is value
    assert value.SourceTimestamp is not None and value.SourceTimestamp == value.ServerTimestamp
    plain = ua.DataValue(
        value.Value, SourceTimestamp=value.SourceTimestamp, ServerTimestamp=value.ServerTimestamp
    )
    shared = ua.MonitoredItemNotification(ClientHandle=1, Value=value)
    assert struct_to_binary(shared) == struct_to_binary(
        ua.MonitoredItemNotification(ClientHandle=1, Value=plain)
    )


async def test_simulator_ticks_that_overrun_are_counted_and_skipped() -> None:
    """A tick period shorter than one tick's writes: late ticks are counted (not queued up and run
    back to back), and the values keep changing."""
    async with OpcUaSimulator(update_interval=1e-5) as sim:
        first = await sim.value("Line1.Counter")
        await async_wait_until(lambda: sim.late_ticks > 0, timeout=10)
        await sim.set_value("Setpoints.Speed", 1234)  # the server still serves other work
        assert await sim.value("Setpoints.Speed") == 1234
        temperature = await sim.value("Line1.Temperature")
        await async_wait_until(lambda: sim.late_ticks > 5, timeout=10)
        assert (
            await sim.value("Line1.Temperature") != temperature or await sim.value("Line1.Counter") != first
        )

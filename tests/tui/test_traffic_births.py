"""The traffic screen reads DATA metrics (alias only, no datatype: §7) with the birth of their sender."""

from __future__ import annotations

from sparkplug import DataType, Metric, Payload, encode_payload
from tests.tui.support.sample import T0
from tui.viewmodel.traffic import decode_record
from tui.viewmodel.traffic_feed import TrafficFeed

NODE = "spBv1.0/Plant/NBIRTH/gw"
DEVICE = "spBv1.0/Plant/DBIRTH/gw/skid"
DDATA = "spBv1.0/Plant/DDATA/gw/skid"


def birth(seq: int, *metrics: Metric) -> bytes:
    return encode_payload(Payload(timestamp=T0, seq=seq, metrics=metrics))


def data(seq: int, *metrics: Metric) -> bytes:
    # as an edge node sends DATA: aliases, no datatype on the wire
    return encode_payload(Payload(timestamp=T0, seq=seq, metrics=metrics), include_datatype=False)


def node_birth() -> bytes:
    return birth(0, Metric(name="bdSeq", datatype=DataType.Int64, value=0))


def speed(alias: int, value: int) -> Metric:
    return Metric(alias=alias, datatype=DataType.Int16, value=value)


def shown(feed: TrafficFeed, topic: str, payload: bytes) -> str:
    record = feed.record(topic, payload, T0, False)
    assert record is not None
    return decode_record(record).metrics


def test_without_a_birth_a_data_metric_shows_its_alias_and_wire_value() -> None:
    feed = TrafficFeed()
    # a negative Int16 travels as a 32-bit two's complement unsigned value
    assert shown(feed, DDATA, data(5, speed(14, -488))) == f"#14={2**32 - 488}"


def test_after_the_birth_a_data_metric_shows_its_name_and_typed_value() -> None:
    feed = TrafficFeed()
    shown(feed, NODE, node_birth())
    shown(feed, DEVICE, birth(1, Metric(name="motor_speed", alias=14, datatype=DataType.Int16, value=0)))
    assert shown(feed, DDATA, data(2, speed(14, -488))) == "motor_speed=-488"


def test_a_row_shown_after_a_rebirth_keeps_the_birth_its_message_belonged_to() -> None:
    feed = TrafficFeed()
    shown(feed, NODE, node_birth())
    shown(feed, DEVICE, birth(1, Metric(name="motor_speed", alias=14, datatype=DataType.Int16, value=0)))
    before = feed.record(DDATA, data(2, speed(14, -488)), T0, False)
    assert before is not None
    # the rebirth gives alias 14 to another metric
    shown(feed, NODE, node_birth())
    shown(feed, DEVICE, birth(1, Metric(name="level", alias=14, datatype=DataType.UInt32, value=0)))
    assert decode_record(before).metrics == "motor_speed=-488"
    assert shown(feed, DDATA, data(2, Metric(alias=14, datatype=DataType.UInt32, value=7))) == "level=7"


def test_a_death_forgets_the_birth_and_a_node_birth_forgets_its_devices() -> None:
    feed = TrafficFeed()
    shown(feed, NODE, node_birth())
    shown(feed, DEVICE, birth(1, Metric(name="motor_speed", alias=14, datatype=DataType.Int16, value=0)))
    shown(feed, "spBv1.0/Plant/NDEATH/gw", birth(0, Metric(name="bdSeq", datatype=DataType.Int64, value=0)))
    assert shown(feed, DDATA, data(2, speed(14, -1))).startswith("#14=")
    shown(feed, DEVICE, birth(1, Metric(name="motor_speed", alias=14, datatype=DataType.Int16, value=0)))
    shown(feed, NODE, node_birth())  # a new session: the device must be born again
    assert shown(feed, DDATA, data(2, speed(14, -1))).startswith("#14=")


def test_an_undecodable_birth_voids_the_previous_one_and_is_shown_as_such() -> None:
    feed = TrafficFeed()
    shown(feed, NODE, node_birth())
    shown(feed, DEVICE, birth(1, Metric(name="motor_speed", alias=14, datatype=DataType.Int16, value=0)))
    assert shown(feed, DEVICE, b"\xff\xff\xff").startswith("undecodable payload")
    assert shown(feed, DDATA, data(2, speed(14, -1))).startswith("#14=")


def test_a_value_that_contradicts_the_birth_is_shown_as_it_arrived() -> None:
    feed = TrafficFeed()
    shown(feed, NODE, node_birth())
    shown(feed, DEVICE, birth(1, Metric(name="motor_speed", alias=14, datatype=DataType.Int16, value=0)))
    text = Metric(alias=14, datatype=DataType.String, value="fast")
    assert shown(feed, DDATA, data(2, text)) == "motor_speed='fast'"


def test_the_feed_counts_the_births_it_could_read() -> None:
    # the traffic screen says "no birth seen yet" while this is 0
    feed = TrafficFeed()
    shown(feed, DDATA, data(5, speed(14, -488)))
    shown(feed, DEVICE, b"\xff\xff\xff")
    assert feed.births_seen == 0
    shown(feed, NODE, node_birth())
    assert feed.births_seen == 1

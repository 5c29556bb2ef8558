"""Edge-node DATA rules: report by exception (§12), devices (§5 DBIRTH/DDEATH), store-and-forward (§11)."""

from __future__ import annotations

import math

import pytest

from sparkplug import (
    DataType,
    Deadband,
    DeviceOffline,
    DeviceOnline,
    Disconnected,
    EdgeNodeConfig,
    MessageType,
    MetricsChanged,
    MetricSpec,
    Notice,
    PublishHistorical,
    Quality,
    Sample,
    StoreForLater,
    retype,
)
from tests.sparkplug.edge_harness import Harness, by_name, of_type, payload_of, published

SPECS = (
    MetricSpec("Abs", DataType.Double, deadband=Deadband(absolute=0.5)),
    MetricSpec("Pct", DataType.Float, deadband=Deadband(percent=10.0)),
    MetricSpec("Plain", DataType.Int32),
    MetricSpec("Text", DataType.String),
)
CONFIG = EdgeNodeConfig("G", "E", node_metrics=SPECS)
DEVICE = (MetricSpec("Speed", DataType.Int16), MetricSpec("Mode", DataType.String))


def born() -> Harness:
    harness = Harness(CONFIG)
    harness.feed(
        MetricsChanged(
            None,
            (Sample("Abs", 10.0, 1), Sample("Pct", 100.0, 1), Sample("Plain", 1, 1), Sample("Text", "a", 1)),
        )
    )
    harness.feed(DeviceOnline("D1", DEVICE, (Sample("Speed", 1, 1), Sample("Mode", "auto", 1))))
    harness.connect()
    return harness


def data_values(harness: Harness, owner: str | None, *samples: Sample) -> dict[str, object]:
    """Publish samples; return {metric name: value} of the DATA message (empty if nothing was sent)."""
    outputs = harness.feed(MetricsChanged(owner, samples))
    messages = published(outputs)
    if not messages:
        return {}
    assert len(messages) == 1
    names = {harness.node.alias_of(owner, s.name): s.name for s in samples}
    specs = {s.name: s for s in (SPECS if owner is None else DEVICE)}
    result: dict[str, object] = {}
    for metric in payload_of(messages[0]).metrics:
        name = names[metric.alias]
        result[name] = retype(metric, specs[name].datatype).value
    return result


def test_principles_rbe_recommended_only_changes_are_published() -> None:
    """principles-rbe-recommended: unchanged values are not re-sent; every changed metric is included."""
    harness = born()
    assert data_values(harness, None, Sample("Plain", 1, 2), Sample("Text", "a", 2)) == {}
    assert data_values(harness, None, Sample("Plain", 2, 3), Sample("Text", "a", 3)) == {"Plain": 2}
    assert data_values(harness, None, Sample("Plain", -7, 4), Sample("Text", "b", 4)) == {
        "Plain": -7,
        "Text": "b",
    }


def test_absolute_deadband_compares_with_last_published_value() -> None:
    """§12 [impl]: compare with the last PUBLISHED value, so small drifts add up and get reported."""
    harness = born()
    assert data_values(harness, None, Sample("Abs", 10.3, 2)) == {}
    assert data_values(harness, None, Sample("Abs", 10.5, 3)) == {}  # |10.5 - 10.0| is not > 0.5
    assert data_values(harness, None, Sample("Abs", 10.6, 4)) == {"Abs": 10.6}
    assert data_values(harness, None, Sample("Abs", 10.2, 5)) == {}
    assert data_values(harness, None, Sample("Abs", 10.0, 6)) == {"Abs": 10.0}


def test_percent_deadband() -> None:
    harness = born()
    assert data_values(harness, None, Sample("Pct", 109.0, 2)) == {}
    assert data_values(harness, None, Sample("Pct", 111.0, 3)) == {"Pct": 111.0}
    assert data_values(harness, None, Sample("Pct", 0.0, 4)) == {"Pct": 0.0}
    assert data_values(harness, None, Sample("Pct", 0.001, 5)) == {"Pct": pytest.approx(0.001)}


def test_quality_change_counts_as_change_and_good_is_sent_once() -> None:
    """§16: Quality (Int32) rides along when not GOOD, and once with 192 when it returns to GOOD."""
    harness = born()
    outputs = harness.feed(MetricsChanged(None, (Sample("Abs", 10.0, 2, Quality.STALE),)))
    metric = payload_of(published(outputs)[0]).metrics[0]
    assert metric.properties is not None and metric.properties.quality is Quality.STALE
    assert harness.feed(MetricsChanged(None, (Sample("Abs", 10.1, 3, Quality.STALE),))) == []
    metric = payload_of(published(harness.feed(MetricsChanged(None, (Sample("Abs", 10.1, 4),))))[0]).metrics[
        0
    ]
    assert metric.properties is not None and metric.properties.quality is Quality.GOOD
    metric = payload_of(published(harness.feed(MetricsChanged(None, (Sample("Abs", 20.0, 5),))))[0]).metrics[
        0
    ]
    assert metric.properties is None


def test_nan_to_nan_is_not_a_change() -> None:
    harness = born()
    assert data_values(harness, None, Sample("Abs", math.nan, 2))
    assert data_values(harness, None, Sample("Abs", math.nan, 3)) == {}


def test_operational_behavior_data_publish_chronological_order() -> None:
    """operational-behavior-data-publish-nbirth-order (§5): live metrics of one payload in time order,
    several values of one metric allowed when their timestamps differ."""
    harness = born()
    outputs = harness.feed(
        MetricsChanged(None, (Sample("Plain", 3, 300), Sample("Plain", 2, 200), Sample("Text", "z", 100)))
    )
    metrics = payload_of(published(outputs)[0]).metrics
    assert [m.timestamp for m in metrics] == [100, 200, 300]


def test_operational_behavior_device_ddeath_and_dbirth_on_return() -> None:
    """operational-behavior-device-ddeath: DDEATH (QoS 0, seq, timestamp) when the device is lost; no DDATA
    while dead (changes are stored); a fresh DBIRTH with current values when it returns."""
    harness = born()
    ddeath = published(harness.feed(DeviceOffline("D1")))[0]
    assert ddeath.message_type is MessageType.DDEATH and ddeath.topic == "spBv1.0/G/DDEATH/E/D1"
    payload = payload_of(ddeath)
    assert (ddeath.qos, ddeath.retain, payload.seq, payload.timestamp) == (0, False, 2, harness.now)
    stored = harness.feed(MetricsChanged("D1", (Sample("Speed", 5, harness.now),)))
    assert of_type(stored, StoreForLater) and not published(stored)
    back = published(harness.feed(DeviceOnline("D1", DEVICE, (Sample("Speed", 6, harness.now),))))
    assert [p.message_type for p in back] == [MessageType.DBIRTH]
    assert by_name(payload_of(back[0]))["Speed"].value == 6
    assert harness.feed(DeviceOffline("nope")) == [Notice("device 'nope' went offline but was not online")]


def test_device_metric_set_change_is_ddeath_then_dbirth() -> None:
    """§5 (sparkplug issue #540): a new metric set mid-session is DDEATH, then a new DBIRTH."""
    harness = born()
    grown = (*DEVICE, MetricSpec("Temp", DataType.Float))
    outputs = published(harness.feed(DeviceOnline("D1", grown)))
    assert [p.message_type for p in outputs] == [MessageType.DDEATH, MessageType.DBIRTH]
    assert "Temp" in by_name(payload_of(outputs[1]))
    # Same metric set again: just changes.
    same = published(harness.feed(DeviceOnline("D1", grown, (Sample("Speed", 99, harness.now),))))
    assert [p.message_type for p in same] == [MessageType.DDATA]


def test_device_found_later_in_the_session_gets_its_dbirth() -> None:
    """Maintainer answer in issue #492: a device that appears mid-session publishes its DBIRTH then."""
    harness = born()
    outputs = published(harness.feed(DeviceOnline("D2", DEVICE)))
    assert [(p.message_type, p.device_id) for p in outputs] == [(MessageType.DBIRTH, "D2")]


def test_changes_before_birth_are_stored_and_birth_has_current_values() -> None:
    """§11 rule 1-2: while not born, changes go to the store; the birth then carries current values."""
    harness = Harness(EdgeNodeConfig("G", "E", node_metrics=SPECS, primary_host_id="H"))
    harness.connect()
    outputs = harness.feed(MetricsChanged(None, (Sample("Plain", 5, harness.now),)))
    assert outputs == [StoreForLater(None, (Sample("Plain", 5, harness.now - 1),))]
    births = published(harness.state(True, 10))
    assert by_name(payload_of(births[0]))["Plain"].value == 5


def test_historical_publishing_for_store_and_forward() -> None:
    """§11: after the births, stored samples go out as separate NDATA/DDATA with is_historical=true, their
    original timestamps and CURRENT aliases; metrics not in the current birth are dropped."""
    harness = born()
    old = [Sample("Speed", n, 1_000 + n) for n in range(5)] + [Sample("Gone", 1, 1_002)]
    outputs = harness.feed(PublishHistorical("D1", tuple(old)))
    notices = of_type(outputs, Notice)
    assert len(notices) == 1 and "dropped 1 historical" in notices[0].message
    ddata = published(outputs)
    assert [p.message_type for p in ddata] == [MessageType.DDATA]
    metrics = payload_of(ddata[0]).metrics
    assert all(m.is_historical for m in metrics)
    assert [m.timestamp for m in metrics] == [1_000, 1_001, 1_002, 1_003, 1_004]
    assert {m.alias for m in metrics} == {harness.node.alias_of("D1", "Speed")}
    # Historical values do not move the RBE baseline: the live value 1 is still "unchanged".
    assert harness.feed(MetricsChanged("D1", (Sample("Speed", 1, harness.now),))) == []


def test_historical_is_split_into_batches_and_kept_when_not_born() -> None:
    config = EdgeNodeConfig("G", "E", node_metrics=SPECS, historical_batch=2)
    harness = Harness(config)
    samples = tuple(Sample("Plain", n, 100 + n) for n in range(5))
    assert harness.feed(PublishHistorical(None, samples)) == [StoreForLater(None, samples)]
    harness.connect()
    batches = published(harness.feed(PublishHistorical(None, samples)))
    assert [len(payload_of(p).metrics) for p in batches] == [2, 2, 1]
    assert [p.seq for p in batches] == [1, 2, 3]


def test_historical_for_a_device_not_in_the_birth_is_dropped_with_notice() -> None:
    harness = born()
    harness.feed(DeviceOffline("D1"))
    outputs = harness.feed(PublishHistorical("D1", (Sample("Speed", 1, 5),)))
    assert len(outputs) == 1 and "not in the current birth" in outputs[0].message  # type: ignore[union-attr]


def test_wrongly_typed_historical_samples_are_dropped_not_raised() -> None:
    harness = born()
    outputs = harness.feed(PublishHistorical(None, (Sample("Plain", "x", 5), Sample("Plain", 3, 6))))
    assert len(published(outputs)) == 1 and of_type(outputs, Notice)


def test_devices_are_reborn_after_reconnect_and_dead_ones_are_not() -> None:
    harness = born()
    harness.feed(DeviceOnline("D2", DEVICE))
    harness.feed(Disconnected())
    harness.feed(DeviceOffline("D2"))
    births = published(harness.connect())
    assert [(p.message_type, p.device_id) for p in births] == [
        (MessageType.NBIRTH, None),
        (MessageType.DBIRTH, "D1"),
    ]

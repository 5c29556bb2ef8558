"""SparkplugSniffer (pure): a clean edge-node stream has no violations; each rule is flagged."""

from __future__ import annotations

from sparkplug import (
    DataType,
    DeviceOnline,
    EdgeNodeConfig,
    Metric,
    MetricsChanged,
    MetricSpec,
    Payload,
    Sample,
    SetWill,
    Shutdown,
    encode_payload,
    encode_state,
)
from sparkplug.sniffer import SniffedMessage, SparkplugSniffer
from sparkplug.sniffer_format import to_json, to_text
from tests.sparkplug.edge_harness import Harness, of_type, published

NODE = (MetricSpec("Temp", DataType.Double),)
DEVICE = (MetricSpec("Speed", DataType.Int16),)


def clean_stream() -> tuple[Harness, list[tuple[str, bytes]]]:
    harness = Harness(EdgeNodeConfig("G", "E", node_metrics=NODE))
    harness.feed(DeviceOnline("D1", DEVICE))
    harness.connect()
    harness.feed(MetricsChanged(None, (Sample("Temp", 20.5, 1),)))
    harness.feed(MetricsChanged("D1", (Sample("Speed", -3, 2),)))
    harness.feed(Shutdown())
    return harness, [(p.topic, p.payload) for p in published(harness.log)]


def observe_all(sniffer: SparkplugSniffer, stream: list[tuple[str, bytes]]) -> list[SniffedMessage]:
    return [sniffer.observe(topic, data, 1000 + i) for i, (topic, data) in enumerate(stream)]


def rules(message: SniffedMessage) -> list[str]:
    return [v.rule for v in message.violations]


def test_clean_edge_node_stream_has_no_violations_and_data_is_typed() -> None:
    _, stream = clean_stream()
    seen = observe_all(SparkplugSniffer(), stream)
    assert [rules(m) for m in seen] == [[]] * len(stream)
    ddata = seen[3]
    assert ddata.payload is not None
    metric = ddata.payload.metrics[0]
    assert (metric.name, metric.datatype, metric.value) == ("Speed", DataType.Int16, -3)


def test_seq_gap_is_flagged() -> None:
    _, stream = clean_stream()
    sniffer = SparkplugSniffer()
    observe_all(sniffer, stream[:2])  # NBIRTH, DBIRTH
    seen = sniffer.observe(stream[3][0], stream[3][1], 5)  # skip the NDATA (seq 2)
    assert rules(seen) == ["seq-gap"]
    assert "expected 2" in seen.violations[0].message


def test_data_before_birth_is_flagged_once() -> None:
    _, stream = clean_stream()
    sniffer = SparkplugSniffer()
    first = sniffer.observe(stream[2][0], stream[2][1], 1)
    again = sniffer.observe(stream[2][0], stream[2][1], 2)
    assert rules(first) == ["data-before-birth"] and rules(again) == []
    sniffer2 = SparkplugSniffer()
    sniffer2.observe(stream[0][0], stream[0][1], 1)  # NBIRTH only, no DBIRTH
    ddata = sniffer2.observe(stream[3][0], stream[3][1], 2)
    assert "data-before-birth" in rules(ddata)


def test_unknown_alias_and_metric_not_in_birth() -> None:
    _, stream = clean_stream()
    sniffer = SparkplugSniffer()
    observe_all(sniffer, stream[:2])
    bad = Payload(
        timestamp=1,
        seq=2,
        metrics=(
            Metric(alias=999, timestamp=1, datatype=DataType.Int32, value=1),
            Metric(name="Pressure", timestamp=1, datatype=DataType.Double, value=1.0),
        ),
    )
    seen = sniffer.observe("spBv1.0/G/NDATA/E", encode_payload(bad), 3)
    assert rules(seen) == ["unknown-alias", "metric-not-in-birth"]


def test_bdseq_mismatch_and_seq_in_ndeath() -> None:
    harness, stream = clean_stream()
    sniffer = SparkplugSniffer()
    observe_all(sniffer, stream[:2])
    will = of_type(harness.log, SetWill)[0]
    stale = Payload(
        timestamp=1, metrics=(Metric(name="bdSeq", datatype=DataType.Int64, value=will.bd_seq + 7),), seq=3
    )
    seen = sniffer.observe(will.topic, encode_payload(stale), 4)
    assert rules(seen) == ["bdseq-mismatch", "seq-in-ndeath"]
    # The node is still born after a stale NDEATH; the right one ends the session.
    assert rules(sniffer.observe(will.topic, will.payload, 5)) == []
    assert rules(sniffer.observe(stream[2][0], stream[2][1], 6)) == ["data-before-birth"]


def test_nbirth_without_bdseq_and_nonzero_seq() -> None:
    payload = Payload(timestamp=1, seq=4, metrics=(Metric(name="x", datatype=DataType.Boolean, value=True),))
    seen = SparkplugSniffer().observe("spBv1.0/G/NBIRTH/E", encode_payload(payload), 1)
    assert rules(seen) == ["bdseq-missing", "seq-gap"]


def test_decode_errors_and_state() -> None:
    sniffer = SparkplugSniffer()
    assert rules(sniffer.observe("spBv1.0/G/NDATA/E", b"\xff\xff", 1)) == ["decode-error"]
    assert rules(sniffer.observe("spBv1.0/G/BOGUS/E", b"", 1)) == ["decode-error"]
    state = sniffer.observe("spBv1.0/STATE/scada", encode_state(True, 42), 1)
    assert state.state is not None and state.state.online and rules(state) == []
    legacy = sniffer.observe("STATE/scada", b"OFFLINE", 1)
    assert legacy.state is not None and not legacy.state.online
    broken = sniffer.observe("spBv1.0/STATE/scada", b"nope", 1)
    assert broken.error is not None


def test_renderings() -> None:
    _, stream = clean_stream()
    seen = observe_all(SparkplugSniffer(), stream)
    text = to_text(seen[3])
    assert "DDATA" in text and "Speed [alias" in text and "(Int16) = -3" in text
    as_json = to_json(seen[3])
    assert as_json["type"] == "DDATA" and as_json["device_id"] == "D1"
    assert as_json["metrics"][0]["value"] == -3 and as_json["violations"] == []
    bad = SparkplugSniffer().observe(stream[2][0], stream[2][1], 0)
    assert "!! data-before-birth" in to_text(bad)

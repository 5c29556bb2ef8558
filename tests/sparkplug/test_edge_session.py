"""Edge-node session rules (digest §3-§6, §20), one test per rule, named after the TCK assertion id."""

from __future__ import annotations

import pytest

from sparkplug import (
    Connected,
    ConnectStarting,
    DataType,
    DeviceOnline,
    Disconnect,
    Disconnected,
    EdgeNodeConfig,
    EdgeNodeUsageError,
    FlushHistory,
    MessageType,
    MetricsChanged,
    MetricSpec,
    PersistBdSeq,
    Publish,
    Sample,
    SessionState,
    SetWill,
    Shutdown,
    Subscribe,
    Subscribed,
    decode_payload,
)
from tests.sparkplug.edge_harness import Harness, by_name, of_type, payload_of, published

CONFIG = EdgeNodeConfig(
    "G",
    "E",
    node_metrics=(MetricSpec("Temp", DataType.Double), MetricSpec("Count", DataType.UInt32)),
)
DEVICE_METRICS = (MetricSpec("Speed", DataType.Int16), MetricSpec("Running", DataType.Boolean))


def born(config: EdgeNodeConfig = CONFIG, next_bd_seq: int = 0) -> Harness:
    harness = Harness(config, next_bd_seq=next_bd_seq)
    harness.feed(DeviceOnline("D1", DEVICE_METRICS, (Sample("Speed", -5, 1), Sample("Running", True, 1))))
    harness.connect()
    assert harness.node.state is SessionState.ONLINE
    return harness


def test_message_flow_edge_node_birth_publish_will_message() -> None:
    """message-flow-edge-node-birth-publish-will-message(-topic, -payload, -qos, -will-retained),
    topics-ndeath-payload, topics-ndeath-seq: the Will is NDEATH, QoS 1, not retained, bdSeq only, no seq."""
    harness = Harness(CONFIG, next_bd_seq=7)
    outputs = harness.feed(ConnectStarting("s1"))
    will = of_type(outputs, SetWill)[0]
    assert will.topic == "spBv1.0/G/NDEATH/E"
    assert (will.qos, will.retain, will.bd_seq) == (1, False, 7)
    death = decode_payload(will.payload)
    assert death.seq is None
    assert [(m.name, m.datatype, m.value) for m in death.metrics] == [("bdSeq", DataType.Int64, 7)]


def test_topics_nbirth_bdseq_increment() -> None:
    """topics-nbirth-bdseq-increment: +1 per CONNECT, wraps 255 -> 0, persisted BEFORE the CONNECT."""
    harness = Harness(CONFIG, next_bd_seq=254)
    seen = []
    for _ in range(3):
        outputs = harness.feed(ConnectStarting("s1"))
        assert isinstance(outputs[0], PersistBdSeq), "persist the next bdSeq before the Will is used"
        seen.append((of_type(outputs, SetWill)[0].bd_seq, outputs[0].next_bd_seq))
        harness.feed(Disconnected())
    assert seen == [(254, 255), (255, 0), (0, 1)]


def test_payloads_nbirth_bdseq_repeat() -> None:
    """payloads-nbirth-bdseq-repeat: NBIRTH's bdSeq (Int64) equals the current Will's, also on rebirth."""
    harness = Harness(CONFIG, next_bd_seq=42)
    outputs = harness.connect()
    nbirth = payload_of(published(outputs, MessageType.NBIRTH)[0])
    assert by_name(nbirth)["bdSeq"].value == 42
    assert by_name(nbirth)["bdSeq"].datatype is DataType.Int64
    rebirth = payload_of(published(harness.rebirth(), MessageType.NBIRTH)[0])
    assert by_name(rebirth)["bdSeq"].value == 42


def test_message_flow_edge_node_birth_publish_connect() -> None:
    """message-flow-edge-node-birth-publish-connect: no NBIRTH before CONNACK and SUBACK; order enforced."""
    harness = Harness(CONFIG)
    with pytest.raises(EdgeNodeUsageError, match="connack is not allowed in state disconnected"):
        harness.feed(Connected())
    assert not published(harness.feed(ConnectStarting("s1")))
    assert not published(harness.feed(Connected()))
    with pytest.raises(EdgeNodeUsageError):
        harness.feed(ConnectStarting("s1"))
    assert published(harness.feed(Subscribed()), MessageType.NBIRTH)


def test_message_flow_edge_node_ncmd_subscribe_and_dcmd_subscribe() -> None:
    """message-flow-edge-node-ncmd-subscribe, message-flow-device-dcmd-subscribe: QoS 1, before NBIRTH."""
    harness = Harness(CONFIG)
    harness.feed(ConnectStarting("s1"))
    subscriptions = of_type(harness.feed(Connected()), Subscribe)
    assert [(s.topic_filter, s.qos) for s in subscriptions] == [
        ("spBv1.0/G/NCMD/E", 1),
        ("spBv1.0/G/DCMD/E/+", 1),
    ]


def test_topics_nbirth_mqtt_qos0_not_retained_seq0_timestamp() -> None:
    """topics-nbirth-mqtt, payloads-nbirth-qos, payloads-nbirth-retain, payloads-nbirth-seq,
    payloads-nbirth-timestamp: QoS 0, retain false, seq 0, payload timestamp = publish time."""
    harness = Harness(CONFIG)
    outputs = harness.connect()
    nbirth = published(outputs, MessageType.NBIRTH)[0]
    assert nbirth.topic == "spBv1.0/G/NBIRTH/E"
    assert (nbirth.qos, nbirth.retain, nbirth.seq) == (0, False, 0)
    payload = payload_of(nbirth)
    assert payload.seq == 0 and payload.timestamp == harness.now


def test_payloads_nbirth_rebirth_req_without_alias() -> None:
    """payloads-nbirth-rebirth-req, operational-behavior-data-commands-rebirth-name-aliases:
    Node Control/Rebirth is a Boolean false and never has an alias, even with aliases on."""
    payload = payload_of(published(Harness(CONFIG).connect(), MessageType.NBIRTH)[0])
    rebirth = by_name(payload)["Node Control/Rebirth"]
    assert (rebirth.datatype, rebirth.value, rebirth.alias) == (DataType.Boolean, False, None)


def test_payloads_name_birth_data_requirement() -> None:
    """payloads-name-birth-data-requirement, operational-behavior-data-publish-nbirth-values: every birth
    metric has name, datatype, timestamp and a value or is_null."""
    harness = Harness(CONFIG)
    sampled_at = harness.now - 500
    harness.feed(MetricsChanged(None, (Sample("Temp", 21.5, sampled_at),)))
    payload = payload_of(published(harness.connect(), MessageType.NBIRTH)[0])
    for metric in payload.metrics:
        assert metric.name and metric.datatype is not DataType.Unknown and metric.timestamp is not None
        assert metric.is_null == (metric.value is None)
    metrics = by_name(payload)
    assert metrics["Temp"].value == 21.5 and metrics["Temp"].timestamp == sampled_at
    assert metrics["Count"].is_null


def test_principles_birth_certificates_order() -> None:
    """principles-birth-certificates-order, payloads-dbirth-order,
    message-flow-device-birth-publish-nbirth-wait: NBIRTH first, then every DBIRTH, before anything
    else; then FlushHistory."""
    harness = Harness(CONFIG)
    harness.feed(DeviceOnline("D2", DEVICE_METRICS))
    harness.feed(DeviceOnline("D1", DEVICE_METRICS))
    outputs = harness.connect()
    kinds = [o.message_type for o in published(outputs)]
    assert kinds == [MessageType.NBIRTH, MessageType.DBIRTH, MessageType.DBIRTH]
    assert isinstance(outputs[-1], FlushHistory)
    assert [p.topic for p in published(outputs, MessageType.DBIRTH)] == [
        "spBv1.0/G/DBIRTH/E/D1",
        "spBv1.0/G/DBIRTH/E/D2",
    ]


def test_payloads_sequence_num_incrementing_one_counter_wrapping() -> None:
    """payloads-sequence-num-incrementing, payloads-dbirth-seq, payloads-ndata-seq, payloads-ddata-seq:
    one counter for node and devices, previous+1, 255 -> 0, restarting at 0 with each NBIRTH."""
    harness = born()
    seqs = [p.seq for p in published(harness.log)]
    assert seqs == [0, 1]
    for index in range(300):
        owner = None if index % 2 else "D1"
        sample = (
            Sample("Temp", float(index), harness.now)
            if owner is None
            else Sample("Speed", index, harness.now)
        )
        harness.feed(MetricsChanged(owner, (sample,)))
    seqs = [p.seq for p in published(harness.log)]
    assert seqs == [n % 256 for n in range(302)]
    assert all(payload_of(p).seq == p.seq for p in published(harness.log)[-5:])
    assert published(harness.rebirth(), MessageType.NBIRTH)[0].seq == 0


def test_payloads_alias_uniqueness_and_stability() -> None:
    """payloads-alias-uniqueness, payloads-alias-birth-requirement: births carry name and alias, aliases are
    unique across node and devices (same metric name on two devices), and stable across rebirths."""
    harness = Harness(CONFIG)
    harness.feed(DeviceOnline("D1", DEVICE_METRICS))
    harness.feed(DeviceOnline("D2", DEVICE_METRICS))
    births = [payload_of(p) for p in published(harness.connect())]
    aliases = [
        m.alias
        for b in births
        for m in b.metrics
        if m.name is not None and not m.name.endswith("Control/Rebirth")
    ]
    assert all(alias is not None for alias in aliases)
    assert len(aliases) == len(set(aliases))
    again = [payload_of(p) for p in published(harness.rebirth())]
    assert [[(m.name, m.alias) for m in b.metrics] for b in again] == [
        [(m.name, m.alias) for m in b.metrics] for b in births
    ]


def test_payloads_alias_data_cmd_requirement() -> None:
    """payloads-alias-data-cmd-requirement: with aliases, DATA carries the alias only (no name), and no
    datatype (the spec's SHOULD NOT)."""
    harness = born()
    outputs = harness.feed(MetricsChanged("D1", (Sample("Speed", 9, harness.now),)))
    ddata = published(outputs, MessageType.DDATA)[0]
    assert ddata.topic == "spBv1.0/G/DDATA/E/D1" and (ddata.qos, ddata.retain) == (0, False)
    metric = payload_of(ddata).metrics[0]
    assert metric.name is None and metric.alias == harness.node.alias_of("D1", "Speed")
    assert metric.datatype is DataType.Unknown


def test_names_in_data_when_aliases_are_off() -> None:
    config = EdgeNodeConfig(
        "G",
        "E",
        node_metrics=(MetricSpec("Temp", DataType.Double),),
        use_aliases=False,
        datatype_in_data=True,
    )
    harness = Harness(config)
    nbirth = payload_of(published(harness.connect(), MessageType.NBIRTH)[0])
    assert all(m.alias is None for m in nbirth.metrics)
    metric = payload_of(published(harness.feed(MetricsChanged(None, (Sample("Temp", 1.0, 5),))))[0]).metrics[
        0
    ]
    assert (metric.name, metric.alias, metric.datatype, metric.value) == ("Temp", None, DataType.Double, 1.0)


def test_operational_behavior_edge_node_intentional_disconnect_ndeath() -> None:
    """operational-behavior-edge-node-intentional-disconnect-ndeath: NDEATH (QoS 1, same bytes as the Will,
    bdSeq only) is published before the Disconnect."""
    harness = born()
    will = of_type(harness.log, SetWill)[0]
    outputs = harness.feed(Shutdown())
    assert isinstance(outputs[0], Publish) and outputs[0].message_type is MessageType.NDEATH
    assert (outputs[0].qos, outputs[0].retain, outputs[0].payload) == (1, False, will.payload)
    assert isinstance(outputs[1], Disconnect)
    assert harness.node.state is SessionState.DISCONNECTING
    assert harness.feed(Disconnected()) == []
    assert harness.node.state.value == "disconnected"


def test_shutdown_before_birth_sends_no_ndeath() -> None:
    harness = Harness(EdgeNodeConfig("G", "E", primary_host_id="H"))
    harness.connect()
    outputs = harness.feed(Shutdown())
    assert [type(o) for o in outputs] == [Disconnect]
    assert harness.feed(Shutdown()) == []


def test_reconnect_after_connection_loss_rebirths_with_next_bdseq() -> None:
    """§4: connection lost -> the broker sends our Will; a new CONNECT uses bdSeq+1 and births again
    (NBIRTH seq 0, DBIRTHs for every online device)."""
    harness = born(next_bd_seq=3)
    harness.feed(Disconnected())
    stored = harness.feed(MetricsChanged("D1", (Sample("Speed", 77, harness.now),)))
    assert stored and not published(stored)
    outputs = harness.connect("s1")
    assert of_type(outputs, SetWill)[0].bd_seq == 4
    births = published(outputs)
    assert [b.message_type for b in births] == [MessageType.NBIRTH, MessageType.DBIRTH]
    assert by_name(payload_of(births[1]))["Speed"].value == 77


def test_event_rules_reject_undeclared_metrics_without_side_effects() -> None:
    """payloads-ndata-metric-birth (digest §5): DATA only for metrics in the current birth; asking for
    anything else is a caller bug, refused before any state change."""
    harness = born()
    before = len(harness.log)
    with pytest.raises(EdgeNodeUsageError, match="no metric 'Nope'"):
        harness.feed(MetricsChanged(None, (Sample("Temp", 2.0, 1), Sample("Nope", 1, 1))))
    with pytest.raises(EdgeNodeUsageError, match="has not been declared"):
        harness.feed(MetricsChanged("D9", (Sample("Speed", 1, 1),)))
    with pytest.raises(ValueError, match="out of range"):
        harness.feed(MetricsChanged("D1", (Sample("Speed", 70000, 1),)))
    assert len(harness.log) == before
    # Temp was not recorded by the refused batch: a later 2.0 is still a change.
    assert published(harness.feed(MetricsChanged(None, (Sample("Temp", 2.0, 1),))))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="contains '/'"):
        EdgeNodeConfig("G/1", "E")
    with pytest.raises(ValueError, match="reserved"):
        MetricSpec("Node Control/Rebirth", DataType.Boolean)
    with pytest.raises(ValueError, match="declared twice"):
        EdgeNodeConfig(
            "G", "E", node_metrics=(MetricSpec("a", DataType.Int8), MetricSpec("a", DataType.Int8))
        )
    with pytest.raises(ValueError, match="not a metric datatype"):
        MetricSpec("a", DataType.Unknown)
    with pytest.raises(EdgeNodeUsageError, match=r"0\.\.255"):
        Harness(CONFIG, next_bd_seq=256)


def test_payloads_template_definition_nbirth() -> None:
    """payloads-template-definition-nbirth (§17): template definitions go in NBIRTH, is_definition=True,
    no template_ref; anything else is refused at configuration time."""
    from sparkplug import Metric, Template

    definition = Metric(
        name="Motor",
        datatype=DataType.Template,
        value=Template(metrics=(Metric(name="RPM", datatype=DataType.Int32, value=0),), is_definition=True),
    )
    harness = Harness(EdgeNodeConfig("G", "E", template_definitions=(definition,)))
    nbirth = payload_of(published(harness.connect(), MessageType.NBIRTH)[0])
    assert by_name(nbirth)["Motor"].value == definition.value
    instance = Metric(name="M1", datatype=DataType.Template, value=Template(template_ref="Motor"))
    with pytest.raises(ValueError, match="is_definition=True"):
        EdgeNodeConfig("G", "E", template_definitions=(instance,))
